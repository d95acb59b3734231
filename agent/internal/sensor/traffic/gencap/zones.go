package gencap

// zonesYAML is the zones file of DefaultZones: three zones (one internal,
// two sensitive) and everything else external, with a firewall map that
// allows some of the pairs the generated flows cross and not others.
const zonesYAML = `# Zones of the synthetic captures that gencap writes (DefaultZones).
zones:
  - name: intern
    kind: internal
    purpose: Kontornett
    prefixes: [192.168.0.0/16, "fd00:1::/48"]
  - name: helse
    kind: sensitive
    purpose: Helse og omsorg, journalsystem
    prefixes: [10.9.0.0/16, "fd00:9::/48"]
  - name: skole
    kind: sensitive
    purpose: Oppvekst, elevdata
    prefixes: [10.20.0.0/16, "fd00:20::/48"]
firewall:
  - id: intern-web
    from: intern
    to: external
    proto: tcp
    ports: [80, 443, 8080]
    justification: Nettlesing via proxy
    owner: drift
  - id: intern-dns
    from: intern
    to: external
    proto: udp
    ports: [53, 123]
    justification: Navneoppslag og tid
    owner: drift
  - id: intern-journal
    from: intern
    to: helse
    proto: tcp
    ports: [443, 3389]
    justification: Journalsystemet fra kontornettet
    owner: helse
  - id: skole-web
    from: skole
    to: external
    proto: tcp
    ports: [80, 443]
    justification: Elevenes nettlesing
    owner: oppvekst
  - id: helse-oppdatering
    from: helse
    to: external
    proto: tcp
    ports: [443]
    justification: Programvareoppdateringer
    owner: helse
  - id: intern-ping
    from: intern
    to: skole
    proto: icmp
    justification: Feilsøking
    owner: drift
`

// ZonesYAML returns a zones file (the format of pkg/zone) for the prefixes
// of DefaultZones, with a firewall map that allows some zone pairs.
func ZonesYAML() []byte { return []byte(zonesYAML) }

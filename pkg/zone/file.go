package zone

import (
	"fmt"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses a zones file (see Parse); errors name the path and
// line.
func Load(path string) (*Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read zones file: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a zones file named name: the zones and the firewall map.
//
//	zones:
//	  - name: intern
//	    kind: internal            # external, internal or sensitive
//	    purpose: Kontornett
//	    prefixes: [192.168.0.0/16, "fd00:1::/48", 192.0.2.7]
//	  - name: helse
//	    kind: sensitive
//	    parent: intern            # its prefixes may lie inside intern's
//	    purpose: Helse og omsorg, journalsystem
//	    prefixes: [192.168.50.0/24]
//	firewall:
//	  - id: web                   # optional; "fw-<n>" by position
//	    from: intern
//	    to: external              # the zone of every unlisted address
//	    proto: tcp                # tcp, udp, icmp, icmpv6 or any (the default)
//	    ports: [80, 443, "8000-8100"]  # destination ports; none means all
//	    justification: Nettlesing via proxy
//	    owner: drift
//
// Other keys are allowed and ignored. A plain address stands for itself
// (/32, /128). The longest prefix that holds an address decides its zone,
// so a child zone's prefixes override its parent's; prefixes of zones that
// are not on one parent line must not overlap. Every problem found is in the
// error, one per line, each as "name:LINE: what".
func Parse(name string, data []byte) (*Map, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(name, err)
	}
	p := fileParser{name: name}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: no zones: list them under the key zones", name)
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a mapping with the keys zones and firewall", p.at(root))
	}
	var zones, firewall *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		switch k.Value {
		case "zones":
			if zones != nil {
				return nil, fmt.Errorf("%s: key zones repeats", p.at(k))
			}
			zones = v
		case "firewall":
			if firewall != nil {
				return nil, fmt.Errorf("%s: key firewall repeats", p.at(k))
			}
			firewall = v
		}
	}
	if zones == nil || zones.Kind != yaml.SequenceNode || len(zones.Content) == 0 {
		at := p.at(root)
		if zones != nil {
			at = p.at(zones)
		}
		return nil, fmt.Errorf("%s: no zones: list them under the key zones", at)
	}
	var zdefs []zoneDef
	for i, n := range zones.Content {
		zdefs = append(zdefs, p.zone(i, resolve(n)))
	}
	var rdefs []ruleDef
	if firewall != nil && !isNull(firewall) {
		if firewall.Kind != yaml.SequenceNode {
			p.probs.add(p.at(firewall), "firewall: want a list of rules")
		} else {
			for i, n := range firewall.Content {
				rdefs = append(rdefs, p.rule(i, resolve(n)))
			}
		}
	}
	if err := p.probs.err(); err != nil {
		return nil, err
	}
	return build(zdefs, rdefs)
}

// yamlLine finds the line in a YAML syntax error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError names the file in a YAML syntax error: "name:3: what".
func yamlError(name string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: %s", name, m[1], m[2])
	}
	return fmt.Errorf("%s: %w", name, err)
}

// fileParser turns the YAML nodes of a zones file into definitions,
// collecting problems of shape (a list where a string belongs).
type fileParser struct {
	name  string
	probs problems
}

func (p *fileParser) at(n *yaml.Node) where { return where{src: p.name, line: n.Line} }

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// str reads a scalar as a string, "" for null; what names the key in a
// problem.
func (p *fileParser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		p.probs.add(p.at(n), "%s: want a string", what)
		return ""
	}
	if isNull(n) {
		return ""
	}
	return n.Value
}

// list reads a list of scalars, or one scalar as a list of one.
func (p *fileParser) list(n *yaml.Node, what string) []*yaml.Node {
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.ScalarNode:
		return []*yaml.Node{n}
	case n.Kind != yaml.SequenceNode:
		p.probs.add(p.at(n), "%s: want a list", what)
		return nil
	}
	var out []*yaml.Node
	for _, e := range n.Content {
		e = resolve(e)
		if e.Kind != yaml.ScalarNode || isNull(e) {
			p.probs.add(p.at(e), "%s: want a list of strings or numbers", what)
			continue
		}
		out = append(out, e)
	}
	return out
}

func (p *fileParser) zone(i int, n *yaml.Node) zoneDef {
	d := zoneDef{at: p.at(n)}
	d.nameAt, d.kindAt, d.parentAt = d.at, d.at, d.at
	if n.Kind != yaml.MappingNode {
		p.probs.add(d.at, "zone %d: want a mapping with name, kind and prefixes", i+1)
		return d
	}
	what := func(key string) string { return fmt.Sprintf("zone %d: %s", i+1, key) }
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], resolve(n.Content[j+1])
		switch k.Value {
		case "name":
			d.name, d.nameAt = p.str(v, what("name")), p.at(v)
		case "kind":
			d.kind, d.kindAt = p.str(v, what("kind")), p.at(v)
		case "purpose":
			d.purpose = p.str(v, what("purpose"))
		case "parent":
			d.parent, d.parentAt = p.str(v, what("parent")), p.at(v)
		case "prefixes":
			for _, e := range p.list(v, what("prefixes")) {
				d.prefixes = append(d.prefixes, prefixDef{text: e.Value, at: p.at(e)})
			}
		}
	}
	return d
}

func (p *fileParser) rule(i int, n *yaml.Node) ruleDef {
	d := ruleDef{at: p.at(n)}
	d.idAt, d.fromAt, d.toAt, d.protoAt, d.justAt = d.at, d.at, d.at, d.at, d.at
	if n.Kind != yaml.MappingNode {
		p.probs.add(d.at, "rule %d: want a mapping with from, to and justification", i+1)
		return d
	}
	what := func(key string) string { return fmt.Sprintf("rule %d: %s", i+1, key) }
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], resolve(n.Content[j+1])
		switch k.Value {
		case "id":
			d.id, d.idAt = p.str(v, what("id")), p.at(v)
		case "from":
			d.from, d.fromAt = p.str(v, what("from")), p.at(v)
		case "to":
			d.to, d.toAt = p.str(v, what("to")), p.at(v)
		case "proto":
			d.proto, d.protoAt = p.str(v, what("proto")), p.at(v)
		case "ports":
			for _, e := range p.list(v, what("ports")) {
				d.ports = append(d.ports, portDef{text: e.Value, at: p.at(e)})
			}
		case "justification":
			d.justification, d.justAt = p.str(v, what("justification")), p.at(v)
		case "owner":
			d.owner = p.str(v, what("owner"))
		}
	}
	return d
}

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fleet is the shared, read-only catalogue every simulated machine draws from.
var (
	linuxPackages = []string{
		"bash", "coreutils", "openssl", "libssl3", "openssh-client", "openssh-server", "curl", "wget", "ca-certificates",
		"systemd", "udev", "dbus", "apt", "dpkg", "tar", "gzip", "xz-utils", "zstd", "python3", "python3-minimal",
		"perl", "libc6", "libstdc++6", "tzdata", "sudo", "rsyslog", "cron", "logrotate", "nano", "vim-tiny", "less",
		"git", "rsync", "chrony", "nftables", "iproute2", "iputils-ping", "netbase", "libpam-modules", "gnupg",
		"firefox-esr", "libreoffice-writer", "libreoffice-calc", "thunderbird", "cups", "network-manager", "pulseaudio",
		"postgresql-client-16", "nginx", "docker-ce", "containerd.io", "zabbix-agent2", "samba-common", "krb5-user",
		"sssd", "realmd", "unattended-upgrades", "needrestart", "htop", "tmux", "jq", "unzip", "zip", "fonts-dejavu",
	}
	windowsPackages = []string{
		"Microsoft Edge", "Microsoft 365 Apps for enterprise - nb-no", "Microsoft Teams", "Microsoft OneDrive",
		"Google Chrome", "Mozilla Firefox (x64 nb-NO)", "Adobe Acrobat Reader DC - Norsk", "7-Zip 23.01 (x64)",
		"Notepad++ (64-bit x64)", "VLC media player", "Zoom Workplace", "Cisco Secure Client", "FortiClient VPN",
		"Microsoft Visual C++ 2015-2022 Redistributable (x64)", "Microsoft .NET Runtime - 8.0 (x64)",
		"Microsoft Edge WebView2 Runtime", "Citrix Workspace", "Visma Enterprise", "Acos Websak", "Gerica",
		"Profil", "WinRAR 6.24 (64-bit)", "PuTTY release 0.80 (64-bit)", "Git", "Python 3.12.1 (64-bit)",
		"Java 8 Update 391", "Dell Command | Update", "HP Support Assistant", "Lenovo Vantage Service",
		"Intel(R) Graphics Driver", "Realtek Audio Driver", "Microsoft Defender for Endpoint", "LAPS",
		"KeePass Password Safe 2.55", "Sonevakt agent", "Windows SDK AddOn", "PowerShell 7-x64", "Greenshot 1.2.10.6",
	}
	vendors = []struct{ vendor, model, chassis string }{
		{"Dell Inc.", "Latitude 5440", "laptop"}, {"Dell Inc.", "OptiPlex 7010", "desktop"},
		{"HP", "EliteBook 840 G10", "laptop"}, {"HP", "ProDesk 400 G9", "desktop"},
		{"LENOVO", "ThinkPad T14 Gen 4", "laptop"}, {"LENOVO", "ThinkCentre M70q", "desktop"},
		{"QEMU", "Standard PC (Q35 + ICH9, 2009)", "vm"}, {"VMware, Inc.", "VMware20,1", "vm"},
	}
	usbSticks = []struct{ vid, pid, vendor, product string }{
		{"0781", "5581", "SanDisk", "Ultra"}, {"0951", "1666", "Kingston", "DataTraveler 3.0"},
		{"058f", "6387", "Alcor Micro", "Flash Drive"}, {"090c", "1000", "Samsung", "Flash Drive FIT"},
		{"13fe", "6300", "Phison", "USB DISK 3.0"}, {"1f75", "0917", "Innostor", "IS917"},
	}
	departments = []string{"oppvekst", "helse", "teknisk", "okonomi", "kultur", "skole", "nav", "plan"}
	zones       = []string{"klient", "server", "sensitiv", "internett", "skole", "helse"}
	servicePort = []uint16{443, 445, 389, 636, 88, 53, 3389, 22, 5432, 1433, 8443, 9100}
	osVersions  = []struct{ os, platform, version, kernel string }{
		{"linux", "debian", "12.7", "6.1.0-26-amd64"}, {"linux", "ubuntu", "24.04", "6.8.0-48-generic"},
		{"windows", "Microsoft Windows 11 Pro", "10.0.22631", "10.0.22631.4460"},
		{"windows", "Microsoft Windows 11 Enterprise", "10.0.26100", "10.0.26100.2314"},
		{"windows", "Microsoft Windows Server 2022 Standard", "10.0.20348", "10.0.20348.2849"},
	}
)

// machine is one simulated endpoint: stable facts and an inventory that drifts.
type machine struct {
	idx      int
	rng      *rand.Rand
	hostname string
	fp       string // hardware fingerprint, hex SHA-256
	osi      int
	host     wire.Host
	hw       wire.Hardware
	software map[string]wire.Package
	services []wire.Service
	users    []wire.User
	subnet   int // /24 inside 10.0.0.0/8: agents in the same subnet see the same neighbours
	ip       string
	usb      *wire.MediaDevice // a stick that is in, waiting for its remove
	boot     int64
}

func mac(a, b, c int) string {
	return fmt.Sprintf("02:5e:%02x:%02x:%02x:%02x", (a>>8)&0xff, a&0xff, b&0xff, c&0xff)
}

func newMachine(idx int, seed uint64) *machine {
	rng := rand.New(rand.NewPCG(seed, uint64(idx)))
	m := &machine{idx: idx, rng: rng, software: map[string]wire.Package{}}
	m.osi = rng.IntN(len(osVersions))
	o := osVersions[m.osi]
	dept := departments[rng.IntN(len(departments))]
	kind := "pc"
	if o.platform == "Microsoft Windows Server 2022 Standard" {
		kind = "srv"
	}
	m.hostname = fmt.Sprintf("%s-%s-%05d", kind, dept, idx)
	sum := sha256.Sum256(fmt.Appendf(nil, "sonevakt-loadgen %d %d", seed, idx))
	m.fp = hex.EncodeToString(sum[:])
	m.subnet = idx / 200
	m.ip = fmt.Sprintf("10.%d.%d.%d", 20+(m.subnet>>8)&0xff, m.subnet&0xff, 10+idx%200)
	m.boot = time.Now().Add(-time.Duration(rng.IntN(30*24)) * time.Hour).Unix()
	v := vendors[rng.IntN(len(vendors))]
	serial := fmt.Sprintf("%s%07d", string(rune('A'+rng.IntN(26))), rng.IntN(10_000_000))
	m.host = wire.Host{
		Hostname: m.hostname, Domain: "kommune.local", OS: o.os, Platform: o.platform, PlatformVersion: o.version,
		Kernel: o.kernel, Arch: "amd64", BootTime: m.boot, MachineID: m.fp[:32],
		CPU:         wire.CPU{Model: "Intel(R) Core(TM) i5-1345U", Cores: 2 << rng.IntN(3), Threads: 4 << rng.IntN(3)},
		MemoryBytes: uint64(8<<rng.IntN(3)) << 30,
		Interfaces: []wire.Interface{
			{Name: "lo", Addrs: []string{"127.0.0.1/8"}, Up: true, MTU: 65536},
			{Name: ifname(o.os), MAC: mac(idx, 1, 0), Addrs: []string{m.ip + "/24"}, Up: true, MTU: 1500},
		},
	}
	if v.chassis == "vm" {
		m.host.Virtualization = "kvm"
	}
	if v.chassis == "laptop" {
		m.host.Interfaces = append(m.host.Interfaces, wire.Interface{Name: "wlan0", MAC: mac(idx, 2, 0), Up: false, MTU: 1500})
	}
	m.hw = wire.Hardware{
		System: wire.System{Vendor: v.vendor, Model: v.model, Serial: serial, UUID: fmt.Sprintf("%s-%s-%s-%s-%s", m.fp[:8], m.fp[8:12], m.fp[12:16], m.fp[16:20], m.fp[20:32]), Chassis: v.chassis},
		Disks:  []wire.Disk{{Name: "nvme0n1", Model: "PM9A1 NVMe Samsung 512GB", Serial: "S" + serial, SizeBytes: 512 << 30, Bus: "nvme", Partitions: []wire.Partition{{Name: "nvme0n1p1", SizeBytes: 1 << 30, FSType: "vfat"}, {Name: "nvme0n1p2", SizeBytes: 500 << 30, FSType: "ext4", Encrypted: rng.IntN(10) > 0, Encryption: "luks2"}}}},
	}
	pool := linuxPackages
	if o.os == "windows" {
		pool = windowsPackages
	}
	for _, name := range pool {
		if rng.IntN(100) < 70 {
			m.software[name] = m.pkg(name)
		}
	}
	m.services = []wire.Service{{Name: "sshd", State: "running", StartMode: "auto"}, {Name: "sonevakt-agent", State: "running", StartMode: "auto"}}
	m.users = []wire.User{{Name: "root", ID: "0", System: true, Admin: true}, {Name: fmt.Sprintf("ansatt%05d", idx), ID: fmt.Sprint(1000 + rng.IntN(50)), FullName: "Ansatt " + m.hostname}}
	return m
}

func ifname(osName string) string {
	if osName == "windows" {
		return "Ethernet"
	}
	return "eth0"
}

func (m *machine) pkg(name string) wire.Package {
	src := "dpkg"
	if osVersions[m.osi].os == "windows" {
		src = "windows"
	}
	return wire.Package{Name: name, Version: fmt.Sprintf("%d.%d.%d", 1+m.rng.IntN(9), m.rng.IntN(30), m.rng.IntN(200)), Arch: "amd64", Source: src}
}

// drift changes the installed software a little: an upgrade, now and then an
// install or a removal.
func (m *machine) drift() {
	pool := linuxPackages
	if osVersions[m.osi].os == "windows" {
		pool = windowsPackages
	}
	name := pool[m.rng.IntN(len(pool))]
	switch p, ok := m.software[name]; {
	case !ok:
		m.software[name] = m.pkg(name)
	case m.rng.IntN(4) == 0:
		delete(m.software, name)
	default:
		p.Version += fmt.Sprintf("+u%d", m.rng.IntN(100))
		m.software[name] = p
	}
}

// inventory returns the machine's full snapshot, hashed.
func (m *machine) inventory() (wire.Inventory, error) {
	host, hw := m.host, m.hw
	inv := wire.Inventory{Full: true, Host: &host, Hardware: &hw, Services: slices.Clone(m.services), Users: slices.Clone(m.users)}
	for _, p := range m.software {
		inv.Software = append(inv.Software, p)
	}
	inv.Normalize()
	h, err := wire.InventoryHash(inv)
	if err != nil {
		return wire.Inventory{}, err
	}
	inv.Hash = h
	return inv, nil
}

func (m *machine) hello() wire.Hello {
	o := osVersions[m.osi]
	return wire.Hello{Version: wire.Version, AgentVersion: "loadgen", Hostname: m.hostname, OS: o.os, Arch: "amd64", Fingerprint: m.fp, BootTime: m.boot}
}

func (m *machine) health(uptime time.Duration, st spoolStats) wire.Health {
	return wire.Health{
		AgentVersion: "loadgen", RSSBytes: uint64(30+m.rng.IntN(20)) << 20, CPUPercent: m.rng.Float64() * 3,
		SpoolRecords: st.records, SpoolBytes: st.bytes, Uptime: int64(uptime / time.Second),
		Sensors: []wire.SensorStatus{{Name: "inventory", State: "running"}, {Name: "media", State: "running"}, {Name: "traffic", State: "running"}},
	}
}

type spoolStats struct{ records, bytes uint64 }

// media returns the next removable-media event: a stick goes in, later out.
func (m *machine) media() wire.MediaEvent {
	if m.usb != nil {
		d := *m.usb
		m.usb = nil
		return wire.MediaEvent{Action: wire.MediaRemove, Device: d}
	}
	s := usbSticks[m.rng.IntN(len(usbSticks))]
	d := wire.MediaDevice{
		Class: wire.MediaUSBStorage, Name: "sdb", Bus: "usb", VID: s.vid, PID: s.pid, Vendor: s.vendor, Product: s.product,
		Serial: fmt.Sprintf("%012X", m.rng.Uint64()&0xffffffffffff), SizeBytes: uint64(16<<m.rng.IntN(4)) << 30,
		DevPath: "/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host3/target3:0:0/3:0:0:0/block/sdb",
		Volumes: []wire.MediaVolume{{Name: "sdb1", FSType: "vfat", Label: "USB", Encrypted: "no"}},
	}
	m.usb = &d
	return wire.MediaEvent{Action: wire.MediaAdd, Device: d, Decision: &wire.MediaDecision{Verdict: wire.VerdictAllow, Rule: wire.MediaRuleAuditDefault}}
}

// flows returns one interval of cross-zone flows from this machine.
func (m *machine) flows(end time.Time, interval time.Duration) wire.Flows {
	start := end.Add(-interval)
	f := wire.Flows{Start: start.UnixNano(), End: end.UnixNano(), Source: "sockets", Stats: wire.CaptureStats{Packets: uint64(100 + m.rng.IntN(5000))}}
	src := zones[m.subnet%2]
	for range 1 + m.rng.IntN(5) {
		dst := zones[m.rng.IntN(len(zones))]
		if dst == src {
			continue
		}
		pk := uint64(1 + m.rng.IntN(400))
		f.Flows = append(f.Flows, wire.Flow{
			Proto: wire.ProtoTCP, Src: m.ip, Dst: fmt.Sprintf("10.%d.0.%d", m.rng.IntN(4), 1+m.rng.IntN(50)),
			SPort: uint16(32768 + m.rng.IntN(28000)), DPort: servicePort[m.rng.IntN(len(servicePort))],
			SrcZone: src, DstZone: dst, Packets: pk, Bytes: pk * uint64(60+m.rng.IntN(1400)),
			First: start.UnixNano(), Last: end.UnixNano(), Verdict: wire.VerdictNoMap,
		})
	}
	f.Zones = []wire.ZoneCount{{Zone: src, Flows: uint64(m.rng.IntN(40)), Packets: uint64(m.rng.IntN(9000)), Bytes: uint64(m.rng.IntN(9_000_000))}}
	return f
}

// neighbours returns devices on the machine's subnet: the gateway, printers and
// a few other machines, the same for every agent of that subnet.
func (m *machine) neighbours(now time.Time) wire.Neighbours {
	nb := wire.Neighbours{Source: "capture:" + ifname(osVersions[m.osi].os)}
	base := fmt.Sprintf("10.%d.%d.", 20+(m.subnet>>8)&0xff, m.subnet&0xff)
	nb.Devices = append(nb.Devices, wire.Neighbour{MAC: mac(m.subnet, 0xfe, 1), IPs: []string{base + "1"}, Vendor: "Cisco Systems, Inc", SeenBy: []string{wire.ViaARP, wire.ViaLLDP}, First: now.Add(-time.Hour).UnixNano(), Last: now.UnixNano(), Port: "Gi1/0/24", Platform: "cisco C9300-48P"})
	for range m.rng.IntN(4) {
		k := m.rng.IntN(200)
		nb.Devices = append(nb.Devices, wire.Neighbour{MAC: mac(m.subnet*200+k, 1, 0), IPs: []string{fmt.Sprintf("%s%d", base, 10+k)}, SeenBy: []string{wire.ViaARP}, First: now.Add(-time.Minute).UnixNano(), Last: now.UnixNano()})
	}
	if m.rng.IntN(3) == 0 {
		nb.Devices = append(nb.Devices, wire.Neighbour{MAC: mac(m.subnet, 0xfd, 2), IPs: []string{base + "250"}, Name: fmt.Sprintf("printer-%d", m.subnet), Vendor: "HP Inc.", VendorClass: "Hewlett-Packard JetDirect", SeenBy: []string{wire.ViaARP, wire.ViaDHCP}, First: now.Add(-time.Hour).UnixNano(), Last: now.UnixNano()})
	}
	return nb
}

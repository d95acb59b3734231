package inventory

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	psnet "github.com/shirou/gopsutil/v4/net"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fake is a source with canned facts; fail names the method that fails.
type fake struct {
	info           host.InfoStat
	cpus           []cpu.InfoStat
	cores, threads int
	memory         uint64
	ifs            psnet.InterfaceStatList
	domain, id     string
	fail           string
}

var errFake = errors.New("fake failure")

func (f *fake) err(method string) error {
	if f.fail == method {
		return errFake
	}
	return nil
}

func (f *fake) Host(context.Context) (*host.InfoStat, error) {
	i := f.info
	return &i, f.err("Host")
}

func (f *fake) CPU(context.Context) ([]cpu.InfoStat, error) { return f.cpus, f.err("CPU") }

func (f *fake) Counts(_ context.Context, logical bool) (int, error) {
	if logical {
		return f.threads, f.err("Counts")
	}
	return f.cores, f.err("Counts")
}

func (f *fake) Memory(context.Context) (*mem.VirtualMemoryStat, error) {
	return &mem.VirtualMemoryStat{Total: f.memory, Available: 1 << 30}, f.err("Memory")
}

func (f *fake) Interfaces(context.Context) (psnet.InterfaceStatList, error) {
	return f.ifs, f.err("Interfaces")
}

func (f *fake) Domain(context.Context, string) (string, error) { return f.domain, f.err("Domain") }

func (f *fake) MachineID(context.Context, *host.InfoStat) (string, error) {
	return f.id, f.err("MachineID")
}

// laptop returns the facts of a Debian laptop, as gopsutil reports them.
func laptop() *fake {
	return &fake{
		info: host.InfoStat{
			Hostname: "ws-0142", Uptime: 5123, BootTime: 1767225600, Procs: 312,
			OS: "linux", Platform: "debian", PlatformFamily: "debian", PlatformVersion: "13.1",
			KernelVersion: "6.12.48+deb13-amd64", KernelArch: "x86_64",
			VirtualizationSystem: "kvm", VirtualizationRole: "host",
			HostID: "4c4c4544-0042-3510-8051-b7c04f4e3332",
		},
		cpus: []cpu.InfoStat{
			{CPU: 0, ModelName: "  13th Gen Intel(R) Core(TM)   i7-1365U ", Cores: 1},
			{CPU: 1, ModelName: "13th Gen Intel(R) Core(TM) i7-1365U", Cores: 1},
		},
		cores: 10, threads: 12,
		memory: 33328885760,
		ifs: psnet.InterfaceStatList{
			{Index: 3, MTU: 1500, Name: "wlp0s20f3", HardwareAddr: "f4:26:79:1a:2b:3c",
				Flags: []string{"up", "broadcast", "multicast", "running"},
				Addrs: psnet.InterfaceAddrList{{Addr: "fe80::f626:79ff:fe1a:2b3c/64"}, {Addr: "192.168.1.23/24"}}},
			{Index: 1, MTU: 65536, Name: "lo", Flags: []string{"up", "loopback", "running"},
				Addrs: psnet.InterfaceAddrList{{Addr: "127.0.0.1/8"}, {Addr: "::1/128"}}},
			{Index: 2, MTU: 1500, Name: "enp0s31f6", HardwareAddr: "C8:5A:CF:00:11:22",
				Flags: []string{"broadcast", "multicast"}},
		},
		domain: "corp.example",
		id:     "3d1219c7c4c5404aaa1f6d2a48adfda4",
	}
}

func TestCollect(t *testing.T) {
	inv, err := collect(t.Context(), laptop(), hostOnly)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	want := &wire.Host{
		Hostname: "ws-0142", Domain: "corp.example", OS: "linux",
		Platform: "debian", PlatformVersion: "13.1", Kernel: "6.12.48+deb13-amd64", Arch: "x86_64",
		BootTime: 1767225600, Virtualization: "kvm/host", MachineID: "3d1219c7c4c5404aaa1f6d2a48adfda4",
		CPU:         wire.CPU{Model: "13th Gen Intel(R) Core(TM) i7-1365U", Cores: 10, Threads: 12},
		MemoryBytes: 33328885760,
		Interfaces: []wire.Interface{
			{Name: "enp0s31f6", MAC: "c8:5a:cf:00:11:22", Up: false, MTU: 1500},
			{Name: "wlp0s20f3", MAC: "f4:26:79:1a:2b:3c", Up: true, MTU: 1500,
				Addrs: []string{"192.168.1.23/24", "fe80::f626:79ff:fe1a:2b3c/64"}},
		},
	}
	if !reflect.DeepEqual(inv.Host, want) {
		t.Errorf("collect().Host =\n%+v\nwant\n%+v", inv.Host, want)
	}
	if !inv.Full || inv.Base != "" {
		t.Errorf("collect() Full, Base = %v, %q; want true, \"\"", inv.Full, inv.Base)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(inv.Hash) {
		t.Errorf("collect().Hash = %q, want 64 hex digits", inv.Hash)
	}
}

func TestCollectFails(t *testing.T) {
	for _, method := range []string{"Host", "CPU", "Counts", "Memory", "Interfaces", "Domain", "MachineID"} {
		f := laptop()
		f.fail = method
		if _, err := collect(t.Context(), f, hostOnly); !errors.Is(err, errFake) {
			t.Errorf("collect() with %s failing: err = %v, want %v", method, err, errFake)
		}
	}
}

func TestInterfaces(t *testing.T) {
	tests := []struct {
		name string
		in   psnet.InterfaceStatList
		want []wire.Interface
	}{
		{"empty", nil, nil},
		{
			"loopback only",
			psnet.InterfaceStatList{{Name: "lo", Flags: []string{"up", "loopback"}, Addrs: psnet.InterfaceAddrList{{Addr: "127.0.0.1/8"}}}},
			nil,
		},
		{
			"sorted by name",
			psnet.InterfaceStatList{{Name: "wlan0"}, {Name: "eth1"}, {Name: "eth0"}},
			[]wire.Interface{{Name: "eth0"}, {Name: "eth1"}, {Name: "wlan0"}},
		},
		{
			"windows mac and names",
			psnet.InterfaceStatList{{Name: "Ethernet 2", HardwareAddr: "00-15-5D-0A-0B-0C", MTU: 1500, Flags: []string{"up"}}},
			[]wire.Interface{{Name: "Ethernet 2", MAC: "00:15:5d:0a:0b:0c", MTU: 1500, Up: true}},
		},
		{
			"addresses canonical sorted and unique",
			psnet.InterfaceStatList{{Name: "eth0", Addrs: psnet.InterfaceAddrList{
				{Addr: "2001:DB8::1/64"}, {Addr: "10.0.0.7/8"}, {Addr: "10.0.0.7"}, {Addr: "10.0.0.7/8"}, {Addr: "fe80::1/64"},
			}}},
			[]wire.Interface{{Name: "eth0", Addrs: []string{"10.0.0.7/32", "10.0.0.7/8", "2001:db8::1/64", "fe80::1/64"}}},
		},
		{
			"tunnel without mac",
			psnet.InterfaceStatList{{Name: "wg0", MTU: 1420, Flags: []string{"up", "pointtopoint"}, Addrs: psnet.InterfaceAddrList{{Addr: "10.8.0.2/24"}}}},
			[]wire.Interface{{Name: "wg0", MTU: 1420, Up: true, Addrs: []string{"10.8.0.2/24"}}},
		},
	}
	for _, tt := range tests {
		if got := interfaces(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: interfaces(%+v) =\n%+v\nwant\n%+v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestVirtualization(t *testing.T) {
	tests := []struct{ system, role, want string }{
		{"", "", ""},
		{"kvm", "guest", "kvm/guest"},
		{"docker", "host", "docker/host"},
		{"vbox", "", "vbox"},
		{"", "guest", ""},
	}
	for _, tt := range tests {
		if got := virtualization(tt.system, tt.role); got != tt.want {
			t.Errorf("virtualization(%q, %q) = %q, want %q", tt.system, tt.role, got, tt.want)
		}
	}
}

func TestHash(t *testing.T) {
	base, err := collect(t.Context(), laptop(), hostOnly)
	if err != nil {
		t.Fatal(err)
	}
	again, err := collect(t.Context(), laptop(), hostOnly)
	if err != nil {
		t.Fatal(err)
	}
	if again.Hash != base.Hash {
		t.Fatalf("hash of the same facts = %s, then %s", base.Hash, again.Hash)
	}

	tests := []struct {
		name    string
		change  func(f *fake)
		changed bool
	}{
		{"hostname", func(f *fake) { f.info.Hostname = "ws-0143" }, true},
		{"domain", func(f *fake) { f.domain = "" }, true},
		{"kernel", func(f *fake) { f.info.KernelVersion = "6.12.57+deb13-amd64" }, true},
		{"platform version", func(f *fake) { f.info.PlatformVersion = "13.2" }, true},
		{"machine id", func(f *fake) { f.id = "0d1219c7c4c5404aaa1f6d2a48adfda4" }, true},
		{"threads", func(f *fake) { f.threads = 10 }, true},
		{"memory", func(f *fake) { f.memory += 1 << 30 }, true},
		{"address", func(f *fake) { f.ifs[2].Addrs = psnet.InterfaceAddrList{{Addr: "192.168.1.24/24"}} }, true},
		{"mac", func(f *fake) { f.ifs[0].HardwareAddr = "f4:26:79:1a:2b:3d" }, true},
		{"link down", func(f *fake) { f.ifs[0].Flags = nil }, true},
		{"interface order", func(f *fake) { f.ifs[0], f.ifs[2] = f.ifs[2], f.ifs[0] }, false},
		{"address order", func(f *fake) {
			a := f.ifs[0].Addrs
			a[0], a[1] = a[1], a[0]
		}, false},
		{"boot time", func(f *fake) { f.info.BootTime += 86400 }, false},
		{"uptime and processes", func(f *fake) { f.info.Uptime, f.info.Procs = 99, 400 }, false},
	}
	for _, tt := range tests {
		f := laptop()
		tt.change(f)
		inv, err := collect(t.Context(), f, hostOnly)
		if err != nil {
			t.Fatalf("%s: collect: %v", tt.name, err)
		}
		if changed := inv.Hash != base.Hash; changed != tt.changed {
			t.Errorf("%s changed: hash changed = %v, want %v", tt.name, changed, tt.changed)
		}
	}
}

func TestInterval(t *testing.T) {
	tests := []struct {
		seconds int64
		want    time.Duration
	}{
		{0, time.Hour},
		{-5, time.Hour},
		{1, time.Minute},
		{60, time.Minute},
		{600, 10 * time.Minute},
		{86400, 24 * time.Hour},
		{1 << 62, 30 * 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := interval(wire.Policy{InventoryInterval: tt.seconds}); got != tt.want {
			t.Errorf("interval(InventoryInterval: %d) = %v, want %v", tt.seconds, got, tt.want)
		}
	}
}

func TestRegistered(t *testing.T) {
	r, ok := sensor.Lookup("inventory")
	if !ok || !r.DefaultEnabled {
		t.Fatalf("sensor.Lookup(inventory) = %+v, %v; want a default-enabled registration", r, ok)
	}
	s, err := r.New(sensor.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if s.Name() != "inventory" {
		t.Errorf("Name() = %q, want inventory", s.Name())
	}
}

// recorder collects emitted records; its policy can be changed while the
// sensor runs.
type recorder struct {
	mu        sync.Mutex
	recs      []wire.Record
	policy    wire.Policy
	confirmed string // hash the simulated collector holds
	wantFull  bool
}

func (r *recorder) emit(rec wire.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	var inv wire.Inventory
	if err := rec.DecodeBody(&inv); err == nil {
		r.confirmed = inv.Hash // the simulated collector holds what was sent
	}
}

func (r *recorder) setInterval(seconds int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.policy.InventoryInterval = seconds
}

// env simulates the agent around the sensor: a collector that acks every
// record at once and confirms the snapshot it was sent.
func (r *recorder) env() sensor.Env {
	return sensor.Env{
		Policy: func() wire.Policy {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.policy
		},
		LastSeq: func() uint64 {
			r.mu.Lock()
			defer r.mu.Unlock()
			return uint64(len(r.recs))
		},
		LastAck: func() wire.Ack {
			r.mu.Lock()
			defer r.mu.Unlock()
			return wire.Ack{MaxSeq: uint64(len(r.recs)) + 1, InventoryHash: r.confirmed, InventoryFull: r.wantFull}
		},
	}
}

// growing is a source whose memory grows by one byte at every round, so that
// every round has something to send.
type growing struct{ *fake }

func (g growing) Memory(ctx context.Context) (*mem.VirtualMemoryStat, error) {
	g.fake.memory++
	return g.fake.Memory(ctx)
}

// offsets returns when each record was observed, counted from start.
func (r *recorder) offsets(start time.Time) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Duration
	for _, rec := range r.recs {
		out = append(out, rec.Time().Sub(start))
	}
	return out
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		s := newSensor(r.env(), growing{laptop()})
		s.sections = hostOnly
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- s.Run(ctx, r.emit) }()

		// step advances the fake clock by d and returns when the sensor waits again.
		step := func(d time.Duration) {
			time.Sleep(d)
			synctest.Wait()
		}
		step(0)                // t=0: first snapshot at start
		step(time.Hour)        // t=1h: default interval
		r.setInterval(600)     // read after the next round
		step(time.Hour)        // t=2h
		step(10 * time.Minute) // t=2h10m
		r.setInterval(7200)
		step(10 * time.Minute) // t=2h20m: the 10-minute timer was already set
		step(time.Hour)        // t=3h20m: nothing yet
		step(time.Hour)        // t=4h20m
		r.setInterval(5)       // below the floor
		step(2 * time.Hour)    // t=6h20m
		step(time.Minute)      // t=6h21m
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}

		h := time.Hour
		m := time.Minute
		want := []time.Duration{0, h, 2 * h, 2*h + 10*m, 2*h + 20*m, 4*h + 20*m, 6*h + 20*m, 6*h + 21*m}
		if got := r.offsets(start); !reflect.DeepEqual(got, want) {
			t.Errorf("records at %v, want %v", got, want)
		}

		// The first record is a full snapshot; every later one a delta against
		// the one before, carrying only the host section that changed.
		var prev wire.Inventory
		for i, rec := range r.recs {
			var inv wire.Inventory
			if err := rec.DecodeBody(&inv); err != nil {
				t.Fatalf("record %d: decode: %v", i, err)
			}
			if rec.Kind != wire.KindInventory {
				t.Errorf("record %d is %s, want %s", i, rec.Kind, wire.KindInventory)
			}
			switch {
			case i == 0 && (!inv.Full || inv.Base != "" || inv.Host == nil || inv.Host.Hostname != "ws-0142"):
				t.Errorf("record 0 = %+v, want a full snapshot of ws-0142", inv)
			case i > 0:
				next, err := wire.Apply(prev, inv)
				if err != nil || !reflect.DeepEqual(inv.Changed, []string{wire.SectionHost}) {
					t.Errorf("record %d: Apply = %v, changed %v; want a host delta against record %d", i, err, inv.Changed, i-1)
				}
				inv = next
			}
			prev = inv
		}
	})
}

func TestRunSurvivesFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		f := laptop()
		f.fail = "Interfaces"
		var logs strings.Builder
		env := r.env()
		env.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		s := newSensor(env, f)
		s.sections = hostOnly
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, r.emit) }()
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		if n := len(r.recs); n != 0 {
			t.Errorf("Run emitted %d records from a failing source, want 0", n)
		}
		if n := strings.Count(logs.String(), "collect inventory"); n != 4 {
			t.Errorf("logged %d failed rounds in 3h, want 4:\n%s", n, logs.String())
		}
	})
}

func TestRunCancelledBeforeStart(t *testing.T) {
	var r recorder
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := newSensor(r.env(), laptop()).Run(ctx, r.emit); err != nil || len(r.recs) != 0 {
		t.Errorf("Run on a done context = %v with %d records, want nil with 0", err, len(r.recs))
	}
}

// hostOnly limits collect to the host facts, so tests of the host part do not
// read this machine's other sections.
var hostOnly = []string{wire.SectionHost}

// doubling is a resource guard's pace that slows the sensor 2x and counts
// the rounds it was told of.
type doubling struct {
	mu           sync.Mutex
	begins, ends int
}

func (p *doubling) Begin() func() {
	p.mu.Lock()
	p.begins++
	p.mu.Unlock()
	return func() { p.mu.Lock(); p.ends++; p.mu.Unlock() }
}

func (p *doubling) Interval(d time.Duration) time.Duration { return 2 * d }

// Run brackets each round for the resource guard and waits the interval the
// guard stretched: the default hour slowed 2x puts rounds at 0, 2 h and 4 h.
func TestRunHonoursPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		p := &doubling{}
		env := r.env()
		env.Pace = p
		s := newSensor(env, growing{laptop()})
		s.sections = hostOnly
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- s.Run(ctx, r.emit) }()
		for _, d := range []time.Duration{0, time.Hour, time.Hour, time.Hour, time.Hour} {
			time.Sleep(d)
			synctest.Wait()
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
		if got, want := r.offsets(start), []time.Duration{0, 2 * time.Hour, 4 * time.Hour}; !reflect.DeepEqual(got, want) {
			t.Errorf("records at %v, want %v", got, want)
		}
		if p.begins != 3 || p.ends != 3 {
			t.Errorf("rounds begun %d, ended %d; want 3 each", p.begins, p.ends)
		}
	})
}

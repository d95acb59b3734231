// Package media is the removable-media sensor. It reports every USB stick,
// memory card, optical drive (and, when told to, loop device) that is attached
// when it starts or arrives later, with the facts its volumes' own bytes hold
// (filesystem, label, encryption, marking), decides on each medium's arrival
// whether the policy allows it, blocks what the policy refuses before any
// volume of it can be mounted, and reports mounts and removals.
//
// This file holds the platform-neutral part: the event loop, the per-medium
// state and the records. What the operating system offers sits behind the
// platform interface (platform.go), implemented per OS (platform_linux.go,
// platform_windows.go); decide.go judges a medium; volume.go reads a volume.
// Finding the facts in raw bytes lives in the fsprobe, classify and marking
// packages below this one.
package media

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

const (
	name = "media"
	// defaultVolumeWait is how long an allowed medium may go without volumes
	// after its arrival before it is reported without them.
	defaultVolumeWait = 10 * time.Second
)

func init() {
	sensor.Register(name, true, New)
}

var _ sensor.Sensor = (*Sensor)(nil)

// Sensor watches removable media. It keeps what it knows about each medium
// attached now in memory, keyed by the medium's name.
type Sensor struct {
	log    *slog.Logger
	policy func() wire.Policy
	plat   platform
	now    func() time.Time
	// volumeWait bounds the wait for the volumes of an allowed arrival.
	volumeWait time.Duration

	media     map[string]*medium
	policyErr string // the last invalid policy's error, logged once
}

// medium is what the sensor knows about one medium attached now.
type medium struct {
	dev      wire.MediaDevice
	decision wire.MediaDecision
	decided  bool
	// announced says the medium's present or add record went out.
	announced bool
	// blocked says a block took effect: its volumes are gone.
	blocked bool
	// since is when the medium arrived.
	since time.Time
}

// Options are the sensor's settings (sensor_options.media in the agent
// config), with their meaning.
var Options = map[string]string{
	"include_loop": `"true" reports loop devices as media of class loop (tests, benchmarks); default "false"`,
	"sysfs":        `where sysfs is mounted (Linux); default "/sys"`,
}

// New creates the media sensor from env; it refuses option keys it does not
// know and values it cannot parse.
func New(env sensor.Env) (sensor.Sensor, error) {
	opts, err := parseOptions(env.Options)
	if err != nil {
		return nil, err
	}
	opts.Logger = env.Logger
	p, err := newPlatform(opts)
	if err != nil {
		return nil, err
	}
	return newSensor(env, p), nil
}

// parseOptions reads the sensor options into platform options.
func parseOptions(o map[string]string) (platformOptions, error) {
	var opts platformOptions
	for _, k := range slices.Sorted(maps.Keys(o)) {
		v := o[k]
		switch k {
		case "include_loop":
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return opts, fmt.Errorf("media option include_loop %q: want true or false", v)
			}
			opts.IncludeLoop = b
		case "sysfs":
			if strings.TrimSpace(v) == "" {
				return opts, fmt.Errorf("media option sysfs: want a directory")
			}
			opts.SysRoot = v
		default:
			return opts, fmt.Errorf("media option %q unknown: want one of %s", k, strings.Join(slices.Sorted(maps.Keys(Options)), ", "))
		}
	}
	return opts, nil
}

func newSensor(env sensor.Env, p platform) *Sensor {
	s := &Sensor{log: env.Logger, policy: env.Policy, plat: p, now: time.Now,
		volumeWait: defaultVolumeWait, media: map[string]*medium{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.policy == nil {
		s.policy = func() wire.Policy { return wire.Policy{} }
	}
	return s
}

// Name implements sensor.Sensor.
func (s *Sensor) Name() string { return name }

// Run implements sensor.Sensor. It reports the media attached now, then
// follows the platform's events until ctx ends (nil) or watching fails.
func (s *Sensor) Run(ctx context.Context, emit func(wire.Record)) error {
	if c, ok := s.plat.(io.Closer); ok {
		defer c.Close()
	}
	devs, err := s.plat.Scan()
	if err != nil {
		s.log.Warn("list removable media", "err", err)
	}
	for _, d := range devs {
		s.present(d, emit)
	}

	wctx, cancel := context.WithCancel(ctx)
	events := make(chan osEvent, 64)
	watched := make(chan error, 1)
	go func() { watched <- s.plat.Watch(wctx, events) }()
	done, err := s.loop(ctx, events, watched, emit)
	cancel()
	if !done {
		<-watched // the platform is closed only once Watch is done with it
	}
	return err
}

// loop applies the platform's events until ctx ends or watching fails; done
// reports whether Watch has returned.
func (s *Sensor) loop(ctx context.Context, events <-chan osEvent, watched <-chan error, emit func(wire.Record)) (done bool, err error) {
	for {
		var expire <-chan time.Time
		var timer *time.Timer
		if next, ok := s.nextExpiry(); ok {
			timer = time.NewTimer(max(next.Sub(s.now()), 0))
			expire = timer.C
		}
		select {
		case <-ctx.Done():
			return false, nil
		case err := <-watched:
			if ctx.Err() != nil {
				return true, nil
			}
			if err == nil {
				err = errors.New("the platform stopped reporting")
			}
			return true, fmt.Errorf("watch media: %w", err)
		case ev := <-events:
			s.handle(ev, emit)
		case <-expire:
			s.expire(emit)
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// mediaPolicy returns the media policy in force now; an invalid one (which
// the collector should never send) counts as none.
func (s *Sensor) mediaPolicy() wire.MediaPolicy {
	pol := s.policy()
	if pol.Media == nil {
		return wire.MediaPolicy{}
	}
	if err := pol.Media.Validate(); err != nil {
		if err.Error() != s.policyErr {
			s.policyErr = err.Error()
			s.log.Error("media policy invalid; auditing without marking until a valid one arrives", "err", err)
		}
		return wire.MediaPolicy{}
	}
	s.policyErr = ""
	return *pol.Media
}

// handle applies one platform event; the policy is read afresh for each.
func (s *Sensor) handle(ev osEvent, emit func(wire.Record)) {
	if ev.At.IsZero() {
		ev.At = s.now()
	}
	p := s.mediaPolicy()
	switch ev.Kind {
	case osArrive:
		s.arrive(ev, p, emit)
	case osVolumes:
		s.volumes(ev, p, emit)
	case osLeave:
		s.leave(ev, emit)
	case osMount:
		s.mount(ev, p, emit)
	case osUnmount:
		s.unmount(ev, emit)
	default:
		s.log.Warn("unknown platform event", "kind", ev.Kind, "device", ev.Device.Name)
	}
}

// present reports a medium attached when the sensor started.
func (s *Sensor) present(dev wire.MediaDevice, emit func(wire.Record)) {
	p := s.mediaPolicy()
	at := s.now()
	m := &medium{dev: dev, since: at}
	s.media[dev.Name] = m
	s.judge(m, dev, p)
	if m.blocked {
		m.dev.Volumes = nil
		m.dev.Unknown = append(m.dev.Unknown, "volumes: not read, the medium was blocked")
	} else {
		m.dev = s.readVolumes(dev, p)
	}
	s.announce(m, wire.MediaPresent, at, emit)
}

// arrive decides on a medium the moment it appears, from its identity alone,
// and blocks it then if the policy says so: before any volume of it exists.
// An allowed medium is reported once its volumes are read.
func (s *Sensor) arrive(ev osEvent, p wire.MediaPolicy, emit func(wire.Record)) {
	if _, m := s.find(ev.Device); m != nil {
		// Known already (reported present, another interface of it, an
		// event repeated). A blocked medium that arrives again was let
		// back in by someone: block it again.
		if m.blocked {
			if err := s.plat.Block(m.dev); err != nil {
				s.log.Error("block medium again", "device", m.dev.Name, "err", err)
			}
		}
		return
	}
	m := &medium{dev: ev.Device, since: s.now()}
	s.media[ev.Device.Name] = m
	s.judge(m, ev.Device, p)
	if m.blocked {
		m.dev.Unknown = append(m.dev.Unknown, "volumes: not read, the medium was blocked on arrival")
		s.announce(m, wire.MediaAdd, ev.At, emit)
	}
	// Allowed, or a block that did not take effect: report the medium with
	// its volumes when they appear.
}

// volumes reads the volumes of a medium that can be read now and reports
// its arrival, unless that went out already.
func (s *Sensor) volumes(ev osEvent, p wire.MediaPolicy, emit func(wire.Record)) {
	key, m := s.find(ev.Device)
	if m != nil && m.blocked {
		s.log.Warn("volumes appeared on a blocked medium", "device", ev.Device.Name, "blocked", m.dev.Name)
		return
	}
	dev := s.describe(ev.Device)
	if m == nil {
		m = &medium{dev: dev, since: s.now()}
	} else if m.dev.Name != dev.Name {
		// The disk of a medium that arrived as its USB device.
		delete(s.media, key)
		dev.Unknown = slices.Concat(m.dev.Unknown, dev.Unknown)
	}
	s.media[dev.Name] = m
	if !m.announced {
		s.judge(m, dev, p)
		if m.blocked {
			m.dev = dev
			m.dev.Volumes = nil
			m.dev.Unknown = append(m.dev.Unknown, "volumes: not read, the medium was blocked")
			s.announce(m, wire.MediaAdd, ev.At, emit)
			return
		}
	}
	m.dev = s.readVolumes(dev, p)
	if !m.announced {
		s.announce(m, wire.MediaAdd, ev.At, emit)
	}
	// An announced medium keeps the facts read now for its next records.
}

// leave reports the removal of a medium and of whatever was found below it.
func (s *Sensor) leave(ev osEvent, emit func(wire.Record)) {
	for _, k := range slices.Sorted(maps.Keys(s.media)) {
		m := s.media[k]
		if k != ev.Device.Name && !below(m.dev.DevPath, ev.Device.DevPath) {
			continue
		}
		delete(s.media, k)
		if !m.announced {
			m.dev.Unknown = append(m.dev.Unknown, "volumes: not read, the medium left before they appeared")
			s.announce(m, wire.MediaAdd, ev.At, emit)
		}
		dev := m.dev
		for i := range dev.Volumes {
			dev.Volumes[i].MountPoint = ""
		}
		s.send(wire.MediaEvent{Action: wire.MediaRemove, Device: dev}, ev.At, emit)
	}
}

// mount reports a volume of a known medium mounted, reading the marker file
// through the mount point when the raw volume could not say.
func (s *Sensor) mount(ev osEvent, p wire.MediaPolicy, emit func(wire.Record)) {
	m, i := s.volume(ev)
	if m == nil {
		return
	}
	v := &m.dev.Volumes[i]
	v.MountPoint = ev.Mount.Point
	if !v.MarkingChecked && p.MarkerFile != "" {
		markFromMount(v, ev.Mount.Point, p)
	}
	mi := *ev.Mount
	mi.FSType = cmp.Or(mi.FSType, v.FSType)
	s.send(wire.MediaEvent{Action: wire.MediaMount, Device: m.dev, Mount: &mi}, ev.At, emit)
}

// unmount reports a volume of a known medium unmounted.
func (s *Sensor) unmount(ev osEvent, emit func(wire.Record)) {
	m, i := s.volume(ev)
	if m == nil {
		return
	}
	m.dev.Volumes[i].MountPoint = ""
	mi := *ev.Mount
	mi.FSType = cmp.Or(mi.FSType, m.dev.Volumes[i].FSType)
	s.send(wire.MediaEvent{Action: wire.MediaUnmount, Device: m.dev, Mount: &mi}, ev.At, emit)
}

// volume finds the known medium and volume a mount event names.
func (s *Sensor) volume(ev osEvent) (*medium, int) {
	if ev.Mount == nil {
		return nil, 0
	}
	_, m := s.find(ev.Device)
	if m == nil || m.blocked || !m.announced {
		// Unknown, blocked, or mounted before its volumes were read:
		// the add, when it comes, says where the volume is mounted.
		return nil, 0
	}
	i := slices.IndexFunc(m.dev.Volumes, func(v wire.MediaVolume) bool { return v.Name == ev.Mount.Volume })
	if i < 0 {
		// A volume the medium did not show when it was read (a partition
		// table written since): report it with what its mount says.
		m.dev.Volumes = append(m.dev.Volumes, wire.MediaVolume{Name: ev.Mount.Volume, Encrypted: "unknown"})
		i = len(m.dev.Volumes) - 1
	}
	return m, i
}

// expire reports the allowed arrivals that waited too long for volumes.
func (s *Sensor) expire(emit func(wire.Record)) {
	now := s.now()
	for _, k := range slices.Sorted(maps.Keys(s.media)) {
		m := s.media[k]
		if m.announced || now.Sub(m.since) < s.volumeWait {
			continue
		}
		m.dev.Unknown = append(m.dev.Unknown, fmt.Sprintf("volumes: none appeared within %v of the arrival", s.volumeWait))
		s.announce(m, wire.MediaAdd, now, emit)
	}
}

// nextExpiry returns when the oldest unannounced arrival expires.
func (s *Sensor) nextExpiry() (time.Time, bool) {
	var next time.Time
	for _, m := range s.media {
		if !m.announced && (next.IsZero() || m.since.Before(next)) {
			next = m.since
		}
	}
	return next.Add(s.volumeWait), !next.IsZero()
}

// find returns the known medium dev names: by name, or the medium dev was
// found below (the USB device a disk belongs to).
func (s *Sensor) find(dev wire.MediaDevice) (string, *medium) {
	if m, ok := s.media[dev.Name]; ok && dev.Name != "" {
		return dev.Name, m
	}
	for _, k := range slices.Sorted(maps.Keys(s.media)) {
		if m := s.media[k]; below(dev.DevPath, m.dev.DevPath) {
			return k, m
		}
	}
	return "", nil
}

// below reports whether device path p lies below device path parent.
func below(p, parent string) bool {
	return parent != "" && strings.HasPrefix(p, strings.TrimSuffix(parent, "/")+"/")
}

// judge decides on m as dev and enforces a block. A block that failed stays
// on record: the next look at the medium does not try again.
func (s *Sensor) judge(m *medium, dev wire.MediaDevice, p wire.MediaPolicy) {
	if m.decided && m.decision.Verdict == wire.VerdictBlock {
		return
	}
	m.decision, m.decided = decide(dev, p), true
	if m.decision.Verdict != wire.VerdictBlock {
		return
	}
	if err := s.plat.Block(dev); err != nil {
		m.decision.Error = err.Error()
		s.log.Error("block medium", "device", dev.Name, "key", dev.Key(), "err", err)
		return
	}
	m.decision.Enforced, m.blocked = true, true
	s.log.Info("medium blocked", "device", dev.Name, "class", dev.Class, "key", dev.Key(), "rule", m.decision.Rule)
}

// describe completes an event's device from what the OS holds now; what the
// event knew fills what the OS no longer says.
func (s *Sensor) describe(ev wire.MediaDevice) wire.MediaDevice {
	d, err := s.plat.Describe(ev)
	if err != nil {
		ev.Unknown = append(ev.Unknown, "identity: "+err.Error())
		return ev
	}
	d.Name = cmp.Or(d.Name, ev.Name)
	d.Class = cmp.Or(d.Class, ev.Class)
	d.Bus = cmp.Or(d.Bus, ev.Bus)
	d.VID, d.PID = cmp.Or(d.VID, ev.VID), cmp.Or(d.PID, ev.PID)
	d.Vendor, d.Product = cmp.Or(d.Vendor, ev.Vendor), cmp.Or(d.Product, ev.Product)
	d.Serial = cmp.Or(d.Serial, ev.Serial)
	d.SizeBytes = cmp.Or(d.SizeBytes, ev.SizeBytes)
	d.DevPath = cmp.Or(d.DevPath, ev.DevPath)
	return d
}

// readVolumes reads the facts of every volume of dev and where each is
// mounted. A volume that cannot be read says why in its problems.
func (s *Sensor) readVolumes(dev wire.MediaDevice, p wire.MediaPolicy) wire.MediaDevice {
	vols := make([]wire.MediaVolume, len(dev.Volumes))
	for i, v := range dev.Volumes {
		vols[i] = s.readVolume(dev, v, p)
	}
	dev.Volumes = vols
	if len(vols) == 0 {
		dev.Unknown = append(dev.Unknown, "volumes: the system shows none (no medium in the drive, or nothing it can read)")
		return dev
	}
	mounts := s.plat.Mounts(dev)
	for i := range dev.Volumes {
		v := &dev.Volumes[i]
		mi, ok := mounts[v.Name]
		if !ok {
			continue
		}
		v.MountPoint = mi.Point
		if !v.MarkingChecked && p.MarkerFile != "" {
			markFromMount(v, mi.Point, p)
		}
	}
	return dev
}

// readVolume opens one volume and reads its facts.
func (s *Sensor) readVolume(dev wire.MediaDevice, v wire.MediaVolume, p wire.MediaPolicy) wire.MediaVolume {
	r, size, c, err := s.plat.OpenVolume(dev, v.Name)
	if err != nil {
		v.Encrypted = cmp.Or(v.Encrypted, "unknown")
		v.Problems = append(v.Problems, "open: "+err.Error())
		return v
	}
	defer c.Close()
	got := ReadVolume(r, size, v.Name, p)
	got.SizeBytes = cmp.Or(got.SizeBytes, v.SizeBytes)
	got.Problems = append(v.Problems, got.Problems...)
	return got
}

// announce sends the present or add record of m.
func (s *Sensor) announce(m *medium, action string, at time.Time, emit func(wire.Record)) {
	m.announced = true
	d := m.decision
	s.send(wire.MediaEvent{Action: action, Device: m.dev, Decision: &d}, at, emit)
}

// send emits one media record.
func (s *Sensor) send(ev wire.MediaEvent, at time.Time, emit func(wire.Record)) {
	ev.Device.Volumes = slices.Clone(ev.Device.Volumes)
	ev.Device.Unknown = slices.Clone(ev.Device.Unknown)
	r, err := wire.NewRecord(wire.KindMedia, at, ev)
	if err != nil {
		s.log.Error("encode media record", "action", ev.Action, "device", ev.Device.Name, "err", err)
		return
	}
	s.log.Debug("media", "action", ev.Action, "device", ev.Device.Name, "class", ev.Device.Class, "key", ev.Device.Key())
	emit(r)
}

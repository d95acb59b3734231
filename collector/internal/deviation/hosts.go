package deviation

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// Defaults of the host evaluation loop.
const (
	// DefaultHostInterval is how often the host rules run without being
	// woken.
	DefaultHostInterval = time.Minute
	// DefaultHostWakeGap is the least time from one host evaluation to the
	// next that a wake starts.
	DefaultHostWakeGap = 10 * time.Second
)

// HostStore is what host evaluation needs of the store: the registers and
// identities the configuration map reconciles, the hosts' accounts, and the
// state of standing conditions.
type HostStore interface {
	Assets(ctx context.Context) ([]model.Asset, error)
	HostIdentities(ctx context.Context) ([]model.HostIdentity, error)
	Neighbours(ctx context.Context) ([]model.Neighbour, error)
	HostAccounts(ctx context.Context) ([]model.HostAccounts, error)
	RecordStanding(ctx context.Context, rule string, scope []string, fs []model.NewDeviation, now time.Time) ([]model.RecordResult, error)
}

// Every store driver is a HostStore, so New finds one in Config.Store.
var _ HostStore = model.Store(nil)

// WakeHosts asks the engine to run the host rules soon: after an ingest
// (an agent's first report, a new inventory), or a change to the asset or
// organisation register. It never blocks; wakes that arrive while one is
// pending are merged, and a wake runs them no sooner than HostWakeGap after
// the last evaluation, so calling it on every commit is cheap.
func (e *Engine) WakeHosts() {
	select {
	case e.wakeHosts <- struct{}{}:
	default:
	}
}

// runHosts evaluates the host rules at once, then whenever woken (at most
// once per HostWakeGap) and every HostInterval, until ctx is done. A failed
// evaluation is logged and retried at the next tick.
func (e *Engine) runHosts(ctx context.Context) {
	t := time.NewTicker(e.cfg.HostInterval)
	defer t.Stop()
	for {
		wake := e.wakeHosts
		last := time.Now()
		if err := e.EvaluateHosts(ctx); err != nil && ctx.Err() == nil {
			e.log.ErrorContext(ctx, "evaluate host rules; retrying", "err", err, "in", e.cfg.HostInterval)
			wake = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
			if d := e.cfg.HostWakeGap - time.Since(last); d > 0 {
				gap := time.NewTimer(d)
				select {
				case <-ctx.Done():
					gap.Stop()
					return
				case <-gap.C:
				}
			}
		case <-t.C:
		}
	}
}

// EvaluateHosts runs the host rules (rules.HostRules) over the whole
// configuration map now: it reconciles the asset register with the agents'
// identities and the devices seen, reads the hosts' accounts when a
// supplier person lacks a valid declaration, routes each finding to the
// owner unit of its asset (the security officer alone when none), and
// records each enabled rule's findings as standing conditions over all its
// subjects. A rule that is disabled, and supplier-access without
// Config.Suppliers, is not recorded at all: its conditions stay as they
// were. When the supplier personnel or the accounts cannot be read, the
// other rules still run and supplier-access waits for the next evaluation.
// What was recorded before an error is reported to OnChange all the same.
// Without a HostStore it does nothing.
func (e *Engine) EvaluateHosts(ctx context.Context) error {
	st := e.hosts
	if st == nil {
		return nil
	}
	e.hostMu.Lock()
	defer e.hostMu.Unlock()
	now := e.now()
	in, err := e.hostInput(ctx, st, now)
	if err != nil {
		return err
	}
	units := assetUnits(in.Map)
	e.units.Store(&units)
	errs := e.supplierInput(ctx, st, &in)
	byRule := map[string][]model.NewDeviation{}
	for _, f := range rules.Hosts(in, e.cfg.Rules) {
		byRule[f.Rule] = append(byRule[f.Rule], e.open(f.Finding, f.Unit, now))
	}
	if st, ok := st.(SoftwareStore); ok && e.softwareDue(now) {
		sw, on, err := e.softwareFindings(ctx, st, in, now)
		switch {
		case err != nil:
			e.swDirty.Store(true) // judged again at the next evaluation
			errs = errors.Join(errs, fmt.Errorf("judge installed software: %w", err))
		case on:
			byRule[rules.UnapprovedSoftware] = sw
			e.swLast = now
		default:
			e.swLast = now
		}
	}
	// Findings with an active exception count as not firing, so their
	// conditions clear, and come back when the exception ends.
	xs, err := activeExceptions(ctx, st, now)
	if err != nil {
		return errors.Join(errs, err) // recording unsuppressed would reopen what was excepted
	}
	for rule, fs := range byRule {
		byRule[rule] = xs.filter(fs)
	}
	var changed []model.RecordResult
	for _, rule := range append(rules.HostRules, rules.UnapprovedSoftware) {
		if rule == rules.UnapprovedSoftware {
			if _, judged := byRule[rule]; !judged {
				continue // off, or the catalogue could not be read: conditions stay
			}
		}
		if !e.cfg.Rules.Enabled(rule) || (rule == rules.SupplierAccess && (e.cfg.Suppliers == nil || errs != nil)) {
			continue
		}
		res, err := st.RecordStanding(ctx, rule, nil, byRule[rule], now)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("record %s findings: %w", rule, err))
			break
		}
		for _, r := range res {
			if r.Created {
				e.log.InfoContext(ctx, "deviation opened", "id", r.ID, "rule", rule)
			}
		}
		changed = append(changed, res...)
	}
	if len(changed) > 0 && e.cfg.OnChange != nil {
		e.cfg.OnChange(changed)
	}
	return errs
}

// hostInput reads what the host rules judge, but the suppliers, and
// reconciles the map.
func (e *Engine) hostInput(ctx context.Context, st HostStore, now time.Time) (rules.HostInput, error) {
	assets, err := st.Assets(ctx)
	if err != nil {
		return rules.HostInput{}, fmt.Errorf("read asset register: %w", err)
	}
	ids, err := st.HostIdentities(ctx)
	if err != nil {
		return rules.HostInput{}, fmt.Errorf("read host identities: %w", err)
	}
	ns, err := st.Neighbours(ctx)
	if err != nil {
		return rules.HostInput{}, fmt.Errorf("read devices seen: %w", err)
	}
	zones := e.cfg.Zones
	if zones == nil {
		zones = e.cfg.ZoneMap.Table()
	}
	hosts := MapHosts(ids, zones)
	devices := MapDevices(ns)
	in := rules.HostInput{
		Map:     configmap.Reconcile(assets, hosts, devices, nil, configmap.Options{SilentAfter: e.cfg.SilentAfter, Now: now}),
		Hosts:   make(map[string]configmap.Host, len(hosts)),
		Devices: make(map[string]configmap.Device, len(devices)),
		Now:     now,
	}
	for _, h := range hosts {
		in.Hosts[h.AgentID] = h
	}
	for _, d := range devices {
		in.Devices[d.MAC] = d
	}
	return in, nil
}

// supplierInput adds the supplier personnel to in and, when one of them
// lacks a valid declaration, the hosts' accounts.
func (e *Engine) supplierInput(ctx context.Context, st HostStore, in *rules.HostInput) error {
	if e.cfg.Suppliers == nil || !e.cfg.Rules.Enabled(rules.SupplierAccess) {
		return nil
	}
	ps, err := e.cfg.Suppliers(ctx)
	if err != nil {
		return fmt.Errorf("read supplier personnel: %w", err)
	}
	in.Suppliers = SupplierAccounts(ps)
	if !slices.ContainsFunc(in.Suppliers, func(s rules.SupplierAccount) bool { return !s.Declared(in.Now) }) {
		return nil // everyone is declared: no account can fire
	}
	accs, err := st.HostAccounts(ctx)
	if err != nil {
		return fmt.Errorf("read host accounts: %w", err)
	}
	in.Accounts = make(map[string]rules.HostAccounts, len(accs))
	for _, a := range accs {
		in.Accounts[a.AgentID] = rules.HostAccounts{Users: a.Users, Sessions: a.Sessions}
	}
	return nil
}

// MapHosts turns the agents' identities into the configuration map's hosts,
// each placed in its zone by the addresses of its interfaces (none when
// zones is nil or empty).
func MapHosts(ids []model.HostIdentity, zones *zone.Table) []configmap.Host {
	out := make([]configmap.Host, len(ids))
	for i, id := range ids {
		h := configmap.Host{
			AgentID: id.AgentID, Hostname: id.Hostname, Serial: id.Serial, AssetTag: id.AssetTag,
			MACs: id.MACs, IPs: id.Addrs, LastSeen: id.LastSeen, Revoked: id.Revoked, SerialHistory: id.SerialHistory,
		}
		if zones.Len() > 0 {
			var addrs []netip.Addr
			for _, s := range id.Addrs {
				if a, ok := zone.ParseAddr(s); ok {
					addrs = append(addrs, a)
				}
			}
			if z, ok := zones.HostZone(addrs); ok {
				h.Zone = z.Name
			}
		}
		out[i] = h
	}
	return out
}

// MapDevices turns the devices seen on the wire into the configuration
// map's devices.
func MapDevices(ns []model.Neighbour) []configmap.Device {
	out := make([]configmap.Device, len(ns))
	for i, n := range ns {
		d := configmap.Device{MAC: n.MAC, IPs: n.IPs, Name: n.Name, Vendor: n.Vendor, SeenBy: n.SeenByAgents}
		if n.Last != 0 {
			d.Last = time.Unix(0, n.Last).UTC()
		}
		out[i] = d
	}
	return out
}

// SupplierAccounts turns the organisation register's supplier personnel
// into what supplier-access judges. A declaration without the hash of its
// signed document counts as not signed, as model.SupplierPerson's
// DeclarationValid has it.
func SupplierAccounts(ps []model.SupplierPerson) []rules.SupplierAccount {
	out := make([]rules.SupplierAccount, len(ps))
	for i, p := range ps {
		s := rules.SupplierAccount{Person: p.Name, Supplier: p.Supplier, Accounts: p.Accounts,
			DeclarationSigned: p.DeclarationSigned, DeclarationExpires: p.DeclarationExpires}
		if p.DeclarationSHA256 == "" {
			s.DeclarationSigned = time.Time{}
		}
		out[i] = s
	}
	return out
}

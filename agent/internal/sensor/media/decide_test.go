package media

import (
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestDecide(t *testing.T) {
	stick := wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdb", VID: "0781", PID: "5583", Serial: "4C53000"}
	other := wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdc", VID: "0781", PID: "5583", Serial: "4C53999"}
	cd := wire.MediaDevice{Class: wire.MediaOptical, Name: "sr0", VID: "0e8d", PID: "1806"}
	card := wire.MediaDevice{Class: wire.MediaMemoryCard, Name: "mmcblk0", Serial: "0x1a2b3c4d"}
	loop := wire.MediaDevice{Class: wire.MediaLoop, Name: "loop0", Serial: "/img/stick.img"}
	register := []string{"0781:5583:4C53000", "::/img/stick.img"}

	allow := func(rule, mode string) wire.MediaDecision {
		return wire.MediaDecision{Verdict: wire.VerdictAllow, Rule: rule, Mode: mode}
	}
	block := wire.MediaDecision{Verdict: wire.VerdictBlock, Rule: wire.MediaRuleBlockDefault, Mode: wire.MediaModeBlock}
	for _, c := range []struct {
		name string
		dev  wire.MediaDevice
		p    wire.MediaPolicy
		want wire.MediaDecision
	}{
		// Audit never blocks, whatever the register says.
		{"no policy", other, wire.MediaPolicy{}, allow(wire.MediaRuleAuditDefault, wire.MediaModeAudit)},
		{"audit, unregistered", other, wire.MediaPolicy{Mode: wire.MediaModeAudit}, allow(wire.MediaRuleAuditDefault, wire.MediaModeAudit)},
		{"audit, registered", stick, wire.MediaPolicy{Mode: wire.MediaModeAudit, Allowed: register}, allow(wire.MediaRuleAuditDefault, wire.MediaModeAudit)},
		{"audit, optical", cd, wire.MediaPolicy{Mode: wire.MediaModeAudit, EnforceOptical: true}, allow(wire.MediaRuleAuditDefault, wire.MediaModeAudit)},
		// Block mode: the register and the exempt class allow.
		{"block, registered", stick, wire.MediaPolicy{Mode: wire.MediaModeBlock, Allowed: register}, allow(wire.MediaRuleRegister, wire.MediaModeBlock)},
		{"block, registered model", other, wire.MediaPolicy{Mode: wire.MediaModeBlock, Allowed: []string{"0781:5583:"}}, allow(wire.MediaRuleRegister, wire.MediaModeBlock)},
		{"block, registered loop", loop, wire.MediaPolicy{Mode: wire.MediaModeBlock, Allowed: register}, allow(wire.MediaRuleRegister, wire.MediaModeBlock)},
		{"block, optical exempt", cd, wire.MediaPolicy{Mode: wire.MediaModeBlock}, allow(wire.MediaRuleClassExempt, wire.MediaModeBlock)},
		{"block, registered optical", cd, wire.MediaPolicy{Mode: wire.MediaModeBlock, EnforceOptical: true, Allowed: []string{"0e8d:1806:"}}, allow(wire.MediaRuleRegister, wire.MediaModeBlock)},
		// Block mode: what the register lacks is blocked.
		{"block, unregistered", other, wire.MediaPolicy{Mode: wire.MediaModeBlock, Allowed: register}, block},
		{"block, empty register", stick, wire.MediaPolicy{Mode: wire.MediaModeBlock}, block},
		{"block, optical enforced", cd, wire.MediaPolicy{Mode: wire.MediaModeBlock, EnforceOptical: true}, block},
		{"block, memory card", card, wire.MediaPolicy{Mode: wire.MediaModeBlock}, block},
		{"block, loop", loop, wire.MediaPolicy{Mode: wire.MediaModeBlock}, block},
		{"block, no identity", wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdd"}, wire.MediaPolicy{Mode: wire.MediaModeBlock, Allowed: []string{"::"}}, block},
	} {
		if got := decide(c.dev, c.p); got != c.want {
			t.Errorf("%s: decide(%s, %+v) = %+v, want %+v", c.name, c.dev.Name, c.p, got, c.want)
		}
	}
}

package media

import "github.com/sonevakt/sonevakt/pkg/wire"

// decide judges a medium by its identity and class alone, so that it can be
// called the moment the medium arrives, before any volume of it exists. The
// first rule that matches decides:
//
//  1. mode audit (or unset): allow, media.default.audit;
//  2. the register holds the medium: allow, media.register;
//  3. an optical drive while optical drives are not enforced: allow,
//     media.class.exempt;
//  4. otherwise (mode block): block, media.default.block.
//
// The decision always names the mode in force.
func decide(dev wire.MediaDevice, p wire.MediaPolicy) wire.MediaDecision {
	if p.Mode != wire.MediaModeBlock {
		return wire.MediaDecision{Verdict: wire.VerdictAllow, Rule: wire.MediaRuleAuditDefault, Mode: wire.MediaModeAudit}
	}
	d := wire.MediaDecision{Verdict: wire.VerdictAllow, Mode: wire.MediaModeBlock}
	switch {
	case p.Allows(dev):
		d.Rule = wire.MediaRuleRegister
	case dev.Class == wire.MediaOptical && !p.EnforceOptical:
		d.Rule = wire.MediaRuleClassExempt
	default:
		d.Verdict, d.Rule = wire.VerdictBlock, wire.MediaRuleBlockDefault
	}
	return d
}

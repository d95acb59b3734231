package configmap

import "fmt"

// Reason is one piece of why an entry has its state, as a code and its
// arguments, so that pages can say it in their language; String says it in
// English. Codes are those of ReasonFormats.
type Reason struct {
	Code string   `json:"code"`
	Args []string `json:"args,omitempty"`
}

// ReasonFormats are the English formats of the reason codes, each taking
// the reason's Args as %s verbs in order.
var ReasonFormats = map[string]string{
	"match.serial":          "agent %s: serial %s matches asset %s",
	"match.mac":             "agent %s: MAC %s matches asset %s",
	"match.tag":             "agent %s: asset tag %s matches asset %s",
	"also.serial":           "agent %s also matches asset %s by serial %s",
	"also.mac":              "agent %s also matches asset %s by MAC %s",
	"also.tag":              "agent %s also matches asset %s by asset tag %s",
	"retired.serial":        "serial %s matches only retired asset %s",
	"retired.mac":           "MAC %s matches only retired asset %s",
	"retired.tag":           "asset tag %s matches only retired asset %s",
	"revoked":               "agent %s is revoked",
	"quiet":                 "agent %s has not reported for %s",
	"agent_quiet":           "has not reported for %s",
	"serial_changed":        "agent %s reported serial %s before and %s now (its hardware changed)",
	"claimants":             "%s agents claim asset %s: %s (a cloned image or a reinstall?)",
	"no_agent":              "no agent reports this asset",
	"no_asset":              "matches no asset in the register",
	"hostname_hint":         "hostname %s is asset %s's hostname (a hint only; hostnames never match)",
	"device_retired":        "MAC %s belongs to retired asset %s",
	"device_revoked":        "MAC %s belongs to revoked agent %s",
	"device_unknown":        "MAC %s belongs to no asset and no agent",
	"device_unknown_vendor": "MAC %s belongs to no asset and no agent (vendor %s)",
}

func why(code string, args ...string) Reason { return Reason{Code: code, Args: args} }

// Values returns the arguments for a format's verbs.
func (r Reason) Values() []any {
	out := make([]any, len(r.Args))
	for i, a := range r.Args {
		out[i] = a
	}
	return out
}

// String renders the reason in English.
func (r Reason) String() string {
	f, ok := ReasonFormats[r.Code]
	if !ok {
		return r.Code
	}
	return fmt.Sprintf(f, r.Values()...)
}

func reasonTexts(rs []Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

package wire

import (
	"strings"
	"testing"
	"time"
)

func TestMediaPolicyAllows(t *testing.T) {
	p := MediaPolicy{Allowed: []string{"0781:5583:4C53000", "090c:1000:", "::/img/stick.img"}}
	for _, c := range []struct {
		dev  MediaDevice
		want bool
	}{
		{MediaDevice{VID: "0781", PID: "5583", Serial: "4C53000"}, true},
		{MediaDevice{VID: "0781", PID: "5583", Serial: "4C53001"}, false}, // another serial of a model not registered as a whole
		{MediaDevice{VID: "090C", PID: "1000", Serial: "anything"}, true}, // the whole model, hex case ignored
		{MediaDevice{VID: "090c", PID: "1001", Serial: "anything"}, false},
		{MediaDevice{Class: MediaLoop, Serial: "/img/stick.img"}, true},
		{MediaDevice{Class: MediaOptical}, false}, // no identity at all never matches "::"
	} {
		if got := p.Allows(c.dev); got != c.want {
			t.Errorf("Allows(%s) = %v, want %v", c.dev.Key(), got, c.want)
		}
	}
	if (MediaPolicy{Allowed: []string{"::"}}).Allows(MediaDevice{}) {
		t.Error(`an entry "::" allowed a device without identity`)
	}
}

func TestMediaPolicyValidate(t *testing.T) {
	if err := (MediaPolicy{Mode: MediaModeBlock, LabelPattern: "NK-*", MarkerFile: "SONEVAKT.TXT", Allowed: []string{"0781:5583:x"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    MediaPolicy
		want string
	}{
		{MediaPolicy{Mode: "deny"}, `media mode "deny"`},
		{MediaPolicy{LabelPattern: "NK-["}, `label pattern "NK-["`},
		{MediaPolicy{MarkerFile: "../x"}, `marker file "../x"`},
		{MediaPolicy{MarkerFile: `a\b`}, `marker file`},
		{MediaPolicy{Allowed: []string{"0781-5583"}}, `allowed entry "0781-5583"`},
	} {
		err := c.p.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error with %q", c.p, err, c.want)
		}
	}
}

func TestMediaEventRoundTrip(t *testing.T) {
	ev := MediaEvent{Action: MediaAdd, Device: MediaDevice{Class: MediaUSBStorage, Name: "sdb", VID: "0781", PID: "5583", Serial: "S1",
		Volumes: []MediaVolume{{Name: "sdb1", FSType: "vfat", Label: "NK-0001", Encrypted: "no", MarkingChecked: true,
			Marking: &MediaMarking{Source: MarkingLabel, ID: "NK-0001"}}}},
		Decision: &MediaDecision{Verdict: VerdictAllow, Rule: MediaRuleAuditDefault, Mode: MediaModeAudit}}
	r, err := NewRecord(KindMedia, time.Unix(1700000000, 0), ev)
	if err != nil {
		t.Fatal(err)
	}
	var got MediaEvent
	if err := r.DecodeBody(&got); err != nil {
		t.Fatal(err)
	}
	if got.Device.Key() != "0781:5583:S1" || got.Device.Volumes[0].Marking.ID != "NK-0001" || got.Decision.Rule != MediaRuleAuditDefault || !got.Device.Volumes[0].MarkingChecked {
		t.Fatalf("round trip lost fields: %+v", got)
	}
}

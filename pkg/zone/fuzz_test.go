package zone

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// FuzzFromPolicy decodes arbitrary CBOR as the zone policy an agent
// receives and builds the map from it, as the agent does: a refusal names
// the policy, an accepted map gives the same policy back.
func FuzzFromPolicy(f *testing.F) {
	for _, s := range []string{contract, testFile} {
		m, err := Parse("zones.yaml", []byte(s))
		if err != nil {
			f.Fatal(err)
		}
		b, err := wire.Marshal(m.Policy())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, _ := wire.Marshal(wire.ZonePolicy{Zones: []wire.ZoneDef{{Name: "a", Kind: "internal", Parent: "a", Prefixes: []string{"10.0.0.0/8", "::/0"}}},
		Firewall: []wire.FirewallRule{{From: "a", To: "b", Proto: "tcp", Ports: []string{"1-0", "65536"}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var p wire.ZonePolicy
		if wire.Unmarshal(data, &p) != nil {
			return
		}
		m, err := FromPolicy(p)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "policy") {
				t.Fatalf("error does not name the policy: %v", err)
			}
			return
		}
		back, err := FromPolicy(m.Policy())
		if err != nil {
			t.Fatalf("FromPolicy(Policy()) of an accepted policy: %v", err)
		}
		if !reflect.DeepEqual(back.Policy(), m.Policy()) {
			t.Fatalf("Policy() changed on the way through FromPolicy")
		}
	})
}

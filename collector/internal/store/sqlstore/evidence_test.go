package sqlstore

import (
	"math/rand/v2"
	"testing"
)

// hashSet counts distinct hashes exactly, through compactions and merges.
func TestHashSet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a, b hashSet
	want := map[uint64]bool{}
	for i := range 50_000 {
		v := r.Uint64N(20_000) // many repeats
		want[v] = true
		if i%3 == 0 {
			b.add(v)
		} else {
			a.add(v)
		}
	}
	if len(a.h) >= 2*len(want)+2048 {
		t.Errorf("hashSet holds %d hashes for %d distinct: not compacted", len(a.h), len(want))
	}
	a.merge(&b)
	if got := a.len(); got != len(want) {
		t.Errorf("hashSet.len() = %d, want %d", got, len(want))
	}
	var empty hashSet
	if empty.len() != 0 {
		t.Error("empty hashSet is not empty")
	}
}

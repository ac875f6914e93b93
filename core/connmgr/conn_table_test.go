package connmgr

import (
	"math/rand/v2"
	"testing"
)

// TestConnTable checks the open-addressing session table against a map
// through random puts, deletes and lookups, with keys crowded into a few
// homes so that runs wrap around and deletions shift entries back.
func TestConnTable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tab connTable
	ref := map[uint64]*conn{}
	conns := make([]*conn, 64)
	for i := range conns {
		conns[i] = &conn{}
	}
	key := func() uint64 { return uint64(r.IntN(96)) << (r.IntN(3) * 16) }
	for step := range 20000 {
		k := key()
		switch r.IntN(3) {
		case 0:
			c := conns[r.IntN(len(conns))]
			tab.put(k, c)
			ref[k] = c
		case 1:
			tab.del(k)
			delete(ref, k)
		}
		if tab.n != len(ref) {
			t.Fatalf("step %d: %d entries, want %d", step, tab.n, len(ref))
		}
		for range 4 {
			k := key()
			if got, want := tab.get(k), ref[k]; got != want {
				t.Fatalf("step %d: get(%#x) = %p, want %p", step, k, got, want)
			}
		}
	}
	for k, c := range ref { // every entry, in any order: only lookups
		if tab.get(k) != c {
			t.Fatalf("get(%#x) lost its entry", k)
		}
	}
}

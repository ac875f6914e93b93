package gossip

import (
	"math/rand/v2"
	"testing"
)

// TestEntryIndexMatchesMap runs random sets and removes on an entryIndex
// and on the map it replaced (byID[id] = e; delete only if byID[id] == e)
// and checks every ID's lookup after each step, through growth and
// shrinking, with several entries per ID (a message accepted again).
func TestEntryIndexMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := newEntryIndex()
	ref := map[ID]*entry{}
	ids := make([]ID, 200)
	for i := range ids {
		ids[i] = idOf(i)
	}
	var made []*entry
	for step := range 30000 {
		// Phases: mostly adding, then mostly removing, so the table
		// grows and shrinks again and again.
		adding := (step/3000)%2 == 0
		if r.IntN(10) < 7 == adding {
			e := &entry{msg: &record{id: ids[r.IntN(len(ids))]}}
			made = append(made, e)
			x.set(e)
			ref[e.msg.id] = e
		} else if len(made) > 0 {
			e := made[r.IntN(len(made))]
			x.remove(e)
			if ref[e.msg.id] == e {
				delete(ref, e.msg.id)
			}
		}
		if x.len() != len(ref) {
			t.Fatalf("step %d: %d entries, reference %d", step, x.len(), len(ref))
		}
		for _, id := range ids {
			if got, want := x.get(id), ref[id]; got != want {
				t.Fatalf("step %d: get(%v) = %p, reference %p", step, id, got, want)
			}
		}
		if len(x.slots) > minIndex && 8*x.len() < len(x.slots)/2 || 2*x.len() > len(x.slots) {
			t.Fatalf("step %d: %d entries in %d slots", step, x.len(), len(x.slots))
		}
	}
}

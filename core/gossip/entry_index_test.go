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
		if i%2 == 1 {
			// Half share their first bytes (the tag kept in the entry)
			// with another ID: only the full comparison tells them apart.
			copy(ids[i][:4], ids[i-1][:4])
		}
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
		// The entries set last that are still their ID's come from
		// recent, and nothing else does.
		last := map[*entry]bool{}
		for _, e := range made[max(0, len(made)-recentLen):] {
			if ref[e.msg.id] == e {
				last[e] = true
			}
		}
		for _, id := range ids {
			e := x.fromRecent(&id)
			if e != nil && ref[id] != e || e == nil && last[ref[id]] && ref[id] != nil {
				t.Fatalf("step %d: fromRecent(%v) = %p, reference %p (recent: %v)", step, id, e, ref[id], last[ref[id]])
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

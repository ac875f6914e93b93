package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The dense and the map form of linkTimes answer alike, including for links
// never set.
func TestLinkTimesDenseMatchesMap(t *testing.T) {
	const nodes = 50
	dense, sparse := newLinkTimes(nodes, true), newLinkTimes(nodes, false)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		from, to := rng.IntN(nodes), rng.IntN(nodes)
		if g, w := dense.get(from, to), sparse.get(from, to); g != w {
			t.Fatalf("op %d: get(%d, %d): dense %v, map %v", i, from, to, g, w)
		}
		if rng.IntN(3) == 0 {
			d := time.Duration(rng.Int64N(1e9)) - 1e3 // a few negative ones too
			dense.set(from, to, d, 0)
			sparse.set(from, to, d, 0)
		}
	}
	empty := newLinkTimes(nodes, true)
	if got := empty.get(3, 4); got != noLinkTime {
		t.Fatalf("empty dense table: %v, want noLinkTime", got)
	}
}

// The map form forgets floors at or before now once it has doubled, and
// only those: a later floor survives, and a forgotten one reads as none.
func TestLinkTimesPrune(t *testing.T) {
	lt := newLinkTimes(denseLinkNodes+1, false)
	now := time.Second
	lt.set(1, 2, 2*now, 0) // still in the future when pruning happens
	for i := range minPruneAt - 2 {
		lt.set(i+10, 7, now/2, 0) // stale by then
	}
	if len(lt.byKey) != minPruneAt-1 {
		t.Fatalf("%d entries before pruning", len(lt.byKey))
	}
	lt.set(3, 4, now, now) // the minPruneAt-th: prunes everything <= now
	if len(lt.byKey) != 1 || lt.get(1, 2) != 2*now || lt.get(10, 7) != noLinkTime || lt.get(3, 4) != noLinkTime {
		t.Fatalf("after pruning: %d entries, get(1,2)=%v get(10,7)=%v get(3,4)=%v",
			len(lt.byKey), lt.get(1, 2), lt.get(10, 7), lt.get(3, 4))
	}
	if lt.pruneAt != minPruneAt {
		t.Fatalf("next prune at %d", lt.pruneAt)
	}
}

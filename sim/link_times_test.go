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
			dense.set(from, to, d)
			sparse.set(from, to, d)
		}
	}
	empty := newLinkTimes(nodes, true)
	if got := empty.get(3, 4); got != noLinkTime {
		t.Fatalf("empty dense table: %v, want noLinkTime", got)
	}
}

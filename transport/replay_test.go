package transport

import (
	"math/rand/v2"
	"testing"
)

func TestReplayFilter(t *testing.T) {
	var r replayFilter
	steps := []struct {
		c    uint64
		want bool
	}{
		{0, true}, {0, false}, {1, true}, {5, true}, {3, true}, {3, false}, {2, true},
		{5, false}, {4, true},
		{5000, true},                     // a jump clears the ring
		{5000 - replayWindow, false},     // just out of the window
		{5000 - replayWindow + 1, true},  // just inside
		{5000 - replayWindow + 1, false}, // and now seen
		{4, false},                       // far too old
		{4999, true}, {4999, false}, {5001, true},
		{1 << 40, true}, {1<<40 - 1, true}, {1<<40 - replayWindow, false},
		{rejectAfterMessages, false}, {rejectAfterMessages - 1, true},
	}
	for i, s := range steps {
		if got := r.accept(s.c); got != s.want {
			t.Fatalf("step %d: accept(%d) = %v, want %v", i, s.c, got, s.want)
		}
	}
}

// The filter agrees with a map of seen counters inside the window, under
// random reordering.
func TestReplayFilterModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var r replayFilter
	seen := map[uint64]bool{}
	var top uint64
	anySeen := false
	for range 200000 {
		var c uint64
		switch rng.IntN(4) {
		case 0: // a fresh jump ahead
			c = top + uint64(rng.IntN(3*replayBits))
		case 1: // a duplicate or reordered counter near the top
			c = top - min(top, uint64(rng.IntN(replayWindow+100)))
		default:
			c = top + 1
		}
		want := !seen[c] && (!anySeen || c > top || top-c < replayWindow)
		if got := r.check(c); got != want {
			t.Fatalf("check(%d) top %d = %v, want %v", c, top, got, want)
		}
		if got := r.accept(c); got != want {
			t.Fatalf("accept(%d) top %d = %v, want %v", c, top, got, want)
		}
		if want {
			seen[c] = true
			if !anySeen || c > top {
				top = c
			}
			anySeen = true
		}
	}
}

package gossip_test

import (
	"flag"
	"testing"
	"time"

	"github.com/dchat/network/core/gossip"
)

var sweep = flag.Bool("gossip.sweep", false, "run the forwarding parameter sweep (slow; prints figures)")

// TestSweep prints duplicates and latency for forwarding settings on 1,000
// nodes with 100 ms links. It is a tuning aid, not a check.
func TestSweep(t *testing.T) {
	if !*sweep {
		t.Skip("enable with -gossip.sweep")
	}
	type knob struct {
		fan, late, eager, lazy int
		delay                  time.Duration
	}
	for _, deg := range []int{8, 20} {
		for _, k := range []knob{
			{6, 3, 3, 6, 50 * time.Millisecond},
			{6, 3, 4, 6, 50 * time.Millisecond},
			{6, 2, 4, 8, 50 * time.Millisecond},
			{6, 3, 3, 8, 0},
			{6, 6, 32, 0, 0},
			{4, 4, 32, 8, 50 * time.Millisecond},
			{6, 2, 3, 8, 100 * time.Millisecond},
		} {
			cfg := gossip.DefaultConfig()
			cfg.Fanout, cfg.LateFanout, cfg.EagerHops, cfg.LazyFanout, cfg.IWantDelay = k.fan, k.late, k.eager, k.lazy, k.delay
			c := newCluster(t, 1000, deg, 100*time.Millisecond, cfg, sharedCache(t))
			c.publishRandom(t, 20, 2*time.Second, 7)
			c.net.Run(c.net.Now().Add(10 * time.Second))
			t.Logf("degree %d %+v:\n%v", deg, k, c.report())
		}
	}
}

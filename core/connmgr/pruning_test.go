package connmgr_test

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
)

func peerID(t testing.TB, b byte) identity.PeerID {
	t.Helper()
	id, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return id.ID()
}

// sortedIDs returns n peer IDs in ascending binary order.
func sortedIDs(t testing.TB, n int) []identity.PeerID {
	ids := make([]identity.PeerID, n)
	for i := range ids {
		ids[i] = peerID(t, byte(i+1))
	}
	slices.SortFunc(ids, compareIDs)
	return ids
}

func TestPrunerStrategies(t *testing.T) {
	now := coretest.Epoch.Add(time.Hour)
	ids := sortedIDs(t, 8)
	old := coretest.Epoch
	// Base: 4 sessions, all old enough, equally active, neutral, 50 ms.
	base := func() []connmgr.PruneCandidate {
		cs := make([]connmgr.PruneCandidate, 4)
		for i := range cs {
			cs[i] = connmgr.PruneCandidate{Peer: ids[i], Opened: old, LastActive: now.Add(-time.Minute), SRTT: 50 * time.Millisecond}
		}
		return cs
	}
	cases := []struct {
		name     string
		strategy connmgr.Strategy
		edit     func(cs []connmgr.PruneCandidate)
		want     []int // victims, in order
		n        int
	}{
		{"lru picks the idlest", connmgr.LeastRecentlyUsed, func(cs []connmgr.PruneCandidate) {
			cs[2].LastActive = now.Add(-time.Hour)
			cs[1].LastActive = now.Add(-10 * time.Minute)
		}, []int{2, 1}, 2},
		{"lru ignores reputation and latency", connmgr.LeastRecentlyUsed, func(cs []connmgr.PruneCandidate) {
			cs[0].Reputation, cs[1].SRTT = -1, time.Second
			cs[3].LastActive = now.Add(-2 * time.Minute)
		}, []int{3}, 1},
		{"reputation picks the lowest", connmgr.LowestReputation, func(cs []connmgr.PruneCandidate) {
			cs[3].Reputation, cs[1].Reputation, cs[0].Reputation = -0.5, -0.2, 0.9
		}, []int{3, 1, 2}, 3},
		{"latency picks the slowest", connmgr.HighestLatency, func(cs []connmgr.PruneCandidate) {
			cs[0].SRTT, cs[2].SRTT = 400*time.Millisecond, 300*time.Millisecond
		}, []int{0, 2}, 2},
		{"latency: unknown RTT counts as slowest", connmgr.HighestLatency, func(cs []connmgr.PruneCandidate) {
			cs[0].SRTT, cs[3].SRTT = 400*time.Millisecond, 0
		}, []int{3, 0}, 2},
		{"combined weighs reputation double", connmgr.Combined, func(cs []connmgr.PruneCandidate) {
			cs[0].SRTT = 900 * time.Millisecond // latency term +0.85
			cs[1].Reputation = -0.9             // reputation term +0.95 x 2
			cs[2].Loss = 0.5                    // loss term +0.5
		}, []int{1, 0, 2}, 3},
		{"combined counts idle time", connmgr.Combined, func(cs []connmgr.PruneCandidate) {
			cs[3].LastActive = now.Add(-5 * time.Minute) // idle term saturates: +0.8
			cs[2].Loss = 0.5
		}, []int{3, 2}, 2},
		{"protected and young are never picked", connmgr.LeastRecentlyUsed, func(cs []connmgr.PruneCandidate) {
			cs[0].LastActive, cs[0].Protected = old, true
			cs[1].LastActive, cs[1].Opened = old, now.Add(-10*time.Second)
			cs[2].LastActive = now.Add(-time.Hour)
		}, []int{2, 3}, 4},
		{"ties: inbound first, then peer ID", connmgr.LeastRecentlyUsed, func(cs []connmgr.PruneCandidate) {
			cs[3].Inbound, cs[2].Inbound = true, true
		}, []int{2, 3, 0, 1}, 4},
		{"ties in combined too", connmgr.Combined, func(cs []connmgr.PruneCandidate) {
			cs[1].Inbound = true
		}, []int{1, 0}, 2},
		{"n larger than eligible", connmgr.LowestReputation, func(cs []connmgr.PruneCandidate) {
			cs[0].Protected, cs[1].Protected = true, true
		}, []int{2, 3}, 10},
		{"n zero", connmgr.LowestReputation, func([]connmgr.PruneCandidate) {}, nil, 0},
	}
	cfg := connmgr.DefaultConfig()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := connmgr.Pruner{Strategy: tc.strategy, Weights: cfg.Weights, Grace: 30 * time.Second,
				IdleScale: cfg.IdleScale, LatencyScale: cfg.LatencyScale}
			cs := base()
			tc.edit(cs)
			got := p.Select(now, cs, tc.n, nil)
			if !slices.Equal(got, tc.want) {
				scores := make([]float64, len(cs))
				for i := range cs {
					scores[i] = p.Score(now, &cs[i])
				}
				t.Errorf("victims %v, want %v (scores %v)", got, tc.want, scores)
			}
		})
	}
}

func TestStrategyNames(t *testing.T) {
	for _, s := range []connmgr.Strategy{connmgr.LeastRecentlyUsed, connmgr.LowestReputation, connmgr.HighestLatency, connmgr.Combined} {
		var back connmgr.Strategy
		b, _ := s.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v: round trip %v %v", s, back, err)
		}
	}
	var s connmgr.Strategy
	if err := s.UnmarshalText([]byte("random")); err == nil {
		t.Error("unknown strategy accepted")
	}
}

// Each strategy through a live manager: the victim is the one the
// strategy ranks worst.
func TestManagerStrategies(t *testing.T) {
	for _, tc := range []struct {
		strategy connmgr.Strategy
		victim   int
	}{
		{connmgr.LeastRecentlyUsed, 2}, {connmgr.LowestReputation, 3}, {connmgr.HighestLatency, 4}, {connmgr.Combined, 3},
	} {
		t.Run(tc.strategy.String(), func(t *testing.T) {
			c := newCluster(t, 5, 10*time.Millisecond, func(int) connmgr.Config {
				cfg := connmgr.DefaultConfig()
				cfg.Strategy = tc.strategy
				return cfg
			})
			// Peer 4 is 100 ms away, the others 10 ms.
			c.net.DelayFn = func(from, to netip.AddrPort) time.Duration {
				if from == coretest.Addr(4) || to == coretest.Addr(4) {
					return 100 * time.Millisecond
				}
				return 10 * time.Millisecond
			}
			for i := 1; i <= 4; i++ {
				c.connect(0, i)
			}
			c.run(35 * time.Second) // one probe each, past the grace period
			m := c.ms[0]
			for i := 1; i <= 4; i++ {
				if i != 2 {
					m.Touch(c.net.Now(), coretest.Addr(i), 10)
				}
			}
			m.AdjustReputation(c.id(3), -0.9)
			if err := m.SetLimits(c.net.Now(), 3, 3); err != nil {
				t.Fatal(err)
			}
			pr := events[connmgr.Prune](c, 0)
			if len(pr) != 1 || pr[0].Addr != coretest.Addr(tc.victim) || pr[0].Strategy != tc.strategy {
				t.Fatalf("prunes %+v, want peer %d", pr, tc.victim)
			}
		})
	}
}

package connmgr_test

import (
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
)

// watchMax fails the test if node i ever holds more sessions than its cap
// in force (MaxConnections, which SetLimits may change), checked at every
// session opening: a session only opens below the cap.
func watchMax(t *testing.T, c *cluster, i int) {
	c.ms[i].OnConnected(func(now time.Time, x connmgr.Connection) {
		limit := c.ms[i].Config().MaxConnections
		if n := c.ms[i].Count() + c.ms[i].Dialing(); n > limit {
			t.Errorf("node %d holds %d sessions > max %d at %v", i, n, limit, now.Sub(coretest.Epoch))
		}
	})
}

func TestMaxNeverExceeded(t *testing.T) {
	const dialers = 80
	c := newCluster(t, dialers+1, 15*time.Millisecond, nil)
	watchMax(t, c, 0) // max 50
	for i := 1; i <= dialers; i++ {
		c.connect(i, 0)
	}
	c.run(time.Minute)
	if n := c.ms[0].Count(); n != 50 {
		t.Fatalf("count %d, want 50", n)
	}
	s := c.ms[0].Stats()
	if s.Rejects["full"] != dialers-50 || s.Accepted != 50 {
		t.Errorf("stats %+v", s)
	}
	rejected := 0
	for i := 1; i <= dialers; i++ {
		for _, cl := range events[connmgr.Close](c, i) {
			if cl.Reason == connmgr.ReasonRejected && cl.Detail == "full" {
				rejected++
			}
		}
	}
	if rejected != dialers-50 {
		t.Errorf("%d dialers saw a 'full' rejection, want %d", rejected, dialers-50)
	}
	c.checkSymmetric()

	// Past the grace period, newcomers make room: each trim goes from the
	// cap down to the target and the count never passes the cap.
	for round := range 3 {
		c.run(31 * time.Second)
		for i := 1; i <= dialers; i++ {
			if !c.ms[i].IsConnected(c.id(0)) {
				_ = c.ms[i].Connect(c.net.Now(), c.id(0), coretest.Addr(0))
			}
		}
		c.run(time.Second)
		if n := c.ms[0].Count(); n > 50 {
			t.Fatalf("round %d: count %d", round, n)
		}
		c.checkSymmetric()
	}
	if c.ms[0].Stats().Trims == 0 {
		t.Error("no trim happened")
	}
	for _, p := range events[connmgr.Prune](c, 0) {
		if p.Reason != connmgr.PruneMakeRoom || p.Count != 50 {
			t.Errorf("prune %+v", p)
		}
	}
}

func TestRejectWhenFull(t *testing.T) {
	c := newCluster(t, 6, 10*time.Millisecond, func(i int) connmgr.Config {
		cfg := connmgr.DefaultConfig()
		cfg.MaxConnections, cfg.Target, cfg.RejectWhenFull = 3, 2, true
		cfg.GracePeriod = 0
		return cfg
	})
	for i := 1; i <= 5; i++ {
		c.connect(i, 0)
		c.run(time.Minute)
	}
	if c.ms[0].Count() != 3 || c.ms[0].Stats().Rejects["full"] != 2 || c.ms[0].Stats().Trims != 0 {
		t.Fatalf("%s", c.dump())
	}
}

// trimCluster connects node 0 to n peers: peers 1..n/2 dial in (inbound at
// 0), the others are dialled by 0 (outbound), all at t=0.
func trimCluster(t *testing.T, n int, cfg func(i int) connmgr.Config) *cluster {
	c := newCluster(t, n+1, 10*time.Millisecond, cfg)
	for i := 1; i <= n; i++ {
		if i <= n/2 {
			c.connect(i, 0)
		} else {
			c.connect(0, i)
		}
	}
	c.run(time.Second)
	if c.ms[0].Count() != n {
		t.Fatalf("set-up: count %d, want %d", c.ms[0].Count(), n)
	}
	return c
}

func lruConfig(int) connmgr.Config {
	cfg := connmgr.DefaultConfig()
	cfg.Strategy = connmgr.LeastRecentlyUsed
	return cfg
}

func TestTrimHighWater(t *testing.T) {
	c := trimCluster(t, 20, lruConfig)
	m := c.ms[0]
	// Protected peers stay whatever their score.
	m.Protect(c.id(1), connmgr.TagBootstrap)
	m.Protect(c.id(20), connmgr.TagRelay)
	c.run(time.Minute)
	// Two young sessions (inside the grace period) stay too.
	m.Disconnect(c.net.Now(), c.id(2))
	m.Disconnect(c.net.Now(), c.id(19))
	c.run(time.Second)
	c.connect(2, 0)
	c.connect(0, 19)
	c.run(time.Second)
	// Traffic from peers 3..18, one a second in that order: LRU prunes
	// the lowest numbers first.
	for i := 3; i <= 18; i++ {
		m.Touch(c.net.Now(), coretest.Addr(i), 100)
		c.run(time.Second)
	}
	if err := m.SetLimits(c.net.Now(), 10, 6); err != nil {
		t.Fatal(err)
	}
	got := c.connectedTo(0)
	want := []int{1, 2, 17, 18, 19, 20}
	if !slices.Equal(got, want) {
		t.Fatalf("after trim: %v, want %v", got, want)
	}
	pr := events[connmgr.Prune](c, 0)
	if len(pr) != 14 || pr[0].Reason != connmgr.PruneHighWater || pr[0].Count != 20 || pr[0].Strategy != connmgr.LeastRecentlyUsed {
		t.Fatalf("prunes %+v", pr)
	}
	for k, p := range pr {
		if p.Addr != coretest.Addr(3+k) {
			t.Errorf("prune %d: %v, want peer %d (least recently used first)", k, p.Addr, 3+k)
		}
	}
	c.run(time.Second)
	c.checkSymmetric()
	for i := 3; i <= 16; i++ {
		cl := events[connmgr.Close](c, i)
		if len(cl) != 1 || cl[0].Reason != connmgr.ReasonClosedByPeer || cl[0].Detail != "pruned" {
			t.Errorf("peer %d closes: %+v", i, cl)
		}
	}
	if m.Stats().Prunes[connmgr.PruneHighWater] != 14 {
		t.Errorf("stats %+v", m.Stats())
	}
}

func TestTrimInboundBeforeOutbound(t *testing.T) {
	// Same activity for all (no Touch): LRU scores tie, so inbound
	// sessions (peers 1..10) go first, in peer ID order.
	c := trimCluster(t, 20, lruConfig)
	c.run(time.Minute)
	for i := 1; i <= 20; i++ {
		c.ms[0].Touch(c.net.Now(), coretest.Addr(i), 1)
	}
	if err := c.ms[0].SetLimits(c.net.Now(), 15, 12); err != nil {
		t.Fatal(err)
	}
	pr := events[connmgr.Prune](c, 0)
	if len(pr) != 8 {
		t.Fatalf("prunes %+v", pr)
	}
	var ids []identity.PeerID
	for _, p := range pr {
		if p.Direction != connmgr.Inbound {
			t.Errorf("outbound %v pruned before all inbound", p.Addr)
		}
		ids = append(ids, p.Peer)
	}
	if !slices.IsSortedFunc(ids, compareIDs) {
		t.Error("equal-score victims not in peer ID order")
	}
	// The next trim takes the last 2 inbound sessions, then outbound ones.
	c.run(time.Minute)
	for i := 1; i <= 20; i++ {
		c.ms[0].Touch(c.net.Now(), coretest.Addr(i), 1)
	}
	if err := c.ms[0].SetLimits(c.net.Now(), 9, 8); err != nil {
		t.Fatal(err)
	}
	for k, p := range events[connmgr.Prune](c, 0)[8:] {
		if (k < 2) != (p.Direction == connmgr.Inbound) {
			t.Errorf("prune %d: %v %v", k, p.Direction, p.Addr)
		}
	}
	if got := c.ms[0].Count(); got != 8 {
		t.Errorf("count %d", got)
	}
}

func TestTrimPauseAndGrace(t *testing.T) {
	c := trimCluster(t, 10, func(int) connmgr.Config {
		cfg := connmgr.DefaultConfig()
		cfg.MaxConnections, cfg.Target = 10, 5
		return cfg
	})
	// All sessions are young: the trim waits for the grace period.
	c2 := c.ms[0]
	c.run(5 * time.Second)
	if err := c2.SetLimits(c.net.Now(), 8, 5); err != nil {
		t.Fatal(err)
	}
	if c2.Count() != 10 || len(events[connmgr.Prune](c, 0)) != 0 {
		t.Fatalf("trimmed inside the grace period: %s", c.dump())
	}
	// The pending trim runs once the sessions are old enough.
	c.run(30 * time.Second)
	if c2.Count() != 5 {
		t.Fatalf("after grace: count %d", c2.Count())
	}
	at := eventTimes[connmgr.Prune](c, 0)
	if len(at) != 5 || at[0] < 31*time.Second {
		t.Errorf("prunes at %v", at)
	}
	// A second trim waits for the pause.
	c.ms[0].SetLimits(c.net.Now(), 3, 2)
	if c2.Count() != 5 {
		t.Fatalf("trimmed during the pause: %d", c2.Count())
	}
	c.run(15 * time.Second)
	if c2.Count() != 2 {
		t.Fatalf("after pause: count %d", c2.Count())
	}
	at = eventTimes[connmgr.Prune](c, 0)
	if at[5]-at[4] < 10*time.Second {
		t.Errorf("trims %v apart, pause 10s", at[5]-at[4])
	}
	c.checkSymmetric()
}

func TestCandidatesFillToTarget(t *testing.T) {
	const n = 45
	c := newCluster(t, n+1, 10*time.Millisecond, nil)
	var cands []connmgr.PeerAddr
	for i := 1; i <= n; i++ {
		cands = append(cands, connmgr.PeerAddr{ID: c.id(i), Addr: coretest.Addr(i)})
	}
	cands = append(cands, connmgr.PeerAddr{ID: c.id(0), Addr: coretest.Addr(0)}, cands[0])
	if got := c.ms[0].AddCandidates(c.net.Now(), cands); got != n {
		t.Fatalf("queued %d, want %d", got, n)
	}
	if c.ms[0].Dialing() != 16 {
		t.Fatalf("dialing %d, want MaxDialing", c.ms[0].Dialing())
	}
	c.run(time.Second)
	if c.ms[0].Count() != 30 || c.ms[0].Candidates() != n-30 {
		t.Fatalf("count %d, queued %d", c.ms[0].Count(), c.ms[0].Candidates())
	}
	// The DHT offers again: connected peers are skipped.
	if got := c.ms[0].AddCandidates(c.net.Now(), cands[:30]); got != 0 {
		t.Errorf("re-offered connected peers queued: %d", got)
	}
	// Losing sessions dials the queue again.
	for i := 1; i <= 5; i++ {
		c.ms[0].Disconnect(c.net.Now(), c.id(i))
	}
	c.run(time.Second)
	if c.ms[0].Count() != 30 {
		t.Errorf("after losses: count %d", c.ms[0].Count())
	}
	c.checkSymmetric()
}

func TestCandidateCooldown(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	c.nodes[1].Stop(c.net.Now())
	pa := []connmgr.PeerAddr{{ID: c.id(1), Addr: coretest.Addr(1)}}
	c.ms[0].AddCandidates(c.net.Now(), pa)
	c.run(11 * time.Second)
	if c.ms[0].Stats().Closes[connmgr.ReasonTimeout] != 1 {
		t.Fatalf("%s", c.dump())
	}
	if got := c.ms[0].AddCandidates(c.net.Now(), pa); got != 0 {
		t.Error("failed candidate re-queued during its cooldown")
	}
	c.run(time.Minute)
	if got := c.ms[0].AddCandidates(c.net.Now(), pa); got != 1 {
		t.Error("candidate not re-queued after its cooldown")
	}
}

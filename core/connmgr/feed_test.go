package connmgr_test

import (
	"testing"
	"time"

	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
)

// countingSource is a candidate list whose version the test bumps.
type countingSource struct {
	peers   []connmgr.PeerAddr
	version uint64
	calls   int
}

func (s *countingSource) CandidateVersion() uint64 { return s.version }

func (s *countingSource) Candidates(dst []connmgr.PeerAddr) []connmgr.PeerAddr {
	s.calls++
	return append(dst, s.peers...)
}

// A feed offers its source at start, dials up to the target, offers again
// only when the source changes or Refresh has passed, and not at all at
// the target.
func TestFeed(t *testing.T) {
	c := newCluster(t, 6, 10*time.Millisecond, func(i int) connmgr.Config {
		cfg := connmgr.DefaultConfig()
		cfg.Target = 3
		return cfg
	})
	src := &countingSource{}
	for j := 1; j < 6; j++ {
		src.peers = append(src.peers, connmgr.PeerAddr{ID: c.id(j), Addr: coretest.Addr(j)})
	}
	// Node 0 is already running: stop it, attach the feed, start it again
	// (components start in attachment order, the feed after the manager).
	c.nodes[0].Stop(c.net.Now())
	f, err := connmgr.NewFeed(c.ms[0], src, connmgr.FeedConfig{Interval: time.Second, Idle: 5 * time.Second, Refresh: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[0].Start(c.net.Now())
	c.run(500 * time.Millisecond)
	if got := c.connectedTo(0); len(got) != 3 || src.calls != 1 || f.Offers() != 1 {
		t.Fatalf("connected to %v after %d offers (%d source calls)", got, f.Offers(), src.calls)
	}
	// At the target: nothing more, whatever the source does.
	src.version++
	c.run(20 * time.Second)
	if src.calls != 1 {
		t.Errorf("source asked %d times at the target", src.calls)
	}
	// Losing peers: the queued candidates (4, 5) replace them first, then
	// the queue is empty and the feed offers again within Interval (the
	// version changed since the last offer).
	for j := 1; j <= 3; j++ {
		if err := c.ms[0].Disconnect(c.net.Now(), c.id(j)); err != nil {
			t.Fatal(err)
		}
		if j < 3 && src.calls != 1 {
			t.Errorf("offered with candidates queued (%d calls)", src.calls)
		}
	}
	c.run(2 * time.Second)
	if got := c.connectedTo(0); len(got) != 3 || src.calls != 2 {
		t.Errorf("after three disconnects: connected to %v, %d source calls", got, src.calls)
	}
	// Stopped, it asks nothing.
	c.nodes[0].Stop(c.net.Now())
	c.run(time.Minute)
	if src.calls != 2 {
		t.Errorf("stopped feed asked the source (%d calls)", src.calls)
	}
}

// An unchanged list is offered again after Refresh, so a candidate that
// was down when first dialled is dialled again once back (and out of its
// cooldown).
func TestFeedRefresh(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, func(int) connmgr.Config {
		cfg := connmgr.DefaultConfig()
		cfg.CandidateCooldown = 20 * time.Second
		cfg.DialTimeout = 2 * time.Second
		return cfg
	})
	c.nodes[1].Stop(c.net.Now())
	c.nodes[0].Stop(c.net.Now())
	src := connmgr.StaticCandidates{{ID: c.id(1), Addr: coretest.Addr(1)}}
	if _, err := connmgr.NewFeed(c.ms[0], src, connmgr.DefaultFeedConfig()); err != nil {
		t.Fatal(err)
	}
	c.nodes[0].Start(c.net.Now())
	c.run(10 * time.Second)
	if st := c.ms[0].Stats(); st.Dials != 1 || st.Closes["timeout"] != 1 {
		t.Fatalf("first dial: %+v", st)
	}
	c.nodes[1].Start(c.net.Now())
	c.run(40 * time.Second) // the refresh at 30 s finds the peer out of its cooldown
	if got := c.connectedTo(0); len(got) != 1 || c.ms[0].Stats().Dials != 2 {
		t.Errorf("connected to %v after %d dials", got, c.ms[0].Stats().Dials)
	}
}

func TestFeedConfig(t *testing.T) {
	if err := connmgr.DefaultFeedConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 1, time.Millisecond, nil)
	if _, err := connmgr.NewFeed(c.ms[0], connmgr.StaticCandidates{}, connmgr.FeedConfig{}); err == nil {
		t.Error("zero intervals accepted")
	}
	if _, err := connmgr.NewFeed(c.ms[0], nil, connmgr.DefaultFeedConfig()); err == nil {
		t.Error("nil source accepted")
	}
}

package connmgr_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
)

func TestBackoffDelay(t *testing.T) {
	b := connmgr.Backoff{Base: time.Second, Max: 5 * time.Minute, Jitter: 0.2}
	r := rand.New(rand.NewPCG(1, 2))
	for k := range 40 {
		nominal := min(time.Second<<min(k, 20), 5*time.Minute)
		d := b.Delay(k, r)
		if d < nominal*8/10 || d > nominal*12/10 {
			t.Errorf("attempt %d: %v outside %v +-20%%", k, d, nominal)
		}
	}
	// Deterministic for a seed, different across seeds.
	seq := func(seed uint64) []time.Duration {
		r := rand.New(rand.NewPCG(seed, 7))
		var out []time.Duration
		for k := range 8 {
			out = append(out, b.Delay(k, r))
		}
		return out
	}
	if !slices.Equal(seq(3), seq(3)) || slices.Equal(seq(3), seq(4)) {
		t.Error("jitter is not a function of the seed")
	}
	if d := (connmgr.Backoff{Base: time.Second, Max: time.Minute}).Delay(3, nil); d != 8*time.Second {
		t.Errorf("no jitter: %v", d)
	}
}

// reconnectRun: node 0 keeps node 1 alive; node 1 goes down at 1 s and
// comes back at upAt; the run ends at 4 min. It returns node 0's
// Reconnect events and their times.
func reconnectRun(t *testing.T, upAt time.Duration) (*cluster, []connmgr.Reconnect, []time.Duration) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	c.ms[0].KeepAlive(c.id(1))
	c.connect(0, 1)
	c.run(time.Second)
	c.nodes[1].Stop(c.net.Now())
	c.run(upAt - c.since())
	c.nodes[1].Start(c.net.Now())
	c.run(4*time.Minute - c.since())
	return c, events[connmgr.Reconnect](c, 0), eventTimes[connmgr.Reconnect](c, 0)
}

func TestReconnectBackoff(t *testing.T) {
	c, rc, at := reconnectRun(t, 150*time.Second)
	// Redials after 1, 2, 4, 8, 16, 32 s (+-20%), each failing after the
	// 10 s dial timeout (the 6th at about 2m9s); the 7th, 64 s later, finds
	// node 1 back.
	if len(rc) != 7 {
		t.Fatalf("%d redials: %+v\n%v", len(rc), rc, c.net)
	}
	down := time.Second + 10*time.Millisecond // node 0 learnt of the shutdown
	prev := down
	for k, r := range rc {
		nominal := time.Second << k
		if r.Attempt != k+1 || r.Backoff < nominal*8/10 || r.Backoff > nominal*12/10 || r.Peer != c.id(1) || r.Addr != coretest.Addr(1) {
			t.Errorf("redial %d: %+v", k, r)
		}
		// The wait runs from the previous failure (dial timeout) or the loss.
		if want := prev + r.Backoff; at[k] != want {
			t.Errorf("redial %d at %v, want %v", k, at[k], want)
		}
		prev = at[k] + 10*time.Second
	}
	if !c.ms[0].IsConnected(c.id(1)) || !c.ms[1].IsConnected(c.id(0)) {
		t.Fatalf("not reconnected: %s", c.dump())
	}
	s := c.ms[0].Stats()
	if s.Reconnects != 7 || s.Reconnected != 1 || s.Closes[connmgr.ReasonTimeout] != 6 {
		t.Errorf("stats %+v", s)
	}
	// Success resets the backoff: the next loss is redialled after ~1 s.
	c.ms[1].Disconnect(c.net.Now(), c.id(0))
	c.run(5 * time.Second)
	rc = events[connmgr.Reconnect](c, 0)
	if last := rc[len(rc)-1]; last.Attempt != 1 || last.Backoff > 1200*time.Millisecond || !c.ms[0].IsConnected(c.id(1)) {
		t.Errorf("after reset: %+v, connected %v", last, c.ms[0].IsConnected(c.id(1)))
	}
	// Unprotected, the peer is no longer redialled.
	if c.ms[0].Unprotect(c.id(1), connmgr.TagKeepAlive) {
		t.Error("still protected")
	}
	c.ms[1].Disconnect(c.net.Now(), c.id(0))
	c.run(time.Minute)
	if n := len(events[connmgr.Reconnect](c, 0)); n != len(rc) || c.ms[0].IsConnected(c.id(1)) {
		t.Errorf("redialled an unprotected peer (%d redials)", n)
	}
}

func TestReconnectDeterministic(t *testing.T) {
	_, a, at := reconnectRun(t, 100*time.Second)
	_, b, bt := reconnectRun(t, 100*time.Second)
	if !slices.Equal(a, b) || !slices.Equal(at, bt) {
		t.Fatalf("two runs differ:\n%+v\n%+v", a, b)
	}
	if a[0].Backoff == time.Second {
		t.Error("no jitter drawn")
	}
}

// A local Disconnect or a trim does not trigger redials; a failed first
// dial of an important peer does.
func TestRedialRules(t *testing.T) {
	c := newCluster(t, 3, 10*time.Millisecond, nil)
	c.ms[0].Protect(c.id(1), connmgr.TagBootstrap)
	c.connect(0, 1)
	c.run(time.Second)
	c.ms[0].Disconnect(c.net.Now(), c.id(1))
	c.run(time.Minute)
	if len(events[connmgr.Reconnect](c, 0)) != 0 {
		t.Error("redialled after a local disconnect")
	}
	c.nodes[2].Stop(c.net.Now())
	c.ms[0].Protect(c.id(2), connmgr.TagRelay)
	c.connect(0, 2)
	c.run(15 * time.Second)
	if rc := events[connmgr.Reconnect](c, 0); len(rc) != 1 || rc[0].Peer != c.id(2) {
		t.Errorf("failed first dial not redialled: %+v", rc)
	}
}

// A node restarted with its state redials its important peers at once.
func TestStartRedialsImportant(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	c.ms[0].KeepAlive(c.id(1))
	c.connect(0, 1)
	c.run(time.Second)
	c.nodes[0].Stop(c.net.Now())
	c.run(time.Second)
	c.nodes[0].Start(c.net.Now())
	c.run(time.Second)
	if !c.ms[0].IsConnected(c.id(1)) || !c.ms[1].IsConnected(c.id(0)) {
		t.Fatalf("not reconnected after restart: %s", c.dump())
	}
}

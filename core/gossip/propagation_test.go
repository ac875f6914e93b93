package gossip_test

import (
	"crypto/sha256"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/wire"
)

func sharedCache(t testing.TB) *gossip.VerifyCache {
	vc, err := gossip.NewVerifyCache(1<<16, nil)
	if err != nil {
		t.Fatal(err)
	}
	return vc
}

// TestPropagation100: 100 nodes, 8 peers each, 50 ms links, 20 messages
// from random nodes: every node gets every message exactly once.
func TestPropagation100(t *testing.T) {
	cfg := gossip.DefaultConfig()
	cfg.EagerHops = gossip.EagerHopsFor(100, cfg.Fanout)
	c := newCluster(t, 100, 8, 50*time.Millisecond, cfg, sharedCache(t))
	type push struct {
		from, to netip.AddrPort
		id       gossip.ID
	}
	pushed := map[push]int{}
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool {
		if env, err := wire.DecodeEnvelope(pkt); err == nil && env.Kind == wire.KindGossip {
			m, _ := wire.DecodeGossip(env.Body)
			pushed[push{from, to, gossip.ID(m.ID)}]++
		}
		return false
	}
	c.publishRandom(t, 20, 200*time.Millisecond, 7)
	c.net.Run(c.net.Now().Add(10 * time.Second))
	r := c.report()
	t.Logf("\n%v", r)
	for m, perNode := range r.dups {
		t.Logf("message %2d: duplicates per node %v", m, perNode)
	}
	// Selective forwarding: never back to the peer a message came from,
	// never to its publisher, never twice to the same peer.
	publisher := map[gossip.ID]netip.AddrPort{}
	for _, o := range c.net.Events {
		if p, ok := o.Ev.(gossip.Published); ok {
			publisher[p.ID] = o.Node
		}
	}
	for _, o := range c.net.Events {
		if d, ok := o.Ev.(gossip.Delivered); ok && pushed[push{o.Node, d.From, d.ID}] != 0 {
			t.Errorf("%v sent %v back to %v, which it came from", o.Node, d.ID, d.From)
		}
	}
	for p, n := range pushed {
		if p.to == publisher[p.id] {
			t.Errorf("%v sent %v to its publisher %v", p.from, p.id, p.to)
		}
		if n > 1 {
			t.Errorf("%v sent %v to %v %d times", p.from, p.id, p.to, n)
		}
	}
	for m := range r.received {
		for node, k := range r.received[m] {
			if k != 1 {
				t.Errorf("message %d at node %d: delivered %d times", m, node, k)
			}
		}
	}
	if got := r.delivered(); got != 100*20 {
		t.Errorf("deliveries (Published + Delivered) = %d, want %d", got, 100*20)
	}
	if d := r.meanDups(); d > 3 {
		t.Errorf("mean duplicates per node per message %.2f > 3", d)
	}
	if len(r.drops) != 0 {
		t.Errorf("drops in an honest network: %v", r.drops)
	}
}

// TestPullRepair: with fanout 2 and no announcements, push alone misses
// nodes; with pull repair on, every node gets every message.
func TestPullRepair(t *testing.T) {
	run := func(repair bool) *report {
		cfg := gossip.DefaultConfig()
		cfg.Fanout, cfg.LateFanout = 2, 2
		if !repair {
			cfg.LazyFanout, cfg.HeartbeatInterval = 0, 0
		}
		c := newCluster(t, 100, 8, 50*time.Millisecond, cfg, sharedCache(t))
		c.publishRandom(t, 20, 200*time.Millisecond, 7)
		c.net.Run(c.net.Now().Add(10 * time.Second))
		return c.report()
	}
	without := run(false)
	t.Logf("push only, fanout 2:\n%v", without)
	if without.missing() == 0 {
		t.Error("push alone with fanout 2 reached every node: the test shows nothing")
	}
	with := run(true)
	t.Logf("push and pull, fanout 2:\n%v", with)
	if with.missing() != 0 {
		t.Errorf("with pull repair %d (message, node) pairs still missing", with.missing())
	}
	if with.pulled == 0 {
		t.Error("no delivery came through pull")
	}
}

// TestDeterminism: the same run twice gives the same event log.
func TestDeterminism(t *testing.T) {
	run := func() [32]byte {
		c := newCluster(t, 100, 8, 50*time.Millisecond, gossip.DefaultConfig(), sharedCache(t))
		c.publishRandom(t, 20, 200*time.Millisecond, 7)
		c.net.Run(c.net.Now().Add(5 * time.Second))
		return sha256.Sum256([]byte(c.net.String()))
	}
	a, b := run(), run()
	if a != b {
		t.Fatalf("event logs differ: %x vs %x", a, b)
	}
}

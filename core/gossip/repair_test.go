package gossip_test

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/wire"
)

// splitPeers is a PeerSource that, while the network is split, lists only
// the peers on the node's own side: the sessions across died, as a
// connection manager's would, and come back at the heal.
type splitPeers struct {
	all, side gossip.StaticPeers
	split     *bool
}

func (s splitPeers) GossipPeers() []gossip.Peer {
	if *s.split {
		return s.side
	}
	return s.all
}

// splitCluster is n nodes on a random graph; nodes below n/2 are side A.
// While split, packets between the sides are lost and (if dynamic) the
// peer lists shrink to each side.
type splitCluster struct {
	*cluster
	split bool
}

func newSplitCluster(t testing.TB, n int, cfg gossip.Config, dynamic bool) *splitCluster {
	t.Helper()
	adj := randomGraph(n, 6, 1)
	if !connected(adj) {
		t.Fatal("random graph is not connected")
	}
	sc := &splitCluster{cluster: &cluster{net: coretest.New(20 * time.Millisecond), index: map[gossip.ID]int{}, addrs: map[netip.AddrPort]int{}}}
	c := sc.cluster
	side := func(a netip.AddrPort) bool { return c.addrs[a] < n/2 }
	c.net.Drop = func(from, to netip.AddrPort, _ []byte) bool { return sc.split && side(from) != side(to) }
	for i := range n {
		c.nodes = append(c.nodes, c.net.AddNode(i, core.DefaultConfig()))
		c.addrs[coretest.Addr(i)] = i
	}
	for i := range n {
		var ps splitPeers
		ps.split = &sc.split
		for _, j := range adj[i] {
			p := gossip.Peer{Addr: coretest.Addr(j), ID: c.nodes[j].ID(), RTT: 40 * time.Millisecond}
			ps.all = append(ps.all, p)
			if (i < n/2) == (j < n/2) || !dynamic {
				ps.side = append(ps.side, p)
			}
		}
		g, err := gossip.New(c.nodes[i], cfg, ps, sharedCache(t))
		if err != nil {
			t.Fatal(err)
		}
		c.gs = append(c.gs, g)
		c.nodes[i].Start(c.net.Now())
	}
	return sc
}

// runSplit settles the cluster, splits it for a minute while both sides
// publish one message a second, heals it and runs for after. It returns the
// heal time.
func (sc *splitCluster) runSplit(t testing.TB, after time.Duration) time.Time {
	t.Helper()
	c := sc.cluster
	c.net.Run(c.net.Now().Add(2 * time.Second))
	sc.split = true
	n := len(c.gs)
	for k := range 60 {
		i := (k * 7) % (n / 2) // side A
		if k%2 == 1 {
			i += n / 2 // side B
		}
		id, err := c.gs[i].Publish(c.net.Now(), fmt.Appendf(nil, "message %d from %d", k, i))
		if err != nil {
			t.Fatal(err)
		}
		c.index[id] = len(c.pub)
		c.pub = append(c.pub, id)
		c.net.Run(c.net.Now().Add(time.Second))
	}
	sc.split = false
	heal := c.net.Now()
	c.net.Run(heal.Add(after))
	return heal
}

// lastDelivery returns the time of the last first-delivery of any
// published message.
func lastDelivery(c *cluster) time.Time {
	var last time.Time
	for _, o := range c.net.Events {
		if d, ok := o.Ev.(gossip.Delivered); ok {
			if _, ours := c.index[d.ID]; ours && o.Time.After(last) {
				last = o.Time
			}
		}
	}
	return last
}

// TestRepairHealsPartition: two halves split for a minute while both
// publish; after the heal, anti-entropy repair carries every message
// across within 10 s, both when the sessions across come back (new peers
// get a digest at once) and when the peer lists never changed (periodic
// digests and late arrivals start the exchange). Without repair the
// messages stay on their side.
func TestRepairHealsPartition(t *testing.T) {
	for _, dynamic := range []bool{true, false} {
		t.Run(fmt.Sprintf("new-sessions=%v", dynamic), func(t *testing.T) {
			sc := newSplitCluster(t, 60, gossip.DefaultConfig(), dynamic)
			heal := sc.runSplit(t, 15*time.Second)
			r := sc.report()
			if m := r.missing(); m != 0 {
				t.Fatalf("%d (message, node) pairs missing 15 s after the heal\n%v", m, r)
			}
			took := lastDelivery(sc.cluster).Sub(heal)
			if took > 10*time.Second {
				t.Errorf("the last message crossed %v after the heal", took)
			}
			var st gossip.RepairStats
			for _, g := range sc.gs {
				s := g.Stats().Repair
				st.DigestsSent += s.DigestsSent
				st.RepliesSent += s.RepliesSent
				st.Repaired += s.Repaired
			}
			if st.Repaired == 0 || st.RepliesSent == 0 {
				t.Errorf("no repair happened: %+v", st)
			}
			t.Logf("all crossed %v after the heal; repair %+v; drops %v", took, st, r.drops)
		})
	}
	t.Run("repair-off", func(t *testing.T) {
		cfg := gossip.DefaultConfig()
		cfg.Repair.Check = 0
		sc := newSplitCluster(t, 60, cfg, true)
		sc.runSplit(t, 15*time.Second)
		if m := sc.report().missing(); m < 60*30/2 {
			t.Fatalf("without repair only %d pairs missing: the test does not need repair", m)
		}
	})
}

// The same split and heal gives the same event log twice.
func TestRepairDeterminism(t *testing.T) {
	run := func() [32]byte {
		sc := newSplitCluster(t, 30, gossip.DefaultConfig(), true)
		sc.runSplit(t, 5*time.Second)
		return sha256.Sum256([]byte(sc.net.String()))
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("event logs differ: %x vs %x", a, b)
	}
}

// phantoms are peer addresses where no node runs: what a lone node sends
// them can be captured, and nothing answers unless the test does.
var phantoms = gossip.StaticPeers{{Addr: coretest.Addr(400)}, {Addr: coretest.Addr(401)}}

// lone returns one started node whose gossip peers are the phantoms.
func lone(t *testing.T, cfg gossip.Config) (*coretest.Net, *core.Node, *gossip.Gossip) {
	t.Helper()
	net := coretest.New(10 * time.Millisecond)
	node := net.AddNode(0, core.DefaultConfig())
	g, err := gossip.New(node, cfg, phantoms, sharedCache(t))
	if err != nil {
		t.Fatal(err)
	}
	node.Start(net.Now())
	return net, node, g
}

// capture records the packets of kind k sent to addr.
func capture(net *coretest.Net, to netip.AddrPort, k wire.Kind) *[][]byte {
	var got [][]byte
	net.Drop = func(_, dst netip.AddrPort, p []byte) bool {
		if dst == to && len(p) >= wire.HeaderLen && wire.Kind(p[1]) == k {
			got = append(got, p)
		}
		return false
	}
	return &got
}

func repairDrops(net *coretest.Net) map[string]int {
	m := map[string]int{}
	for _, d := range coretest.Of[core.Drop](net) {
		m[d.Reason]++
	}
	return m
}

// A node holding thousands of messages sends digests bounded by
// MaxBuckets, and answers a digest with a reply no larger than the digest:
// a small digest gets a reply with no IDs and a count of more, a padded
// one a reply of at most MaxReplyIDs IDs.
func TestRepairBounded(t *testing.T) {
	cfg := gossip.DefaultConfig()
	cfg.HeartbeatInterval = 0
	cfg.Repair.MaxBuckets = 64
	net, _, g := lone(t, cfg)
	peer := phantoms[0].Addr
	digests := capture(net, peer, wire.KindDigest)
	// 3,000 messages over 100 s (its own: no rate limit).
	for k := range 3000 {
		if _, err := g.Publish(net.Now(), fmt.Appendf(nil, "m%d", k)); err != nil {
			t.Fatal(err)
		}
		net.Run(net.Now().Add(33 * time.Millisecond))
	}
	if len(*digests) < 5 {
		t.Fatalf("%d digests to a peer in 100 s", len(*digests))
	}
	for _, p := range *digests {
		d, err := wire.DecodeDigest(p[wire.HeaderLen:])
		if err != nil {
			t.Fatal(err)
		}
		if int(d.Span) > cfg.Repair.MaxBuckets || len(d.Buckets) > cfg.Repair.MaxBuckets || len(p) > 2+20+cfg.Repair.MaxBuckets*(1+2+8) {
			t.Fatalf("digest of %d bytes, span %d, %d buckets: over the bound", len(p), d.Span, len(d.Buckets))
		}
	}

	// An empty digest over the last minute, where the node holds about
	// 1,800 messages.
	replies := capture(net, peer, wire.KindDigestReply)
	start := net.Now().Add(-time.Minute).Truncate(time.Second).UnixNano()
	req := (&wire.Digest{Start: start, Width: uint64(time.Second), Span: 55}).AppendPacket(nil)
	net.Inject(peer, coretest.Addr(0), req)
	net.Run(net.Now().Add(100 * time.Millisecond))
	if len(*replies) != 1 {
		t.Fatalf("%d replies to an empty digest", len(*replies))
	}
	rep, err := wire.DecodeDigestReply((*replies)[0][wire.HeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	if len((*replies)[0]) > len(req) || len(rep.IDs) != 0 || rep.More < 1500 {
		t.Fatalf("reply of %d bytes to a %d-byte digest: %d IDs, %d more", len((*replies)[0]), len(req), len(rep.IDs), rep.More)
	}
	// Padded for 1,000 IDs: the reply still stops at MaxReplyIDs.
	*replies = nil
	req = (&wire.Digest{Start: start, Width: uint64(time.Second), Span: 55, Pad: 1000 * 32}).AppendPacket(nil)
	net.Inject(peer, coretest.Addr(0), req)
	net.Run(net.Now().Add(100 * time.Millisecond))
	if len(*replies) != 1 {
		t.Fatalf("%d replies to a padded digest", len(*replies))
	}
	rep, _ = wire.DecodeDigestReply((*replies)[0][wire.HeaderLen:])
	if len(rep.IDs) != cfg.Repair.MaxReplyIDs || len((*replies)[0]) > len(req) {
		t.Fatalf("padded digest answered with %d IDs in %d bytes", len(rep.IDs), len((*replies)[0]))
	}
	if d := repairDrops(net); len(d) != 0 {
		t.Errorf("drops %v", d)
	}
}

// Hostile digests and replies are dropped and counted, never a panic:
// from a stranger, over the rate, over the span bound, with a tiny bucket
// width, at the end of time, malformed, and replies nobody asked for or
// longer than allowed.
func TestRepairHostile(t *testing.T) {
	cfg := gossip.DefaultConfig()
	cfg.HeartbeatInterval = 0
	net, _, g := lone(t, cfg)
	if _, err := g.Publish(net.Now(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	net.Run(net.Now().Add(5 * time.Second))
	peer, to := phantoms[0].Addr, coretest.Addr(0)
	start := net.Now().Add(-time.Minute).UnixNano()
	ok := (&wire.Digest{Start: start, Width: uint64(time.Second), Span: 60}).AppendPacket(nil)
	inject := func(from netip.AddrPort, p []byte) {
		net.Inject(from, to, p)
		net.Run(net.Now().Add(10 * time.Millisecond))
	}
	inject(attacker, ok) // not a gossip peer
	for range cfg.Repair.PeerBurst + 3 {
		inject(peer, ok) // the burst passes, the rest is rate-limited
	}
	net.Run(net.Now().Add(5 * time.Second))
	inject(peer, (&wire.Digest{Start: start, Width: uint64(time.Second), Span: uint32(cfg.Repair.MaxBuckets + 1)}).AppendPacket(nil))
	inject(peer, (&wire.Digest{Start: start, Width: 1, Span: 60}).AppendPacket(nil))
	inject(peer, (&wire.Digest{Start: math.MaxInt64 - 10, Width: wire.MaxDigestWidth, Span: 100}).AppendPacket(nil))
	inject(peer, (&wire.Digest{Start: math.MinInt64, Width: wire.MaxDigestWidth, Span: 100}).AppendPacket(nil))
	inject(peer, append(wire.AppendEnvelope(nil, wire.KindDigest), 0xff, 1, 2))
	inject(attacker, wire.DigestReply{IDs: [][32]byte{{1}}}.AppendPacket(nil))
	// A reply longer than MaxReplyIDs, right after the node sent a digest.
	digests := capture(net, peer, wire.KindDigest)
	for len(*digests) == 0 {
		net.Run(net.Now().Add(100 * time.Millisecond))
	}
	inject(peer, wire.DigestReply{IDs: make([][32]byte, cfg.Repair.MaxReplyIDs+1)}.AppendPacket(nil))
	want := map[string]int{
		gossip.ReasonUnsolicited: 2, // the stranger's digest and reply
		gossip.ReasonRateLimited: 3, // over the peer's burst
		gossip.ReasonOversized:   2, // the span; the long reply
		gossip.ReasonMalformed:   3, // the width, the end of time, the bytes
	}
	if got := repairDrops(net); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("drops %v, want %v", got, want)
	}
}

func TestRepairConfig(t *testing.T) {
	for name, f := range map[string]func(*gossip.Config){
		"window over cache TTL": func(c *gossip.Config) { c.Repair.Window = c.CacheTTL + time.Second },
		"bucket too small":      func(c *gossip.Config) { c.Repair.Bucket = time.Microsecond },
		"too many buckets":      func(c *gossip.Config) { c.Repair.MaxBuckets = wire.MaxDigestBuckets + 1 },
		"reply too long":        func(c *gossip.Config) { c.Repair.MaxReplyIDs = wire.MaxGossipIDs + 1 },
		"no rate":               func(c *gossip.Config) { c.Repair.PeerRate = 0 },
		"no follow-up delay":    func(c *gossip.Config) { c.Repair.FollowUp = 0 },
	} {
		cfg := gossip.DefaultConfig()
		f(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := gossip.DefaultConfig()
	cfg.Repair = gossip.RepairConfig{} // off: nothing else is checked
	if err := cfg.Validate(); err != nil {
		t.Errorf("repair off: %v", err)
	}
	if err := gossip.DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
	if got := gossip.FromCore(core.DefaultConfig()).Repair.Window; got != core.DefaultConfig().GossipMessageCacheTTL {
		t.Errorf("FromCore repair window %v", got)
	}
}

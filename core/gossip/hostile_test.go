package gossip_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// attacker is an address that is no node: packets to it vanish.
var attacker = coretest.Addr(500)

func ident(t testing.TB, b byte) *identity.Identity {
	t.Helper()
	id, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func pkt(m wire.Gossip) []byte { return m.AppendPacket(nil) }

// small returns 4 fully connected nodes.
func small(t *testing.T, cfg gossip.Config) *cluster {
	t.Helper()
	return newCluster(t, 4, 3, 10*time.Millisecond, cfg, sharedCache(t))
}

func drops(c *cluster) map[string]int {
	return c.report().drops
}

func TestForgeryDropped(t *testing.T) {
	c := small(t, gossip.DefaultConfig())
	alice := ident(t, 0xa1)
	good := gossip.Seal(alice, 1, c.net.Now(), 32, []byte("hello"))

	flipPayload := good
	flipPayload.Payload = []byte("hellp")
	flipSig := good
	flipSig.Sig[10] ^= 1
	otherSender := good
	otherSender.Sender[0] ^= 1
	// ID recomputed for the altered payload, but the signature is over the
	// original ID.
	reID := flipPayload
	reID.ID = gossip.ComputeID(alice.ID(), 1, good.Time, reID.Payload)
	// Signed by someone else.
	mallory := gossip.Seal(ident(t, 0x66), 1, c.net.Now(), 32, []byte("hello"))
	wrongKey := good
	wrongKey.Sig = mallory.Sig

	for _, m := range []wire.Gossip{flipPayload, flipSig, otherSender, reID, wrongKey} {
		c.net.Inject(attacker, coretest.Addr(0), pkt(m))
	}
	c.net.Run(c.net.Now().Add(time.Second))
	if got := drops(c); got[gossip.ReasonForged] != 5 || len(got) != 1 {
		t.Fatalf("drops %v, want 5 forged", got)
	}
	if n := len(coretest.Of[gossip.Delivered](c.net)); n != 0 {
		t.Fatalf("%d forged messages delivered", n)
	}
	// The forgeries carried the genuine ID; they must not have poisoned
	// the dedup cache.
	c.net.Inject(attacker, coretest.Addr(0), pkt(good))
	c.net.Run(c.net.Now().Add(time.Second))
	if n := len(coretest.Of[gossip.Delivered](c.net)); n != 4 {
		t.Fatalf("genuine message delivered at %d nodes, want 4\n%v", n, c.net)
	}
}

func TestReplayDropped(t *testing.T) {
	alice := ident(t, 0xa1)
	t.Run("expired after the cache forgot it", func(t *testing.T) {
		c := small(t, gossip.DefaultConfig())
		m := gossip.Seal(alice, 1, c.net.Now(), 32, []byte("old news"))
		c.net.Inject(attacker, coretest.Addr(0), pkt(m))
		c.net.Run(c.net.Now().Add(6 * time.Minute)) // past CacheTTL (5 min)
		c.net.Inject(attacker, coretest.Addr(0), pkt(m))
		c.net.Run(c.net.Now().Add(time.Second))
		if got := drops(c); got[gossip.ReasonExpired] != 1 {
			t.Fatalf("drops %v, want 1 expired", got)
		}
	})
	t.Run("replayed after eviction from a small cache", func(t *testing.T) {
		cfg := gossip.DefaultConfig()
		cfg.CacheSize = 1
		c := small(t, cfg)
		m1 := gossip.Seal(alice, 1, c.net.Now(), 32, []byte("one"))
		m2 := gossip.Seal(alice, 2, c.net.Now(), 32, []byte("two"))
		c.net.Inject(attacker, coretest.Addr(0), pkt(m1))
		c.net.Run(c.net.Now().Add(time.Second))
		c.net.Inject(attacker, coretest.Addr(0), pkt(m2)) // evicts m1's ID
		c.net.Run(c.net.Now().Add(time.Second))
		before := drops(c)[gossip.ReasonReplayed]
		c.net.Inject(attacker, coretest.Addr(0), pkt(m1))
		c.net.Run(c.net.Now().Add(time.Second))
		if got := drops(c)[gossip.ReasonReplayed] - before; got != 1 {
			t.Fatalf("replay of an evicted ID: %d replayed drops, want 1 (%v)", got, drops(c))
		}
	})
	t.Run("same sequence number, other content", func(t *testing.T) {
		c := small(t, gossip.DefaultConfig())
		c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(alice, 7, c.net.Now(), 32, []byte("a"))))
		c.net.Run(c.net.Now().Add(time.Second))
		c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(alice, 7, c.net.Now(), 32, []byte("b"))))
		// Below the 64-message window.
		c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(alice, 1000, c.net.Now(), 32, []byte("c"))))
		c.net.Run(c.net.Now().Add(time.Second))
		c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(alice, 900, c.net.Now(), 32, []byte("d"))))
		c.net.Run(c.net.Now().Add(time.Second))
		if got := drops(c); got[gossip.ReasonReplayed] != 2 {
			t.Fatalf("drops %v, want 2 replayed", got)
		}
	})
	t.Run("future", func(t *testing.T) {
		c := small(t, gossip.DefaultConfig())
		c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(alice, 1, c.net.Now().Add(time.Minute), 32, []byte("later"))))
		c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(alice, 2, c.net.Now().Add(10*time.Second), 32, []byte("skewed"))))
		c.net.Run(c.net.Now().Add(time.Second))
		if got := drops(c); got[gossip.ReasonFuture] != 1 || len(coretest.Of[gossip.Delivered](c.net)) != 4 {
			t.Fatalf("drops %v; want 1 future and the message within the skew delivered", got)
		}
	})
}

func TestTTLAndSize(t *testing.T) {
	c := small(t, gossip.DefaultConfig())
	alice := ident(t, 0xa1)
	for i, ttl := range []uint8{0, 33, 255} {
		c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(alice, uint64(i+1), c.net.Now(), ttl, nil)))
	}
	zeroHops := gossip.Seal(alice, 10, c.net.Now(), 5, nil)
	zeroHops.Hops = 0
	c.net.Inject(attacker, coretest.Addr(0), pkt(zeroHops))
	big := gossip.Seal(alice, 11, c.net.Now(), 32, make([]byte, 61<<10))
	c.net.Inject(attacker, coretest.Addr(0), pkt(big))
	c.net.Run(c.net.Now().Add(time.Second))
	if got := drops(c); got[gossip.ReasonTTL] != 4 || got[gossip.ReasonOversized] != 1 || len(got) != 2 {
		t.Fatalf("drops %v, want 4 ttl and 1 oversized", got)
	}
	// TTL 1 is delivered but goes no further.
	c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(alice, 12, c.net.Now(), 1, []byte("last hop"))))
	c.net.Run(c.net.Now().Add(time.Second))
	if n := len(coretest.Of[gossip.Delivered](c.net)); n != 1 {
		t.Fatalf("TTL 1 message delivered %d times, want once", n)
	}
	// Publishing over the limit fails.
	if _, err := c.gs[0].Publish(c.net.Now(), make([]byte, 61<<10)); !errors.Is(err, gossip.ErrPayloadTooLarge) {
		t.Fatalf("oversized publish: %v", err)
	}
}

func TestMalformedDropped(t *testing.T) {
	c := small(t, gossip.DefaultConfig())
	good := pkt(gossip.Seal(ident(t, 0xa1), 1, c.net.Now(), 32, []byte("x")))
	for _, p := range [][]byte{
		{1, byte(wire.KindGossip)},
		{1, byte(wire.KindGossip), 1, 2, 3},
		good[:len(good)-1],
		append(bytes.Clone(good), 0),
		{1, byte(wire.KindIHave), 0xff},
		{1, byte(wire.KindIHave), 2, 1, 2, 3},
		{1, byte(wire.KindIWant), 1},
		{1, byte(wire.KindIWant), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
	} {
		c.net.Inject(attacker, coretest.Addr(0), p)
	}
	c.net.Run(c.net.Now().Add(time.Second))
	if got := drops(c); got[gossip.ReasonMalformed] != 8 || len(got) != 1 {
		t.Fatalf("drops %v, want 8 malformed", got)
	}
}

func TestFloodRateLimited(t *testing.T) {
	c := newCluster(t, 20, 4, 10*time.Millisecond, gossip.DefaultConfig(), sharedCache(t))
	mallory := ident(t, 0x66)
	start := c.net.Now()
	// 1,000 distinct valid messages to node 0 in one second: 100 times the
	// per-peer rate. Meanwhile honest nodes publish.
	for k := range 1000 {
		at := start.Add(time.Duration(k) * time.Millisecond)
		c.net.Run(at)
		c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(mallory, uint64(k+1), at, 32, []byte{byte(k), byte(k >> 8)})))
		if k%100 == 50 {
			id, err := c.gs[k/100+1].Publish(c.net.Now(), []byte("honest"))
			if err != nil {
				t.Fatal(err)
			}
			c.index[id] = len(c.pub)
			c.pub = append(c.pub, id)
		}
	}
	c.net.Run(c.net.Now().Add(5 * time.Second))
	r := c.report()
	limited := 0
	for _, o := range c.net.Events {
		if d, ok := o.Ev.(core.Drop); ok && d.From == attacker &&
			(d.Reason == gossip.ReasonRateLimited || d.Reason == gossip.ReasonPublisherRate) {
			limited++
		}
	}
	// One publisher: its burst of 10 plus 1/s for one second pass (the
	// peer's limit, burst 20 and 10/s, is looser); the rest is dropped.
	if limited < 985 || limited > 990 {
		t.Fatalf("rate-limited drops from the flooder %d, want 1000-10-1", limited)
	}
	t.Logf("flooder: %d of 1000 rate-limited; all drops %v", limited, r.drops)
	if r.missing() != 0 {
		t.Fatalf("honest messages lost under flood: %d missing\n%v", r.missing(), r)
	}
	if got := c.gs[0].Stats(); got.Delivered > 40+10 {
		t.Fatalf("node 0 accepted %d messages", got.Delivered)
	}
}

func TestGlobalRate(t *testing.T) {
	cfg := gossip.DefaultConfig()
	cfg.GlobalRate, cfg.GlobalBurst = 5, 5
	c := small(t, cfg)
	mallory := ident(t, 0x66)
	for k := range 30 { // 30 peers, one message each, all at once
		from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(k)}), 1)
		c.net.Inject(from, coretest.Addr(0), pkt(gossip.Seal(mallory, uint64(k+1), c.net.Now(), 32, []byte{byte(k)})))
	}
	c.net.Run(c.net.Now().Add(time.Millisecond * 50))
	if got := c.gs[0].Stats().Delivered; got != 5 {
		t.Fatalf("accepted %d, want the global burst of 5", got)
	}
	if got := drops(c)[gossip.ReasonRateLimited]; got != 25 {
		t.Fatalf("rate-limited %d, want 25", got)
	}
}

func TestIWantIHaveBounds(t *testing.T) {
	cfg := gossip.DefaultConfig()
	cfg.HeartbeatInterval = 0
	cfg.Repair.Check = 0 // nothing but answers leaves the node
	c := small(t, cfg)
	node := c.nodes[0]
	// IWANT for IDs nobody published: nothing is sent, the IWANT is
	// dropped as unsolicited.
	out := node.Stats().PacketsOut
	c.net.Inject(attacker, coretest.Addr(0), wire.IWant{IDs: [][32]byte{{1}, {2}}}.AppendPacket(nil))
	c.net.Run(c.net.Now().Add(time.Second))
	if node.Stats().PacketsOut != out {
		t.Fatal("IWANT for unknown IDs was answered")
	}
	if got := drops(c); got[gossip.ReasonUnsolicited] != 1 {
		t.Fatalf("drops %v", got)
	}
	// IWANT for a held ID is answered with the message.
	id, _ := c.gs[0].Publish(c.net.Now(), []byte("hello"))
	c.net.Run(c.net.Now().Add(time.Second))
	var sent [][]byte
	c.net.Drop = func(from, to netip.AddrPort, p []byte) bool {
		if to == attacker {
			sent = append(sent, p)
		}
		return false
	}
	c.net.Inject(attacker, coretest.Addr(0), wire.IWant{IDs: [][32]byte{id}}.AppendPacket(nil))
	c.net.Run(c.net.Now().Add(time.Second))
	if len(sent) != 1 {
		t.Fatalf("IWANT for a held ID: %d answers", len(sent))
	}
	env, _ := wire.DecodeEnvelope(sent[0])
	if m, err := wire.DecodeGossip(env.Body); err != nil || gossip.ID(m.ID) != id || !bytes.Equal(m.Payload, []byte("hello")) {
		t.Fatalf("answer %+v %v", m, err)
	}
	// Lists over the bound are refused before any work.
	long := make([][32]byte, cfg.MaxIHaveLength+1)
	c.net.Inject(attacker, coretest.Addr(0), wire.IHave{IDs: long}.AppendPacket(nil))
	c.net.Inject(attacker, coretest.Addr(0), wire.IWant{IDs: long}.AppendPacket(nil))
	c.net.Run(c.net.Now().Add(time.Second))
	if got := drops(c); got[gossip.ReasonOversized] != 2 {
		t.Fatalf("drops %v, want 2 oversized", got)
	}
	// Serving is rate-limited per requester: 25 IWANTs, burst 20.
	before := len(sent)
	for range 25 {
		c.net.Inject(attacker, coretest.Addr(0), wire.IWant{IDs: [][32]byte{id}}.AppendPacket(nil))
	}
	c.net.Run(c.net.Now().Add(100 * time.Millisecond))
	if n := len(sent) - before; n < 20 || n > 21 {
		t.Fatalf("served %d of 25 repeated IWANTs, want the burst", n)
	}
}

// An IHAVE from a peer the node does not push with makes it ask with an
// IWANT after IWantDelay, and the answer is delivered "via pull".
func TestIHaveThenIWant(t *testing.T) {
	cfg := gossip.DefaultConfig()
	cfg.HeartbeatInterval = 0
	net := coretest.New(10 * time.Millisecond)
	var gs []*gossip.Gossip
	for i := range 2 {
		node := net.AddNode(i, core.DefaultConfig())
		g, err := gossip.New(node, cfg, gossip.StaticPeers{}, nil) // no peers: nothing pushed
		if err != nil {
			t.Fatal(err)
		}
		node.Start(net.Now())
		gs = append(gs, g)
	}
	id, _ := gs[1].Publish(net.Now(), []byte("pull me"))
	var kinds []wire.Kind
	var times []time.Duration
	net.Drop = func(from, to netip.AddrPort, p []byte) bool {
		kinds = append(kinds, wire.Kind(p[1]))
		times = append(times, net.Now().Sub(coretest.Epoch))
		return false
	}
	net.Inject(coretest.Addr(1), coretest.Addr(0), wire.IHave{IDs: [][32]byte{id}}.AppendPacket(nil))
	net.Run(net.Now().Add(time.Second))
	if len(kinds) != 2 || kinds[0] != wire.KindIWant || kinds[1] != wire.KindGossip {
		t.Fatalf("packets %v", kinds)
	}
	if times[0] != 10*time.Millisecond+cfg.IWantDelay {
		t.Errorf("IWANT sent at %v, want IHAVE arrival + IWantDelay", times[0])
	}
	d := coretest.Of[gossip.Delivered](net)
	if len(d) != 1 || d[0].Via != gossip.ViaPull || d[0].ID != id || d[0].Sender != coretest.Nodes(net)[coretest.Addr(1)].ID() {
		t.Fatalf("delivered %+v", d)
	}
	if gs[0].Stats().Pulled != 1 || gs[0].Stats().IWantSent != 1 || gs[1].Stats().Served != 1 {
		t.Fatalf("stats %+v %+v", gs[0].Stats(), gs[1].Stats())
	}
	// A second IHAVE for a delivered ID asks nothing.
	net.Inject(coretest.Addr(1), coretest.Addr(0), wire.IHave{IDs: [][32]byte{id}}.AppendPacket(nil))
	net.Run(net.Now().Add(time.Second))
	if len(kinds) != 2 {
		t.Fatalf("asked again for a held ID: %v", kinds)
	}
}

func TestStopStart(t *testing.T) {
	c := small(t, gossip.DefaultConfig())
	node := c.nodes[0]
	node.Stop(c.net.Now())
	if _, err := c.gs[0].Publish(c.net.Now(), []byte("x")); !errors.Is(err, gossip.ErrNotRunning) {
		t.Fatalf("publish while stopped: %v", err)
	}
	node.Start(c.net.Now())
	id, err := c.gs[0].Publish(c.net.Now(), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	c.net.Run(c.net.Now().Add(time.Second))
	if n := len(coretest.Of[gossip.Delivered](c.net)); n != 3 {
		t.Fatalf("after restart message %v delivered at %d nodes", id, n)
	}
}

func TestConfig(t *testing.T) {
	if err := gossip.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cc := core.DefaultConfig()
	cc.GossipFanout, cc.GossipMaxTTL, cc.GossipPeerRate, cc.GossipGlobalRate = 8, 16, 20, 2500.5
	g := gossip.FromCore(cc)
	if g.Fanout != 8 || g.MaxTTL != 16 || g.PeerRate != 20 || g.GlobalRate != 2500.5 || g.GlobalBurst != 2501 ||
		g.CacheSize != cc.GossipMessageCacheSize || g.CacheTTL != cc.GossipMessageCacheTTL || g.PeerBurst != cc.GossipPeerBurst {
		t.Fatalf("FromCore: %+v", g)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*gossip.Config){
		"fanout":     func(c *gossip.Config) { c.Fanout = 0 },
		"ttl":        func(c *gossip.Config) { c.MaxTTL = 33 },
		"payload":    func(c *gossip.Config) { c.MaxPayload = wire.MaxGossipPayload + 1 },
		"ihave":      func(c *gossip.Config) { c.MaxIHaveLength = wire.MaxGossipIDs + 1 },
		"prefer":     func(c *gossip.Config) { c.PreferShare = 1.5 },
		"rate":       func(c *gossip.Config) { c.PeerRate = 0 },
		"cache ttl":  func(c *gossip.Config) { c.CacheTTL = 0 },
		"delay":      func(c *gossip.Config) { c.IWantDelay = -1 },
		"heartbeat":  func(c *gossip.Config) { c.HeartbeatPeers = 0 },
		"eagerhops":  func(c *gossip.Config) { c.EagerHops = 0 },
		"maxpending": func(c *gossip.Config) { c.MaxPending = 0 },
	} {
		c := gossip.DefaultConfig()
		mod(&c)
		if err := c.Validate(); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	net := coretest.New(time.Millisecond)
	node := net.AddNode(0, core.DefaultConfig())
	if _, err := gossip.New(node, gossip.Config{}, gossip.StaticPeers{}, nil); err == nil {
		t.Error("zero config accepted")
	}
	if _, err := gossip.New(node, gossip.DefaultConfig(), gossip.StaticPeers{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := gossip.New(node, gossip.DefaultConfig(), gossip.StaticPeers{}, nil); err == nil {
		t.Error("two gossip components on one node")
	}
	for _, c := range []struct{ n, f, want int }{{1000, 6, 4}, {100, 6, 3}, {10000, 6, 5}, {1, 6, 1}, {100, 1, 1}} {
		if got := gossip.EagerHopsFor(c.n, c.f); got != c.want {
			t.Errorf("EagerHopsFor(%d, %d) = %d, want %d", c.n, c.f, got, c.want)
		}
	}
}

func TestVerifyCache(t *testing.T) {
	if _, err := gossip.NewVerifyCache(0, nil); err == nil {
		t.Fatal("size 0 accepted")
	}
	vc, _ := gossip.NewVerifyCache(2, nil)
	alice := ident(t, 0xa1)
	msg := []byte("m")
	sig := alice.Sign(msg)
	bad := bytes.Clone(sig)
	bad[0] ^= 1
	for range 3 {
		if !vc.Verify(alice.ID(), msg, sig) || vc.Verify(alice.ID(), msg, bad) {
			t.Fatal("cached result differs from verification")
		}
	}
	if hits, misses := vc.Stats(); hits != 4 || misses != 2 {
		t.Fatalf("hits %d misses %d", hits, misses)
	}
	if vc.Verify(ident(t, 0xb2).ID(), msg, sig) {
		t.Fatal("signature accepted for another key")
	}
}

func TestIDText(t *testing.T) {
	id := gossip.ComputeID(ident(t, 1).ID(), 1, 2, []byte("p"))
	b, _ := id.MarshalText()
	if len(b) != 64 {
		t.Fatalf("MarshalText %q", b)
	}
	var back gossip.ID
	if err := back.UnmarshalText(b); err != nil || back != id {
		t.Fatalf("round trip: %v", err)
	}
	if back.UnmarshalText(b[:10]) == nil || len(id.String()) != 16 {
		t.Fatal("ID text forms")
	}
}

// One publisher's valid messages arriving through many peers are accepted
// up to its burst and rate, whichever peers carry them; forged messages
// claiming an honest publisher cost that publisher nothing.
func TestPublisherRate(t *testing.T) {
	cfg := gossip.DefaultConfig()
	cfg.PublisherRate, cfg.PublisherBurst = 2, 5
	c := small(t, cfg)
	mallory, alice := ident(t, 0x66), ident(t, 0x67)
	peer := func(k int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(k)}), 1)
	}
	// 40 of mallory's messages through 40 peers within 100 ms: one each,
	// so no peer's limit is hit; the publisher's burst of 5 passes.
	for k := range 40 {
		c.net.Run(c.net.Now().Add(2 * time.Millisecond))
		c.net.Inject(peer(k), coretest.Addr(0), pkt(gossip.Seal(mallory, uint64(k+1), c.net.Now(), 32, []byte{byte(k)})))
	}
	// 40 forgeries claiming alice (a broken signature each).
	for k := range 40 {
		m := gossip.Seal(alice, uint64(k+1), c.net.Now(), 32, []byte{byte(k)})
		m.Sig[0] ^= 1
		c.net.Inject(peer(100+k), coretest.Addr(0), pkt(m))
	}
	c.net.Run(c.net.Now().Add(20 * time.Millisecond))
	d := drops(c)
	if got := c.gs[0].Stats(); got.Delivered != 5 || got.PublisherLimited != 35 {
		t.Fatalf("delivered %d, publisher-limited %d; want the burst of 5 and 35 (drops %v)", got.Delivered, got.PublisherLimited, d)
	}
	if d[gossip.ReasonPublisherRate] != 35 || d[gossip.ReasonForged] != 40 {
		t.Fatalf("drops %v", d)
	}
	// alice's budget is untouched by the forgeries: her next 5 pass.
	for k := range 5 {
		c.net.Inject(peer(200+k), coretest.Addr(0), pkt(gossip.Seal(alice, uint64(100+k), c.net.Now(), 32, []byte{byte(k), 1})))
	}
	// One second later mallory has two more tokens.
	c.net.Run(c.net.Now().Add(time.Second))
	for k := range 4 {
		c.net.Inject(peer(k), coretest.Addr(0), pkt(gossip.Seal(mallory, uint64(100+k), c.net.Now(), 32, []byte{byte(k), 2})))
	}
	c.net.Run(c.net.Now().Add(20 * time.Millisecond))
	if got := c.gs[0].Stats().Delivered; got != 5+5+2 {
		t.Fatalf("delivered %d, want 12 (alice's 5, mallory's refill of 2)", got)
	}
}

// A peer forwarding many publishers' messages at once is held to its own
// limit (burst 20), whatever the publishers' budgets.
func TestPeerRateManyPublishers(t *testing.T) {
	c := small(t, gossip.DefaultConfig())
	for k := range 100 {
		c.net.Inject(attacker, coretest.Addr(0), pkt(gossip.Seal(ident(t, byte(k)), 1, c.net.Now(), 32, []byte{byte(k)})))
	}
	c.net.Run(c.net.Now().Add(20 * time.Millisecond))
	if got, d := c.gs[0].Stats().Delivered, drops(c); got != 20 || d[gossip.ReasonRateLimited] != 80 {
		t.Fatalf("delivered %d, drops %v; want the peer's burst of 20 and 80 rate-limited", got, d)
	}
}

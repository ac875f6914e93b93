package dht_test

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/dht"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// liar is a handcrafted peer: it answers PINGs honestly (so it gets into
// tables) and FIND_NODE / FIND_VALUE according to mode.
type liar struct {
	node  *core.Node
	mode  string
	r     *rand.Rand
	fakes []identity.PeerID // IDs it made up
	rec   dht.Record        // for "tampered"
}

func (l *liar) header(req uint64) wire.DHTHeader {
	return wire.DHTHeader{ReqID: req, Sender: [32]byte(l.node.ID().PublicKey())}
}

func (l *liar) fakeNodes(n int) []wire.DHTNode {
	var out []wire.DHTNode
	for i := range n {
		var pub [32]byte
		for j := range pub {
			pub[j] = byte(l.r.Uint32())
		}
		l.fakes = append(l.fakes, identity.PeerIDFromPublicKey(pub[:]))
		out = append(out, wire.DHTNode{ID: pub, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 99, byte(len(l.fakes) >> 8), byte(i + 1)}), 4000)})
	}
	return out
}

func newLiar(c *coretest.Net, i int, mode string) *liar {
	l := &liar{node: c.AddNode(i, core.DefaultConfig()), mode: mode, r: rand.New(rand.NewPCG(uint64(i), 3))}
	l.node.Register(wire.KindDHTPing, func(now time.Time, from netip.AddrPort, body []byte) error {
		m, err := wire.DecodeDHTPing(body)
		if err != nil {
			return err
		}
		p := wire.DHTPong{DHTHeader: l.header(m.ReqID)}
		l.node.Send(from, p.AppendPacket(nil))
		return nil
	})
	answer := func(now time.Time, from netip.AddrPort, req uint64, target identity.Key) {
		byDistance := func(ns []wire.DHTNode, dir int) []wire.DHTNode {
			slices.SortFunc(ns, func(a, b wire.DHTNode) int {
				da := identity.Xor(target, identity.PeerIDFromPublicKey(a.ID[:]).Key())
				db := identity.Xor(target, identity.PeerIDFromPublicKey(b.ID[:]).Key())
				return dir * da.Cmp(db)
			})
			return ns
		}
		switch l.mode {
		case "oversized":
			m := wire.Nodes{DHTHeader: l.header(req), Nodes: l.fakeNodes(25)}
			l.node.Send(from, m.AppendPacket(nil))
		case "fake":
			// A careful liar: made-up peers, in the right order.
			m := wire.Nodes{DHTHeader: l.header(req), Nodes: byDistance(l.fakeNodes(20), 1)}
			l.node.Send(from, m.AppendPacket(nil))
		case "misordered":
			m := wire.Nodes{DHTHeader: l.header(req), Nodes: byDistance(l.fakeNodes(20), -1)}
			l.node.Send(from, m.AppendPacket(nil))
		case "value":
			m := wire.Value{DHTHeader: l.header(req), Record: wire.DHTRecord{Expires: now.Add(time.Hour).UnixNano()}}
			l.node.Send(from, m.AppendPacket(nil))
		case "self":
			m := wire.Nodes{DHTHeader: l.header(req), Nodes: []wire.DHTNode{{ID: [32]byte{}, Addr: coretest.Addr(1)}}}
			l.node.Send(from, m.AppendPacket(nil))
		}
	}
	l.node.Register(wire.KindFindNode, func(now time.Time, from netip.AddrPort, body []byte) error {
		m, err := wire.DecodeFindNode(body)
		if err != nil {
			return err
		}
		answer(now, from, m.ReqID, m.Target)
		return nil
	})
	l.node.Register(wire.KindFindValue, func(now time.Time, from netip.AddrPort, body []byte) error {
		m, err := wire.DecodeFindValue(body)
		if err != nil {
			return err
		}
		if l.mode == "tampered" {
			w := wire.Value{DHTHeader: l.header(m.ReqID), Record: wire.DHTRecord{
				Key: m.Key, Publisher: [32]byte(l.rec.Publisher.PublicKey()), Expires: l.rec.Expires.UnixNano(),
				Value: []byte("forged"), Sig: l.rec.Sig}}
			l.node.Send(from, w.AppendPacket(nil))
			return nil
		}
		answer(now, from, m.ReqID, m.Key)
		return nil
	})
	l.node.Register(wire.KindNodes, func(time.Time, netip.AddrPort, []byte) error { return nil })
	return l
}

// introduce makes the liar known: it sends FIND_NODE to every honest node,
// which then pings it and, as it answers, admits it.
func (l *liar) introduce(c *cluster) {
	for i := range c.nodes {
		m := wire.FindNode{DHTHeader: l.header(uint64(1000 + i))}
		l.node.Send(coretest.Addr(i), m.AppendPacket(nil))
	}
}

func drops(net *coretest.Net, reason string) int {
	n := 0
	for _, d := range coretest.Of[core.Drop](net) {
		if d.Reason == reason {
			n++
		}
	}
	return n
}

func TestLyingResponses(t *testing.T) {
	for _, mode := range []string{"oversized", "fake", "misordered", "value", "self"} {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig()
			c := newCluster(t, 30, cfg)
			l := newLiar(c.net, 30, mode)
			end := c.bootstrap(t)
			l.node.Start(c.net.Now())
			l.introduce(c)
			c.at(end + 2*time.Second)
			in := 0
			for _, d := range c.dhts {
				if _, ok := d.Table().Get(l.node.ID()); ok {
					in++
				}
			}
			if in < 20 {
				t.Fatalf("liar in only %d tables", in)
			}
			st := c.lookups(t, end+2*time.Second, 100, allNodes(30), 5)
			t.Logf("%s: %s", mode, st)
			if st.ok != st.total {
				t.Errorf("success %d/%d with a liar", st.ok, st.total)
			}
			if st.maxLatency > cfg.LookupTimeout {
				t.Errorf("lookup took %v", st.maxLatency)
			}
			want := map[string]string{"oversized": dht.ReasonOversized, "misordered": dht.ReasonWrongDistance, "value": dht.ReasonUnsolicited,
				"self": dht.ReasonInvalidPeer}[mode]
			if want != "" && drops(c.net, want) == 0 {
				t.Errorf("no %q drops", want)
			}
			// Peers merely mentioned never enter a table.
			for _, f := range l.fakes {
				for _, d := range c.dhts {
					if _, ok := d.Table().Get(f); ok {
						t.Fatal("a made-up peer entered a routing table")
					}
				}
			}
			if mode == "fake" && len(l.fakes) == 0 {
				t.Error("the liar was never asked")
			}
		})
	}
}

func TestUnsolicitedAndGarbage(t *testing.T) {
	c := newCluster(t, 5, testConfig())
	end := c.bootstrap(t)
	from := coretest.Addr(3)
	nodes := wire.Nodes{DHTHeader: wire.DHTHeader{ReqID: 12345, Sender: [32]byte(c.nodes[3].ID().PublicKey())}}
	c.net.Inject(from, coretest.Addr(1), nodes.AppendPacket(nil))
	c.net.Inject(from, coretest.Addr(1), []byte{wire.Version, byte(wire.KindNodes), 0xff, 0x01})
	c.net.Inject(from, coretest.Addr(1), []byte{wire.Version, byte(wire.KindFindNode)})
	// A request claiming a zero ID.
	fn := wire.FindNode{}
	c.net.Inject(from, coretest.Addr(1), fn.AppendPacket(nil))
	c.at(end + time.Second)
	if drops(c.net, dht.ReasonUnsolicited) != 1 {
		t.Errorf("unsolicited drops %d, want 1", drops(c.net, dht.ReasonUnsolicited))
	}
	if drops(c.net, dht.ReasonMalformed) != 2 {
		t.Errorf("malformed drops %d, want 2", drops(c.net, dht.ReasonMalformed))
	}
	if drops(c.net, dht.ReasonInvalidPeer) != 1 {
		t.Errorf("invalid-peer drops %d, want 1", drops(c.net, dht.ReasonInvalidPeer))
	}
}

func TestRecords(t *testing.T) {
	cfg := testConfig()
	c := newCluster(t, 20, cfg)
	end := c.bootstrap(t)
	key := keyOf("chat-room/42")
	if err := c.dhts[3].Put(c.net.Now(), key, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.at(end + 5*time.Second)
	puts := coretest.Of[dht.PutDone](c.net)
	if len(puts) != 1 || puts[0].Stored == 0 {
		t.Fatalf("put: %+v", puts)
	}
	var got *dht.Record
	c.dhts[11].FindValue(c.net.Now(), key, func(r dht.LookupResult) { got = r.Record })
	c.at(end + 10*time.Second)
	if got == nil || string(got.Value) != "hello" || got.Publisher != c.nodes[3].ID() {
		t.Fatalf("find value: %+v", got)
	}
	// Unknown key: no record, OK false.
	var res dht.LookupResult
	c.dhts[11].FindValue(c.net.Now(), keyOf("nothing"), func(r dht.LookupResult) { res = r })
	c.at(end + 20*time.Second)
	if res.Record != nil || res.OK || res.Messages == 0 {
		t.Fatalf("missing key: %+v", res)
	}

	// A tampered STORE is dropped and not kept.
	rec := *got
	rec.Value = []byte("tampered")
	st := wire.Store{DHTHeader: wire.DHTHeader{ReqID: 1, Sender: [32]byte(c.nodes[5].ID().PublicKey())}}
	st.Record = wire.DHTRecord{Key: rec.Key, Publisher: [32]byte(rec.Publisher.PublicKey()), Expires: rec.Expires.UnixNano(), Value: rec.Value, Sig: rec.Sig}
	before := drops(c.net, dht.ReasonBadRecord)
	c.net.Inject(coretest.Addr(5), coretest.Addr(7), st.AppendPacket(nil))
	c.at(end + 21*time.Second)
	if drops(c.net, dht.ReasonBadRecord) != before+1 {
		t.Fatal("tampered STORE not dropped as bad-record")
	}
	if err := rec.Verify(c.net.Now(), cfg.RecordTTL); err == nil {
		t.Fatal("tampered record verifies")
	}
	if err := got.Verify(c.net.Now(), cfg.RecordTTL+cfg.MaxClockSkew); err != nil {
		t.Fatalf("genuine record: %v", err)
	}
}

func TestTamperedValueResponse(t *testing.T) {
	c := newCluster(t, 10, testConfig())
	l := newLiar(c.net, 10, "tampered")
	end := c.bootstrap(t)
	l.node.Start(c.net.Now())
	key := keyOf("k")
	l.rec = dht.SignRecord(c.nodes[2].Identity(), key, []byte("genuine"), c.net.Now().Add(time.Hour))
	l.introduce(c)
	c.at(end + 2*time.Second)
	var got *dht.Record
	c.dhts[4].FindValue(c.net.Now(), key, func(r dht.LookupResult) { got = r.Record })
	c.at(end + 15*time.Second)
	if got != nil {
		t.Fatalf("accepted %q", got.Value)
	}
	if drops(c.net, dht.ReasonBadRecord) == 0 {
		t.Fatal("no bad-record drop")
	}
}

func TestExpiredRecordNotReturned(t *testing.T) {
	cfg := testConfig()
	cfg.RecordTTL = time.Minute
	c := newCluster(t, 10, cfg)
	end := c.bootstrap(t)
	key := keyOf("short-lived")
	c.dhts[1].Put(c.net.Now(), key, []byte("v"))
	c.at(end + 10*time.Second)
	var found bool
	c.dhts[6].FindValue(c.net.Now(), key, func(r dht.LookupResult) { found = r.Record != nil })
	c.at(end + 20*time.Second)
	if !found {
		t.Fatal("fresh record not found")
	}
	c.at(end + 2*time.Minute)
	found = true
	c.dhts[6].FindValue(c.net.Now(), key, func(r dht.LookupResult) { found = r.Record != nil })
	c.at(end + 2*time.Minute + 15*time.Second)
	if found {
		t.Fatal("expired record returned")
	}
	if d := c.dhts[6]; d.Stats().Lookups == 0 {
		t.Fatal("no lookups counted")
	}
}

// bucket0 returns the indexes (from 1) of nodes in node 0's bucket 0.
func bucket0(t *testing.T, net *coretest.Net, n int) []int {
	probe := coretest.New(0)
	self := probe.AddNode(0, core.DefaultConfig()).ID().Key()
	var out []int
	for i := 1; len(out) < n; i++ {
		id := probe.AddNode(i, core.DefaultConfig()).ID()
		if identity.Xor(self, id.Key()).CommonPrefixLen() == 0 {
			out = append(out, i)
		}
	}
	return out
}

func TestEvictionPingsOldest(t *testing.T) {
	for _, alive := range []bool{true, false} {
		name := map[bool]string{true: "oldest-alive", false: "oldest-dead"}[alive]
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.K, cfg.Alpha = 2, 1
			cfg.ProbeInterval = 0
			net := coretest.New(20 * time.Millisecond)
			idx := bucket0(t, net, 3)
			ds := map[int]*dht.DHT{}
			nodes := map[int]*core.Node{}
			for _, i := range append([]int{0}, idx...) {
				nodes[i] = net.AddNode(i, core.DefaultConfig())
				d, err := dht.New(nodes[i], cfg)
				if err != nil {
					t.Fatal(err)
				}
				ds[i] = d
			}
			b, cc, newcomer := idx[0], idx[1], idx[2]
			for _, i := range []int{0, b, cc} {
				nodes[i].Start(net.Now())
			}
			a := ds[0]
			a.Bootstrap(net.Now(), []dht.BootstrapPeer{{Addr: coretest.Addr(b)}, {Addr: coretest.Addr(cc), ID: nodes[cc].ID()}})
			net.Run(coretest.Epoch.Add(5 * time.Second))
			if !a.Bootstrapped() || a.Table().Len() != 2 {
				t.Fatalf("bootstrap: %v, %d peers", a.Bootstrapped(), a.Table().Len())
			}
			oldest := a.Table().Bucket(0)[0].ID
			if !alive {
				for _, i := range []int{b, cc} {
					if nodes[i].ID() == oldest {
						nodes[i].Stop(net.Now())
					}
				}
			}
			nodes[newcomer].Start(net.Now())
			ds[newcomer].Bootstrap(net.Now(), []dht.BootstrapPeer{{Addr: coretest.Addr(0)}})
			net.Run(coretest.Epoch.Add(20 * time.Second))
			_, newIn := a.Table().Get(nodes[newcomer].ID())
			_, oldIn := a.Table().Get(oldest)
			evicted := slices.ContainsFunc(coretest.Of[dht.PeerEvicted](net), func(e dht.PeerEvicted) bool {
				return e.Peer == oldest && e.Reason == dht.EvictPingFailed
			})
			if alive {
				if newIn || !oldIn || evicted {
					t.Fatalf("oldest alive: newcomer in %v, oldest in %v, evicted %v", newIn, oldIn, evicted)
				}
				if a.Table().Bucket(0)[1].ID != oldest && a.Table().Bucket(0)[0].ID == oldest {
					t.Fatal("oldest did not move to the tail")
				}
				if rs := a.Table().Replacements(0); !slices.ContainsFunc(rs, func(p dht.PeerInfo) bool { return p.ID == nodes[newcomer].ID() }) {
					t.Fatal("newcomer not in the replacement cache")
				}
			} else if !newIn || oldIn || !evicted {
				t.Fatalf("oldest dead: newcomer in %v, oldest in %v, evicted %v", newIn, oldIn, evicted)
			}
		})
	}
}

// A peer named in NODES enters the table only once it answers.
func TestOnlyAnsweredPeersEnter(t *testing.T) {
	net := coretest.New(10 * time.Millisecond)
	cfg := testConfig()
	var ds []*dht.DHT
	var nodes []*core.Node
	for i := range 3 {
		n := net.AddNode(i, core.DefaultConfig())
		d, _ := dht.New(n, cfg)
		nodes, ds = append(nodes, n), append(ds, d)
	}
	nodes[1].Start(net.Now())
	nodes[2].Start(net.Now())
	ds[2].Bootstrap(net.Now(), []dht.BootstrapPeer{{Addr: coretest.Addr(1)}})
	net.Run(coretest.Epoch.Add(2 * time.Second))
	if _, ok := ds[1].Table().Get(nodes[2].ID()); !ok {
		t.Fatal("setup: node 1 does not know node 2")
	}
	nodes[2].Stop(net.Now())
	nodes[0].Start(net.Now())
	ds[0].Bootstrap(net.Now(), []dht.BootstrapPeer{{Addr: coretest.Addr(1)}})
	net.Run(coretest.Epoch.Add(10 * time.Second))
	if _, ok := ds[0].Table().Get(nodes[1].ID()); !ok {
		t.Fatal("the bootstrap peer, which answered, is not in the table")
	}
	if _, ok := ds[0].Table().Get(nodes[2].ID()); ok {
		t.Fatal("a peer only mentioned in NODES entered the table")
	}
	if ds[0].Stats().Timeouts == 0 {
		t.Fatal("node 2 was never asked")
	}
	// The lookup never hangs and the peer source reflects the table.
	if ps := ds[0].GossipPeers(); len(ps) != 1 || ps[0].ID != nodes[1].ID() || ps[0].RTT <= 0 {
		t.Fatalf("gossip peers %+v", ps)
	}
}

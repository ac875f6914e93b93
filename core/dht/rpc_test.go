package dht

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// The capacities of outgoing datagrams hold the largest of each: an
// allocation is never grown.
func TestPacketCaps(t *testing.T) {
	h := wire.DHTHeader{ReqID: 1<<64 - 1, Flags: 0xff, Bandwidth: 1<<63 - 1}
	ping := wire.DHTPing{DHTHeader: h}
	if n := len(ping.AppendPacket(nil)); n > headerPacketCap {
		t.Errorf("ping: %d bytes, cap %d", n, headerPacketCap)
	}
	find := wire.FindNode{DHTHeader: h}
	if n := len(find.AppendPacket(nil)); n > keyPacketCap {
		t.Errorf("find-node: %d bytes, cap %d", n, keyPacketCap)
	}
	nodes := wire.Nodes{DHTHeader: h, Nodes: make([]wire.DHTNode, wire.MaxDHTNodes)}
	for i := range nodes.Nodes {
		nodes.Nodes[i].Addr = netip.MustParseAddrPort("[2001:db8::1]:65535")
	}
	for _, n := range []int{0, 1, 20, wire.MaxDHTNodes} {
		m := wire.Nodes{DHTHeader: h, Nodes: nodes.Nodes[:n]}
		if l := len(m.AppendPacket(nil)); l > nodesPacketCap(n) {
			t.Errorf("nodes(%d): %d bytes, cap %d", n, l, nodesPacketCap(n))
		}
	}
}

// Decoding NODES into a used buffer gives what DecodeNodes gives.
func TestDecodeNodesInto(t *testing.T) {
	m := wire.Nodes{DHTHeader: wire.DHTHeader{ReqID: 7}, Nodes: []wire.DHTNode{
		{ID: [wire.DHTIDLen]byte{1}, Flags: 1, Addr: netip.MustParseAddrPort("10.0.0.1:4000")},
		{ID: [wire.DHTIDLen]byte{2}, Addr: netip.MustParseAddrPort("[2001:db8::2]:4000")},
		{ID: [wire.DHTIDLen]byte{3}},
	}}
	body := m.AppendPacket(nil)[wire.HeaderLen:]
	want, err := wire.DecodeNodes(body)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]wire.DHTNode, 4)
	for i := range buf {
		buf[i] = wire.DHTNode{ID: [wire.DHTIDLen]byte{0xee}, Flags: 3, Addr: netip.MustParseAddrPort("10.9.9.9:9")}
	}
	for _, b := range [][]wire.DHTNode{nil, buf[:0], buf[:1]} {
		got, err := wire.DecodeNodesInto(body, b)
		if err != nil || !slices.Equal(got.Nodes, want.Nodes) || got.DHTHeader != want.DHTHeader {
			t.Fatalf("into buffer of %d: %+v, %v; want %+v", cap(b), got, err, want)
		}
	}
	if _, err := wire.DecodeNodesInto(body[:len(body)-1], buf); err == nil {
		t.Fatal("truncated body decoded")
	}
}

// A lookup keeps one candidate per ID (the first heard of), ordered by
// distance to the target, then address.
func TestLookupAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	self := fakeID(r)
	lk := &lookup{target: fakeID(r).Key()}
	ids := make([]identity.PeerID, 100)
	for i := range ids {
		ids[i] = fakeID(r)
	}
	first := make(map[identity.PeerID]netip.AddrPort)
	for i := range 1000 {
		p := PeerInfo{ID: ids[r.IntN(len(ids))], Addr: addrN(r.IntN(50))}
		if i%97 == 0 {
			p.ID = self
		}
		lk.add(&p, i, self)
		if _, ok := first[p.ID]; !ok && p.ID != self {
			first[p.ID] = p.Addr
		}
	}
	if len(lk.cands) != len(first) || len(lk.d0) != len(lk.cands) {
		t.Fatalf("%d candidates, %d first-word distances, %d IDs", len(lk.cands), len(lk.d0), len(first))
	}
	for i, c := range lk.cands {
		key := c.info.dhtKey()
		if c.info.Addr != first[c.info.ID] || c.dist != distanceOf(&lk.target, &key) || lk.d0[i] != c.dist[0] {
			t.Fatalf("candidate %d: %+v", i, c)
		}
		if i > 0 {
			p := lk.cands[i-1]
			if compareDist(lk.target, p.info.dhtKey(), key, p.info.Addr, c.info.Addr) >= 0 {
				t.Fatalf("candidates %d and %d out of order", i-1, i)
			}
		}
	}
}

// benchClock is a clock whose timers never fire: the benchmarks drive the
// handlers directly and reset the DHT between rounds.
type benchClock struct{ now time.Time }

func (c *benchClock) Now() time.Time { return c.now }

func (c *benchClock) AfterFunc(time.Duration, func()) core.Timer { return benchTimer{} }

type benchTimer struct{}

func (benchTimer) Stop() bool { return true }

// benchTransport discards what is sent.
type benchTransport struct{ self netip.AddrPort }

func (t benchTransport) LocalAddr() netip.AddrPort { return t.self }

func (benchTransport) Send(netip.AddrPort, []byte) {}

// benchDHT returns a started DHT with the default (simulator) config and
// a table filled from 4,000 random peers (about 100 entries with k 20),
// sharing a key cache as the simulator's nodes do.
func benchDHT(b testing.TB) (*DHT, []PeerInfo) {
	b.Helper()
	seed := bytes.Repeat([]byte{0xbe}, 32)
	id, err := identity.FromSeed(seed)
	if err != nil {
		b.Fatal(err)
	}
	env := core.Env{
		Clock:     &benchClock{now: t0},
		Transport: benchTransport{self: netip.MustParseAddrPort("10.200.0.1:4000")},
		Rand:      rand.New(rand.NewPCG(1, 2)),
		Entropy:   rand.NewChaCha8([32]byte(seed)),
		Observer:  core.Discard,
	}
	node, err := core.NewNode(id, env, core.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(node, FromCore(core.DefaultConfig()))
	if err != nil {
		b.Fatal(err)
	}
	d.ShareKeys(identity.NewKeyCache(1 << 14))
	node.Start(t0)
	r := rand.New(rand.NewPCG(3, 4))
	var in []PeerInfo
	for i := range 4000 {
		p := PeerInfo{ID: fakeID(r), Addr: addrN(i)}
		if out, _ := d.table.Update(t0, p, 20*time.Millisecond); out == Added {
			in = append(in, p)
		}
	}
	return d, in
}

// BenchmarkHandleFindNode measures answering one FIND_NODE from a peer in
// the table: decode, the k closest peers, encode the NODES answer.
func BenchmarkHandleFindNode(b *testing.B) {
	d, in := benchDHT(b)
	r := rand.New(rand.NewPCG(5, 6))
	type req struct {
		from netip.AddrPort
		body []byte
	}
	reqs := make([]req, 1024)
	for i := range reqs {
		p := in[i%len(in)]
		m := wire.FindNode{DHTHeader: wire.DHTHeader{ReqID: r.Uint64(), Sender: pubKey(p.ID)}, Target: fakeID(r).Key()}
		reqs[i] = req{p.Addr, m.AppendPacket(nil)[wire.HeaderLen:]}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := reqs[i%len(reqs)]
		if err := d.handleFindNode(t0, q.from, q.body); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkHandleNodes measures the first round of a lookup: it starts,
// asks its alpha (3) closest peers, and each answers with a NODES list of
// 20 peers (overlapping in part), which the lookup takes in and answers by
// asking more. The DHT is reset (Stop, Start) between rounds.
func BenchmarkHandleNodes(b *testing.B) {
	d, _ := benchDHT(b)
	r := rand.New(rand.NewPCG(7, 8))
	pool := make([]PeerInfo, 4096)
	for i := range pool {
		pool[i] = PeerInfo{ID: fakeID(r), Addr: addrN(100000 + i)}
		pool[i].dhtKey()
	}
	targets := make([]identity.Key, 64)
	for i := range targets {
		targets[i] = fakeID(r).Key()
	}
	// answers[t] lists, by rank, the pool's 60 peers closest to target t.
	answers := make([][]wire.DHTNode, len(targets))
	for t, target := range targets {
		ps := slices.Clone(pool)
		slices.SortFunc(ps, func(a, b PeerInfo) int {
			return identity.Xor(target, a.key).Cmp(identity.Xor(target, b.key))
		})
		for _, p := range ps[:60] {
			answers[t] = append(answers[t], wire.DHTNode{ID: pubKey(p.ID), Addr: p.Addr})
		}
	}
	// bodies caches the NODES body of (target, responder), request ID
	// zero: the round patches it in.
	type answerKey struct {
		target int
		from   netip.AddrPort
	}
	bodies := make(map[answerKey][]byte)
	var asked []*request
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := i % len(targets)
		lk, err := d.startLookup(t0, targets[t], PurposeUser, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		d.onLookupStart(lk)
		asked = asked[:0]
		for _, q := range d.pending {
			asked = append(asked, q)
		}
		slices.SortFunc(asked, func(a, b *request) int { return cmp.Compare(a.id, b.id) })
		for n, q := range asked {
			k := answerKey{t, q.to}
			body := bodies[k]
			if body == nil {
				m := wire.Nodes{DHTHeader: wire.DHTHeader{Sender: pubKey(q.peer)}, Nodes: answers[t][n*10 : n*10+20]}
				body = m.AppendPacket(nil)[wire.HeaderLen:]
				bodies[k] = body
			}
			binary.BigEndian.PutUint64(body, q.id)
			if err := d.handleNodes(t0, q.to, body); err != nil {
				b.Fatal(err)
			}
		}
		d.Stop(t0)
		d.Start(t0)
		i++
	}
}

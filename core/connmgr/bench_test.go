package connmgr

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// benchEnv is an environment whose timers never fire and whose transport
// discards: benchmarks measure the manager alone.
type benchEnv struct{ now time.Time }

type nopTimer struct{}

func (nopTimer) Stop() bool { return true }

func (e *benchEnv) Now() time.Time                             { return e.now }
func (e *benchEnv) AfterFunc(time.Duration, func()) core.Timer { return nopTimer{} }
func (e *benchEnv) Send(netip.AddrPort, []byte)                {}
func (e *benchEnv) LocalAddr() netip.AddrPort                  { return benchAddr(0) }

func benchAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 4000)
}

func benchKey(b testing.TB, i int) [32]byte {
	id, err := identity.FromSeed(bytes.Repeat([]byte{byte(i), byte(i >> 8), 0x42}, 11)[:32])
	if err != nil {
		b.Fatal(err)
	}
	return [32]byte(id.ID().PublicKey())
}

// benchManager returns a manager with n inbound sessions from benchAddr(1..n),
// opened at different times with different RTTs, reputations and activity.
func benchManager(b testing.TB, n int) (*core.Node, *Manager, *benchEnv) {
	b.Helper()
	e := &benchEnv{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	id, _ := identity.FromSeed(bytes.Repeat([]byte{0xee}, 32))
	node, err := core.NewNode(id, core.Env{Clock: e, Transport: e, Rand: rand.New(rand.NewPCG(1, 1)), Observer: core.Discard},
		core.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(node, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	node.Start(e.now)
	for i := 1; i <= n; i++ {
		msg := wire.Connect{Nonce: uint64(i), Sender: benchKey(b, i)}
		node.HandlePacket(e.now, benchAddr(i), msg.AppendPacket(nil))
		c := m.byAddr[benchAddr(i)]
		if c == nil || c.state != Connected {
			b.Fatalf("session %d not opened", i)
		}
		c.health.answered(&m.cfg.Health, time.Duration(10+i*7%90)*time.Millisecond)
		c.tr.lastActive = m.since(e.now.Add(time.Duration(i*13%50) * time.Second))
		m.AdjustReputation(c.peer, float64(i%5-2)/4)
		e.now = e.now.Add(time.Second)
	}
	e.now = e.now.Add(time.Minute)
	return node, m, e
}

// BenchmarkPruneDecision measures one trim decision at 50 sessions: build
// the candidates, score them by the Combined strategy, rank, and pick the
// 21 victims that take the node from 51 to 30 (nothing is closed).
func BenchmarkPruneDecision(b *testing.B) {
	_, m, e := benchManager(b, 50)
	if v := m.pickVictims(e.now, 21); len(v) != 21 {
		b.Fatalf("%d victims", len(v))
	}
	b.ReportAllocs()
	for b.Loop() {
		m.pickVictims(e.now, 21)
	}
}

// BenchmarkPrunerSelect measures Pruner.Select alone over 50 candidates,
// per strategy.
func BenchmarkPrunerSelect(b *testing.B) {
	_, m, e := benchManager(b, 50)
	m.pickVictims(e.now, 0)
	cands := append([]PruneCandidate(nil), m.pc...)
	for _, s := range []Strategy{LeastRecentlyUsed, LowestReputation, HighestLatency, Combined} {
		b.Run(s.String(), func(b *testing.B) {
			p := m.pruner
			p.Strategy = s
			var dst []int
			b.ReportAllocs()
			for b.Loop() {
				dst = p.Select(e.now, cands, 21, dst[:0])
			}
		})
	}
}

// BenchmarkHandlePong measures node.HandlePacket for the answer to an
// outstanding probe: envelope, decode, session lookup, RFC 6298 update,
// loss window, health evaluation.
func BenchmarkHandlePong(b *testing.B) {
	node, m, e := benchManager(b, 50)
	addr := benchAddr(25)
	c := m.byAddr[addr]
	pkt := wire.ConnProbe{Nonce: c.nonce, Seq: 1}.AppendPacket(nil, wire.KindConnPong)
	c.seq = 1
	b.ReportAllocs()
	for b.Loop() {
		c.probing, c.probeSent = true, m.since(e.now.Add(-40*time.Millisecond))
		node.HandlePacket(e.now, addr, pkt)
	}
	if c.probing || node.Stats().Dropped != 0 {
		b.Fatal("pong not matched")
	}
}

// BenchmarkTouch measures the traffic hook for one received datagram.
func BenchmarkTouch(b *testing.B) {
	_, m, e := benchManager(b, 50)
	addr := benchAddr(25)
	b.ReportAllocs()
	for b.Loop() {
		m.Traffic(e.now, addr, wire.KindGossip, 600, false)
	}
}

// BenchmarkTrafficSpread measures the traffic hook for datagrams spread
// over 50 sessions, batches applied included (one in trafficBatch calls).
func BenchmarkTrafficSpread(b *testing.B) {
	_, m, e := benchManager(b, 50)
	var addrs [50]netip.AddrPort
	for i := range addrs {
		addrs[i] = benchAddr(1 + i*17%50)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Traffic(e.now, addrs[i%len(addrs)], wire.KindGossip, 600, i%3 == 0)
		i++
	}
}

// BenchmarkGossipPeers measures GossipPeers at 50 sessions when the list
// must be rebuilt (a probe answered or a reputation changed since the
// last call).
func BenchmarkGossipPeers(b *testing.B) {
	_, m, _ := benchManager(b, 50)
	if len(m.GossipPeers()) != 50 {
		b.Fatal("not 50 peers")
	}
	b.ReportAllocs()
	for b.Loop() {
		m.gpDirty = true
		m.GossipPeers()
	}
}

// BenchmarkDialAndClose measures a dial started and abandoned (Connect,
// then Disconnect while connecting): the session, its CONNECT and its
// CLOSE, over 40 peers in turn.
func BenchmarkDialAndClose(b *testing.B) {
	_, m, e := benchManager(b, 0)
	ids := make([]identity.PeerID, 40)
	for i := range ids {
		ids[i] = identity.PeerIDFromPublicKey(func(k [32]byte) []byte { return k[:] }(benchKey(b, 1000+i)))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % len(ids)
		if err := m.Connect(e.now, ids[k], benchAddr(100+k)); err != nil {
			b.Fatal(err)
		}
		if err := m.Disconnect(e.now, ids[k]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSendProbe measures sending one health probe of a session.
func BenchmarkSendProbe(b *testing.B) {
	_, m, e := benchManager(b, 50)
	c := m.byAddr[benchAddr(25)]
	b.ReportAllocs()
	for b.Loop() {
		m.sendProbe(e.now, c)
	}
}

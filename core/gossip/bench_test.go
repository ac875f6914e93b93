package gossip_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// benchEnv is an environment whose timers never fire and whose transport
// discards: the benchmark measures the receive path alone.
type benchEnv struct{ now time.Time }

type nopTimer struct{}

func (nopTimer) Stop() bool { return true }

func (e *benchEnv) Now() time.Time                             { return e.now }
func (e *benchEnv) AfterFunc(time.Duration, func()) core.Timer { return nopTimer{} }
func (e *benchEnv) Send(netip.AddrPort, []byte)                {}
func (e *benchEnv) LocalAddr() netip.AddrPort                  { return coretest.Addr(0) }

func benchNode(b *testing.B, v gossip.Verifier) (*core.Node, *gossip.Gossip) {
	b.Helper()
	e := &benchEnv{now: coretest.Epoch}
	node, err := core.NewNode(ident(b, 0x01), core.Env{
		Clock: e, Transport: e, Rand: rand.New(rand.NewPCG(1, 1)), Observer: core.Discard,
	}, core.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	var peers gossip.StaticPeers
	for i := 1; i <= 8; i++ {
		peers = append(peers, gossip.Peer{Addr: coretest.Addr(i), RTT: time.Duration(i) * time.Millisecond})
	}
	cfg := gossip.DefaultConfig()
	// BenchmarkHandleGossip's 64 senders publish one message per 64 ms
	// each, over the default publisher rate: raise it so that every
	// message is delivered and the benchmark measures the whole path.
	cfg.PublisherRate, cfg.PublisherBurst = 100, 100
	g, err := gossip.New(node, cfg, peers, v)
	if err != nil {
		b.Fatal(err)
	}
	node.Start(coretest.Epoch)
	return node, g
}

// BenchmarkHandleGossip measures node.HandlePacket for a gossip datagram
// (512-byte payload): a duplicate, and a new message with a warm
// verification cache (decode, dedup, rate limit, checks, ID hash, cached
// verification, replay window, history, forwarding to 6 of 8 peers).
func BenchmarkHandleGossip(b *testing.B) {
	const pool = 8192
	senders := make([]*identity.Identity, 64)
	for i := range senders {
		senders[i] = ident(b, byte(0x80+i))
	}
	vc, _ := gossip.NewVerifyCache(2*pool, nil)
	pkts := make([][]byte, pool)
	for i := range pkts {
		m := gossip.Seal(senders[i%len(senders)], uint64(i/len(senders)+1), coretest.Epoch, 32, make([]byte, 512))
		pkts[i] = pkt(m)
	}
	// Warm the cache the way a simulation does: another node verified them.
	{
		node, _ := benchNode(b, vc)
		for i, p := range pkts {
			node.HandlePacket(coretest.Epoch, coretest.Addr(1+i%8), p)
		}
	}
	from := coretest.Addr(1)
	b.Run("duplicate", func(b *testing.B) {
		node, _ := benchNode(b, vc)
		node.HandlePacket(coretest.Epoch, from, pkts[0])
		b.ReportAllocs()
		for b.Loop() {
			node.HandlePacket(coretest.Epoch, from, pkts[0])
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		var node *core.Node
		var g *gossip.Gossip
		delivered := uint64(0)
		for i := 0; i < b.N; i++ {
			if i%pool == 0 {
				b.StopTimer()
				if g != nil {
					delivered += g.Stats().Delivered
				}
				node, g = benchNode(b, vc)
				b.StartTimer()
			}
			// Spread over many peers and over time (1 ms apart, the global
			// rate) so flood control does not bite.
			now := coretest.Epoch.Add(time.Duration(i%pool) * time.Millisecond)
			node.HandlePacket(now, coretest.Addr(100+i%pool), pkts[i%pool])
		}
		b.StopTimer()
		if delivered += g.Stats().Delivered; delivered != uint64(b.N) {
			b.Fatalf("%d of %d messages delivered", delivered, b.N)
		}
		if hits, misses := vc.Stats(); misses > pool {
			b.Fatalf("verify cache cold: %d hits %d misses", hits, misses)
		}
	})
}

// BenchmarkPublish measures signing and pushing one 512-byte message.
func BenchmarkPublish(b *testing.B) {
	_, g := benchNode(b, nil)
	payload := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Publish(coretest.Epoch, payload); err != nil {
			b.Fatal(fmt.Sprint(err))
		}
	}
}

// BenchmarkHandleIHave measures node.HandlePacket for IHAVE datagrams
// announcing messages the node holds, the common case (most announcements
// come after the push): decode, history lookup, holder bookkeeping. The
// announcers rotate over 8 peers, so each message's holder set fills to 8
// and every lookup scans it. "one" is a forwarding node's lazy
// announcement (1 ID), "heartbeat" a heartbeat's (16 IDs).
func BenchmarkHandleIHave(b *testing.B) {
	node, g := benchNode(b, nil)
	ids := make([][32]byte, 64)
	for i := range ids {
		id, err := g.Publish(coretest.Epoch, make([]byte, 512))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = id
	}
	for _, bc := range []struct {
		name string
		n    int
	}{{"one", 1}, {"heartbeat", 16}} {
		b.Run(bc.name, func(b *testing.B) {
			pkts := make([][]byte, len(ids))
			for i := range pkts {
				list := make([][32]byte, bc.n)
				for j := range list {
					list[j] = ids[(i+j)%len(ids)]
				}
				pkts[i] = wire.IHave{IDs: list}.AppendPacket(nil)
			}
			before := node.Stats().Dropped
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				node.HandlePacket(coretest.Epoch, coretest.Addr(1+i%8), pkts[i%len(pkts)])
				i++
			}
			if node.Stats().Dropped != before {
				b.Fatal("IHAVE dropped")
			}
		})
	}
}

package relay_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/relay"
	"github.com/dchat/network/core/wire"
)

// BenchmarkVerify measures Verify of a complete 3-hop proof: the ID hash,
// five Ed25519 verifications (route, three hand-offs, ack) and the chain
// hash.
func BenchmarkVerify(b *testing.B) {
	p := buildProof(b, proofSpec{hops: 3, payload: []byte("bench")})
	b.ReportAllocs()
	for b.Loop() {
		if err := relay.Verify(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMerkleRoot measures the root over 100 serialized proofs:
// serialization, leaf hashes and the tree.
func BenchmarkMerkleRoot(b *testing.B) {
	proofs := proofsFor(b, 100)
	b.ReportAllocs()
	var buf []byte
	leaves := make([]relay.Hash, len(proofs))
	for b.Loop() {
		for i, p := range proofs {
			buf, _ = p.AppendForChain(buf[:0])
			leaves[i] = relay.LeafHash(buf)
		}
		_ = relay.MerkleRoot(leaves)
	}
}

// BenchmarkVerifyInclusion measures verifying one inclusion proof in a
// batch of 100 (7 hashes) from the serialized proof.
func BenchmarkVerifyInclusion(b *testing.B) {
	bt, err := relay.NewBatch(ident(b, 0x42), 1, proofsFor(b, 100))
	if err != nil {
		b.Fatal(err)
	}
	in, _ := bt.Inclusion(57)
	leaf, _ := bt.Proofs[57].SerializeForChain()
	b.ReportAllocs()
	for b.Loop() {
		if err := in.Verify(bt.Root, leaf); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEnv is an environment whose timers never fire and whose transport
// discards: the benchmark measures the relay's receive path alone.
type benchEnv struct{ now time.Time }

type nopTimer struct{}

func (nopTimer) Stop() bool { return true }

func (e *benchEnv) Now() time.Time                             { return e.now }
func (e *benchEnv) AfterFunc(time.Duration, func()) core.Timer { return nopTimer{} }
func (e *benchEnv) Send(netip.AddrPort, []byte)                {}
func (e *benchEnv) LocalAddr() netip.AddrPort                  { return coretest.Addr(1) }

// BenchmarkForward measures a relay's handling of one new 512-byte message
// on a 3-hop path, as its second hop: decode, checks, route and one prior
// record verified, own record signed, re-encoded, sent with a receipt.
func BenchmarkForward(b *testing.B) {
	sender, r0, r1, r2, rcpt := ident(b, 0x10), ident(b, 0x11), ident(b, 0x12), ident(b, 0x13), ident(b, 0x14)
	e := &benchEnv{now: coretest.Epoch}
	cfg := relay.DefaultConfig()
	cfg.Enabled = true
	cfg.BandwidthLimitMbps = 1e6
	cfg.MaxPendingPerSender = cfg.MaxPending
	fresh := func() *core.Node {
		node, err := core.NewNode(r1, core.Env{Clock: e, Transport: e, Rand: rand.New(rand.NewPCG(1, 1)), Observer: core.Discard}, core.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := relay.New(node, cfg, nil); err != nil {
			b.Fatal(err)
		}
		node.Start(e.now)
		return node
	}
	const pool = 4096
	pkts := make([][]byte, pool)
	for i := range pkts {
		payload := []byte(fmt.Sprintf("%512d", i))
		p := relay.Proof{PayloadHash: relay.PayloadHash(payload), Nonce: uint64(i), Sender: sender.ID(), Sent: e.now.UnixNano(),
			Recipient: rcpt.ID(), Path: []identity.PeerID{r0.ID(), r1.ID(), r2.ID()}}
		p.ID = relay.ComputeID(p.Sender, p.Nonce, p.PayloadHash)
		copy(p.RouteSig[:], sender.Sign(relay.RouteBytes(p.ID, p.Sent, p.Recipient, p.Path)))
		m := wire.RelayData{ID: p.ID, Sender: keyOf(sender.ID()), SenderAddr: coretest.Addr(0), Nonce: p.Nonce, Sent: p.Sent,
			Recipient: wire.RelayHop{Key: keyOf(rcpt.ID()), Addr: coretest.Addr(4)}, RouteSig: p.RouteSig, Payload: payload}
		for k, id := range p.Path {
			m.Path = append(m.Path, wire.RelayHop{Key: keyOf(id), Addr: coretest.Addr(k + 1)})
		}
		if err := relay.AppendHandoff(r0, &m, p.Sent, p.Sent); err != nil {
			b.Fatal(err)
		}
		pkts[i] = m.AppendPacket(nil)
	}
	node := fresh()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == pool {
			// Every message of the pool is now a duplicate: a new node.
			b.StopTimer()
			if node.Stats().Dropped != 0 {
				b.Fatalf("dropped %d", node.Stats().Dropped)
			}
			node, i = fresh(), 0
			b.StartTimer()
		}
		node.HandlePacket(e.now, coretest.Addr(1), pkts[i])
		i++
	}
	if node.Stats().Dropped != 0 {
		b.Fatalf("dropped %d", node.Stats().Dropped)
	}
}

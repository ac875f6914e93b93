package relay_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/relay"
	"github.com/dchat/network/core/wire"
)

func FuzzParseProof(f *testing.F) {
	for hops := 1; hops <= 3; hops++ {
		data, _ := buildProof(f, proofSpec{hops: hops, payload: []byte("f")}).SerializeForChain()
		f.Add(data)
	}
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := relay.ParseProof(b)
		if err != nil {
			return
		}
		got, err := p.SerializeForChain()
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("re-encode %x != %x (%v)", got, b, err)
		}
		_ = relay.Verify(p)
		_ = relay.Audit(p, relay.DefaultAuditConfig())
	})
}

func FuzzParseBatch(f *testing.F) {
	b, _ := relay.NewBatch(ident(f, 0x42), 1, proofsFor(f, 2))
	f.Add(b.SerializeForChain())
	f.Add(make([]byte, relay.BatchChainLen))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := relay.ParseBatch(data)
		if err != nil {
			return
		}
		if got := h.SerializeForChain(); !bytes.Equal(got, data) {
			t.Fatalf("re-encode %x != %x", got, data)
		}
		_ = h.Verify()
	})
}

func FuzzParseInclusion(f *testing.F) {
	f.Add(relay.Inclusion{Index: 1, Size: 3, Path: []relay.Hash{{1}, {2}}}.SerializeForChain())
	f.Add([]byte{1, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := relay.ParseInclusion(data)
		if err != nil {
			return
		}
		if got := in.SerializeForChain(); !bytes.Equal(got, data) {
			t.Fatalf("re-encode %x != %x", got, data)
		}
		_ = in.Verify(relay.Hash{}, data)
	})
}

// FuzzHandlePacket feeds arbitrary datagrams to a relay that also has a
// message of its own in flight: it must never panic, and anything it
// delivers must carry a chain that verifies.
func FuzzHandlePacket(f *testing.F) {
	cfg := relay.DefaultConfig()
	cfg.Enabled = true
	// Seeds: a genuine datagram for node 1 to relay, and for node 1 as the
	// recipient, an ack and a receipt.
	c := newCluster(f, 3, delay, relays(cfg))
	var seeds [][]byte
	c.net.Drop = func(_, to netip.AddrPort, pkt []byte) bool {
		seeds = append(seeds, bytes.Clone(pkt))
		return false
	}
	c.send(f, 0, 2, []int{1}, []byte("seed"))
	c.send(f, 0, 1, []int{2}, []byte("seed 2"))
	c.run(time.Second)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{wire.Version, byte(wire.KindRelayData)})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		net := coretest.New(time.Millisecond)
		node := net.AddNode(1, core.DefaultConfig())
		r, err := relay.New(node, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []relay.Message
		r.OnDeliver(func(_ time.Time, m relay.Message) { got = append(got, m) })
		node.Start(net.Now())
		peer := relay.Hop{ID: ident(t, 0x99).ID(), Addr: coretest.Addr(7)}
		if _, err := r.Send(net.Now(), relay.Hop{ID: ident(t, 0x98).ID(), Addr: coretest.Addr(8)}, []relay.Hop{peer}, []byte("own")); err != nil {
			t.Fatal(err)
		}
		node.HandlePacket(net.Now(), coretest.Addr(0), pkt)
		node.HandlePacket(net.Now(), coretest.Addr(0), pkt)
		net.Run(net.Now().Add(time.Minute))
		if len(got) > 1 {
			t.Fatalf("delivered %d times", len(got))
		}
		for _, m := range got {
			env, _ := wire.DecodeEnvelope(pkt)
			d, err := wire.DecodeRelayData(env.Body)
			if err != nil || relay.MessageID(d.ID) != m.ID || !bytes.Equal(d.Payload, m.Payload) ||
				relay.ComputeID(m.Sender, d.Nonce, relay.PayloadHash(m.Payload)) != m.ID {
				t.Fatalf("delivered %+v from %x", m, pkt)
			}
		}
	})
}

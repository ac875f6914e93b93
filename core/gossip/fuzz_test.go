package gossip_test

import (
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/wire"
)

// FuzzHandlePacket feeds arbitrary datagrams to a node running gossip: it
// must never panic, and whatever it accepts must have been validly signed.
func FuzzHandlePacket(f *testing.F) {
	alice := ident(f, 0xa1)
	good := gossip.Seal(alice, 1, coretest.Epoch, 32, []byte("seed"))
	f.Add(pkt(good))
	f.Add(wire.IHave{IDs: [][32]byte{good.ID}}.AppendPacket(nil))
	f.Add(wire.IWant{IDs: [][32]byte{good.ID}}.AppendPacket(nil))
	f.Add([]byte{1, byte(wire.KindGossip)})
	vc, _ := gossip.NewVerifyCache(1024, nil)
	f.Fuzz(func(t *testing.T, p []byte) {
		net := coretest.New(time.Millisecond)
		node := net.AddNode(0, core.DefaultConfig())
		g, err := gossip.New(node, gossip.DefaultConfig(), gossip.StaticPeers{{Addr: coretest.Addr(1)}}, vc)
		if err != nil {
			t.Fatal(err)
		}
		node.Start(net.Now())
		if _, err := g.Publish(net.Now(), []byte("own")); err != nil {
			t.Fatal(err)
		}
		node.HandlePacket(net.Now(), coretest.Addr(1), p)
		node.HandlePacket(net.Now(), coretest.Addr(1), p)
		net.Run(net.Now().Add(3 * time.Second))
		for _, d := range coretest.Of[gossip.Delivered](net) {
			env, _ := wire.DecodeEnvelope(p)
			m, err := wire.DecodeGossip(env.Body)
			if err != nil || gossip.ID(m.ID) != d.ID || gossip.ComputeID(d.Sender, m.Seq, m.Time, m.Payload) != d.ID ||
				!d.Sender.Verify(gossip.SigningBytes(d.ID), m.Sig[:]) {
				t.Fatalf("delivered %+v from %x", d, p)
			}
		}
	})
}

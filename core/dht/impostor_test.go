package dht_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/dht"
	"github.com/dchat/network/core/identity"
)

// directory is what an authenticating transport would report.
type directory map[netip.AddrPort]identity.PeerID

func (d directory) PeerID(a netip.AddrPort) (identity.PeerID, bool) {
	id, ok := d[a]
	return id, ok
}

// TestImpostorDropped: where the transport authenticates peers, a request
// whose header claims another peer than the one the session proved is
// dropped, and the claimant never enters the table; honest peers join as
// before.
func TestImpostorDropped(t *testing.T) {
	const n = 8
	dir := directory{}
	c := &cluster{net: coretest.New(0)}
	c.net.DelayFn = linkDelay
	c.net.Peers = dir
	for i := range n {
		node := c.net.AddNode(i, core.DefaultConfig())
		d, err := dht.New(node, testConfig())
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, node)
		c.dhts = append(c.dhts, d)
		dir[coretest.Addr(i)] = node.ID()
	}
	// Node 7's sessions proved node 6's identity, not the one its messages
	// carry.
	liar := c.nodes[7]
	dir[coretest.Addr(7)] = c.nodes[6].ID()
	for i, node := range c.nodes {
		c.at(time.Duration(i) * 20 * time.Millisecond)
		now := c.net.Now()
		node.Start(now)
		if i > 0 {
			if err := c.dhts[i].Bootstrap(now, []dht.BootstrapPeer{{Addr: coretest.Addr(0)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.at(10 * time.Second)
	impostor := 0
	for _, o := range c.net.Events {
		if d, ok := o.Ev.(core.Drop); ok && d.Reason == core.ReasonImpostor {
			impostor++
		}
	}
	if impostor == 0 {
		t.Fatal("no message was dropped as from an impostor")
	}
	for i := range n - 1 {
		if _, ok := c.dhts[i].Table().Get(liar.ID()); ok {
			t.Fatalf("node %d admitted the impostor", i)
		}
		if i > 0 && c.dhts[i].Table().Len() == 0 {
			t.Fatalf("honest node %d has an empty table", i)
		}
	}
}

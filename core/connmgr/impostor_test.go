package connmgr_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
)

type directory map[netip.AddrPort]identity.PeerID

func (d directory) PeerID(a netip.AddrPort) (identity.PeerID, bool) {
	id, ok := d[a]
	return id, ok
}

// TestImpostorConnect: where the transport authenticates peers, a CONNECT
// (or ACCEPT) whose sender key is not the peer the session proved opens
// nothing and is dropped as from an impostor; honest dials still work.
func TestImpostorConnect(t *testing.T) {
	dir := directory{}
	c := &cluster{t: t, net: coretest.New(10 * time.Millisecond), addrs: map[netip.AddrPort]int{}}
	c.net.Peers = dir
	for i := range 3 {
		node := c.net.AddNode(i, core.DefaultConfig())
		m, err := connmgr.New(node, connmgr.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		node.Start(c.net.Now())
		c.nodes = append(c.nodes, node)
		c.ms = append(c.ms, m)
		c.addrs[coretest.Addr(i)] = i
		dir[coretest.Addr(i)] = node.ID()
	}
	dir[coretest.Addr(2)] = c.id(1) // node 2's session proved node 1's identity
	c.connect(1, 0)
	c.connect(2, 0)
	c.run(time.Second)
	if !c.ms[0].IsConnected(c.id(1)) || !c.ms[1].IsConnected(c.id(0)) {
		t.Fatal("honest dial failed")
	}
	if c.ms[0].IsConnected(c.id(2)) {
		t.Fatal("the impostor got a session")
	}
	if drops(c, 0)[core.ReasonImpostor] == 0 {
		t.Fatalf("no impostor drop at node 0: %v", drops(c, 0))
	}
}

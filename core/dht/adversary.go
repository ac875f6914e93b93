package dht

import (
	"net/netip"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Liar lets a node answer FIND_NODE and FIND_VALUE with what it wants
// rather than its closest peers: the routing-table poisoning, Sybil and
// eclipse roles of simulation (core/adversary) layer one over an
// otherwise honest DHT. A node without one (the default) is honest and
// pays one nil check per answer.
type Liar interface {
	// Nodes returns the NODES entries to send requester for target,
	// given the honest ones (closest first). It runs on the node's
	// driver; it may keep nothing of honest.
	Nodes(target identity.Key, requester identity.PeerID, from netip.AddrPort, honest []wire.DHTNode) []wire.DHTNode
}

// SetLiar makes the node answer through l (nil: honest).
func (d *DHT) SetLiar(l Liar) { d.liar = l }

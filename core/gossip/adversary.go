package gossip

import (
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Behavior lets a node deviate from the protocol while running the real
// component: the Byzantine roles of simulation (core/adversary) layer one
// over an otherwise honest Gossip. A node without one (the default) is
// honest and pays one nil check per message.
//
// Its methods run on the node's driver, inside the component's handlers:
// like an environment call, they must not run a handler of this node.
type Behavior interface {
	// Relay reports whether the node passes on a message it holds: pushes
	// and announces it, and serves it to IWANTs. sender is the message's
	// original publisher.
	Relay(id ID, sender identity.PeerID) bool
	// Accepted is called with every valid new message the node accepts
	// from a peer, before it is forwarded. m is the copy as received (TTL
	// and hop count as they arrived); it must not be modified or retained.
	Accepted(now time.Time, m *wire.Gossip)
}

// SetBehavior makes the node follow b instead of the protocol where b
// says so (nil: honest). Call it before Start.
func (g *Gossip) SetBehavior(b Behavior) { g.behavior = b }

// relays reports whether e may be passed on.
func (g *Gossip) relays(e *entry) bool {
	return g.behavior == nil || g.behavior.Relay(e.msg.id, e.msg.origin())
}

// Peers returns the peers the component gossips with now, for a behaviour
// that sends on its own. The slice must not be modified.
func (g *Gossip) Peers() []Peer { return g.peers.GossipPeers() }

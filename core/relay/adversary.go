package relay

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/wire"
)

// Cheat lets a relay deviate from the protocol for the messages it is
// asked to relay: the relay-cheat role of simulation (core/adversary)
// layers one over an otherwise honest Relay. A relay without one (the
// default) is honest and pays one nil check per relayed message.
type Cheat interface {
	// Forward is called with a verified message this node is on the path
	// of, before it is handed off. Returning false takes the message
	// over: the relay then does nothing more with it (no hand-off, no
	// receipt, no state), and the cheat may send what it likes through
	// the node. It runs on the node's driver; m must not be retained.
	Forward(now time.Time, from netip.AddrPort, m *wire.RelayData) bool
}

// SetCheat makes the relay consult c before relaying (nil: honest).
func (r *Relay) SetCheat(c Cheat) { r.cheat = c }

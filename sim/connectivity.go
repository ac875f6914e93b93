package sim

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core"
)

// nodeConnectivity is node i's core.Connectivity under the NAT model:
// STUN, UPnP and TURN against the simulated NAT boxes and servers.
// World.Env gives one to every node when the NAT model is on (nil
// otherwise). A public node gets a working one too: its STUN queries
// report its own address and NATOpen, MapPort fails with ErrNoGateway, and
// it may allocate relays like anyone.
//
// Every method only starts the operation: requests become packets or
// timers on the engine, and done runs later as a new input to the node
// (an engine event), never inside the call. Results of an operation
// started before the node crashed are discarded, like its timers.
type nodeConnectivity struct{ sn *simNode }

var _ core.Connectivity = nodeConnectivity{}

// QueryMapping implements core.Connectivity (see natWorld.queryMapping).
func (c nodeConnectivity) QueryMapping(server netip.AddrPort, discover bool, done func(core.MappingResult)) {
	c.sn.w.nat.queryMapping(c.sn.idx, server, discover, done)
}

// MapPort implements core.Connectivity (see natWorld.mapPort).
func (c nodeConnectivity) MapPort(lease time.Duration, done func(core.PortMapping)) {
	c.sn.w.nat.mapPort(c.sn.idx, lease, done)
}

// AllocateRelay implements core.Connectivity (see natWorld.allocateRelay).
func (c nodeConnectivity) AllocateRelay(server netip.AddrPort, done func(core.RelayAllocation)) {
	c.sn.w.nat.allocateRelay(c.sn.idx, server, done)
}

// PermitRelay implements core.Connectivity (see natWorld.permitRelay).
func (c nodeConnectivity) PermitRelay(peer netip.Addr) {
	c.sn.w.nat.permitRelay(c.sn.idx, peer)
}

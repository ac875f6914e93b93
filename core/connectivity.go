package core

import (
	"net/netip"
	"time"
)

// NATType is the behaviour class of the NAT in front of a node, as the plan's
// five types (RFC 3489 names, derived from RFC 5780 mapping and filtering tests).
type NATType uint8

// NAT types.
const (
	NATUnknown        NATType = iota
	NATOpen                   // no NAT: public address equals local address
	NATFullCone               // endpoint-independent mapping and filtering
	NATRestrictedCone         // endpoint-independent mapping, address-dependent filtering
	NATPortRestricted         // endpoint-independent mapping, address-and-port-dependent filtering
	NATSymmetric              // address(-and-port)-dependent mapping
)

var natNames = [...]string{"unknown", "open", "full-cone", "restricted-cone", "port-restricted", "symmetric"}

// String returns the type's scenario/trace name.
func (t NATType) String() string {
	if int(t) < len(natNames) {
		return natNames[t]
	}
	return "invalid"
}

// MappingResult is the answer to a public-address query (a STUN binding
// request, RFC 8489 §14.2 XOR-MAPPED-ADDRESS), plus, when behaviour
// discovery ran, the NAT type (RFC 5780 §4).
type MappingResult struct {
	Public netip.AddrPort
	Type   NATType
	Took   time.Duration
	Err    error
}

// PortMapping is a port forwarded on a gateway (UPnP IGD or NAT-PMP).
type PortMapping struct {
	External netip.AddrPort
	Lease    time.Duration
	Err      error
}

// RelayAllocation is a relayed transport address (a TURN allocation, RFC 8656 §7).
type RelayAllocation struct {
	Relayed netip.AddrPort
	Err     error
}

// Connectivity is the small set of NAT traversal primitives the environment
// provides. transport/ implements it with pion/stun, goupnp and pion/turn;
// sim/ implements it against its NAT model.
//
// Every method only starts the operation: the result is delivered later by
// calling done as a new input to the node, never before the method returns.
type Connectivity interface {
	// QueryMapping asks a STUN server how the node's address appears from
	// outside and, if discover is set, classifies the NAT (RFC 5780).
	QueryMapping(server netip.AddrPort, discover bool, done func(MappingResult))
	// MapPort asks the local gateway to forward the node's port for lease.
	MapPort(lease time.Duration, done func(PortMapping))
	// AllocateRelay asks a relay (TURN) server for a relayed address.
	AllocateRelay(server netip.AddrPort, done func(RelayAllocation))
}

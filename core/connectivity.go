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

// Behavior is an RFC 4787 mapping or filtering behaviour, as RFC 5780
// behaviour discovery measures it.
type Behavior uint8

// Behaviours (RFC 4787 §4.1 mapping, §5 filtering).
const (
	BehaviorUnknown              Behavior = iota
	BehaviorEndpointIndependent           // "endpoint-independent"
	BehaviorAddressDependent              // "address-dependent"
	BehaviorAddressPortDependent          // "address-and-port-dependent"
)

var behaviorNames = [...]string{"unknown", "endpoint-independent", "address-dependent", "address-and-port-dependent"}

// String returns the behaviour's RFC 4787 name.
func (b Behavior) String() string {
	if int(b) < len(behaviorNames) {
		return behaviorNames[b]
	}
	return "invalid"
}

// Classify derives the plan's NAT type from RFC 5780 results: open when the
// public endpoint equals the local one, symmetric when the mapping is not
// endpoint-independent, otherwise the cone named by the filtering.
func Classify(local, public netip.AddrPort, mapping, filtering Behavior) NATType {
	switch {
	case local.IsValid() && local == public:
		return NATOpen
	case mapping == BehaviorAddressDependent || mapping == BehaviorAddressPortDependent:
		return NATSymmetric
	case mapping != BehaviorEndpointIndependent:
		return NATUnknown
	}
	switch filtering {
	case BehaviorEndpointIndependent:
		return NATFullCone
	case BehaviorAddressDependent:
		return NATRestrictedCone
	case BehaviorAddressPortDependent:
		return NATPortRestricted
	}
	return NATUnknown
}

// MappingResult is the answer to a public-address query (a STUN binding
// request, RFC 8489 §14.2 XOR-MAPPED-ADDRESS), plus, when behaviour
// discovery ran, the measured behaviours and the NAT type (RFC 5780 §4).
// Took is the time from the call to the result, in the node's clock.
type MappingResult struct {
	Public    netip.AddrPort
	Mapping   Behavior
	Filtering Behavior
	Type      NATType
	Took      time.Duration
	Err       error
}

// PortMapping is a port forwarded on a gateway (UPnP IGD or NAT-PMP).
// The implementation renews the lease until the node stops, and deletes
// the mapping on shutdown.
type PortMapping struct {
	External netip.AddrPort
	Lease    time.Duration
	Took     time.Duration
	Err      error
}

// RelayAllocation is a relayed transport address (a TURN allocation, RFC 8656 §7).
// Lifetime is what the server granted; the implementation refreshes the
// allocation (and the permissions on it) until the node stops.
type RelayAllocation struct {
	Relayed  netip.AddrPort
	Lifetime time.Duration
	Took     time.Duration
	Err      error
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
	// PermitRelay installs a permission for peer's IP address on the node's
	// relay allocation (RFC 8656 §9: permissions are per IP, any port), so
	// that packets from that IP to the relayed address reach the node; and
	// from then on every Send to that IP leaves through the relay, so the
	// peer sees it come from the relayed address. Without an allocation it
	// does nothing. The permission is refreshed while the allocation lives.
	PermitRelay(peer netip.Addr)
}

package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
)

// NAT model: address plan.
//
// A node behind a NAT keeps its private address Addr(i) (10.0.0.0/8, port
// Port) as its LocalAddr, but nobody outside can reach that address: what
// others see as the source of its packets is its NAT box's external
// endpoint, NATAddr(i) and a port the box assigned. NAT public addresses
// are taken from 100.64.0.0/10 (RFC 6598 shared address space, the range a
// carrier-grade NAT uses) by the same kind of bijection as Addr: node i's
// box is 100.64.0.0 + ((i+1) * addrMul mod 2^22), so the address plan has
// room for natMaxNodes NATed nodes and maps an address back to its node in
// O(1).
const (
	natBase    = 100<<24 | 64<<16 // 100.64.0.0
	natMask    = 1<<22 - 1        // host bits of 100.64.0.0/10
	natNetMask = ^uint32(natMask)
	// natMaxNodes bounds the index of a NATed node: node indices 0 to
	// natMaxNodes-1 have a public NAT address.
	natMaxNodes = 1<<22 - 2
)

// NATAddr returns the public IPv4 address of node i's NAT box (whether or
// not node i is configured behind one): an address in 100.64.0.0/10. It
// panics for i outside [0, 2^22-2), which NetConfig.Validate rules out for
// NATed nodes.
func NATAddr(i int) netip.Addr {
	if i < 0 || i >= natMaxNodes {
		panic(fmt.Sprintf("sim: NATAddr: node %d outside the 100.64.0.0/10 plan", i))
	}
	return ipv4(natIP(i))
}

// natIP is NATAddr(i) as a number.
func natIP(i int) uint32 { return natBase | uint32((uint64(i)+1)*addrMul)&natMask }

// natIndex inverts natIP; ok is false for an address outside the plan.
func natIndex(ip uint32) (int, bool) {
	if ip&natNetMask != natBase {
		return 0, false
	}
	i := int(uint64(ip&natMask)*addrInv&natMask) - 1
	return i, i >= 0 && i < natMaxNodes
}

// ipv4 converts a number to an address.
func ipv4(ip uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], ip)
	return netip.AddrFrom4(b)
}

// endpoint packs an IPv4 address (as a number) and a port.
func endpoint(ip uint32, port uint16) Endpoint { return Endpoint(uint64(ip)<<16 | uint64(port)) }

// IP returns the endpoint's IPv4 address as a number.
func (e Endpoint) IP() uint32 { return uint32(e >> 16) }

// Port returns the endpoint's port.
func (e Endpoint) Port() uint16 { return uint16(e) }

// AddrPort returns the endpoint as an address and port.
func (e Endpoint) AddrPort() netip.AddrPort { return netip.AddrPortFrom(ipv4(e.IP()), e.Port()) }

// String returns the endpoint in "a.b.c.d:port" form.
func (e Endpoint) String() string { return e.AddrPort().String() }

// Port assignment behaviours (RFC 4787 §4.2.1), as NATConfig.PortAssignment
// spells them.
const (
	// PortPreserve keeps the internal port (Port) as the external port when
	// it is free on the box, else takes the next free port above it ("port
	// preservation", RFC 4787 §4.2.1; REQ-3 does not require it, most home
	// NATs do it).
	PortPreserve = "preserve"
	// PortSequential gives each new mapping the next free port after the
	// previous one, from 1024 up, wrapping at 65535 (sequential
	// allocation, common in older CPEs; it lets a peer predict a symmetric
	// NAT's next port).
	PortSequential = "sequential"
	// PortRandom draws each new mapping's port uniformly from 1024-65535
	// (RFC 6056 port randomization; Linux --random-fully).
	PortRandom = "random"
)

// natPortMin and natPortMax bound the external ports a box assigns
// (RFC 4787 §4.2.1: the well-known range below 1024 is not used).
const (
	natPortMin   = 1024
	natPortMax   = 65535
	natPortCount = natPortMax - natPortMin + 1
)

// NATConfig describes the NAT box in front of one node, as RFC 4787 breaks
// a NAT's behaviour down. The zero value means no NAT: the node is public
// and reachable at Addr(i).
type NATConfig struct {
	// Mapping is the mapping behaviour (RFC 4787 §4.1): which external
	// endpoint the box gives the node's packets to a remote endpoint.
	// Endpoint-independent (EIM, REQ-1): the same one for every remote;
	// address-dependent: one per remote address; address-and-port-dependent:
	// one per remote endpoint. core.BehaviorUnknown (the zero value) means
	// no NAT.
	Mapping core.Behavior
	// Filtering is the filtering behaviour (RFC 4787 §5): which inbound
	// packets to an external endpoint the box lets through. Endpoint-
	// independent: any, while the mapping lives; address-dependent: from
	// an address the node sent to through that mapping; address-and-port-
	// dependent: from an endpoint it sent to. Required when Mapping is set.
	Filtering core.Behavior
	// Timeout is the binding timeout (RFC 4787 §4.3): a mapping, and each
	// filter permission on it, lives this long after the last outbound
	// packet that used it. Outbound packets refresh (REQ-6); inbound ones
	// do not. 0 means 120 s (REQ-5's minimum, and the usual value).
	Timeout time.Duration
	// PortAssignment is how the box picks the external port of a new
	// mapping: PortPreserve, PortSequential or PortRandom (RFC 4787
	// §4.2.1). "" means PortRandom for address(-and-port)-dependent mapping
	// and PortPreserve otherwise.
	PortAssignment string
	// UPnP puts an UPnP IGD gateway on the box (Connectivity.MapPort works).
	UPnP bool
	// MaxBindings bounds the mappings the box holds at once, and separately
	// the filter permissions; when full, the one closest to expiry is
	// evicted. 0 means 1024.
	MaxBindings int
}

// DefaultNATTimeout is the binding timeout of a NATConfig with Timeout 0.
const DefaultNATTimeout = 120 * time.Second

// defaultNATMaxBindings is the MaxBindings of a NATConfig with 0.
const defaultNATMaxBindings = 1024

// NATPreset returns the configuration of one of the plan's NAT types:
//
//	open (and unknown): no NAT (the zero NATConfig)
//	full-cone:          endpoint-independent mapping and filtering
//	restricted-cone:    endpoint-independent mapping, address-dependent filtering
//	port-restricted:    endpoint-independent mapping, address-and-port-dependent filtering
//	symmetric:          address-and-port-dependent mapping and filtering, random ports
//
// The cones preserve ports. Timeout and MaxBindings are left 0 (defaults),
// UPnP off.
func NATPreset(t core.NATType) NATConfig {
	eim := core.BehaviorEndpointIndependent
	switch t {
	case core.NATFullCone:
		return NATConfig{Mapping: eim, Filtering: core.BehaviorEndpointIndependent, PortAssignment: PortPreserve}
	case core.NATRestrictedCone:
		return NATConfig{Mapping: eim, Filtering: core.BehaviorAddressDependent, PortAssignment: PortPreserve}
	case core.NATPortRestricted:
		return NATConfig{Mapping: eim, Filtering: core.BehaviorAddressPortDependent, PortAssignment: PortPreserve}
	case core.NATSymmetric:
		return NATConfig{Mapping: core.BehaviorAddressPortDependent, Filtering: core.BehaviorAddressPortDependent, PortAssignment: PortRandom}
	}
	return NATConfig{}
}

// Enabled reports whether c describes a NAT (Mapping is set).
func (c NATConfig) Enabled() bool { return c.Mapping != core.BehaviorUnknown }

// Type returns the plan's NAT type c behaves as (core.Classify of its
// behaviours); NATOpen for no NAT.
func (c NATConfig) Type() core.NATType {
	if !c.Enabled() {
		return core.NATOpen
	}
	return core.Classify(netip.AddrPort{}, netip.AddrPort{}, c.Mapping, c.Filtering)
}

// withDefaults fills the zero fields of an enabled config.
func (c NATConfig) withDefaults() NATConfig {
	if c.Timeout == 0 {
		c.Timeout = DefaultNATTimeout
	}
	if c.MaxBindings == 0 {
		c.MaxBindings = defaultNATMaxBindings
	}
	if c.PortAssignment == "" {
		c.PortAssignment = PortPreserve
		if c.Mapping != core.BehaviorEndpointIndependent {
			c.PortAssignment = PortRandom
		}
	}
	return c
}

// validBehavior reports whether b is one of the three RFC 4787 behaviours.
func validBehavior(b core.Behavior) bool {
	return b >= core.BehaviorEndpointIndependent && b <= core.BehaviorAddressPortDependent
}

// validate reports whether c is usable; field names the config in errors
// (e.g. "NAT[3]"). Its errors wrap ErrNetConfig and name the field.
func (c NATConfig) validate(field string) error {
	if !c.Enabled() {
		if c.Filtering != core.BehaviorUnknown || c.Timeout != 0 || c.PortAssignment != "" || c.UPnP || c.MaxBindings != 0 {
			return fmt.Errorf("%w: %s.Mapping: unset (no NAT) but other fields are set", ErrNetConfig, field)
		}
		return nil
	}
	if !validBehavior(c.Mapping) {
		return fmt.Errorf("%w: %s.Mapping %d: unknown behaviour", ErrNetConfig, field, c.Mapping)
	}
	if !validBehavior(c.Filtering) {
		return fmt.Errorf("%w: %s.Filtering %q: must be endpoint-independent, address-dependent or address-and-port-dependent", ErrNetConfig, field, c.Filtering)
	}
	if c.Timeout < 0 || c.Timeout > 24*time.Hour {
		return fmt.Errorf("%w: %s.Timeout %v: must be in (0, 24h] (0 = %v)", ErrNetConfig, field, c.Timeout, DefaultNATTimeout)
	}
	switch c.PortAssignment {
	case "", PortPreserve, PortSequential, PortRandom:
	default:
		return fmt.Errorf("%w: %s.PortAssignment %q: unknown (want %s, %s or %s)", ErrNetConfig, field, c.PortAssignment, PortPreserve, PortSequential, PortRandom)
	}
	if c.MaxBindings < 0 || c.MaxBindings > natPortCount-1 {
		return fmt.Errorf("%w: %s.MaxBindings %d: must be in [1, %d] (0 = %d)", ErrNetConfig, field, c.MaxBindings, natPortCount-1, defaultNATMaxBindings)
	}
	return nil
}

// Validate reports whether c is usable; its errors wrap ErrNetConfig and
// name the field.
func (c NATConfig) Validate() error { return c.validate("NAT") }

// NAT is the NAT box in front of one node: an RFC 4787 NAPT with one
// internal endpoint (the node's Addr(i)) and one public address. It is a
// network element like Filter: it takes a packet and translates it, lets it
// through or drops it; it reads no clock (now is passed in, a duration
// since Epoch) and draws random ports only from the rng it was given.
//
// State is bounded: at most MaxBindings mappings and MaxBindings filter
// permissions. Expired entries are purged lazily when the box next sees an
// outbound packet at or after the earliest expiry; a full table evicts the
// entry closest to expiry (never an UPnP mapping). In the steady state
// neither direction allocates.
//
// Not safe for concurrent use.
type NAT struct {
	ip        uint32
	mapMask   uint64 // the part of a remote endpoint that selects a mapping
	filtMask  uint64 // the part a permission matches on
	eif       bool   // endpoint-independent filtering: no permissions kept
	timeout   time.Duration
	assign    string
	upnp      bool
	max       int
	rng       *rand.Rand
	nextSeq   uint16 // PortSequential: the next port to try
	mappings  []natMapping
	perms     []natPerm
	nextPurge time.Duration // no entry expires before this
	stats     NATBoxStats
}

// natMapping is one binding (RFC 4787 §3: a mapping from the internal
// endpoint to an external port, selected by the masked remote endpoint).
type natMapping struct {
	key     uint64 // remote endpoint masked by mapMask (0 for EIM)
	port    uint16 // external port
	upnp    bool   // an UPnP port mapping: endpoint-independent filtering, expiry = lease
	expires time.Duration
}

// natPerm lets inbound packets from remote (masked by filtMask) through to
// the external port port: the filtering state of RFC 4787 §5.
type natPerm struct {
	remote  uint64
	port    uint16
	expires time.Duration
}

// NATBoxStats counts what one NAT box did.
type NATBoxStats struct {
	// MappingsCreated counts new mappings (not refreshes), UPnP ones included.
	MappingsCreated uint64
	// BindingsExpired counts mappings that timed out (counted when purged).
	BindingsExpired uint64
	// Evicted counts live mappings and permissions dropped because a table
	// was full.
	Evicted uint64
	// Passed counts inbound packets let through; NoMapping and Filtered
	// count those dropped because no live mapping had the port, or its
	// filter refused the source.
	Passed, NoMapping, Filtered uint64
	// Peak is the most mappings held at once.
	Peak int
}

// NewNAT returns a box with public address ip and no mapping. cfg must be
// enabled and valid; rng draws random ports (PortRandom) and may be nil
// otherwise.
func NewNAT(cfg NATConfig, ip netip.Addr, rng *rand.Rand) (*NAT, error) {
	if !cfg.Enabled() {
		return nil, fmt.Errorf("%w: NAT.Mapping: unset (no NAT)", ErrNetConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !ip.Is4() {
		return nil, fmt.Errorf("%w: NAT public address %v: not IPv4", ErrNetConfig, ip)
	}
	cfg = cfg.withDefaults()
	if cfg.PortAssignment == PortRandom && rng == nil {
		return nil, fmt.Errorf("%w: NAT.PortAssignment random: nil rng", ErrNetConfig)
	}
	b := ip.As4()
	n := &NAT{
		ip:       binary.BigEndian.Uint32(b[:]),
		mapMask:  behaviorMask(cfg.Mapping),
		filtMask: behaviorMask(cfg.Filtering),
		eif:      cfg.Filtering == core.BehaviorEndpointIndependent,
		timeout:  cfg.Timeout,
		assign:   cfg.PortAssignment,
		upnp:     cfg.UPnP,
		max:      cfg.MaxBindings,
		rng:      rng,
		nextSeq:  natPortMin,
	}
	return n, nil
}

// behaviorMask returns the part of a packed endpoint a behaviour looks at:
// nothing, the address, or address and port.
func behaviorMask(b core.Behavior) uint64 {
	switch b {
	case core.BehaviorAddressDependent:
		return (1<<32 - 1) << 16
	case core.BehaviorAddressPortDependent:
		return 1<<48 - 1
	}
	return 0
}

// PublicIP returns the box's public address.
func (n *NAT) PublicIP() netip.Addr { return ipv4(n.ip) }

// HasUPnP reports whether the box has an UPnP gateway.
func (n *NAT) HasUPnP() bool { return n.upnp }

// Timeout returns the binding timeout.
func (n *NAT) Timeout() time.Duration { return n.timeout }

// Stats returns the box's counters.
func (n *NAT) Stats() NATBoxStats { return n.stats }

// Mappings returns the number of live mappings at now.
func (n *NAT) Mappings(now time.Duration) int {
	c := 0
	for i := range n.mappings {
		if now < n.mappings[i].expires {
			c++
		}
	}
	return c
}

// Outbound translates a packet the node sends at now to remote: it finds
// the mapping the box's mapping behaviour selects for remote, or creates
// one, refreshes it, opens or refreshes the filter permission for remote on
// it, and returns the external endpoint the packet leaves from.
//
// While an UPnP port mapping is live, every outbound packet uses it: like a
// PCP MAP mapping (RFC 6887 §11), a forwarded port is endpoint-independent
// in both directions, so peers that learned it see the node's replies come
// from it.
func (n *NAT) Outbound(now time.Duration, remote Endpoint) Endpoint {
	if now >= n.nextPurge {
		n.purge(now)
	}
	key := uint64(remote) & n.mapMask
	k := -1
	for i := range n.mappings {
		m := &n.mappings[i]
		if m.upnp {
			k = i
			break
		}
		if k < 0 && m.key == key {
			k = i
		}
	}
	expires := now + n.timeout
	var port uint16
	if k >= 0 {
		m := &n.mappings[k]
		if !m.upnp {
			m.expires = expires
		}
		port = m.port
	} else {
		port = n.allocPort()
		n.addMapping(natMapping{key: key, port: port, expires: expires})
	}
	if !n.eif {
		n.permit(now, port, uint64(remote)&n.filtMask, expires)
	}
	return endpoint(n.ip, port)
}

// addMapping appends m, evicting the dynamic mapping closest to expiry when
// the table is full, and counts it.
func (n *NAT) addMapping(m natMapping) {
	if len(n.mappings) >= n.max {
		k := -1
		for i := range n.mappings {
			if !n.mappings[i].upnp && (k < 0 || n.mappings[i].expires < n.mappings[k].expires) {
				k = i
			}
		}
		if k >= 0 {
			n.dropPerms(n.mappings[k].port)
			n.mappings[k] = n.mappings[len(n.mappings)-1]
			n.mappings = n.mappings[:len(n.mappings)-1]
			n.stats.Evicted++
		}
	}
	n.mappings = append(n.mappings, m)
	n.stats.MappingsCreated++
	n.stats.Peak = max(n.stats.Peak, len(n.mappings))
	n.nextPurge = min(n.nextPurge, m.expires)
}

// permit opens or refreshes the permission for remote (masked) on port.
func (n *NAT) permit(now time.Duration, port uint16, remote uint64, expires time.Duration) {
	for i := range n.perms {
		p := &n.perms[i]
		if p.port == port && p.remote == remote {
			p.expires = expires
			return
		}
	}
	if len(n.perms) >= n.max {
		k := 0
		for i := range n.perms {
			if n.perms[i].expires < n.perms[k].expires {
				k = i
			}
		}
		n.perms[k] = n.perms[len(n.perms)-1]
		n.perms = n.perms[:len(n.perms)-1]
		n.stats.Evicted++
	}
	n.perms = append(n.perms, natPerm{remote: remote, port: port, expires: expires})
	n.nextPurge = min(n.nextPurge, expires)
}

// dropPerms removes the permissions on port (its mapping is gone).
func (n *NAT) dropPerms(port uint16) {
	live := n.perms[:0]
	for _, p := range n.perms {
		if p.port != port {
			live = append(live, p)
		}
	}
	clear(n.perms[len(live):])
	n.perms = live
}

// purge drops the entries expired at now and recomputes nextPurge. Order
// within the tables is kept, so which entry a scan finds first depends only
// on the node's own traffic.
func (n *NAT) purge(now time.Duration) {
	next := time.Duration(1<<63 - 1)
	live := n.mappings[:0]
	for _, m := range n.mappings {
		if m.expires <= now {
			n.stats.BindingsExpired++
			continue
		}
		next = min(next, m.expires)
		live = append(live, m)
	}
	clear(n.mappings[len(live):])
	n.mappings = live
	lp := n.perms[:0]
	for _, p := range n.perms {
		if p.expires <= now || !n.hasPort(p.port) {
			continue
		}
		next = min(next, p.expires)
		lp = append(lp, p)
	}
	clear(n.perms[len(lp):])
	n.perms = lp
	n.nextPurge = next
}

// hasPort reports whether a mapping holds port.
func (n *NAT) hasPort(port uint16) bool {
	for i := range n.mappings {
		if n.mappings[i].port == port {
			return true
		}
	}
	return false
}

// allocPort picks a free external port by the box's assignment behaviour.
// The tables hold fewer than natPortCount mappings (MaxBindings is
// bounded), so a free port always exists.
func (n *NAT) allocPort() uint16 {
	switch n.assign {
	case PortRandom:
		for range 16 {
			p := uint16(natPortMin + n.rng.IntN(natPortCount))
			if !n.hasPort(p) {
				return p
			}
		}
		return n.scanFree(uint16(natPortMin + n.rng.IntN(natPortCount)))
	case PortSequential:
		p := n.scanFree(n.nextSeq)
		n.nextSeq = p + 1
		if p == natPortMax {
			n.nextSeq = natPortMin
		}
		return p
	}
	return n.scanFree(Port)
}

// scanFree returns the first free port at or above from, wrapping from
// natPortMax to natPortMin.
func (n *NAT) scanFree(from uint16) uint16 {
	p := from
	for range natPortCount {
		if !n.hasPort(p) {
			return p
		}
		if p == natPortMax {
			p = natPortMin
		} else {
			p++
		}
	}
	panic("sim: NAT: no free port") // unreachable: MaxBindings < natPortCount
}

// Inbound decides the fate of a packet from remote arriving at now at the
// box's external port port: DropNATNoMapping if no live mapping holds the
// port, DropFiltered if the mapping's filter refuses remote, DropNone if it
// passes to the node. Inbound packets refresh nothing (RFC 4787 §4.3: the
// inbound refresh behaviour is left off, REQ-6 asks only for outbound).
func (n *NAT) Inbound(now time.Duration, port uint16, remote Endpoint) DropReason {
	k := -1
	for i := range n.mappings {
		if n.mappings[i].port == port && now < n.mappings[i].expires {
			k = i
			break
		}
	}
	if k < 0 {
		n.stats.NoMapping++
		return DropNATNoMapping
	}
	if n.eif || n.mappings[k].upnp {
		n.stats.Passed++
		return DropNone
	}
	key := uint64(remote) & n.filtMask
	for i := range n.perms {
		p := &n.perms[i]
		if p.port == port && p.remote == key && now < p.expires {
			n.stats.Passed++
			return DropNone
		}
	}
	n.stats.Filtered++
	return DropFiltered
}

// MapPort creates or renews the box's UPnP port mapping (UPnP IGD
// AddPortMapping) until now + lease and returns its external endpoint.
// The box asks for the node's own port, Port; a dynamic mapping already
// holding that port (it can only be the node's own: the box has one
// internal endpoint) becomes the port mapping. It fails if the box has no
// UPnP gateway.
func (n *NAT) MapPort(now time.Duration, lease time.Duration) (Endpoint, error) {
	if !n.upnp {
		return 0, ErrNoGateway
	}
	if now >= n.nextPurge {
		n.purge(now)
	}
	expires := now + lease
	for i := range n.mappings {
		m := &n.mappings[i]
		if m.port == Port {
			m.upnp = true
			m.key = 0
			m.expires = expires
			n.dropPerms(m.port)
			n.nextPurge = min(n.nextPurge, expires)
			return endpoint(n.ip, m.port), nil
		}
	}
	n.addMapping(natMapping{port: Port, upnp: true, expires: expires})
	return endpoint(n.ip, Port), nil
}

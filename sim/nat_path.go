package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// The packet path of the NAT model.
//
// When NetConfig turns the NAT model on (natEnabled), every packet a node
// sends takes this path instead of World.send's: it leaves through the
// sender's NAT box (which translates its source), is routed by its
// destination address, crosses the network model (Network.Uplink and
// Downlink: queues, latency, jitter, loss, partitions), and on arrival
// passes the receiver's NAT box (mapping table, then filter) or is handled
// by a simulated STUN or TURN server. Without the NAT model none of this
// runs: World.send only checks that World.nat is nil.
//
// Address plan (all IPv4; everything exists only inside the simulator):
//
//	10.0.0.0/8      Addr(i): node i's own address, port Port (4001). For a
//	                public node this is the address everyone uses; for a
//	                NATed node it is private: packets to it from elsewhere
//	                are dropped with DropNATPrivate.
//	                A STUN or TURN server node i also listens on its own
//	                address at STUNPort (3478) and, for STUN, STUNAltPort
//	                (3479); a TURN server's relayed addresses are its own
//	                address with ports from RelayPortMin (49152) up.
//	100.64.0.0/10   NATAddr(i): the public address of node i's NAT box
//	                (RFC 6598 shared space); any port, looked up in the
//	                box's mapping table.
//	198.18.0.0/15   the alternate address of the k-th STUN server
//	                (NetConfig.STUNServers[k]) for RFC 5780 tests:
//	                198.18.0.0 + k + 1, ports 3478 and 3479 (RFC 2544
//	                benchmarking space).
//
// Anything else is dropped with DropNoRoute.

// Ports and address ranges of the simulated servers.
const (
	// STUNPort is where STUN and TURN servers listen (RFC 8489 §9 and
	// RFC 8656 §4: 3478 for UDP).
	STUNPort = 3478
	// STUNAltPort is a STUN server's alternate port, which RFC 5780 §4.1
	// behaviour discovery needs beside the alternate address.
	STUNAltPort = 3479
	// RelayPortMin is the first relayed port a TURN server hands out; each
	// allocation gets the next free one (RFC 8656 §7.2 suggests the
	// dynamic range 49152-65535).
	RelayPortMin = 49152
	relayPorts   = 65536 - RelayPortMin

	altBase    = 198<<24 | 18<<16 // 198.18.0.0
	altMask    = 1<<17 - 1        // host bits of 198.18.0.0/15
	altNetMask = ^uint32(altMask)
	// maxSTUNServers is how many alternate addresses the plan has.
	maxSTUNServers = 1<<17 - 2
)

// Drop reasons of the NAT model.
const (
	// DropNATPrivate: addressed to a NATed node's private address from
	// outside its NAT.
	DropNATPrivate DropReason = "nat-private"
	// DropNATNoMapping: addressed to a NAT's public address at a port no
	// live mapping holds (never opened, or timed out).
	DropNATNoMapping DropReason = "nat-no-mapping"
	// DropTURNNoAllocation: addressed to a relayed address no live TURN
	// allocation holds, or a TURN request about such an allocation.
	DropTURNNoAllocation DropReason = "turn-no-allocation"
	// DropTURNNoPermission: relayed traffic to or from a peer address the
	// allocation has no permission for (RFC 8656 §9).
	DropTURNNoPermission DropReason = "turn-no-permission"
)

// STUNAddr returns the primary address of a STUN or TURN server at node
// i: its own address at STUNPort.
func STUNAddr(i int) netip.AddrPort { return netip.AddrPortFrom(Addr(i).Addr(), STUNPort) }

// TURNAddr returns the address of a TURN server at node i: the same as
// STUNAddr(i) (RFC 8656 §4: TURN shares STUN's port).
func TURNAddr(i int) netip.AddrPort { return STUNAddr(i) }

// nodeOfIP returns the node whose Addr has address ip (any port).
func nodeOfIP(ip uint32, nodes int) (int, bool) {
	if ip&^addrMask != addrBase {
		return 0, false
	}
	i := int(uint64(ip&addrMask)*addrInv&addrMask) - 1
	return i, i >= 0 && i < nodes
}

// altIP returns the alternate address of the k-th STUN server.
func altIP(k int) uint32 { return altBase + uint32(k) + 1 }

// Roles of a node in the NAT model (natWorld.role bits).
const (
	roleSTUN = 1 << iota
	roleTURN
)

// natSvc says what a packet's destination resolved to.
type natSvc uint8

const (
	svcNode   natSvc = iota // a public node's Addr: its core node (or Connectivity client)
	svcNAT                  // a NAT box's public address: through the box to its node
	svcServer               // a STUN/TURN server's port
	svcRelay                // a TURN relayed address
)

// natPacket is a packet on the NAT model's path. Control packets (STUN and
// TURN messages) carry msg and no data; they are modelled as typed
// messages of the size their RFC encoding would have, never handed to a
// core node.
type natPacket struct {
	from, to int      // sending and receiving node (for the network model)
	src, dst Endpoint // source as the receiver sees it; destination as addressed
	svc      natSvc
	size     int
	data     []byte
	msg      ctlMsg
}

// natWorld is the NAT model of a World: the boxes, the servers, the
// Connectivity clients and the packet path between them. One goroutine
// (the engine's) runs it all.
type natWorld struct {
	w           *World
	boxes       []*NAT        // per node; nil for public nodes
	role        []uint8       // per node: roleSTUN|roleTURN
	stunOrd     []int32       // per node: index in stunServers, -1 if none
	stunServers []int         // in NetConfig order
	turns       []*turnServer // per node; nil unless a TURN server
	clients     []*natClient  // per node, created on first use
	free        []*natPacket
	nextTxn     uint64
	stats       NATStats
}

// natEnabled reports whether cfg turns the NAT model on: a NAT list or a
// STUN or TURN server is configured.
func natEnabled(cfg NetConfig) bool {
	return cfg.NAT != nil || len(cfg.STUNServers) > 0 || len(cfg.TURNServers) > 0
}

// validateNAT checks the NAT model's part of a NetConfig for nodes nodes.
func (c NetConfig) validateNAT(nodes int) error {
	if c.NAT != nil && len(c.NAT) != nodes {
		return fmt.Errorf("%w: NAT: %d entries, want one per node (%d) or nil", ErrNetConfig, len(c.NAT), nodes)
	}
	natted := func(i int) bool { return c.NAT != nil && c.NAT[i].Enabled() }
	for i, nc := range c.NAT {
		if err := nc.validate(fmt.Sprintf("NAT[%d]", i)); err != nil {
			return err
		}
		if !nc.Enabled() {
			continue
		}
		if i >= natMaxNodes {
			return fmt.Errorf("%w: NAT[%d]: node index beyond the 100.64.0.0/10 plan (at most %d NATed nodes)", ErrNetConfig, i, natMaxNodes)
		}
		if c.Private != nil && c.Private[i] {
			return fmt.Errorf("%w: NAT[%d]: node is also Private (a NAT already filters; use one or the other)", ErrNetConfig, i)
		}
	}
	if len(c.STUNServers) > maxSTUNServers {
		return fmt.Errorf("%w: STUNServers: %d servers, the 198.18.0.0/15 plan has room for %d", ErrNetConfig, len(c.STUNServers), maxSTUNServers)
	}
	for _, f := range []struct {
		name  string
		nodes []int
	}{{"STUNServers", c.STUNServers}, {"TURNServers", c.TURNServers}} {
		for k, i := range f.nodes {
			switch {
			case i < 0 || i >= nodes:
				return fmt.Errorf("%w: %s[%d] = %d: not a node (want 0..%d)", ErrNetConfig, f.name, k, i, nodes-1)
			case slices.Contains(f.nodes[:k], i):
				return fmt.Errorf("%w: %s[%d] = %d: listed twice", ErrNetConfig, f.name, k, i)
			case natted(i):
				return fmt.Errorf("%w: %s[%d] = %d: a server must be public, but NAT[%d] is set", ErrNetConfig, f.name, k, i, i)
			case c.Private != nil && c.Private[i]:
				return fmt.Errorf("%w: %s[%d] = %d: a server must be public, but Private[%d] is set", ErrNetConfig, f.name, k, i, i)
			}
		}
	}
	return nil
}

// newNATWorld builds the NAT model of w from a validated cfg.
func newNATWorld(w *World, cfg NetConfig) (*natWorld, error) {
	n := len(w.nodes)
	nw := &natWorld{
		w:       w,
		boxes:   make([]*NAT, n),
		role:    make([]uint8, n),
		stunOrd: make([]int32, n),
		turns:   make([]*turnServer, n),
		clients: make([]*natClient, n),
	}
	for i := range nw.stunOrd {
		nw.stunOrd[i] = -1
	}
	for i, c := range cfg.NAT {
		if !c.Enabled() {
			continue
		}
		b, err := NewNAT(c, NATAddr(i), w.Rand(i, "nat"))
		if err != nil {
			return nil, err
		}
		nw.boxes[i] = b
	}
	nw.stunServers = slices.Clone(cfg.STUNServers)
	for k, i := range cfg.STUNServers {
		nw.role[i] |= roleSTUN
		nw.stunOrd[i] = int32(k)
	}
	for _, i := range cfg.TURNServers {
		nw.role[i] |= roleTURN
		nw.turns[i] = newTURNServer()
	}
	return nw, nil
}

// resolve routes a destination endpoint: the node whose network interface
// receives the packet and what it is there, or why it goes nowhere.
func (n *natWorld) resolve(dst Endpoint) (to int, svc natSvc, drop DropReason) {
	ip, port := dst.IP(), dst.Port()
	switch {
	case ip&^addrMask == addrBase:
		j, ok := nodeOfIP(ip, len(n.boxes))
		if !ok {
			break
		}
		switch {
		case port == Port:
			if n.boxes[j] != nil {
				return 0, 0, DropNATPrivate
			}
			return j, svcNode, DropNone
		case port == STUNPort && n.role[j] != 0,
			port == STUNAltPort && n.role[j]&roleSTUN != 0:
			return j, svcServer, DropNone
		case port >= RelayPortMin && n.role[j]&roleTURN != 0:
			return j, svcRelay, DropNone
		}
	case ip&natNetMask == natBase:
		if j, ok := natIndex(ip); ok && j < len(n.boxes) && n.boxes[j] != nil {
			return j, svcNAT, DropNone
		}
	case ip&altNetMask == altBase:
		k := int(ip&altMask) - 1
		if k >= 0 && k < len(n.stunServers) && (port == STUNPort || port == STUNAltPort) {
			return n.stunServers[k], svcServer, DropNone
		}
	}
	return 0, 0, DropNoRoute
}

// send is a core node's Transport.Send under the NAT model. A packet to an
// address the node's TURN allocation has a permission for leaves through
// the relay (see turnClient).
func (n *natWorld) send(from int, to netip.AddrPort, b []byte) {
	dst := EndpointOf(to)
	if c := n.clients[from]; c != nil && c.turn != nil && c.turn.permits(dst.IP()) {
		c.turn.sendVia(n, from, dst, b)
		return
	}
	n.emit(from, 0, dst, b, len(b), ctlMsg{})
}

// emit sends one packet from node from to dst. src is the source endpoint
// the packet leaves with; 0 means the node's own: Addr(from) for a public
// node, the endpoint its NAT box maps it to otherwise (which creates or
// refreshes the mapping, whatever happens to the packet next, as
// Network.Uplink does for a Filter). size is what the network model and
// NetStats count (data plus any encapsulation).
func (n *natWorld) emit(from int, src, dst Endpoint, data []byte, size int, msg ctlMsg) {
	w := n.w
	w.stats.Sent++
	w.stats.Bytes += uint64(size)
	if w.net.IsDown(from) {
		w.drop(DropDown)
		return
	}
	if w.net.mtu > 0 && size > w.net.mtu {
		w.drop(DropMTU)
		return
	}
	now := w.eng.Now()
	if src == 0 {
		if b := n.boxes[from]; b != nil {
			src = b.Outbound(now, dst)
		} else {
			src = nodeEndpoint(from)
		}
	}
	to, svc, reason := n.resolve(dst)
	if reason != DropNone {
		n.dropInbound(reason)
		return
	}
	at, reason := w.net.Uplink(now, from, to, size)
	if reason != DropNone {
		w.drop(reason)
		return
	}
	pk := natPacket{from: from, to: to, src: src, dst: dst, svc: svc, size: size, data: data, msg: msg}
	if w.chaos != nil && len(w.chaos.links) > 0 {
		n.emitFaulty(pk, at)
		return
	}
	n.schedule(pk, at)
}

// schedule puts a copy of pk on the engine, arriving at at.
func (n *natWorld) schedule(pk natPacket, at time.Duration) {
	var p *natPacket
	if k := len(n.free); k > 0 {
		p, n.free = n.free[k-1], n.free[:k-1]
	} else {
		p = new(natPacket)
	}
	*p = pk
	n.w.eng.Schedule(at, n, evArrive, p)
}

// dropInbound counts a drop of the NAT model's own reasons.
func (n *natWorld) dropInbound(r DropReason) {
	n.w.drop(r)
	switch r {
	case DropNATPrivate:
		n.stats.DroppedPrivate++
	case DropTURNNoAllocation:
		n.stats.TURNNoAllocation++
	case DropTURNNoPermission:
		n.stats.TURNNoPermission++
	}
}

// HandleEvent implements Handler for arrivals and deliveries on the NAT
// model's path, as World.HandleEvent does on the plain one.
func (n *natWorld) HandleEvent(kind int, data any) {
	p := data.(*natPacket)
	eng := n.w.eng
	if kind == evArrive {
		if at := n.w.net.Downlink(eng.Now(), p.to, p.size); at > eng.Now() {
			eng.Schedule(at, n, evDeliver, p)
			return
		}
	}
	n.deliver(p)
}

// deliver hands an arrived packet to its receiver: through the receiving
// NAT box to a node, or to a server.
func (n *natWorld) deliver(p *natPacket) {
	w := n.w
	now := w.eng.Now()
	switch {
	case w.net.IsDown(p.to):
		w.drop(DropDown)
	case w.net.Blocked(p.from, p.to):
		w.drop(DropPartition)
	case w.net.Filtered(now, p.from, p.to):
		w.drop(DropFiltered)
	default:
		switch p.svc {
		case svcNAT:
			if r := n.boxes[p.to].Inbound(now, p.dst.Port(), p.src); r != DropNone {
				w.drop(r)
				break
			}
			n.atNode(p)
		case svcNode:
			n.atNode(p)
		case svcServer:
			n.atServer(p)
		case svcRelay:
			n.atRelay(p)
		}
	}
	*p = natPacket{}
	n.free = append(n.free, p)
}

// atNode delivers a packet that reached node p.to: application data to its
// core node with the translated source, control messages to its
// Connectivity client.
func (n *natWorld) atNode(p *natPacket) {
	w := n.w
	w.stats.Delivered++
	if p.msg.kind == ctlNone {
		if node := w.nodes[p.to].node; node != nil {
			node.HandlePacket(w.NodeTime(p.to), p.src.AddrPort(), p.data)
		}
		return
	}
	n.client(p.to).receive(n, p)
}

// atServer hands a packet to the STUN/TURN server at node p.to.
func (n *natWorld) atServer(p *natPacket) {
	n.w.stats.Delivered++
	switch p.msg.kind {
	case ctlBindingRequest:
		n.stunRespond(p)
	case ctlAllocateRequest, ctlRefreshRequest, ctlPermissionRequest, ctlSendIndication:
		if n.turns[p.to] == nil || p.dst.Port() != STUNPort || p.dst.IP() != nodeEndpoint(p.to).IP() {
			n.dropInbound(DropNoRoute)
			return
		}
		n.turns[p.to].handle(n, p)
	default:
		n.dropInbound(DropNoRoute) // application data or a response: nobody listens
	}
}

// client returns node i's Connectivity client state, creating it.
func (n *natWorld) client(i int) *natClient {
	c := n.clients[i]
	if c == nil {
		c = &natClient{}
		n.clients[i] = c
	}
	return c
}

// crash forgets node i's Connectivity sessions: pending transactions are
// abandoned, UPnP renewals and TURN refreshes stop. Its NAT box keeps its
// bindings until they time out, as a real box does when a host dies.
func (n *natWorld) crash(i int) {
	if c := n.clients[i]; c != nil {
		c.reset()
	}
}

// post runs f as a new input to node i after the current event, unless
// the node has crashed since incarnation inc.
func (n *natWorld) post(i int, inc uint32, f func()) { n.after(0, i, inc, f) }

// NATStats counts what the NAT model did, over all boxes and servers.
type NATStats struct {
	// NATs is the number of NATed nodes.
	NATs int
	// MappingsCreated, BindingsExpired, Evicted, InboundPassed,
	// DroppedNoMapping and DroppedFiltered add up the boxes' NATBoxStats;
	// PeakMappings is the largest box's peak.
	MappingsCreated, BindingsExpired, Evicted uint64
	InboundPassed                             uint64
	DroppedNoMapping, DroppedFiltered         uint64
	PeakMappings                              int
	// DroppedPrivate counts packets to a NATed node's private address.
	DroppedPrivate uint64
	// UPnP: port mappings made, renewals, and requests that found no gateway.
	UPnPMappings, UPnPRenewals, UPnPFailures uint64
	// STUN: QueryMapping calls, transactions started by clients, requests
	// sent (retransmissions included), transactions that timed out, and
	// responses sent by servers.
	STUNQueries, STUNTransactions, STUNRequests, STUNTimeouts, STUNResponses uint64
	// TURN: added up over the servers (see TURNServerStats).
	TURNAllocations, TURNRefreshes, TURNPermissions uint64
	TURNRelayedPackets, TURNRelayedBytes            uint64
	TURNNoAllocation, TURNNoPermission              uint64
}

// NATStats returns the NAT model's counters (all zero when it is off).
func (w *World) NATStats() NATStats {
	if w.nat == nil {
		return NATStats{}
	}
	s := w.nat.stats
	for _, b := range w.nat.boxes {
		if b == nil {
			continue
		}
		s.NATs++
		bs := b.Stats()
		s.MappingsCreated += bs.MappingsCreated
		s.BindingsExpired += bs.BindingsExpired
		s.Evicted += bs.Evicted
		s.InboundPassed += bs.Passed
		s.DroppedNoMapping += bs.NoMapping
		s.DroppedFiltered += bs.Filtered
		s.PeakMappings = max(s.PeakMappings, bs.Peak)
	}
	for _, t := range w.nat.turns {
		if t == nil {
			continue
		}
		s.TURNAllocations += t.stats.Allocations
		s.TURNRefreshes += t.stats.Refreshes
		s.TURNPermissions += t.stats.Permissions
		s.TURNRelayedPackets += t.stats.RelayedPackets
		s.TURNRelayedBytes += t.stats.RelayedBytes
	}
	return s
}

// NATEnabled reports whether the NAT model is on.
func (w *World) NATEnabled() bool { return w.nat != nil }

// NAT returns node i's NAT box, or nil for a public node (or when the NAT
// model is off).
func (w *World) NAT(i int) *NAT {
	if w.nat == nil {
		return nil
	}
	return w.nat.boxes[i]
}

// TURNStats returns the counters of the TURN server at node i; ok is false
// if node i runs none.
func (w *World) TURNStats(i int) (s TURNServerStats, ok bool) {
	if w.nat == nil || w.nat.turns[i] == nil {
		return TURNServerStats{}, false
	}
	t := w.nat.turns[i]
	s = t.stats
	s.Active = t.active(w.eng.Now())
	return s, true
}

// STUNAltAddr returns the alternate address (RFC 5780 §4.1: another IP
// and port) of the STUN server at node i; ok is false if node i runs none.
func (w *World) STUNAltAddr(i int) (a netip.AddrPort, ok bool) {
	if w.nat == nil || w.nat.stunOrd[i] < 0 {
		return netip.AddrPort{}, false
	}
	return endpoint(altIP(int(w.nat.stunOrd[i])), STUNAltPort).AddrPort(), true
}

// NodeOf returns the node an address belongs to, as far as the address
// plan tells: a node's own Addr, or any port of a NAT box's public address
// (its node). Other addresses (server ports, relayed addresses) belong to
// no node here.
func (w *World) NodeOf(a netip.AddrPort) (int, bool) {
	if i, ok := w.Index(a); ok {
		return i, true
	}
	e := EndpointOf(a)
	if e == 0 || w.nat == nil {
		return 0, false
	}
	if i, ok := natIndex(e.IP()); ok && i < len(w.nodes) && w.nat.boxes[i] != nil {
		return i, true
	}
	return 0, false
}

// PublicAddr returns the address others reach node i's protocol port at,
// as far as static configuration tells: Addr(i) for a public node; for a
// NATed node its NAT's address with Port (correct for a port-preserving
// box once the node has sent, or after an UPnP mapping). Protocol code
// learns the real one with Connectivity.QueryMapping.
func (w *World) PublicAddr(i int) netip.AddrPort {
	if w.nat == nil || w.nat.boxes[i] == nil {
		return Addr(i)
	}
	return netip.AddrPortFrom(NATAddr(i), Port)
}

// now returns the virtual time.
func (n *natWorld) now() time.Duration { return n.w.eng.Now() }

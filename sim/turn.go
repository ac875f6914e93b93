package sim

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
)

// Simulated TURN (RFC 8656).
//
// A TURN server at node s listens at STUNAddr(s) (it answers plain Binding
// requests too). An Allocate from a client creates an allocation bound to
// the client's transport address as the server sees it (the 5-tuple of
// RFC 8656 §2; behind a NAT, the NAT's mapping towards the server) and
// gives it a relayed transport address: s's own address with the next
// free port from RelayPortMin. Allocations live turnLifetime (600 s, the
// default of §7.2) after the last Allocate or Refresh; permissions
// (CreatePermission, §9) are per peer IP address, any port, and live
// turnPermLifetime (300 s, §9).
//
// Relaying (§11, Send and Data indications; the simulator does not model
// ChannelData, whose only difference is a 4-byte header):
//
//   - a packet from a peer to the relayed address crosses the network to
//     s (latency peer→s), is dropped with DropTURNNoAllocation if no live
//     allocation has the port, or DropTURNNoPermission if the peer's IP
//     has no permission; otherwise s sends it on to the client's transport
//     address as a Data indication (latency s→client, through the client's
//     NAT, where the client's binding to s lets it in), and the client
//     hands the data to its core node with from = the peer's endpoint as s
//     saw it;
//   - a packet the client sends to an address whose IP it permitted leaves
//     as a Send indication to s (through the client's NAT, refreshing its
//     binding), and s sends the data on from the relayed address to the
//     peer, who sees it come from the relayed address.
//
// Each leg is an ordinary packet of the network model: its own latency,
// loss, queues and partitions.
//
// The client side refreshes its allocation with a Refresh request every
// turnKeepalive (30 s) or every half binding timeout of its NAT box if
// that is shorter, so the box's binding to the server never times out; and
// re-sends CreatePermission for each permitted IP every turnPermRefresh
// (120 s), well within the 300 s lifetime.
const (
	turnLifetime     = 600 * time.Second
	turnPermLifetime = 300 * time.Second
	turnKeepalive    = 30 * time.Second
	turnPermRefresh  = 120 * time.Second
	// maxTURNPerms bounds the permissions of one allocation.
	maxTURNPerms = 1024
	// Sizes of the RFC encodings (header plus attributes, no
	// authentication): Allocate request (REQUESTED-TRANSPORT, LIFETIME),
	// its response (XOR-RELAYED-ADDRESS, LIFETIME, XOR-MAPPED-ADDRESS),
	// Refresh (LIFETIME), CreatePermission (XOR-PEER-ADDRESS), and the
	// overhead of a Send or Data indication (XOR-PEER-ADDRESS, DATA header).
	turnAllocateSize   = stunHdr + 8 + 8
	turnAllocatedSize  = stunHdr + stunAttrIP4 + 8 + stunAttrIP4
	turnRefreshSize    = stunHdr + 8
	turnPermissionSize = stunHdr + stunAttrIP4
	turnIndOverhead    = stunHdr + stunAttrIP4 + 4
)

// TURNServerStats counts what one TURN server did.
type TURNServerStats struct {
	// Allocations counts allocations created; Refreshes, Refresh requests
	// served; Permissions, CreatePermission requests served.
	Allocations, Refreshes, Permissions uint64
	// RelayedPackets and RelayedBytes count data relayed, both directions
	// (bytes of application data, without TURN overhead).
	RelayedPackets, RelayedBytes uint64
	// NoAllocation and NoPermission count packets dropped for those reasons.
	NoAllocation, NoPermission uint64
	// Active is the number of live allocations (filled in by
	// World.TURNStats).
	Active int
}

// turnServer is the server state at one TURN node.
type turnServer struct {
	allocs []turnAlloc
	byPort []int32 // relayed port - RelayPortMin -> index+1 in allocs, 0 = none
	next   int     // the next port offset to try
	stats  TURNServerStats
}

// turnAlloc is one allocation.
type turnAlloc struct {
	client  Endpoint // the client's transport address as the server sees it
	port    uint16   // relayed port
	expires time.Duration
	perms   []turnPerm
}

// turnPerm is a permission: peer IP and expiry.
type turnPerm struct {
	ip      uint32
	expires time.Duration
}

func newTURNServer() *turnServer { return &turnServer{} }

// active returns the number of live allocations at now.
func (t *turnServer) active(now time.Duration) int {
	c := 0
	for i := range t.allocs {
		if now < t.allocs[i].expires {
			c++
		}
	}
	return c
}

// alloc returns the live allocation with relayed port port, or nil.
func (t *turnServer) alloc(now time.Duration, port uint16) *turnAlloc {
	if port < RelayPortMin || t.byPort == nil {
		return nil
	}
	k := t.byPort[port-RelayPortMin]
	if k == 0 {
		return nil
	}
	a := &t.allocs[k-1]
	if now >= a.expires {
		return nil
	}
	return a
}

// permits reports whether a has a live permission for ip.
func (a *turnAlloc) permits(now time.Duration, ip uint32) bool {
	for _, p := range a.perms {
		if p.ip == ip && now < p.expires {
			return true
		}
	}
	return false
}

// handle serves a TURN request or Send indication that reached server
// p.to at its primary address.
func (t *turnServer) handle(n *natWorld, p *natPacket) {
	now := n.now()
	s := p.to
	reply := func(m ctlMsg, size int) {
		m.txn = p.msg.txn
		n.emit(s, endpoint(nodeEndpoint(s).IP(), STUNPort), p.src, nil, size, m)
	}
	if p.msg.kind == ctlAllocateRequest {
		port, ok := t.allocate(now, p.src)
		if !ok {
			reply(ctlMsg{kind: ctlErrorResponse}, stunHdr+8)
			return
		}
		reply(ctlMsg{kind: ctlAllocateResponse, addr: endpoint(nodeEndpoint(s).IP(), port), lifetime: turnLifetime}, turnAllocatedSize)
		return
	}
	// Every other message is about the sender's allocation. The client
	// names its relayed port; the server checks that the allocation
	// belongs to the sender's 5-tuple (RFC 8656 §2), as looking it up by
	// 5-tuple would.
	a := t.alloc(now, p.msg.relay)
	if a == nil || a.client != p.src {
		t.stats.NoAllocation++
		n.dropInbound(DropTURNNoAllocation)
		if p.msg.kind != ctlSendIndication {
			reply(ctlMsg{kind: ctlErrorResponse}, stunHdr+8) // 437 Allocation Mismatch
		}
		return
	}
	switch p.msg.kind {
	case ctlRefreshRequest:
		a.expires = now + turnLifetime
		t.stats.Refreshes++
		reply(ctlMsg{kind: ctlRefreshResponse, lifetime: turnLifetime}, turnRefreshSize)
	case ctlPermissionRequest:
		a.permit(now, p.msg.addr.IP())
		t.stats.Permissions++
		reply(ctlMsg{kind: ctlPermissionResponse}, stunHdr)
	case ctlSendIndication:
		peer := p.msg.addr
		if !a.permits(now, peer.IP()) {
			t.stats.NoPermission++
			n.dropInbound(DropTURNNoPermission)
			return
		}
		t.stats.RelayedPackets++
		t.stats.RelayedBytes += uint64(len(p.data))
		n.emit(s, endpoint(nodeEndpoint(s).IP(), a.port), peer, p.data, len(p.data), ctlMsg{})
	}
}

// allocate returns the relayed port of client's live allocation, or makes
// one on the next free port; ok is false when every port is taken.
func (t *turnServer) allocate(now time.Duration, client Endpoint) (port uint16, ok bool) {
	for i := range t.allocs {
		if a := &t.allocs[i]; a.client == client && now < a.expires {
			// A retransmitted Allocate (RFC 8656 §7.2 answers it with the
			// same success response).
			return a.port, true
		}
	}
	if t.byPort == nil {
		t.byPort = make([]int32, relayPorts)
	}
	for k := range relayPorts {
		off := (t.next + k) % relayPorts
		slot := t.byPort[off]
		if slot != 0 && now < t.allocs[slot-1].expires {
			continue
		}
		t.next = off + 1
		a := turnAlloc{client: client, port: uint16(RelayPortMin + off), expires: now + turnLifetime}
		if slot != 0 {
			a.perms = t.allocs[slot-1].perms[:0]
			t.allocs[slot-1] = a
		} else {
			t.allocs = append(t.allocs, a)
			t.byPort[off] = int32(len(t.allocs))
		}
		t.stats.Allocations++
		return a.port, true
	}
	return 0, false
}

// permit installs or refreshes the permission for ip.
func (a *turnAlloc) permit(now time.Duration, ip uint32) {
	live := a.perms[:0]
	found := false
	for _, p := range a.perms {
		if p.ip == ip {
			p.expires = now + turnPermLifetime
			found = true
		}
		if now < p.expires {
			live = append(live, p)
		}
	}
	a.perms = live
	if !found && len(a.perms) < maxTURNPerms {
		a.perms = append(a.perms, turnPerm{ip: ip, expires: now + turnPermLifetime})
	}
}

// atRelay handles a packet that reached a relayed address of server p.to.
func (n *natWorld) atRelay(p *natPacket) {
	t := n.turns[p.to]
	now := n.now()
	a := t.alloc(now, p.dst.Port())
	switch {
	case a == nil:
		t.stats.NoAllocation++
		n.dropInbound(DropTURNNoAllocation)
	case !a.permits(now, p.src.IP()):
		t.stats.NoPermission++
		n.dropInbound(DropTURNNoPermission)
	case p.msg.kind != ctlNone:
		n.dropInbound(DropNoRoute) // only data is relayed
	default:
		n.w.stats.Delivered++
		t.stats.RelayedPackets++
		t.stats.RelayedBytes += uint64(len(p.data))
		ind := ctlMsg{kind: ctlDataIndication, addr: p.src}
		n.emit(p.to, endpoint(nodeEndpoint(p.to).IP(), STUNPort), a.client, p.data, len(p.data)+turnIndOverhead, ind)
	}
}

// turnClient is a node's relay allocation, client side.
type turnClient struct {
	server  Endpoint // the server's transport address
	relayed Endpoint
	perms   []turnClientPerm
}

// turnClientPerm is a permitted peer IP and when CreatePermission was last
// sent for it.
type turnClientPerm struct {
	ip   uint32
	sent time.Duration
}

// permits reports whether traffic to ip goes through the relay.
func (c *turnClient) permits(ip uint32) bool {
	for i := range c.perms {
		if c.perms[i].ip == ip {
			return true
		}
	}
	return false
}

// sendVia sends b to dst through the relay: a Send indication to the
// server.
func (c *turnClient) sendVia(n *natWorld, from int, dst Endpoint, b []byte) {
	msg := ctlMsg{kind: ctlSendIndication, addr: dst, relay: c.relayed.Port()}
	n.emit(from, 0, c.server, b, len(b)+turnIndOverhead, msg)
}

// deliverData hands the data of a Data indication to the node's core
// node, from the peer the server saw.
func (c *turnClient) deliverData(n *natWorld, p *natPacket) {
	if node := n.w.nodes[p.to].node; node != nil {
		node.HandlePacket(n.w.NodeTime(p.to), p.msg.addr.AddrPort(), p.data)
	}
}

// allocateRelay implements Connectivity.AllocateRelay for node i. A new
// allocation replaces the node's previous one (which is no longer
// refreshed and expires at its server).
func (n *natWorld) allocateRelay(i int, server netip.AddrPort, done func(core.RelayAllocation)) {
	start := n.now()
	inc := n.w.nodes[i].incarnation
	srv := EndpointOf(server)
	n.transact(i, srv, ctlMsg{kind: ctlAllocateRequest, lifetime: turnLifetime}, turnAllocateSize, func(r *ctlMsg) {
		var res core.RelayAllocation
		switch {
		case r == nil:
			res.Err = fmt.Errorf("allocate at %v: %w", server, ErrSTUNTimeout)
		case r.kind != ctlAllocateResponse:
			res.Err = fmt.Errorf("allocate at %v: %w", server, ErrRelayCapacity)
		default:
			c := n.client(i)
			c.turnGen++
			c.turn = &turnClient{server: srv, relayed: r.addr}
			res.Relayed, res.Lifetime = r.addr.AddrPort(), r.lifetime
			n.scheduleTURNRefresh(i, inc, c.turnGen)
		}
		res.Took = n.now() - start
		n.post(i, inc, func() { done(res) })
	})
}

// turnRefreshEvery returns node i's keepalive period.
func (n *natWorld) turnRefreshEvery(i int) time.Duration {
	d := turnKeepalive
	if b := n.boxes[i]; b != nil {
		d = min(d, b.Timeout()/2)
	}
	return d
}

// scheduleTURNRefresh refreshes node i's allocation and permissions
// periodically, until the node crashes or allocates again.
func (n *natWorld) scheduleTURNRefresh(i int, inc, gen uint32) {
	n.after(n.turnRefreshEvery(i), i, inc, func() {
		c := n.client(i)
		if c.turnGen != gen || c.turn == nil {
			return
		}
		tc := c.turn
		n.transact(i, tc.server, ctlMsg{kind: ctlRefreshRequest, lifetime: turnLifetime, relay: tc.relayed.Port()}, turnRefreshSize, func(*ctlMsg) {})
		now := n.now()
		for k := range tc.perms {
			if now-tc.perms[k].sent >= turnPermRefresh {
				n.sendPermission(i, tc, k)
			}
		}
		n.scheduleTURNRefresh(i, inc, gen)
	})
}

// sendPermission sends CreatePermission for tc.perms[k]. If it gets no
// answer, the next refresh tick tries again.
func (n *natWorld) sendPermission(i int, tc *turnClient, k int) {
	tc.perms[k].sent = n.now()
	ip := tc.perms[k].ip
	msg := ctlMsg{kind: ctlPermissionRequest, addr: endpoint(ip, 0), relay: tc.relayed.Port()}
	n.transact(i, tc.server, msg, turnPermissionSize, func(r *ctlMsg) {
		if r != nil {
			return
		}
		for k := range tc.perms {
			if tc.perms[k].ip == ip {
				tc.perms[k].sent = n.now() - turnPermRefresh
			}
		}
	})
}

// permitRelay implements Connectivity.PermitRelay for node i.
func (n *natWorld) permitRelay(i int, peer netip.Addr) {
	c := n.clients[i]
	if c == nil || c.turn == nil || !peer.Is4() {
		return
	}
	ip := EndpointOf(netip.AddrPortFrom(peer, 0)).IP()
	tc := c.turn
	for k := range tc.perms {
		if tc.perms[k].ip == ip {
			if n.now()-tc.perms[k].sent >= turnPermRefresh {
				n.sendPermission(i, tc, k)
			}
			return
		}
	}
	if len(tc.perms) >= maxTURNPerms {
		return
	}
	tc.perms = append(tc.perms, turnClientPerm{ip: ip})
	n.sendPermission(i, tc, len(tc.perms)-1)
}

package sim

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
)

// Simulated STUN (RFC 8489) with RFC 5780 behaviour discovery.
//
// STUN and TURN messages travel as control packets: typed messages
// (ctlMsg) carrying the attributes the simulator needs, sized as their RFC
// encodings (20-byte header plus attributes, without authentication). They
// cross the network model and the NAT boxes exactly like protocol packets,
// so they create and refresh mappings, suffer latency, loss and
// partitions, and a later hole punch reuses the mapping a query saw; but
// they are handled by the simulated servers and by the node's Connectivity
// client, never by core.Node.HandlePacket.

// Errors reported in MappingResult, PortMapping and RelayAllocation.
var (
	// ErrSTUNTimeout: a STUN or TURN transaction got no response after its
	// retransmissions.
	ErrSTUNTimeout = errors.New("sim: STUN transaction timed out")
	// ErrNoOtherAddress: the server's binding response had no OTHER-ADDRESS
	// (RFC 5780 §4.2: it does not support behaviour discovery).
	ErrNoOtherAddress = errors.New("sim: STUN server has no alternate address")
	// ErrDiscovery: a behaviour test other than the binding test got no
	// answer where one is always expected (the mapping tests); the result
	// carries the public endpoint but unknown behaviours.
	ErrDiscovery = errors.New("sim: NAT behaviour discovery incomplete")
	// ErrNoGateway: MapPort found no UPnP gateway.
	ErrNoGateway = errors.New("sim: no UPnP gateway")
	// ErrRelayCapacity: the TURN server has no relayed port left
	// (RFC 8656 §7.2, 508 Insufficient Capacity).
	ErrRelayCapacity = errors.New("sim: TURN server out of relayed ports")
)

// STUN client timing (RFC 8489 §6.2.1). The RFC's defaults (RTO 500 ms,
// Rc = 7, Rm = 16) wait 39.5 s before giving up, far too long for the
// filtering tests of RFC 5780 §4.4, where no answer is the expected
// outcome. The simulated client sends a request at 0 and again at RTO
// (500 ms), then gives up RTO*2 after the retransmission: a transaction
// ends within 1.5 s, which Rc = 2, Rm = 2 would give.
const (
	stunRTO     = 500 * time.Millisecond
	stunGiveUp  = 3 * stunRTO // from the first transmission
	stunTries   = 2
	stunHdr     = 20 // RFC 8489 §5 message header
	stunAttrIP4 = 12 // an IPv4 (XOR-)address attribute: 4 + 8
)

// CHANGE-REQUEST flags (RFC 5780 §7.2).
const (
	changeIP   = 0x4
	changePort = 0x2
)

// ctlKind is the type of a control message (STUN method and class).
type ctlKind uint8

const (
	ctlNone               ctlKind = iota // application data
	ctlBindingRequest                    // RFC 8489 §3, with optional CHANGE-REQUEST (RFC 5780 §7.2)
	ctlBindingResponse                   // XOR-MAPPED-ADDRESS (addr), OTHER-ADDRESS (other)
	ctlAllocateRequest                   // RFC 8656 §7.1
	ctlAllocateResponse                  // XOR-RELAYED-ADDRESS (addr), LIFETIME
	ctlRefreshRequest                    // RFC 8656 §8
	ctlRefreshResponse                   // LIFETIME
	ctlPermissionRequest                 // CreatePermission, RFC 8656 §10: XOR-PEER-ADDRESS (addr)
	ctlPermissionResponse                //
	ctlErrorResponse                     // any error response (e.g. 508, 437)
	ctlSendIndication                    // RFC 8656 §11: client to server, XOR-PEER-ADDRESS (addr), DATA
	ctlDataIndication                    // RFC 8656 §11: server to client, XOR-PEER-ADDRESS (addr), DATA
)

// isResponse reports whether k answers a transaction.
func (k ctlKind) isResponse() bool {
	switch k {
	case ctlBindingResponse, ctlAllocateResponse, ctlRefreshResponse, ctlPermissionResponse, ctlErrorResponse:
		return true
	}
	return false
}

// ctlMsg is a STUN/TURN message: the few attributes the simulator uses.
type ctlMsg struct {
	kind   ctlKind
	change uint8  // CHANGE-REQUEST flags
	relay  uint16 // the relayed port the request is about (see turnServer.handle)
	// txn is the transaction ID (RFC 8489 §5 has 96 bits; unique per world
	// here).
	txn      uint64
	addr     Endpoint      // XOR-MAPPED-, XOR-RELAYED- or XOR-PEER-ADDRESS
	other    Endpoint      // OTHER-ADDRESS (RFC 5780 §7.4)
	lifetime time.Duration // LIFETIME (RFC 8656 §18.2)
}

// stunTxn is a client transaction in flight.
type stunTxn struct {
	id    uint64
	node  int
	inc   uint32
	dst   Endpoint
	msg   ctlMsg
	size  int
	sent  int
	timer Timer
	done  func(resp *ctlMsg) // nil resp: timed out
}

// natClient is the Connectivity client state of one node.
type natClient struct {
	txns    []*stunTxn
	upnpGen uint32
	turn    *turnClient
	turnGen uint32
}

// reset abandons every session (the node crashed).
func (c *natClient) reset() {
	for _, t := range c.txns {
		t.timer.Stop()
	}
	c.txns = nil
	c.upnpGen++
	c.turnGen++
	c.turn = nil
}

// transact starts a client transaction from node i: it sends msg to dst
// through the node's NAT, retransmits once after stunRTO, and calls done
// with the response, or with nil after stunGiveUp.
func (n *natWorld) transact(i int, dst Endpoint, msg ctlMsg, size int, done func(resp *ctlMsg)) {
	n.nextTxn++
	msg.txn = n.nextTxn
	t := &stunTxn{id: msg.txn, node: i, inc: n.w.nodes[i].incarnation, dst: dst, msg: msg, size: size, done: done}
	c := n.client(i)
	c.txns = append(c.txns, t)
	n.stats.STUNTransactions++
	n.transmit(t)
}

// transmit sends t once more and arms its next timer.
func (n *natWorld) transmit(t *stunTxn) {
	t.sent++
	n.stats.STUNRequests++
	n.emit(t.node, 0, t.dst, nil, t.size, t.msg)
	wait := stunRTO
	if t.sent >= stunTries {
		wait = stunGiveUp - stunRTO*time.Duration(stunTries-1)
	}
	t.timer = n.w.eng.AfterFunc(wait, func() { n.onTxnTimer(t) })
}

// onTxnTimer retransmits t or gives up on it.
func (n *natWorld) onTxnTimer(t *stunTxn) {
	if n.w.nodes[t.node].incarnation != t.inc || !n.takeTxn(t.node, t.id) {
		return
	}
	if t.sent < stunTries {
		c := n.client(t.node)
		c.txns = append(c.txns, t)
		n.transmit(t)
		return
	}
	n.stats.STUNTimeouts++
	t.done(nil)
}

// takeTxn removes the pending transaction id of node i; false if there is
// none (answered, timed out or abandoned).
func (n *natWorld) takeTxn(i int, id uint64) bool {
	c := n.clients[i]
	if c == nil {
		return false
	}
	for k, t := range c.txns {
		if t.id == id {
			c.txns = append(c.txns[:k], c.txns[k+1:]...)
			return true
		}
	}
	return false
}

// receive handles a control message that reached node p.to.
func (c *natClient) receive(n *natWorld, p *natPacket) {
	switch {
	case p.msg.kind.isResponse():
		for k, t := range c.txns {
			if t.id == p.msg.txn {
				c.txns = append(c.txns[:k], c.txns[k+1:]...)
				t.timer.Stop()
				msg := p.msg
				t.done(&msg)
				return
			}
		}
		// A late duplicate (answer to a retransmission): ignored.
	case p.msg.kind == ctlDataIndication:
		if c.turn == nil || p.src != c.turn.server {
			return // not from our TURN server: ignored (RFC 8656 §11.4 checks the 5-tuple)
		}
		c.turn.deliverData(n, p)
	}
}

// stunRespond answers a Binding request at the STUN server p.to (RFC 8489
// §6.3; RFC 5780 §6 for CHANGE-REQUEST and OTHER-ADDRESS). The response
// leaves from the address and port the request reached, or from the other
// ones the CHANGE-REQUEST asks for, to the request's source as the server
// saw it (the client's NAT mapping), with that source as
// XOR-MAPPED-ADDRESS.
func (n *natWorld) stunRespond(p *natPacket) {
	s := p.to
	primary := nodeEndpoint(s).IP()
	ip, port := p.dst.IP(), p.dst.Port()
	var other Endpoint
	if k := n.stunOrd[s]; k >= 0 {
		alt := altIP(int(k))
		oip, oport := alt, uint16(STUNAltPort)
		if ip == alt {
			oip = primary
		}
		if port == STUNAltPort {
			oport = STUNPort
		}
		other = endpoint(oip, oport)
		if p.msg.change&changeIP != 0 {
			ip = oip
		}
		if p.msg.change&changePort != 0 {
			port = oport
		}
	} else if p.msg.change != 0 {
		// A TURN-only server has no alternate address; RFC 5780 §6.1
		// answers 420 here. The client treats it like no answer.
		return
	}
	n.stats.STUNResponses++
	resp := ctlMsg{kind: ctlBindingResponse, txn: p.msg.txn, addr: p.src, other: other}
	n.emit(s, endpoint(ip, port), p.src, nil, stunHdr+3*stunAttrIP4, resp)
}

// bindingRequest returns a Binding request with CHANGE-REQUEST flags, and
// its size.
func bindingRequest(change uint8) (ctlMsg, int) {
	size := stunHdr
	if change != 0 {
		size += 8
	}
	return ctlMsg{kind: ctlBindingRequest, change: change}, size
}

// queryMapping implements Connectivity.QueryMapping for node i.
//
// Without discover it is one Binding transaction with the server. With
// discover it runs RFC 5780's tests in this order, all from the node's one
// port (so the mapping the node uses for protocol traffic is the one
// measured):
//
//  1. Test I (§4.3): Binding to the server's primary address gives the
//     public endpoint M1 and OTHER-ADDRESS. M1 == local means no NAT.
//  2. Filtering tests II and III (§4.4), in parallel, to the primary
//     address: CHANGE-REQUEST change-IP-and-port (an answer means
//     endpoint-independent filtering), change-port (an answer means
//     address-dependent; no answer to either: address-and-port-dependent).
//     They run before anything is sent to the alternate address, since a
//     packet to it would open the filter they probe.
//  3. Mapping tests II and III (§4.3): Binding to the alternate IP at the
//     primary port gives M2 (M2 == M1: endpoint-independent); if not, to
//     the alternate IP and port gives M3 (M3 == M2: address-dependent,
//     else address-and-port-dependent).
//
// A repeated discovery within the binding timeout of an earlier one may
// find the filter opened by the earlier mapping tests and report a more
// permissive filtering, as a real single-socket client would. Packet loss
// makes the filtering tests report stricter filtering (no answer is their
// signal; RFC 5780 §4.4 says as much).
func (n *natWorld) queryMapping(i int, server netip.AddrPort, discover bool, done func(core.MappingResult)) {
	start := n.now()
	inc := n.w.nodes[i].incarnation
	n.stats.STUNQueries++
	local := Addr(i)
	var res core.MappingResult
	finish := func() {
		res.Took = n.now() - start
		r := res
		n.post(i, inc, func() { done(r) })
	}
	srv := EndpointOf(server)
	req, size := bindingRequest(0)
	n.transact(i, srv, req, size, func(r *ctlMsg) {
		if r == nil {
			res.Err = fmt.Errorf("binding request to %v: %w", server, ErrSTUNTimeout)
			finish()
			return
		}
		m1, other := r.addr, r.other
		res.Public = m1.AddrPort()
		res.Type = core.Classify(local, res.Public, core.BehaviorUnknown, core.BehaviorUnknown)
		if !discover {
			finish()
			return
		}
		if other == 0 {
			res.Err = fmt.Errorf("server %v: %w", server, ErrNoOtherAddress)
			finish()
			return
		}
		var gotBoth, gotPort bool
		pending := 2
		afterFiltering := func() {
			if pending--; pending > 0 {
				return
			}
			switch {
			case gotBoth:
				res.Filtering = core.BehaviorEndpointIndependent
			case gotPort:
				res.Filtering = core.BehaviorAddressDependent
			default:
				res.Filtering = core.BehaviorAddressPortDependent
			}
			n.mappingTests(i, srv, m1, other, &res, finish)
		}
		reqBoth, sizeBoth := bindingRequest(changeIP | changePort)
		n.transact(i, srv, reqBoth, sizeBoth, func(r *ctlMsg) { gotBoth = r != nil; afterFiltering() })
		reqPort, sizePort := bindingRequest(changePort)
		n.transact(i, srv, reqPort, sizePort, func(r *ctlMsg) { gotPort = r != nil; afterFiltering() })
	})
}

// mappingTests runs RFC 5780 §4.3 tests II and III and finishes the query.
func (n *natWorld) mappingTests(i int, srv, m1, other Endpoint, res *core.MappingResult, finish func()) {
	local := Addr(i)
	classify := func() {
		res.Type = core.Classify(local, res.Public, res.Mapping, res.Filtering)
		finish()
	}
	if m1.AddrPort() == local {
		res.Mapping = core.BehaviorEndpointIndependent // no NAT: nothing maps
		classify()
		return
	}
	req, size := bindingRequest(0)
	n.transact(i, endpoint(other.IP(), srv.Port()), req, size, func(r *ctlMsg) {
		if r == nil {
			res.Err = fmt.Errorf("mapping test II: %w", ErrDiscovery)
			classify()
			return
		}
		m2 := r.addr
		if m2 == m1 {
			res.Mapping = core.BehaviorEndpointIndependent
			classify()
			return
		}
		n.transact(i, other, req, size, func(r *ctlMsg) {
			switch {
			case r == nil:
				res.Err = fmt.Errorf("mapping test III: %w", ErrDiscovery)
			case r.addr == m2:
				res.Mapping = core.BehaviorAddressDependent
			default:
				res.Mapping = core.BehaviorAddressPortDependent
			}
			classify()
		})
	})
}

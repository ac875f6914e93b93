package dht

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// purpose says what a request is for, i.e. where its answer goes.
type purpose uint8

const (
	forLookup    purpose = iota // FIND_NODE / FIND_VALUE of a lookup
	forBootstrap                // PING of a bootstrap peer
	forAdmit                    // PING of a peer that sent us a request
	forProbe                    // PING of a full bucket's oldest entry
	forStore                    // STORE of a Put
)

// request is one request in flight, matched to its response by ID and by
// the address it went to.
type request struct {
	id    uint64
	kind  wire.Kind
	to    netip.AddrPort
	peer  identity.PeerID // expected responder; zero if unknown
	sent  time.Time
	timer core.Timer
	why   purpose

	lk     *lookup
	c      *cand
	target identity.Key // FIND_VALUE key
	bs     *bootstrap
	put    *putOp
}

// answers reports whether a response of kind resp answers a request of
// kind req.
func answers(req, resp wire.Kind) bool {
	switch req {
	case wire.KindDHTPing:
		return resp == wire.KindDHTPong
	case wire.KindFindNode:
		return resp == wire.KindNodes
	case wire.KindFindValue:
		return resp == wire.KindNodes || resp == wire.KindValue
	case wire.KindStore:
		return resp == wire.KindStoreAck
	}
	return false
}

// timeoutFor returns the request timeout for peer: clamp(3 x RTT,
// MinRequestTimeout, RequestTimeout) if its RTT is known, else
// FirstContactTimeout.
func (d *DHT) timeoutFor(peer identity.PeerID) time.Duration {
	if !peer.IsZero() {
		if rtt := d.table.rtt(peer); rtt > 0 {
			return min(max(3*rtt, d.cfg.MinRequestTimeout), d.cfg.RequestTimeout)
		}
	}
	return d.cfg.FirstContactTimeout
}

// newRequest registers a request and arms its timeout; the caller sends it.
// It returns nil when MaxPending requests are in flight.
func (d *DHT) newRequest(now time.Time, kind wire.Kind, to netip.AddrPort, peer identity.PeerID, why purpose) *request {
	if len(d.pending) >= d.cfg.MaxPending {
		return nil
	}
	rnd := d.node.Env().Rand
	id := rnd.Uint64()
	for id == 0 || d.pending[id] != nil {
		id = rnd.Uint64()
	}
	r := &request{id: id, kind: kind, to: to, peer: peer, sent: now, why: why}
	r.timer = d.node.Env().Clock.AfterFunc(d.timeoutFor(peer), func() { d.onRequestTimeout(r) })
	put(&d.pending, &d.peaks.pending, id, r)
	d.stats.RequestsSent++
	return r
}

func (d *DHT) onRequestTimeout(r *request) {
	if d.pending[r.id] != r {
		return
	}
	drop(&d.pending, &d.peaks.pending, r.id)
	d.stats.Timeouts++
	d.failed(d.node.Env().Clock.Now(), r)
}

// take matches a response to its request. Responses to no outstanding
// request, from another address than the request went to, or of a kind
// that does not answer it are unsolicited (the request stays pending). A
// responder with a zero ID, our ID or not the ID asked fails the request.
func (d *DHT) take(now time.Time, from netip.AddrPort, h *wire.DHTHeader, kind wire.Kind) (*request, identity.PeerID, error) {
	r := d.pending[h.ReqID]
	if r == nil || r.to != from || !answers(r.kind, kind) {
		return nil, identity.PeerID{}, core.Dropped(ReasonUnsolicited)
	}
	drop(&d.pending, &d.peaks.pending, r.id)
	r.timer.Stop()
	d.stats.Responses++
	id := identity.PeerIDFromPublicKey(h.Sender[:])
	if id.IsZero() || id == d.self || (!r.peer.IsZero() && id != r.peer) {
		d.failed(now, r)
		return nil, identity.PeerID{}, core.Dropped(ReasonInvalidPeer)
	}
	if !d.node.Claims(from, id) {
		d.failed(now, r)
		return nil, identity.PeerID{}, core.Dropped(core.ReasonImpostor)
	}
	return r, id, nil
}

// answered admits the responder of r: it answered at the address asked.
func (d *DHT) answered(now time.Time, r *request, id identity.PeerID, h *wire.DHTHeader) {
	d.admit(now, PeerInfo{ID: id, Addr: r.to, Capabilities: capsFrom(h.Flags, h.Bandwidth)}, now.Sub(r.sent))
}

// failed ends r without a (valid) answer: a timeout, or a lie.
func (d *DHT) failed(now time.Time, r *request) {
	if !r.peer.IsZero() {
		if r.why == forProbe {
			d.evict(now, r.peer, EvictPingFailed)
		} else if d.table.Fail(r.peer) >= d.cfg.MaxFailures {
			d.evict(now, r.peer, EvictUnresponsive)
		}
	}
	d.done(now, r, false)
}

// done passes the end of r on to what it was for.
func (d *DHT) done(now time.Time, r *request, ok bool) {
	switch r.why {
	case forProbe:
		drop(&d.probing, &d.peaks.probing, r.peer)
	case forAdmit:
		drop(&d.admitting, &d.peaks.admitting, r.to)
	case forBootstrap:
		d.bootstrapPinged(now, r.bs)
	case forStore:
		d.putAcked(now, r.put, ok)
	case forLookup:
		if !ok {
			d.lookupFailed(now, r.lk, r.c)
		}
	}
}

func (d *DHT) handlePong(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeDHTPong(body)
	if err != nil {
		return err
	}
	r, id, err := d.take(now, from, &m.DHTHeader, wire.KindDHTPong)
	if err != nil {
		return err
	}
	d.answered(now, r, id, &m.DHTHeader)
	d.done(now, r, true)
	return nil
}

func (d *DHT) handleNodes(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeNodesInto(body, d.nodesIn)
	if err != nil {
		return err
	}
	if cap(m.Nodes) > cap(d.nodesIn) {
		d.nodesIn = m.Nodes[:0]
	}
	r, id, err := d.take(now, from, &m.DHTHeader, wire.KindNodes)
	if err != nil {
		return err
	}
	if len(m.Nodes) > d.cfg.K {
		d.failed(now, r)
		return core.Dropped(ReasonOversized)
	}
	nodes, keys, ok := d.checkNodes(m.Nodes)
	if !ok {
		d.failed(now, r)
		return core.Dropped(ReasonInvalidPeer)
	}
	if r.why == forLookup && !closestFirst(r.target, keys) {
		d.failed(now, r)
		return core.Dropped(ReasonWrongDistance)
	}
	d.answered(now, r, id, &m.DHTHeader)
	if r.why == forLookup {
		d.lookupAnswered(now, r.lk, r.c, nodes, keys, nil)
	}
	return nil
}

// closestFirst reports whether NODES entries (the keys of the usable
// ones, from checkNodes) are in non-decreasing XOR distance to target, as
// the protocol requires of an answer to FIND_NODE or FIND_VALUE (the
// responder's closest known peers, closest first). A list out of order was
// not computed for this target: a lie or a broken peer.
func closestFirst(target identity.Key, keys []identity.Key) bool {
	var prev distance
	for i := range keys {
		d := distanceOf(&target, &keys[i])
		if i > 0 && d.cmp(&prev) < 0 {
			return false
		}
		prev = d
	}
	return true
}

// checkNodes validates NODES entries. A zero ID, our own ID, a duplicated
// ID or an unusable address is a lie and fails the whole response; entries
// of the other address family than ours are skipped (we cannot reach them).
// It returns the usable entries, moved to the front of ns, and their keys
// (in d.keysIn, valid until the next call).
func (d *DHT) checkNodes(ns []wire.DHTNode) ([]wire.DHTNode, []identity.Key, bool) {
	for i := range ns {
		n := &ns[i]
		id := identity.PeerIDFromPublicKey(n.ID[:])
		if id.IsZero() || id == d.self || !validAddr(n.Addr) {
			return nil, nil, false
		}
		for j := range i {
			if ns[j].ID == n.ID {
				return nil, nil, false
			}
		}
	}
	keys := d.keysIn[:0]
	if cap(keys) < len(ns) {
		keys = make([]identity.Key, 0, len(ns))
	}
	self4 := d.selfAddr.Addr().Unmap().Is4()
	usable := 0
	for i := range ns {
		if ns[i].Addr.Addr().Is4() != self4 {
			continue
		}
		ns[usable] = ns[i]
		keys = append(keys, d.keyOf(identity.PeerIDFromPublicKey(ns[usable].ID[:])))
		usable++
	}
	d.keysIn = keys
	return ns[:usable], keys, true
}

// Capacities of outgoing datagrams, so that each is allocated once, at
// its final size or a little more: a header-only message (PING, PONG), one
// with a key (FIND_NODE, FIND_VALUE), and NODES with n entries.
const (
	headerPacketCap = wire.HeaderLen + 8 + wire.DHTIDLen + 1 + binary.MaxVarintLen64
	keyPacketCap    = headerPacketCap + wire.DHTKeyLen
	// nodeEntryCap is a NODES entry with an IPv6 address (family, 16
	// bytes, port).
	nodeEntryCap = wire.DHTIDLen + 1 + 1 + 16 + 2
)

func nodesPacketCap(n int) int {
	return headerPacketCap + binary.MaxVarintLen16 + n*nodeEntryCap
}

func (d *DHT) handleValue(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeValue(body)
	if err != nil {
		return err
	}
	r, id, err := d.take(now, from, &m.DHTHeader, wire.KindValue)
	if err != nil {
		return err
	}
	rec := recordFrom(&m.Record)
	if rec.Key != r.target || len(rec.Value) > d.cfg.MaxValue || rec.Verify(now, d.cfg.RecordTTL+d.cfg.MaxClockSkew) != nil {
		d.failed(now, r)
		return core.Dropped(ReasonBadRecord)
	}
	d.answered(now, r, id, &m.DHTHeader)
	if r.why == forLookup {
		d.lookupAnswered(now, r.lk, r.c, nil, nil, &rec)
	}
	return nil
}

func (d *DHT) handleStoreAck(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeStoreAck(body)
	if err != nil {
		return err
	}
	r, id, err := d.take(now, from, &m.DHTHeader, wire.KindStoreAck)
	if err != nil {
		return err
	}
	d.answered(now, r, id, &m.DHTHeader)
	d.done(now, r, m.OK)
	return nil
}

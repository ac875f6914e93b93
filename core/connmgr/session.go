package connmgr

import (
	"bytes"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// conn is one session (or dial) with a peer at an address.
//
// It is allocated for every dial and inbound session and a node holds up
// to MaxConnections of them (and as many lingering), so its fields are
// packed into a 288-byte size class: the small ones share two words,
// times are ns offsets from the manager's epoch (see since), the end's
// reason and detail are codes, the health estimator shares the manager's
// configuration, and the peer's key is read from peer rather than kept
// twice.
type conn struct {
	// tr comes first: accounting a datagram touches one cache line.
	tr traffic

	peer    identity.PeerID // zero while dialling an address whose peer is unknown
	addr    netip.AddrPort
	dir     Direction
	state   State
	probing bool   // a probe is outstanding; the timer is its timeout
	mapped  bool   // byAddr holds c for its address (m.byAddr[c.addr] == c)
	seq     uint32 // of the last probe sent
	tries   int32  // CONNECTs sent (dial)
	reason  uint8  // why it ended: index in closeReasons
	detail  detail // the reason's detail
	nonce   uint64
	info    *peerInfo // book entry, once the peer is known

	// When the dial started or the CONNECT arrived, the session opened,
	// it ended, the last CONNECT and the last probe were sent, in ns
	// since the manager's epoch; opened, ended and probeSent are noTime
	// until set.
	started, opened, ended, dialSent, probeSent int64

	health healthState

	// One timer per session drives dial retransmissions, then the probe
	// cycle, then the linger.
	timer core.Timer
	idle  core.Timer
}

// noTime marks a time offset that is not set; it is before every time.
const noTime = math.MinInt64

// newConn returns a session entry with its times unset but the start.
func (m *Manager) newConn(addr netip.AddrPort, dir Direction, state State, nonce uint64, now time.Time) *conn {
	return &conn{addr: addr, dir: dir, state: state, nonce: nonce,
		started: m.since(now), opened: noTime, ended: noTime, probeSent: noTime}
}

// closeReasons are the reasons a session ends, by conn.reason.
var closeReasons = [...]string{"", ReasonTimeout, ReasonRejected, ReasonUnhealthy, ReasonIdle, ReasonPruned,
	ReasonClosedByPeer, ReasonReset, ReasonLocal, ReasonShutdown, ReasonReplaced, ReasonWrongPeer,
	ReasonDuplicate, ReasonSelf}

// reasonCode returns reason's index in closeReasons (0 for none).
func reasonCode(reason string) uint8 {
	for i, r := range closeReasons {
		if r == reason {
			return uint8(i)
		}
	}
	return 0
}

// detail is the detail of a session's end, as a code: none, the peer's
// reason (a wire reason code) or a health reason.
type detail struct{ kind, code uint8 }

const (
	detailNone   uint8 = iota
	detailPeer         // code is the peer's wire reason code
	detailHealth       // code is an index in healthReasons
)

func peerDetail(code uint8) detail { return detail{kind: detailPeer, code: code} }

// String returns the detail's name: "" for none.
func (d detail) String() string {
	switch d.kind {
	case detailPeer:
		return wire.ConnReasonName(d.code)
	case detailHealth:
		return healthReasons[d.code]
	}
	return ""
}

func (c *conn) reputation() float64 {
	if c.info == nil {
		return 0
	}
	return c.info.reputation
}

func (c *conn) live() bool { return c.state == Connecting || c.state == Connected }

// count is the number of sessions held against MaxConnections.
func (m *Manager) count() int { return m.nConn + m.nDial }

func (m *Manager) newNonce() uint64 {
	for {
		if n := m.env.Rand.Uint64(); n != 0 {
			return n
		}
	}
}

// Datagram sizes of this package's messages (envelope included), see
// core/wire.
const (
	connectLen = wire.HeaderLen + 8 + 2*wire.ConnKeyLen
	acceptLen  = wire.HeaderLen + 8 + wire.ConnKeyLen
	closeLen   = wire.HeaderLen + 8 + 1 // Close and Reject
)

// packet returns an empty send buffer for a datagram of n bytes, so that
// encoding it allocates once rather than at each append that outgrows
// the buffer. Each datagram gets its own: the environment may keep what
// it is sent until delivery.
func packet(n int) []byte { return make([]byte, 0, n) }

// send hands pkt to the node, counting it on c.
func (m *Manager) send(c *conn, to netip.AddrPort, pkt []byte) {
	if c != nil {
		c.tr.bytesOut += uint64(len(pkt))
		c.tr.msgsOut++
	}
	m.node.Send(to, pkt)
}

func (m *Manager) received(now time.Time, c *conn, body []byte) {
	c.tr.bytesIn += uint64(len(body) + wire.HeaderLen)
	c.tr.msgsIn++
	c.tr.lastSeen = max(c.tr.lastSeen, m.since(now))
}

func (m *Manager) setPeer(c *conn, id identity.PeerID) {
	c.peer = id
}

// Connect dials peer at addr (a local command). peer may be zero when only
// the address is known; the ACCEPT then names it. At the cap the manager
// trims to make room if it may, else it fails with ErrFull.
func (m *Manager) Connect(now time.Time, peer identity.PeerID, addr netip.AddrPort) error {
	return m.dial(now, peer, addr)
}

func (m *Manager) dial(now time.Time, peer identity.PeerID, addr netip.AddrPort) error {
	switch {
	case !m.running:
		return ErrNotRunning
	case !addr.IsValid():
		return ErrBadAddr
	case peer == m.self || addr == m.env.Transport.LocalAddr():
		return ErrSelf
	}
	if c := m.byAddr[addr]; c != nil {
		if c.live() {
			return ErrExists
		}
		m.remove(c) // lingering: a new session replaces it
	}
	if !peer.IsZero() && m.byPeer[peer] != nil {
		return ErrExists
	}
	if m.nDial >= m.cfg.MaxDialing {
		return ErrDialLimit
	}
	if m.count() >= m.cfg.MaxConnections && !m.makeRoom(now) {
		return ErrFull
	}
	c := m.newConn(addr, Outbound, Connecting, m.newNonce(), now)
	if !peer.IsZero() {
		m.setPeer(c, peer)
		c.info = m.entry(peer, true)
		c.info.addr = addr
		m.byPeer[peer] = c
	}
	m.add(c)
	m.nDial++
	m.stats.Dials++
	m.sendConnect(now, c)
	return nil
}

// add enters c in byAddr (replacing any entry at its address) and the
// list. byAddr is changed only here and in remove, which keep each
// conn's mapped flag true while byAddr holds it, so that timer callbacks
// check it without a map lookup.
func (m *Manager) add(c *conn) {
	if old := m.byAddr[c.addr]; old != nil {
		old.mapped = false
	}
	m.byAddr[c.addr] = c
	c.mapped = true
	m.list = append(m.list, c)
}

// remove forgets c entirely (it must not be live).
func (m *Manager) remove(c *conn) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.state == Disconnecting {
		m.nLing--
	}
	if c.mapped {
		delete(m.byAddr, c.addr)
		c.mapped = false
	}
	m.unindex(c)
	if i := slices.Index(m.list, c); i >= 0 {
		m.list = slices.Delete(m.list, i, i+1)
	}
	c.state = Closed
}

func (m *Manager) sendConnect(now time.Time, c *conn) {
	c.tries++
	c.dialSent = m.since(now)
	msg := wire.Connect{Nonce: c.nonce, Sender: m.selfKey, Target: [32]byte(c.peer.PublicKey())}
	m.send(c, c.addr, msg.AppendPacket(packet(connectLen)))
	// Next: a retransmission after DialRetransmit x 2^(tries-1), or the
	// dial timeout, whichever comes first.
	next := m.cfg.DialRetransmit << min(c.tries-1, 30)
	if left := time.Duration(c.started-m.since(now)) + m.cfg.DialTimeout; next > left || next <= 0 {
		next = left
	}
	c.timer = m.env.Clock.AfterFunc(next, func() { m.onDialTimer(c) })
}

func (m *Manager) onDialTimer(c *conn) {
	if c.state != Connecting || !c.mapped {
		return
	}
	now := m.env.Clock.Now()
	if time.Duration(m.since(now)-c.started) >= m.cfg.DialTimeout {
		m.end(now, c, ending{reason: ReasonTimeout, code: wire.ConnReasonTimeout, send: true})
		return
	}
	m.sendConnect(now, c)
}

// handleConnect answers a CONNECT: ACCEPT, REJECT, or (losing a
// simultaneous open) nothing. No state is kept for a refused peer.
func (m *Manager) handleConnect(now time.Time, from netip.AddrPort, body []byte) error {
	msg, err := wire.DecodeConnect(body)
	if err != nil {
		return m.dropErr(err)
	}
	if msg.Sender == ([32]byte{}) || msg.Nonce == 0 {
		return m.drop(DropBadPeer)
	}
	peer := identity.PeerIDFromPublicKey(msg.Sender[:])
	if !m.node.Claims(from, peer) {
		return m.drop(core.ReasonImpostor)
	}
	if peer == m.self {
		m.reject(now, from, peer, msg.Nonce, wire.ConnReasonSelf)
		return m.drop(DropSelf)
	}
	if msg.Target != ([32]byte{}) && msg.Target != m.selfKey {
		m.reject(now, from, peer, msg.Nonce, wire.ConnReasonWrongPeer)
		return nil
	}
	// Sessions this CONNECT collides with: one at the same address, one
	// with the same peer elsewhere.
	for _, old := range [2]*conn{m.byAddr[from], m.byPeer[peer]} {
		if old == nil || (old.state != Connecting && old.state != Connected && old.state != Disconnecting) {
			continue
		}
		switch {
		case old.state == Connected && old.addr == from && old.peer == peer && old.nonce == msg.Nonce:
			// A retransmitted CONNECT: our ACCEPT was lost.
			m.received(now, old, body)
			m.sendAccept(old)
			return nil
		case old.state == Connected && old.dir == Outbound && old.peer == peer &&
			bytes.Compare(m.selfKey[:], msg.Sender[:]) < 0 && m.since(now)-old.opened < int64(m.cfg.DialTimeout):
			// The losing CONNECT of a simultaneous open, overtaken by the
			// loser's ACCEPT of our dial (links may reorder): the loser
			// holds our session, so keep it.
			return m.drop(DropSimultaneous)
		case old.state == Connected:
			// The peer dialled anew (it restarted or moved): the newest
			// handshake wins on both sides; it holds no old session.
			m.end(now, old, ending{reason: ReasonReplaced, quiet: true, noLinger: true})
		case old.state == Connecting:
			// Simultaneous open: the dial of the lower peer key wins on
			// both sides.
			if bytes.Compare(m.selfKey[:], msg.Sender[:]) < 0 {
				return m.drop(DropSimultaneous)
			}
			m.abandon(old)
		case old.state == Disconnecting:
			m.remove(old)
		}
	}
	if p := m.lookup(peer); p != nil && p.reputation < m.cfg.MinReputation {
		m.reject(now, from, peer, msg.Nonce, wire.ConnReasonReputation)
		return nil
	}
	if m.count() >= m.cfg.MaxConnections && !m.makeRoom(now) {
		m.reject(now, from, peer, msg.Nonce, wire.ConnReasonFull)
		return nil
	}
	c := m.newConn(from, Inbound, Connected, msg.Nonce, now)
	m.setPeer(c, peer)
	m.add(c)
	m.nConn++
	m.received(now, c, body)
	m.sendAccept(c)
	m.stats.Accepted++
	m.establish(now, c, 0)
	return nil
}

func (m *Manager) sendAccept(c *conn) {
	msg := wire.Accept{Nonce: c.nonce, Sender: m.selfKey}
	m.send(c, c.addr, msg.AppendPacket(packet(acceptLen)))
}

func (m *Manager) reject(now time.Time, to netip.AddrPort, peer identity.PeerID, nonce uint64, code uint8) {
	reason := wire.ConnReasonName(code)
	m.stats.Rejects[reason]++
	m.send(nil, to, wire.Reject{Nonce: nonce, Reason: code}.AppendPacket(packet(closeLen)))
	m.observe(now, Reject{Peer: peer, Addr: to, Reason: reason})
}

// abandon drops our own dial that lost a simultaneous open: the peer's
// dial becomes the session, so nothing is reported.
func (m *Manager) abandon(c *conn) {
	m.nDial--
	if m.byPeer[c.peer] == c {
		delete(m.byPeer, c.peer)
	}
	m.remove(c)
}

func (m *Manager) handleAccept(now time.Time, from netip.AddrPort, body []byte) error {
	msg, err := wire.DecodeAccept(body)
	if err != nil {
		return m.dropErr(err)
	}
	c := m.byAddr[from]
	if c == nil {
		return m.drop(core.ReasonUnsolicited)
	}
	if c.nonce != msg.Nonce {
		return m.drop(DropBadNonce)
	}
	switch c.state {
	case Connected:
		if c.dir == Outbound {
			m.received(now, c, body) // answer to a retransmitted CONNECT
			return nil
		}
		return m.drop(core.ReasonUnsolicited)
	case Disconnecting:
		return nil // late: absorbed
	}
	if msg.Sender == ([32]byte{}) {
		return m.drop(DropBadPeer)
	}
	peer := identity.PeerIDFromPublicKey(msg.Sender[:])
	if !m.node.Claims(from, peer) {
		return m.drop(core.ReasonImpostor)
	}
	m.received(now, c, body)
	switch {
	case peer == m.self:
		m.end(now, c, ending{reason: ReasonSelf, code: wire.ConnReasonSelf, send: true})
		return m.drop(DropSelf)
	case !c.peer.IsZero() && c.peer != peer:
		m.end(now, c, ending{reason: ReasonWrongPeer, code: wire.ConnReasonWrongPeer, send: true})
		return nil
	}
	if old := m.byPeer[peer]; old != nil && old != c {
		if old.state == Connected {
			// The acceptor has replaced its session with this one.
			m.end(now, old, ending{reason: ReasonReplaced, quiet: true, noLinger: true})
		} else {
			m.end(now, old, ending{reason: ReasonDuplicate, code: wire.ConnReasonDuplicate, send: true, quiet: true})
		}
	}
	if c.peer.IsZero() {
		m.setPeer(c, peer)
		m.byPeer[peer] = c
		c.info = m.entry(peer, true)
		c.info.addr = c.addr
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	var rtt time.Duration
	if c.tries == 1 { // Karn: no sample from a retransmitted handshake
		rtt = time.Duration(m.since(now) - c.dialSent)
	}
	c.state = Connected
	m.nDial--
	m.nConn++
	m.stats.Connected++
	if c.info.redialing() {
		m.stats.Reconnected++
	}
	m.establish(now, c, rtt)
	m.fill(now) // a dial slot is free
	return nil
}

func (m *Manager) handleReject(now time.Time, from netip.AddrPort, body []byte) error {
	msg, err := wire.DecodeReject(body)
	if err != nil {
		return m.dropErr(err)
	}
	c := m.byAddr[from]
	switch {
	case c == nil:
		return m.drop(core.ReasonUnsolicited)
	case c.nonce != msg.Nonce:
		return m.drop(DropBadNonce)
	case c.state == Disconnecting:
		return nil
	case c.state != Connecting:
		return m.drop(core.ReasonUnsolicited)
	}
	m.received(now, c, body)
	m.end(now, c, ending{reason: ReasonRejected, detail: peerDetail(msg.Reason)})
	return nil
}

func (m *Manager) handleClose(now time.Time, from netip.AddrPort, body []byte) error {
	msg, err := wire.DecodeClose(body)
	if err != nil {
		return m.dropErr(err)
	}
	c := m.byAddr[from]
	switch {
	case c == nil:
		return m.drop(DropUnknownSession)
	case c.nonce != msg.Nonce:
		return m.drop(DropBadNonce)
	}
	m.received(now, c, body)
	detail := peerDetail(msg.Reason)
	switch c.state {
	case Disconnecting:
		m.remove(c) // both sides agree: nothing left to absorb
	case Connecting:
		m.end(now, c, ending{reason: ReasonRejected, detail: detail})
	case Connected:
		reason := ReasonClosedByPeer
		if msg.Reason == wire.ConnReasonUnknownSession {
			reason = ReasonReset
		}
		m.end(now, c, ending{reason: reason, detail: detail})
	}
	return nil
}

// establish completes a session (either direction): book entry, health
// monitor, timers, event, callbacks.
func (m *Manager) establish(now time.Time, c *conn, rtt time.Duration) {
	c.opened = m.since(now)
	c.tr.lastSeen, c.tr.lastActive = c.opened, c.opened
	m.byPeer[c.peer] = c
	m.index(c)
	if c.info == nil {
		c.info = m.entry(c.peer, true)
	}
	p := c.info
	p.conn, p.addr = c, c.addr
	p.established()
	c.health = newHealthState()
	if rtt > 0 {
		c.health.observeRTT(rtt)
	}
	first := m.cfg.Health.PingInterval
	if rtt <= 0 && m.cfg.Health.EarlyProbe {
		first = 0 // no RTT sample yet (inbound): probe at once
	}
	c.timer = m.env.Clock.AfterFunc(first, func() { m.onProbeTimer(c) })
	if m.cfg.Health.IdleTimeout > 0 {
		c.idle = m.env.Clock.AfterFunc(m.cfg.Health.IdleTimeout, func() { m.onIdle(c) })
	}
	m.gpDirty = true
	m.observe(now, Open{Peer: c.peer, Addr: c.addr, Direction: c.dir, RTT: rtt, Count: m.nConn})
	if len(m.onConnected) > 0 {
		snap := m.snapshot(now, c)
		for _, f := range m.onConnected {
			f(now, snap)
		}
	}
}

// ending says how a session ends.
type ending struct {
	reason   string
	detail   detail
	code     uint8 // CLOSE reason code, if send
	send     bool  // send CLOSE to the peer
	quiet    bool  // no redial and no candidate fill afterwards
	noLinger bool
}

// end closes a session or fails a dial: counters, CLOSE, event, callbacks,
// then redial (important peers) and candidate fill.
func (m *Manager) end(now time.Time, c *conn, e ending) {
	if !c.live() || !c.mapped {
		return
	}
	was := c.state
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
	c.probing = false
	if was == Connecting {
		m.nDial--
	} else {
		m.nConn--
		m.gpDirty = true
		m.unindex(c)
	}
	if !c.peer.IsZero() && m.byPeer[c.peer] == c {
		delete(m.byPeer, c.peer)
	}
	if e.send {
		m.send(c, c.addr, wire.Close{Nonce: c.nonce, Reason: e.code}.AppendPacket(packet(closeLen)))
	}
	c.reason, c.detail, c.ended = reasonCode(e.reason), e.detail, m.since(now)
	if e.send && !e.noLinger && m.cfg.Linger > 0 {
		c.state = Disconnecting
		m.nLing++
		c.timer = m.env.Clock.AfterFunc(m.cfg.Linger, func() { m.onLingerEnd(c) })
		m.capLinger()
	} else {
		m.remove(c)
	}
	final := Closed
	if failure(e.reason) {
		final = Failed
	}
	m.stats.Closes[e.reason]++
	var uptime time.Duration
	if was == Connected {
		uptime = time.Duration(m.since(now) - c.opened)
	}
	m.observe(now, Close{Peer: c.peer, Addr: c.addr, Direction: c.dir, Was: was, Reason: e.reason,
		Detail: e.detail.String(), Uptime: uptime, Count: m.nConn})
	p := c.info
	if p != nil && p.conn == c {
		p.conn = nil
	}
	if p != nil && was == Connecting && m.cfg.CandidateCooldown > 0 {
		p.cooldown = m.after(now, m.cfg.CandidateCooldown)
	}
	if len(m.onDisconnected) > 0 {
		snap := m.snapshot(now, c)
		snap.State = final
		for _, f := range m.onDisconnected {
			f(now, snap)
		}
	}
	if p != nil && !e.quiet && m.running && p.important() && p.conn == nil && redials(e.reason) {
		m.scheduleRedial(now, c.peer, p)
	}
	if p != nil && m.peers[c.peer] == p {
		m.tidy(now, c.peer, p)
	}
	if !e.quiet {
		m.fill(now)
	}
}

// redials reports whether an important peer is redialled after a session
// ended for reason.
func redials(reason string) bool {
	switch reason {
	case ReasonLocal, ReasonShutdown, ReasonReplaced, ReasonDuplicate, ReasonSelf, ReasonWrongPeer:
		return false
	}
	return true
}

func (m *Manager) onLingerEnd(c *conn) {
	if c.state == Disconnecting && c.mapped {
		m.remove(c)
	}
}

// capLinger bounds the lingering entries to MaxConnections, oldest first.
func (m *Manager) capLinger() {
	for i := 0; m.nLing > m.cfg.MaxConnections && i < len(m.list); {
		if c := m.list[i]; c.state == Disconnecting {
			m.remove(c)
			continue
		}
		i++
	}
}

// Disconnect closes the session with peer (a local command), sending
// CLOSE. An important peer is not redialled after it.
func (m *Manager) Disconnect(now time.Time, peer identity.PeerID) error {
	c := m.byPeer[peer]
	if c == nil {
		return ErrNotConnected
	}
	m.end(now, c, ending{reason: ReasonLocal, code: wire.ConnReasonLocal, send: true})
	return nil
}

func (m *Manager) dropErr(err error) error {
	m.stats.Drops[core.Reason(err)]++
	return err
}

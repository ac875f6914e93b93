package transport

import (
	"crypto/sha256"
	"net/netip"
	"time"
)

// receive is the loop's datagram input: parse the frame and dispatch it by
// type. Every datagram that does not end in a handshake step or an
// authenticated payload is dropped and counted by reason. It never panics
// on any input (FuzzReceive).
func (h *Host) receive(now time.Time, from netip.AddrPort, b []byte) {
	from = unmap(from)
	if isSTUN(b) { // RFC 7983: no frame passes this test
		h.onSTUN(now, from, b)
		return
	}
	f, err := parseFrame(b)
	if err != nil {
		var typ byte
		if len(b) > 0 {
			typ = b[0]
		}
		h.drop(now, from, typ, DropMalformed)
		return
	}
	switch f.typ {
	case frameData:
		h.onData(now, from, &f)
	case frameInit:
		h.onInit(now, from, &f)
	case frameResp:
		h.onResp(now, from, &f)
	case frameFinish:
		h.onFinish(now, from, &f)
	case frameCookie:
		h.onCookie(now, from, &f)
	}
}

// onData authenticates a data frame and hands its payload to the node,
// with the session's address as the source.
func (h *Host) onData(now time.Time, from netip.AddrPort, f *frame) {
	s := h.sessions[f.receiver]
	switch {
	case s == nil:
		h.drop(now, from, f.typ, DropUnknownSession)
		return
	case from != s.addr:
		h.drop(now, from, f.typ, DropAddrMismatch)
		return
	}
	pt, reason, ok := s.open(f)
	if !ok {
		h.drop(now, from, f.typ, reason)
		return
	}
	s.lastRecv = now
	s.unanswered, s.stale = time.Time{}, false
	s.packetsIn++
	s.bytesIn += uint64(len(f.header) + len(f.body))
	if !s.confirmed {
		s.confirmed = true
		s.finish = nil
		if s.finishTimer != nil {
			s.finishTimer.Stop()
			s.finishTimer = nil
		}
	}
	if len(pt) == 0 {
		return // a keepalive
	}
	s.lastRecvData = now
	if h.node == nil {
		h.drop(now, from, f.typ, DropNoNode)
		return
	}
	h.stats.delivered.Add(1)
	h.node.HandlePacket(now, s.addr, pt)
}

// onInit answers a peer's message 1 with message 2 and keeps the
// half-open handshake until message 3 or HandshakeTimeout.
func (h *Host) onInit(now time.Time, from netip.AddrPort, f *frame) {
	if hs := h.halfOpen[halfKey{from, f.sender}]; hs != nil {
		// A retransmission: our message 2 was lost. Resend it (no larger
		// than the init, so no amplification) without new state.
		h.stats.retransmits.Add(1)
		h.write(from, hs.frame)
		return
	}
	if from == h.local {
		h.drop(now, from, f.typ, DropSelf)
		return
	}
	p := h.peers[from]
	if p != nil {
		for _, s := range [...]*session{p.cur, p.prev} {
			if s != nil && !s.initiator && s.remote == f.sender {
				h.drop(now, from, f.typ, DropUnexpected) // late copy of a completed handshake
				return
			}
		}
	}
	ip := sourceNet(from)
	switch {
	case h.nSessions >= h.cfg.MaxSessions && (p == nil || p.cur == nil): // a rekey is let in
		h.drop(now, from, f.typ, DropSessionsFull)
		return
	case len(h.halfOpen) >= h.cfg.MaxHalfOpen:
		h.drop(now, from, f.typ, DropHalfOpenFull)
		return
	case h.perIP[ip] >= h.cfg.MaxHalfOpenPerIP:
		h.drop(now, from, f.typ, DropHalfOpenPerIP)
		return
	}
	// Under load, only an init echoing our cookie gets state. A valid
	// cookie skips the rate limit: its sender proved its address.
	if !h.jar.valid(now, from, f.sender, &f.cookie) &&
		(len(h.halfOpen) >= h.cfg.CookieThreshold || !h.limiter.AllowN(now, 1)) {
		c := h.jar.make(now, from, f.sender)
		h.write(from, appendCookie(make([]byte, 0, cookieLen), f.sender, &c))
		h.stats.cookies.Add(1)
		h.drop(now, from, f.typ, DropCookieRequired)
		return
	}
	hs, err := newNoise(h.keys, false, h.entropy)
	if err != nil {
		h.drop(now, from, f.typ, DropBadHandshake)
		return
	}
	if _, _, _, err := hs.ReadMessage(nil, f.body); err != nil {
		h.drop(now, from, f.typ, DropBadHandshake)
		return
	}
	msg2, _, _, err := hs.WriteMessage(make([]byte, 0, msg2Len), h.keys.payload)
	if err != nil || len(msg2) != msg2Len {
		h.drop(now, from, f.typ, DropBadHandshake) // e.g. a low-order ephemeral key
		return
	}
	k := &handshake{index: h.newIndex(), remote: f.sender, addr: from, hs: hs, started: now}
	k.frame = appendResp(make([]byte, 0, respLen), k.index, f.sender, msg2)
	h.handshakes[k.index] = k
	h.halfOpen[halfKey{from, f.sender}] = k
	h.perIP[ip]++
	h.stats.halfOpen.Store(int64(len(h.halfOpen)))
	h.peerAt(from).inbound++
	k.timer = h.after(h.cfg.HandshakeTimeout, func() { h.onHalfOpenTimeout(k) })
	h.stats.answered.Add(1)
	h.write(from, k.frame)
}

// onResp reads message 2 of our handshake, verifies the responder's
// identity and completes the handshake with message 3.
func (h *Host) onResp(now time.Time, from netip.AddrPort, f *frame) {
	k := h.handshakes[f.receiver]
	switch {
	case k == nil || !k.initiator:
		h.drop(now, from, f.typ, DropUnknownSession)
		return
	case from != k.addr:
		h.drop(now, from, f.typ, DropAddrMismatch)
		return
	}
	payload, _, _, err := k.hs.ReadMessage(make([]byte, 0, payloadLen), f.body)
	if err != nil {
		// Noise rolled its state back: a forged message 2 does not spoil
		// the handshake for the real one.
		h.drop(now, from, f.typ, DropBadHandshake)
		return
	}
	p := h.peers[k.addr]
	peerStatic := k.hs.PeerStatic()
	id, err := verifyPayload(payload, peerStatic)
	switch {
	case err != nil:
		h.drop(now, from, f.typ, DropBadSignature)
		h.failDial(now, p, reasonSignature)
		return
	case id == h.keys.id:
		h.drop(now, from, f.typ, DropSelf)
		h.failDial(now, p, reasonSelf)
		return
	case h.peerWinsTwin(now, p, peerStatic):
		// The peer started a handshake with us at the same time and its
		// static key is lower: its handshake wins on both sides, ours is
		// abandoned before message 3 (the peer abandons its own answer to
		// ours when message 3 never comes). The queue waits for its
		// session (or a new dial if that fails).
		h.stats.abandoned.Add(1)
		h.endHandshake(k)
		return
	case p.cur == nil && h.nSessions >= h.cfg.MaxSessions:
		h.drop(now, from, f.typ, DropSessionsFull)
		h.failDial(now, p, reasonFull)
		return
	}
	msg3, cs1, cs2, err := k.hs.WriteMessage(make([]byte, 0, msg3Len), h.keys.payload)
	if err != nil || cs1 == nil || len(msg3) != msg3Len {
		h.drop(now, from, f.typ, DropBadHandshake)
		h.failDial(now, p, "noise")
		return
	}
	s := &session{
		index: k.index, remote: f.sender, addr: k.addr, peer: id, peerStatic: clone(peerStatic),
		initiator: true, send: cs1.Cipher(), recv: cs2.Cipher(), established: now, lastRecv: now,
	}
	s.finish = appendFinish(make([]byte, 0, finishLen), f.sender, msg3)
	took := now.Sub(k.started)
	h.endHandshake(k)
	h.sessions[s.index] = s
	h.write(s.addr, s.finish)
	s.finishNext = h.cfg.RetransmitBase
	s.finishTimer = h.after(s.finishNext, func() { h.onFinishTimer(s) })
	h.establish(now, p, s, took, k.rekey)
}

// onFinish reads message 3 of a handshake we answered, verifies the
// initiator's identity and confirms the session with a keepalive.
func (h *Host) onFinish(now time.Time, from netip.AddrPort, f *frame) {
	k := h.handshakes[f.receiver]
	if k == nil {
		// Message 3 again: the confirmation was lost. Confirm again.
		if s := h.sessions[f.receiver]; s != nil && !s.initiator && s.addr == from && s.finishSum == sha256.Sum256(f.body) {
			h.stats.retransmits.Add(1)
			h.sendKeepalive(now, s)
			return
		}
		h.drop(now, from, f.typ, DropUnknownSession)
		return
	}
	switch {
	case k.initiator:
		h.drop(now, from, f.typ, DropUnexpected)
		return
	case from != k.addr:
		h.drop(now, from, f.typ, DropAddrMismatch)
		return
	}
	payload, cs1, cs2, err := k.hs.ReadMessage(make([]byte, 0, payloadLen), f.body)
	if err != nil || cs1 == nil {
		h.drop(now, from, f.typ, DropBadHandshake) // rolled back: the real one may follow
		return
	}
	p := h.peers[k.addr]
	peerStatic := k.hs.PeerStatic()
	id, err := verifyPayload(payload, peerStatic)
	switch {
	case err != nil:
		h.drop(now, from, f.typ, DropBadSignature)
		h.endHandshake(k)
		h.afterInboundEnded(now, p)
		return
	case id == h.keys.id:
		h.drop(now, from, f.typ, DropSelf)
		h.endHandshake(k)
		h.afterInboundEnded(now, p)
		return
	case p.cur == nil && h.nSessions >= h.cfg.MaxSessions:
		h.drop(now, from, f.typ, DropSessionsFull)
		h.endHandshake(k)
		h.afterInboundEnded(now, p)
		return
	}
	s := &session{
		index: k.index, remote: k.remote, addr: k.addr, peer: id, peerStatic: clone(peerStatic),
		send: cs2.Cipher(), recv: cs1.Cipher(), established: now, lastRecv: now,
		confirmed: true, finishSum: sha256.Sum256(f.body),
	}
	took := now.Sub(k.started)
	h.endHandshake(k)
	h.sessions[s.index] = s
	h.sendKeepalive(now, s) // the confirmation
	h.establish(now, p, s, took, p.cur != nil && p.cur.peer == id && !h.twin(now, p.cur, s))
}

// onCookie follows a cookie reply to our message 1: resend it with the
// cookie. A few per handshake at most, and only from the address dialled.
func (h *Host) onCookie(now time.Time, from netip.AddrPort, f *frame) {
	k := h.handshakes[f.receiver]
	switch {
	case k == nil || !k.initiator:
		h.drop(now, from, f.typ, DropUnknownSession)
		return
	case from != k.addr:
		h.drop(now, from, f.typ, DropAddrMismatch)
		return
	case k.cookies >= maxCookieResends || [cookieSize]byte(k.frame[8:initHeaderLen]) == f.cookie:
		h.drop(now, from, f.typ, DropUnexpected)
		return
	}
	k.cookies++
	copy(k.frame[8:initHeaderLen], f.cookie[:])
	h.stats.retransmits.Add(1)
	h.write(k.addr, k.frame)
}

// maxCookieResends bounds the inits resent per handshake on cookie replies.
const maxCookieResends = 3

// onHalfOpenTimeout ends a handshake we answered whose message 3 never
// came.
func (h *Host) onHalfOpenTimeout(k *handshake) {
	if h.handshakes[k.index] != k {
		return
	}
	now := time.Now()
	h.stats.timeouts.Add(1)
	p := h.peers[k.addr]
	h.endHandshake(k)
	h.obs.Observe(now, HandshakeFailed{Addr: k.addr, Reason: reasonTimeout})
	h.afterInboundEnded(now, p)
}

// afterInboundEnded runs when a peer's handshake with us ended without a
// session: if our own dial was abandoned for it, datagrams may be waiting.
func (h *Host) afterInboundEnded(now time.Time, p *peer) {
	if p == nil {
		return
	}
	if len(p.queue) > 0 && p.cur == nil && p.dial == nil {
		if r, ok := h.startDial(now, p, false); !ok {
			h.dropQueue(now, p, r)
		}
	}
	h.gcPeer(p)
}

// endHandshake forgets a handshake (ours or a peer's) and its timer.
func (h *Host) endHandshake(k *handshake) {
	if h.handshakes[k.index] != k {
		return
	}
	delete(h.handshakes, k.index)
	if k.timer != nil {
		k.timer.Stop()
	}
	p := h.peers[k.addr]
	if k.initiator {
		if p != nil && p.dial == k {
			p.dial = nil
		}
		h.nDialing--
		h.stats.dialing.Store(int64(h.nDialing))
		return
	}
	delete(h.halfOpen, halfKey{k.addr, k.remote})
	ip := sourceNet(k.addr)
	if h.perIP[ip]--; h.perIP[ip] <= 0 {
		delete(h.perIP, ip)
	}
	h.stats.halfOpen.Store(int64(len(h.halfOpen)))
	if p != nil {
		p.inbound--
	}
}

// sourceNet is what MaxHalfOpenPerIP counts by: the IPv4 address, or the
// IPv6 /64 (one host commonly has a whole /64 to draw addresses from).
func sourceNet(a netip.AddrPort) netip.Prefix {
	ip := a.Addr()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

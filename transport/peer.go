package transport

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// send is core's Send on the loop: encrypt b on the session to `to`, or
// queue a copy and start a handshake.
func (h *Host) send(now time.Time, to netip.AddrPort, b []byte) {
	to = unmap(to)
	switch {
	case h.closed:
		h.drop(now, to, frameData, DropClosed)
		return
	case !to.IsValid() || to.Port() == 0 || to.Addr().IsUnspecified() || to == h.local:
		h.drop(now, to, frameData, DropBadAddr)
		return
	case len(b) > h.maxPlain:
		h.drop(now, to, frameData, DropTooLarge)
		return
	}
	p := h.peers[to]
	if p != nil && p.cur != nil {
		h.sendOn(now, p, p.cur, b)
		return
	}
	if p == nil {
		p = h.peerAt(to)
	}
	if p.dial == nil {
		if r, ok := h.startDial(now, p, false); !ok {
			h.drop(now, to, frameData, r)
			h.gcPeer(p)
			return
		}
	}
	if len(p.queue) >= h.cfg.QueueLen || p.queued+len(b) > h.cfg.QueueBytes {
		h.drop(now, to, frameData, DropQueueFull)
		return
	}
	// A copy: b may alias a datagram the loop is handling (core's bodies
	// are only valid during their handler).
	p.queue = append(p.queue, clone(b))
	p.queued += len(b)
}

// sendOn encrypts b (empty: a keepalive) on s and writes it.
func (h *Host) sendOn(now time.Time, p *peer, s *session, b []byte) {
	out, err := s.seal(h.sendBuf[:0], b)
	if err != nil { // the counter is exhausted: a new session is needed
		h.closeSession(now, p, s, reasonExpired)
		if len(b) > 0 {
			h.send(now, p.addr, b)
		}
		return
	}
	h.write(s.addr, out)
	s.lastSend = now
	s.packetsOut++
	s.bytesOut += uint64(len(out))
	if len(b) == 0 {
		return
	}
	s.lastSendData = now
	if s.unanswered.IsZero() {
		s.unanswered = now
	}
	if p.dial == nil && p.cur == s && h.needsRekey(now, s) {
		h.startDial(now, p, true)
	}
}

// sendKeepalive sends an empty data frame on s.
func (h *Host) sendKeepalive(now time.Time, s *session) {
	h.stats.keepalives.Add(1)
	h.sendOn(now, h.peers[s.addr], s, nil)
}

// needsRekey reports whether s should be replaced by a new handshake:
// the initiator rekeys after RekeyAfter, either side a handshake timeout
// later (if the initiator did not), and either side after
// RekeyAfterMessages.
func (h *Host) needsRekey(now time.Time, s *session) bool {
	age := now.Sub(s.established)
	return (s.initiator && age >= h.cfg.RekeyAfter) || age >= h.cfg.rekeyBy() || s.sendN >= h.cfg.RekeyAfterMessages
}

// startDial starts our handshake to p: message 1, retransmitted at
// doubling intervals until message 2 or HandshakeTimeout. rekey marks a
// handshake that replaces (or checks) a live session.
func (h *Host) startDial(now time.Time, p *peer, rekey bool) (DropReason, bool) {
	switch {
	case h.nDialing >= h.cfg.MaxDialing:
		return DropDialLimit, false
	case p.cur == nil && h.nSessions >= h.cfg.MaxSessions:
		return DropSessionsFull, false
	}
	hs, err := newNoise(h.keys, true, h.entropy)
	if err != nil {
		return DropHandshakeFailed, false
	}
	msg1, _, _, err := hs.WriteMessage(make([]byte, 0, msg1Len), msg1Padding)
	if err != nil {
		return DropHandshakeFailed, false
	}
	k := &handshake{index: h.newIndex(), addr: p.addr, initiator: true, rekey: rekey, hs: hs,
		started: now, next: h.cfg.RetransmitBase}
	var noCookie [cookieSize]byte
	k.frame = appendInit(make([]byte, 0, initLen), k.index, &noCookie, msg1)
	h.handshakes[k.index] = k
	p.dial = k
	h.nDialing++
	h.stats.dialing.Store(int64(h.nDialing))
	h.stats.initiated.Add(1)
	if rekey {
		h.stats.rekeys.Add(1)
	}
	k.timer = h.after(k.next, func() { h.onDialTimer(k) })
	h.write(p.addr, k.frame)
	return 0, true
}

// onDialTimer retransmits message 1, or gives up at HandshakeTimeout.
func (h *Host) onDialTimer(k *handshake) {
	if h.handshakes[k.index] != k {
		return
	}
	now := time.Now()
	elapsed := now.Sub(k.started)
	if elapsed >= h.cfg.HandshakeTimeout-time.Millisecond {
		h.stats.timeouts.Add(1)
		h.failDial(now, h.peers[k.addr], reasonTimeout)
		return
	}
	h.stats.retransmits.Add(1)
	h.write(k.addr, k.frame)
	k.next *= 2
	k.timer = h.after(min(k.next, h.cfg.HandshakeTimeout-elapsed), func() { h.onDialTimer(k) })
}

// failDial ends our handshake to p without a session. Its queue is dropped
// unless a handshake the peer started may still bring a session; a failed
// staleness check closes the stale session.
func (h *Host) failDial(now time.Time, p *peer, reason string) {
	if p == nil || p.dial == nil {
		return
	}
	k := p.dial
	h.endHandshake(k)
	if k.rekey && p.cur != nil && p.cur.stale && reason == reasonTimeout {
		h.closeSession(now, p, p.cur, reasonStale)
	}
	n := 0
	if p.cur == nil && p.inbound == 0 {
		n = len(p.queue)
		r := DropHandshakeFailed
		if reason == reasonTimeout {
			r = DropHandshakeTimeout
		}
		h.dropQueue(now, p, r)
	}
	h.log.Debug("handshake failed", "addr", p.addr, "reason", reason, "dropped", n)
	h.obs.Observe(now, HandshakeFailed{Addr: p.addr, Initiator: true, Reason: reason, Dropped: n})
	h.gcPeer(p)
}

// dropQueue drops and counts what waits for p's session.
func (h *Host) dropQueue(now time.Time, p *peer, r DropReason) {
	for range p.queue {
		h.drop(now, p.addr, frameData, r)
	}
	clear(p.queue)
	p.queue, p.queued = p.queue[:0], 0
}

// twin reports whether s and cur were made at once by two handshakes in
// opposite directions between the same two processes (each side dialled
// before hearing from the other). A peer that restarted has a new static
// key: its new session is no twin of the old one, it replaces it.
func (h *Host) twin(now time.Time, cur, s *session) bool {
	return cur.initiator != s.initiator && now.Sub(cur.established) < h.cfg.HandshakeTimeout &&
		bytes.Equal(cur.peerStatic, s.peerStatic)
}

// peerWinsTwin reports, as our handshake to p gets message 2 from a peer
// with static key peerStatic, whether the peer's simultaneous handshake
// with us (half-open, or just completed) takes precedence: the one whose
// initiator has the lower static key wins, on both sides.
func (h *Host) peerWinsTwin(now time.Time, p *peer, peerStatic []byte) bool {
	if p == nil || !lowerKeyWins(peerStatic, h.keys.static.Public) {
		return false
	}
	if p.inbound > 0 {
		return true
	}
	c := p.cur
	return c != nil && !c.initiator && now.Sub(c.established) < h.cfg.HandshakeTimeout &&
		bytes.Equal(c.peerStatic, peerStatic)
}

// establish makes s p's session (or, if it lost to a simultaneous one, a
// retired one) and sends what waited for it.
func (h *Host) establish(now time.Time, p *peer, s *session, took time.Duration, rekey bool) {
	h.stats.completed.Add(1)
	local := h.keys.static.Public
	restarted := false
	for _, old := range [...]*session{p.cur, p.prev} {
		if old != nil && old.peer == s.peer && !bytes.Equal(old.peerStatic, s.peerStatic) {
			restarted = true
		}
	}
	switch {
	case p.cur == nil:
		p.cur = s
		h.nSessions++
	case p.cur.peer != s.peer: // another identity at this address now
		h.closeSession(now, p, p.cur, reasonReplaced)
		p.cur = s
		h.nSessions++
	case h.twin(now, p.cur, s) && !lowerKeyWins(initiatorKey(s, local), initiatorKey(p.cur, local)):
		h.retire(now, p, s) // the other one wins
		return
	default: // a rekey, or the winning twin
		h.retire(now, p, p.cur)
		p.cur = s
		h.nSessions++
	}
	h.stats.sessions.Store(int64(h.nSessions))
	h.setPeerID(p.addr, s.peer)
	h.log.Debug("session up", "peer", s.peer.Short(), "addr", p.addr, "initiator", s.initiator, "took", took)
	h.obs.Observe(now, SessionUp{Peer: s.peer, Addr: p.addr, Initiator: s.initiator, Rekey: rekey,
		Restarted: restarted, Took: took})
	q := p.queue
	p.queue, p.queued = nil, 0
	for _, b := range q {
		h.send(now, p.addr, b)
	}
}

// retire demotes s to receive-only until the peer has moved to the new
// session too; the previously retired one goes.
func (h *Host) retire(now time.Time, p *peer, s *session) {
	if p.prev != nil && p.prev != s {
		h.closeSession(now, p, p.prev, reasonRetired)
	}
	if p.cur == s {
		p.cur = nil
		h.nSessions--
	}
	s.retired = true
	s.retireAt = now.Add(h.cfg.retireAfter())
	s.finish = nil
	if s.finishTimer != nil {
		s.finishTimer.Stop()
		s.finishTimer = nil
	}
	p.prev = s
}

// closeSession forgets s.
func (h *Host) closeSession(now time.Time, p *peer, s *session, reason string) {
	if h.sessions[s.index] == s {
		delete(h.sessions, s.index)
	}
	if s.finishTimer != nil {
		s.finishTimer.Stop()
		s.finishTimer = nil
	}
	h.stats.closed.Add(1)
	switch s {
	case p.prev:
		p.prev = nil
	case p.cur:
		p.cur = nil
		h.nSessions--
		h.stats.sessions.Store(int64(h.nSessions))
		h.setPeerID(p.addr, identity.PeerID{})
		h.log.Debug("session down", "peer", s.peer.Short(), "addr", p.addr, "reason", reason)
		h.obs.Observe(now, SessionDown{Peer: s.peer, Addr: p.addr, Reason: reason, Age: now.Sub(s.established)})
	}
}

// onFinishTimer retransmits message 3 until the responder confirms, and
// closes the session if it never does.
func (h *Host) onFinishTimer(s *session) {
	if h.sessions[s.index] != s || s.confirmed || s.finish == nil {
		return
	}
	now := time.Now()
	elapsed := now.Sub(s.established)
	if elapsed >= h.cfg.HandshakeTimeout-time.Millisecond {
		s.finishTimer = nil
		h.stats.timeouts.Add(1)
		p := h.peers[s.addr]
		h.closeSession(now, p, s, reasonUnconfirmed)
		h.gcPeer(p)
		return
	}
	h.stats.retransmits.Add(1)
	h.write(s.addr, s.finish)
	s.finishNext *= 2
	s.finishTimer = h.after(min(s.finishNext, h.cfg.HandshakeTimeout-elapsed), func() { h.onFinishTimer(s) })
}

// armTick schedules the next maintenance pass.
func (h *Host) armTick() { h.tick = h.after(h.cfg.TickInterval, h.onTick) }

// onTick is the periodic maintenance of every peer's sessions.
func (h *Host) onTick() {
	now := time.Now()
	for _, a := range h.sortedPeers() {
		h.maintain(now, h.peers[a])
	}
	h.armTick()
}

// maintain retires, expires, keeps alive and checks p's sessions.
func (h *Host) maintain(now time.Time, p *peer) {
	if s := p.prev; s != nil && !now.Before(s.retireAt) {
		h.closeSession(now, p, s, reasonRetired)
	}
	if s := p.cur; s != nil {
		last := s.lastRecv
		if s.lastSend.After(last) {
			last = s.lastSend
		}
		switch {
		case now.Sub(s.established) >= h.cfg.expireAt():
			h.closeSession(now, p, s, reasonExpired)
		case now.Sub(last) >= h.cfg.IdleTimeout:
			h.closeSession(now, p, s, reasonIdle)
		case !s.stale && !s.unanswered.IsZero() && now.Sub(s.unanswered) >= h.cfg.StaleAfter && p.dial == nil:
			// Data went out and nothing came back: the peer may have lost
			// the session (a restart). A handshake tells; if it times out,
			// failDial closes the session.
			s.stale = true
			h.startDial(now, p, true)
		case s.lastRecvData.After(s.lastSend) && now.Sub(s.lastRecvData) >= h.cfg.KeepaliveAfter:
			h.sendKeepalive(now, s)
		}
	}
	h.gcPeer(p)
}

// peerAt returns the peer at addr, creating it.
func (h *Host) peerAt(addr netip.AddrPort) *peer {
	p := h.peers[addr]
	if p == nil {
		p = &peer{addr: addr}
		h.peers[addr] = p
	}
	return p
}

// gcPeer forgets p once nothing is left of it.
func (h *Host) gcPeer(p *peer) {
	if p != nil && p.empty() && h.peers[p.addr] == p {
		delete(h.peers, p.addr)
	}
}

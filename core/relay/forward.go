package relay

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// forwarded is what a relay keeps of a message it handed off, to verify
// and pass back the acknowledgement: the route part of the proof, its hop
// index and the previous party's address.
type forwarded struct {
	route   *Proof
	hop     int
	prev    netip.AddrPort
	expires time.Time
}

func reasonOf(err error) string { return core.Reason(err) }

// handleData is the RelayData receive path; see "Receiving" in the package
// documentation for the order of the checks.
func (r *Relay) handleData(now time.Time, from netip.AddrPort, body []byte) error {
	size := wire.HeaderLen + len(body)
	m, err := wire.DecodeRelayData(body)
	if err != nil {
		return r.refuse(now, from, nil, reasonOf(err), size)
	}
	k, n := len(m.Records), len(m.Path)
	switch {
	case k > n:
		return r.refuse(now, from, &m, ReasonBadPath, size)
	case k < n && m.Path[k].Key != r.selfKey, k == n && m.Recipient.Key != r.selfKey:
		return r.refuse(now, from, &m, ReasonMisrouted, size)
	}
	relaying := k < n
	if relaying && !r.cfg.Enabled {
		return r.refuse(now, from, &m, ReasonNotRelay, size)
	}
	if n == 0 || n > r.cfg.MaxHops {
		return r.refuse(now, from, &m, ReasonHops, size)
	}
	if !validAddrs(&m) {
		return r.refuse(now, from, &m, ReasonBadPath, size)
	}
	switch sent := time.Unix(0, m.Sent); {
	case sent.Before(now.Add(-r.cfg.AckTimeout)):
		return r.refuse(now, from, &m, ReasonExpired, size)
	case sent.After(now.Add(r.cfg.MaxClockSkew)):
		return r.refuse(now, from, &m, ReasonFuture, size)
	}
	id := MessageID(m.ID)
	if r.seenHas(id, now) {
		return r.refuse(now, from, &m, ReasonDuplicate, size)
	}
	if len(m.Payload) > r.cfg.MaxPayload {
		return r.refuse(now, from, &m, ReasonOversized, size)
	}
	p := routeOf(&m)
	p.Hops = hopRecords(m.Records)
	if _, err := verifyPrefix(p, r.cfg.MaxHops, r.verifier); err != nil {
		reason := ReasonForged
		if errors.Is(err, ErrRepeatedPeer) {
			reason = ReasonBadPath
		}
		return r.refuse(now, from, &m, reason, size)
	}
	if relaying {
		return r.forward(now, from, &m, p, size)
	}
	r.accept(now, &m, p)
	return nil
}

func validAddrs(m *wire.RelayData) bool {
	if !m.SenderAddr.IsValid() || !m.Recipient.Addr.IsValid() {
		return false
	}
	for i := range m.Path {
		if !m.Path[i].Addr.IsValid() {
			return false
		}
	}
	return true
}

// routeOf returns the route part of m's proof (no hop records, no ack),
// with the payload hash computed.
func routeOf(m *wire.RelayData) *Proof {
	p := &Proof{
		ID:          MessageID(m.ID),
		PayloadHash: PayloadHash(m.Payload),
		Nonce:       m.Nonce,
		Sender:      peerOf(m.Sender),
		Sent:        m.Sent,
		RouteSig:    m.RouteSig,
		Recipient:   peerOf(m.Recipient.Key),
		Path:        make([]identity.PeerID, len(m.Path)),
	}
	for i := range m.Path {
		p.Path[i] = peerOf(m.Path[i].Key)
	}
	return p
}

// forward hands a verified message off to the next party: per-sender cap,
// own hand-off record (times clamped to be no earlier than the previous
// record's), bandwidth admission, then the datagram to the next party and
// the receipt to the sender.
func (r *Relay) forward(now time.Time, from netip.AddrPort, m *wire.RelayData, p *Proof, size int) error {
	if r.cheat != nil && !r.cheat.Forward(now, from, m) {
		return nil
	}
	if r.perSender[p.Sender] >= r.cfg.MaxPendingPerSender {
		return r.refuse(now, from, m, ReasonPendingCap, size)
	}
	k := len(m.Records)
	prevTime, prevAddr := m.Sent, m.SenderAddr
	if k > 0 {
		prevTime, prevAddr = m.Records[k-1].HandedOff, m.Path[k-1].Addr
	}
	// One more record (the record count stays one byte: at most 8).
	outSize := size + wire.RelayRecordLen
	if reason := r.bw.Admit(now, from, outSize); reason != "" {
		return r.refuse(now, from, m, reason, outSize)
	}
	t := max(now.UnixNano(), prevTime)
	if err := AppendHandoff(r.node.Identity(), m, t, t); err != nil {
		return r.refuse(now, from, m, ReasonMisrouted, size)
	}
	pkt := m.AppendPacket(make([]byte, 0, outSize))
	next := m.Recipient
	if k+1 < len(m.Path) {
		next = m.Path[k+1]
	}
	id := p.ID
	r.markSeen(id, now)
	st := &forwarded{route: p, hop: k, prev: prevAddr, expires: now.Add(r.cfg.AckTimeout)}
	st.route.Hops = nil
	r.fwd.Add(id, st)
	r.perSender[p.Sender]++
	r.fwdQ.push(st.expires, id)
	if r.fwdQ.len() > 2*r.cfg.MaxPending {
		r.fwdQ.compact(r.fwd.Contains)
	}
	r.armFwd()

	r.bw.CountIn(from, size)
	r.bw.CountOut(next.Addr, len(pkt))
	r.stats.Forwarded++
	r.stats.BytesIn += uint64(size)
	r.stats.BytesOut += uint64(len(pkt))
	r.node.Observe(now, Forwarded{ID: id, Sender: p.Sender, Hop: k, Next: peerOf(next.Key), Bytes: len(pkt)})
	r.node.Send(next.Addr, pkt)
	rc := wire.RelayReceipt{ID: m.ID, Hop: uint8(k), Record: m.Records[k]}
	r.node.Send(m.SenderAddr, rc.AppendPacket(make([]byte, 0, wire.HeaderLen+wire.RelayReceiptLen)))
	return nil
}

// accept delivers a verified message addressed to this node and sends the
// signed acknowledgement to the sender and back along the path.
func (r *Relay) accept(now time.Time, m *wire.RelayData, p *Proof) {
	r.markSeen(p.ID, now)
	n := len(m.Path)
	recv := max(now.UnixNano(), m.Records[n-1].HandedOff)
	ack := wire.RelayAck{ID: m.ID, Received: recv, Records: m.Records}
	copy(ack.Sig[:], r.node.Identity().Sign(AckBytes(p.ID, r.self, recv, ChainHash(p.Path, p.Hops))))
	pkt := ack.AppendPacket(nil)
	r.stats.Delivered++
	r.node.Observe(now, Delivered{
		ID: p.ID, Sender: p.Sender, Hops: n, Latency: now.Sub(time.Unix(0, m.Sent)), Size: len(m.Payload),
	})
	r.node.Send(m.SenderAddr, pkt)
	r.node.Send(m.Path[n-1].Addr, pkt) // sent buffers are read-only, so shared
	if r.deliver != nil {
		r.deliver(now, Message{
			ID: p.ID, Sender: p.Sender, Sent: time.Unix(0, m.Sent).UTC(), Path: p.Path, Payload: bytes.Clone(m.Payload),
		})
	}
}

// handleAck takes an acknowledgement: as the sender it completes the
// proof; as a relay on the path it verifies the proof, batches it and
// passes the acknowledgement on towards the sender.
func (r *Relay) handleAck(now time.Time, from netip.AddrPort, body []byte) error {
	a, err := wire.DecodeRelayAck(body)
	if err != nil {
		return r.drop(reasonOf(err))
	}
	id := MessageID(a.ID)
	if o := r.out[id]; o != nil {
		return r.ackAsSender(now, o, &a)
	}
	if st, ok := r.fwd.Peek(id); ok {
		return r.ackAsRelay(now, from, st, &a, body)
	}
	if r.seenHas(id, now) {
		r.stats.DuplicateAcks++
		return nil
	}
	return r.drop(ReasonUnsolicited)
}

func (r *Relay) ackAsRelay(now time.Time, from netip.AddrPort, st *forwarded, a *wire.RelayAck, body []byte) error {
	p := *st.route
	p.Hops = hopRecords(a.Records)
	p.Ack = AckRecord{Received: a.Received, Sig: a.Sig}
	if err := VerifyWith(&p, r.cfg.MaxHops, r.verifier); err != nil {
		r.stats.ProofsRejected++
		return r.drop(ReasonForged)
	}
	r.stats.ProofsVerified++
	r.fwd.Remove(p.ID)
	pkt := clonePacket(wire.KindRelayAck, body)
	r.bw.CountIn(from, len(pkt))
	r.bw.CountOut(st.prev, len(pkt))
	r.stats.AcksRelayed++
	r.stats.BytesIn += uint64(len(pkt))
	r.stats.BytesOut += uint64(len(pkt))
	r.node.Send(st.prev, pkt)
	r.addToBatch(now, &p)
	return nil
}

// onForgetForwarded is the relay state's eviction callback (removal on
// acknowledgement, expiry or LRU overflow): it releases the sender's slot.
func (r *Relay) onForgetForwarded(_ MessageID, st *forwarded) {
	if c := r.perSender[st.route.Sender]; c > 1 {
		r.perSender[st.route.Sender] = c - 1
	} else {
		delete(r.perSender, st.route.Sender)
	}
}

// armFwd sets the expiry timer for the oldest relay state, if none is set.
func (r *Relay) armFwd() {
	for r.fwdQ.len() > 0 && !r.fwd.Contains(r.fwdQ.peek().id) {
		r.fwdQ.pop()
	}
	if r.fwdTimer != nil || r.fwdQ.len() == 0 || !r.running {
		return
	}
	clk := r.node.Env().Clock
	r.fwdTimer = clk.AfterFunc(r.fwdQ.peek().at.Sub(clk.Now()), r.onStateTimeout)
}

// onStateTimeout forgets relayed messages whose acknowledgement did not
// come back within AckTimeout.
func (r *Relay) onStateTimeout() {
	r.fwdTimer = nil
	if !r.running {
		return
	}
	now := r.node.Env().Clock.Now()
	for r.fwdQ.len() > 0 && !r.fwdQ.peek().at.After(now) {
		d := r.fwdQ.pop()
		if st, ok := r.fwd.Peek(d.id); ok && !st.expires.After(now) {
			r.fwd.Remove(d.id)
		}
	}
	r.armFwd()
}

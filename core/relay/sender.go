package relay

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/wire"
)

// outgoing is an own message awaiting its acknowledgement: the route part
// of its proof, and the hand-off receipts received so far, by hop.
type outgoing struct {
	proof    Proof
	sent     time.Time
	receipts [wire.MaxRelayPath]HopRecord
	have     uint16 // bit i: receipts[i] is set
}

// partial returns the proof the receipts give: the route and the hand-off
// records of the leading hops that confirmed, with no acknowledgement.
func (o *outgoing) partial() *Proof {
	p := o.proof
	p.Hops = nil
	for i := range p.Path {
		if o.have&(1<<i) == 0 {
			break
		}
		p.Hops = append(p.Hops, o.receipts[i])
	}
	return &p
}

// track records a message just sent and arms its deadline.
func (r *Relay) track(now time.Time, p *Proof) {
	r.out[p.ID] = &outgoing{proof: *p, sent: now}
	r.markSeen(p.ID, now)
	r.outQ.push(now.Add(r.cfg.AckTimeout), p.ID)
	if r.outQ.len() > 2*r.cfg.MaxPending {
		r.outQ.compact(func(id MessageID) bool { return r.out[id] != nil })
	}
	r.armOut()
}

// armOut sets the deadline timer for the earliest pending message, if
// none is set; entries of messages already acknowledged are skipped.
func (r *Relay) armOut() {
	for r.outQ.len() > 0 && r.out[r.outQ.peek().id] == nil {
		r.outQ.pop()
	}
	if r.outTimer != nil || r.outQ.len() == 0 || !r.running {
		return
	}
	clk := r.node.Env().Clock
	r.outTimer = clk.AfterFunc(r.outQ.peek().at.Sub(clk.Now()), r.onAckTimeout)
}

// onAckTimeout reports every pending message whose deadline has passed as
// undelivered.
func (r *Relay) onAckTimeout() {
	r.outTimer = nil
	if !r.running {
		return
	}
	now := r.node.Env().Clock.Now()
	for r.outQ.len() > 0 && !r.outQ.peek().at.After(now) {
		d := r.outQ.pop()
		if o := r.out[d.id]; o != nil {
			r.undelivered(now, o)
		}
	}
	r.armOut()
}

// undelivered reports a message without acknowledgement, auditing the
// hand-off chain its receipts give.
func (r *Relay) undelivered(now time.Time, o *outgoing) {
	delete(r.out, o.proof.ID)
	p := o.partial()
	rep := audit(p, r.cfg.Audit, r.verifier)
	r.stats.Undelivered++
	r.node.Observe(now, Undelivered{
		ID: p.ID, Recipient: p.Recipient, FirstHop: p.Path[0], Hops: len(p.Path),
		Confirmed: rep.Confirmed, Suspects: rep.Suspects,
	})
	if r.outcome != nil {
		r.outcome(now, Outcome{ID: p.ID, Proof: p, Report: rep, Latency: now.Sub(o.sent)})
	}
}

// ackAsSender completes and verifies the proof of an own message.
func (r *Relay) ackAsSender(now time.Time, o *outgoing, a *wire.RelayAck) error {
	p := o.proof
	p.Hops = hopRecords(a.Records)
	p.Ack = AckRecord{Received: a.Received, Sig: a.Sig}
	if err := VerifyWith(&p, r.cfg.MaxHops, r.verifier); err != nil {
		r.stats.ProofsRejected++
		return r.drop(ReasonForged)
	}
	delete(r.out, p.ID)
	r.stats.ProofsVerified++
	r.stats.Acked++
	lat := now.Sub(o.sent)
	r.node.Observe(now, Acked{
		ID: p.ID, Recipient: p.Recipient, Hops: len(p.Path),
		Latency: lat, Delivery: time.Duration(p.Ack.Received - p.Sent),
	})
	if r.outcome != nil {
		r.outcome(now, Outcome{ID: p.ID, Delivered: true, Proof: p.Clone(), Report: audit(&p, r.cfg.Audit, r.verifier), Latency: lat})
	}
	r.addToBatch(now, &p)
	return nil
}

// handleReceipt records a hop's signed hand-off for an own message.
func (r *Relay) handleReceipt(now time.Time, _ netip.AddrPort, body []byte) error {
	rc, err := wire.DecodeRelayReceipt(body)
	if err != nil {
		return r.drop(reasonOf(err))
	}
	id := MessageID(rc.ID)
	o := r.out[id]
	if o == nil {
		if r.seenHas(id, now) {
			return nil // late: the message is acknowledged or reported
		}
		return r.drop(ReasonUnsolicited)
	}
	i := int(rc.Hop)
	if i >= len(o.proof.Path) {
		return r.drop(ReasonBadPath)
	}
	if o.have&(1<<i) != 0 {
		return nil
	}
	rec := HopRecord(rc.Record)
	p := &o.proof
	msg := HandoffBytes(id, i, p.Path[i], p.party(i+1), rec.Received, rec.HandedOff)
	if rec.HandedOff < rec.Received || !r.verifier.Verify(p.Path[i], msg, rec.Sig[:]) {
		return r.drop(ReasonForged)
	}
	o.receipts[i] = rec
	o.have |= 1 << i
	r.stats.Receipts++
	return nil
}

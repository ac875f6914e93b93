package relay

import (
	"bytes"
	"errors"
	"slices"
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// AuditConfig sets when a segment of a message's journey counts as slow.
type AuditConfig struct {
	// MaxHold is the longest a relay may hold a message (its receive to
	// hand-off time) before the hold is slow.
	MaxHold time.Duration
	// MaxLink is the longest a message may take between two parties (one's
	// hand-off, or the send, to the other's receipt) before the link is slow.
	MaxLink time.Duration
}

// DefaultAuditConfig returns thresholds far above any honest relay's hold
// (it hands off in the same call) and any terrestrial one-way delay.
func DefaultAuditConfig() AuditConfig {
	return AuditConfig{MaxHold: time.Second, MaxLink: 2 * time.Second}
}

// Audit verdicts.
const (
	// VerdictDelivered: the proof verifies and no segment is slow.
	VerdictDelivered = "delivered"
	// VerdictDelayed: the proof verifies but a segment is slow.
	VerdictDelayed = "delayed"
	// VerdictDropped: the evidence verifies as far as it goes, but the hop
	// chain or the acknowledgement is missing.
	VerdictDropped = "dropped"
	// VerdictForged: a signature, the ID, the path or the timestamps fail.
	VerdictForged = "forged"
)

// Segment kinds.
const (
	// SegmentLink is the time from one party's hand-off (or the send) to the
	// next party's receipt.
	SegmentLink = "link"
	// SegmentHold is the time a relay held the message.
	SegmentHold = "hold"
)

// Segment is one timed stretch of a message's journey, from signed times.
type Segment struct {
	Kind string `json:"kind"`
	// From and To are the parties at its ends; for a hold both are the relay.
	From     identity.PeerID `json:"from"`
	To       identity.PeerID `json:"to"`
	Duration time.Duration   `json:"duration_ns"`
	Slow     bool            `json:"slow,omitempty"`
}

// Report is what Audit finds in a proof.
type Report struct {
	ID      MessageID `json:"id"`
	Verdict string    `json:"verdict"`
	// Err is the verification failure for VerdictForged, or the missing
	// piece (ErrIncomplete, ErrNoAck) for VerdictDropped.
	Err error `json:"-"`
	// Confirmed is the number of relays, from the first, whose hand-off
	// records verify.
	Confirmed int `json:"confirmed"`
	// Segments are the timed stretches the verified records give, in path
	// order: link to relay 0, hold at relay 0, link to relay 1, ..., and the
	// link to the recipient when acknowledged.
	Segments []Segment `json:"segments"`
	// Suspects are the peers the evidence points at, in path order:
	// for a drop, the two ends of the first unconfirmed hand-off (the last
	// party that confirmed handing off, which may have lied, and the next,
	// which never confirmed receiving; only the first relay when nothing was
	// confirmed); for a delay, the relay of a slow hold and both ends of a
	// slow link; for a forgery, the signer of inconsistent timestamps.
	Suspects []identity.PeerID `json:"suspects,omitempty"`
}

// Audit checks a proof, complete or partial, and says what happened to
// the message and who is to blame. It makes concrete that a relay that
// drops, delays or forges is detectable from the proofs:
//
//   - a relay that forges (alters the payload, path or an earlier record,
//     or signs for another) makes a verification fail, here and at the next
//     honest hop, which drops the message: VerdictForged;
//   - a relay that drops leaves the hand-off chain stopping at it, from the
//     sender's receipts: VerdictDropped, with the relay among two suspects;
//   - a relay that delays shows a slow hold if it signs true times, or a
//     slow link next to it if it backdates its hand-off or postdates its
//     receipt (times must not decrease along the path, so it cannot hide
//     the delay, only move it to a link it is an end of): VerdictDelayed.
//
// One report cannot tell the two ends of a link apart; Tally over many
// reports, on paths that share only the culprit, can.
func Audit(p *Proof, cfg AuditConfig) Report { return audit(p, cfg, Ed25519Verifier{}) }

// AuditWith is Audit with a signature verifier (e.g. a shared cache).
func AuditWith(p *Proof, cfg AuditConfig, v Verifier) Report {
	if v == nil {
		v = Ed25519Verifier{}
	}
	return audit(p, cfg, v)
}

func audit(p *Proof, cfg AuditConfig, v Verifier) Report {
	r := Report{ID: p.ID}
	if err := verifyRoute(p, wire.MaxRelayPath, v); err != nil {
		r.Verdict, r.Err = VerdictForged, err
		return r
	}
	if len(p.Hops) > len(p.Path) {
		r.Verdict, r.Err = VerdictForged, ErrHopCount
		return r
	}
	prev := p.Sent
	for i := range p.Hops {
		if err := verifyHop(p, i, prev, v); err != nil {
			r.Verdict, r.Err, r.Confirmed = VerdictForged, err, i
			if errors.Is(err, ErrTimestamps) {
				r.Suspects = []identity.PeerID{p.Path[i]}
			}
			r.Segments = segments(p, i, false, cfg)
			return r
		}
		prev = p.Hops[i].HandedOff
	}
	r.Confirmed = len(p.Hops)
	acked := false
	if len(p.Hops) == len(p.Path) && p.Ack.Present() {
		if err := verifyAck(p, v); err != nil {
			r.Verdict, r.Err = VerdictForged, err
			if errors.Is(err, ErrTimestamps) {
				r.Suspects = []identity.PeerID{p.Recipient}
			}
			r.Segments = segments(p, r.Confirmed, false, cfg)
			return r
		}
		acked = true
	}
	r.Segments = segments(p, r.Confirmed, acked, cfg)
	if !acked {
		r.Verdict = VerdictDropped
		if r.Confirmed < len(p.Path) {
			r.Err = ErrIncomplete
		} else {
			r.Err = ErrNoAck
		}
		// The first hand-off nobody confirmed: from party k-1 (the sender
		// when k is 0, who is auditing and not suspected) to party k.
		k := r.Confirmed
		if k > 0 {
			r.Suspects = append(r.Suspects, p.party(k-1))
		}
		r.Suspects = append(r.Suspects, p.party(k))
		return r
	}
	r.Verdict = VerdictDelivered
	for _, s := range r.Segments {
		if !s.Slow {
			continue
		}
		r.Verdict = VerdictDelayed
		for _, who := range []identity.PeerID{s.From, s.To} {
			if who != p.Sender && !slices.Contains(r.Suspects, who) {
				r.Suspects = append(r.Suspects, who)
			}
		}
	}
	return r
}

// segments lists the timed stretches of the first k hops, and the last
// link if acked.
func segments(p *Proof, k int, acked bool, cfg AuditConfig) []Segment {
	var out []Segment
	prev := p.Sent
	for i := range k {
		h := p.Hops[i]
		link := time.Duration(h.Received - prev)
		hold := time.Duration(h.HandedOff - h.Received)
		out = append(out,
			Segment{Kind: SegmentLink, From: p.party(i - 1), To: p.Path[i], Duration: link, Slow: link > cfg.MaxLink},
			Segment{Kind: SegmentHold, From: p.Path[i], To: p.Path[i], Duration: hold, Slow: hold > cfg.MaxHold})
		prev = h.HandedOff
	}
	if acked {
		link := time.Duration(p.Ack.Received - prev)
		out = append(out, Segment{Kind: SegmentLink, From: p.party(len(p.Path) - 1), To: p.Recipient, Duration: link, Slow: link > cfg.MaxLink})
	}
	return out
}

// Suspicion counts how often a peer was suspected.
type Suspicion struct {
	Peer  identity.PeerID `json:"peer"`
	Count int             `json:"count"`
}

// Tally counts the suspects of reports, most suspected first (ties by
// peer key): the peer common to the failures of paths that share nothing
// else stands out. Delivered reports count for nothing.
func Tally(reports []Report) []Suspicion {
	var out []Suspicion
	for _, r := range reports {
		for _, s := range r.Suspects {
			i := slices.IndexFunc(out, func(x Suspicion) bool { return x.Peer == s })
			if i < 0 {
				out = append(out, Suspicion{Peer: s})
				i = len(out) - 1
			}
			out[i].Count++
		}
	}
	slices.SortStableFunc(out, func(a, b Suspicion) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return bytes.Compare(a.Peer.PublicKey(), b.Peer.PublicKey())
	})
	return out
}

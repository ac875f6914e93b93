package gossip

import (
	"github.com/dchat/network/core/identity"
)

// seqWindowBits is the width of a sender's sliding window: messages may
// arrive up to this many sequence numbers out of order.
const seqWindowBits = 64

// seqWindow is a sender's highest sequence number and a bitmap of which of
// the seqWindowBits numbers at and below it were seen (bit i: max-i), as in
// IPsec's anti-replay window (RFC 4303 §3.4.3).
type seqWindow struct {
	max  uint64
	seen uint64
}

// fresh reports whether seq is neither seen nor below the window.
func (w *seqWindow) fresh(seq uint64) bool {
	if seq > w.max {
		return true
	}
	d := w.max - seq
	return d < seqWindowBits && w.seen&(1<<d) == 0
}

// mark records seq, sliding the window forward if it is the new highest.
func (w *seqWindow) mark(seq uint64) {
	if seq > w.max {
		if d := seq - w.max; d >= seqWindowBits {
			w.seen = 0
		} else {
			w.seen <<= d
		}
		w.max = seq
		w.seen |= 1
		return
	}
	if d := w.max - seq; d < seqWindowBits {
		w.seen |= 1 << d
	}
}

// replayGuard keeps a window per sender, bounded by an LRU of senders (a
// keyLRU by public key, the windows held in place). A
// sender evicted from it is checked by the dedup cache and the timestamp
// window alone until it is seen again.
//
// Concurrency: not safe for concurrent use.
type replayGuard struct {
	senders keyLRU[seqWindow] // held in place
}

func newReplayGuard(size int) (*replayGuard, error) {
	r := new(replayGuard)
	r.senders.init(size)
	return r, nil
}

// fresh reports whether (sender, seq) may be accepted.
func (r *replayGuard) fresh(sender identity.PeerID, seq uint64) bool {
	w, ok := r.senders.Peek(peerKey(sender))
	return !ok || w.fresh(seq)
}

// mark records (sender, seq) as accepted.
func (r *replayGuard) mark(sender identity.PeerID, seq uint64) {
	k := peerKey(sender)
	w, ok := r.senders.Get(k)
	if !ok {
		r.senders.Add(k, seqWindow{max: seq, seen: 1})
		return
	}
	w.mark(seq)
}

// peerKey returns a peer's keyLRU key: its public key.
func peerKey(id identity.PeerID) [keyLen]byte { return [keyLen]byte(id.PublicKey()) }

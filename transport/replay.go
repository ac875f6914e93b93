package transport

// Replay protection for data frames, RFC 6479 ("IPsec Anti-Replay Algorithm
// without Bit Shifting"): a ring of 64-bit blocks indexed by counter / 64;
// advancing the window clears whole blocks instead of shifting a bitmap.
// The usable window is one block less than the ring, so the block being
// reused is never one still inside the window (RFC 6479 §2).

const (
	replayBlocks = 32 // a power of two
	replayBits   = 64
	// replayWindow is how far behind the highest counter seen a counter
	// may be and still be accepted (reordering tolerance): 1,984.
	replayWindow = (replayBlocks - 1) * replayBits

	// rejectAfterMessages is the counter from which a session refuses to
	// send or receive; it must be rekeyed first (WireGuard §6.1's limit).
	rejectAfterMessages = 1 << 60
)

// replayFilter remembers which counters of a session were received.
// The zero value is ready: no counter seen.
//
// Concurrency: not safe for concurrent use; its session's loop owns it.
type replayFilter struct {
	top  uint64 // highest counter accepted (valid once any is)
	any  bool
	ring [replayBlocks]uint64
}

// check reports whether counter may be new: not above the limit, not too
// old, not seen. It changes nothing: call it before authenticating, and
// accept after.
func (r *replayFilter) check(counter uint64) bool {
	if counter >= rejectAfterMessages {
		return false
	}
	if !r.any || counter > r.top {
		return true
	}
	if r.top-counter >= replayWindow {
		return false
	}
	block := (counter / replayBits) % replayBlocks
	return r.ring[block]&(1<<(counter%replayBits)) == 0
}

// accept records counter (authenticated, after check). It reports false,
// changing nothing, if counter was not new after all.
func (r *replayFilter) accept(counter uint64) bool {
	if !r.check(counter) {
		return false
	}
	index := counter / replayBits
	if !r.any || counter > r.top {
		top := r.top / replayBits
		if !r.any {
			top = index // the ring is all zero: nothing to clear
		}
		if d := index - top; d > 0 {
			d = min(d, replayBlocks)
			for i := uint64(1); i <= d; i++ {
				r.ring[(top+i)%replayBlocks] = 0
			}
		}
		r.top, r.any = counter, true
	}
	r.ring[index%replayBlocks] |= 1 << (counter % replayBits)
	return true
}

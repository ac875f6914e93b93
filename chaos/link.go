package chaos

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// DefaultReorderDelay is how long a packet picked for reordering is held
// back when Link.ReorderDelay is 0: packets sent on the same link within
// that time overtake it.
const DefaultReorderDelay = 20 * time.Millisecond

// MaxDelay bounds Link.Delay, Link.ReorderDelay and the jitter's scale.
const MaxDelay = time.Hour

// Link is a link fault: what happens to each packet crossing a link it
// applies to (which links is the caller's business: sim matches node
// sets, Transport destination addresses). The probabilities are
// independent per packet. A Link is a plain value; Decide only reads it.
type Link struct {
	// Drop, Duplicate, Corrupt and Reorder are probabilities in [0, 1]
	// (Drop below 1).
	Drop, Duplicate, Corrupt, Reorder float64
	// Delay is added to every packet.
	Delay time.Duration
	// Jitter is random extra delay, drawn per packet (None: none). Like any
	// unequal delay, it reorders packets.
	Jitter Dist
	// ReorderDelay is how long a reordered packet is held back (0:
	// DefaultReorderDelay).
	ReorderDelay time.Duration
}

// Validate reports whether l is usable; errors wrap ErrConfig and name the
// field.
func (l Link) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Drop", l.Drop}, {"Duplicate", l.Duplicate}, {"Corrupt", l.Corrupt}, {"Reorder", l.Reorder}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("%w: Link.%s %g: must be a probability in [0, 1]", ErrConfig, p.name, p.v)
		}
	}
	if l.Drop >= 1 {
		return fmt.Errorf("%w: Link.Drop %g: must be below 1 (use a partition to cut a link)", ErrConfig, l.Drop)
	}
	if l.Delay < 0 || l.Delay > MaxDelay {
		return fmt.Errorf("%w: Link.Delay %v: must be in [0, %v]", ErrConfig, l.Delay, MaxDelay)
	}
	if l.ReorderDelay < 0 || l.ReorderDelay > MaxDelay {
		return fmt.Errorf("%w: Link.ReorderDelay %v: must be in [0, %v]", ErrConfig, l.ReorderDelay, MaxDelay)
	}
	if err := l.Jitter.Validate(); err != nil {
		return fmt.Errorf("Link.Jitter: %w", err)
	}
	if l.Jitter.Scale > MaxDelay {
		return fmt.Errorf("%w: Link.Jitter scale %v: at most %v", ErrConfig, l.Jitter.Scale, MaxDelay)
	}
	return nil
}

// Empty reports whether l does nothing to any packet.
func (l Link) Empty() bool {
	return l.Drop == 0 && l.Duplicate == 0 && l.Corrupt == 0 && l.Reorder == 0 && l.Delay == 0 && l.Jitter.Kind == None
}

// Verdict is what link faults decided for one packet.
type Verdict struct {
	// Drop: the packet is lost; the other fields are zero.
	Drop bool
	// Corrupt: deliver a corrupted copy (see Corrupt) instead.
	Corrupt bool
	// Duplicates is the number of extra copies to deliver, each
	// DuplicateDelay[k] later than the network would deliver it (the
	// original arrives Delay later).
	Duplicates int
	// Reordered: the packet was held back by the reorder delay (included
	// in Delay).
	Reordered bool
	// Delay is the extra delay of the packet.
	Delay time.Duration
	// DuplicateDelay is the extra delay of each duplicate (entries beyond
	// Duplicates are unused).
	DuplicateDelay [2]time.Duration
}

// MaxDuplicates is the most duplicates a merged Verdict carries; further
// duplicates of the same packet are not made.
const MaxDuplicates = 2

// Decide draws the fate of one packet from rng, in this fixed order (a
// draw is made only when its fault is on): the drop draw (a dropped packet
// draws nothing more), the corrupt draw, the duplicate draw, the reorder
// draw, the jitter draw of the packet, then the jitter draw of the
// duplicate. A duplicate is an independent copy on the wire: it gets its
// own jitter but is never held back for reordering, and it carries the
// same bytes as the original (corrupted or not).
func (l *Link) Decide(rng *rand.Rand) Verdict {
	var v Verdict
	if l.Drop > 0 && rng.Float64() < l.Drop {
		return Verdict{Drop: true}
	}
	if l.Corrupt > 0 && rng.Float64() < l.Corrupt {
		v.Corrupt = true
	}
	dup := l.Duplicate > 0 && rng.Float64() < l.Duplicate
	v.Delay = l.Delay
	if l.Reorder > 0 && rng.Float64() < l.Reorder {
		v.Reordered = true
		if l.ReorderDelay > 0 {
			v.Delay += l.ReorderDelay
		} else {
			v.Delay += DefaultReorderDelay
		}
	}
	if l.Jitter.Kind != None {
		v.Delay += l.Jitter.Sample(rng)
	}
	if dup {
		v.Duplicates = 1
		v.DuplicateDelay[0] = l.Delay
		if l.Jitter.Kind != None {
			v.DuplicateDelay[0] += l.Jitter.Sample(rng)
		}
	}
	return v
}

// Merge folds o, the verdict of a later fault on the same packet, into v:
// a drop by either drops; delays add up (a later fault's delay applies to
// every copy); corruption by either corrupts; duplicates add up to
// MaxDuplicates.
func (v *Verdict) Merge(o Verdict) {
	if v.Drop || o.Drop {
		*v = Verdict{Drop: true}
		return
	}
	v.Corrupt = v.Corrupt || o.Corrupt
	v.Reordered = v.Reordered || o.Reordered
	for k := range v.Duplicates {
		v.DuplicateDelay[k] += o.Delay
	}
	for k := range o.Duplicates {
		if v.Duplicates == MaxDuplicates {
			break
		}
		v.DuplicateDelay[v.Duplicates] = v.Delay + o.DuplicateDelay[k]
		v.Duplicates++
	}
	v.Delay += o.Delay
}

// Corrupt returns a corrupted copy of b: between 1 and 4 mutations, each
// either one flipped bit or one byte replaced by another value, at
// positions drawn from rng. b itself is never written (buffers handed to
// Transport.Send are read-only and may be shared by several sends). The
// copy always differs from b, unless b is empty (then it is an empty
// copy).
func Corrupt(b []byte, rng *rand.Rand) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	if len(b) == 0 {
		return c
	}
	for range 1 + rng.IntN(4) {
		i := rng.IntN(len(c))
		if rng.IntN(2) == 0 {
			c[i] ^= 1 << rng.IntN(8)
		} else {
			c[i] ^= byte(1 + rng.IntN(255))
		}
	}
	// Two mutations of the same bits may cancel out; a corrupted packet
	// must differ.
	if string(c) == string(b) {
		c[0] ^= 1
	}
	return c
}

package connmgr

import (
	"errors"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff with jitter: attempt k (from 0) waits
// min(Max, Base x 2^k), scaled by a factor drawn uniformly from
// [1 - Jitter, 1 + Jitter) so that peers that lost each other at the same
// moment do not redial in lockstep.
type Backoff struct {
	Base, Max time.Duration
	// Jitter is in [0, 1).
	Jitter float64
}

func (b Backoff) validate() error {
	switch {
	case b.Base <= 0 || b.Max < b.Base:
		return errors.New("need 0 < Base <= Max")
	case !(b.Jitter >= 0 && b.Jitter < 1):
		return errors.New("jitter must be in [0, 1)")
	}
	return nil
}

// Delay returns the wait before attempt k, drawing the jitter from r.
func (b Backoff) Delay(k int, r *rand.Rand) time.Duration {
	d := b.Max
	if k < 62 && b.Base<<k>>k == b.Base && b.Base<<k < b.Max {
		d = b.Base << k
	}
	if b.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + b.Jitter*(2*r.Float64()-1)))
	}
	return d
}

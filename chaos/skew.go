package chaos

import (
	"fmt"
	"math"
	"time"
)

// MaxDrift bounds Skew.Drift: 1% (10,000 ppm), far beyond any crystal
// (typical: tens of ppm) yet keeping a clock's rate positive.
const MaxDrift = 0.01

// MaxOffset bounds Skew.Offset.
const MaxOffset = 24 * time.Hour

// Skew is the error of a node's clock: a constant Offset plus a rate
// error Drift (e.g. 50e-6 for 50 ppm: the clock gains 50 µs per second),
// counted from the instant Since the skew started. A skewed clock reads
//
//	local(t) = t + Offset + Drift·(t - Since)
//
// at true time t, and a timer set for d on it fires after d/(1+Drift) of
// true time, when the skewed clock has advanced by d. Skew is a plain
// value.
type Skew struct {
	Offset time.Duration
	Drift  float64
}

// Validate reports whether s is usable; errors wrap ErrConfig.
func (s Skew) Validate() error {
	if s.Offset < -MaxOffset || s.Offset > MaxOffset {
		return fmt.Errorf("%w: Skew.Offset %v: must be within ±%v", ErrConfig, s.Offset, MaxOffset)
	}
	if !(math.Abs(s.Drift) <= MaxDrift) {
		return fmt.Errorf("%w: Skew.Drift %g: must be within ±%g (%g ppm)", ErrConfig, s.Drift, MaxDrift, MaxDrift*1e6)
	}
	return nil
}

// Zero reports whether s changes nothing.
func (s Skew) Zero() bool { return s.Offset == 0 && s.Drift == 0 }

// Local returns the skewed clock's reading at true time t, for a skew
// that started at since.
func (s Skew) Local(t, since time.Time) time.Time {
	if s.Drift == 0 {
		return t.Add(s.Offset)
	}
	return t.Add(s.Offset + time.Duration(math.Round(s.Drift*float64(t.Sub(since)))))
}

// TrueDelay returns how much true time passes while the skewed clock
// advances by d: d/(1+Drift), rounded up to the nanosecond so that a
// timer never fires early by the node's own clock.
func (s Skew) TrueDelay(d time.Duration) time.Duration {
	if s.Drift == 0 || d <= 0 {
		return d
	}
	return time.Duration(math.Ceil(float64(d) / (1 + s.Drift)))
}

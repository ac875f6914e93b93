package chaos

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// ErrConfig is wrapped by every validation error of this package.
var ErrConfig = errors.New("chaos: bad fault description")

// DistKind names a distribution.
type DistKind uint8

// Distributions. The zero value, None, always draws 0.
const (
	None DistKind = iota
	// Exponential: Scale is the mean (memoryless sessions, the classic
	// churn model).
	Exponential
	// Weibull: P(X > x) = exp(-(x/λ)^k) with Shape k > 0 and Scale λ > 0;
	// the mean is λ·Γ(1+1/k). Measured P2P session times fit k < 1 (many
	// short sessions, a long tail): Stutzbach and Rejaie, "Understanding
	// Churn in Peer-to-Peer Networks", IMC 2006.
	Weibull
	// Pareto: P(X > x) = (xm/x)^α for x >= xm, with Shape α > 0 and Scale
	// xm > 0; the mean is α·xm/(α-1) when α > 1, infinite otherwise.
	Pareto
	// Uniform: uniform in [0, Scale].
	Uniform
	// Normal: the half-normal |N(0, Scale²)| (Scale is the standard
	// deviation); its mean is Scale·√(2/π).
	Normal
)

var distNames = [...]string{None: "none", Exponential: "exponential", Weibull: "weibull", Pareto: "pareto", Uniform: "uniform", Normal: "normal"}

// String returns the distribution's name as configuration files spell it.
func (k DistKind) String() string {
	if int(k) < len(distNames) {
		return distNames[k]
	}
	return fmt.Sprintf("DistKind(%d)", k)
}

// ParseDistKind returns the distribution named s ("exponential",
// "weibull", "pareto", "uniform", "normal" or "none").
func ParseDistKind(s string) (DistKind, error) {
	for k, n := range distNames {
		if n == s {
			return DistKind(k), nil
		}
	}
	return None, fmt.Errorf("%w: unknown distribution %q (want exponential, weibull, pareto, uniform, normal or none)", ErrConfig, s)
}

// HasShape reports whether the distribution takes a shape parameter.
func (k DistKind) HasShape() bool { return k == Weibull || k == Pareto }

// MaxSample caps every draw (about 104 days), so that sums of draws never
// overflow a time.Duration whatever the tail.
const MaxSample = time.Duration(1 << 53)

// Dist is a distribution of non-negative durations. It is a plain value,
// safe to copy and to share.
type Dist struct {
	Kind DistKind
	// Scale is the mean (Exponential), λ (Weibull), xm (Pareto), the
	// maximum (Uniform) or the standard deviation (Normal).
	Scale time.Duration
	// Shape is k (Weibull) or α (Pareto); unused otherwise.
	Shape float64
}

// Validate reports whether d is usable; errors wrap ErrConfig.
func (d Dist) Validate() error {
	switch {
	case d.Kind > Normal:
		return fmt.Errorf("%w: unknown distribution %v", ErrConfig, d.Kind)
	case d.Kind == None:
		return nil
	case d.Scale <= 0 || d.Scale > MaxSample:
		return fmt.Errorf("%w: %v scale %v: must be positive and at most %v", ErrConfig, d.Kind, d.Scale, MaxSample)
	case d.Kind.HasShape() && !(d.Shape >= 0.05 && d.Shape <= 100):
		return fmt.Errorf("%w: %v shape %g: must be from 0.05 to 100", ErrConfig, d.Kind, d.Shape)
	case !d.Kind.HasShape() && d.Shape != 0:
		return fmt.Errorf("%w: %v takes no shape", ErrConfig, d.Kind)
	}
	return nil
}

// Mean returns the distribution's analytic mean (before the MaxSample
// cap), or +Inf seconds' worth as math.MaxInt64 for a Pareto with α <= 1.
func (d Dist) Mean() time.Duration {
	s := float64(d.Scale)
	var m float64
	switch d.Kind {
	case Exponential:
		m = s
	case Weibull:
		m = s * math.Gamma(1+1/d.Shape)
	case Pareto:
		if d.Shape <= 1 {
			return math.MaxInt64
		}
		m = d.Shape * s / (d.Shape - 1)
	case Uniform:
		m = s / 2
	case Normal:
		m = s * math.Sqrt(2/math.Pi)
	}
	return toDuration(m)
}

// ScaleForMean returns the Scale that gives a distribution of this kind
// and shape the mean mean. Pareto needs shape > 1 (a finite mean).
func ScaleForMean(kind DistKind, shape float64, mean time.Duration) (time.Duration, error) {
	m := float64(mean)
	var s float64
	switch kind {
	case Exponential:
		s = m
	case Weibull:
		if shape <= 0 {
			return 0, fmt.Errorf("%w: weibull shape %g: must be positive", ErrConfig, shape)
		}
		s = m / math.Gamma(1+1/shape)
	case Pareto:
		if shape <= 1 {
			return 0, fmt.Errorf("%w: pareto shape %g: a mean exists only for shape > 1 (give scale instead)", ErrConfig, shape)
		}
		s = m * (shape - 1) / shape
	case Uniform:
		s = 2 * m
	case Normal:
		s = m / math.Sqrt(2/math.Pi)
	default:
		return 0, fmt.Errorf("%w: %v has no mean to set", ErrConfig, kind)
	}
	return toDuration(math.Round(s)), nil
}

// Sample draws one value. It uses exactly one draw from rng (a Float64,
// or a NormFloat64 for Normal, an ExpFloat64 for Exponential), none for
// None, and never returns more than MaxSample.
func (d Dist) Sample(rng *rand.Rand) time.Duration {
	s := float64(d.Scale)
	var x float64
	switch d.Kind {
	case None:
		return 0
	case Exponential:
		x = rng.ExpFloat64() * s
	case Weibull:
		// Inversion: X = λ(-ln U)^(1/k), U uniform in (0, 1].
		u := 1 - rng.Float64()
		x = s * math.Pow(-math.Log(u), 1/d.Shape)
	case Pareto:
		// Inversion: X = xm / U^(1/α), U uniform in (0, 1].
		u := 1 - rng.Float64()
		x = s / math.Pow(u, 1/d.Shape)
	case Uniform:
		x = rng.Float64() * s
	case Normal:
		x = math.Abs(rng.NormFloat64()) * s
	}
	return toDuration(x)
}

// toDuration converts nanoseconds to a Duration in [0, MaxSample].
func toDuration(x float64) time.Duration {
	switch {
	case math.IsNaN(x) || x <= 0:
		return 0
	case x >= float64(MaxSample):
		return MaxSample
	}
	return time.Duration(x)
}

// String describes d, e.g. "weibull(shape 0.5, scale 10m0s)".
func (d Dist) String() string {
	switch {
	case d.Kind == None:
		return "none"
	case d.Kind.HasShape():
		return fmt.Sprintf("%v(shape %g, scale %v)", d.Kind, d.Shape, d.Scale)
	}
	return fmt.Sprintf("%v(%v)", d.Kind, d.Scale)
}

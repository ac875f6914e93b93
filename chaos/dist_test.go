package chaos

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// Sample means converge on the analytic means (inversion sampling done
// right); the tolerance is several standard errors at n draws.
func TestDistMeans(t *testing.T) {
	const n = 400_000
	cases := []struct {
		d    Dist
		want float64 // analytic mean, seconds
		tol  float64 // relative
	}{
		{Dist{Kind: Exponential, Scale: 10 * time.Second}, 10, 0.01},
		{Dist{Kind: Weibull, Scale: 10 * time.Second, Shape: 0.5}, 20, 0.02},                        // λΓ(3) = 2λ
		{Dist{Kind: Weibull, Scale: 10 * time.Second, Shape: 2}, 10 * math.Sqrt(math.Pi) / 2, 0.01}, // λΓ(1.5)
		{Dist{Kind: Pareto, Scale: 10 * time.Second, Shape: 3}, 15, 0.01},                           // α xm/(α-1)
		{Dist{Kind: Pareto, Scale: 10 * time.Second, Shape: 2.5}, 10 * 2.5 / 1.5, 0.02},
		{Dist{Kind: Uniform, Scale: 10 * time.Second}, 5, 0.01},
		{Dist{Kind: Normal, Scale: 10 * time.Second}, 10 * math.Sqrt(2/math.Pi), 0.01},
	}
	for _, c := range cases {
		if err := c.d.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := c.d.Mean().Seconds(); math.Abs(got-c.want) > 1e-6*c.want {
			t.Errorf("%v: Mean() = %g s, want %g s", c.d, got, c.want)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		sum := 0.0
		for range n {
			x := c.d.Sample(rng)
			if x < 0 || x > MaxSample {
				t.Fatalf("%v: sample %v out of range", c.d, x)
			}
			if c.d.Kind == Pareto && x < c.d.Scale {
				t.Fatalf("%v: sample %v below xm", c.d, x)
			}
			sum += x.Seconds()
		}
		if got := sum / n; math.Abs(got-c.want) > c.tol*c.want {
			t.Errorf("%v: sample mean %g s, want %g s ±%g%%", c.d, got, c.want, c.tol*100)
		}
	}
}

// The Weibull sampler follows its CDF, not just its mean: the share of
// draws below the scale is 1 - 1/e for every shape.
func TestWeibullCDF(t *testing.T) {
	const n = 200_000
	for _, k := range []float64{0.4, 1, 3} {
		d := Dist{Kind: Weibull, Scale: time.Minute, Shape: k}
		rng := rand.New(rand.NewPCG(3, 4))
		below := 0
		for range n {
			if d.Sample(rng) < time.Minute {
				below++
			}
		}
		if got, want := float64(below)/n, 1-1/math.E; math.Abs(got-want) > 0.005 {
			t.Errorf("shape %g: P(X < λ) = %.4f, want %.4f", k, got, want)
		}
	}
}

func TestScaleForMean(t *testing.T) {
	for _, c := range []struct {
		kind  DistKind
		shape float64
	}{{Exponential, 0}, {Weibull, 0.5}, {Weibull, 1.7}, {Pareto, 1.5}, {Uniform, 0}, {Normal, 0}} {
		s, err := ScaleForMean(c.kind, c.shape, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		d := Dist{Kind: c.kind, Scale: s, Shape: c.shape}
		if got := d.Mean(); math.Abs(float64(got-10*time.Minute)) > float64(time.Microsecond) {
			t.Errorf("%v: mean %v, want 10m", d, got)
		}
	}
	if _, err := ScaleForMean(Pareto, 1, time.Second); err == nil {
		t.Error("pareto with shape 1 has no mean, want an error")
	}
	if got := (Dist{Kind: Pareto, Scale: time.Second, Shape: 0.9}).Mean(); got != math.MaxInt64 {
		t.Errorf("pareto shape 0.9 mean = %v, want the infinite marker", got)
	}
}

func TestDistValidate(t *testing.T) {
	bad := []Dist{
		{Kind: Exponential},
		{Kind: Weibull, Scale: time.Second},
		{Kind: Pareto, Scale: time.Second, Shape: 1000},
		{Kind: Uniform, Scale: time.Second, Shape: 1},
		{Kind: 99, Scale: time.Second},
		{Kind: Exponential, Scale: -1},
	}
	for _, d := range bad {
		if d.Validate() == nil {
			t.Errorf("%+v: no error", d)
		}
	}
	if (Dist{}).Validate() != nil || (Dist{}).Sample(nil) != 0 {
		t.Error("the zero Dist must be valid and draw 0 without touching rng")
	}
	for _, name := range []string{"exponential", "weibull", "pareto", "uniform", "normal", "none"} {
		k, err := ParseDistKind(name)
		if err != nil || k.String() != name {
			t.Errorf("ParseDistKind(%q) = %v, %v", name, k, err)
		}
	}
	if _, err := ParseDistKind("lognormal"); err == nil {
		t.Error("unknown name accepted")
	}
}

// Huge scales and tiny shapes saturate at MaxSample instead of overflowing.
func TestSampleCap(t *testing.T) {
	d := Dist{Kind: Pareto, Scale: MaxSample / 2, Shape: 0.05}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		if x := d.Sample(rng); x < 0 || x > MaxSample {
			t.Fatalf("sample %v outside [0, MaxSample]", x)
		}
	}
}

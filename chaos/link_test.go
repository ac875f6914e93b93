package chaos

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// Each fault happens at its probability, and the draws are reproducible.
func TestDecideRates(t *testing.T) {
	l := Link{Drop: 0.05, Duplicate: 0.01, Corrupt: 0.02, Reorder: 0.1, Delay: 5 * time.Millisecond,
		Jitter: Dist{Kind: Uniform, Scale: 2 * time.Millisecond}}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	const n = 200_000
	rng := rand.New(rand.NewPCG(7, 8))
	var drop, dup, corrupt, reorder int
	var delay time.Duration
	for range n {
		v := l.Decide(rng)
		if v.Drop {
			drop++
			if v != (Verdict{Drop: true}) {
				t.Fatalf("dropped verdict carries more: %+v", v)
			}
			continue
		}
		if v.Corrupt {
			corrupt++
		}
		dup += v.Duplicates
		if v.Reordered {
			reorder++
			if v.Delay < l.Delay+DefaultReorderDelay {
				t.Fatalf("reordered packet delayed only %v", v.Delay)
			}
		}
		if v.Delay < l.Delay || v.Delay > l.Delay+DefaultReorderDelay+l.Jitter.Scale {
			t.Fatalf("delay %v out of range", v.Delay)
		}
		if v.Duplicates > 0 && (v.DuplicateDelay[0] < l.Delay || v.DuplicateDelay[0] > l.Delay+l.Jitter.Scale) {
			t.Fatalf("duplicate delay %v out of range", v.DuplicateDelay[0])
		}
		delay += v.Delay
	}
	kept := float64(n - drop)
	check := func(name string, got, want, of float64) {
		t.Helper()
		if se := math.Sqrt(want * (1 - want) / of); math.Abs(got/of-want) > 5*se {
			t.Errorf("%s: rate %.5f, want %.5f", name, got/of, want)
		}
	}
	check("drop", float64(drop), l.Drop, n)
	check("corrupt", float64(corrupt), l.Corrupt, kept)
	check("duplicate", float64(dup), l.Duplicate, kept)
	check("reorder", float64(reorder), l.Reorder, kept)
	meanDelay := delay.Seconds() / kept
	want := (l.Delay + time.Millisecond).Seconds() + l.Reorder*DefaultReorderDelay.Seconds()
	if math.Abs(meanDelay-want) > 0.02*want {
		t.Errorf("mean delay %g s, want %g s", meanDelay, want)
	}

	// Same stream, same verdicts.
	a, b := rand.New(rand.NewPCG(1, 1)), rand.New(rand.NewPCG(1, 1))
	for range 1000 {
		if l.Decide(a) != l.Decide(b) {
			t.Fatal("same stream gave different verdicts")
		}
	}
}

// A link with only a delay draws nothing: it cannot shift a stream.
func TestDecideDrawsOnlyWhatIsOn(t *testing.T) {
	l := Link{Delay: time.Second}
	a, b := rand.New(rand.NewPCG(1, 1)), rand.New(rand.NewPCG(1, 1))
	for range 10 {
		if v := l.Decide(a); v.Delay != time.Second || v.Drop || v.Duplicates != 0 {
			t.Fatalf("verdict %+v", v)
		}
	}
	if a.Uint64() != b.Uint64() {
		t.Error("a draw-free link consumed draws")
	}
}

func TestMerge(t *testing.T) {
	var v Verdict
	v.Merge(Verdict{Delay: time.Second, Duplicates: 1, DuplicateDelay: [2]time.Duration{2 * time.Second}})
	v.Merge(Verdict{Delay: 10 * time.Millisecond, Corrupt: true, Duplicates: 1, DuplicateDelay: [2]time.Duration{5 * time.Millisecond}})
	want := Verdict{Corrupt: true, Delay: time.Second + 10*time.Millisecond, Duplicates: 2,
		DuplicateDelay: [2]time.Duration{2*time.Second + 10*time.Millisecond, time.Second + 5*time.Millisecond}}
	if v != want {
		t.Errorf("merged %+v, want %+v", v, want)
	}
	v.Merge(Verdict{Duplicates: 1})
	if v.Duplicates != MaxDuplicates {
		t.Errorf("duplicates %d beyond the cap", v.Duplicates)
	}
	v.Merge(Verdict{Drop: true})
	if v != (Verdict{Drop: true}) {
		t.Errorf("a drop must win: %+v", v)
	}
}

// Corrupt never writes its input and always returns a different copy.
func TestCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	orig := []byte("a gossip message of some length, shared by several sends")
	keep := bytes.Clone(orig)
	for range 10_000 {
		c := Corrupt(orig, rng)
		if !bytes.Equal(orig, keep) {
			t.Fatal("Corrupt wrote its input")
		}
		if bytes.Equal(c, orig) || len(c) != len(orig) {
			t.Fatalf("corrupted copy %q equals the original or changed length", c)
		}
	}
	one := []byte{0}
	for range 1000 {
		if c := Corrupt(one, rng); c[0] == 0 || one[0] != 0 {
			t.Fatal("one-byte corruption failed")
		}
	}
	if c := Corrupt(nil, rng); len(c) != 0 {
		t.Error("corrupting nothing made something")
	}
}

func TestLinkValidate(t *testing.T) {
	for _, l := range []Link{
		{Drop: 1}, {Duplicate: -0.1}, {Corrupt: 1.5}, {Reorder: math.NaN()},
		{Delay: -1}, {Delay: 2 * MaxDelay}, {ReorderDelay: -1},
		{Jitter: Dist{Kind: Normal}}, {Jitter: Dist{Kind: Exponential, Scale: 2 * MaxDelay}},
	} {
		if l.Validate() == nil {
			t.Errorf("%+v: no error", l)
		}
	}
}

func TestSkew(t *testing.T) {
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Skew{Offset: 2 * time.Second, Drift: 50e-6}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	at := since.Add(1000 * time.Second)
	if got, want := s.Local(at, since), at.Add(2*time.Second+50*time.Millisecond); !got.Equal(want) {
		t.Errorf("Local = %v, want %v", got, want)
	}
	// A timer of d on the skewed clock fires when the clock has moved d.
	d := 10 * time.Second
	tr := s.TrueDelay(d)
	if tr >= d {
		t.Errorf("a fast clock's timer must fire sooner in true time: %v", tr)
	}
	if moved := s.Local(at.Add(tr), since).Sub(s.Local(at, since)); moved < d || moved > d+time.Microsecond {
		t.Errorf("clock moved %v during the timer, want %v", moved, d)
	}
	for _, bad := range []Skew{{Drift: 0.02}, {Offset: 25 * time.Hour}, {Drift: math.NaN()}} {
		if bad.Validate() == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if (Skew{}).TrueDelay(time.Second) != time.Second || !(Skew{}).Zero() {
		t.Error("zero skew changes time")
	}
}

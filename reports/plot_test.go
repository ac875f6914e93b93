package reports

import (
	"bytes"
	"errors"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

// checkPlotFiles checks that base.png decodes at the expected size and that
// base.svg holds every one of texts, and returns both files' bytes.
func checkPlotFiles(t *testing.T, base string, texts ...string) (pngBytes, svgBytes []byte) {
	t.Helper()
	pngBytes, err := os.ReadFile(base + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("%s.png: %v", base, err)
	}
	wantW := int(math.Round(float64(PlotWidth/vg.Inch) * PlotDPI))
	wantH := int(math.Round(float64(PlotHeight/vg.Inch) * PlotDPI))
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Fatalf("%s.png is %v, want %dx%d", base, b, wantW, wantH)
	}
	if len(pngBytes) < 10_000 {
		t.Fatalf("%s.png is only %d bytes", base, len(pngBytes))
	}
	svgBytes, err = os.ReadFile(base + ".svg")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range texts {
		if !bytes.Contains(svgBytes, []byte(s)) {
			t.Errorf("%s.svg lacks %q", base, s)
		}
	}
	return pngBytes, svgBytes
}

// plotTwice runs plot on two bases in a temporary directory, checks both
// outputs and that they are byte-identical.
func plotTwice(t *testing.T, plot func(base string) error, texts ...string) {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := plot(a); err != nil {
		t.Fatal(err)
	}
	if err := plot(b); err != nil {
		t.Fatal(err)
	}
	pa, sa := checkPlotFiles(t, a, texts...)
	pb, sb := checkPlotFiles(t, b, texts...)
	if !bytes.Equal(pa, pb) || !bytes.Equal(sa, sb) {
		t.Fatal("the same plot twice gave different bytes")
	}
}

func TestPlotPropagation(t *testing.T) {
	c := PropagationCurve(syntheticSpreads(20, 200, 1, 1), 10, 0)
	t90, ok := c.TimeToReach(0.9, "p50")
	if !ok {
		t.Fatal("synthetic curve never reaches 90 %")
	}
	plotTwice(t, func(base string) error { return PlotPropagation(c, "Gossip propagation", base) },
		"Gossip propagation", "time since publish (ms)", "live nodes reached (%)", "90% at "+formatMs(t90), "median")
}

func TestPlotCDF(t *testing.T) {
	lat := syntheticLatencies(5000, 2)
	orig := append([]float64(nil), lat...)
	plotTwice(t, func(base string) error { return PlotCDF(lat, "Delivery latency", "latency (ms)", base) },
		"Delivery latency", "latency (ms)", "p50 ", "p95 ", "p99 ", "n = 5,000")
	if !slices.Equal(lat, orig) {
		t.Fatal("PlotCDF modified its input")
	}
}

func TestPlotHistogram(t *testing.T) {
	plotTwice(t, func(base string) error {
		return PlotHistogram(syntheticHops(1000, 3), "DHT lookup hops", "hops", base)
	}, "DHT lookup hops", "hops", "samples", "n = 1,000")
	err := PlotHistogram([]float64{1, 2.5}, "x", "x", filepath.Join(t.TempDir(), "h"))
	if err == nil || !strings.Contains(err.Error(), "2.5 is not an integer") {
		t.Fatalf("non-integer: %v", err)
	}
	if err := PlotHistogram([]float64{0, 1e6}, "x", "x", filepath.Join(t.TempDir(), "h")); err == nil {
		t.Fatal("a million bars accepted")
	}
}

func TestPlotCompare(t *testing.T) {
	sim := PropagationCurve(syntheticSpreads(20, 200, 1, 4), 10, 0)
	measured := PropagationCurve(syntheticSpreads(10, 50, 1.3, 5), 10, 0)
	plotTwice(t, func(base string) error {
		return PlotCompare([]Curve{sim, measured}, []string{"simulated", "measured"}, "Simulated vs measured", base)
	}, "Simulated vs measured", "simulated (90% at", "measured (90% at", "live nodes reached (%)")
	if err := PlotCompare([]Curve{sim}, nil, "x", filepath.Join(t.TempDir(), "c")); err == nil {
		t.Fatal("missing labels accepted")
	}
}

func TestPlotEmpty(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "empty")
	for name, err := range map[string]error{
		"propagation":   PlotPropagation(Curve{}, "t", base),
		"cdf":           PlotCDF(nil, "t", "x", base),
		"cdf nan":       PlotCDF([]float64{math.NaN()}, "t", "x", base),
		"histogram":     PlotHistogram(nil, "t", "x", base),
		"compare":       PlotCompare(nil, nil, "t", base),
		"compare empty": PlotCompare([]Curve{{}}, []string{"a"}, "t", base),
	} {
		if !errors.Is(err, ErrNoData) {
			t.Errorf("%s: error %v, want ErrNoData", name, err)
		}
	}
	for name, err := range map[string]error{
		"ragged": PlotPropagation(Curve{TimeMs: []float64{0, 1}, P50: []float64{0}}, "t", base),
		"nan":    PlotCompare([]Curve{{TimeMs: []float64{0}, P5: []float64{0}, P50: []float64{math.NaN()}, P95: []float64{0}}}, []string{"a"}, "t", base),
	} {
		if err == nil || errors.Is(err, ErrNoData) {
			t.Errorf("%s: error %v, want a bad-curve error", name, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files written for empty input: %v", ents)
	}
}

// TestPlotSamples writes one plot of each kind from realistic synthetic data
// into $REPORTS_PLOT_SAMPLES, for looking at: 100 messages on 1,000 nodes,
// latencies lognormal around 300 ms.
func TestPlotSamples(t *testing.T) {
	dir := os.Getenv("REPORTS_PLOT_SAMPLES")
	if dir == "" {
		t.Skip("set REPORTS_PLOT_SAMPLES=dir to write sample plots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	msgs := syntheticSpreads(100, 1000, 1, 1)
	c := PropagationCurve(msgs, 10, 0)
	var all []float64
	for _, m := range msgs {
		all = append(all, m.LatenciesMs...)
	}
	measured := PropagationCurve(syntheticSpreads(30, 40, 1.25, 7), 10, 0)
	for _, err := range []error{
		PlotPropagation(c, "Gossip propagation, 1,000 nodes", filepath.Join(dir, "propagation")),
		PlotCDF(all, "Delivery latency, 100 messages × 1,000 nodes", "first-delivery latency (ms)", filepath.Join(dir, "latency_cdf")),
		PlotHistogram(syntheticHops(2000, 3), "DHT lookup hops", "hops", filepath.Join(dir, "dht_hops")),
		PlotCompare([]Curve{c, measured}, []string{"simulated, 1,000 nodes", "measured, 40 nodes"}, "Propagation: simulated vs measured", filepath.Join(dir, "compare")),
		WriteCurveCSV(dir, "propagation.csv", c),
		WriteLatenciesCSV(dir, "latency.csv", all),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// syntheticSpreads returns n messages over live nodes: each message has its
// own speed (lognormal, σ 0.15) and reaches 97–100 % of the nodes, each node
// after a lognormal latency around 300·scale ms (σ 0.45).
func syntheticSpreads(n, live int, scale float64, seed uint64) []MessageSpread {
	r := rand.New(rand.NewPCG(seed, 0x70726f70))
	msgs := make([]MessageSpread, n)
	for i := range msgs {
		speed := math.Exp(0.15 * r.NormFloat64())
		got := live - r.IntN(live*3/100+1)
		lat := make([]float64, got)
		for j := range lat {
			lat[j] = 300 * scale * speed * math.Exp(0.45*r.NormFloat64())
		}
		msgs[i] = MessageSpread{LatenciesMs: lat, Live: live}
	}
	return msgs
}

// syntheticLatencies returns n lognormal latencies around 300 ms.
func syntheticLatencies(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x6c6174))
	out := make([]float64, n)
	for i := range out {
		out[i] = 300 * math.Exp(0.45*r.NormFloat64())
	}
	return out
}

// syntheticHops returns n hop counts shaped like Kademlia lookups in a
// network of about a thousand nodes: mostly 2–4, a thin tail.
func syntheticHops(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x686f7073))
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Max(1, math.Round(3+1.1*r.NormFloat64()+0.6*r.ExpFloat64()-0.6))
	}
	return out
}

func TestPlotDegenerate(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("REPORTS_PLOT_SAMPLES"); d != "" {
		dir = filepath.Join(d, "degenerate")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	one := PropagationCurve([]MessageSpread{{LatenciesMs: []float64{0}, Live: 1}}, 10, 5)
	if one.Len() != 1 {
		t.Fatalf("want a one-point curve, got %+v", one)
	}
	for name, plot := range map[string]func(base string) error{
		"cdf one":      func(b string) error { return PlotCDF([]float64{5}, "t", "x", b) },
		"cdf equal":    func(b string) error { return PlotCDF([]float64{5, 5, 5}, "t", "x", b) },
		"cdf negative": func(b string) error { return PlotCDF([]float64{-3, 1, 2}, "t", "x", b) },
		"hist one":     func(b string) error { return PlotHistogram([]float64{3}, "t", "x", b) },
		"hist wide":    func(b string) error { return PlotHistogram([]float64{0, 40, 40, 7}, "t", "x", b) },
		"prop one":     func(b string) error { return PlotPropagation(one, "t", b) },
		"compare one":  func(b string) error { return PlotCompare([]Curve{one, one}, []string{"a", "b"}, "t", b) },
	} {
		base := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := plot(base); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		checkPlotFiles(t, base)
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		n      int
		want   string
	}{
		{0, 2300, 8, "0 500 1000 1500 2000"},
		{0, 730, 6, "0 200 400 600"},
		{0, 0.9, 4, "0.0 0.5"},
		{0, 0.9, 5, "0.0 0.2 0.4 0.6 0.8"},
		{-3, 2, 5, "-3 -2 -1 0 1 2"},
	} {
		var labels []string
		for _, tk := range (niceTicks{N: tc.n}).Ticks(tc.lo, tc.hi) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if got := strings.Join(labels, " "); got != tc.want {
			t.Errorf("ticks(%v, %v, %d) = %q, want %q", tc.lo, tc.hi, tc.n, got, tc.want)
		}
	}
}

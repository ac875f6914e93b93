package reports

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSweepAxis(t *testing.T) {
	for _, c := range []struct {
		xs      []string
		numeric bool
		log     bool
		unit    string
		pos     []float64
	}{
		{[]string{"4", "6", "8"}, true, false, "", []float64{4, 6, 8}},
		{[]string{"0%", "5%", "10%"}, true, false, "%", []float64{0, 5, 10}},
		{[]string{"250ms", "500ms"}, true, false, "ms", []float64{250, 500}},
		{[]string{"100", "1000", "10000"}, true, true, "", []float64{100, 1000, 10000}},
		{[]string{"1s", "500ms"}, false, false, "", []float64{0, 1}},
		{[]string{"lru", "latency", "combined"}, false, false, "", []float64{0, 1, 2}},
		{[]string{"8", "4"}, false, false, "", []float64{0, 1}}, // not increasing
		{[]string{"{model: constant, value: 20ms}"}, false, false, "", []float64{0}},
	} {
		ax := sweepAxisFor(c.xs)
		if ax.numeric != c.numeric || ax.log != c.log || ax.unit != c.unit || !slices.Equal(ax.pos, c.pos) {
			t.Errorf("%q: numeric %v log %v unit %q pos %v", c.xs, ax.numeric, ax.log, ax.unit, ax.pos)
		}
	}
	if l := sweepAxisFor([]string{"{model: constant, value: 20ms}"}).labels[0]; len([]rune(l)) != maxCategoryLabel {
		t.Errorf("long label not shortened: %q", l)
	}
}

func TestSweepChart(t *testing.T) {
	nan := math.NaN()
	two := []SweepSeries{
		{Label: "nodes=100", Mean: []float64{250, 200, 180}, CI95: []float64{20, 15, nan}},
		{Label: "nodes=1000", Mean: []float64{320, nan, 230}, CI95: []float64{30, 0, 25}}, // a gap: two lone points
	}
	plotTwice(t, func(base string) error {
		ch, err := SweepChart([]string{"4", "6", "8"}, two, "First delivery p95", "gossip_fanout", "p95 (ms)")
		if err != nil {
			return err
		}
		return ch.Save(base)
	}, "First delivery p95", "gossip_fanout", "nodes=100", "nodes=1000", ">6<")

	one := []SweepSeries{{Mean: []float64{0.99, 1}, CI95: []float64{0.01, 0}}}
	ch, err := SweepChart([]string{"lru", "combined"}, one, "Delivery", "strategy", "ratio")
	if err != nil {
		t.Fatal(err)
	}
	svg, err := ch.SVG()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">lru<", ">combined<", ">mean<", ">95% CI<"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("categorical sweep chart lacks %q", want)
		}
	}
	// Units go into the axis label; a log axis for wide ranges.
	ch, err = SweepChart([]string{"100", "1000", "10000"}, []SweepSeries{{Mean: []float64{1, 2, 3}, CI95: []float64{0, 0, 0}}}, "t", "nodes", "y")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.SVG(); err != nil {
		t.Fatal(err)
	}
	ch, err = SweepChart([]string{"0%", "10%"}, one, "t", "network.loss", "y")
	if err != nil {
		t.Fatal(err)
	}
	if svg, _ := ch.SVG(); !bytes.Contains(svg, []byte("network.loss (%)")) {
		t.Error("unit not in the axis label")
	}

	// Equal means with a rounding-error half-width still get an axis.
	flat := []SweepSeries{{Mean: []float64{0.99, 0.99}, CI95: []float64{1e-17, 0}}}
	if ch, err := SweepChart([]string{"1", "2"}, flat, "t", "x", "y"); err != nil {
		t.Fatal(err)
	} else if _, err := ch.SVG(); err != nil {
		t.Fatal(err)
	}
	if ticks := (niceTicks{N: 7}).Ticks(0.99, 0.99+1e-16); len(ticks) != 1 {
		t.Errorf("%d ticks on a range of rounding error", len(ticks))
	}

	for name, err := range map[string]error{
		"no values": func() error { _, err := SweepChart(nil, one, "t", "x", "y"); return err }(),
		"all NaN": func() error {
			_, err := SweepChart([]string{"a"}, []SweepSeries{{Mean: []float64{nan}, CI95: []float64{nan}}}, "t", "x", "y")
			return err
		}(),
	} {
		if !errors.Is(err, ErrNoData) {
			t.Errorf("%s: %v, want ErrNoData", name, err)
		}
	}
	if _, err := SweepChart([]string{"a", "b"}, []SweepSeries{{Mean: []float64{1}, CI95: []float64{1}}}, "t", "x", "y"); err == nil || errors.Is(err, ErrNoData) {
		t.Errorf("ragged series: %v", err)
	}
}

func TestCDFCompareAndQuantileCharts(t *testing.T) {
	plotTwice(t, func(base string) error {
		ch, err := CDFCompareChart([][]float64{syntheticLatencies(500, 1), syntheticLatencies(300, 2)}, []string{"A: seed 1", "B: seed 2"}, "Latency", "ms")
		if err != nil {
			return err
		}
		return ch.Save(base)
	}, "A: seed 1 (p50", "B: seed 2 (p50", "n = 300")
	if _, err := CDFCompareChart([][]float64{nil, {math.NaN()}}, []string{"a", "b"}, "t", "x"); !errors.Is(err, ErrNoData) {
		t.Errorf("no samples: %v", err)
	}
	pct := []float64{0, 50, 100}
	ch, err := QuantileChart(pct, [][]float64{{10, 20, 30}, {9, 19, 29}}, []string{"measured", "model"}, "RTT", "ms")
	if err != nil {
		t.Fatal(err)
	}
	if svg, _ := ch.SVG(); !bytes.Contains(svg, []byte(">measured<")) || !bytes.Contains(svg, []byte("percentile (%)")) {
		t.Error("quantile chart labels")
	}
	if _, err := QuantileChart(pct, [][]float64{{1}}, []string{"a"}, "t", "x"); err == nil {
		t.Error("short series accepted")
	}
}

func TestMeanCurve(t *testing.T) {
	a := Curve{TimeMs: []float64{0, 10, 20, 30}, P5: []float64{0, 0.1, 0.5, 1}, P50: []float64{0, 0.2, 0.8, 1}, P95: []float64{0, 0.4, 1, 1}, Messages: 3}
	b := Curve{TimeMs: []float64{0, 10}, P5: []float64{0, 0.5}, P50: []float64{0, 0.6}, P95: []float64{0, 0.8}, Messages: 2}
	m, err := MeanCurve([]Curve{a, b})
	if err != nil {
		t.Fatal(err)
	}
	// b is a prefix of a's grid and holds its plateau (0.6) after 10 ms.
	if !slices.Equal(m.TimeMs, a.TimeMs) || !slices.Equal(m.P50, []float64{0, 0.4, 0.7, 0.8}) || m.Messages != 5 {
		t.Errorf("mean %+v", m)
	}
	// Other grids: the union, each curve a step function (0 before its
	// first point).
	c := Curve{TimeMs: []float64{5, 25}, P5: []float64{1, 1}, P50: []float64{1, 1}, P95: []float64{1, 1}}
	m, err = MeanCurve([]Curve{a, c})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.TimeMs, []float64{0, 5, 10, 20, 25, 30}) || !slices.Equal(m.P50, []float64{0, 0.5, 0.6, 0.9, 0.9, 1}) {
		t.Errorf("union mean %+v", m)
	}
	if _, err := MeanCurve(nil); !errors.Is(err, ErrNoData) {
		t.Errorf("no curves: %v", err)
	}
	if _, err := MeanCurve([]Curve{a, {}}); err == nil {
		t.Error("empty curve accepted")
	}
}

func TestPlotDirDrawsPing(t *testing.T) {
	dir := t.TempDir()
	fakeRun(t, dir, 1, 1, 1)
	if err := PlotDir(dir, "fake"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"gossip_propagation", "gossip_latency_cdf", "dht_lookup_cdf", "dht_hops", "ping_rtt_cdf"} {
		checkPlotFiles(t, filepath.Join(dir, f))
	}
	if err := PlotDir(t.TempDir(), "x"); !errors.Is(err, ErrNothingToPlot) {
		t.Errorf("empty folder: %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "ping_rtt_cdf.csv"), []byte("percentile,rtt_ms\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := PlotDir(bad, "x"); !errors.Is(err, ErrBadCSV) {
		t.Errorf("bad table: %v", err)
	}
}

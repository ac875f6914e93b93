package reports

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// threeMessages: 4 live nodes each; one message reaches everyone, one 3 of
// 4, one a single node. Latencies are deliberately unsorted.
func threeMessages() []MessageSpread {
	return []MessageSpread{
		{LatenciesMs: []float64{40, 10, 30, 20}, Live: 4},
		{LatenciesMs: []float64{15, 25, 35}, Live: 4},
		{LatenciesMs: []float64{5}, Live: 4},
	}
}

func TestPropagationCurve(t *testing.T) {
	c := PropagationCurve(threeMessages(), 10, 0)
	// Grid runs to the largest latency (40) plus one step.
	want := Curve{
		TimeMs:   []float64{0, 10, 20, 30, 40, 50},
		P5:       []float64{0, 0, 0.25, 0.25, 0.25, 0.25},
		P50:      []float64{0, 0.25, 0.25, 0.5, 0.75, 0.75},
		P95:      []float64{0, 0.25, 0.5, 0.75, 1, 1},
		Messages: 3,
	}
	if !curvesEqual(c, want) {
		t.Fatalf("curve:\n got %+v\nwant %+v", c, want)
	}
	for i := range c.TimeMs {
		if !(c.P5[i] <= c.P50[i] && c.P50[i] <= c.P95[i]) {
			t.Fatalf("band out of order at %v ms: %v %v %v", c.TimeMs[i], c.P5[i], c.P50[i], c.P95[i])
		}
	}

	for _, tc := range []struct {
		share float64
		band  string
		t     float64
		ok    bool
	}{
		{0.5, "p50", 30, true},
		{0.75, "p50", 40, true},
		{0.9, "p50", 0, false},
		{1, "p95", 40, true},
		{0.25, "p5", 20, true},
		{0, "p50", 0, true},
		{0.5, "median", 0, false},
	} {
		got, ok := c.TimeToReach(tc.share, tc.band)
		if got != tc.t || ok != tc.ok {
			t.Errorf("TimeToReach(%v, %q) = %v, %v; want %v, %v", tc.share, tc.band, got, ok, tc.t, tc.ok)
		}
	}
}

func TestPropagationCurvePlateau(t *testing.T) {
	// Delivered to 3 of 4 live nodes: the curve stops at 75 %.
	c := PropagationCurve(threeMessages()[1:2], 5, 100)
	if c.Len() != 21 || c.TimeMs[20] != 100 {
		t.Fatalf("grid: %v", c.TimeMs)
	}
	for i, tm := range c.TimeMs {
		if tm >= 35 && c.P50[i] != 0.75 {
			t.Fatalf("at %v ms share %v, want plateau 0.75", tm, c.P50[i])
		}
	}
	if _, ok := c.TimeToReach(0.76, "p50"); ok {
		t.Fatal("must never pass 75 %")
	}
}

func TestPropagationCurveGrid(t *testing.T) {
	msgs := threeMessages()
	if got := PropagationCurve(msgs, 10, 30).TimeMs; !slices.Equal(got, []float64{0, 10, 20, 30}) {
		t.Fatalf("end inclusive: %v", got)
	}
	if got := PropagationCurve(msgs, 10, 25).TimeMs; !slices.Equal(got, []float64{0, 10, 20}) {
		t.Fatalf("end between steps: %v", got)
	}
	// Not a multiple of the step: still one step past the last latency.
	if got := PropagationCurve([]MessageSpread{{LatenciesMs: []float64{12}, Live: 1}}, 10, 0).TimeMs; !slices.Equal(got, []float64{0, 10, 20, 30}) {
		t.Fatalf("auto end: %v", got)
	}
	for name, c := range map[string]Curve{
		"no messages": PropagationCurve(nil, 10, 0),
		"zero step":   PropagationCurve(msgs, 0, 0),
		"no live":     PropagationCurve([]MessageSpread{{LatenciesMs: []float64{1}}}, 10, 0),
	} {
		if c.Len() != 0 || c.Messages != 0 {
			t.Errorf("%s: want empty curve, got %+v", name, c)
		}
	}
	// Messages without live nodes are skipped; over-counted deliveries cap at 1.
	c := PropagationCurve([]MessageSpread{{LatenciesMs: []float64{1, 2, 3}, Live: 2}, {Live: 0}}, 1, 0)
	if c.Messages != 1 || c.P50[c.Len()-1] != 1 {
		t.Fatalf("%+v", c)
	}
	// Huge grids are bounded.
	if n := PropagationCurve(msgs, 1e-6, 0).Len(); n > maxGridPoints {
		t.Fatalf("grid of %d points", n)
	}
}

func TestCurveCSVRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := PropagationCurve(threeMessages(), 10, 0)
	if err := WriteCurveCSV(dir, "prop.csv", c); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "prop.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "time_ms,p5,p50,p95\n0.000,0.000,0.000,0.000\n10.000,0.000,0.250,0.250\n") {
		t.Fatalf("csv:\n%s", b)
	}
	got, err := ReadCurveCSV(filepath.Join(dir, "prop.csv"))
	if err != nil {
		t.Fatal(err)
	}
	c.Messages = 0 // not stored
	if !curvesEqual(got, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, c)
	}
	if err := WriteCurveCSV(dir, "empty.csv", Curve{}); err == nil {
		t.Fatal("empty curve written")
	}
}

func TestReadCurveCSVErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, want string }{
		{"number", "time_ms,p5,p50,p95\n0,0,0,0\n10,0,x,0.5\n", "number.csv:3: p50 \"x\""},
		{"columns", "time_ms,p5,p50,p95\n0,0,0\n", "columns.csv:2: 3 columns, want 4"},
		{"header", "t,p5,p50,p95\n0,0,0,0\n", "header.csv:1: header"},
		{"order", "time_ms,p5,p50,p95\n0,0,0,0\n10,0,0,0\n10,0,0,0\n", "order.csv:4: time_ms 10 does not follow 10"},
		{"nan", "time_ms,p5,p50,p95\n0,NaN,0,0\n", "nan.csv:2: p5 \"NaN\""},
		{"empty", "", "empty.csv: empty file"},
	} {
		path := filepath.Join(dir, tc.name+".csv")
		if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadCurveCSV(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
		if tc.name != "empty" && !errors.Is(err, ErrBadCSV) {
			t.Errorf("%s: %v is not ErrBadCSV", tc.name, err)
		}
	}
	if _, err := ReadCurveCSV(filepath.Join(dir, "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLatenciesCSVRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := []float64{3.14159, 1, 2.5, -0.0001}
	if err := WriteLatenciesCSV(dir, "lat.csv", in); err != nil {
		t.Fatal(err)
	}
	if in[0] != 3.14159 {
		t.Fatal("input was sorted in place")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "lat.csv"))
	if want := "latency_ms\n0.000\n1.000\n2.500\n3.142\n"; string(b) != want {
		t.Fatalf("csv %q, want %q", b, want)
	}
	got, err := ReadLatenciesCSV(filepath.Join(dir, "lat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []float64{0, 1, 2.5, 3.142}) {
		t.Fatalf("read %v", got)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("latency_ms\n1\n2,3\n"), 0o644)
	if _, err := ReadLatenciesCSV(bad); err == nil || !strings.Contains(err.Error(), "bad.csv:3:") {
		t.Fatalf("error %v", err)
	}
}

func curvesEqual(a, b Curve) bool {
	return a.Messages == b.Messages && slices.Equal(a.TimeMs, b.TimeMs) &&
		slices.Equal(a.P5, b.P5) && slices.Equal(a.P50, b.P50) && slices.Equal(a.P95, b.P95)
}

func TestCurveStep(t *testing.T) {
	for _, c := range []struct{ max, want float64 }{
		{0, 5}, {3000, 5}, {250, 5}, {200, 1}, {100, 0.5}, {30, 0.2}, {0.2, 0.001}, {0.5, 0.005}, {0.0001, 0.001},
	} {
		if got := CurveStep(c.max); got != c.want {
			t.Errorf("CurveStep(%g) = %g, want %g", c.max, got, c.want)
		}
	}
}

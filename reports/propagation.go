package reports

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
)

// MessageSpread is how far one published message got: the first-delivery
// latency (time since publish, in milliseconds) at each node that received
// it, and the number of nodes that were live when it was published, which is
// the denominator of its share. A node that never got the message has no
// latency; so a message delivered to 3 of 4 live nodes plateaus at 75 %.
type MessageSpread struct {
	LatenciesMs []float64
	Live        int
}

// Curve is the share of live nodes reached against time since publish,
// aggregated over messages: at each grid time TimeMs[i], P50[i] is the median
// share across messages and P5[i]/P95[i] the 5th and 95th percentiles
// (nearest rank). Shares are fractions in [0, 1]. P5 is the slow edge of the
// band: 95 % of messages had reached at least that share by then.
//
// Messages is the number of messages aggregated; it is not stored in the CSV
// form, so a curve read back with ReadCurveCSV has Messages == 0.
//
// A Curve is a plain value; it is safe to share once built.
type Curve struct {
	TimeMs, P5, P50, P95 []float64
	Messages             int
}

// maxGridPoints bounds the time grid so a tiny step over a long run cannot
// exhaust memory; the step is widened instead.
const maxGridPoints = 100_000

// PropagationCurve aggregates msgs on the time grid 0, stepMs, 2·stepMs, …
// up to endMs inclusive. If endMs <= 0 the grid runs to the largest latency
// seen plus one step, so every curve reaches its plateau on the grid.
//
// For grid time t and message m, share_m(t) = #(latencies <= t) / Live,
// capped at 1; P5, P50 and P95 are then taken across messages with Quantile.
// Messages with Live <= 0 are skipped and non-finite latencies ignored (as
// not delivered). A non-positive or non-finite stepMs, or no usable message,
// gives an empty Curve (which the plots reject). A grid of more than 100,000
// points is thinned to that many by widening the step.
func PropagationCurve(msgs []MessageSpread, stepMs float64, endMs float64) Curve {
	if !(stepMs > 0) || math.IsInf(stepMs, 0) {
		return Curve{}
	}
	type spread struct {
		lat  []float64 // sorted, finite
		live float64
	}
	var ms []spread
	maxLat := 0.0
	for _, m := range msgs {
		if m.Live <= 0 {
			continue
		}
		lat := make([]float64, 0, len(m.LatenciesMs))
		for _, x := range m.LatenciesMs {
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				lat = append(lat, x)
				maxLat = max(maxLat, x)
			}
		}
		slices.Sort(lat)
		ms = append(ms, spread{lat: lat, live: float64(m.Live)})
	}
	if len(ms) == 0 {
		return Curve{}
	}
	var n int
	if endMs > 0 && !math.IsInf(endMs, 0) {
		n = int(math.Floor(endMs/stepMs+1e-9)) + 1
	} else {
		n = int(math.Ceil(maxLat/stepMs-1e-9)) + 2
	}
	if n > maxGridPoints {
		// Keep the grid bounded; callers asking for this many points
		// cannot see them in a plot anyway.
		end := float64(n-1) * stepMs
		n = maxGridPoints
		stepMs = end / float64(n-1)
	}

	c := Curve{
		TimeMs:   make([]float64, n),
		P5:       make([]float64, n),
		P50:      make([]float64, n),
		P95:      make([]float64, n),
		Messages: len(ms),
	}
	next := make([]int, len(ms)) // per message: latencies counted so far
	shares := make([]float64, len(ms))
	for i := range n {
		t := float64(i) * stepMs
		for j := range ms {
			lat := ms[j].lat
			k := next[j]
			for k < len(lat) && lat[k] <= t {
				k++
			}
			next[j] = k
			shares[j] = min(float64(k)/ms[j].live, 1)
		}
		slices.Sort(shares)
		c.TimeMs[i] = t
		c.P5[i] = Quantile(shares, 0.05)
		c.P50[i] = Quantile(shares, 0.50)
		c.P95[i] = Quantile(shares, 0.95)
	}
	return c
}

// Len is the number of grid points.
func (c Curve) Len() int { return len(c.TimeMs) }

// band returns the series named "p5", "p50" or "p95".
func (c Curve) band(name string) []float64 {
	switch name {
	case "p5":
		return c.P5
	case "p50":
		return c.P50
	case "p95":
		return c.P95
	}
	return nil
}

// TimeToReach returns the first grid time at which the chosen series
// ("p5", "p50" or "p95") is at least share (a fraction in [0, 1]). It
// reports false if the series never gets there or band is unknown. The
// "p5" series gives the pessimistic answer: 95 % of messages were at least
// this far by the returned time.
func (c Curve) TimeToReach(share float64, band string) (float64, bool) {
	ys := c.band(band)
	for i, y := range ys {
		if i < len(c.TimeMs) && y >= share {
			return c.TimeMs[i], true
		}
	}
	return 0, false
}

// curveHeader is the header of a curve CSV.
var curveHeader = []string{"time_ms", "p5", "p50", "p95"}

// latencyHeader is the header of a latencies CSV.
var latencyHeader = []string{"latency_ms"}

// formatFloat3 writes x with exactly 3 decimals (and never "-0.000").
func formatFloat3(x float64) string {
	r := Round3(x)
	if r == 0 {
		r = 0 // drop the sign of -0
	}
	return strconv.FormatFloat(r, 'f', 3, 64)
}

// WriteCurveCSV writes c to dir/name with columns time_ms,p5,p50,p95 (shares
// as fractions, 3 decimals), one row per grid point.
func WriteCurveCSV(dir, name string, c Curve) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("write curve %s: %w", name, err)
	}
	rows := make([][]string, c.Len())
	for i := range rows {
		rows[i] = []string{formatFloat3(c.TimeMs[i]), formatFloat3(c.P5[i]), formatFloat3(c.P50[i]), formatFloat3(c.P95[i])}
	}
	return WriteCSV(dir, name, curveHeader, rows)
}

// ErrBadCSV marks a CSV file that does not have the expected shape.
var ErrBadCSV = errors.New("bad csv")

// ReadCurveCSV reads a curve written by WriteCurveCSV. Errors name the file
// and line. Times must increase strictly. The result has Messages == 0.
func ReadCurveCSV(path string) (Curve, error) {
	var c Curve
	err := readFloatCSV(path, curveHeader, func(line int, v []float64) error {
		if n := len(c.TimeMs); n > 0 && !(v[0] > c.TimeMs[n-1]) {
			return fmt.Errorf("%s:%d: time_ms %v does not follow %v: %w", path, line, v[0], c.TimeMs[n-1], ErrBadCSV)
		}
		c.TimeMs = append(c.TimeMs, v[0])
		c.P5 = append(c.P5, v[1])
		c.P50 = append(c.P50, v[2])
		c.P95 = append(c.P95, v[3])
		return nil
	})
	if err != nil {
		return Curve{}, err
	}
	return c, nil
}

// WriteLatenciesCSV writes latMs, sorted ascending, to dir/name as one column
// latency_ms with 3 decimals. latMs itself is left as it was.
func WriteLatenciesCSV(dir, name string, latMs []float64) error {
	return WriteColumnCSV(dir, name, latencyHeader[0], latMs)
}

// ReadLatenciesCSV reads a latencies CSV written by WriteLatenciesCSV. Errors
// name the file and line.
func ReadLatenciesCSV(path string) ([]float64, error) {
	return ReadColumnCSV(path, latencyHeader[0])
}

// WriteColumnCSV writes one sorted column of numbers, headed column, to
// dir/name (3 decimals).
func WriteColumnCSV(dir, name, column string, xs []float64) error {
	s := slices.Clone(xs)
	slices.Sort(s)
	rows := make([][]string, len(s))
	for i, x := range s {
		rows[i] = []string{formatFloat3(x)}
	}
	return WriteCSV(dir, name, []string{column}, rows)
}

// ReadColumnCSV reads a CSV written by WriteColumnCSV with that column
// name. Errors name the file and line.
func ReadColumnCSV(path, column string) ([]float64, error) {
	var out []float64
	err := readFloatCSV(path, []string{column}, func(_ int, v []float64) error {
		out = append(out, v[0])
		return nil
	})
	return out, err
}

// readFloatCSV reads a CSV whose first record must equal header and whose
// other records are finite numbers, one per header column, calling row with
// each record's line number and values.
func readFloatCSV(path string, header []string, row func(line int, v []float64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1 // checked below, with a better message
	r.ReuseRecord = true
	v := make([]float64, len(header))
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			if first {
				return fmt.Errorf("%s: empty file, want header %q: %w", path, header, ErrBadCSV)
			}
			return nil
		}
		if err != nil {
			// csv.ParseError already carries the line.
			return fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if first {
			if !slices.Equal(rec, header) {
				return fmt.Errorf("%s:%d: header %q, want %q: %w", path, line, rec, header, ErrBadCSV)
			}
			continue
		}
		if len(rec) != len(header) {
			return fmt.Errorf("%s:%d: %d columns, want %d (%q): %w", path, line, len(rec), len(header), header, ErrBadCSV)
		}
		for i, s := range rec {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s:%d: %s %q is not a finite number: %w", path, line, header[i], s, ErrBadCSV)
			}
			v[i] = x
		}
		if err := row(line, v); err != nil {
			return err
		}
	}
}

// check reports whether c can be drawn or written: at least one point,
// series of equal length, finite values.
func (c Curve) check() error {
	n := len(c.TimeMs)
	if n == 0 {
		return errEmptyCurve
	}
	if len(c.P5) != n || len(c.P50) != n || len(c.P95) != n {
		return fmt.Errorf("curve series lengths differ (time %d, p5 %d, p50 %d, p95 %d)", n, len(c.P5), len(c.P50), len(c.P95))
	}
	for _, s := range [][]float64{c.TimeMs, c.P5, c.P50, c.P95} {
		for _, x := range s {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("curve has a non-finite value %v", x)
			}
		}
	}
	return nil
}

// errEmptyCurve is returned for a curve with no points.
var errEmptyCurve = fmt.Errorf("empty curve (no messages or no grid points): %w", ErrNoData)

// CurveStep returns a grid step (ms) for a propagation curve whose slowest
// message took maxMs: 5 ms, the default, unless that would put the whole
// curve in a few dozen points, then the smallest of 1, 2 and 5 times a
// power of ten (at least 0.001 ms, the CSV's resolution) giving at most
// 200 steps. Loopback-like scenarios spread in well under a millisecond.
func CurveStep(maxMs float64) float64 {
	const def, steps = 5.0, 200
	if !(maxMs > 0) || maxMs/def >= steps/4 || math.IsInf(maxMs, 0) {
		return def
	}
	for e := -3; e <= 0; e++ {
		for _, m := range []float64{1, 2, 5} {
			if st := m * math.Pow10(e); maxMs/st <= steps {
				return st
			}
		}
	}
	return def
}

// MaxLatency returns the largest finite latency of the spreads, in ms.
func MaxLatency(msgs []MessageSpread) float64 {
	m := 0.0
	for _, s := range msgs {
		for _, x := range s.LatenciesMs {
			if !math.IsInf(x, 0) && !math.IsNaN(x) {
				m = max(m, x)
			}
		}
	}
	return m
}

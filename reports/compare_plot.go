package reports

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// CDFCompareChart overlays the empirical CDFs of several samples (say, the
// first-delivery latencies of two runs), each with its own colour, dash
// pattern and legend label, which also gives its median and size. NaNs and
// infinities are ignored; samples left empty are skipped, and no finite
// sample at all is ErrNoData. It needs one label per sample.
func CDFCompareChart(samples [][]float64, labels []string, title, xLabel string) (*Chart, error) {
	if len(labels) != len(samples) {
		return nil, fmt.Errorf("%d labels for %d samples", len(labels), len(samples))
	}
	var series []cdfSeries
	for i, xs := range samples {
		s := finiteSorted(xs)
		if len(s) == 0 {
			continue
		}
		name := fmt.Sprintf("%s (p50 %s, n = %s)", labels[i], formatMs(Quantile(s, 0.5)), groupThousands(len(s)))
		series = append(series, cdfSeries{name: name, xys: ecdfPoints(s, 2000), step: true, style: i})
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("%w: no finite samples", ErrNoData)
	}
	return cdfLines(series, title, xLabel, "samples at or below (%)"), nil
}

// QuantileChart draws quantile tables as CDF-like lines: series i has the
// value at percentile pct[j] in values[i][j] (a table such as
// ping_rtt_cdf.csv). Each series gets its own colour, dash pattern and
// label. Non-finite values are skipped; no finite value is ErrNoData.
func QuantileChart(pct []float64, values [][]float64, labels []string, title, xLabel string) (*Chart, error) {
	if len(labels) != len(values) {
		return nil, fmt.Errorf("%d labels for %d series", len(labels), len(values))
	}
	var series []cdfSeries
	for i, vs := range values {
		if len(vs) != len(pct) {
			return nil, fmt.Errorf("series %q has %d values for %d percentiles", labels[i], len(vs), len(pct))
		}
		var xys plotter.XYs
		for j, v := range vs {
			if !math.IsNaN(v) && !math.IsInf(v, 0) && !math.IsNaN(pct[j]) {
				xys = append(xys, plotter.XY{X: v, Y: pct[j]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		series = append(series, cdfSeries{name: labels[i], xys: xys, style: i})
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("%w: no finite values", ErrNoData)
	}
	return cdfLines(series, title, xLabel, "percentile (%)"), nil
}

// cdfSeries is one line of cdfLines: points in (value, percent).
type cdfSeries struct {
	name  string
	xys   plotter.XYs
	step  bool // draw as a post-step line (an empirical CDF)
	style int  // index into palette and dashes
}

// cdfLines draws CDF-like lines on a 0–100 % axis, x from zero (or the
// smallest value, if negative) to a little past the largest value.
func cdfLines(series []cdfSeries, title, xLabel, yLabel string) *Chart {
	p := newPlot(title, xLabel, yLabel)
	xmin, xmax := 0.0, math.Inf(-1)
	for _, s := range series {
		for _, xy := range s.xys {
			xmin, xmax = math.Min(xmin, xy.X), math.Max(xmax, xy.X)
		}
	}
	xmax += 0.03 * (xmax - xmin)
	if !(xmax > xmin) {
		xmax = xmin + 1
	}
	for _, s := range series {
		l := &plotter.Line{XYs: s.xys}
		if s.step {
			l.StepStyle = plotter.PostStep
		}
		l.LineStyle = draw.LineStyle{Color: palette[s.style%len(palette)], Width: vg.Points(2), Dashes: dashes[s.style%len(dashes)]}
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	percentAxis(p)
	p.X.Min, p.X.Max = xmin, xmax
	p.X.Tick.Marker = niceTicks{N: 8}
	// Bottom right, below the curves, unless every curve is still low
	// there (all rise late): then top left, above them.
	rise := math.Inf(1)
	for _, s := range series {
		for _, xy := range s.xys {
			if xy.Y >= 5 {
				rise = math.Min(rise, xy.X)
				break
			}
		}
	}
	late := rise > xmin+0.6*(xmax-xmin)
	p.Legend.Top, p.Legend.Left = late, late
	if late {
		p.Legend.XOffs, p.Legend.YOffs = vg.Points(10), -vg.Points(6)
	}
	return &Chart{p}
}

// finiteSorted returns the finite values of xs, sorted, in a new slice.
func finiteSorted(xs []float64) []float64 {
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			s = append(s, x)
		}
	}
	slices.Sort(s)
	return s
}

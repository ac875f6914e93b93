package reports

import (
	"fmt"
	"image/color"
	"math"
	"regexp"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SweepSeries is one line of a SweepChart: a metric's mean and 95 %
// confidence half-width at each value of the swept parameter. A NaN mean
// marks a value without data; the line breaks there.
type SweepSeries struct {
	Label      string
	Mean, CI95 []float64
}

// SweepChart draws a metric against a swept parameter: for each series its
// mean as a line with markers over a shaded 95 % confidence band (an error
// bar where a point stands alone). xs are the parameter's values in the
// order to show them. When every value is a number with the same unit
// suffix, or none (4, 6, 8; 0%, 10%; 250ms, 500ms), the axis is numeric,
// logarithmic when the values are positive and span a factor of 50 or
// more, and the unit goes into the axis label; otherwise the values sit at
// evenly spaced positions, labelled with the values. Series need one mean
// and one half-width per value; no finite mean is ErrNoData.
func SweepChart(xs []string, series []SweepSeries, title, xLabel, yLabel string) (*Chart, error) {
	if len(xs) == 0 || len(series) == 0 {
		return nil, fmt.Errorf("%w: no parameter values or no series", ErrNoData)
	}
	finite := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		if len(s.Mean) != len(xs) || len(s.CI95) != len(xs) {
			return nil, fmt.Errorf("series %q: %d means and %d half-widths for %d values", s.Label, len(s.Mean), len(s.CI95), len(xs))
		}
		for i, m := range s.Mean {
			if math.IsNaN(m) || math.IsInf(m, 0) {
				continue
			}
			finite++
			ci := ciOrZero(s.CI95[i])
			lo, hi = math.Min(lo, m-ci), math.Max(hi, m+ci)
		}
	}
	if finite == 0 {
		return nil, fmt.Errorf("%w: no finite means", ErrNoData)
	}

	ax := sweepAxisFor(xs)
	if ax.unit != "" {
		xLabel += " (" + ax.unit + ")"
	}
	p := newPlot(title, xLabel, yLabel)
	for si, s := range series {
		c := palette[si%len(palette)]
		fill := color.NRGBA{R: c.R, G: c.G, B: c.B, A: 48}
		var legendLine *plotter.Line
		for _, seg := range segments(s.Mean) {
			var mid, up, down plotter.XYs
			for i := seg[0]; i < seg[1]; i++ {
				ci := ciOrZero(s.CI95[i])
				mid = append(mid, plotter.XY{X: ax.pos[i], Y: s.Mean[i]})
				up = append(up, plotter.XY{X: ax.pos[i], Y: s.Mean[i] + ci})
				down = append(down, plotter.XY{X: ax.pos[i], Y: s.Mean[i] - ci})
			}
			if len(mid) > 1 {
				ring := append(plotter.XYs{}, up...)
				for i := len(down) - 1; i >= 0; i-- {
					ring = append(ring, down[i])
				}
				band, err := plotter.NewPolygon(ring)
				if err != nil {
					return nil, err
				}
				band.Color = fill
				band.LineStyle.Width = 0
				p.Add(band)
			} else if up[0].Y > down[0].Y {
				bar := &plotter.Line{XYs: plotter.XYs{down[0], up[0]}}
				bar.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(1.5)}
				p.Add(bar)
			}
			l := &plotter.Line{XYs: mid}
			l.LineStyle = draw.LineStyle{Color: c, Width: vg.Points(2), Dashes: dashes[si%len(dashes)]}
			dots, err := plotter.NewScatter(mid)
			if err != nil {
				return nil, err
			}
			dots.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
			p.Add(l, dots)
			if legendLine == nil {
				legendLine = l
			}
		}
		if legendLine == nil {
			continue
		}
		if len(series) > 1 {
			p.Legend.Add(s.Label, legendLine)
		} else {
			p.Legend.Add("mean", legendLine)
			band, _ := plotter.NewPolygon(plotter.XYs{{}, {X: 1}, {Y: 1}})
			band.Color = fill
			band.LineStyle.Width = 0
			p.Legend.Add("95% CI", band)
		}
	}

	// Y: the data with a margin, not below zero for non-negative metrics.
	pad := 0.08 * (hi - lo)
	if hi-lo <= 1e-9*math.Max(math.Abs(hi), math.Abs(lo)) {
		// Equal values (a half-width of rounding error at most).
		pad = 0.05 * math.Max(math.Abs(hi), 1)
	}
	p.Y.Min, p.Y.Max = lo-pad, hi+pad
	if lo >= 0 && p.Y.Min < 0 {
		p.Y.Min = 0
	}
	p.Y.Tick.Marker = niceTicks{N: 7}
	ax.apply(p)
	// The legend goes where the right end of the lines is not.
	p.Legend.Top = !rightEndHigh(series, p.Y.Min, p.Y.Max)
	if p.Legend.Top {
		p.Legend.YOffs = -vg.Points(6)
	}
	return &Chart{p}, nil
}

// ciOrZero is a half-width to draw: NaN or negative counts as none.
func ciOrZero(ci float64) float64 {
	if math.IsNaN(ci) || math.IsInf(ci, 0) || ci < 0 {
		return 0
	}
	return ci
}

// segments returns the runs [start, end) of finite values in ms.
func segments(ms []float64) [][2]int {
	var out [][2]int
	start := -1
	for i := 0; i <= len(ms); i++ {
		ok := i < len(ms) && !math.IsNaN(ms[i]) && !math.IsInf(ms[i], 0)
		switch {
		case ok && start < 0:
			start = i
		case !ok && start >= 0:
			out = append(out, [2]int{start, i})
			start = -1
		}
	}
	return out
}

// rightEndHigh reports whether the series' last finite points sit mostly
// in the upper half of [ymin, ymax].
func rightEndHigh(series []SweepSeries, ymin, ymax float64) bool {
	var sum float64
	n := 0
	for _, s := range series {
		for i := len(s.Mean) - 1; i >= 0; i-- {
			if m := s.Mean[i]; !math.IsNaN(m) && !math.IsInf(m, 0) {
				sum += (m - ymin) / (ymax - ymin)
				n++
				break
			}
		}
	}
	return n > 0 && sum/float64(n) > 0.5
}

// sweepAxis places parameter values on the x axis.
type sweepAxis struct {
	pos     []float64
	labels  []string
	unit    string
	numeric bool
	log     bool
}

// numberWithUnit is a number followed by an optional unit: 4, 2.5, 10%,
// 250ms, 1e3, 10/s.
var numberWithUnit = regexp.MustCompile(`^([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ%/]*)$`)

// maxCategoryLabel bounds a categorical tick label, in characters.
const maxCategoryLabel = 24

func sweepAxisFor(xs []string) sweepAxis {
	ax := sweepAxis{pos: make([]float64, len(xs)), labels: make([]string, len(xs)), numeric: true}
	for i, x := range xs {
		m := numberWithUnit.FindStringSubmatch(x)
		if m == nil || (i > 0 && m[2] != ax.unit) {
			ax.numeric = false
			break
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil || math.IsInf(v, 0) || (i > 0 && v <= ax.pos[i-1]) {
			// Not a number, or not increasing: show the values as given.
			ax.numeric = false
			break
		}
		ax.pos[i], ax.labels[i], ax.unit = v, m[1], m[2]
	}
	if !ax.numeric {
		ax.unit = ""
		for i, x := range xs {
			ax.pos[i] = float64(i)
			r := []rune(x)
			if len(r) > maxCategoryLabel {
				x = string(r[:maxCategoryLabel-1]) + "…"
			}
			ax.labels[i] = x
		}
		return ax
	}
	first, last := ax.pos[0], ax.pos[len(ax.pos)-1]
	ax.log = first > 0 && last/first >= 50
	return ax
}

// apply sets p's x axis: range, scale and ticks.
func (ax sweepAxis) apply(p *plot.Plot) {
	n := len(ax.pos)
	first, last := ax.pos[0], ax.pos[n-1]
	switch {
	case !ax.numeric:
		p.X.Min, p.X.Max = -0.5, float64(n)-0.5
	case ax.log:
		p.X.Scale = plot.LogScale{}
		f := math.Pow(last/first, 0.06)
		p.X.Min, p.X.Max = first/f, last*f
	case n == 1:
		pad := math.Max(math.Abs(first)*0.1, 1)
		p.X.Min, p.X.Max = first-pad, first+pad
	default:
		pad := 0.06 * (last - first)
		p.X.Min, p.X.Max = first-pad, last+pad
	}
	// Ticks at the values themselves, unless two would crowd each other
	// (then a plain numeric axis).
	crowded := false
	if ax.numeric && !ax.log {
		for i := 1; i < n; i++ {
			if (ax.pos[i]-ax.pos[i-1])/(p.X.Max-p.X.Min) < 0.06 {
				crowded = true
			}
		}
	}
	if ax.numeric && (crowded || n > 16) {
		if ax.log {
			p.X.Tick.Marker = plot.LogTicks{}
		} else {
			p.X.Tick.Marker = niceTicks{N: 8}
		}
		return
	}
	ticks := make([]plot.Tick, n)
	for i := range n {
		ticks[i] = plot.Tick{Value: ax.pos[i], Label: ax.labels[i]}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
}

package reports

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot geometry: 6×4 inches (15×10 cm). The PNG is rendered at PlotDPI so it
// stays sharp on a screen; fonts are sized in points and scale with it.
const (
	// PlotWidth is the width of every plot.
	PlotWidth = 6 * vg.Inch
	// PlotHeight is the height of every plot.
	PlotHeight = 4 * vg.Inch
	// PlotDPI is the resolution of the PNG files: 900×600 pixels.
	PlotDPI = 150
)

// ErrNoData is returned by the plots for empty input: they write no file
// rather than an empty picture.
var ErrNoData = errors.New("no data to plot")

// Font sizes, in points.
const (
	titleSize  = 14
	labelSize  = 12
	tickSize   = 11
	legendSize = 11
	noteSize   = 10
)

// Colours: Okabe–Ito, distinguishable with the common colour-vision
// deficiencies, in a fixed order.
var palette = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
	{0, 0, 0, 255},       // black
}

// dashes are line patterns used alongside the colours in PlotCompare, so
// curves stay apart in greyscale too.
var dashes = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)},
}

var (
	refLine = draw.LineStyle{Color: color.Gray{Y: 90}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	textFg  = color.Gray{Y: 40}
)

// newPlot returns a plot with the house fonts, a grid and no data.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = titleSize
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = labelSize
		a.Tick.Label.Font.Size = tickSize
	}
	p.Legend.TextStyle.Font.Size = legendSize
	p.Legend.ThumbnailWidth = vg.Points(28)
	p.Legend.Padding = vg.Points(2)
	p.Legend.XOffs = -vg.Points(10)
	p.Legend.YOffs = vg.Points(10)
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 215}
	g.Horizontal.Color = color.Gray{Y: 215}
	g.Vertical.Width = vg.Points(0.5)
	g.Horizontal.Width = vg.Points(0.5)
	p.Add(g)
	return p
}

// percentAxis fixes p's y axis to 0–100 % with a tick every 10 %.
func percentAxis(p *plot.Plot) {
	p.Y.Min, p.Y.Max = 0, 100
	var ticks []plot.Tick
	for v := 0; v <= 100; v += 10 {
		ticks = append(ticks, plot.Tick{Value: float64(v), Label: strconv.Itoa(v) + "%"})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
}

// noteStyle is the colour and alignment of a note.
type noteStyle struct {
	c  color.Color
	xa draw.XAlignment
	ya draw.YAlignment
}

// newNote returns labels at the given points, in note size.
func newNote(xys plotter.XYs, texts []string, o noteStyle, offset vg.Point) (*plotter.Labels, error) {
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font = font.From(plot.DefaultFont, noteSize)
		l.TextStyle[i].Color = o.c
		l.TextStyle[i].XAlign = o.xa
		l.TextStyle[i].YAlign = o.ya
	}
	l.Offset = offset
	return l, nil
}

// niceTicks marks an axis with at most about N labelled ticks at a 1, 2 or
// 5 × 10^k step, with unlabelled minor ticks between; Integer keeps every
// tick on a whole number (for counts). gonum's default aims at three labels,
// which leaves a time axis hard to read off.
type niceTicks struct {
	N       int
	Integer bool
}

// Ticks implements plot.Ticker.
func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	// An empty range, or one too narrow for float64 to step through
	// (a mean ± a rounding error), gets one tick.
	if !(hi > lo) || hi-lo <= 1e-12*math.Max(math.Abs(lo), math.Abs(hi)) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 6, 64)}}
	}
	raw := (hi - lo) / float64(max(t.N, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step, minors := 10*mag, 5
	for _, m := range []struct {
		f float64
		n int
	}{{1, 5}, {2, 4}, {5, 5}} {
		if m.f*mag >= raw*0.999 {
			step, minors = m.f*mag, m.n
			break
		}
	}
	if t.Integer && step < 1 {
		step, minors = 1, 1
	}
	prec := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	minor := step / float64(minors)
	if t.Integer && minor < 1 {
		minor, minors = step, 1
	}
	for i := math.Ceil(lo/minor - 1e-9); i*minor <= hi+minor*1e-9; i++ {
		v := i * minor
		if math.Abs(v) < minor*1e-9 {
			v = 0
		}
		tk := plot.Tick{Value: v}
		if int64(math.Round(i))%int64(minors) == 0 {
			tk.Label = strconv.FormatFloat(v, 'f', prec, 64)
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// hLine is a horizontal reference line from x0 to x1 at y.
func hLine(x0, x1, y float64, sty draw.LineStyle) *plotter.Line {
	return &plotter.Line{XYs: plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}}, LineStyle: sty}
}

// vLine is a vertical reference line at x from y0 to y1.
func vLine(x, y0, y1 float64, sty draw.LineStyle) *plotter.Line {
	return &plotter.Line{XYs: plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}}, LineStyle: sty}
}

// savePlot renders p as base.png and base.svg, each written atomically. The
// bytes depend only on p: no timestamps, no map order.
func savePlot(p *plot.Plot, base string) error {
	png := vgimg.NewWith(vgimg.UseWH(PlotWidth, PlotHeight), vgimg.UseDPI(PlotDPI))
	p.Draw(draw.New(png))
	if err := writeTo(base+".png", vgimg.PngCanvas{Canvas: png}); err != nil {
		return err
	}
	svg := vgsvg.New(PlotWidth, PlotHeight)
	p.Draw(draw.New(svg))
	return writeTo(base+".svg", svg)
}

// writeTo renders w in memory and writes it to path atomically.
func writeTo(path string, w io.WriterTo) error {
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFileAtomic(path, b.Bytes())
}

// formatMs formats a time in milliseconds for a label: whole milliseconds
// from 10 ms up, one decimal below.
func formatMs(ms float64) string {
	if math.Abs(ms) >= 10 {
		return strconv.FormatFloat(math.Round(ms), 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
}

// pct scales shares (fractions) to percent points on the curve's grid.
func pct(ts, ys []float64) plotter.XYs {
	xys := make(plotter.XYs, len(ts))
	for i := range ts {
		xys[i] = plotter.XY{X: ts[i], Y: 100 * ys[i]}
	}
	return xys
}

// PlotPropagation draws c as base.png and base.svg: x is time since publish
// (ms), y the share of live nodes reached (0–100 %). It shows the median as a
// line over a shaded p5–p95 band, a dashed reference line at 90 % and, if
// the median gets there, a marker at its 90 % crossing labelled with the
// time ("90% at 412 ms"). An empty curve is ErrNoData.
func PlotPropagation(c Curve, title, base string) error {
	ch, err := PropagationChart(c, title)
	if err != nil {
		return fmt.Errorf("plot propagation %s: %w", base, err)
	}
	return ch.Save(base)
}

// PropagationChart draws what PlotPropagation writes, in memory.
func PropagationChart(c Curve, title string) (*Chart, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	p := newPlot(title, "time since publish (ms)", "live nodes reached (%)")
	x0, x1 := c.TimeMs[0], c.TimeMs[len(c.TimeMs)-1]
	if x1 <= x0 {
		x1 = x0 + 1 // one grid point: still show a sensible axis
	}

	// The band: up along p95, back along p5.
	n := c.Len()
	ring := make(plotter.XYs, 0, 2*n)
	ring = append(ring, pct(c.TimeMs, c.P95)...)
	for i := n - 1; i >= 0; i-- {
		ring = append(ring, plotter.XY{X: c.TimeMs[i], Y: 100 * c.P5[i]})
	}
	band, err := plotter.NewPolygon(ring)
	if err != nil {
		return nil, err
	}
	band.Color = color.NRGBA{R: 0, G: 114, B: 178, A: 64}
	band.LineStyle.Width = 0

	med := &plotter.Line{XYs: pct(c.TimeMs, c.P50)}
	med.LineStyle = draw.LineStyle{Color: palette[0], Width: vg.Points(2)}

	p.Add(band, hLine(x0, x1, 90, refLine), med)
	bandName := "p5–p95 across messages"
	switch {
	case c.Messages == 1:
		bandName = "p5–p95 (1 message)"
	case c.Messages > 1:
		bandName = "p5–p95 across " + groupThousands(c.Messages) + " messages"
	}
	p.Legend.Add("median", med)
	p.Legend.Add(bandName, band)

	if t, ok := c.TimeToReach(0.9, "p50"); ok {
		if err := markCrossing(p, t, 90, palette[1], "90% at "+formatMs(t)); err != nil {
			return nil, err
		}
	}
	percentAxis(p)
	p.X.Min = x0
	p.X.Max = x1
	p.X.Tick.Marker = niceTicks{N: 8}
	p.Legend.Top = false
	return &Chart{p}, nil
}

// markCrossing marks (x, y) with a dot and a dashed drop line to the x axis,
// labelled at its foot on the right, where a rising curve leaves room.
func markCrossing(p *plot.Plot, x, y float64, c color.Color, label string) error {
	drop := vLine(x, 0, y, draw.LineStyle{Color: c, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}})
	dot, err := plotter.NewScatter(plotter.XYs{{X: x, Y: y}})
	if err != nil {
		return err
	}
	dot.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
	note, err := newNote(plotter.XYs{{X: x, Y: 2}}, []string{label},
		noteStyle{c, draw.XLeft, draw.YBottom}, vg.Point{X: vg.Points(4)})
	if err != nil {
		return err
	}
	p.Add(drop, dot, note)
	return nil
}

// PlotCDF draws the empirical CDF of latMs (milliseconds) as base.png and
// base.svg, with dashed vertical lines at p50, p95 and p99 (nearest rank,
// as Quantile) labelled with their values. NaNs are ignored; no finite
// sample is ErrNoData. latMs is not modified.
func PlotCDF(latMs []float64, title, xLabel, base string) error {
	ch, err := CDFChart(latMs, title, xLabel)
	if err != nil {
		return fmt.Errorf("plot cdf %s: %w", base, err)
	}
	return ch.Save(base)
}

// CDFChart draws what PlotCDF writes, in memory.
func CDFChart(latMs []float64, title, xLabel string) (*Chart, error) {
	s := make([]float64, 0, len(latMs))
	for _, x := range latMs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: no finite samples", ErrNoData)
	}
	slices.Sort(s)
	p := newPlot(title, xLabel, "samples at or below (%)")

	cdf := &plotter.Line{XYs: ecdfPoints(s, 2000), StepStyle: plotter.PostStep}
	cdf.LineStyle = draw.LineStyle{Color: palette[0], Width: vg.Points(2)}
	p.Add(cdf)
	p.Legend.Add("CDF, n = "+groupThousands(len(s)), cdf)

	// Start at zero (or below, for skewed clocks) and leave a little room
	// right of the largest sample so its step is visible.
	xmin := math.Min(0, s[0])
	xmax := s[len(s)-1] + 0.03*(s[len(s)-1]-xmin)
	if xmax <= xmin {
		xmax = xmin + 1
	}
	marks := []struct {
		name string
		q    float64
	}{{"p50", 0.50}, {"p95", 0.95}, {"p99", 0.99}}
	for i, m := range marks {
		v := Quantile(s, m.q)
		c := palette[i+1]
		p.Add(vLine(v, 0, 100, draw.LineStyle{Color: c, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}))
		// Labels sit right of their line, low and staggered (above the
		// legend), where a CDF leaves the plot empty; near the right
		// edge they go left of it.
		o := noteStyle{c, draw.XLeft, draw.YBottom}
		off := vg.Point{X: vg.Points(3)}
		if (v-xmin)/(xmax-xmin) > 0.7 {
			o.xa, off.X = draw.XRight, -off.X
		}
		note, err := newNote(plotter.XYs{{X: v, Y: 12 + 9*float64(i)}}, []string{m.name + " " + formatMs(v)}, o, off)
		if err != nil {
			return nil, err
		}
		p.Add(note)
	}
	percentAxis(p)
	p.X.Min, p.X.Max = xmin, xmax
	p.X.Tick.Marker = niceTicks{N: 8}
	// Bottom right: a CDF fills the top left, and the labels sit nearer
	// the middle.
	p.Legend.Top = false
	return &Chart{p}, nil
}

// ecdfPoints returns the step points of the empirical CDF of sorted s, in
// percent, for a PostStep line: (s[0], 0), then for each distinct value the
// share at or below it. Above maxPts distinct values it keeps evenly spaced
// ranks (always the last), which is invisible at plot resolution and keeps
// the SVG small.
func ecdfPoints(s []float64, maxPts int) plotter.XYs {
	n := len(s)
	xys := plotter.XYs{{X: s[0], Y: 0}}
	stride := max(1, n/maxPts)
	for i := 0; i < n; i++ {
		last := i == n-1 || s[i+1] != s[i]
		if !last {
			continue
		}
		if (i+1)%stride != 0 && i != n-1 {
			continue
		}
		xys = append(xys, plotter.XY{X: s[i], Y: 100 * float64(i+1) / float64(n)})
	}
	return xys
}

// maxHistogramBars bounds PlotHistogram's value range.
const maxHistogramBars = 500

// PlotHistogram draws a histogram of integer-valued samples (hop counts,
// retries) as base.png and base.svg: one bar per value from the smallest to
// the largest, empty values included, each labelled with its share of the
// samples. A value that is not a finite integer is an error, as is a range
// wider than 500 values; no samples is ErrNoData.
func PlotHistogram(values []float64, title, xLabel, base string) error {
	ch, err := HistogramChart(values, title, xLabel)
	if err != nil {
		return fmt.Errorf("plot histogram %s: %w", base, err)
	}
	return ch.Save(base)
}

// HistogramChart draws what PlotHistogram writes, in memory.
func HistogramChart(values []float64, title, xLabel string) (*Chart, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("%w: no samples", ErrNoData)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) || v != math.Trunc(v) {
			return nil, fmt.Errorf("value %v is not an integer", v)
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if hi-lo+1 > maxHistogramBars {
		return nil, fmt.Errorf("values span %v..%v, more than %d bars", lo, hi, maxHistogramBars)
	}
	nb := int(hi-lo) + 1
	counts := make([]float64, nb)
	var sum float64
	for _, v := range values {
		counts[int(v-lo)]++
		sum += v
	}
	h := &plotter.Histogram{Width: 1, FillColor: palette[0]}
	h.LineStyle = draw.LineStyle{Color: color.RGBA{0, 70, 110, 255}, Width: vg.Points(0.5)}
	var tops plotter.XYs
	var shares []string
	maxCount := 0.0
	for i, c := range counts {
		x := lo + float64(i)
		if c == 0 {
			continue // an empty bin would draw a stray outline at zero
		}
		h.Bins = append(h.Bins, plotter.HistogramBin{Min: x - 0.4, Max: x + 0.4, Weight: c})
		maxCount = math.Max(maxCount, c)
		tops = append(tops, plotter.XY{X: x, Y: c})
		shares = append(shares, shareLabel(c/float64(len(values))))
	}
	p := newPlot(title, xLabel, "samples")
	p.Add(h)
	p.Legend.Add(fmt.Sprintf("n = %s, mean %.2f", groupThousands(len(values)), sum/float64(len(values))), h)
	if nb <= 30 {
		note, err := newNote(tops, shares, noteStyle{textFg, draw.XCenter, draw.YBottom}, vg.Point{Y: vg.Points(2)})
		if err != nil {
			return nil, err
		}
		p.Add(note)
		var ticks []plot.Tick
		for i := range nb {
			v := lo + float64(i)
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	} else {
		p.X.Tick.Marker = niceTicks{N: 10, Integer: true}
	}
	p.X.Min, p.X.Max = lo-0.6, hi+0.6
	p.Y.Min, p.Y.Max = 0, maxCount*1.12
	p.Y.Tick.Marker = niceTicks{N: 8, Integer: true}
	p.Legend.Top = true
	p.Legend.YOffs = -vg.Points(10)
	return &Chart{p}, nil
}

// groupThousands formats n with commas between groups of three digits.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// shareLabel formats a fraction as a percentage with sensible precision.
func shareLabel(f float64) string {
	switch {
	case f >= 0.1:
		return strconv.FormatFloat(100*f, 'f', 0, 64) + "%"
	case f >= 0.001:
		return strconv.FormatFloat(100*f, 'f', 1, 64) + "%"
	default:
		return "<0.1%"
	}
}

// PlotCompare overlays the medians of several propagation curves (say,
// simulated against measured) as base.png and base.svg, each with its own
// colour, dash pattern and legend label, which also gives its 90 % time.
// The time axis ends a fifth after the last median reaches its plateau.
// It needs one label per curve; no curves, or an empty one, is ErrNoData.
// Curves may have different grids.
func PlotCompare(curves []Curve, labels []string, title, base string) error {
	ch, err := CompareChart(curves, labels, title)
	if err != nil {
		return fmt.Errorf("plot compare %s: %w", base, err)
	}
	return ch.Save(base)
}

// CompareChart draws what PlotCompare writes, in memory.
func CompareChart(curves []Curve, labels []string, title string) (*Chart, error) {
	if len(curves) == 0 {
		return nil, fmt.Errorf("%w: no curves", ErrNoData)
	}
	if len(labels) != len(curves) {
		return nil, fmt.Errorf("%d labels for %d curves", len(labels), len(curves))
	}
	p := newPlot(title, "time since publish (ms)", "live nodes reached (%)")
	x0, x1 := math.Inf(1), math.Inf(-1)
	flat := math.Inf(-1) // when the last median reaches its plateau
	for i, c := range curves {
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("curve %q: %w", labels[i], err)
		}
		x0 = math.Min(x0, c.TimeMs[0])
		x1 = math.Max(x1, c.TimeMs[len(c.TimeMs)-1])
		last := c.P50[len(c.P50)-1]
		for j, y := range c.P50 {
			if y >= last {
				flat = math.Max(flat, c.TimeMs[j])
				break
			}
		}
	}
	// Only medians are drawn: end the axis a little after the last of
	// them goes flat rather than at the end of the longest grid (which
	// follows the slowest message).
	if end := x0 + 1.2*(flat-x0); flat > x0 && end < x1 {
		x1 = end
	}
	p.Add(hLine(x0, x1, 90, refLine))
	for i, c := range curves {
		l := &plotter.Line{XYs: pct(c.TimeMs, c.P50)}
		l.LineStyle = draw.LineStyle{Color: palette[i%len(palette)], Width: vg.Points(2), Dashes: dashes[i%len(dashes)]}
		p.Add(l)
		name := labels[i]
		if t, ok := c.TimeToReach(0.9, "p50"); ok {
			name += " (90% at " + formatMs(t) + ")"
		}
		p.Legend.Add(name, l)
	}
	percentAxis(p)
	if x1 <= x0 {
		x1 = x0 + 1
	}
	p.X.Min, p.X.Max = x0, x1
	p.X.Tick.Marker = niceTicks{N: 8}
	p.Legend.Top = false
	return &Chart{p}, nil
}

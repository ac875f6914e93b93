package reports

import (
	"bytes"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart is a plot built in memory: Save writes it as PNG and SVG files,
// SVG returns the SVG for embedding in a page. Drawing is deterministic:
// the same chart gives the same bytes.
//
// A Chart is not safe for concurrent use; distinct charts are independent.
type Chart struct {
	p *plot.Plot
}

// Save writes the chart as base.png and base.svg, each atomically.
func (c *Chart) Save(base string) error { return savePlot(c.p, base) }

// SVG renders the chart as a standalone SVG document for embedding in a
// report. Unlike the .svg file Save writes, it does not rely on the viewer
// having gonum's Liberation fonts: every text element carries the width
// gonum laid it out with (textLength, squeezing or stretching a substitute
// font to fit, so labels keep their places), and the font families name
// metric-compatible fallbacks (Times New Roman for Liberation Serif, Arial
// for Liberation Sans).
func (c *Chart) SVG() ([]byte, error) {
	rec := &textRecorder{Canvas: vgsvg.New(PlotWidth, PlotHeight)}
	c.p.Draw(draw.New(rec))
	var b bytes.Buffer
	if _, err := rec.WriteTo(&b); err != nil {
		return nil, err
	}
	return []byte(fontFallbacks.Replace(string(rec.fitText(b.Bytes())))), nil
}

// textRecorder is an SVG canvas that notes the laid-out width of every
// string it draws, in order.
type textRecorder struct {
	*vgsvg.Canvas
	widths []vg.Length
}

// FillString implements vg.Canvas.
func (t *textRecorder) FillString(f font.Face, pt vg.Point, s string) {
	t.widths = append(t.widths, f.Width(s))
	t.Canvas.FillString(f, pt, s)
}

// fitText gives the i-th <text> element of svg the i-th recorded width. If
// the counts differ (a future vgsvg writing text otherwise), svg is
// returned as it is.
func (t *textRecorder) fitText(svg []byte) []byte {
	const tag = "<text "
	if bytes.Count(svg, []byte(tag)) != len(t.widths) {
		return svg
	}
	var out bytes.Buffer
	out.Grow(len(svg) + 48*len(t.widths))
	for _, w := range t.widths {
		i := bytes.Index(svg, []byte(tag))
		out.Write(svg[:i+len(tag)])
		svg = svg[i+len(tag):]
		if w > 0 {
			out.WriteString(`textLength="` + strconv.FormatFloat(float64(w.Points()), 'f', 2, 64) + `" lengthAdjust="spacingAndGlyphs" `)
		}
	}
	out.Write(svg)
	return out.Bytes()
}

// fontFallbacks adds metric-compatible fallbacks to gonum's font families.
var fontFallbacks = strings.NewReplacer(
	"font-family:Liberation Serif;", "font-family:'Liberation Serif','Times New Roman',Times,'Nimbus Roman',serif;",
	"font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,'Nimbus Sans',sans-serif;",
	"font-family:Liberation Mono;", "font-family:'Liberation Mono','Courier New',Courier,'Nimbus Mono PS',monospace;",
)

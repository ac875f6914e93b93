package reports

import (
	"encoding/csv"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// NATMatrixCSV is the table of traversal outcomes per pair of NAT types
// and method: initiator, target, method ("any" for a working path by
// whatever method), ok, attempts.
const NATMatrixCSV = "nat_matrix.csv"

var natMatrixHeader = []string{"initiator", "target", "method", "ok", "attempts"}

// NATCell is one row of nat_matrix.csv.
type NATCell struct {
	Initiator, Target, Method string
	OK, Attempts              uint64
}

// NATCells flattens a section into nat_matrix.csv rows, pairs in
// NATTypeOrder, methods in "any" then NATMethods order.
func (s *NATSection) NATCells() []NATCell {
	var out []NATCell
	for _, k := range s.sortedPairKeys() {
		a, b := splitPair(k)
		p := s.Pairs[k]
		out = append(out, NATCell{a, b, "any", p.Connected, p.Connected + p.NoPath})
		for _, m := range NATMethods {
			if x := p.Methods[m]; x != nil {
				out = append(out, NATCell{a, b, m, x.OK, x.Attempts})
			}
		}
	}
	return out
}

func splitPair(k string) (a, b string) {
	for i := range len(k) {
		if k[i] == '>' {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

// WriteNATMatrixCSV writes nat_matrix.csv into dir.
func WriteNATMatrixCSV(dir string, cells []NATCell) error {
	rows := make([][]string, len(cells))
	for i, c := range cells {
		rows[i] = []string{c.Initiator, c.Target, c.Method,
			strconv.FormatUint(c.OK, 10), strconv.FormatUint(c.Attempts, 10)}
	}
	return WriteCSV(dir, NATMatrixCSV, natMatrixHeader, rows)
}

// ReadNATMatrixCSV reads a table WriteNATMatrixCSV wrote. Errors name the
// file and line.
func ReadNATMatrixCSV(path string) ([]NATCell, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(natMatrixHeader)
	var out []NATCell
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", path, err, ErrBadCSV)
		}
		if line == 1 {
			if !slices.Equal(rec, natMatrixHeader) {
				return nil, fmt.Errorf("%s:1: header %v, want %v: %w", path, rec, natMatrixHeader, ErrBadCSV)
			}
			continue
		}
		c := NATCell{Initiator: rec[0], Target: rec[1], Method: rec[2]}
		if !slices.Contains(NATTypeOrder, c.Initiator) || !slices.Contains(NATTypeOrder, c.Target) {
			return nil, fmt.Errorf("%s:%d: unknown NAT type in %v: %w", path, line, rec, ErrBadCSV)
		}
		if c.Method != "any" && !slices.Contains(NATMethods, c.Method) {
			return nil, fmt.Errorf("%s:%d: unknown method %q: %w", path, line, c.Method, ErrBadCSV)
		}
		ok, err1 := strconv.ParseUint(rec[3], 10, 64)
		n, err2 := strconv.ParseUint(rec[4], 10, 64)
		if err1 != nil || err2 != nil || ok > n {
			return nil, fmt.Errorf("%s:%d: ok %q and attempts %q must be whole numbers, ok <= attempts: %w", path, line, rec[3], rec[4], ErrBadCSV)
		}
		c.OK, c.Attempts = ok, n
		out = append(out, c)
	}
	return out, nil
}

// NATMatrixChart draws a heat map of the success rate per (initiator,
// target) NAT type pair for one method ("any" for a working path by any
// method): one square per pair, shaded from white (0%) to dark blue
// (100%), labelled with the rate and the counts. Pairs without attempts
// stay grey and say "–". No cell for the method is ErrNoData.
func NATMatrixChart(cells []NATCell, method, title string) (*Chart, error) {
	var types []string
	for _, t := range NATTypeOrder {
		for _, c := range cells {
			if c.Method == method && (c.Initiator == t || c.Target == t) {
				types = append(types, t)
				break
			}
		}
	}
	if len(types) == 0 {
		return nil, ErrNoData
	}
	at := func(t string) float64 { return float64(slices.Index(types, t)) }
	p := newPlot(title, "target's NAT", "initiator's NAT")
	p.HideAxes()
	p.X.Label.Text, p.Y.Label.Text = "", ""
	n := float64(len(types))
	var xys plotter.XYs
	var texts []string
	var dark []bool
	for _, a := range types {
		for _, b := range types {
			x, y := at(b), n-1-at(a)
			fill := color.Color(color.Gray{Y: 225})
			label := "–"
			for _, c := range cells {
				if c.Method != method || c.Initiator != a || c.Target != b || c.Attempts == 0 {
					continue
				}
				r := float64(c.OK) / float64(c.Attempts)
				fill = shade(r)
				label = fmt.Sprintf("%s%%\n%d/%d", pctDown(math.Floor(r*1e6)/1e6), c.OK, c.Attempts)
				dark = append(dark, r > 0.55)
			}
			if label == "–" {
				dark = append(dark, false)
			}
			sq, err := plotter.NewPolygon(plotter.XYs{{X: x, Y: y}, {X: x + 1, Y: y}, {X: x + 1, Y: y + 1}, {X: x, Y: y + 1}})
			if err != nil {
				return nil, err
			}
			sq.Color = fill
			sq.LineStyle = draw.LineStyle{Color: color.White, Width: vg.Points(1.5)}
			p.Add(sq)
			xys = append(xys, plotter.XY{X: x + 0.5, Y: y + 0.5})
			texts = append(texts, label)
		}
	}
	// White text on dark cells, dark text on light ones.
	for _, want := range []bool{false, true} {
		var sel plotter.XYs
		var st []string
		for i := range xys {
			if dark[i] == want {
				sel = append(sel, xys[i])
				st = append(st, texts[i])
			}
		}
		if len(sel) == 0 {
			continue
		}
		fg := textFg
		if want {
			fg = color.Gray{Y: 255}
		}
		l, err := newNote(sel, st, noteStyle{c: fg, xa: draw.XCenter, ya: draw.YCenter}, vg.Point{})
		if err != nil {
			return nil, err
		}
		p.Add(l)
	}
	// Type names along the axes, as labels outside the grid.
	var axXY plotter.XYs
	var axT []string
	for i, t := range types {
		axXY = append(axXY, plotter.XY{X: float64(i) + 0.5, Y: n + 0.08})
		axT = append(axT, t)
		axXY = append(axXY, plotter.XY{X: -0.08, Y: n - 1 - float64(i) + 0.5})
		axT = append(axT, t)
	}
	var colXY, rowXY plotter.XYs
	var colT, rowT []string
	for i := 0; i < len(axXY); i += 2 {
		colXY, colT = append(colXY, axXY[i]), append(colT, axT[i])
		rowXY, rowT = append(rowXY, axXY[i+1]), append(rowT, axT[i+1])
	}
	cols, err := newNote(colXY, colT, noteStyle{c: textFg, xa: draw.XCenter, ya: draw.YBottom}, vg.Point{})
	if err != nil {
		return nil, err
	}
	rows, err := newNote(rowXY, rowT, noteStyle{c: textFg, xa: draw.XRight, ya: draw.YCenter}, vg.Point{})
	if err != nil {
		return nil, err
	}
	p.Add(cols, rows)
	caption, err := newNote(plotter.XYs{{X: n / 2, Y: -0.12}}, []string{"rows: initiator's NAT · columns: target's NAT"},
		noteStyle{c: textFg, xa: draw.XCenter, ya: draw.YTop}, vg.Point{})
	if err != nil {
		return nil, err
	}
	p.Add(caption)
	p.X.Min, p.X.Max = -1.6, n+0.1
	p.Y.Min, p.Y.Max = -0.45, n+0.45
	return &Chart{p}, nil
}

// shade maps a rate in [0,1] to a sequential blue: white at 0, dark blue
// at 1 (readable in greyscale and with colour-vision deficiencies).
func shade(r float64) color.Color {
	r = math.Max(0, math.Min(1, r))
	lerp := func(a, b uint8) uint8 { return uint8(math.Round(float64(a) + (float64(b)-float64(a))*r)) }
	return color.RGBA{lerp(247, 8), lerp(251, 48), lerp(255, 107), 255}
}

// natRunCharts draws the any-path and hole-punch heat maps of a run folder
// from nat_matrix.csv; ok is false when the folder has no such table.
func natRunCharts(dir, name string) (charts []runChart, ok bool, err error) {
	path := filepath.Join(dir, NATMatrixCSV)
	if !exists(path) {
		return nil, false, nil
	}
	cells, err := ReadNATMatrixCSV(path)
	if err != nil {
		return nil, true, err
	}
	for _, m := range []struct{ method, base, title, caption string }{
		{"any", "nat_matrix", "Working path by any method: ", "Share of connects that ended with a working path (direct, UPnP, hole punch or TURN relay), per pair of NAT types; rows are the initiator's NAT, columns the target's."},
		{"punch", "nat_punch_matrix", "Hole punching: ", "Share of hole-punch attempts that opened a path, per pair of NAT types (rows: initiator, columns: target); grey where no punch was tried."},
	} {
		ch, err := NATMatrixChart(cells, m.method, m.title+name)
		if errors.Is(err, ErrNoData) {
			continue
		}
		if err != nil {
			return nil, true, err
		}
		charts = append(charts, runChart{m.base, m.caption, ch})
	}
	return charts, true, nil
}

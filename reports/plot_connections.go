package reports

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotConnections draws the connection counts over time as base.png and
// base.svg; see ConnectionsChart.
func PlotConnections(samples []ConnSample, maxConns, target int, title, base string) error {
	ch, err := ConnectionsChart(samples, maxConns, target, title)
	if err != nil {
		return fmt.Errorf("plot connections %s: %w", base, err)
	}
	return ch.Save(base)
}

// ConnectionsChart draws connected sessions per live node against time:
// the mean as a line over a shaded min–max band, with dashed reference
// lines at the cap (maxConns) and the target when they are positive. No
// sample is ErrNoData.
func ConnectionsChart(samples []ConnSample, maxConns, target int, title string) (*Chart, error) {
	if len(samples) == 0 {
		return nil, ErrNoData
	}
	p := newPlot(title, "time (s)", "connections per live node")
	n := len(samples)
	ring := make(plotter.XYs, 0, 2*n)
	mean := make(plotter.XYs, n)
	top := 0.0
	for i, s := range samples {
		ring = append(ring, plotter.XY{X: s.TimeS, Y: float64(s.Max)})
		mean[i] = plotter.XY{X: s.TimeS, Y: s.Mean}
		top = max(top, float64(s.Max))
	}
	for i := n - 1; i >= 0; i-- {
		ring = append(ring, plotter.XY{X: samples[i].TimeS, Y: float64(samples[i].Min)})
	}
	band, err := plotter.NewPolygon(ring)
	if err != nil {
		return nil, err
	}
	band.Color = color.NRGBA{R: 0, G: 114, B: 178, A: 64}
	band.LineStyle.Width = 0
	line := &plotter.Line{XYs: mean}
	line.LineStyle = draw.LineStyle{Color: palette[0], Width: vg.Points(2)}
	x0, x1 := samples[0].TimeS, samples[n-1].TimeS
	if x1 <= x0 {
		x1 = x0 + 1
	}
	p.Add(band, line)
	p.Legend.Add("mean", line)
	p.Legend.Add("min–max across nodes", band)
	for k, ref := range []struct {
		v    int
		name string
	}{{maxConns, "cap"}, {target, "target"}} {
		if ref.v <= 0 {
			continue
		}
		l := hLine(x0, x1, float64(ref.v), draw.LineStyle{Color: palette[1+k], Width: vg.Points(1),
			Dashes: []vg.Length{vg.Points(5), vg.Points(3)}})
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%d)", ref.name, ref.v), l)
		top = max(top, float64(ref.v))
	}
	p.X.Min, p.X.Max = x0, x1
	p.Y.Min, p.Y.Max = 0, top*1.08+1
	p.X.Tick.Marker = niceTicks{N: 8}
	p.Y.Tick.Marker = niceTicks{N: 6, Integer: true}
	p.Legend.Top = false
	return &Chart{p}, nil
}

// connectionsRunChart draws the connection counts of a run folder from
// connections_over_time.csv, with the cap and target from summary.json when
// it is there. ok is false when the folder has no such table.
func connectionsRunChart(dir, name string) (ch *Chart, ok bool, err error) {
	p := filepath.Join(dir, ConnectionsCSV)
	if !exists(p) {
		return nil, false, nil
	}
	samples, err := ReadConnectionsCSV(p)
	if err != nil {
		return nil, true, err
	}
	maxConns, target := 0, 0
	if s, err := ReadSummary(dir); err == nil && s.Connections != nil {
		maxConns, target = s.Connections.MaxConnections, s.Connections.Target
	}
	ch, err = ConnectionsChart(samples, maxConns, target, "Connections per node: "+name)
	return ch, true, err
}

package reports

import (
	"cmp"
	"fmt"
	"image/color"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// RelayLoadChart draws the load of every relay as a bar, relays sorted
// from the busiest: messages handed off (left axis), with a dashed line at
// the mean. The legend gives the relay count and the spread. No relay is
// ErrNoData.
func RelayLoadChart(rows []RelayLoad, title string) (*Chart, error) {
	if len(rows) == 0 {
		return nil, ErrNoData
	}
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b RelayLoad) int {
		if c := cmp.Compare(b.Messages, a.Messages); c != 0 {
			return c
		}
		return a.Node - b.Node
	})
	h := &plotter.Histogram{Width: 1, FillColor: palette[0]}
	h.LineStyle = draw.LineStyle{Color: color.RGBA{0, 70, 110, 255}, Width: vg.Points(0.5)}
	var sum, top float64
	var bytes uint64
	for k, r := range sorted {
		x := float64(k + 1)
		v := float64(r.Messages)
		sum += v
		top = max(top, v)
		bytes += r.Bytes
		if v > 0 {
			h.Bins = append(h.Bins, plotter.HistogramBin{Min: x - 0.4, Max: x + 0.4, Weight: v})
		}
	}
	n := float64(len(sorted))
	mean := sum / n
	p := newPlot(title, "relays, busiest first", "messages relayed")
	p.Add(h)
	p.Legend.Add(fmt.Sprintf("%d relays: max %s, min %s messages", len(sorted),
		groupThousands(int(sorted[0].Messages)), groupThousands(int(sorted[len(sorted)-1].Messages))), h)
	l := hLine(0.4, n+0.6, mean, draw.LineStyle{Color: palette[1], Width: vg.Points(1.5),
		Dashes: []vg.Length{vg.Points(5), vg.Points(3)}})
	p.Add(l)
	p.Legend.Add(fmt.Sprintf("mean %.1f messages, %.1f kB", mean, float64(bytes)/n/1000), l)
	p.X.Min, p.X.Max = 0.4, n+0.6
	p.Y.Min, p.Y.Max = 0, max(top, 1)*1.18
	p.X.Tick.Marker = niceTicks{N: 10, Integer: true}
	p.Y.Tick.Marker = niceTicks{N: 8, Integer: true}
	p.Legend.Top = true
	p.Legend.YOffs = -vg.Points(10)
	return &Chart{p}, nil
}

// PlotRelayLoad draws RelayLoadChart as base.png and base.svg.
func PlotRelayLoad(rows []RelayLoad, title, base string) error {
	ch, err := RelayLoadChart(rows, title)
	if err != nil {
		return fmt.Errorf("plot relay load %s: %w", base, err)
	}
	return ch.Save(base)
}

// relayRunChart draws the relay load of a run folder from relay_load.csv;
// ok is false when the folder has no such table.
func relayRunChart(dir, name string) (ch *Chart, ok bool, err error) {
	p := filepath.Join(dir, RelayLoadCSV)
	if !exists(p) {
		return nil, false, nil
	}
	rows, err := ReadRelayLoadCSV(p)
	if err != nil {
		return nil, true, err
	}
	ch, err = RelayLoadChart(rows, "Relay load: "+name)
	return ch, true, err
}

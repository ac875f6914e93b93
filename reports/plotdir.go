package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNothingToPlot is returned by PlotDir for a folder without plot data.
var ErrNothingToPlot = errors.New("nothing to plot")

// PlotDir (re)draws every plot whose data is in an output folder, from its
// CSV tables: the gossip propagation curve (gossip_propagation.csv), the
// first-delivery latency CDF (gossip_latency.csv), the DHT lookup latency
// CDF (dht_lookup_latency.csv) and hop histogram (dht_hops.csv), and the
// ping RTT percentiles (ping_rtt_cdf.csv), the connection counts
// (connections_over_time.csv) and the load per relay (relay_load.csv). It
// returns an error if the folder holds no plottable data.
func PlotDir(dir, name string) error {
	charts, err := runCharts(dir, name)
	if err != nil {
		return err
	}
	for _, c := range charts {
		if err := c.chart.Save(filepath.Join(dir, c.name)); err != nil {
			return err
		}
	}
	return nil
}

// RunFigures draws the plots PlotDir writes, in memory, as figures for a
// report, in a fixed order: gossip, DHT, ping, connections, relay. Each figure's Name is its
// file base (gossip_propagation, dht_hops, ...), so its protocol is the
// part before the first '_'. Like PlotDir it fails with ErrNothingToPlot
// when the folder holds no plottable data.
func RunFigures(dir, name string) ([]Figure, error) {
	charts, err := runCharts(dir, name)
	if err != nil {
		return nil, err
	}
	figs := make([]Figure, 0, len(charts))
	for _, c := range charts {
		f, err := NewFigure(c.name, c.caption, c.chart)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	return figs, nil
}

// runChart is one plot of a run folder.
type runChart struct {
	name    string // file base, without extension
	caption string
	chart   *Chart
}

// runCharts builds every plot whose table is in dir.
func runCharts(dir, name string) ([]runChart, error) {
	var out []runChart
	add := func(base, caption string, ch *Chart, err error) error {
		if err != nil {
			return fmt.Errorf("plot %s: %w", filepath.Join(dir, base), err)
		}
		out = append(out, runChart{base, caption, ch})
		return nil
	}
	if p := filepath.Join(dir, "gossip_propagation.csv"); exists(p) {
		c, err := ReadCurveCSV(p)
		if err != nil {
			return nil, err
		}
		ch, err := PropagationChart(c, "Gossip propagation: "+name)
		if err := add("gossip_propagation", "Share of live nodes reached against time since publish: median over messages, with the p5–p95 band.", ch, err); err != nil {
			return nil, err
		}
	}
	if p := filepath.Join(dir, "gossip_latency.csv"); exists(p) {
		lat, err := ReadLatenciesCSV(p)
		if err != nil {
			return nil, err
		}
		ch, err := CDFChart(lat, "First-delivery latency: "+name, "time since publish (ms)")
		if err := add("gossip_latency_cdf", "First-delivery latency over (message, receiving node) pairs, the publisher excluded.", ch, err); err != nil {
			return nil, err
		}
	}
	if p := filepath.Join(dir, "dht_lookup_latency.csv"); exists(p) {
		lat, err := ReadColumnCSV(p, "latency_ms")
		if err != nil {
			return nil, err
		}
		ch, err := CDFChart(lat, "DHT lookup latency: "+name, "lookup latency (ms)")
		if err := add("dht_lookup_cdf", "Latency of the successful DHT lookups.", ch, err); err != nil {
			return nil, err
		}
	}
	if p := filepath.Join(dir, "dht_hops.csv"); exists(p) {
		hops, err := ReadColumnCSV(p, "hops")
		if err != nil {
			return nil, err
		}
		ch, err := HistogramChart(hops, "DHT lookup hops: "+name, "hops")
		if err := add("dht_hops", "Hops of the successful DHT lookups.", ch, err); err != nil {
			return nil, err
		}
	}
	if p := filepath.Join(dir, "ping_rtt_cdf.csv"); exists(p) {
		pct, rtt, model, err := ReadRTTPercentilesCSV(p)
		if err != nil {
			return nil, err
		}
		ch, err := QuantileChart(pct, [][]float64{rtt, model}, []string{"measured", "latency model (propagation only)"},
			"Ping round-trip time: "+name, "round-trip time (ms)")
		if err := add("ping_rtt_cdf", "Ping round-trip time by percentile, measured and as the latency model predicts without jitter or queueing.", ch, err); err != nil {
			return nil, err
		}
	}
	if ch, ok, err := connectionsRunChart(dir, name); ok {
		if err := add("connections_over_time", "Connected sessions per live node, sampled every second: mean, with the min–max band across nodes.", ch, err); err != nil {
			return nil, err
		}
	}
	if ch, ok, err := relayRunChart(dir, name); ok {
		if err := add("relay_load", "Messages each relay handed off, relays sorted from the busiest, with the mean (relay_load.csv also has the bytes).", ch, err); err != nil {
			return nil, err
		}
	}
	if charts, ok, err := natRunCharts(dir, name); ok {
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", filepath.Join(dir, NATMatrixCSV), err)
		}
		out = append(out, charts...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w (no gossip_*.csv, dht_*.csv, ping_rtt_cdf.csv, connections_over_time.csv, relay_load.csv or nat_matrix.csv tables)", dir, ErrNothingToPlot)
	}
	return out, nil
}

// rttHeader is the header of ping_rtt_cdf.csv.
var rttHeader = []string{"percentile", "rtt_ms", "model_rtt_ms"}

// ReadRTTPercentilesCSV reads a ping RTT percentile table (ping_rtt_cdf.csv:
// percentile, rtt_ms, model_rtt_ms). Errors name the file and line.
func ReadRTTPercentilesCSV(path string) (pct, rtt, model []float64, err error) {
	err = readFloatCSV(path, rttHeader, func(_ int, v []float64) error {
		pct, rtt, model = append(pct, v[0]), append(rtt, v[1]), append(model, v[2])
		return nil
	})
	return pct, rtt, model, err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

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
// CDF (dht_lookup_latency.csv) and hop histogram (dht_hops.csv). It returns
// an error if the folder holds no plottable data.
func PlotDir(dir, name string) error {
	drawn := 0
	curvePath := filepath.Join(dir, "gossip_propagation.csv")
	if _, err := os.Stat(curvePath); err == nil {
		c, err := ReadCurveCSV(curvePath)
		if err != nil {
			return err
		}
		if err := PlotPropagation(c, "Gossip propagation: "+name, filepath.Join(dir, "gossip_propagation")); err != nil {
			return err
		}
		drawn++
	}
	latPath := filepath.Join(dir, "gossip_latency.csv")
	if _, err := os.Stat(latPath); err == nil {
		lat, err := ReadLatenciesCSV(latPath)
		if err != nil {
			return err
		}
		if err := PlotCDF(lat, "First-delivery latency: "+name, "time since publish (ms)", filepath.Join(dir, "gossip_latency_cdf")); err != nil {
			return err
		}
		drawn++
	}
	if p := filepath.Join(dir, "dht_lookup_latency.csv"); exists(p) {
		lat, err := ReadColumnCSV(p, "latency_ms")
		if err != nil {
			return err
		}
		if err := PlotCDF(lat, "DHT lookup latency: "+name, "lookup latency (ms)", filepath.Join(dir, "dht_lookup_cdf")); err != nil {
			return err
		}
		drawn++
	}
	if p := filepath.Join(dir, "dht_hops.csv"); exists(p) {
		hops, err := ReadColumnCSV(p, "hops")
		if err != nil {
			return err
		}
		if err := PlotHistogram(hops, "DHT lookup hops: "+name, "hops", filepath.Join(dir, "dht_hops")); err != nil {
			return err
		}
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("%s: %w (no gossip_*.csv or dht_*.csv tables)", dir, ErrNothingToPlot)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

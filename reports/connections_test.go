package reports

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPairsWithoutPath(t *testing.T) {
	cases := []struct {
		sizes          []int
		comps, largest int
		share          float64
	}{
		{nil, 0, 0, 0},
		{[]int{1}, 1, 1, 0},
		{[]int{10, 0, 0}, 1, 10, 0},
		// Two halves: 50 x 50 x 2 ordered pairs of 100 x 99.
		{[]int{50, 50}, 2, 50, 0.505051},
		// One isolated node among 1,000: 2 x 999 of 999,000 pairs.
		{[]int{999, 1}, 2, 999, 0.002},
		// One isolated node among 100,000 rounds up, never to 0.
		{[]int{99999, 1}, 2, 99999, 0.00002},
	}
	for _, c := range cases {
		comps, largest, share := PairsWithoutPath(c.sizes)
		if comps != c.comps || largest != c.largest || share != c.share {
			t.Errorf("%v: %d components, largest %d, share %v; want %d, %d, %v", c.sizes, comps, largest, share, c.comps, c.largest, c.share)
		}
	}
}

func TestConnectionsCSV(t *testing.T) {
	dir := t.TempDir()
	in := []ConnSample{{1, 15.5, 9, 24}, {2, 15.912, 9, 26}, {3, 0, 0, 0}}
	if err := WriteConnectionsCSV(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadConnectionsCSV(filepath.Join(dir, ConnectionsCSV))
	if err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("read back %v (%v), want %v", out, err, in)
	}
	for name, body := range map[string]string{
		"header":    "t_s,mean,lo,hi\n1,2,3,4\n",
		"fraction":  "t_s,mean,min,max\n1,2,3.5,4\n",
		"min > max": "t_s,mean,min,max\n1,2,5,4\n",
		"order":     "t_s,mean,min,max\n2,2,3,4\n1,2,3,4\n",
	} {
		p := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadConnectionsCSV(p); !errors.Is(err, ErrBadCSV) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestConnectionsLine(t *testing.T) {
	c := &ConnectionsSection{MaxConnections: 50, Target: 30, PerNode: Percentiles{N: 3, Min: 9, Mean: 15.9, Max: 26}, MaxEver: 27,
		Opens: map[string]uint64{"inbound": 10, "outbound": 10}, Closes: map[string]uint64{"pruned": 2, "reset": 1},
		Prunes: map[string]uint64{"make-room": 2}, Reconnects: 1, PairsWithoutPath: 0.0012}
	want := "conns    per node mean 15.9 min 9 max 26  max ever 27 (cap 50, target 30)  opens 20  closes 3  prunes 2  reconnects 1  reopened 0  pairs without path 0.0012"
	if got := c.Line(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestPlotConnections(t *testing.T) {
	var s []ConnSample
	for i := range 60 {
		s = append(s, ConnSample{TimeS: float64(i + 1), Mean: 30 + float64(i%7), Min: 20 + i%3, Max: 45 + i%6})
	}
	plotTwice(t, func(base string) error { return PlotConnections(s, 50, 30, "Connections per node", base) },
		"Connections per node", "time (s)", "connections per live node", "mean", "cap (50)", "target (30)")
	if err := PlotConnections(nil, 50, 30, "x", filepath.Join(t.TempDir(), "x")); !errors.Is(err, ErrNoData) {
		t.Errorf("no samples: %v", err)
	}
}

// A run folder's connections table is redrawn by PlotDir, with the cap
// and target from its summary.
func TestPlotDirConnections(t *testing.T) {
	dir := t.TempDir()
	if err := WriteConnectionsCSV(dir, []ConnSample{{1, 10, 5, 15}, {2, 12, 6, 18}}); err != nil {
		t.Fatal(err)
	}
	s := &Summary{Scenario: "x", Connections: &ConnectionsSection{MaxConnections: 40, Target: 20}}
	if err := s.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	if err := PlotDir(dir, "x"); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "connections_over_time.svg"))
	if err != nil || !strings.Contains(string(svg), "cap (40)") {
		t.Errorf("connections_over_time.svg: %v", err)
	}
}

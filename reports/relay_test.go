package reports

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRelayLoadCSV(t *testing.T) {
	dir := t.TempDir()
	in := []RelayLoad{{3, 48, 58860}, {17, 0, 0}, {999, 69, 84713}}
	if err := WriteRelayLoadCSV(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadRelayLoadCSV(filepath.Join(dir, RelayLoadCSV))
	if err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("read back %v (%v), want %v", out, err, in)
	}
	for name, body := range map[string]string{
		"header":   "node,messages,bytes\n1,2,3\n",
		"fraction": "relay,messages,bytes\n1,2.5,3\n",
		"negative": "relay,messages,bytes\n1,-2,3\n",
		"columns":  "relay,messages,bytes\n1,2\n",
	} {
		p := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRelayLoadCSV(p); !errors.Is(err, ErrBadCSV) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRelayLine(t *testing.T) {
	s := &RelaySection{Messages: 1200, Delivered: 1195, DeliveryRatio: 0.995833, ProofsVerified: 1195, Batches: 710,
		InclusionChecked: 3585, LatencyMs: Percentiles{P50: 366.5, P99: 914.4}, BytesPerRelay: Percentiles{Mean: 58778.2, Max: 84713},
		TamperedChecked: 120, TamperedRejected: 120}
	want := "relay    messages 1200  delivered 1195 (0.9958)  proofs verified 1195 failed 0  batches 710  inclusion 3585/3585  " +
		"latency ms p50 366.5 p99 914.4  bytes/relay mean 58778 max 84713  tampered rejected 120/120"
	if got := s.Line(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestPlotRelayLoad(t *testing.T) {
	var rows []RelayLoad
	for i := range 50 {
		rows = append(rows, RelayLoad{Node: 7 * i, Messages: uint64(20 + (i*37)%50), Bytes: uint64(1000 * (20 + (i*37)%50))})
	}
	plotTwice(t, func(base string) error { return PlotRelayLoad(rows, "Relay load", base) },
		"Relay load", "relays, busiest first", "messages relayed", "50 relays: max 69, min 20 messages")
	if err := PlotRelayLoad(nil, "x", filepath.Join(t.TempDir(), "x")); !errors.Is(err, ErrNoData) {
		t.Errorf("no relays: %v", err)
	}
}

// A run folder with relay_load.csv gets the relay_load plot, and its
// report a relay section with the plot and the section's tables.
func TestRunReportRelay(t *testing.T) {
	dir := t.TempDir()
	if err := WriteRelayLoadCSV(dir, []RelayLoad{{1, 10, 9000}, {2, 30, 27000}}); err != nil {
		t.Fatal(err)
	}
	s := &Summary{Scenario: "x", Network: &NetworkSection{Dropped: map[string]uint64{"filtered": 4},
		Filter: &FilterSection{PrivateNodes: 3, Behavior: "address-and-port-dependent", BindingTimeoutS: 120, Dropped: 4}},
		Relay: &RelaySection{Relays: 2, Messages: 40, Delivered: 40, DeliveryRatio: 1, ProofsVerified: 40,
			Hops: map[string]uint64{"1": 20, "2": 20}, UndeliveredBy: map[string]uint64{"no-ack": 1}}}
	if err := s.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	if err := PlotDir(dir, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "relay_load.png")); err != nil {
		t.Fatal(err)
	}
	p, err := RunReport(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	html, err := p.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<section id="relay"`, `plot-relay_load`, "messages by path length", "undelivered, by the sender",
		"private nodes&#39; inbound filters", "address-and-port-dependent"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if p.Plots() != 1 {
		t.Errorf("%d plots, want 1", p.Plots())
	}
}

package sweep

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dchat/network/reports"
)

// syntheticSweep builds the aggregation of a sweep over fanout (4 values)
// and strategy (2 values) with 3 seeds per group; every run has the key
// metrics of all protocols and a propagation curve in its folder.
func syntheticSweep(t *testing.T) *Aggregation {
	t.Helper()
	base := t.TempDir()
	var runs []RunData
	for fi, fanout := range []string{"4", "6", "8", "16"} {
		for si, strategy := range []string{"lru", "latency"} {
			for seed := uint64(1); seed <= 3; seed++ {
				params := []Param{{"gossip_fanout", fanout}, {"strategy", strategy}}
				name := RunName(params, seed)
				dir := filepath.Join(base, name)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				speed := 1 + float64(fi) + float64(si)/2 + float64(seed)/10
				c := reports.Curve{TimeMs: []float64{0, 50, 100, 150}, P5: []float64{0, 0.1 * speed / 5, 0.5, 1}, P50: []float64{0, 0.2 * speed / 5, 0.9, 1}, P95: []float64{0, 0.3 * speed / 5, 1, 1}}
				if err := reports.WriteCurveCSV(dir, "gossip_propagation.csv", c); err != nil {
					t.Fatal(err)
				}
				runs = append(runs, RunData{
					Name: name, Dir: dir, Seed: seed, Order: []string{"gossip_fanout", "strategy"},
					Params: map[string]string{"gossip_fanout": fanout, "strategy": strategy},
					Metrics: map[string]float64{
						"gossip.delivery_ratio": 1 - 0.01/speed, "gossip.first_delivery_ms.p95": 300 / speed,
						"dht.success_ratio": 0.99, "ping.rtt_ms.p50": 40 + float64(seed), "events": 1000 * speed,
					},
					Cost: map[string]float64{"wall_s": 0.5 * float64(seed), "events_per_s": 1e6, "peak_heap_bytes": 1 << 20},
				})
			}
		}
	}
	agg := Build(runs)
	sets, err := ParseSets([]string{"gossip_fanout=4,6,8,16", "strategy=lru,latency", "nodes.count=100"})
	if err != nil {
		t.Fatal(err)
	}
	agg.Manifest = &Manifest{Scenario: "gossip-100", Sets: sets, Seeds: []uint64{1, 2, 3}}
	return agg
}

func TestSweepReport(t *testing.T) {
	agg := syntheticSweep(t)
	p, err := agg.Report()
	if err != nil {
		t.Fatal(err)
	}
	var figs []string
	for _, s := range p.Sections {
		for _, f := range s.Figures {
			figs = append(figs, f.Name)
		}
	}
	want := []string{"gossip_delivery_ratio", "gossip_first_delivery_ms_p95", "dht_success_ratio", "ping_rtt_ms_p50", "propagation_1", "propagation_2"}
	if strings.Join(figs, " ") != strings.Join(want, " ") {
		t.Errorf("figures %q, want %q", figs, want)
	}
	// One line per strategy, x at the fanout values.
	f := p.Sections[1].Figures[1]
	for _, s := range []string{">strategy=lru<", ">strategy=latency<", ">16<", ">gossip_fanout<", "Gossip first delivery, p95 (ms)"} {
		if !bytes.Contains(f.SVG, []byte(s)) {
			t.Errorf("%s lacks %q", f.Name, s)
		}
	}
	out := t.TempDir()
	if err := agg.WriteReport(out); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(out, reports.ReportFile))
	for _, s := range []string{
		"dchat-sim sweep gossip-100 --seeds 1-3 --set gossip_fanout=4,6,8,16 --set strategy=lru,latency --set nodes.count=100",
		`data-plots="6"`, "24 runs in 8 groups", "<th class=\"n\">G4</th>", "<th class=\"n\">G8</th>",
		"<td>G8</td><td>16</td><td>lru</td>", `<section id="cost" class="cost">`, "fixed nodes.count",
	} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("report lacks %q", s)
		}
	}
	if !regexp.MustCompile(`<td class="n">0\.99[0-9]* ± 0\.000[0-9]+</td>`).Match(html) {
		t.Error("no mean ± CI cell for the delivery ratio")
	}
	for _, bad := range []string{"http://", "https://", `src="/`, `href="/`} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("report refers outside itself: %q", bad)
		}
	}
	if bytes.Contains(html, []byte(agg.Groups[0].Runs[0].Dir)) {
		t.Error("report names a run folder: merged shards would differ")
	}
}

func TestSweepReportNoParams(t *testing.T) {
	agg := Build([]RunData{{Name: "seed=1", Seed: 1, Params: map[string]string{}, Metrics: map[string]float64{"gossip.delivery_ratio": 1}}})
	p, err := agg.Report()
	if err != nil {
		t.Fatal(err)
	}
	if p.Plots() != 0 {
		t.Errorf("%d plots without swept parameters or curves", p.Plots())
	}
	if p, err := Build(nil).Report(); err != nil || len(p.Sections) != 1 {
		t.Errorf("empty sweep: %v %+v", err, p)
	}
}

// costRE matches a report's wall-clock section.
var costRE = regexp.MustCompile(`(?s)<section id="cost".*?</section>`)

func TestCompareSweeps(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	execute(t, sweepPlan(t), a, 0, 0)
	pb := sweepPlan(t)
	pb.Seeds = []uint64{4, 5}
	execute(t, pb, b, 0, 0)
	for _, d := range []string{a, b} {
		html, err := os.ReadFile(filepath.Join(d, reports.ReportFile))
		if err != nil || !bytes.Contains(html, []byte(`id="plot-ping_rtt_ms_p50"`)) {
			t.Fatalf("%s: sweep report: %v", d, err)
		}
	}
	c, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(out, reports.ReportFile))
	for _, s := range []string{"<caption>network.loss=0%</caption>", "<caption>network.loss=10%</caption>", "A (n=3)", "B (n=2)",
		`id="plot-ping_rtt_ms_p50"`, "--seeds 4,5", `<section id="cost" class="cost">`} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("compare report lacks %q", s)
		}
	}
	csvb, _ := os.ReadFile(filepath.Join(out, reports.CompareCSV))
	if !bytes.HasPrefix(csvb, []byte("group,metric,a_n,a_mean,a_ci95,b_n,b_mean,b_ci95,diff,rel_change\n")) ||
		!bytes.Contains(csvb, []byte("network.loss=10%,ping.answered,3,")) {
		t.Errorf("compare.csv:\n%.400s", csvb)
	}
	if _, err := Compare(a, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a sweep output folder") {
		t.Errorf("compare with a non-sweep: %v", err)
	}
}

func TestCommand(t *testing.T) {
	sets, _ := ParseSets([]string{"faults=[{at: 1s, crash: 5%}],[]", "nodes.count=30"})
	got := Command(Manifest{Scenario: "my file.yaml", Sets: sets, Seeds: []uint64{1, 2, 3, 7}})
	if want := "dchat-sim sweep 'my file.yaml' --seeds 1-3,7 --set 'faults=[{at: 1s, crash: 5%}],[]' --set nodes.count=30"; got != want {
		t.Errorf("Command:\n%s\nwant\n%s", got, want)
	}
}

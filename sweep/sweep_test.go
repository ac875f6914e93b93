package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dchat/network/reports"
	"github.com/dchat/network/scenarios"
)

func ping50(sets []string) (*scenarios.Scenario, error) {
	return scenarios.Builtin("ping-50", sets...)
}

func TestSplitValues(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"4,6,8", []string{"4", "6", "8"}},
		{"4", []string{"4"}},
		{"", []string{""}},
		{"[0, 1]", []string{"[0, 1]"}},
		{"[{at: 1s, crash: 5}, {at: 2s}], []", []string{"[{at: 1s, crash: 5}, {at: 2s}]", "[]"}},
		{"{model: constant, value: 20ms},{model: uniform}", []string{"{model: constant, value: 20ms}", "{model: uniform}"}},
		{`"a,b",c`, []string{`"a,b"`, "c"}},
	}
	for _, c := range cases {
		got, err := SplitValues(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("SplitValues(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"[1, 2", "1]", "4,,6", `"abc`} {
		if _, err := SplitValues(bad); err == nil {
			t.Errorf("SplitValues(%q): no error", bad)
		}
	}
}

func TestParseSeedsAndShard(t *testing.T) {
	for in, want := range map[string][]uint64{
		"1-5": {1, 2, 3, 4, 5}, "1,2,5": {1, 2, 5}, "3": {3}, "1-2,10": {1, 2, 10}, " 7 - 8 ": {7, 8},
	} {
		got, err := ParseSeeds(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseSeeds(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "a", "5-1", "1-", "1,,2", "1,1", "-3", "1-2-3"} {
		if _, err := ParseSeeds(bad); err == nil || !strings.Contains(err.Error(), "--seeds") {
			t.Errorf("ParseSeeds(%q): %v", bad, err)
		}
	}
	if i, n, err := ParseShard("1/4"); err != nil || i != 1 || n != 4 {
		t.Errorf("ParseShard 1/4: %d %d %v", i, n, err)
	}
	for _, bad := range []string{"4/4", "-1/2", "1", "a/b", "0/0", "1/"} {
		if _, _, err := ParseShard(bad); err == nil || !strings.Contains(err.Error(), "0 <= i < n") {
			t.Errorf("ParseShard(%q): %v", bad, err)
		}
	}
}

func TestParseSetsErrors(t *testing.T) {
	for _, bad := range []string{"novalue", "=3", "seed=1,2", "gossip_fanout=[1,2", "gossip_fanout=4,,8"} {
		if _, err := ParseSets([]string{bad}); err == nil || !strings.Contains(err.Error(), "--set") {
			t.Errorf("ParseSets(%q): %v", bad, err)
		}
	}
	if _, err := ParseSets([]string{"a=1,2", "a=3,4"}); err == nil || !strings.Contains(err.Error(), "swept twice") {
		t.Errorf("key swept twice: %v", err)
	}
}

func TestRunList(t *testing.T) {
	sets, err := ParseSets([]string{"gossip_fanout=4,6", "network.loss=1%", "nodes.count=1000,10000,20000", "faults=[{at: 1s}, {at: 2s}]"})
	if err != nil {
		t.Fatal(err)
	}
	p := &Plan{Sets: sets, Seeds: []uint64{1, 2}}
	runs := p.Runs()
	if len(runs) != 2*3*2 {
		t.Fatalf("%d runs, want 12", len(runs))
	}
	var names []string
	for i, r := range runs {
		if r.Index != i {
			t.Errorf("run %d has index %d", i, r.Index)
		}
		names = append(names, r.Name)
	}
	want := []string{
		"gossip_fanout=4,nodes.count=1000,seed=1", "gossip_fanout=4,nodes.count=1000,seed=2",
		"gossip_fanout=4,nodes.count=10000,seed=1", "gossip_fanout=4,nodes.count=10000,seed=2",
		"gossip_fanout=4,nodes.count=20000,seed=1", "gossip_fanout=4,nodes.count=20000,seed=2",
		"gossip_fanout=6,nodes.count=1000,seed=1", "gossip_fanout=6,nodes.count=1000,seed=2",
		"gossip_fanout=6,nodes.count=10000,seed=1", "gossip_fanout=6,nodes.count=10000,seed=2",
		"gossip_fanout=6,nodes.count=20000,seed=1", "gossip_fanout=6,nodes.count=20000,seed=2",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("run names:\n%s", strings.Join(names, "\n"))
	}
	wantSets := []string{"gossip_fanout=6", "network.loss=1%", "nodes.count=10000", "faults=[{at: 1s}, {at: 2s}]", "seed=2"}
	if got := runs[9].Sets(); !slices.Equal(got, wantSets) {
		t.Errorf("sets of run 9: %q", got)
	}
	// Unsafe characters are replaced, and a hash keeps names distinct.
	a := RunName([]Param{{"faults", "[{at: 1s}]"}}, 1)
	b := RunName([]Param{{"faults", "[{at: 2s}]"}}, 1)
	c := RunName([]Param{{"faults", "[{at_ 1s}]"}}, 1)
	for _, n := range []string{a, b, c} {
		if strings.ContainsAny(n, "[]{}: /") {
			t.Errorf("unsafe name %q", n)
		}
	}
	if a == b || a == c {
		t.Errorf("names collide: %q %q %q", a, b, c)
	}
	if s := Select(runs, 1, 5); len(s) != 3 || s[0].Index != 1 || s[1].Index != 6 || s[2].Index != 11 {
		t.Errorf("shard 1/5: %v", s)
	}
}

func TestStats(t *testing.T) {
	st := Compute([]float64{1, 2, 3, 4, 5})
	want := 2.776 * math.Sqrt(2.5) / math.Sqrt(5)
	if st.N != 5 || st.Mean != 3 || math.Abs(st.CI95-want) > 1e-12 {
		t.Errorf("Compute(1..5) = %+v, want mean 3 ci95 %v", st, want)
	}
	if st := Compute([]float64{7}); st.N != 1 || st.Mean != 7 || st.CI95 != 0 {
		t.Errorf("Compute(7) = %+v", st)
	}
	if got := seedRanges([]uint64{1, 2, 3, 5, 7, 8, 10, 11, 12}); got != "1-3, 5, 7, 8, 10-12" {
		t.Errorf("seedRanges: %q", got)
	}
	if TQuantile975(1) != 12.706 || TQuantile975(30) != 2.042 || TQuantile975(31) != 1.96 {
		t.Error("t table")
	}
}

func TestFlatten(t *testing.T) {
	m, c, err := Flatten([]byte(`{"scenario":"x","seed":4,"wall_s":1.5,"events_per_s":10,"peak_heap_bytes":3,"events":12,
		"gossip":{"delivery_ratio":0.5,"first_delivery_ms":{"p95":20}},"drops":{"loss":2},"trace_sha256":"ab"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"events": 12, "gossip.delivery_ratio": 0.5, "gossip.first_delivery_ms.p95": 20, "drops.loss": 2}
	if len(m) != len(want) {
		t.Errorf("metrics %v", m)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if c["wall_s"] != 1.5 || c["events_per_s"] != 10 || c["peak_heap_bytes"] != 3 || len(c) != 3 {
		t.Errorf("cost %v", c)
	}
}

// sweepPlan is ping-50 on 30 nodes, loss 0% and 10%, seeds 1-3.
func sweepPlan(t *testing.T) *Plan {
	t.Helper()
	sets, err := ParseSets([]string{"network.loss=0%,10%", "nodes.count=30"})
	if err != nil {
		t.Fatal(err)
	}
	return &Plan{Scenario: "ping-50", Sets: sets, Seeds: []uint64{1, 2, 3}}
}

func execute(t *testing.T, p *Plan, out string, shard, shards int) (*Report, int) {
	t.Helper()
	var ran atomic.Int32
	rep, err := Execute(p, Options{Load: ping50, OutDir: out, Jobs: 3, Shard: shard, Shards: shards,
		OnResult: func(r Result) {
			if r.Err != nil {
				t.Errorf("run %s: %v", r.Run.Name, r.Err)
			}
			if !r.Skipped {
				ran.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return rep, int(ran.Load())
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestSweepAggregates(t *testing.T) {
	out := t.TempDir()
	rep, ran := execute(t, sweepPlan(t), out, 0, 0)
	if rep.Total != 6 || rep.Executed != 6 || ran != 6 || len(rep.Failed) != 0 {
		t.Fatalf("report %+v, ran %d", rep, ran)
	}
	ents, _ := os.ReadDir(filepath.Join(out, "runs"))
	if len(ents) != 6 {
		t.Fatalf("%d run folders", len(ents))
	}
	// By hand: the mean of events and of ping.answered over the 10% runs.
	var events, answered []float64
	for seed := 1; seed <= 3; seed++ {
		dir := filepath.Join(out, "runs", "network.loss=10%,seed="+strconv.Itoa(seed))
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Seed   uint64  `json:"seed"`
			Events float64 `json:"events"`
			Ping   struct {
				Answered float64 `json:"answered"`
			} `json:"ping"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		if s.Seed != uint64(seed) {
			t.Errorf("%s: seed %d", dir, s.Seed)
		}
		events = append(events, s.Events)
		answered = append(answered, s.Ping.Answered)
		var pj paramsJSON
		b, _ = os.ReadFile(filepath.Join(dir, "params.json"))
		if err := json.Unmarshal(b, &pj); err != nil || pj.Seed != uint64(seed) || pj.Params["network.loss"] != "10%" {
			t.Errorf("params.json %s: %+v %v", dir, pj, err)
		}
	}
	if events[0] == events[1] && events[1] == events[2] {
		t.Fatalf("seeds gave identical events %v; the test needs variation", events)
	}
	mean := func(xs []float64) float64 { return (xs[0] + xs[1] + xs[2]) / 3 }
	rows := readCSV(t, filepath.Join(out, "aggregate.csv"))
	if !slices.Equal(rows[0], []string{"network.loss", "metric", "n", "mean", "ci95"}) {
		t.Fatalf("header %q", rows[0])
	}
	found := map[string]bool{}
	groups := map[string]bool{}
	for _, r := range rows[1:] {
		groups[r[0]] = true
		if r[2] != "3" {
			t.Errorf("row %q: n != 3", r)
		}
		if r[1] == "seed" || slices.Contains(reports.WallClockFields, r[1]) {
			t.Errorf("row %q: wall-clock or seed field aggregated", r)
		}
		if r[0] != "10%" {
			continue
		}
		var want []float64
		switch r[1] {
		case "events":
			want = events
		case "ping.answered":
			want = answered
		default:
			continue
		}
		found[r[1]] = true
		got, _ := strconv.ParseFloat(r[3], 64)
		if math.Abs(got-mean(want)) > 1e-3*math.Abs(mean(want)) {
			t.Errorf("%s mean %v, want %v", r[1], got, mean(want))
		}
		if ci := Compute(want).CI95; r[4] != strconv.FormatFloat(ci, 'g', 6, 64) || ci == 0 {
			t.Errorf("%s ci95 %s, want %v", r[1], r[4], ci)
		}
	}
	if len(found) != 2 || len(groups) != 2 || !groups["0%"] {
		t.Errorf("found %v groups %v", found, groups)
	}
	md, _ := os.ReadFile(filepath.Join(out, "aggregate.md"))
	if !bytes.Contains(md, []byte("| G2 | 10% | 3 | 1-3 |")) || !bytes.Contains(md, []byte("| events |")) {
		t.Errorf("aggregate.md:\n%s", md)
	}
	if cost := readCSV(t, filepath.Join(out, "cost.csv")); len(cost) != 7 || cost[0][2] != "wall_s" {
		t.Errorf("cost.csv %q", cost)
	}
}

func TestResume(t *testing.T) {
	out := t.TempDir()
	p := sweepPlan(t)
	execute(t, p, out, 0, 0)
	csv1, _ := os.ReadFile(filepath.Join(out, "aggregate.csv"))
	md1, _ := os.ReadFile(filepath.Join(out, "aggregate.md"))
	if err := os.RemoveAll(filepath.Join(out, "runs", "network.loss=10%,seed=2")); err != nil {
		t.Fatal(err)
	}
	// A run interrupted before its marker runs again as well.
	if err := os.Remove(filepath.Join(out, "runs", "network.loss=0%,seed=1", "done")); err != nil {
		t.Fatal(err)
	}
	rep, ran := execute(t, p, out, 0, 0)
	if ran != 2 || rep.Skipped != 4 || rep.Executed != 2 {
		t.Fatalf("resume ran %d runs (report %+v), want 2", ran, rep)
	}
	csv2, _ := os.ReadFile(filepath.Join(out, "aggregate.csv"))
	md2, _ := os.ReadFile(filepath.Join(out, "aggregate.md"))
	if !bytes.Equal(csv1, csv2) || !bytes.Equal(md1, md2) {
		t.Error("aggregate changed after resuming")
	}
	if _, ran := execute(t, p, out, 0, 0); ran != 0 {
		t.Errorf("complete sweep ran %d runs again", ran)
	}
}

func TestShardsMergeToUnsharded(t *testing.T) {
	p := sweepPlan(t)
	all, s0, s1, merged := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	execute(t, p, all, 0, 0)
	r0, n0 := execute(t, p, s0, 0, 2)
	r1, n1 := execute(t, p, s1, 1, 2)
	if n0 != 3 || n1 != 3 || r0.Selected != 3 || r1.Selected != 3 {
		t.Fatalf("shards ran %d and %d", n0, n1)
	}
	if _, err := Aggregate(merged, s0, s1); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"aggregate.csv", "aggregate.md"} {
		a, _ := os.ReadFile(filepath.Join(all, f))
		b, _ := os.ReadFile(filepath.Join(merged, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: merged shards differ from the unsharded sweep\n%s\n---\n%s", f, a, b)
		}
	}
	// The reports agree too, apart from the wall-clock cost (the shards
	// ran apart from the unsharded sweep).
	ra, _ := os.ReadFile(filepath.Join(all, "report.html"))
	rb, _ := os.ReadFile(filepath.Join(merged, "report.html"))
	if len(ra) == 0 || !bytes.Equal(costRE.ReplaceAll(ra, nil), costRE.ReplaceAll(rb, nil)) {
		t.Error("report.html: merged shards differ from the unsharded sweep outside the cost section")
	}
	// A shard alone aggregates only its runs.
	a, _ := os.ReadFile(filepath.Join(all, "aggregate.csv"))
	b, _ := os.ReadFile(filepath.Join(s0, "aggregate.csv"))
	if bytes.Equal(a, b) {
		t.Error("shard 0's aggregate equals the full one")
	}
}

func TestFailedRunIsCounted(t *testing.T) {
	out := t.TempDir()
	sets, _ := ParseSets([]string{"nodes.count=30"})
	p := &Plan{Sets: sets, Seeds: []uint64{1, 2, 3}}
	load := func(s []string) (*scenarios.Scenario, error) {
		if slices.Contains(s, "seed=2") {
			return nil, os.ErrInvalid
		}
		return ping50(s)
	}
	rep, err := Execute(p, Options{Load: load, OutDir: out, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 || rep.Executed != 3 || rep.Failed[0].Run.Seed != 2 {
		t.Fatalf("report %+v", rep)
	}
	agg, err := Aggregate(t.TempDir(), out)
	if err != nil || len(agg.Groups) != 1 || len(agg.Groups[0].Runs) != 2 {
		t.Fatalf("aggregate of the finished runs: %+v %v", agg, err)
	}
}

func TestGroupOrder(t *testing.T) {
	var runs []RunData
	for _, v := range []string{"10s", "2s", "1.5", "0.25"} {
		runs = append(runs, RunData{Name: v, Params: map[string]string{"k": v}, Order: []string{"k"}, Seed: 1, Metrics: map[string]float64{"m": 1}})
	}
	agg := Build(runs)
	var got []string
	for _, g := range agg.Groups {
		got = append(got, g.Values[0])
	}
	if want := []string{"0.25", "1.5", "2s", "10s"}; !slices.Equal(got, want) {
		t.Errorf("group order %v, want %v", got, want)
	}
}

// An output folder belongs to one sweep: another plan is refused, and
// folders of different sweeps do not merge.
func TestOneSweepPerFolder(t *testing.T) {
	out := t.TempDir()
	execute(t, sweepPlan(t), out, 0, 0)
	other := sweepPlan(t)
	other.Seeds = []uint64{4}
	if _, err := Execute(other, Options{Load: ping50, OutDir: out, Jobs: 1}); !errors.Is(err, ErrOtherSweep) {
		t.Fatalf("sweep into another sweep's folder: %v", err)
	}
	// Leftover runs of another sweep in the folder are not aggregated.
	stray := filepath.Join(out, "runs", "stray")
	if err := os.CopyFS(stray, os.DirFS(RunDir(out, sweepPlan(t).Runs()[0]))); err != nil {
		t.Fatal(err)
	}
	agg, err := Aggregate(out, out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(agg.Groups); n != 2 {
		t.Fatalf("%d groups, want 2", n)
	}
	for _, g := range agg.Groups {
		if len(g.Runs) != 3 {
			t.Fatalf("group %v has %d runs, want 3 (the stray copy must not count)", g.Values, len(g.Runs))
		}
	}
	out2 := t.TempDir()
	execute(t, other, out2, 0, 0)
	if _, err := Aggregate(t.TempDir(), out, out2); err == nil || !strings.Contains(err.Error(), "different sweeps") {
		t.Fatalf("merge of different sweeps: %v", err)
	}
	if _, err := Aggregate(t.TempDir(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a sweep output folder") {
		t.Fatalf("merge of a non-sweep folder: %v", err)
	}
}

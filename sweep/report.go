package sweep

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dchat/network/reports"
)

// KeyMetric is a summary metric the sweep report plots against the swept
// parameters.
type KeyMetric struct {
	Name  string // dotted path, as in aggregate.csv
	Title string
	Unit  string // axis unit; "" for ratios and counts
}

// KeyMetrics are the metrics plotted in a sweep report, in order; those an
// aggregation lacks are left out.
var KeyMetrics = []KeyMetric{
	{"gossip.delivery_ratio", "Gossip delivery ratio", ""},
	{"gossip.first_delivery_ms.p50", "Gossip first delivery, p50", "ms"},
	{"gossip.first_delivery_ms.p95", "Gossip first delivery, p95", "ms"},
	{"gossip.first_delivery_ms.p99", "Gossip first delivery, p99", "ms"},
	{"gossip.reach_90_ms.p50", "Time to reach 90% of live nodes, p50", "ms"},
	{"gossip.duplicates_per_node_per_msg", "Gossip duplicates per node per message", ""},
	{"dht.success_ratio", "DHT lookup success ratio", ""},
	{"dht.latency_ms.p50", "DHT lookup latency, p50", "ms"},
	{"dht.latency_ms.p95", "DHT lookup latency, p95", "ms"},
	{"ping.rtt_ms.p50", "Ping RTT, p50", "ms"},
	{"ping.rtt_ms.p95", "Ping RTT, p95", "ms"},
}

// curvesPerPlot bounds the propagation curves overlaid in one plot; more
// groups are spread over several plots.
const curvesPerPlot = 6

// groupsPerTable bounds the group columns of one aggregate table, so it
// fits a laptop screen.
const groupsPerTable = 4

// WriteReport writes out/report.html: see Report.
func (agg *Aggregation) WriteReport(out string) error {
	p, err := agg.Report()
	if err != nil {
		return err
	}
	return p.Write(filepath.Join(out, reports.ReportFile))
}

// Report builds the sweep's HTML report: the command that reproduces the
// sweep, the parameter groups, each key metric (KeyMetrics) against the
// first swept parameter with a 95 % confidence band (one line per
// combination of the other swept parameters), the mean propagation curve
// of each group overlaid, the aggregate table (mean ± 95 % CI half-width
// per group and metric) and, set apart, the wall-clock cost per group.
// Propagation curves are read from the runs' gossip_propagation.csv. The
// page depends only on the runs' deterministic results and the manifest,
// not on where the run folders are, so a merge of shards gives the same
// page as the unsharded sweep.
func (agg *Aggregation) Report() (*reports.Page, error) {
	runs := 0
	var seeds []uint64
	for _, g := range agg.Groups {
		runs += len(g.Runs)
		for _, r := range g.Runs {
			seeds = append(seeds, r.Seed)
		}
	}
	slices.Sort(seeds)
	seeds = slices.Compact(seeds)
	title := "dchat-sim sweep"
	if m := agg.Manifest; m != nil {
		title += ": " + m.Scenario
	}
	page := &reports.Page{
		Title:    title,
		Subtitle: fmt.Sprintf("%d runs in %d groups · seeds %s", runs, len(agg.Groups), seedRanges(seeds)),
	}

	sweepSec := reports.Section{ID: "sweep", Title: "Sweep",
		Notes: []string{"Runs with the same parameter values form a group; they differ only by seed. Statistics are the mean over a group's seeds and the half-width of its 95% confidence interval (Student's t)."}}
	if m := agg.Manifest; m != nil {
		sweepSec.Command = Command(*m)
		t := reports.Table{Header: []string{"", "value"}, Left: 2}
		t.Rows = append(t.Rows, []string{"scenario", m.Scenario})
		for _, s := range m.Sets {
			kind := "fixed"
			if s.Swept() {
				kind = "swept"
			}
			t.Rows = append(t.Rows, []string{kind + " " + s.Key, strings.Join(s.Values, ", ")})
		}
		t.Rows = append(t.Rows, []string{"seeds in the plan", seedRanges(m.Seeds)})
		t.Rows = append(t.Rows, []string{"runs in the plan", strconv.Itoa(len((&Plan{Scenario: m.Scenario, Sets: m.Sets, Seeds: m.Seeds}).Runs()))})
		t.Rows = append(t.Rows, []string{"runs finished", strconv.Itoa(runs)})
		sweepSec.Tables = append(sweepSec.Tables, t)
	}
	gt := reports.Table{Caption: "groups", Header: append(append([]string{"group"}, agg.Params...), "runs", "seeds"), Left: 1 + len(agg.Params)}
	for gi, g := range agg.Groups {
		gseeds := make([]uint64, len(g.Runs))
		for i, r := range g.Runs {
			gseeds[i] = r.Seed
		}
		row := append([]string{groupID(gi)}, g.Values...)
		gt.Rows = append(gt.Rows, append(row, strconv.Itoa(len(g.Runs)), seedRanges(gseeds)))
	}
	sweepSec.Tables = append(sweepSec.Tables, gt)
	page.Sections = append(page.Sections, sweepSec)

	if len(agg.Groups) == 0 {
		page.Sections[0].Notes = append(page.Sections[0].Notes, "No run has finished yet.")
		return page, nil
	}

	figs, err := agg.metricFigures()
	if err != nil {
		return nil, err
	}
	msec := reports.Section{ID: "metrics", Title: "Key metrics", Figures: figs}
	switch {
	case len(agg.Params) == 0:
		msec.Notes = []string{"No parameter was swept: the aggregate table below gives the statistics over the seeds."}
	case len(figs) == 0:
		msec.Notes = []string{"The runs have none of the key metrics (gossip delivery and latency, DHT lookups, ping RTT)."}
	default:
		msec.Notes = []string{"Mean over the seeds of each group against " + agg.Params[0] + ", with the 95% confidence band."}
	}
	if len(agg.Params) > 0 {
		page.Sections = append(page.Sections, msec)
	}

	prop, err := agg.propagationFigures()
	if err != nil {
		return nil, err
	}
	if len(prop) > 0 {
		page.Sections = append(page.Sections, reports.Section{ID: "propagation", Title: "Propagation", Figures: prop,
			Notes: []string{"Each curve is the mean, over a group's runs, of the runs' median propagation curves (gossip_propagation.csv)."}})
	}

	page.Sections = append(page.Sections, reports.Section{ID: "aggregate", Title: "Aggregate", Tables: agg.htmlTables(),
		Notes: []string{"Mean ± 95% CI half-width over the seeds of each group (groups as in the table at the top), for every number in summary.json; as aggregate.csv."}})
	var links []reports.Link
	for _, f := range []string{"aggregate.csv", "aggregate.md", "cost.csv", manifestFile} {
		links = append(links, reports.Link{Href: f, Text: f})
	}
	page.Sections = append(page.Sections, reports.Section{ID: "files", Title: "Files", Links: links})

	cols := make([]string, len(agg.Groups))
	costs := make([]map[string]float64, len(agg.Groups))
	for gi, g := range agg.Groups {
		cols[gi] = groupID(gi)
		costs[gi] = meanCost(g.Runs)
	}
	cost := reports.CostSection(cols, costs)
	cost.Notes = append(cost.Notes, "Means over each group's runs; per run in cost.csv.")
	page.Sections = append(page.Sections, cost)
	return page, nil
}

// Command is the command line that runs the sweep of m again.
func Command(m Manifest) string {
	words := []string{"dchat-sim", "sweep", m.Scenario}
	if len(m.Seeds) > 0 {
		words = append(words, "--seeds", strings.ReplaceAll(seedRanges(m.Seeds), ", ", ","))
	}
	for _, s := range m.Sets {
		words = append(words, "--set", s.Key+"="+strings.Join(s.Values, ","))
	}
	return reports.ShellCommand(words...)
}

// groupID names group gi as in aggregate.md: G1, G2, ...
func groupID(gi int) string { return "G" + strconv.Itoa(gi+1) }

// groupLabel is a group's parameter values, "k=v, k=v", or "all runs".
func (agg *Aggregation) groupLabel(g Group) string {
	if len(agg.Params) == 0 {
		return "all runs"
	}
	parts := make([]string, len(agg.Params))
	for i, k := range agg.Params {
		parts[i] = k + "=" + g.Values[i]
	}
	return strings.Join(parts, ", ")
}

// metricFigures plots each key metric the groups have against the first
// parameter, one series per combination of the other parameters.
func (agg *Aggregation) metricFigures() ([]reports.Figure, error) {
	if len(agg.Params) == 0 {
		return nil, nil
	}
	xs, combos, at := agg.grid()
	var figs []reports.Figure
	for _, km := range KeyMetrics {
		if !agg.has(km.Name) {
			continue
		}
		series := make([]reports.SweepSeries, len(combos))
		for ci, combo := range combos {
			series[ci] = agg.series(km.Name, combo, len(xs), func(xi int) (int, bool) {
				gi, ok := at[[2]int{xi, ci}]
				return gi, ok
			})
		}
		f, ok, err := metricFigure(km, xs, series, agg.Params[0], " against "+agg.Params[0]+".")
		if err != nil {
			return nil, fmt.Errorf("sweep report: %w", err)
		}
		if ok {
			figs = append(figs, f)
		}
	}
	return figs, nil
}

// series is one line of a metric-against-parameter plot: at each of n x
// positions, the mean and 95% CI of metric in the group group(x) names
// (NaN where there is none, and no CI from a single run).
func (agg *Aggregation) series(metric, label string, n int, group func(xi int) (int, bool)) reports.SweepSeries {
	s := reports.SweepSeries{Label: label, Mean: make([]float64, n), CI95: make([]float64, n)}
	for xi := range n {
		s.Mean[xi], s.CI95[xi] = math.NaN(), math.NaN()
		gi, ok := group(xi)
		if !ok {
			continue
		}
		if st, ok := agg.Groups[gi].Stats[metric]; ok {
			s.Mean[xi] = st.Mean
			if st.N > 1 {
				s.CI95[xi] = st.CI95
			}
		}
	}
	return s
}

// metricFigure draws km against the parameter param; ok is false when no
// series has a value. caption follows the metric's names.
func metricFigure(km KeyMetric, xs []string, series []reports.SweepSeries, param, caption string) (f reports.Figure, ok bool, err error) {
	yLabel := km.Title
	if km.Unit != "" {
		yLabel += " (" + km.Unit + ")"
	}
	ch, err := reports.SweepChart(xs, series, km.Title, param, yLabel)
	if errors.Is(err, reports.ErrNoData) {
		return reports.Figure{}, false, nil
	}
	if err != nil {
		return reports.Figure{}, false, fmt.Errorf("%s: %w", km.Name, err)
	}
	f, err = reports.NewFigure(strings.ReplaceAll(km.Name, ".", "_"), km.Title+" ("+km.Name+")"+caption, ch)
	return f, err == nil, err
}

// grid places the groups on a grid: the values of the first parameter (in
// group order, which sorts them), the combinations of the other
// parameters ("k=v, k=v"; one "" when there is one parameter), and the
// group at each (value, combination).
func (agg *Aggregation) grid() (xs, combos []string, at map[[2]int]int) {
	at = map[[2]int]int{}
	for gi, g := range agg.Groups {
		x := g.Values[0]
		var parts []string
		for i, k := range agg.Params[1:] {
			parts = append(parts, k+"="+g.Values[i+1])
		}
		combo := strings.Join(parts, ", ")
		xi := slices.Index(xs, x)
		if xi < 0 {
			xi = len(xs)
			xs = append(xs, x)
		}
		ci := slices.Index(combos, combo)
		if ci < 0 {
			ci = len(combos)
			combos = append(combos, combo)
		}
		at[[2]int{xi, ci}] = gi
	}
	return xs, combos, at
}

// has reports whether any group has metric m.
func (agg *Aggregation) has(m string) bool {
	for _, g := range agg.Groups {
		if _, ok := g.Stats[m]; ok {
			return true
		}
	}
	return false
}

// propagationFigures overlays the groups' mean propagation curves, at most
// curvesPerPlot to a plot.
func (agg *Aggregation) propagationFigures() ([]reports.Figure, error) {
	var curves []reports.Curve
	var labels []string
	for _, g := range agg.Groups {
		c, ok, err := GroupCurve(g)
		if err != nil {
			return nil, err
		}
		if ok {
			curves = append(curves, c)
			labels = append(labels, agg.groupLabel(g))
		}
	}
	var figs []reports.Figure
	for lo := 0; lo < len(curves); lo += curvesPerPlot {
		hi := min(lo+curvesPerPlot, len(curves))
		title := "Gossip propagation, mean over seeds"
		name := "propagation"
		if len(curves) > curvesPerPlot {
			title += fmt.Sprintf(" (%d–%d of %d)", lo+1, hi, len(curves))
			name += "_" + strconv.Itoa(lo/curvesPerPlot+1)
		}
		ch, err := reports.CompareChart(curves[lo:hi], labels[lo:hi], title)
		if err != nil {
			return nil, fmt.Errorf("sweep report: propagation: %w", err)
		}
		f, err := reports.NewFigure(name, "Median share of live nodes reached against time since publish, averaged over each group's runs.", ch)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	return figs, nil
}

// GroupCurve is the mean of the propagation curves (gossip_propagation.csv)
// of g's runs; ok is false when none of them has one.
func GroupCurve(g Group) (c reports.Curve, ok bool, err error) {
	var cs []reports.Curve
	for _, r := range g.Runs {
		p := filepath.Join(r.Dir, "gossip_propagation.csv")
		if _, err := os.Stat(p); err != nil {
			continue
		}
		rc, err := reports.ReadCurveCSV(p)
		if err != nil {
			return reports.Curve{}, false, err
		}
		cs = append(cs, rc)
	}
	if len(cs) == 0 {
		return reports.Curve{}, false, nil
	}
	c, err = reports.MeanCurve(cs)
	return c, err == nil, err
}

// htmlTables is the aggregate as tables of at most groupsPerTable group
// columns: one row per metric, cells "mean ± ci".
func (agg *Aggregation) htmlTables() []reports.Table {
	var metrics []string
	for _, g := range agg.Groups {
		for _, m := range g.Metrics {
			if !slices.Contains(metrics, m) {
				metrics = append(metrics, m)
			}
		}
	}
	slices.Sort(metrics)
	var out []reports.Table
	for lo := 0; lo < len(agg.Groups); lo += groupsPerTable {
		hi := min(lo+groupsPerTable, len(agg.Groups))
		t := reports.Table{Header: []string{"metric"}, Left: 1}
		for gi := lo; gi < hi; gi++ {
			t.Header = append(t.Header, groupID(gi))
		}
		for _, m := range metrics {
			row := []string{m}
			for gi := lo; gi < hi; gi++ {
				row = append(row, statCell(agg.Groups[gi].Stats, m))
			}
			t.Rows = append(t.Rows, row)
		}
		out = append(out, t)
	}
	return out
}

// statCell formats a statistic as "mean ± ci" ("mean" alone for one run).
func statCell(stats map[string]Stat, m string) string {
	st, ok := stats[m]
	switch {
	case !ok:
		return ""
	case st.N > 1:
		return reports.FormatNumber(st.Mean) + " ± " + reports.FormatSig(st.CI95, 3)
	}
	return reports.FormatNumber(st.Mean)
}

// meanCost averages the runs' wall-clock fields.
func meanCost(runs []RunData) map[string]float64 {
	out := map[string]float64{}
	for _, f := range reports.WallClockFields {
		var xs []float64
		for _, r := range runs {
			if v, ok := r.Cost[f]; ok {
				xs = append(xs, v)
			}
		}
		if len(xs) > 0 {
			out[f] = Compute(xs).Mean
		}
	}
	return out
}

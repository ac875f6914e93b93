package reports

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Comparison is a side-by-side report of two outputs (two runs, or two
// sweeps): the page and its metric table as CSV.
type Comparison struct {
	Page      *Page
	CSVHeader []string
	CSVRows   [][]string
}

// CompareCSV is the name of the comparison's metric table.
const CompareCSV = "compare.csv"

// Write creates out if needed and writes out/report.html and
// out/compare.csv.
func (c *Comparison) Write(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := c.Page.Write(filepath.Join(out, ReportFile)); err != nil {
		return err
	}
	return WriteCSV(out, CompareCSV, c.CSVHeader, c.CSVRows)
}

// CompareRuns compares two run output folders: their identity, every
// numeric summary value (A, B, B − A and the relative change), the lines
// in which their scenario files differ, their propagation curves and
// latency distributions overlaid, and apart, their wall-clock cost. Each
// folder needs a summary.json; errors name the missing path.
func CompareRuns(dirA, dirB string) (*Comparison, error) {
	type side struct {
		dir      string
		label    string
		s        *Summary
		metrics  map[string]float64
		cost     map[string]float64
		scenario string
	}
	var sides [2]side
	for i, dir := range []string{dirA, dirB} {
		path := filepath.Join(dir, "summary.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		s, err := ReadSummary(dir)
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		m, c, err := FlattenSummary(raw)
		if err != nil {
			return nil, fmt.Errorf("compare: %s: %w", path, err)
		}
		y, _ := os.ReadFile(filepath.Join(dir, "scenario.yaml"))
		sides[i] = side{dir: dir, s: s, metrics: m, cost: c, scenario: string(y),
			label: fmt.Sprintf("%s: %s seed %d", "AB"[i:i+1], s.Scenario, s.Seed)}
	}
	a, b := sides[0], sides[1]

	page := &Page{
		Title:    fmt.Sprintf("dchat-sim compare: %s seed %d vs %s seed %d", a.s.Scenario, a.s.Seed, b.s.Scenario, b.s.Seed),
		Subtitle: "A = " + a.dir + " · B = " + b.dir,
	}
	ident := Table{Header: []string{"", "A", "B"}, Left: 3}
	for _, r := range [][3]string{
		{"folder", a.dir, b.dir},
		{"scenario", a.s.Scenario, b.s.Scenario},
		{"seed", strconv.FormatUint(a.s.Seed, 10), strconv.FormatUint(b.s.Seed, 10)},
		{"nodes", FormatNumber(float64(a.s.Nodes)), FormatNumber(float64(b.s.Nodes))},
		{"simulated time (s)", FormatNumber(a.s.SimTimeS), FormatNumber(b.s.SimTimeS)},
		{"events", FormatNumber(float64(a.s.Events)), FormatNumber(float64(b.s.Events))},
		{"trace SHA-256", shortHash(a.s.TraceSHA256), shortHash(b.s.TraceSHA256)},
	} {
		ident.Rows = append(ident.Rows, r[:])
		ident.Marked = append(ident.Marked, r[0] != "folder" && r[1] != r[2])
	}
	var notes []string
	switch {
	case a.s.TraceSHA256 != "" && a.s.TraceSHA256 == b.s.TraceSHA256:
		notes = append(notes, "The two runs have the same trace: their results are identical.")
	case a.scenario != "" && a.scenario == b.scenario:
		notes = append(notes, "The two runs have the same effective scenario; they differ only by what the seed decides.")
	case a.s.Scenario == b.s.Scenario && a.s.Seed != b.s.Seed:
		notes = append(notes, "Same scenario, different seeds: differences include seed-to-seed variation.")
	}
	page.Sections = append(page.Sections, Section{ID: "runs", Title: "Runs", Notes: notes, Tables: []Table{ident}})

	// Plots.
	figs, err := runCompareFigures(a.dir, b.dir, a.label, b.label)
	if err != nil {
		return nil, err
	}
	if len(figs) > 0 {
		page.Sections = append(page.Sections, Section{ID: "plots", Title: "Plots", Figures: figs})
	}

	// Metrics.
	names := unionKeys(a.metrics, b.metrics)
	mt := Table{Header: []string{"metric", "A", "B", "B − A", "change"}, Left: 1}
	comp := &Comparison{CSVHeader: []string{"metric", "a", "b", "diff", "rel_change"}}
	for _, n := range names {
		va, okA := a.metrics[n]
		vb, okB := b.metrics[n]
		row := []string{n, cell(va, okA), cell(vb, okB), "", ""}
		csvRow := []string{n, csvNum(va, okA), csvNum(vb, okB), "", ""}
		if okA && okB {
			row[3], row[4] = FormatNumber(vb-va), FormatChange(va, vb)
			csvRow[3], csvRow[4] = csvNum(vb-va, true), csvRel(va, vb)
		}
		mt.Rows = append(mt.Rows, row)
		mt.Marked = append(mt.Marked, okA != okB || va != vb)
		comp.CSVRows = append(comp.CSVRows, csvRow)
	}
	page.Sections = append(page.Sections, Section{ID: "metrics", Title: "Summary values", Tables: []Table{mt},
		Notes: []string{"Every number in summary.json by dotted path; highlighted rows differ. The change is (B − A) / |A|."}})

	if a.scenario != "" || b.scenario != "" {
		d := LineDiff(a.scenario, b.scenario)
		sec := Section{ID: "scenario", Title: "Scenario differences"}
		if d == "" {
			sec.Notes = []string{"The effective scenarios (scenario.yaml) are identical."}
		} else {
			sec.Notes = []string{"Lines of scenario.yaml only in A (-) or only in B (+)."}
			sec.Pre = d
		}
		page.Sections = append(page.Sections, sec)
	}
	page.Sections = append(page.Sections, CostSection([]string{"A", "B"}, []map[string]float64{a.cost, b.cost}))
	comp.Page = page
	return comp, nil
}

// runCompareFigures overlays the two runs' plots: propagation curves,
// first-delivery latency CDFs, DHT lookup latency CDFs and ping RTTs, each
// where at least one of the runs has the table.
func runCompareFigures(dirA, dirB, labelA, labelB string) ([]Figure, error) {
	dirs, labels := []string{dirA, dirB}, []string{labelA, labelB}
	var figs []Figure
	add := func(name, caption string, ch *Chart, err error) error {
		if errors.Is(err, ErrNoData) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("compare: plot %s: %w", name, err)
		}
		f, err := NewFigure(name, caption, ch)
		if err != nil {
			return err
		}
		figs = append(figs, f)
		return nil
	}

	var curves []Curve
	var curveLabels []string
	for i, d := range dirs {
		p := filepath.Join(d, "gossip_propagation.csv")
		if !exists(p) {
			continue
		}
		c, err := ReadCurveCSV(p)
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		curves, curveLabels = append(curves, c), append(curveLabels, labels[i])
	}
	if len(curves) > 0 {
		ch, err := CompareChart(curves, curveLabels, "Gossip propagation (median over messages)")
		if err := add("gossip_propagation", "Median share of live nodes reached against time since publish.", ch, err); err != nil {
			return nil, err
		}
	}
	for _, c := range []struct{ file, column, name, title, xLabel, caption string }{
		{"gossip_latency.csv", "latency_ms", "gossip_latency_cdf", "First-delivery latency", "time since publish (ms)", "First-delivery latency over (message, receiving node) pairs."},
		{"dht_lookup_latency.csv", "latency_ms", "dht_lookup_cdf", "DHT lookup latency", "lookup latency (ms)", "Latency of the successful DHT lookups."},
	} {
		samples := make([][]float64, 2)
		found := false
		for i, d := range dirs {
			p := filepath.Join(d, c.file)
			if !exists(p) {
				continue
			}
			xs, err := ReadColumnCSV(p, c.column)
			if err != nil {
				return nil, fmt.Errorf("compare: %w", err)
			}
			samples[i], found = xs, true
		}
		if !found {
			continue
		}
		ch, err := CDFCompareChart(samples, labels, c.title, c.xLabel)
		if err := add(c.name, c.caption, ch, err); err != nil {
			return nil, err
		}
	}
	var pct []float64
	rtts := make([][]float64, 0, 2)
	var rttLabels []string
	for i, d := range dirs {
		p := filepath.Join(d, "ping_rtt_cdf.csv")
		if !exists(p) {
			continue
		}
		q, rtt, _, err := ReadRTTPercentilesCSV(p)
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		if pct != nil && !slices.Equal(pct, q) {
			continue // another percentile grid: not comparable point by point
		}
		pct, rtts, rttLabels = q, append(rtts, rtt), append(rttLabels, labels[i])
	}
	if len(rtts) > 0 {
		ch, err := QuantileChart(pct, rtts, rttLabels, "Ping round-trip time", "round-trip time (ms)")
		if err := add("ping_rtt_cdf", "Measured ping round-trip time by percentile.", ch, err); err != nil {
			return nil, err
		}
	}
	return figs, nil
}

// LineDiff returns the lines that differ between a and b, as a minimal
// line diff: "- " before lines only in a, "+ " before lines only in b,
// "  " before one line of context around each change, "…" between
// changes far apart. Identical texts give "".
func LineDiff(a, b string) string {
	if a == b {
		return ""
	}
	la, lb := splitLines(a), splitLines(b)
	// Longest common subsequence, by dynamic programming (scenario files
	// are short).
	n, m := len(la), len(lb)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if la[i] == lb[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		text string
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && la[i] == lb[j]:
			ops = append(ops, op{' ', la[i]})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', la[i]})
			i++
		default:
			ops = append(ops, op{'+', lb[j]})
			j++
		}
	}
	keep := make([]bool, len(ops))
	for k, o := range ops {
		if o.kind != ' ' {
			for c := max(0, k-1); c <= min(len(ops)-1, k+1); c++ {
				keep[c] = true
			}
		}
	}
	var out strings.Builder
	gap := false
	for k, o := range ops {
		if !keep[k] {
			gap = true
			continue
		}
		if gap && out.Len() > 0 {
			out.WriteString("…\n")
		}
		gap = false
		out.WriteByte(o.kind)
		out.WriteString(" " + o.text + "\n")
	}
	return out.String()
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// unionKeys returns the keys of a and b, sorted.
func unionKeys(a, b map[string]float64) []string {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return sortedKeys(u)
}

// cell formats a value for a table, "" when absent.
func cell(v float64, ok bool) string {
	if !ok {
		return ""
	}
	return FormatNumber(v)
}

// csvNum formats a value for a CSV, exactly; "" when absent.
func csvNum(v float64, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// csvRel is (b − a) / |a| for a CSV; "" when a is 0 (and b is not).
func csvRel(a, b float64) string {
	switch {
	case a == b:
		return "0"
	case a == 0:
		return ""
	}
	return strconv.FormatFloat((b-a)/math.Abs(a), 'g', 6, 64)
}

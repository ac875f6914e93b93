package sweep

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dchat/network/reports"
)

// IsSweepDir reports whether dir is a sweep output folder (it has
// sweep.json).
func IsSweepDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, manifestFile))
	return err == nil
}

// Compare compares the aggregates of two sweep output folders: groups with
// the same parameter values are paired (two sweeps of one group each are
// paired whatever their values), and for each pair and metric the table
// gives A's and B's mean ± 95 % CI, B − A and the relative change. When
// both sweeps sweep the same parameters, each key metric is plotted for
// both against the first parameter; each pair's mean propagation curves
// are overlaid. The wall-clock cost is set apart.
func Compare(dirA, dirB string) (*reports.Comparison, error) {
	var aggs [2]*Aggregation
	for i, d := range []string{dirA, dirB} {
		agg, _, err := Load(d)
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		if len(agg.Groups) == 0 {
			return nil, fmt.Errorf("compare: %s: no finished runs under %s", d, filepath.Join(d, runsDir))
		}
		aggs[i] = agg
	}
	a, b := aggs[0], aggs[1]
	page := &reports.Page{
		Title:    fmt.Sprintf("dchat-sim compare: sweep %s vs sweep %s", a.Manifest.Scenario, b.Manifest.Scenario),
		Subtitle: "A = " + dirA + " · B = " + dirB,
	}
	ident := reports.Table{Header: []string{"", "A", "B"}, Left: 3}
	ident.Rows = [][]string{
		{"folder", dirA, dirB},
		{"scenario", a.Manifest.Scenario, b.Manifest.Scenario},
		{"swept", sweptList(a.Manifest), sweptList(b.Manifest)},
		{"seeds", seedRanges(a.Manifest.Seeds), seedRanges(b.Manifest.Seeds)},
		{"groups", strconv.Itoa(len(a.Groups)), strconv.Itoa(len(b.Groups))},
		{"runs finished", strconv.Itoa(countRuns(a)), strconv.Itoa(countRuns(b))},
	}
	page.Sections = append(page.Sections, reports.Section{ID: "sweeps", Title: "Sweeps", Tables: []reports.Table{ident},
		Command: "# A\n" + Command(*a.Manifest) + "\n# B\n" + Command(*b.Manifest)})

	// Pair the groups.
	type pair struct {
		label string
		ga    *Group
		gb    *Group
	}
	var pairs []pair
	if len(a.Groups) == 1 && len(b.Groups) == 1 {
		la, lb := a.groupLabel(a.Groups[0]), b.groupLabel(b.Groups[0])
		label := la
		if la != lb {
			label = la + " | " + lb
		}
		pairs = append(pairs, pair{label, &a.Groups[0], &b.Groups[0]})
	} else {
		for i := range a.Groups {
			pairs = append(pairs, pair{label: a.groupLabel(a.Groups[i]), ga: &a.Groups[i]})
		}
		for i := range b.Groups {
			l := b.groupLabel(b.Groups[i])
			if k := slices.IndexFunc(pairs, func(p pair) bool { return p.label == l && p.gb == nil }); k >= 0 {
				pairs[k].gb = &b.Groups[i]
			} else {
				pairs = append(pairs, pair{label: l, gb: &b.Groups[i]})
			}
		}
	}

	comp := &reports.Comparison{CSVHeader: []string{"group", "metric", "a_n", "a_mean", "a_ci95", "b_n", "b_mean", "b_ci95", "diff", "rel_change"}}
	var tables []reports.Table
	var unpaired []string
	for _, p := range pairs {
		if p.ga == nil || p.gb == nil {
			side := "A"
			if p.ga == nil {
				side = "B"
			}
			unpaired = append(unpaired, p.label+" (only in "+side+")")
			continue
		}
		t := reports.Table{Caption: p.label, Header: []string{"metric", "A (n=" + strconv.Itoa(len(p.ga.Runs)) + ")", "B (n=" + strconv.Itoa(len(p.gb.Runs)) + ")", "B − A", "change"}, Left: 1}
		names := slices.Clone(p.ga.Metrics)
		for _, m := range p.gb.Metrics {
			if !slices.Contains(names, m) {
				names = append(names, m)
			}
		}
		slices.Sort(names)
		for _, m := range names {
			sa, okA := p.ga.Stats[m]
			sb, okB := p.gb.Stats[m]
			row := []string{m, statCell(p.ga.Stats, m), statCell(p.gb.Stats, m), "", ""}
			csvRow := []string{p.label, m, "", "", "", "", "", "", "", ""}
			if okA {
				csvRow[2], csvRow[3], csvRow[4] = strconv.Itoa(sa.N), num(sa.Mean), ciCSV(sa)
			}
			if okB {
				csvRow[5], csvRow[6], csvRow[7] = strconv.Itoa(sb.N), num(sb.Mean), ciCSV(sb)
			}
			if okA && okB {
				row[3], row[4] = reports.FormatNumber(sb.Mean-sa.Mean), reports.FormatChange(sa.Mean, sb.Mean)
				csvRow[8] = num(sb.Mean - sa.Mean)
				if sa.Mean == sb.Mean {
					csvRow[9] = "0"
				} else if sa.Mean != 0 {
					csvRow[9] = num((sb.Mean - sa.Mean) / math.Abs(sa.Mean))
				}
			}
			t.Rows = append(t.Rows, row)
			t.Marked = append(t.Marked, okA != okB || sa.Mean != sb.Mean)
			comp.CSVRows = append(comp.CSVRows, csvRow)
		}
		tables = append(tables, t)
	}
	msec := reports.Section{ID: "metrics", Title: "Aggregates", Tables: tables,
		Notes: []string{"Per pair of groups with the same parameter values: mean ± 95% CI half-width over the seeds; highlighted rows differ. The change is (B − A) / |A| of the means."}}
	if len(unpaired) > 0 {
		msec.Notes = append(msec.Notes, "Groups without a counterpart: "+strings.Join(unpaired, "; ")+".")
	}

	// Key metrics of both sweeps, when they sweep the same parameters.
	var figs []reports.Figure
	if len(a.Params) > 0 && slices.Equal(a.Params, b.Params) {
		var err error
		if figs, err = compareMetricFigures(a, b); err != nil {
			return nil, err
		}
	}
	if len(figs) > 0 {
		page.Sections = append(page.Sections, reports.Section{ID: "key-metrics", Title: "Key metrics", Figures: figs,
			Notes: []string{"Each sweep's group means against " + a.Params[0] + ", with 95% confidence bands."}})
	}
	// Propagation, pair by pair.
	var prop []reports.Figure
	for i, p := range pairs {
		if p.ga == nil || p.gb == nil {
			continue
		}
		ca, okA, err := GroupCurve(*p.ga)
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		cb, okB, err := GroupCurve(*p.gb)
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		if !okA || !okB {
			continue
		}
		ch, err := reports.CompareChart([]reports.Curve{ca, cb}, []string{"A", "B"}, "Propagation: "+p.label)
		if err != nil {
			return nil, fmt.Errorf("compare: propagation %s: %w", p.label, err)
		}
		f, err := reports.NewFigure("propagation_"+strconv.Itoa(i+1), "Mean propagation curves of "+p.label+" in A and B.", ch)
		if err != nil {
			return nil, err
		}
		prop = append(prop, f)
	}
	if len(prop) > 0 {
		page.Sections = append(page.Sections, reports.Section{ID: "propagation", Title: "Propagation", Figures: prop,
			Notes: []string{"For each pair of groups, the mean over seeds of the runs' median propagation curves."}})
	}
	page.Sections = append(page.Sections, msec)
	page.Sections = append(page.Sections, reports.CostSection([]string{"A", "B"}, []map[string]float64{meanCost(allRuns(a)), meanCost(allRuns(b))}))
	comp.Page = page
	return comp, nil
}

// compareMetricFigures plots each key metric of a and b (which sweep the
// same parameters) against the first parameter: one series per sweep and
// combination of the other parameters.
func compareMetricFigures(a, b *Aggregation) ([]reports.Figure, error) {
	xa, ca, ata := a.grid()
	xb, cb, atb := b.grid()
	// The union of the values, in the order compareValues gives.
	xs := slices.Clone(xa)
	for _, x := range xb {
		if !slices.Contains(xs, x) {
			xs = append(xs, x)
		}
	}
	slices.SortStableFunc(xs, compareValues)
	var figs []reports.Figure
	for _, km := range KeyMetrics {
		if !a.has(km.Name) && !b.has(km.Name) {
			continue
		}
		var series []reports.SweepSeries
		for side, agg := range []*Aggregation{a, b} {
			ax, combos, at := xa, ca, ata
			if side == 1 {
				ax, combos, at = xb, cb, atb
			}
			for ci, combo := range combos {
				label := "AB"[side : side+1]
				if combo != "" {
					label += ", " + combo
				}
				series = append(series, agg.series(km.Name, label, len(xs), func(xi int) (int, bool) {
					gi, ok := at[[2]int{slices.Index(ax, xs[xi]), ci}]
					return gi, ok
				}))
			}
		}
		f, ok, err := metricFigure(km, xs, series, a.Params[0], " in A and B against "+a.Params[0]+".")
		if err != nil {
			return nil, fmt.Errorf("compare: %w", err)
		}
		if ok {
			figs = append(figs, f)
		}
	}
	return figs, nil
}

func countRuns(agg *Aggregation) int {
	n := 0
	for _, g := range agg.Groups {
		n += len(g.Runs)
	}
	return n
}

func allRuns(agg *Aggregation) []RunData {
	var out []RunData
	for _, g := range agg.Groups {
		out = append(out, g.Runs...)
	}
	return out
}

// ciCSV is a statistic's half-width for a CSV, "" for a single run.
func ciCSV(st Stat) string {
	if st.N > 1 {
		return num(st.CI95)
	}
	return ""
}

// sweptList is the swept parameters of m, "k=v1,v2; k=v1,v2", or "none".
func sweptList(m *Manifest) string {
	var parts []string
	for _, s := range m.Sets {
		if s.Swept() {
			parts = append(parts, s.Key+"="+strings.Join(s.Values, ","))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

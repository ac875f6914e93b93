package sweep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dchat/network/reports"
)

// RunData is one finished run as read back from its folder.
type RunData struct {
	Name    string
	Dir     string // the run's folder
	Params  map[string]string
	Order   []string
	Seed    uint64
	Metrics map[string]float64 // flattened summary.json, wall clock left out
	Cost    map[string]float64 // the wall-clock fields
}

// ReadRuns reads the finished runs (those with the done marker) under
// dir/runs/*, sorted by folder name.
func ReadRuns(dir string) ([]RunData, error) {
	ents, err := os.ReadDir(filepath.Join(dir, runsDir))
	if err != nil {
		return nil, err
	}
	var out []RunData
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		rd := filepath.Join(dir, runsDir, e.Name())
		if !isDone(rd) {
			continue
		}
		r, err := readRun(rd)
		if err != nil {
			return nil, err
		}
		r.Name, r.Dir = e.Name(), rd
		out = append(out, r)
	}
	return out, nil
}

func readRun(dir string) (RunData, error) {
	var r RunData
	b, err := os.ReadFile(filepath.Join(dir, paramsFile))
	if err != nil {
		return r, err
	}
	var pj paramsJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, paramsFile), err)
	}
	r.Params, r.Order, r.Seed = pj.Params, pj.Order, pj.Seed
	if r.Params == nil {
		r.Params = map[string]string{}
	}
	b, err = os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return r, err
	}
	r.Metrics, r.Cost, err = Flatten(b)
	if err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, "summary.json"), err)
	}
	return r, nil
}

// Flatten turns a summary.json into numeric metrics by dotted path
// (gossip.first_delivery_ms.p95, events, ...). Strings and booleans are
// left out, and so is seed; the wall-clock fields (reports.WallClockFields)
// are returned apart, in cost.
func Flatten(summary []byte) (metrics, cost map[string]float64, err error) {
	return reports.FlattenSummary(summary)
}

// Stat is one group's statistic of one metric.
type Stat struct {
	N    int
	Mean float64
	CI95 float64 // half-width; 0 when N < 2
}

// t975 is Student's t_{0.975, df} for df = 1..30.
var t975 = [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}

// TQuantile975 is t_{0.975, df}: a table up to df 30, 1.96 beyond.
func TQuantile975(df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	if df <= len(t975) {
		return t975[df-1]
	}
	return 1.96
}

// Compute returns the mean and the 95% confidence half-width of xs
// (Student's t with the sample standard deviation). Values are summed in
// the given order.
func Compute(xs []float64) Stat {
	st := Stat{N: len(xs)}
	if len(xs) == 0 {
		return st
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	st.Mean = sum / float64(len(xs))
	if len(xs) < 2 {
		return st
	}
	var ss float64
	for _, x := range xs {
		d := x - st.Mean
		ss += d * d
	}
	sd := math.Sqrt(ss / float64(len(xs)-1))
	st.CI95 = TQuantile975(len(xs)-1) * sd / math.Sqrt(float64(len(xs)))
	return st
}

// Group is the runs with the same parameter values.
type Group struct {
	Values  []string // one per parameter name, "" where a run lacks it
	Runs    []RunData
	Metrics []string        // sorted
	Stats   map[string]Stat // by metric
}

// Aggregation is the result of Aggregate.
type Aggregation struct {
	Params []string // parameter names in flag order
	Groups []Group  // sorted by parameter values
	// Manifest is the sweep's identity when read from a sweep folder (nil
	// from Build).
	Manifest *Manifest
}

// Aggregate reads the finished runs under each of dirs/runs and writes
// aggregate.csv, aggregate.md, cost.csv and report.html into out. A run
// folder name that appears in several dirs counts once (the first).
//
// Every dir must hold the same sweep (the same OUT/sweep.json, written by
// Execute); the manifest is copied into out.
func Aggregate(out string, dirs ...string) (*Aggregation, error) {
	agg, manifest, err := Load(dirs...)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	if manifest != nil {
		if err := reports.WriteFileAtomic(filepath.Join(out, manifestFile), manifest); err != nil {
			return nil, err
		}
	}
	if err := agg.write(out); err != nil {
		return nil, err
	}
	if err := agg.WriteReport(out); err != nil {
		return nil, err
	}
	return agg, nil
}

// Load reads and aggregates the finished runs under each of dirs/runs, as
// Aggregate does, without writing anything. It also returns the bytes of
// the sweep's manifest (sweep.json).
func Load(dirs ...string) (*Aggregation, []byte, error) {
	var manifest []byte
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, manifestFile))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: not a sweep output folder: %w", d, err)
		}
		if manifest != nil && !bytes.Equal(manifest, b) {
			return nil, nil, fmt.Errorf("%s and %s come from different sweeps (%s differs)", dirs[0], d, manifestFile)
		}
		manifest = b
	}
	// Only the runs of the manifest's plan count: a folder may also hold
	// leftovers of an earlier, different sweep.
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", dirs[0], manifestFile, err)
	}
	inPlan := map[string]bool{}
	for _, r := range (&Plan{Scenario: m.Scenario, Sets: m.Sets, Seeds: m.Seeds}).Runs() {
		inPlan[r.Name] = true
	}
	var all []RunData
	seen := map[string]bool{}
	for _, d := range dirs {
		rs, err := ReadRuns(d)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rs {
			if inPlan[r.Name] && !seen[r.Name] {
				seen[r.Name] = true
				all = append(all, r)
			}
		}
	}
	agg := Build(all)
	agg.Manifest = &m
	return agg, manifest, nil
}

// Build groups runs by parameter values and computes the statistics. A
// metric missing from some runs of a group (an omitted zero counter) counts
// as 0 there.
func Build(runs []RunData) *Aggregation {
	agg := &Aggregation{}
	for _, r := range runs {
		for _, k := range r.Order {
			if !slices.Contains(agg.Params, k) {
				agg.Params = append(agg.Params, k)
			}
		}
		// Keys not in Order (hand-written params.json): sorted, at the end.
		var extra []string
		for k := range r.Params {
			if !slices.Contains(agg.Params, k) {
				extra = append(extra, k)
			}
		}
		slices.Sort(extra)
		agg.Params = append(agg.Params, extra...)
	}
	byKey := map[string]int{}
	for _, r := range runs {
		vals := make([]string, len(agg.Params))
		for i, k := range agg.Params {
			vals[i] = r.Params[k]
		}
		key := strings.Join(vals, "\x00")
		gi, ok := byKey[key]
		if !ok {
			gi = len(agg.Groups)
			byKey[key] = gi
			agg.Groups = append(agg.Groups, Group{Values: vals})
		}
		agg.Groups[gi].Runs = append(agg.Groups[gi].Runs, r)
	}
	sort.SliceStable(agg.Groups, func(i, j int) bool {
		a, b := agg.Groups[i].Values, agg.Groups[j].Values
		for k := range a {
			if c := compareValues(a[k], b[k]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	for gi := range agg.Groups {
		g := &agg.Groups[gi]
		slices.SortFunc(g.Runs, func(a, b RunData) int {
			if a.Seed != b.Seed {
				if a.Seed < b.Seed {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		names := map[string]bool{}
		for _, r := range g.Runs {
			for m := range r.Metrics {
				names[m] = true
			}
		}
		for m := range names {
			g.Metrics = append(g.Metrics, m)
		}
		slices.Sort(g.Metrics)
		g.Stats = map[string]Stat{}
		for _, m := range g.Metrics {
			xs := make([]float64, len(g.Runs))
			for i, r := range g.Runs {
				xs[i] = r.Metrics[m]
			}
			g.Stats[m] = Compute(xs)
		}
	}
	return agg
}

// compareValues orders parameter values: numerically when both are numbers,
// else naturally (digit runs by value: 2s < 10s), else bytewise.
func compareValues(a, b string) int {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	if ea == nil && eb == nil && fa != fb {
		if fa < fb {
			return -1
		}
		return 1
	}
	if c := natural(a, b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func natural(a, b string) int {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			i, j := 0, 0
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na, nb := strings.TrimLeft(a[:i], "0"), strings.TrimLeft(b[:j], "0")
			if len(na) != len(nb) {
				return len(na) - len(nb)
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[i:], b[j:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

// num formats a statistic: %.6g.
func num(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

func (agg *Aggregation) write(out string) error {
	header := append(slices.Clone(agg.Params), "metric", "n", "mean", "ci95")
	var rows [][]string
	for _, g := range agg.Groups {
		for _, m := range g.Metrics {
			st := g.Stats[m]
			ci := ""
			if st.N > 1 {
				ci = num(st.CI95)
			}
			rows = append(rows, append(slices.Clone(g.Values), m, strconv.Itoa(st.N), num(st.Mean), ci))
		}
	}
	if err := reports.WriteCSV(out, "aggregate.csv", header, rows); err != nil {
		return err
	}
	if err := reports.WriteFileAtomic(filepath.Join(out, "aggregate.md"), agg.markdown()); err != nil {
		return err
	}
	header = append(slices.Clone(agg.Params), "seed")
	header = append(header, reports.WallClockFields...)
	rows = nil
	for _, g := range agg.Groups {
		for _, r := range g.Runs {
			row := append(slices.Clone(g.Values), strconv.FormatUint(r.Seed, 10))
			for _, f := range reports.WallClockFields {
				row = append(row, strconv.FormatFloat(r.Cost[f], 'f', -1, 64))
			}
			rows = append(rows, row)
		}
	}
	return reports.WriteCSV(out, "cost.csv", header, rows)
}

// mdColumns is how many groups one Markdown table holds.
const mdColumns = 6

func (agg *Aggregation) markdown() []byte {
	var b bytes.Buffer
	runs := 0
	for _, g := range agg.Groups {
		runs += len(g.Runs)
	}
	fmt.Fprintf(&b, "# Sweep aggregate\n\n%d runs in %d groups. Cells are mean ± 95%% CI half-width (Student's t) over the n seeds of a group.\n", runs, len(agg.Groups))
	if len(agg.Groups) == 0 {
		return b.Bytes()
	}
	b.WriteString("\n| group | " + strings.Join(agg.Params, " | "))
	if len(agg.Params) > 0 {
		b.WriteString(" | ")
	}
	b.WriteString("n | seeds |\n|---|")
	b.WriteString(strings.Repeat("---|", len(agg.Params)+2) + "\n")
	for gi, g := range agg.Groups {
		seeds := make([]uint64, len(g.Runs))
		for i, r := range g.Runs {
			seeds[i] = r.Seed
		}
		fmt.Fprintf(&b, "| G%d | ", gi+1)
		for _, v := range g.Values {
			b.WriteString(mdEscape(v) + " | ")
		}
		fmt.Fprintf(&b, "%d | %s |\n", len(g.Runs), seedRanges(seeds))
	}
	var metrics []string
	for _, g := range agg.Groups {
		for _, m := range g.Metrics {
			if !slices.Contains(metrics, m) {
				metrics = append(metrics, m)
			}
		}
	}
	slices.Sort(metrics)
	for lo := 0; lo < len(agg.Groups); lo += mdColumns {
		hi := min(lo+mdColumns, len(agg.Groups))
		b.WriteString("\n| metric |")
		for gi := lo; gi < hi; gi++ {
			fmt.Fprintf(&b, " G%d |", gi+1)
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", hi-lo) + "\n")
		for _, m := range metrics {
			b.WriteString("| " + m + " |")
			for gi := lo; gi < hi; gi++ {
				st, ok := agg.Groups[gi].Stats[m]
				switch {
				case !ok:
					b.WriteString(" |")
				case st.N > 1:
					fmt.Fprintf(&b, " %s ± %s |", num(st.Mean), num(st.CI95))
				default:
					fmt.Fprintf(&b, " %s |", num(st.Mean))
				}
			}
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// seedRanges writes sorted seeds compactly: 1-5, 8, 10-11.
func seedRanges(seeds []uint64) string {
	var parts []string
	for i := 0; i < len(seeds); {
		j := i
		for j+1 < len(seeds) && seeds[j+1] == seeds[j]+1 {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, strconv.FormatUint(seeds[i], 10))
		case j == i+1:
			parts = append(parts, strconv.FormatUint(seeds[i], 10), strconv.FormatUint(seeds[j], 10))
		default:
			parts = append(parts, fmt.Sprintf("%d-%d", seeds[i], seeds[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

package sweep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/dchat/network/reports"
	"github.com/dchat/network/scenarios"
)

// Set is one --set flag: a fixed override (one value) or a swept parameter
// (several values).
type Set struct {
	Key    string
	Values []string
}

// Swept reports whether the flag has more than one value.
func (s Set) Swept() bool { return len(s.Values) > 1 }

// Plan is what a sweep runs: the scenario, the --set flags in order and
// the seeds.
type Plan struct {
	// Scenario names the scenario as given (a file path or a built-in
	// name); it identifies the sweep together with Sets and Seeds.
	Scenario string
	Sets     []Set
	Seeds    []uint64
}

// manifestFile identifies the sweep an output folder belongs to.
const manifestFile = "sweep.json"

// Manifest is the identity of a sweep, written to OUT/sweep.json: shards of
// one sweep share it, and a folder never mixes runs of two sweeps.
type Manifest struct {
	Scenario string   `json:"scenario"`
	Sets     []Set    `json:"sets"`
	Seeds    []uint64 `json:"seeds"`
}

// Manifest returns the plan's identity.
func (p *Plan) Manifest() Manifest {
	return Manifest{Scenario: p.Scenario, Sets: p.Sets, Seeds: p.Seeds}
}

// ErrOtherSweep is returned when an output folder holds runs of a sweep with
// another scenario, other --set flags or other seeds.
var ErrOtherSweep = errors.New("holds another sweep")

// claim writes the manifest into out, or checks that the one there is the
// same.
func claim(out string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	path := filepath.Join(out, manifestFile)
	old, err := os.ReadFile(path)
	switch {
	case err == nil && !bytes.Equal(old, b):
		return fmt.Errorf("%s %w (its %s differs; use another --out):\n%s", out, ErrOtherSweep, manifestFile, old)
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	return reports.WriteFileAtomic(path, b)
}

// Param is one parameter value of a run.
type Param struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Run is one entry of the run list.
type Run struct {
	Index  int
	Params []Param // the swept parameters, in flag order
	Seed   uint64
	Name   string // folder name under runs/
	sets   []string
}

// Sets returns the run's overrides for scenarios.Load / scenarios.Builtin:
// every --set flag in order with this run's value, then seed=N.
func (r Run) Sets() []string { return append([]string(nil), r.sets...) }

// SplitValues splits a --set value on commas at nesting depth 0: commas
// inside [], {}, () or quotes belong to the value.
func SplitValues(v string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	var quote rune
	for i, c := range v {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[' || c == '{' || c == '(':
			depth++
		case c == ']' || c == '}' || c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced %q in %q", c, v)
			}
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", v)
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced brackets in %q", v)
	}
	out = append(out, strings.TrimSpace(v[start:]))
	if len(out) > 1 {
		for _, s := range out {
			if s == "" {
				return nil, fmt.Errorf("empty value in list %q", v)
			}
		}
	}
	return out, nil
}

// ParseSets parses --set flags (key=v1,v2,...).
func ParseSets(flags []string) ([]Set, error) {
	var sets []Set
	seen := map[string]bool{}
	for _, f := range flags {
		key, val, ok := strings.Cut(f, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("--set %s: want key=value or key=v1,v2,..., e.g. gossip_fanout=4,6,8", f)
		}
		if key == "seed" {
			return nil, fmt.Errorf("--set %s: use --seeds to choose seeds", f)
		}
		vals, err := SplitValues(val)
		if err != nil {
			return nil, fmt.Errorf("--set %s: %w", f, err)
		}
		s := Set{Key: key, Values: vals}
		if s.Swept() {
			if seen[key] {
				return nil, fmt.Errorf("--set %s: %s is swept twice", f, key)
			}
			seen[key] = true
		}
		sets = append(sets, s)
	}
	return sets, nil
}

// ParseSeeds parses a seed list: "1-20", "1,2,5", "3", or a mix ("1-3,10").
func ParseSeeds(s string) ([]uint64, error) {
	var out []uint64
	seen := map[uint64]bool{}
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("--seeds: empty; want e.g. 1-20, 1,2,5 or 3")
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds %s: %q is not a seed or range (want e.g. 1-20, 1,2,5 or 3)", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("--seeds %s: bad range %q (want LOW-HIGH with LOW <= HIGH)", s, part)
			}
			if b-a >= 1_000_000 {
				return nil, fmt.Errorf("--seeds %s: range %q is too long", s, part)
			}
		}
		for x := a; ; x++ {
			if seen[x] {
				return nil, fmt.Errorf("--seeds %s: seed %d appears twice", s, x)
			}
			seen[x] = true
			out = append(out, x)
			if x == b {
				break
			}
		}
	}
	return out, nil
}

// ParseShard parses "i/n" with 0 <= i < n.
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %s: want i/n with 0 <= i < n, e.g. 0/4", s)
	}
	return i, n, nil
}

// Runs returns the run list: the product of the swept parameters in flag
// order (first outermost), seeds innermost.
func (p *Plan) Runs() []Run {
	var swept []int
	for i, s := range p.Sets {
		if s.Swept() {
			swept = append(swept, i)
		}
	}
	total := len(p.Seeds)
	for _, i := range swept {
		total *= len(p.Sets[i].Values)
	}
	runs := make([]Run, 0, total)
	pick := make([]int, len(p.Sets)) // value index per flag
	for idx := range total {
		rest := idx / len(p.Seeds)
		for k := len(swept) - 1; k >= 0; k-- {
			n := len(p.Sets[swept[k]].Values)
			pick[swept[k]] = rest % n
			rest /= n
		}
		r := Run{Index: idx, Seed: p.Seeds[idx%len(p.Seeds)]}
		for i, s := range p.Sets {
			v := s.Values[pick[i]]
			r.sets = append(r.sets, s.Key+"="+v)
			if s.Swept() {
				r.Params = append(r.Params, Param{s.Key, v})
			}
		}
		r.sets = append(r.sets, fmt.Sprintf("seed=%d", r.Seed))
		r.Name = RunName(r.Params, r.Seed)
		runs = append(runs, r)
	}
	return runs
}

// RunName is the folder name of a run: key=value pairs and seed=N joined by
// commas, with characters outside [A-Za-z0-9._%=+-] replaced by '_'. When
// anything was replaced, or the name is long, a short hash of the exact
// parameters is appended so names stay distinct.
func RunName(params []Param, seed uint64) string {
	var raw strings.Builder
	for _, p := range params {
		raw.WriteString(p.Key + "=" + p.Value + ",")
	}
	fmt.Fprintf(&raw, "seed=%d", seed)
	safe := []byte(raw.String())
	changed := false
	for i, c := range safe {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._%=+-,", c) >= 0
		if !ok {
			safe[i] = '_'
			changed = true
		}
	}
	name := string(safe)
	if changed || len(name) > 120 {
		sum := sha256.Sum256([]byte(raw.String()))
		if len(name) > 120 {
			name = name[:120]
		}
		name += "-" + hex.EncodeToString(sum[:4])
	}
	return name
}

// Loader builds the scenario of a run from its overrides.
type Loader func(sets []string) (*scenarios.Scenario, error)

// Options controls Execute.
type Options struct {
	Load   Loader
	OutDir string
	// Jobs is the number of runs in flight (default runtime.NumCPU()).
	Jobs int
	// Shard and Shards select the runs with Index % Shards == Shard; Shards
	// 0 means all runs.
	Shard, Shards int
	// OnResult, when set, is called after every selected run (skipped,
	// done or failed), one call at a time.
	OnResult func(Result)
}

// Result is the outcome of one run.
type Result struct {
	Run     Run
	Skipped bool // already done by an earlier sweep
	Err     error
}

// Report counts what Execute did.
type Report struct {
	Total    int // runs in the plan
	Selected int // runs of this shard
	Skipped  int
	Executed int // runs that ran (done or failed)
	Failed   []Result
}

// Select returns the runs of shard i of n (all runs when n == 0).
func Select(runs []Run, i, n int) []Run {
	if n <= 1 {
		return runs
	}
	var out []Run
	for _, r := range runs {
		if r.Index%n == i {
			out = append(out, r)
		}
	}
	return out
}

// Validate loads every run's scenario once so a bad value fails before any
// run starts.
func Validate(runs []Run, load Loader) error {
	seen := map[string]bool{}
	for _, r := range runs {
		// The seed does not change validity: check each parameter
		// combination once.
		key := strings.Join(r.sets[:len(r.sets)-1], "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		if _, err := load(r.Sets()); err != nil {
			return err
		}
	}
	return nil
}

const (
	runsDir    = "runs"
	doneFile   = "done"
	paramsFile = "params.json"
)

// RunDir is the folder of run r under out.
func RunDir(out string, r Run) string { return filepath.Join(out, runsDir, r.Name) }

// Execute runs the selected runs of the plan with opts.Jobs workers,
// skipping runs already done, then writes the aggregate over all finished
// runs in opts.OutDir. Failed runs are in the report; the error is for
// problems that stop the sweep (output folder, aggregate).
func Execute(p *Plan, opts Options) (*Report, error) {
	runs := p.Runs()
	sel := Select(runs, opts.Shard, opts.Shards)
	rep := &Report{Total: len(runs), Selected: len(sel)}
	if err := os.MkdirAll(filepath.Join(opts.OutDir, runsDir), 0o755); err != nil {
		return rep, err
	}
	if err := claim(opts.OutDir, p.Manifest()); err != nil {
		return rep, err
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	var mu sync.Mutex
	report := func(res Result) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case res.Skipped:
			rep.Skipped++
		case res.Err != nil:
			rep.Executed++
			rep.Failed = append(rep.Failed, res)
		default:
			rep.Executed++
		}
		if opts.OnResult != nil {
			opts.OnResult(res)
		}
	}
	work := make(chan Run)
	var wg sync.WaitGroup
	for range min(jobs, max(len(sel), 1)) {
		wg.Go(func() {
			for r := range work {
				dir := RunDir(opts.OutDir, r)
				if isDone(dir) {
					report(Result{Run: r, Skipped: true})
					continue
				}
				report(Result{Run: r, Err: runOne(r, dir, opts.Load)})
			}
		})
	}
	for _, r := range sel {
		work <- r
	}
	close(work)
	wg.Wait()
	if _, err := Aggregate(opts.OutDir, opts.OutDir); err != nil {
		return rep, err
	}
	return rep, nil
}

func isDone(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, doneFile))
	return err == nil
}

// paramsJSON is params.json.
type paramsJSON struct {
	Params map[string]string `json:"params"`
	// Order is the parameter names in flag order.
	Order []string `json:"order"`
	Seed  uint64   `json:"seed"`
}

// runOne runs r into dir: a fresh folder, scenarios.Run, summary.json (if
// the scenario's outputs left it out), params.json, and the done marker
// last.
func runOne(r Run, dir string, load Loader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
		if err != nil {
			err = fmt.Errorf("run %s: %w", r.Name, err)
		}
	}()
	sc, err := load(r.Sets())
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s, err := scenarios.Run(sc, scenarios.RunOptions{OutDir: dir})
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err != nil {
		if err := s.WriteFile(dir); err != nil {
			return err
		}
	}
	pj := paramsJSON{Params: map[string]string{}, Order: []string{}, Seed: r.Seed}
	for _, p := range r.Params {
		pj.Params[p.Key] = p.Value
		pj.Order = append(pj.Order, p.Key)
	}
	b, err := json.MarshalIndent(pj, "", "  ")
	if err != nil {
		return err
	}
	if err := reports.WriteFileAtomic(filepath.Join(dir, paramsFile), append(b, '\n')); err != nil {
		return err
	}
	return reports.WriteFileAtomic(filepath.Join(dir, doneFile), []byte(s.TraceSHA256+"\n"))
}

package main

import (
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/dchat/network/scenarios"
	"github.com/dchat/network/sweep"
)

// sweepRunLoad loads the scenario of each run (after all were validated
// with loadScenario); tests replace it to make runs fail.
var sweepRunLoad = loadScenario

type sweepFlags struct {
	seeds string
	sets  []string
	out   string
	jobs  int
	shard string
	quiet bool
}

func newSweepCmd() *cobra.Command {
	var f sweepFlags
	cmd := &cobra.Command{
		Use:   "sweep FILE|BUILTIN",
		Short: "Run a scenario over a grid of parameter values and seeds, and aggregate",
		Long: `Run a scenario for every combination of swept parameters and seeds.

A --set with several comma-separated values is swept (commas inside [], {}
or quotes belong to the value); with one value it is a fixed override. The
run list is the product of the swept parameters in flag order (first
outermost) with the seeds innermost. Each run writes into
OUT/runs/<key=value,...,seed=N>; runs already done are skipped, so an
interrupted sweep resumes. --shard i/n runs only the runs whose index % n
== i; combine shards with 'dchat-sim merge'.

At the end aggregate.csv, aggregate.md, cost.csv and report.html are
written into OUT over all finished runs there: per parameter group and
summary metric, the number of seeds, the mean and the 95% confidence
half-width; report.html also plots the key metrics against the swept
parameters and overlays each group's mean propagation curve.

  dchat-sim sweep gossip-1000 --seeds 1-20 --set gossip_fanout=4,6,8 --set nodes.count=1000,10000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSweep(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.seeds, "seeds", "", "seeds: 1-20, 1,2,5 or 3 (default the scenario's seed)")
	fl.StringArrayVar(&f.sets, "set", nil, "key=v1,v2,... sweeps a key, key=value fixes it (repeatable)")
	fl.StringVar(&f.out, "out", "", "output directory (default out/sweep-<scenario>)")
	fl.IntVarP(&f.jobs, "jobs", "j", runtime.NumCPU(), "runs in parallel")
	fl.StringVar(&f.shard, "shard", "", "run only shard i/n of the run list (index % n == i)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	return cmd
}

func runSweep(cmd *cobra.Command, args []string, f sweepFlags) error {
	sets, err := sweep.ParseSets(f.sets)
	if err != nil {
		return &exitError{2, err}
	}
	if f.jobs < 1 {
		return &exitError{2, fmt.Errorf("--jobs %d: want at least 1", f.jobs)}
	}
	shard, shards := 0, 0
	if f.shard != "" {
		if shard, shards, err = sweep.ParseShard(f.shard); err != nil {
			return &exitError{2, err}
		}
	}
	load := func(s []string) (*scenarios.Scenario, error) { return loadScenario(args, s) }
	// The base scenario: existence, the default seed and the default out.
	var fixed []string
	for _, s := range sets {
		fixed = append(fixed, s.Key+"="+s.Values[0])
	}
	base, err := load(fixed)
	if err != nil {
		return &exitError{2, err}
	}
	plan := &sweep.Plan{Scenario: scenarioArg(args), Sets: sets, Seeds: []uint64{base.Seed}}
	if f.seeds != "" {
		if plan.Seeds, err = sweep.ParseSeeds(f.seeds); err != nil {
			return &exitError{2, err}
		}
	}
	runs := plan.Runs()
	if err := sweep.Validate(runs, load); err != nil {
		return &exitError{2, err}
	}
	out := f.out
	if out == "" {
		out = filepath.Join("out", "sweep-"+base.Name)
	}
	selected := len(sweep.Select(runs, shard, shards))
	stderr := cmd.ErrOrStderr()
	onResult, finish := newSweepProgress(stderr, selected, f.quiet)
	rep, err := sweep.Execute(plan, sweep.Options{
		Load: func(s []string) (*scenarios.Scenario, error) { return sweepRunLoad(args, s) }, OutDir: out, Jobs: f.jobs, Shard: shard, Shards: shards, OnResult: onResult,
	})
	finish()
	if err != nil {
		return &exitError{1, err}
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "sweep: %d runs in the plan, %d in this shard: %d ran, %d already done, %d failed\n",
		rep.Total, rep.Selected, rep.Executed, rep.Skipped, len(rep.Failed))
	fmt.Fprintf(w, "output %s (aggregate.csv, aggregate.md, cost.csv, report.html)\n", out)
	if len(rep.Failed) > 0 {
		return &exitError{1, fmt.Errorf("%d of %d runs failed", len(rep.Failed), rep.Selected)}
	}
	return nil
}

// newSweepProgress reports finished runs: a bar on a terminal, a plain line
// at most every 5 seconds otherwise (and one at the end), nothing when
// quiet. Failed runs are always reported.
func newSweepProgress(w io.Writer, total int, quiet bool) (func(sweep.Result), func()) {
	start := time.Now()
	var mu sync.Mutex
	done, failed := 0, 0
	logFail := func(r sweep.Result) {
		if r.Err != nil {
			fmt.Fprintf(w, "sweep: %v\n", r.Err)
		}
	}
	if quiet {
		return logFail, func() {}
	}
	if isTerminal(w) {
		p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
		bar := p.AddBar(int64(total),
			mpb.PrependDecorators(decor.Name("sweep "), decor.CountersNoUnit("%d/%d runs")),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				mu.Lock()
				defer mu.Unlock()
				return fmt.Sprintf("%d failed ", failed)
			}), decor.Elapsed(decor.ET_STYLE_GO)))
		return func(r sweep.Result) {
				mu.Lock()
				if r.Err != nil {
					failed++
				}
				mu.Unlock()
				if r.Err != nil {
					p.Write([]byte(fmt.Sprintf("sweep: %v\n", r.Err)))
				}
				bar.Increment()
			}, func() {
				bar.SetTotal(int64(total), true)
				p.Wait()
			}
	}
	last := start
	line := func() {
		fmt.Fprintf(w, "sweep: %d/%d runs done, %d failed, elapsed %s\n", done, total, failed, time.Since(start).Round(time.Second))
	}
	return func(r sweep.Result) {
			logFail(r)
			done++
			if r.Err != nil {
				failed++
			}
			if time.Since(last) >= 5*time.Second {
				last = time.Now()
				line()
			}
		}, func() {
			if time.Since(start) >= 5*time.Second {
				line()
			}
		}
}

func newMergeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "merge OUT DIR...",
		Short: "Aggregate the runs of several sweep folders (shards) into OUT",
		Long: `Read the finished runs under each DIR/runs/* and write aggregate.csv,
aggregate.md, cost.csv and report.html into OUT, exactly as a single sweep
over all the runs would. Nothing is copied. A run folder present in several DIRs counts
once.

  dchat-sim merge out/all out/shard-0 out/shard-1`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			agg, err := sweep.Aggregate(args[0], args[1:]...)
			if err != nil {
				return &exitError{1, err}
			}
			runs := 0
			for _, g := range agg.Groups {
				runs += len(g.Runs)
			}
			if runs == 0 {
				return &exitError{1, fmt.Errorf("no finished runs under %v", args[1:])}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merge: %d runs in %d groups -> %s\n", runs, len(agg.Groups), args[0])
			return nil
		},
	}
}

// scenarioArg names the swept scenario as given, or the default.
func scenarioArg(args []string) string {
	if len(args) == 0 {
		return scenarios.DefaultScenario
	}
	return args[0]
}

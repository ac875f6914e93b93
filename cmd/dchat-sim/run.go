package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/dchat/network/reports"
	"github.com/dchat/network/scenarios"
)

type runFlags struct {
	seed    uint64
	seedSet bool
	out     string
	sets    []string
	nodes   int
	quiet   bool
	gzip    bool
	cpuProf string
	memProf string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [FILE|BUILTIN]",
		Short: "Run a scenario (the embedded default when no file is given)",
		Long: `Run a scenario file, or a built-in scenario by name (see 'dchat-sim list').
With no argument the embedded default scenario runs.

Outputs go to --out (default out/<scenario>-seed<seed>): summary.json, the
trace (trace.jsonl, or trace.jsonl.gz with --gzip or trace_gzip: true), CSV
tables, scenario.yaml (the effective scenario, overrides applied),
command.txt (the command that reproduces the run) and report.html: one
self-contained page with the summary tables, the plots and the scenario,
which opens from disk in any browser.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.seedSet = cmd.Flags().Changed("seed")
			return runScenario(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 0, "override the scenario's seed")
	fl.StringVar(&f.out, "out", "", "output directory (default out/<scenario>-seed<seed>)")
	fl.StringArrayVar(&f.sets, "set", nil, "override a scenario key, e.g. --set nodes.count=5000 --set gossip_fanout=8 (repeatable)")
	fl.IntVar(&f.nodes, "nodes", 0, "override nodes.count (same as --set nodes.count=N)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	fl.BoolVar(&f.gzip, "gzip", false, "gzip the trace (trace.jsonl.gz)")
	fl.StringVar(&f.cpuProf, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	fl.StringVar(&f.memProf, "memprofile", "", "write a heap profile at the end of the run to this file")
	return cmd
}

// loadScenario resolves FILE: an existing path, else a built-in name, else
// the default when no argument is given.
func loadScenario(args []string, sets []string) (*scenarios.Scenario, error) {
	if len(args) == 0 {
		return scenarios.Builtin(scenarios.DefaultScenario, sets...)
	}
	arg := args[0]
	if _, err := os.Stat(arg); err == nil {
		return scenarios.Load(arg, sets...)
	}
	name := strings.TrimPrefix(arg, "builtin:")
	for _, b := range scenarios.BuiltinNames() {
		if b == name {
			return scenarios.Builtin(name, sets...)
		}
	}
	return nil, fmt.Errorf("%s: no such file, and no built-in scenario of that name (dchat-sim list shows them)", arg)
}

func runScenario(cmd *cobra.Command, args []string, f runFlags) error {
	sets := append([]string(nil), f.sets...)
	if f.nodes != 0 {
		sets = append(sets, fmt.Sprintf("nodes.count=%d", f.nodes))
	}
	if f.seedSet {
		sets = append(sets, fmt.Sprintf("seed=%d", f.seed))
	}
	if f.gzip {
		sets = append(sets, "trace_gzip=true")
	}
	sc, err := loadScenario(args, sets)
	if err != nil {
		return &exitError{2, err}
	}
	out := f.out
	if out == "" {
		out = filepath.Join("out", fmt.Sprintf("%s-seed%d", sc.Name, sc.Seed))
	}
	stderr := cmd.ErrOrStderr()
	if f.cpuProf != "" {
		pf, err := os.Create(f.cpuProf)
		if err != nil {
			return &exitError{2, err}
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return &exitError{2, err}
		}
		defer pprof.StopCPUProfile()
	}
	progress, finish := newProgress(stderr, sc, f.quiet)
	s, err := scenarios.Run(sc, scenarios.RunOptions{OutDir: out, Progress: progress})
	finish()
	if f.memProf != "" {
		if err := writeHeapProfile(f.memProf); err != nil {
			return &exitError{1, err}
		}
	}
	if err != nil {
		return &exitError{1, err}
	}
	command := reproduceCommand(args, f, sc.Seed)
	if err := reports.WriteFileAtomic(filepath.Join(out, commandFile), []byte(command+"\n")); err != nil {
		return &exitError{1, err}
	}
	if _, err := reports.WriteRunReport(out, command, s); err != nil {
		return &exitError{1, err}
	}
	printSummary(cmd.OutOrStdout(), s, out)
	return nil
}

// commandFile holds, in a run's output folder, the command that reproduces
// the run; 'dchat-sim plot' shows it again in the report it redraws.
const commandFile = "command.txt"

// reproduceCommand is the command line that runs the same scenario with
// the same seed and overrides: the scenario as given, the effective seed,
// every --set in order, --nodes and --gzip. Output and progress flags are
// left out.
func reproduceCommand(args []string, f runFlags, seed uint64) string {
	words := []string{"dchat-sim", "run"}
	words = append(words, args...)
	words = append(words, "--seed", strconv.FormatUint(seed, 10))
	for _, s := range f.sets {
		words = append(words, "--set", s)
	}
	if f.nodes != 0 {
		words = append(words, "--nodes", strconv.Itoa(f.nodes))
	}
	if f.gzip {
		words = append(words, "--gzip")
	}
	return reports.ShellCommand(words...)
}

// newProgress returns a progress callback: a bar on a terminal, plain lines
// every few seconds otherwise, nothing when quiet.
func newProgress(w io.Writer, sc *scenarios.Scenario, quiet bool) (func(scenarios.Progress), func()) {
	if quiet {
		return nil, func() {}
	}
	start := time.Now()
	total := int64(time.Duration(sc.Duration) / time.Millisecond)
	if isTerminal(w) {
		var bar *mpb.Bar
		var p *mpb.Progress
		// The bar draws on its own goroutine: share the latest figures
		// through atomics.
		var simMS, events atomic.Int64
		return func(pr scenarios.Progress) {
				simMS.Store(int64(pr.Sim / time.Millisecond))
				events.Store(int64(pr.Events))
				// Only runs longer than a moment get a bar.
				if bar == nil {
					if time.Since(start) < 2*time.Second {
						return
					}
					p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
					bar = p.AddBar(total,
						mpb.PrependDecorators(decor.Name(sc.Name+" "), decor.Percentage()),
						mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
							return fmt.Sprintf("sim %v  %.1fM events", time.Duration(simMS.Load())*time.Millisecond, float64(events.Load())/1e6)
						}), decor.Name(" "), decor.Elapsed(decor.ET_STYLE_GO)))
				}
				bar.SetCurrent(simMS.Load())
			}, func() {
				if bar != nil {
					bar.SetCurrent(total)
					p.Wait()
				}
			}
	}
	last := start
	return func(pr scenarios.Progress) {
		if time.Since(last) < 2*time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "%s: sim %v / %v (%.0f%%), %d events, wall %.1fs\n", sc.Name,
			pr.Sim.Truncate(time.Millisecond), pr.Duration, 100*float64(pr.Sim)/float64(pr.Duration), pr.Events, time.Since(start).Seconds())
	}, func() {}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func printSummary(w io.Writer, s *reports.Summary, out string) {
	fmt.Fprintf(w, "scenario %s  seed %d  nodes %d  sim %.1fs  wall %.2fs  events %d (%.2fM/s)  peak heap %.1f MiB  live heap %.1f MiB (%.1f KiB per node)\n",
		s.Scenario, s.Seed, s.Nodes, s.SimTimeS, s.WallS, s.Events, s.EventsPerS/1e6, float64(s.PeakHeapBytes)/(1<<20),
		float64(s.LiveHeapBytes)/(1<<20), float64(s.LiveHeapPerNode)/(1<<10))
	if n := s.Network; n != nil {
		fmt.Fprintf(w, "network  sent %d  delivered %d  dropped %v\n", n.PacketsSent, n.PacketsDelivered, n.Dropped)
	}
	if p := s.Ping; p != nil {
		fmt.Fprintf(w, "ping     sent %d  answered %d  timed out %d  rtt ms p50 %.1f p95 %.1f p99 %.1f  model p50 %.1f  excess p50 %.2f min %.2f\n",
			p.Sent, p.Answered, p.TimedOut, p.RTTms.P50, p.RTTms.P95, p.RTTms.P99, p.ModelRTTms.P50, p.ExcessMs.P50, p.ExcessMs.Min)
	}
	if g := s.Gossip; g != nil {
		fmt.Fprintf(w, "gossip   messages %d  live nodes %d  delivery %.4f  first delivery ms p50 %.1f p95 %.1f p99 %.1f  90%% reached ms p50 %.1f  dups/node/msg %.2f  bound ratio %.2f\n",
			g.Messages, g.LiveNodes, g.DeliveryRatio, g.FirstDeliveryMs.P50, g.FirstDeliveryMs.P95, g.FirstDeliveryMs.P99,
			g.Reach90Ms.P50, g.DuplicatesPerNodePerMsg, g.BoundRatioP50)
	}
	if d := s.DHT; d != nil {
		fmt.Fprintf(w, "dht      table mean %.1f min %d  bootstrap s p50 %.2f max %.2f (not bootstrapped: %d)\n",
			d.TableSize.Mean, int(d.TableSize.Min), d.BootstrapS.P50, d.BootstrapS.Max, d.NotBootstrapped)
		if d.Lookups > 0 {
			fmt.Fprintf(w, "lookups  %d  success %.4f  latency ms p50 %.1f p95 %.1f p99 %.1f  hops mean %.2f p95 %.0f  msgs/lookup %.1f\n",
				d.Lookups, d.SuccessRatio, d.LatencyMs.P50, d.LatencyMs.P95, d.LatencyMs.P99, d.Hops.Mean, d.Hops.P95, d.MessagesPerLookup)
		}
	}
	if c := s.Connections; c != nil {
		fmt.Fprintln(w, c.Line())
	}
	if rl := s.Relay; rl != nil {
		fmt.Fprintln(w, rl.Line())
	}
	fmt.Fprintf(w, "trace    %d events  sha256 %s\n", s.TraceEvents, s.TraceSHA256)
	fmt.Fprintf(w, "output   %s\n", out)
	fmt.Fprintf(w, "report   %s\n", filepath.Join(out, reports.ReportFile))
}

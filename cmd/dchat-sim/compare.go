package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dchat/network/reports"
	"github.com/dchat/network/sweep"
)

func newCompareCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "compare DIR_A DIR_B",
		Short: "Compare two runs (or two sweeps) side by side in an HTML report",
		Long: `Compare two output folders of 'dchat-sim run' (each with summary.json), or
two of 'dchat-sim sweep' or 'merge' (each with sweep.json), and write
report.html and compare.csv into --out (default ./compare-<A>-vs-<B>).

For runs: every numeric summary value of A and B with B − A and the
relative change, the differences between their scenario files, and their
propagation curves, latency CDFs and ping RTTs overlaid. For sweeps: the
aggregates of groups with the same parameter values side by side (mean ±
95% CI), key metrics of both against the swept parameter, and each
group's mean propagation curves overlaid. Wall-clock figures are kept
apart in a cost table.

  dchat-sim compare out/gossip-1000-seed1 out/gossip-1000-seed2
  dchat-sim compare out/sweep-fanout out/sweep-fanout-pull --out out/cmp`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompare(cmd, args[0], args[1], out)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output directory (default ./compare-<A>-vs-<B>)")
	return cmd
}

// outputKind is what an output folder holds.
type outputKind int

const (
	kindRun outputKind = iota + 1
	kindSweep
)

func (k outputKind) String() string {
	if k == kindSweep {
		return "a sweep"
	}
	return "a run"
}

// classify checks that dir is a run or sweep output folder.
func classify(dir string) (outputKind, error) {
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s: no such directory", dir)
	case !st.IsDir():
		return 0, fmt.Errorf("%s: not a directory", dir)
	case sweep.IsSweepDir(dir):
		return kindSweep, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err != nil {
		return 0, fmt.Errorf("%s: not a run or sweep output folder (no %s or %s)", dir,
			filepath.Join(dir, "summary.json"), filepath.Join(dir, "sweep.json"))
	}
	return kindRun, nil
}

func runCompare(cmd *cobra.Command, dirA, dirB, out string) error {
	ka, err := classify(dirA)
	if err != nil {
		return &exitError{2, err}
	}
	kb, err := classify(dirB)
	if err != nil {
		return &exitError{2, err}
	}
	if ka != kb {
		return &exitError{2, fmt.Errorf("%s is %v and %s is %v: compare two runs or two sweeps", dirA, ka, dirB, kb)}
	}
	if out == "" {
		out = "compare-" + folderName(dirA) + "-vs-" + folderName(dirB)
	}
	if sameDir(out, dirA) || sameDir(out, dirB) {
		return &exitError{2, fmt.Errorf("--out %s is one of the compared folders (its report.html would be replaced)", out)}
	}
	var c *reports.Comparison
	if ka == kindSweep {
		c, err = sweep.Compare(dirA, dirB)
	} else {
		c, err = reports.CompareRuns(dirA, dirB)
	}
	if err != nil {
		return &exitError{1, err}
	}
	if err := c.Write(out); err != nil {
		return &exitError{1, err}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "compare: %s vs %s (%s): %d metrics, %d plots -> %s\n",
		dirA, dirB, strings.TrimPrefix(ka.String(), "a ")+"s", len(c.CSVRows), c.Page.Plots(), filepath.Join(out, reports.ReportFile))
	return nil
}

// folderName is a folder's last element, made safe for a file name.
func folderName(dir string) string {
	name := filepath.Base(filepath.Clean(dir))
	if abs, err := filepath.Abs(dir); err == nil && (name == "." || name == "..") {
		name = filepath.Base(abs)
	}
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._=+-,", c) >= 0) {
			b[i] = '_'
		}
	}
	return string(b)
}

// sameDir reports whether a and b name the same existing directory.
func sameDir(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

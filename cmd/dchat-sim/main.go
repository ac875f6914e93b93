// Command dchat-sim runs dchat's deterministic network simulator on YAML
// scenario files and writes a summary, a trace, CSV tables and an HTML
// report.
//
//	dchat-sim run                       # the embedded default scenario
//	dchat-sim run scenarios/ping-50.yaml --seed 7 --out out/ping
//	dchat-sim run ping-1000 --set nodes.count=5000
//	dchat-sim validate scenarios/*.yaml
//	dchat-sim list
//	dchat-sim plot out/gossip-1000-seed1
//	dchat-sim compare out/gossip-1000-seed1 out/gossip-1000-seed2
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	tuneGC()
	root := newRoot()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dchat-sim:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(2)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "dchat-sim",
		Short:         "Deterministic discrete-event simulator for the dchat network layer",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newValidateCmd(), newListCmd(), newPlotCmd(), newVersionCmd(), newSweepCmd(), newMergeCmd(), newCompareCmd())
	return root
}

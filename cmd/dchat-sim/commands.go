package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dchat/network/reports"
	"github.com/dchat/network/scenarios"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newValidateCmd() *cobra.Command {
	var sets []string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files without running them",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, a := range args {
				sc, err := loadScenario([]string{a}, sets)
				if err != nil {
					bad++
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s, %d nodes, %v)\n", a, sc.Name, sc.Nodes.Count, sc.Duration)
			}
			if bad > 0 {
				return &exitError{1, fmt.Errorf("%d of %d scenario(s) invalid", bad, len(args))}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a scenario key before validating (repeatable)")
	return cmd
}

func newPlotCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plot DIR...",
		Short: "Redraw the plots and report.html of run output folders from their tables",
		Long: `Redraw the plots (PNG and SVG) of one or more output folders written by
'dchat-sim run' (the gossip propagation curve and first-delivery latency
CDF, the DHT lookup latency CDF and hop histogram, the ping RTT
percentiles) and write report.html again. The data comes from the
folder's CSV tables and summary.json, so nothing runs again.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, dir := range args {
				if err := plotDir(cmd, dir); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// plotDir redraws one folder's plots and report.
func plotDir(cmd *cobra.Command, dir string) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return &exitError{2, fmt.Errorf("%s: no such directory", dir)}
	}
	name := filepath.Base(filepath.Clean(dir))
	s, serr := reports.ReadSummary(dir)
	if serr == nil {
		name = s.Scenario
	}
	w := cmd.OutOrStdout()
	err := reports.PlotDir(dir, name)
	switch {
	case err == nil:
		fmt.Fprintf(w, "%s: plots written\n", dir)
	case errors.Is(err, reports.ErrNothingToPlot) && serr == nil:
		fmt.Fprintf(w, "%s: no plot data\n", dir)
	default:
		return &exitError{1, err}
	}
	if serr != nil {
		if errors.Is(serr, os.ErrNotExist) {
			fmt.Fprintf(w, "%s: no summary.json, report not written\n", dir)
			return nil
		}
		return &exitError{1, serr}
	}
	command := ""
	if b, err := os.ReadFile(filepath.Join(dir, commandFile)); err == nil {
		command = strings.TrimSpace(string(b))
	}
	plots, err := reports.WriteRunReport(dir, command, s)
	if err != nil {
		return &exitError{1, err}
	}
	fmt.Fprintf(w, "%s: %s written (%d plots)\n", dir, filepath.Join(dir, reports.ReportFile), plots)
	return nil
}

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range scenarios.BuiltinNames() {
				sc, err := scenarios.Builtin(name)
				if err != nil {
					return &exitError{1, errors.Join(fmt.Errorf("built-in %s", name), err)}
				}
				mark := " "
				if name == scenarios.DefaultScenario {
					mark = "*"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %-24s %6d nodes  %-8v %s\n", mark, name, sc.Nodes.Count, sc.Duration, sc.Description)
			}
			return nil
		},
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok {
				fmt.Fprintf(cmd.OutOrStdout(), "dchat-sim %s (%s)\n", v, bi.GoVersion)
				return
			}
			fmt.Fprintf(cmd.OutOrStdout(), "dchat-sim %s\n", v)
		},
	}
}

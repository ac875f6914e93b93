package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"

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
		Short: "Redraw the plots of run output folders from their CSV tables",
		Long: `Redraw the plots (PNG and SVG) of one or more output folders written by
'dchat-sim run': the gossip propagation curve and the first-delivery
latency CDF. The data comes from the folder's CSV tables, so plots can be
redrawn without running the scenario again.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, dir := range args {
				name := filepath.Base(filepath.Clean(dir))
				if s, err := reports.ReadSummary(dir); err == nil {
					name = s.Scenario
				}
				if err := reports.PlotDir(dir, name); err != nil {
					return &exitError{1, err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: plots written\n", dir)
			}
			return nil
		},
	}
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

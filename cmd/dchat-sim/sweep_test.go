package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dchat/network/scenarios"
)

func TestSweepAndMerge(t *testing.T) {
	base := t.TempDir()
	all, s0, s1, merged := filepath.Join(base, "all"), filepath.Join(base, "s0"), filepath.Join(base, "s1"), filepath.Join(base, "merged")
	flags := []string{"ping-50", "--seeds", "1-3", "--set", "network.loss=0%,10%", "--set", "nodes.count=30", "--quiet"}
	out, _, err := execute(t, append([]string{"sweep", "--out", all, "--jobs", "2"}, flags...)...)
	if err != nil || !strings.Contains(out, "6 runs in the plan, 6 in this shard: 6 ran, 0 already done, 0 failed") {
		t.Fatalf("sweep: %v\n%s", err, out)
	}
	for _, d := range []string{"network.loss=0%,seed=1", "network.loss=10%,seed=3"} {
		if _, err := os.Stat(filepath.Join(all, "runs", d, "summary.json")); err != nil {
			t.Error(err)
		}
	}
	// Again: everything is done already.
	out, _, err = execute(t, append([]string{"sweep", "--out", all}, flags...)...)
	if err != nil || !strings.Contains(out, "0 ran, 6 already done") {
		t.Fatalf("second sweep: %v\n%s", err, out)
	}
	for i, d := range []string{s0, s1} {
		out, _, err := execute(t, append([]string{"sweep", "--out", d, "--shard", []string{"0/2", "1/2"}[i]}, flags...)...)
		if err != nil || !strings.Contains(out, "6 runs in the plan, 3 in this shard: 3 ran") {
			t.Fatalf("shard %d: %v\n%s", i, err, out)
		}
	}
	out, _, err = execute(t, "merge", merged, s0, s1)
	if err != nil || !strings.Contains(out, "merge: 6 runs in 2 groups") {
		t.Fatalf("merge: %v\n%s", err, out)
	}
	for _, f := range []string{"aggregate.csv", "aggregate.md"} {
		a, _ := os.ReadFile(filepath.Join(all, f))
		b, _ := os.ReadFile(filepath.Join(merged, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: merge of the shards differs from the sweep", f)
		}
	}
}

func TestSweepExitCodes(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "ping-50", "--seeds", "5-1"}, "--seeds"},
		{[]string{"sweep", "ping-50", "--shard", "2/2"}, "--shard"},
		{[]string{"sweep", "ping-50", "--set", "nodes.count=abc,10"}, "nodes.count"},
		{[]string{"sweep", "ping-50", "--set", "faults=[1,2"}, "unbalanced"},
		{[]string{"sweep", "ping-50", "--set", "seed=1,2"}, "--seeds"},
		{[]string{"sweep", "no-such-scenario"}, "no such file"},
		{[]string{"sweep", "ping-50", "--jobs", "0"}, "--jobs"},
		{[]string{"sweep"}, "arg"},
		{[]string{"sweep", "ping-50", "--bogus"}, "bogus"},
		{[]string{"merge", dir}, "arg"},
	} {
		args := c.args
		if args[0] == "sweep" {
			args = append(args, "--out", filepath.Join(dir, "x"))
		}
		_, _, err := execute(t, args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: code %d, %v", c.args, exitCode(err), err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a rejected sweep created its output folder")
	}
	// merge of a folder without runs fails with 1.
	if _, _, err := execute(t, "merge", filepath.Join(dir, "m"), dir); exitCode(err) != 1 {
		t.Errorf("merge of an empty folder: %v", err)
	}
}

func TestSweepFailedRunExitsOne(t *testing.T) {
	// Seed 2 fails when it runs (validation passed); the others finish.
	defer func(f func([]string, []string) (*scenarios.Scenario, error)) { sweepRunLoad = f }(sweepRunLoad)
	sweepRunLoad = func(args, sets []string) (*scenarios.Scenario, error) {
		if slices.Contains(sets, "seed=2") {
			return nil, errors.New("injected failure")
		}
		return loadScenario(args, sets)
	}
	out := t.TempDir()
	_, errOut, err := execute(t, "sweep", "ping-50", "--seeds", "1-3", "--set", "nodes.count=30", "--out", out, "--quiet")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "1 of 3 runs failed") || !strings.Contains(errOut, "run seed=2: injected failure") {
		t.Fatalf("code %d, %v\n%s", exitCode(err), err, errOut)
	}
	md, _ := os.ReadFile(filepath.Join(out, "aggregate.md"))
	if !bytes.Contains(md, []byte("2 runs in 1 groups")) {
		t.Errorf("aggregate over the finished runs:\n%s", md)
	}
}

package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func execute(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 2
	}
	return 0
}

func TestRunWritesOutputs(t *testing.T) {
	dir := t.TempDir()
	out, _, err := execute(t, "run", "ping-50", "--quiet", "--out", dir, "--seed", "3", "--gzip")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "scenario ping-50  seed 3") || !strings.Contains(out, "answered") {
		t.Fatalf("summary output:\n%s", out)
	}
	for _, f := range []string{"summary.json", "trace.jsonl.gz", "scenario.yaml", "nodes.csv", "ping_rtt_cdf.csv"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	// The effective scenario written out runs again to the same trace.
	dir2 := t.TempDir()
	if _, _, err := execute(t, "run", filepath.Join(dir, "scenario.yaml"), "--quiet", "--out", dir2, "--gzip"); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "trace.jsonl.gz"))
	b, _ := os.ReadFile(filepath.Join(dir2, "trace.jsonl.gz"))
	if !bytes.Equal(a, b) {
		t.Error("re-running the written scenario.yaml gave another trace")
	}
}

func TestRunDefaultNodesOverride(t *testing.T) {
	dir := t.TempDir()
	out, _, err := execute(t, "run", "--quiet", "--out", dir, "--nodes", "120")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "scenario gossip-1000-dht") || !strings.Contains(out, "nodes 120 ") {
		t.Fatalf("default scenario with override:\n%s", out)
	}
}

func TestErrorsAndExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("name: x\nduration: 10s\nnodes:\n  count: 10\n  cuont: 3\n"), 0o644)
	_, errOut, err := execute(t, "validate", bad)
	if exitCode(err) != 1 || !strings.Contains(errOut, "bad.yaml:5:3") {
		t.Errorf("validate: code %d, stderr %q", exitCode(err), errOut)
	}
	if _, _, err := execute(t, "run", "no-such-scenario"); exitCode(err) != 2 || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("run missing: %v", err)
	}
	if _, _, err := execute(t, "run", "ping-50", "--set", "nodes.count=abc"); exitCode(err) != 2 || !strings.Contains(err.Error(), "nodes.count") {
		t.Errorf("bad --set: %v", err)
	}
	if _, _, err := execute(t, "run", "--bogus"); exitCode(err) != 2 {
		t.Errorf("bad flag: %v", err)
	}
	out, _, err := execute(t, "validate", "ping-50", "ping-1000")
	if err != nil || strings.Count(out, ": ok") != 2 {
		t.Errorf("validate builtins: %v\n%s", err, out)
	}
}

func TestPlotRedraws(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := execute(t, "run", "gossip-100", "--quiet", "--out", dir, "--set", "outputs=[summary, csv]"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gossip_propagation.png")); err == nil {
		t.Fatal("plots drawn although outputs excluded them")
	}
	out, _, err := execute(t, "plot", dir)
	if err != nil || !strings.Contains(out, "plots written") {
		t.Fatalf("plot: %v %s", err, out)
	}
	for _, f := range []string{"gossip_propagation.png", "gossip_propagation.svg", "gossip_latency_cdf.png", "gossip_latency_cdf.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, _, err := execute(t, "plot", t.TempDir()); exitCode(err) != 1 {
		t.Errorf("plot of an empty folder: %v", err)
	}
}

func TestListAndVersion(t *testing.T) {
	out, _, err := execute(t, "list")
	if err != nil || !strings.Contains(out, "* gossip-1000-dht") || !strings.Contains(out, "ping-50") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = execute(t, "version")
	if err != nil || !strings.HasPrefix(out, "dchat-sim ") {
		t.Fatalf("version: %v %q", err, out)
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// allProtocols runs gossip, DHT lookups and pings on 50 nodes for 40 s of
// simulated time (a fraction of a second), with some loss: every summary
// section and all five plots of a run report.
var allProtocols = []string{"gossip-1000-dht", "--quiet", "--set", "nodes.count=50", "--set", "network.loss=1%", "--set", "duration=40s",
	"--set", "workload=[{at: 20s, every: 200ms, count: 20, publish: {from: all, size: 512B}}, " +
		"{at: 30s, every: 0s, count: 1, lookups: {count: 50, target: random-peer, from: all, over: 5s}}, " +
		"{at: 25s, every: 1s, count: 3, ping: {from: all, target: random-peer}}]"}

// runInto runs allProtocols with seed into dir.
func runInto(t *testing.T, dir, seed string) {
	t.Helper()
	if _, _, err := execute(t, append([]string{"run", "--out", dir, "--seed", seed}, allProtocols...)...); err != nil {
		t.Fatal(err)
	}
}

// costRE matches a report's wall-clock section.
var costRE = regexp.MustCompile(`(?s)<section id="cost".*?</section>`)

func TestRunReportAndPlot(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	runInto(t, a, "1")
	runInto(t, b, "1")
	cmdline, err := os.ReadFile(filepath.Join(a, "command.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "dchat-sim run gossip-1000-dht --seed 1 --set nodes.count=50 --set network.loss=1% --set duration=40s --set 'workload=[{at: 20s,"; !strings.HasPrefix(string(cmdline), want) {
		t.Errorf("command.txt: %s", cmdline)
	}
	ra, err := os.ReadFile(filepath.Join(a, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := os.ReadFile(filepath.Join(b, "report.html"))
	for _, s := range []string{`data-plots="6"`, "dropped by the network", `<section id="ping">`, `<section id="gossip">`, `<section id="dht">`,
		"dchat-sim run gossip-1000-dht --seed 1 --set nodes.count=50"} {
		if !bytes.Contains(ra, []byte(s)) {
			t.Errorf("report lacks %q", s)
		}
	}
	// Same scenario and seed: the same page apart from the wall clock.
	if !bytes.Equal(costRE.ReplaceAll(ra, nil), costRE.ReplaceAll(rb, nil)) {
		t.Error("two runs of one scenario and seed gave reports that differ outside the cost section")
	}
	// plot redraws the report from the folder: the same bytes.
	if err := os.Remove(filepath.Join(a, "report.html")); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, "plot", a)
	if err != nil || !strings.Contains(out, "report.html written (6 plots)") {
		t.Fatalf("plot: %v\n%s", err, out)
	}
	if again, _ := os.ReadFile(filepath.Join(a, "report.html")); !bytes.Equal(again, ra) {
		t.Error("plot wrote another report.html than run")
	}
}

func TestCompareRunsCommand(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "seed1"), filepath.Join(base, "seed2")
	runInto(t, a, "1")
	runInto(t, b, "2")
	t.Chdir(t.TempDir())
	out, _, err := execute(t, "compare", a, b)
	if err != nil || !strings.Contains(out, "(runs)") || !strings.Contains(out, "4 plots -> compare-seed1-vs-seed2/report.html") {
		t.Fatalf("compare: %v\n%s", err, out)
	}
	html, err := os.ReadFile(filepath.Join("compare-seed1-vs-seed2", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"gossip-1000-dht seed 1 vs gossip-1000-dht seed 2", "<td>gossip.first_delivery_ms.p95</td>", "- seed: 1\n&#43; seed: 2"} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("compare report lacks %q", s)
		}
	}
	if csv, err := os.ReadFile(filepath.Join("compare-seed1-vs-seed2", "compare.csv")); err != nil || !bytes.Contains(csv, []byte("\ndht.success_ratio,")) {
		t.Errorf("compare.csv: %v\n%.300s", err, csv)
	}
	dst := filepath.Join(base, "cmp")
	if _, _, err := execute(t, "compare", a, b, "--out", dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "report.html")); err != nil {
		t.Error(err)
	}
}

func TestCompareSweepsCommand(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	for i, d := range []string{a, b} {
		if _, _, err := execute(t, "sweep", "ping-50", "--seeds", []string{"1-2", "3-4"}[i], "--set", "network.loss=0%,10%", "--set", "nodes.count=20", "--quiet", "--out", d); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(d, "report.html")); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := execute(t, "compare", a, b, "--out", filepath.Join(base, "cmp"))
	if err != nil || !strings.Contains(out, "(sweeps)") {
		t.Fatalf("compare sweeps: %v\n%s", err, out)
	}
	html, _ := os.ReadFile(filepath.Join(base, "cmp", "report.html"))
	if !bytes.Contains(html, []byte("<caption>network.loss=10%</caption>")) {
		t.Error("sweep compare lacks the group tables")
	}
}

func TestCompareErrors(t *testing.T) {
	base := t.TempDir()
	run := filepath.Join(base, "run")
	if _, _, err := execute(t, "run", "ping-50", "--quiet", "--out", run, "--set", "nodes.count=10"); err != nil {
		t.Fatal(err)
	}
	sw := filepath.Join(base, "sweep")
	if _, _, err := execute(t, "sweep", "ping-50", "--seeds", "1", "--set", "nodes.count=10", "--quiet", "--out", sw); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(run, "summary.json")
	missing := filepath.Join(base, "nope")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", run}, "accepts 2 arg"},
		{[]string{"compare", run, run, run}, "accepts 2 arg"},
		{[]string{"compare", missing, run}, missing + ": no such directory"},
		{[]string{"compare", run, missing}, missing + ": no such directory"},
		{[]string{"compare", run, empty}, filepath.Join(empty, "summary.json")},
		{[]string{"compare", run, file}, file + ": not a directory"},
		{[]string{"compare", run, sw}, "compare two runs or two sweeps"},
		{[]string{"compare", run, run, "--bogus"}, "bogus"},
		{[]string{"compare", run, run, "--out", run + "/"}, "is one of the compared folders"},
		{[]string{"plot", missing}, missing + ": no such directory"},
	} {
		_, _, err := execute(t, c.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: code %d, %v; want 2 and %q", c.args, exitCode(err), err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "compare-run-vs-empty")); err == nil {
		t.Error("a rejected compare wrote output")
	}
}

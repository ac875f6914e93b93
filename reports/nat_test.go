package reports

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestNATCollector(t *testing.T) {
	c := NewNATCollector()
	c.Node("none", false)
	c.Node("port-restricted", true)
	c.Node("symmetric", false)
	c.Discovered("port-restricted", "port-restricted", true, 40)
	c.Discovered("symmetric", "port-restricted", true, 60)
	c.Discovered("symmetric", "", false, 0)
	// port-restricted -> port-restricted: 3 connects, 2 by punch, one
	// punch failed and fell through to nothing.
	for range 3 {
		c.Connect("port-restricted", "port-restricted")
	}
	c.Attempt("port-restricted", "port-restricted", "punch", true)
	c.Connected("port-restricted", "port-restricted", "punch", 300)
	c.Attempt("port-restricted", "port-restricted", "punch", true)
	c.Connected("port-restricted", "port-restricted", "punch", 500)
	c.Attempt("port-restricted", "port-restricted", "punch", false)
	c.NoPath("port-restricted", "port-restricted")
	// symmetric -> symmetric: relay works; one still pending.
	c.Connect("symmetric", "symmetric")
	c.Connect("symmetric", "symmetric")
	c.Attempt("symmetric", "symmetric", "punch", false)
	c.Attempt("symmetric", "symmetric", "relay", true)
	c.Connected("symmetric", "symmetric", "relay", 100)
	s := c.Section()

	if s.Connects != 5 || s.Connected != 3 || s.NoPath != 1 || s.Pending != 1 {
		t.Fatalf("counts: connects %d connected %d no-path %d pending %d", s.Connects, s.Connected, s.NoPath, s.Pending)
	}
	if s.NoPathShare != 0.25 {
		t.Errorf("no-path share %v, want 0.25 (1 of 4 ended)", s.NoPathShare)
	}
	if s.PunchMinNonSymmetric != 0.666666 {
		t.Errorf("punch min %v, want 0.666666 (2 of 3, rounded down)", s.PunchMinNonSymmetric)
	}
	if s.Discovery.Correct != 1 || s.Discovery.Failed != 1 || s.Discovery.Confused["symmetric→port-restricted"] != 1 {
		t.Errorf("discovery %+v", s.Discovery)
	}
	if got := s.MatrixTypes(); !slices.Equal(got, []string{"port-restricted", "symmetric"}) {
		t.Errorf("matrix types %v", got)
	}
	m := s.Matrix("", s.MatrixTypes())
	if m[0][0] != 0.666666 || m[1][1] != 1 || !math.IsNaN(m[0][1]) {
		t.Errorf("any-path matrix %v", m)
	}
	if s.FirstPathMs.N != 3 || s.FirstPathMs.Max != 500 {
		t.Errorf("first path %+v", s.FirstPathMs)
	}
	md := s.MarkdownMatrix("punch")
	if !strings.Contains(md, "| port-restricted | 66.6% (2/3) | – |") || !strings.Contains(md, "| symmetric | – | 0.0% (0/1) |") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestNATMatrixCSVAndChart(t *testing.T) {
	c := NewNATCollector()
	for _, p := range [][2]string{{"full-cone", "symmetric"}, {"symmetric", "symmetric"}, {"none", "full-cone"}} {
		c.Connect(p[0], p[1])
		c.Attempt(p[0], p[1], "punch", p[1] != "symmetric" || p[0] == "full-cone")
		c.Connected(p[0], p[1], "punch", 10)
	}
	cells := c.Section().NATCells()
	dir := t.TempDir()
	if err := WriteNATMatrixCSV(dir, cells); err != nil {
		t.Fatal(err)
	}
	back, err := ReadNATMatrixCSV(filepath.Join(dir, NATMatrixCSV))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back, cells) {
		t.Fatalf("round trip:\n%v\n%v", back, cells)
	}
	if cells[0].Initiator != "none" {
		t.Errorf("rows not in type order: %v", cells)
	}
	for _, m := range []string{"any", "punch"} {
		ch, err := NATMatrixChart(cells, m, "test")
		if err != nil {
			t.Fatal(err)
		}
		svg, err := ch.SVG()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(svg), "symmetric") {
			t.Errorf("%s chart lacks the type labels", m)
		}
	}
	if _, err := NATMatrixChart(cells, "relay", "x"); !errors.Is(err, ErrNoData) {
		t.Errorf("no relay cells: %v, want ErrNoData", err)
	}
	charts, ok, err := natRunCharts(dir, "x")
	if !ok || err != nil || len(charts) != 2 {
		t.Errorf("run charts: %d, %v, %v", len(charts), ok, err)
	}
	// Bad tables are refused with the file and line.
	for _, bad := range []string{
		"initiator,target,method,ok,attempts\nnone,cone,any,1,1\n",
		"initiator,target,method,ok,attempts\nnone,none,teleport,1,1\n",
		"initiator,target,method,ok,attempts\nnone,none,any,2,1\n",
		"a,b,c,d,e\n",
	} {
		p := filepath.Join(dir, "bad.csv")
		if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadNATMatrixCSV(p); !errors.Is(err, ErrBadCSV) || !strings.Contains(err.Error(), "bad.csv:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

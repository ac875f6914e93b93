package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func goList(t *testing.T) (string, []Package) {
	t.Helper()
	mod, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	out, err := exec.Command("go", "list", "-deps=false", "-json", "github.com/dchat/network/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return strings.TrimSpace(string(mod)), pkgs
}

func TestLayering(t *testing.T) {
	mod, pkgs := goList(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, msg := range CheckImports(mod, pkgs) {
		t.Error(msg)
	}
}

func TestCoreAndSimSources(t *testing.T) {
	mod, pkgs := goList(t)
	checked := 0
	for _, p := range pkgs {
		if !strings.HasPrefix(p.ImportPath, mod+"/core") && !strings.HasPrefix(p.ImportPath, mod+"/sim") {
			continue
		}
		for _, f := range p.GoFiles {
			bad, err := CheckSource(filepath.Join(p.Dir, f), nil)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, b := range bad {
				t.Error(b)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d files", checked)
	}
}

// The checkers themselves must catch what they are for.
func TestCheckersCatchViolations(t *testing.T) {
	mod := "example.org/m"
	pkgs := []Package{
		{ImportPath: mod + "/core/x", Imports: []string{"net", "net/netip", "sync"}, Deps: []string{mod + "/sim"}},
		{ImportPath: mod + "/sim", Deps: []string{mod + "/transport/udp"}},
		{ImportPath: mod + "/transport", Deps: []string{mod + "/sim"}},
		{ImportPath: mod + "/reports", Deps: []string{mod + "/sim"}},
		{ImportPath: mod + "/scenarios", Deps: []string{mod + "/sim", "net"}},
	}
	got := strings.Join(CheckImports(mod, pkgs), "\n")
	for _, want := range []string{"core/x imports net ", "core/x imports sync", "core/x depends on example.org/m/sim",
		"/sim depends on example.org/m/transport/udp", "/transport depends on example.org/m/sim", "/reports depends on"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing violation %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "netip") || strings.Contains(got, "scenarios") {
		t.Errorf("false positive:\n%s", got)
	}
	src := `package p
import tm "time"
func f(l *rate.Limiter) {
	_ = tm.Now()
	go f(nil)
	select {}
	l.Allow()
	l.AllowN(now, 1)
	_ = tm.Duration(3)
}`
	bad, err := CheckSource("p.go", src)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(bad, "\n")
	for _, want := range []string{"time.Now", "goroutine", "select", "Allow()"} {
		if !strings.Contains(joined, want) {
			t.Errorf("CheckSource missed %q:\n%s", want, joined)
		}
	}
	if len(bad) != 4 {
		t.Errorf("want 4 findings, got %d:\n%s", len(bad), joined)
	}
}

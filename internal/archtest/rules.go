package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
)

// Package is the part of `go list` output the rules need.
type Package struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

// forbiddenInCore are standard packages core/ must not import directly: the
// OS, sockets, locks, and global or OS randomness.
var forbiddenInCore = []string{
	"net", "net/http", "os", "os/exec", "os/signal", "syscall", "sync", "sync/atomic",
	"math/rand", "crypto/rand", "unsafe",
	"github.com/hashicorp/golang-lru/v2/expirable",
}

// upperLayers are this module's packages that core/ must never reach.
var upperLayers = []string{"sim", "transport", "chaos", "reports", "scenarios", "cmd"}

// CheckImports applies the layering rules to packages of module mod and
// returns one message per violation.
func CheckImports(mod string, pkgs []Package) []string {
	var bad []string
	under := func(path, dir string) bool {
		p := mod + "/" + dir
		return path == p || strings.HasPrefix(path, p+"/")
	}
	for _, p := range pkgs {
		switch {
		case under(p.ImportPath, "core"):
			for _, imp := range p.Imports {
				if slices.Contains(forbiddenInCore, imp) {
					bad = append(bad, fmt.Sprintf("%s imports %s (core/ must stay pure: no OS, sockets, locks or global randomness)", p.ImportPath, imp))
				}
			}
			for _, d := range p.Deps {
				for _, up := range upperLayers {
					if under(d, up) {
						bad = append(bad, fmt.Sprintf("%s depends on %s (core/ must not reach the layers above it)", p.ImportPath, d))
					}
				}
			}
		case under(p.ImportPath, "sim"):
			for _, d := range p.Deps {
				if under(d, "transport") {
					bad = append(bad, fmt.Sprintf("%s depends on %s (sim/ and transport/ must not import each other)", p.ImportPath, d))
				}
			}
		case under(p.ImportPath, "transport"):
			for _, d := range p.Deps {
				if under(d, "sim") {
					bad = append(bad, fmt.Sprintf("%s depends on %s (sim/ and transport/ must not import each other)", p.ImportPath, d))
				}
			}
		case under(p.ImportPath, "reports"):
			for _, d := range p.Deps {
				if under(d, "sim") || under(d, "scenarios") {
					bad = append(bad, fmt.Sprintf("%s depends on %s (reports/ must not depend on the simulator's internals)", p.ImportPath, d))
				}
			}
		}
	}
	return bad
}

// wallClock are the time functions that read or wait on the real clock.
var wallClock = []string{"Now", "Sleep", "Since", "Until", "After", "AfterFunc", "NewTimer", "NewTicker", "Tick"}

// CheckSource parses one Go source file of core/ or sim/ and reports reads of
// the wall clock, goroutines, select statements, and x/time/rate methods
// that read the wall clock (Allow, Wait, Reserve, SetLimit, SetBurst).
func CheckSource(filename string, src any) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	timeName := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"time"` {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	var bad []string
	report := func(n ast.Node, msg string) {
		bad = append(bad, fmt.Sprintf("%s: %s", fset.Position(n.Pos()), msg))
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			report(n, "starts a goroutine")
		case *ast.SelectStmt:
			report(n, "uses select")
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName && slices.Contains(wallClock, sel.Sel.Name) {
				report(n, "reads the wall clock: time."+sel.Sel.Name)
			}
			switch sel.Sel.Name {
			case "Allow", "Reserve":
				if len(n.Args) == 0 {
					report(n, sel.Sel.Name+"() reads the wall clock; use "+sel.Sel.Name+"N(now, n)")
				}
			case "Wait", "WaitN", "SetLimit", "SetBurst":
				report(n, sel.Sel.Name+" reads the wall clock; use the ...At/...N(now, ...) forms")
			}
		}
		return true
	})
	return bad, nil
}

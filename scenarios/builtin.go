package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// DefaultScenario is the built-in scenario dchat-sim runs when given no file.
const DefaultScenario = "gossip-1000-dht"

// builtinFS holds the example scenarios of this directory; each is a
// built-in scenario named after its file (ping-1000.yaml is "ping-1000").
//
//go:embed *.yaml
var builtinFS embed.FS

// BuiltinNames returns the names of the built-in scenarios, sorted.
func BuiltinNames() []string {
	entries, err := fs.ReadDir(builtinFS, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Builtin parses the built-in scenario name (e.g. "ping-1000"; a ".yaml"
// suffix is allowed) with the overrides sets, like Parse. Its File is
// "builtin:NAME". An unknown name is an error wrapping fs.ErrNotExist that
// lists the known ones.
func Builtin(name string, sets ...string) (*Scenario, error) {
	name = strings.TrimSuffix(name, ".yaml")
	data, err := builtinFS.ReadFile(name + ".yaml")
	if err != nil || name == "" || path.Base(name) != name {
		return nil, fmt.Errorf("scenarios: no built-in scenario %q (built-ins: %s): %w",
			name, strings.Join(BuiltinNames(), ", "), fs.ErrNotExist)
	}
	return Parse("builtin:"+name, data, sets...)
}

package scenarios

import (
	"fmt"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, is deterministic, and that any
// scenario it accepts survives a round trip through CanonicalYAML: the
// canonical form parses, with no overrides, to an equal Scenario. The second
// input is an optional --set override.
func FuzzParse(f *testing.F) {
	for _, name := range BuiltinNames() {
		data, err := builtinFS.ReadFile(name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "")
		f.Add(data, "nodes.count=100")
	}
	f.Add([]byte(full), "gossip_fanout=8")
	f.Add([]byte(base), "network.latency={model: matrix, file: m.csv}")
	f.Add([]byte(base+"workload:\n  - at: 1s\n    every: 1s\n    count: 5\n    ping: {from: [0-4, 9]}\n"), "duration=1m")
	f.Add([]byte(base+"faults:\n  - partition: {groups: [[0-4], [5-9]]}\n    heal_after: 1s\n"), "")
	f.Add([]byte("name: &a t\n"), "seed=-1")
	f.Fuzz(func(t *testing.T, data []byte, set string) {
		var sets []string
		if set != "" {
			sets = []string{set}
		}
		s1, err1 := Parse("fuzz/x.yaml", data, sets...)
		s2, err2 := Parse("fuzz/x.yaml", data, sets...)
		if fmt.Sprint(err1) != fmt.Sprint(err2) || !reflect.DeepEqual(s1, s2) {
			t.Fatalf("two parses differ: %v / %v", err1, err2)
		}
		if err1 != nil {
			if s1 != nil {
				t.Fatalf("error %v with a scenario", err1)
			}
			return
		}
		y, err := s1.CanonicalYAML()
		if err != nil {
			t.Fatalf("CanonicalYAML: %v", err)
		}
		back, err := Parse("fuzz/x.yaml", y)
		if err != nil {
			t.Fatalf("canonical YAML does not parse: %v\n%s", err, y)
		}
		if !reflect.DeepEqual(back, s1) {
			t.Fatalf("canonical YAML parses to\n%+v\nwant\n%+v\nYAML:\n%s", back, s1, y)
		}
	})
}

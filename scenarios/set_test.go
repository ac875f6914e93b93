package scenarios

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// position returns "LINE:COL" of the first occurrence of needle in a file.
func position(t *testing.T, file, needle string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if k := strings.Index(line, needle); k >= 0 {
			return fmt.Sprintf("%d:%d", i+1, k+1)
		}
	}
	t.Fatalf("%q not in %s", needle, file)
	return ""
}

func TestSetValues(t *testing.T) {
	s, err := Builtin("ping-50",
		"seed=7",
		"nodes.count=100",
		"network.loss=1%",
		"network.mtu=1500B",
		"network.jitter.distribution=uniform",
		"network.jitter.max=3ms",
		"nodes.bootstrap=[0, 1, 90-99]",
		"gossip_fanout=8",                 // protocol shorthand
		"protocol.ping_timeout=5s",        // creates the protocol section
		"pruning_strategy=latency",        // a string key
		"outputs=[csv, summary]",          // a flow list
		"description=",                    // null: back to the default
		"duration=20s", "duration = 30s ", // the last one wins; spaces around the key are trimmed
		"workload=[{at: 2s, ping: {from: 0-9}}]",
	)
	if err != nil {
		t.Fatal(err)
	}
	if s.Seed != 7 || s.Nodes.Count != 100 || s.Network.Loss != 0.01 || s.Network.MTU != 1500 ||
		s.Network.Jitter != (JitterSpec{Distribution: "uniform", Max: Duration(3 * time.Millisecond)}) ||
		s.Nodes.Bootstrap.String() != "[0, 1, 90-99]" || s.Protocol.GossipFanout != 8 ||
		s.Protocol.PingTimeout != 5*time.Second || s.Protocol.PruningStrategy != "latency" || !reflect.DeepEqual(s.Outputs, []string{"summary", "csv"}) ||
		s.Description != "" || s.Duration.Std() != 30*time.Second ||
		len(s.Workload) != 1 || s.Workload[0].Ping.From.String() != "[0-9]" {
		t.Errorf("got %+v", s)
	}
	roundTrip(t, s)

	// Switching ping-50 to the regions model: set the model, clear the
	// constant model's value, place the nodes. Region order is the
	// override's.
	s, err = Builtin("ping-50", "network.latency.model=regions", "network.latency.value=",
		"nodes.regions={us-east: 40%, eu-west: 60%}", "nodes.regions.ap-south=0%")
	if err != nil {
		t.Fatal(err)
	}
	want := []RegionShare{{"us-east", 0.4}, {"eu-west", 0.6}, {"ap-south", 0}}
	if !reflect.DeepEqual(s.Nodes.Regions, want) {
		t.Errorf("regions %+v, want %+v", s.Nodes.Regions, want)
	}

	// Without the second override the leftover value is reported where it
	// is in the file.
	_, err = Builtin("ping-50", "network.latency.model=regions", "nodes.regions={eu-west: 100%}")
	wantErr(t, "leftover value", err, "builtin:ping-50:"+position(t, "ping-50.yaml", "value: 20ms"),
		"network.latency.value: only for model constant (the model is regions)")
}

// A nodes.count override re-checks every node set of the file against the
// new count, and says where the count came from.
func TestSetCountRevalidates(t *testing.T) {
	src := `name: abs
duration: 30s
nodes:
  count: 1000
network:
  latency: {model: constant, value: 10ms}
faults:
  - at: 10s
    partition: {groups: [[0-499], [500-999]]}
`
	_, err := Parse("abs.yaml", []byte(src), "nodes.count=500")
	wantErr(t, "count override", err,
		"abs.yaml:9:36: faults[0].partition.groups[1]: node range 500-999 out of range: there are 500 nodes (0-499)",
		"(nodes.count is 500, from --set nodes.count=500)")
	_, err = Parse("abs.yaml", []byte(src), "nodes.count=100")
	wantErr(t, "count override", err,
		"abs.yaml:9:27: faults[0].partition.groups[0]: node range 0-499 out of range: there are 100 nodes (0-99)")

	// The built-in default splits by share, so any count works.
	for _, n := range []string{"nodes.count=7", "nodes.count=100"} {
		s, err := Builtin("ping-1000", n)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		roundTrip(t, s)
	}

	// Raising the count is fine, and so is fixing the groups too.
	for _, sets := range [][]string{
		{"nodes.count=5000"},
		{"nodes.count=100", "faults=[{at: 10s, partition: {groups: [[0-49], [50-99]]}}]"},
	} {
		s, err := Builtin("ping-1000", sets...)
		if err != nil {
			t.Errorf("%v: %v", sets, err)
			continue
		}
		roundTrip(t, s)
	}
	s, _ := Builtin("ping-1000", "nodes.count=5000")
	if s.Nodes.Count != 5000 {
		t.Errorf("count %d", s.Nodes.Count)
	}
}

func TestSetErrors(t *testing.T) {
	cases := []struct {
		sets  []string
		words string
	}{
		{[]string{"nodes.count=abc"}, `--set nodes.count=abc: nodes.count: expected an integer, got "abc"`},
		{[]string{"nodes.count=0"}, "--set nodes.count=0: nodes.count: must be positive, got 0"},
		{[]string{"network.loss=2"}, "--set network.loss=2: network.loss: fraction 2 is above 1"},
		{[]string{"nodes.bootstrap=[0, 99]"}, "--set nodes.bootstrap=[0, 99]: nodes.bootstrap: node 99 out of range: there are 50 nodes (0-49)"},
		{[]string{"gossip_fanout=x"}, `--set gossip_fanout=x: protocol.gossip_fanout: expected an integer, got "x"`},
		{[]string{"gossip_fanot=8"}, `--set gossip_fanot=8: unknown key "gossip_fanot" (did you mean "gossip_fanout"?)`},
		{[]string{"nodez=8"}, `--set nodez=8: unknown key "nodez" (did you mean "nodes"?)`},
		{[]string{"nodes.cuont=8"}, `--set nodes.cuont=8: nodes: unknown key "cuont" (did you mean "count"?)`},
		{[]string{"network.latency.modle=constant"}, `--set network.latency.modle=constant: network.latency: unknown key "modle" (did you mean "model"?)`},
		{[]string{"workload.at=1s"}, "--set workload.at=1s: workload.at: workload is a list, not a mapping; --set can only reach into mappings"},
		{[]string{"name.x=1"}, `--set name.x=1: name.x: name is "ping-50", not a mapping`},
		{[]string{"nodes"}, "--set nodes: want key=value"},
		{[]string{"=5"}, "--set =5: want key=value"},
		{[]string{"nodes..count=5"}, `--set nodes..count=5: empty name in key "nodes..count"`},
		{[]string{"name=[unclosed"}, "--set name=[unclosed: name: value is not valid YAML"},
		{[]string{"name=a\n---\nb"}, "value is not valid YAML"},
		{[]string{"name=*x"}, "value is not valid YAML"},
		{[]string{"adversaries=[{role: eclipse}]"}, "--set adversaries=[{role: eclipse}]: adversaries[0]: missing which nodes play eclipse"},
		{[]string{"nodes.nat.none=100%"}, "--set nodes.nat.none=100%: nodes.nat: NAT traversal needs rendezvous nodes: add nodes.bootstrap"},
		{[]string{"network.latency.model=matrix"}, "network.latency.value: only for model constant (the model is matrix)"},
		{[]string{"network.latency.model=matrix", "network.latency.value="}, "network.latency.file: missing: the matrix model needs a CSV file"},
		{[]string{"duration=5s"}, "workload[0].count: the last of 5 repetitions (1s + 4 × 1s) falls at 5s, not before the end of the run (duration 5s, from --set duration=5s)"},
		{[]string{"name="}, "name: missing required field"},
	}
	for _, c := range cases {
		_, err := Builtin("ping-50", c.sets...)
		wantErr(t, fmt.Sprint(c.sets), err, c.words)
	}
	_, err := Builtin("ping-50", "churn={rate: 1/s}")
	wantErr(t, "churn via --set", err, `--set churn={rate: 1/s}: churn: unknown key "rate"`)
	// A file that is not a mapping cannot take overrides.
	_, err = Parse("x.yaml", []byte("- 1\n"), "seed=1")
	wantErr(t, "list file", err, "x.yaml:1:1: a scenario must be a mapping")
}

package scenarios

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dchat/network/core"
)

// base is a valid scenario of six lines; tests append lines from line 7.
const base = `name: t
duration: 10s
nodes:
  count: 10
network:
  latency: {model: constant, value: 5ms}
`

// TestParseErrors feeds one bad input per kind of mistake and checks that
// the message names the place (FILE:LINE:COL) and says what is wrong.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		pos   string // "LINE:COL", "" for an error without a position
		words []string
		unsup bool // wraps ErrUnsupported
	}{
		// Keys and structure.
		{"unknown top-level key", "name: t\nduration: 10s\nnodez:\n  count: 10\n", "3:1",
			[]string{`unknown key "nodez" (did you mean "nodes"?)`}, false},
		{"unknown nested key", base + "  loos: 1%\n", "7:3",
			[]string{`network: unknown key "loos" (did you mean "loss"?)`}, false},
		{"unknown key, case and dash", base + "faults:\n  - at: 1s\n    crash: {share: 5%, Restart-After: 1s}\n", "9:24",
			[]string{`faults[0].crash: unknown key "Restart-After" (did you mean "restart_after"?)`}, false},
		{"unknown key, nothing close", base + "  zzzzzz: 1\n", "7:3",
			[]string{`network: unknown key "zzzzzz"`}, false},
		{"duplicate key", base + "  latency: {model: regions}\n", "7:3",
			[]string{`network: duplicate key "latency" (first at line 6)`}, false},
		{"list for a mapping", "name: t\nduration: 10s\nnodes: [1, 2]\n", "3:8",
			[]string{"nodes: expected a mapping (key: value lines), got a list"}, false},
		{"scenario is a list", "- name: t\n", "1:1",
			[]string{"a scenario must be a mapping", "got a list"}, false},
		{"scenario is a scalar", "hello\n", "1:1",
			[]string{"a scenario must be a mapping", `got "hello"`}, false},
		{"mapping key is a list", "[a]: 1\n", "1:1",
			[]string{"keys must be plain names, got a list"}, false},
		{"empty file", "", "",
			[]string{"x.yaml: empty scenario: the file holds no YAML document"}, false},
		{"only comments", "# nothing\n", "",
			[]string{"empty scenario"}, false},
		{"two documents", "name: t\n---\nname: u\n", "",
			[]string{"several YAML documents"}, false},
		{"yaml syntax", "name: t\nnodes: {count: 10\n", "3:1",
			[]string{"yaml: did not find expected ',' or '}' (while parsing a flow mapping)"}, false},
		{"yaml tab", "name: t\nnodes:\n\tcount: 10\n", "3:1",
			[]string{"yaml: found character that cannot start any token"}, false},
		{"alias", "name: &n t\ndescription: *n\n", "2:14",
			[]string{"aliases (*n) are not supported"}, false},
		{"merge key", "name: t\nduration: 10s\nnodes:\n  <<: {count: 10}\n", "4:3",
			[]string{"merge keys (<<) are not supported"}, false},

		// Required fields.
		{"missing name", "duration: 10s\nnodes:\n  count: 10\n", "1:1",
			[]string{"name: missing required field"}, false},
		{"missing duration", "name: t\nnodes: {count: 10}\n", "1:1",
			[]string{"duration: missing required field"}, false},
		{"missing nodes", "name: t\nduration: 10s\n", "1:1",
			[]string{"nodes: missing required section"}, false},
		{"missing count", "name: t\nduration: 10s\nnodes:\n  bootstrap: [0]\n", "4:3",
			[]string{"nodes.count: missing required field"}, false},
		{"missing regions for the regions model", "name: t\nduration: 10s\nnodes:\n  count: 10\n", "4:3",
			[]string{"nodes.regions: missing: the regions latency model"}, false},
		{"bad name", "name: my scenario\n", "1:7",
			[]string{`name: must be a short identifier`, `"my scenario"`}, false},

		// Types.
		{"string for an int", "name: t\nduration: 10s\nnodes:\n  count: abc\n", "4:10",
			[]string{`nodes.count: expected an integer, got "abc"`}, false},
		{"float for an int", "name: t\nduration: 10s\nnodes:\n  count: 1.5\n", "4:10",
			[]string{`nodes.count: expected an integer, got the number 1.5`}, false},
		{"commas in an int", "name: t\nduration: 10s\nnodes:\n  count: 1,000\n", "4:10",
			[]string{`write it without commas, e.g. 1000`}, false},
		{"string for a bool", base + "  reorder: yes\n", "7:12",
			[]string{`network.reorder: expected true or false, got "yes"`}, false},
		{"mapping for a duration", "name: t\nduration: {s: 1}\n", "2:11",
			[]string{"duration: expected a duration such as 250ms, got a mapping"}, false},
		{"negative seed", base + "seed: -1\n", "7:7",
			[]string{"seed: must not be negative, got -1"}, false},
		{"string seed", base + "seed: x\n", "7:7",
			[]string{`seed: expected an integer from 0 to 18446744073709551615, got "x"`}, false},

		// Units.
		{"bad duration unit", "name: t\nduration: 5 parsecs\n", "2:11",
			[]string{`duration: bad duration "5 parsecs": unknown unit`}, false},
		{"bare duration", "name: t\nduration: 30\n", "2:11",
			[]string{`duration: duration "30" has no unit; add a unit, e.g. 250ms`}, false},
		{"unknown key after a section", base + "faults: []\n" + "x: 1\n", "8:1", []string{`unknown key "x"`}, false},
		{"bandwidth in Mbit", "name: t\nduration: 10s\nnodes:\n  count: 10\n  bandwidth:\n    - {share: 100%, up: 10 Mbit, down: 1Gbps}\n", "6:25",
			[]string{`nodes.bandwidth[0].up: bad bandwidth "10 Mbit": unknown unit "Mbit"`}, false},
		{"bandwidth in bytes", "name: t\nduration: 10s\nnodes:\n  count: 10\n  bandwidth:\n    - {share: 100%, up: 10MBps, down: 1Gbps}\n", "6:25",
			[]string{"bits per second: write 80Mbps"}, false},
		{"bare size", base + "  mtu: 1500\n", "7:8",
			[]string{`network.mtu: size "1500" has no unit; add a unit, e.g. 1500B`}, false},
		{"size in bits", base + "  mtu: 1500b\n", "7:8",
			[]string{`unknown unit "b" (sizes are bytes, B; b or bit would be bits)`}, false},

		// Ranges.
		{"count negative", "name: t\nduration: 10s\nnodes:\n  count: -3\n", "4:10",
			[]string{"x.yaml:4:10: nodes.count: must be positive, got -3"}, false},
		{"count zero", "name: t\nduration: 10s\nnodes:\n  count: 0\n", "4:10",
			[]string{"nodes.count: must be positive, got 0"}, false},
		{"count too large", "name: t\nduration: 10s\nnodes:\n  count: 2_000_000\n", "4:10",
			[]string{"nodes.count: at most 1000000 nodes, got 2000000"}, false},
		{"duration zero", "name: t\nduration: 0s\n", "2:11",
			[]string{"duration: must be positive, got 0s"}, false},
		{"duration negative", "name: t\nduration: -5s\n", "2:11",
			[]string{"duration: must be positive, got -5s"}, false},
		{"fraction above 100%", base + "  loss: 150%\n", "7:9",
			[]string{"network.loss: 150% is above 100%"}, false},
		{"fraction above 1", base + "  loss: 30\n", "7:9",
			[]string{"network.loss: fraction 30 is above 1; write a percentage, e.g. 30%"}, false},
		{"fraction negative", base + "  loss: -1%\n", "7:9",
			[]string{"network.loss: -1% is negative"}, false},
		{"loss of 100%", base + "  loss: 100%\n", "7:9",
			[]string{"network.loss: must be below 100%, got 100%"}, false},
		{"mtu too small", base + "  mtu: 10B\n", "7:8",
			[]string{"network.mtu: must be 0 (unlimited) or from 68B"}, false},
		{"negative at", base + "workload:\n  - at: -1s\n    ping: {}\n", "8:9",
			[]string{"workload[0].at: must not be negative, got -1s"}, false},
		{"negative restart_after", base + "faults:\n  - crash: {share: 5%, restart_after: -1s}\n", "8:39",
			[]string{"faults[0].crash.restart_after: must not be negative, got -1s"}, false},
		{"stretch below 1", "name: t\nduration: 10s\nnodes: {count: 1, regions: {eu-west: 100%}}\nnetwork:\n  latency: {model: regions, stretch: 0.5}\n", "5:38",
			[]string{"network.latency.stretch: must be between 1 and 10"}, false},
		{"constant latency zero", "name: t\nduration: 10s\nnodes: {count: 1}\nnetwork:\n  latency: {model: constant, value: 0s}\n", "5:37",
			[]string{"network.latency.value: must be positive"}, false},
		{"jitter above 1h", base + "  jitter: {distribution: uniform, max: 2h}\n", "7:40",
			[]string{"network.jitter.max: must be positive and at most 1h, got 2h"}, false},

		// Node indices against the node count.
		{"bootstrap index out of range", "name: t\nduration: 10s\nnodes:\n  count: 10\n  bootstrap: [0, 10]\n", "5:18",
			[]string{"nodes.bootstrap: node 10 out of range: there are 10 nodes (0-9)"}, false},
		{"group range out of range", base + "faults:\n  - at: 1s\n    partition: {groups: [[0-4], [5-20]]}\n", "9:34",
			[]string{"faults[0].partition.groups[1]: node range 5-20 out of range: there are 10 nodes (0-9)"}, false},
		{"crash nodes out of range", base + "faults:\n  - crash: {nodes: 10-12}\n", "8:20",
			[]string{"faults[0].crash.nodes: node range 10-12 out of range"}, false},
		{"ping from out of range", base + "workload:\n  - ping: {from: [0, 99]}\n", "8:22",
			[]string{"workload[0].ping.from: node 99 out of range"}, false},
		{"bad node index", base + "workload:\n  - ping: {from: [0, x]}\n", "8:22",
			[]string{`workload[0].ping.from: bad node index "x"`}, false},
		{"reversed range", base + "workload:\n  - ping: {from: [5-2]}\n", "8:19",
			[]string{"node range 5-2 is reversed; write 2-5"}, false},
		{"empty from", base + "workload:\n  - ping: {from: []}\n", "8:18",
			[]string{"workload[0].ping.from: empty node set"}, false},

		// Shares.
		{"region shares", "name: t\nduration: 10s\nnodes:\n  count: 10\n  regions: {eu-west: 50%, us-east: 40%}\n", "5:12",
			[]string{"nodes.regions: shares sum to 90%, want 100% (±0.01%)"}, false},
		{"bandwidth shares", "name: t\nduration: 10s\nnodes:\n  count: 10\n  bandwidth:\n    - {share: 50%, up: 1Mbps, down: 1Mbps}\n", "6:5",
			[]string{"nodes.bandwidth: shares sum to 50%, want 100%"}, false},
		{"bandwidth zero", "name: t\nduration: 10s\nnodes:\n  count: 10\n  bandwidth:\n    - {share: 100%, up: 0bps, down: 1Mbps}\n", "6:25",
			[]string{"nodes.bandwidth[0].up: must be positive, got 0bps"}, false},
		{"bandwidth class missing down", "name: t\nduration: 10s\nnodes:\n  count: 10\n  bandwidth:\n    - {share: 100%, up: 1Mbps}\n", "6:7",
			[]string{"nodes.bandwidth[0].down: missing required field"}, false},

		// Names.
		{"unknown region", "name: t\nduration: 10s\nnodes:\n  count: 10\n  regions: {eu-wset: 100%}\n", "5:13",
			[]string{`nodes.regions: unknown region "eu-wset" (did you mean "eu-west"?)`, "regions are af-south,"}, false},
		{"unknown latency model", "name: t\nduration: 10s\nnodes: {count: 1}\nnetwork:\n  latency: {model: geo}\n", "5:20",
			[]string{`network.latency.model: unknown latency model "geo" (want regions, constant or matrix)`}, false},
		{"unknown jitter distribution", base + "  jitter: {distribution: gauss}\n", "7:26",
			[]string{`network.jitter.distribution: unknown distribution "gauss"`}, false},
		{"unknown ping target", base + "workload:\n  - ping: {target: randompeer}\n", "8:20",
			[]string{`workload[0].ping.target: unknown target "randompeer" (did you mean "random-peer"?)`}, false},
		{"unknown output", base + "outputs: [summary, plot]\n", "7:20",
			[]string{`outputs[1]: unknown output "plot" (did you mean "plots"?)`}, false},

		// Model parameters.
		{"constant without value", "name: t\nduration: 10s\nnodes: {count: 1}\nnetwork:\n  latency: {model: constant}\n", "5:12",
			[]string{"network.latency.value: missing: the constant model needs a one-way delay"}, false},
		{"matrix without file", "name: t\nduration: 10s\nnodes: {count: 1}\nnetwork:\n  latency: {model: matrix}\n", "5:12",
			[]string{"network.latency.file: missing: the matrix model needs a CSV file"}, false},
		{"value for the matrix model", "name: t\nduration: 10s\nnodes: {count: 1}\nnetwork:\n  latency: {model: matrix, file: a.csv, value: 5ms}\n", "5:41",
			[]string{"network.latency.value: only for model constant (the model is matrix)"}, false},
		{"jitter: wrong parameter", base + "  jitter: {distribution: normal, max: 5ms}\n", "7:34",
			[]string{"network.jitter.max: not a parameter of distribution normal (it takes stddev)"}, false},
		{"jitter: missing parameter", base + "  jitter: {distribution: exponential}\n", "7:11",
			[]string{"network.jitter.mean: missing: distribution exponential needs mean"}, false},
		{"jitter: parameter for none", base + "  jitter: {stddev: 5ms}\n", "7:12",
			[]string{"network.jitter.stddev: distribution none takes no parameter"}, false},

		// Timeline.
		{"workload after the end", base + "workload:\n  - at: 10s\n    ping: {}\n", "8:9",
			[]string{"workload[0].at: 10s is not before the end of the run (duration 10s)"}, false},
		{"last repetition after the end", base + "workload:\n  - at: 1s\n    every: 1s\n    count: 20\n    ping: {}\n", "10:12",
			[]string{"workload[0].count: the last of 20 repetitions (1s + 19 × 1s) falls at 20s, not before the end of the run (duration 10s)"}, false},
		{"repetitions overflow", base + "workload:\n  - every: 2562047h\n    count: 9\n    ping: {}\n", "9:12",
			[]string{"workload[0].count: the last of 9 repetitions", "falls far beyond"}, false},
		{"count without every", base + "workload:\n  - count: 5\n    ping: {}\n", "8:12",
			[]string{"workload[0].count: 5 repetitions need an interval: add every"}, false},
		{"count zero", base + "workload:\n  - count: 0\n    ping: {}\n", "8:12",
			[]string{"workload[0].count: must be at least 1, got 0"}, false},
		{"workload without a kind", base + "workload:\n  - at: 1s\n", "8:5",
			[]string{"workload[0]: missing the kind of work: add ping"}, false},
		{"workload is a mapping", base + "workload:\n  at: 1s\n", "8:3",
			[]string{"workload: expected a list of workload entries (lines starting with -), got a mapping"}, false},
		{"fault after the end", base + "faults:\n  - at: 10s\n    crash: {share: 5%}\n", "8:9",
			[]string{"faults[0].at: 10s is not before the end of the run (duration 10s)"}, false},
		{"fault without a kind", base + "faults:\n  - at: 1s\n", "8:5",
			[]string{"faults[0]: missing the kind of fault: add partition: {...}, crash: {...}, link: {...} or skew: {...}"}, false},
		{"fault with two kinds", base + "faults:\n  - partition: {groups: [0, 1]}\n    crash: {share: 5%}\n", "9:5",
			[]string{"faults[0]: one fault per entry"}, false},
		{"heal_after on a crash", base + "faults:\n  - at: 1s\n    crash: {share: 5%}\n    heal_after: 1s\n", "10:5",
			[]string{"faults[0].heal_after: only for partitions"}, false},
		{"overlapping groups", base + "faults:\n  - at: 1s\n    partition: {groups: [[0-4], [4-9]]}\n", "9:25",
			[]string{"faults[0].partition.groups: groups 0 and 1 overlap (both hold node 4); groups must be disjoint"}, false},
		{"all overlaps everything", base + "faults:\n  - partition: {groups: [all, [3]]}\n", "8:25",
			[]string{"groups 0 and 1 overlap (both hold node 3)"}, false},
		{"one group", base + "faults:\n  - at: 1s\n    partition: {groups: [[0-9]]}\n", "9:25",
			[]string{"faults[0].partition.groups: a partition needs at least 2 groups, got 1"}, false},
		{"empty group", base + "faults:\n  - partition: {groups: [[0], []]}\n", "8:31",
			[]string{"faults[0].partition.groups[1]: empty group"}, false},
		{"crash nodes and share", base + "faults:\n  - at: 1s\n    crash: {nodes: [1], share: 5%}\n", "9:25",
			[]string{"faults[0].crash: give nodes or share, not both"}, false},
		{"crash neither", base + "faults:\n  - at: 1s\n    crash: {restart_after: 1s}\n", "9:12",
			[]string{"faults[0].crash: missing which nodes crash"}, false},
		{"crash share zero", base + "faults:\n  - crash: {share: 0%}\n", "8:20",
			[]string{"faults[0].crash.share: must be positive, got 0%"}, false},
		{"fault count without every", base + "faults:\n  - count: 2\n    crash: {share: 5%}\n", "8:12",
			[]string{"faults[0].count: 2 repetitions need an interval: add every"}, false},
		{"fault every without count", base + "faults:\n  - every: 2s\n    crash: {share: 5%}\n", "8:12",
			[]string{"faults[0].every: every needs count"}, false},
		{"fault repetition after the end", base + "faults:\n  - at: 1s\n    every: 3s\n    count: 4\n    crash: {share: 5%}\n", "10:12",
			[]string{"faults[0].count: the last of 4 repetitions (1s + 3 × 3s) falls at 10s, not before the end of the run (duration 10s)"}, false},
		{"repeated crash overlaps", base + "faults:\n  - every: 2s\n    count: 3\n    crash: {share: 5%, restart_after: 2s}\n", "9:5",
			[]string{"faults[0].crash.restart_after: a repeated crash must restart its nodes before the next: need restart_after < every (2s), got 2s"}, false},
		{"repeated partition never heals", base + "faults:\n  - every: 2s\n    count: 3\n    partition: {groups: [[0-4], [5-9]]}\n", "9:5",
			[]string{"faults[0].heal_after: a repeated partition must heal before the next: need 0 < heal_after < every (2s), got 0s"}, false},
		{"keep_state without restart", base + "faults:\n  - at: 1s\n    crash: {share: 5%, keep_state: true}\n", "9:36",
			[]string{"faults[0].crash.keep_state: needs restart_after"}, false},
		{"ping bootstrap without bootstrap", base + "workload:\n  - ping: {target: bootstrap}\n", "8:20",
			[]string{"workload[0].ping.target: target bootstrap needs nodes.bootstrap"}, false},

		// Outputs.
		{"output twice", base + "outputs: [trace, trace]\n", "7:18",
			[]string{"outputs[1]: trace is listed twice"}, false},
		{"trace_gzip without trace", base + "outputs: [summary]\ntrace_gzip: true\n", "8:13",
			[]string{"trace_gzip: needs trace in outputs"}, false},

		// Protocol.
		{"unknown protocol key", base + "protocol:\n  gossip_fanot: 8\n", "8:3",
			[]string{`protocol: unknown key "gossip_fanot" (did you mean "gossip_fanout"?)`}, false},
		{"protocol type", base + "protocol:\n  gossip_fanout: many\n", "8:18",
			[]string{`protocol.gossip_fanout: expected an integer, got "many"`}, false},
		{"protocol bare duration", base + "protocol:\n  ping_timeout: 5\n", "8:17",
			[]string{`protocol.ping_timeout: duration "5" has no unit`}, false},
		{"protocol out of range, key given", base + "protocol:\n  gossip_fanout: 0\n", "8:18",
			[]string{"protocol.gossip_fanout: must be positive, got 0"}, false},
		{"protocol cross-field, other key given", base + "protocol:\n  max_connections: 20\n", "8:3",
			[]string{"protocol.target_connections: must not exceed max_connections (20), got 30"}, false},
		{"protocol unknown strategy", base + "protocol:\n  pruning_strategy: random\n", "8:21",
			[]string{`protocol.pruning_strategy: unknown strategy "random" (want one of lru, reputation, latency, combined)`}, false},
		{"protocol strategy not a string", base + "protocol:\n  pruning_strategy: [lru]\n", "8:21",
			[]string{"protocol.pruning_strategy: expected a string, got a list"}, false},
		{"protocol infinite float", base + "protocol:\n  gossip_peer_rate: .inf\n", "8:21",
			[]string{"protocol.gossip_peer_rate: expected a finite number, got .inf"}, false},

		{"adversary unknown role", base + "adversaries:\n  - role: blackhole\n    share: 5%\n", "8:11",
			[]string{`adversaries[0].role: unknown role "blackhole" (did you mean "black-hole"?)`}, false},
		{"adversary victim missing", base + "adversaries:\n  - {role: eclipse, share: 5%}\n", "8:5",
			[]string{"adversaries[0].victim: missing: eclipse targets one node"}, false},
		{"adversary param for another role", base + "adversaries:\n  - {role: black-hole, share: 5%, rate: 10}\n", "8:35",
			[]string{"adversaries[0].rate: black-hole takes no rate (rate is for spam, forged-signatures)"}, false},

		// Not supported yet.
		{"nat without bootstrap", "name: t\nduration: 10s\nnodes:\n  count: 10\n  nat: {none: 100%}\n", "5:3",
			[]string{"nodes.nat: NAT traversal needs rendezvous nodes: add nodes.bootstrap"}, false},
		{"nat unknown type", "name: t\nduration: 10s\nnodes:\n  count: 10\n  bootstrap: [0]\n  nat: {none: 50%, symetric: 50%}\n", "6:20",
			[]string{`nodes.nat: unknown key "symetric" (did you mean "symmetric"?)`}, false},
		{"nat shares", "name: t\nduration: 10s\nnodes:\n  count: 10\n  bootstrap: [0]\n  nat: {none: 50%, symmetric: 40%}\n", "6:8",
			[]string{"nodes.nat: shares sum to 90%, want 100%"}, false},
		{"nat with private", "name: t\nduration: 10s\nnodes:\n  count: 10\n  bootstrap: [0]\n  private: 20%\n  nat: {none: 100%}\n", "7:3",
			[]string{"nodes.nat: nodes.private is the filter-only model"}, false},
		{"network.nat without nodes.nat", base + "  nat: {upnp: 10%}\n", "7:3",
			[]string{"network.nat: the NAT model's servers need NATed nodes: add nodes.nat"}, false},
		{"nat all servers", "name: t\nduration: 10s\nnodes:\n  count: 2\n  bootstrap: [0]\n  nat: {symmetric: 100%}\nnetwork:\n  latency: {model: constant, value: 10ms}\n  nat: {turn: [1]}\n", "9:8",
			[]string{"network.nat: every node is a bootstrap, STUN or TURN server"}, false},
		{"nat stun empty", "name: t\nduration: 10s\nnodes:\n  count: 4\n  bootstrap: [0]\n  nat: {symmetric: 100%}\nnetwork:\n  latency: {model: constant, value: 10ms}\n  nat: {stun: []}\n", "9:15",
			[]string{"network.nat.stun: no STUN server"}, false},
		{"connect without nat", base + "workload:\n  - connect: {count: 10}\n", "8:5",
			[]string{"workload[0].connect: connect runs NAT traversal, which needs nodes.nat"}, false},
		{"publish and ping", base + "workload:\n  - at: 1s\n    ping: {}\n    publish: {from: random, size: 512B}\n", "8:5",
			[]string{"workload[0]: one kind of work per entry"}, false},
		{"publish size", base + "workload:\n  - publish: {size: 100kB}\n", "8:21",
			[]string{"workload[0].publish.size: must be from 1B to 60KiB, got 100kB"}, false},
		{"topology model", base + "topology: {model: ring}\n", "7:19",
			[]string{`topology.model: unknown model "ring" (want random or dht)`}, false},
		{"topology dht", base + "topology: {model: dht}\n", "7:19",
			[]string{"topology.model: model dht needs nodes.bootstrap"}, false},
		{"topology degree", base + "topology: {degree: 0}\n", "7:20",
			[]string{"topology.degree: must be from 1 to 1000, got 0"}, false},
		{"lookups", base + "workload:\n  - lookups: {count: 1000, target: random-peer}\n", "8:5",
			[]string{"workload[0].lookups: lookups need the DHT, which needs nodes.bootstrap"}, false},
		{"churn", base + "churn: {rate: 1/s}\n", "7:9",
			[]string{`churn: unknown key "rate"`}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("no error; want %q", c.words)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %q (%T) is not an *Error", err, err)
			}
			prefix := "x.yaml: "
			if c.pos != "" {
				prefix = "x.yaml:" + c.pos + ": "
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
			wantErr(t, c.name, err, c.words...)
			if errors.Is(err, ErrUnsupported) != c.unsup {
				t.Errorf("errors.Is(%q, ErrUnsupported) = %v, want %v", err, !c.unsup, c.unsup)
			}
		})
	}
}

// Protocol errors from core.Config.Validate keep their sentinel.
func TestProtocolErrorWrapsCore(t *testing.T) {
	_, err := Parse("x.yaml", []byte(base+"protocol:\n  dht_alpha: 0\n"))
	if !errors.Is(err, core.ErrConfig) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap core.ErrConfig and ErrInvalid", err)
	}
	if !strings.HasPrefix(err.Error(), "x.yaml:8:14: protocol.dht_alpha: must be positive, got 0") {
		t.Errorf("error %q", err)
	}
}

// full uses every field of the schema.
const full = `name: full
description: every field
seed: 42
duration: 5m
nodes:
  count: 1000
  regions:
    us-east: 30%
    eu-west: 30%
    ap-southeast: 20%
    sa-east: 10%
    af-south: 10%
  bandwidth:
    - {share: 80%, up: 20Mbps, down: 100Mbps}
    - {share: 20%, up: 2Mbps, down: 10Mbit/s}
  bootstrap: [0, 1, 2]
network:
  latency: {model: regions, stretch: 1.7, access: 3ms}
  jitter: {distribution: uniform, max: 5ms}
  loss: 0.5%
  mtu: 1500B
  reorder: true
protocol:
  k_bucket_size: 16
  dht_alpha: 4
  gossip_fanout: 8
  gossip_peer_rate: 12.5
  max_connections: 60
  enable_upnp: false
  dht_request_timeout: 1500ms
workload:
  - at: 30s
    every: 1s
    count: 100
    ping: {from: [0-99, 500], target: bootstrap}
  - at: 2m
    ping: {}
faults:
  - at: 1m
    partition: {groups: [[0-499], [500-999]]}
    heal_after: 60s
  - at: 3m
    crash: {share: 10%, restart_after: 30s, keep_state: true}
  - at: 4m
    every: 20s
    count: 3
    crash: {nodes: [7, 900-909]}
adversaries: []
outputs: [report, summary, trace]
trace_gzip: true
`

func TestParseFull(t *testing.T) {
	s, err := Parse("dir/full.yaml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	proto := core.DefaultConfig()
	proto.KBucketSize, proto.DHTAlpha, proto.GossipFanout = 16, 4, 8
	proto.GossipPeerRate, proto.MaxConnections, proto.EnableUPnP = 12.5, 60, false
	proto.DHTRequestTimeout = 1500 * time.Millisecond
	want := &Scenario{
		File:        "dir/full.yaml",
		Name:        "full",
		Description: "every field",
		Seed:        42,
		Duration:    Duration(5 * time.Minute),
		Nodes: Nodes{
			Count: 1000,
			Regions: []RegionShare{
				{"us-east", 0.3}, {"eu-west", 0.3}, {"ap-southeast", 0.2}, {"sa-east", 0.1}, {"af-south", 0.1},
			},
			Bandwidth: []BandwidthClass{
				{Share: 0.8, Up: 20e6, Down: 100e6},
				{Share: 0.2, Up: 2e6, Down: 10e6},
			},
			Bootstrap: NodeSet{Ranges: [][2]int{{0, 0}, {1, 1}, {2, 2}}},
		},
		Network: Network{
			Latency: LatencySpec{Model: "regions", Stretch: 1.7, Access: Duration(3 * time.Millisecond)},
			Jitter:  JitterSpec{Distribution: "uniform", Max: Duration(5 * time.Millisecond)},
			Loss:    0.005,
			MTU:     1500,
			Reorder: true,
		},
		Topology: Topology{Model: TopologyRandom, Degree: 8},
		Protocol: proto,
		Workload: []Workload{
			{At: Duration(30 * time.Second), Every: Duration(time.Second), Count: 100,
				Ping: &PingWork{From: NodeSet{Ranges: [][2]int{{0, 99}, {500, 500}}}, Target: "bootstrap"}},
			{At: Duration(2 * time.Minute), Count: 1, Ping: &PingWork{From: AllNodes(), Target: "random-peer"}},
		},
		Faults: []Fault{
			{At: Duration(time.Minute), HealAfter: Duration(time.Minute), Count: 1,
				Partition: &Partition{Groups: []NodeSet{{Ranges: [][2]int{{0, 499}}}, {Ranges: [][2]int{{500, 999}}}}}},
			{At: Duration(3 * time.Minute), Count: 1, Crash: &Crash{Share: 0.1, RestartAfter: Duration(30 * time.Second), KeepState: true}},
			{At: Duration(4 * time.Minute), Every: Duration(20 * time.Second), Count: 3,
				Crash: &Crash{Nodes: NodeSet{Ranges: [][2]int{{7, 7}, {900, 909}}}}},
		},
		Outputs:   []string{"summary", "trace", "report"},
		TraceGzip: true,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got\n%+v\nwant\n%+v", s, want)
	}
	roundTrip(t, s)
}

// roundTrip checks that the canonical YAML of s parses back to s.
func roundTrip(t *testing.T, s *Scenario) {
	t.Helper()
	y, err := s.CanonicalYAML()
	if err != nil {
		t.Fatalf("CanonicalYAML: %v", err)
	}
	back, err := Parse(s.File, y)
	if err != nil {
		t.Fatalf("canonical YAML does not parse: %v\n%s", err, y)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("canonical YAML parses to\n%+v\nwant\n%+v\nYAML:\n%s", back, s, y)
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse("x.yaml", []byte("name: min\nduration: 1m\nnodes: {count: 3, regions: {eu-west: 100%}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{
		File: "x.yaml", Name: "min", Seed: 1, Duration: Duration(time.Minute),
		Nodes:    Nodes{Count: 3, Regions: []RegionShare{{"eu-west", 1}}},
		Network:  Network{Latency: LatencySpec{Model: "regions"}, Jitter: JitterSpec{Distribution: "none"}},
		Topology: Topology{Model: TopologyRandom, Degree: 8},
		Protocol: core.DefaultConfig(),
		Outputs:  []string{"summary", "trace", "csv"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got\n%+v\nwant\n%+v", s, want)
	}
	roundTrip(t, s)

	// Null sections and explicit empty lists mean the defaults too; seed 0
	// is a seed like any other.
	s, err = Parse("x.yaml", []byte(base+"workload:\nfaults: []\nadversaries:\nprotocol:\nseed: 0\noutputs: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Workload != nil || s.Faults != nil || s.Protocol != core.DefaultConfig() || s.Seed != 0 || len(s.Outputs) != 0 {
		t.Errorf("got %+v", s)
	}
	for src, want := range map[string]uint64{"0x10": 16, "1_000": 1000, "18446744073709551615": 1<<64 - 1, "+5": 5} {
		s, err := Parse("x.yaml", []byte(base+"seed: "+src+"\n"))
		if err != nil || s.Seed != want {
			t.Errorf("seed %s: %v, %v; want %d", src, s, err, want)
		}
	}
	// A ping with no parameters pings random peers from every node.
	s, err = Parse("x.yaml", []byte(base+"workload:\n  - ping:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Workload[0].Ping; !p.From.All || p.Target != "random-peer" || s.Workload[0].Count != 1 {
		t.Errorf("ping defaults: %+v", p)
	}
}

// Region shares keep the file's order (the runner assigns by it), and may
// be off 100% by at most 0.01%.
func TestRegionOrderAndTolerance(t *testing.T) {
	src := "name: t\nduration: 1s\nnodes:\n  count: 3\n  regions:\n    us-west: 33.33%\n    af-south: 33.33%\n    eu-north: 33.33%\n"
	s, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range s.Nodes.Regions {
		got = append(got, r.Region)
	}
	if want := []string{"us-west", "af-south", "eu-north"}; !reflect.DeepEqual(got, want) {
		t.Errorf("regions %v, want %v", got, want)
	}
	roundTrip(t, s)
	_, err = Parse("x.yaml", []byte(strings.ReplaceAll(src, "33.33%", "33.3%")))
	wantErr(t, "99.9%", err, "shares sum to 99.9%")
}

func TestMatrixPath(t *testing.T) {
	doc := func(file string) []byte {
		return []byte("name: t\nduration: 1s\nnodes: {count: 2}\nnetwork:\n  latency: {model: matrix, file: " + file + "}\n")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(t.TempDir(), "scen")
	cases := []struct {
		scenario, file, want string
	}{
		{filepath.Join(abs, "x.yaml"), "lat.csv", filepath.Join(abs, "lat.csv")},
		{filepath.Join(abs, "x.yaml"), "../data/./lat.csv", filepath.Join(filepath.Dir(abs), "data", "lat.csv")},
		{"rel/dir/x.yaml", "lat.csv", filepath.Join(wd, "rel", "dir", "lat.csv")},
		{"x.yaml", "lat.csv", filepath.Join(wd, "lat.csv")},
		{"rel/x.yaml", "/abs//m.csv", "/abs/m.csv"},
		{"builtin:foo", "lat.csv", filepath.Join(wd, "lat.csv")},
	}
	for _, c := range cases {
		s, err := Parse(c.scenario, doc(c.file))
		if err != nil {
			t.Errorf("%s with %s: %v", c.scenario, c.file, err)
			continue
		}
		if s.Network.Latency.File != c.want {
			t.Errorf("%s with %s: file %q, want %q", c.scenario, c.file, s.Network.Latency.File, c.want)
		}
		roundTrip(t, s)
	}
	// From a --set, a relative path is relative to the working directory.
	s, err := Parse(filepath.Join(abs, "x.yaml"), doc("lat.csv"), "network.latency.file=other.csv")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "other.csv"); s.Network.Latency.File != want {
		t.Errorf("file from --set: %q, want %q", s.Network.Latency.File, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(base+"  loss: 2%\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path, "seed=9")
	if err != nil {
		t.Fatal(err)
	}
	if s.File != path || s.Seed != 9 || s.Network.Loss != 0.02 {
		t.Errorf("got %+v", s)
	}
	if err := os.WriteFile(path, []byte(base+"  loss: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	wantErr(t, "Load", err, path+":7:9: network.loss: fraction 2 is above 1")
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestBuiltins(t *testing.T) {
	names := BuiltinNames()
	if len(names) < 2 || !contains(names, DefaultScenario) || !contains(names, "ping-50") {
		t.Fatalf("BuiltinNames() = %v", names)
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("BuiltinNames not sorted: %v", names)
		}
	}
	for _, name := range names {
		s, err := Builtin(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if s.Name != name || s.File != "builtin:"+name {
			t.Errorf("%s: name %q, file %q", name, s.Name, s.File)
		}
		roundTrip(t, s)
		// The example files load from disk just the same.
		fromDisk, err := Load(name + ".yaml")
		if err != nil {
			t.Errorf("Load(%s.yaml): %v", name, err)
			continue
		}
		fromDisk.File = s.File
		if !reflect.DeepEqual(fromDisk, s) {
			t.Errorf("%s: the file on disk and the built-in differ", name)
		}
	}
	if _, err := Builtin("ping-50.yaml"); err != nil {
		t.Errorf("Builtin with .yaml suffix: %v", err)
	}
	for _, bad := range []string{"nope", "", "../scenarios/ping-50", "."} {
		_, err := Builtin(bad)
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "ping-1000, ping-50") {
			t.Errorf("Builtin(%q): %v", bad, err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestExampleValues(t *testing.T) {
	s, err := Builtin("ping-1000")
	if err != nil {
		t.Fatal(err)
	}
	if s.Nodes.Count != 1000 || len(s.Nodes.Regions) != 9 || s.Nodes.Regions[0].Region != "eu-west" ||
		len(s.Nodes.Bandwidth) != 2 || s.Network.Latency.Model != "regions" ||
		s.Network.Jitter != (JitterSpec{Distribution: "normal", Stddev: Duration(2 * time.Millisecond)}) ||
		s.Network.Loss != 0.001 || s.Duration.Std() != 30*time.Second {
		t.Errorf("ping-1000: %+v", s)
	}
	if w := s.Workload; len(w) != 1 || w[0].At.Std() != time.Second || w[0].Every.Std() != time.Second || w[0].Count != 20 ||
		!w[0].Ping.From.All || w[0].Ping.Target != "random-peer" {
		t.Errorf("ping-1000 workload: %+v", w)
	}
	if f := s.Faults; len(f) != 2 || f[0].Partition == nil || f[0].At.Std() != 10*time.Second || f[0].HealAfter.Std() != 5*time.Second ||
		f[1].Crash == nil || f[1].Crash.Share != 0.05 || f[1].Crash.RestartAfter.Std() != 5*time.Second || !f[1].Crash.KeepState {
		t.Errorf("ping-1000 faults: %+v", f)
	}
	s, err = Builtin("ping-50")
	if err != nil {
		t.Fatal(err)
	}
	if s.Nodes.Count != 50 || s.Network.Latency != (LatencySpec{Model: "constant", Value: Duration(20 * time.Millisecond)}) ||
		s.Network.Jitter.Distribution != "none" || s.Network.Loss != 0 || s.Duration.Std() != 10*time.Second ||
		len(s.Workload) != 1 || s.Workload[0].Count != 5 || len(s.Faults) != 0 {
		t.Errorf("ping-50: %+v", s)
	}
}

// The overlap sweep in partition finds exactly the layouts in which two
// groups share a node: checked against brute force on random layouts.
func TestPartitionOverlapSweep(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 24
	for iter := range 2000 {
		groups := make([][][2]int, 2+rng.IntN(3))
		owner := make([]map[int]bool, n)
		overlap := false
		var sb strings.Builder
		sb.WriteString("[")
		for g := range groups {
			if g > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("[")
			for k := range 1 + rng.IntN(3) {
				lo := rng.IntN(n)
				hi := lo + rng.IntN(min(4, n-lo))
				groups[g] = append(groups[g], [2]int{lo, hi})
				if k > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprintf(&sb, "%d-%d", lo, hi)
				for i := lo; i <= hi; i++ {
					if owner[i] == nil {
						owner[i] = map[int]bool{}
					}
					owner[i][g] = true
					if len(owner[i]) > 1 {
						overlap = true
					}
				}
			}
			sb.WriteString("]")
		}
		sb.WriteString("]")
		src := fmt.Sprintf("name: t\nduration: 10s\nnodes: {count: %d}\nnetwork: {latency: {model: constant, value: 1ms}}\nfaults:\n  - partition: {groups: %s}\n", n, sb.String())
		_, err := Parse("x.yaml", []byte(src))
		if (err != nil) != overlap {
			t.Fatalf("iteration %d: groups %s: overlap %v, error %v", iter, sb.String(), overlap, err)
		}
	}
}

// Parsing is deterministic: same input, same result.
func TestDeterministic(t *testing.T) {
	for _, src := range []string{full, base, "name: t\n"} {
		a, errA := Parse("x.yaml", []byte(src), "seed=3")
		b, errB := Parse("x.yaml", []byte(src), "seed=3")
		if fmt.Sprint(errA) != fmt.Sprint(errB) || !reflect.DeepEqual(a, b) {
			t.Errorf("two parses differ: %v / %v", errA, errB)
		}
	}
}

// Every core.Config field has a yaml tag of a type the loader decodes.
func TestProtocolFields(t *testing.T) {
	typ := reflect.TypeFor[core.Config]()
	if len(protocolFields) != typ.NumField() {
		t.Errorf("%d protocol keys for %d core.Config fields", len(protocolFields), typ.NumField())
	}
	for _, f := range protocolFields {
		if f.kind == protoUnsupported {
			t.Errorf("core.Config.%s (%s) has a type the loader cannot decode", typ.Field(f.index).Name, f.key)
		}
	}
}

// nodesBase is a valid scenario of seven lines that ends in the nodes
// section: appended lines from line 8 indented by two spaces are nodes
// keys.
const nodesBase = `name: t
duration: 10s
network:
  latency: {model: constant, value: 5ms}
nodes:
  count: 20
  bootstrap: [0]
`

// relayBase adds relays and private nodes (lines 8 and 9); a workload
// section appended starts at line 10.
const relayBase = nodesBase + "  relays: [1-5]\n  private: [10-19]\n"

// Relays, private nodes, the filter and relay workloads: every mistake is
// named at its place.
func TestRelayParseErrors(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		pos   string
		words []string
	}{
		{"bare number for private", nodesBase + "  private: 30\n", "8:12",
			[]string{"nodes.private: a bare number is ambiguous here: write a share as a percentage (30%) or nodes as a list ([30])"}},
		{"bare fraction for relays", nodesBase + "  relays: 0.05\n", "8:11",
			[]string{"nodes.relays: a bare number is ambiguous"}},
		{"zero share", nodesBase + "  relays: 0%\n", "8:11",
			[]string{"nodes.relays: must be positive, got 0% (omit nodes.relays for none)"}},
		{"share of no node", nodesBase + "  relays: 1%\n", "8:11",
			[]string{"nodes.relays: 1% of 20 nodes is no node"}},
		{"share too large", nodesBase + "  private: 100%\n", "8:12",
			[]string{"nodes.private: 100% of 20 nodes is 20 nodes, but only 19 are neither bootstrap nodes nor relays"}},
		{"private share after relays", nodesBase + "  relays: 50%\n  private: 50%\n", "9:12",
			[]string{"nodes.private: 50% of 20 nodes is 10 nodes, but only 9 are"}},
		{"private bootstrap node", nodesBase + "  private: [0-4]\n", "8:12",
			[]string{"nodes.private: node 0 is a bootstrap node; bootstrap nodes are never private"}},
		{"private relay", nodesBase + "  relays: [3]\n  private: [2-4]\n", "9:12",
			[]string{"nodes.private: node 3 is a relay; relays are never private"}},
		{"private out of range", nodesBase + "  private: [15-25]\n", "8:13",
			[]string{"nodes.private: node range 15-25 out of range: there are 20 nodes (0-19)"}},
		{"empty relays", nodesBase + "  relays: []\n", "8:11",
			[]string{"nodes.relays: empty node set (omit nodes.relays for none)"}},
		{"bad share range", nodesBase + "  private: 50%-10%\n", "8:12",
			[]string{`nodes.private: relative node range "50%-10%" is empty or reversed`}},
		{"filter without private nodes", "name: t\nduration: 10s\nnodes: {count: 5}\nnetwork:\n  latency: {model: constant, value: 5ms}\n  filter: {binding_timeout: 30s}\n", "6:3",
			[]string{"network.filter: the filter is the private nodes': add nodes.private"}},
		{"unknown filtering behaviour", "name: t\nduration: 10s\nnodes: {count: 5, private: [1]}\nnetwork:\n  latency: {model: constant, value: 5ms}\n  filter: {behavior: address-dependant}\n", "6:22",
			[]string{`network.filter.behavior: unknown filtering behaviour "address-dependant" (did you mean "address-dependent"?)`}},
		{"zero binding timeout", "name: t\nduration: 10s\nnodes: {count: 5, private: [1]}\nnetwork:\n  latency: {model: constant, value: 5ms}\n  filter: {binding_timeout: 0s}\n", "6:29",
			[]string{"network.filter.binding_timeout: must be positive and at most 24h, got 0s"}},
		{"enable_relay", base + "protocol:\n  enable_relay: true\n", "8:17",
			[]string{"protocol.enable_relay: the simulator sets enable_relay per node: say which nodes relay with nodes.relays"}},
		{"relay without relays", nodesBase + "  private: [10-19]\nworkload:\n  - relay: {count: 10}\n", "10:5",
			[]string{"workload[0].relay: relayed messages need relays: add nodes.relays"}},
		{"to private without private nodes", nodesBase + "  relays: [1-5]\nworkload:\n  - relay: {count: 10}\n", "10:5",
			[]string{"workload[0].relay.to: to: private (the default) needs private nodes"}},
		{"unknown relay key", relayBase + "workload:\n  - relay: {count: 10, hop: 2}\n", "11:24",
			[]string{`workload[0].relay: unknown key "hop" (did you mean "hops"?)`}},
		{"relay count zero", relayBase + "workload:\n  - relay: {count: 0}\n", "11:20",
			[]string{"workload[0].relay.count: must be from 1 to 10000000, got 0"}},
		{"hops zero", relayBase + "workload:\n  - relay: {hops: 0-2}\n", "11:19",
			[]string{"workload[0].relay.hops: want 1 <= lo <= hi, got 0-2"}},
		{"hops reversed", relayBase + "workload:\n  - relay: {hops: 3-1}\n", "11:19",
			[]string{"want 1 <= lo <= hi, got 3-1"}},
		{"hops above max_relay_hops", relayBase + "workload:\n  - relay: {hops: 1-4}\n", "11:19",
			[]string{"workload[0].relay.hops: at most protocol.max_relay_hops (3) relays, got 1-4"}},
		{"hops not a number", relayBase + "workload:\n  - relay: {hops: many}\n", "11:19",
			[]string{`workload[0].relay.hops: expected a hop count or range such as 1-3, got "many"`}},
		{"more hops than relays", nodesBase + "  relays: [1-2]\n  private: [10-19]\nworkload:\n  - relay: {hops: 3}\n", "11:19",
			[]string{"workload[0].relay.hops: paths of 3 relays need at least 3 relays, there are 2 (nodes.relays)"}},
		{"default hops, too few relays", nodesBase + "  relays: [1-2]\n  private: [10-19]\nworkload:\n  - relay: {count: 5}\n", "11:5",
			[]string{"paths of 3 relays need at least 3 relays, there are 2"}},
		{"relay size", relayBase + "workload:\n  - relay: {size: 64KiB}\n", "11:19",
			[]string{"workload[0].relay.size: must be from 1B to 32KiB, got 64KiB"}},
		{"relay over past the end", relayBase + "workload:\n  - at: 5s\n    relay: {count: 10, over: 5s}\n", "12:30",
			[]string{"workload[0].relay.over: the last message (5s + 5s) would be sent after the end of the run (duration 10s)"}},
		{"relay to out of range", relayBase + "workload:\n  - relay: {to: [30]}\n", "11:18",
			[]string{"workload[0].relay.to: node 30 out of range"}},
		{"relay and ping", relayBase + "workload:\n  - ping: {}\n    relay: {}\n", "11:5",
			[]string{"workload[0]: one kind of work per entry: ping, publish, lookups, relay or connect"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("no error; want %q", c.words)
			}
			if prefix := "x.yaml:" + c.pos + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
			wantErr(t, c.name, err, c.words...)
		})
	}
	// A node-count override that makes a node set's range fall out says so.
	_, err := Parse("x.yaml", []byte(relayBase), "nodes.count=15")
	wantErr(t, "count override", err, "nodes.private: node range 10-19 out of range", "(nodes.count is 15, from --set nodes.count=15)")
}

// Shares and node sets resolve to disjoint roles, drawn from the seed,
// never on bootstrap nodes; adding a node keeps almost every role; the
// relay workload's defaults are filled in.
func TestRoles(t *testing.T) {
	src := nodesBase + "  relays: 10%\n  private: 30%\nworkload:\n  - relay: {count: 5}\n"
	s, err := Parse("x.yaml", []byte(src), "nodes.count=1000", "nodes.bootstrap=[0-2]")
	if err != nil {
		t.Fatal(err)
	}
	relays, private, err := s.Roles()
	if err != nil {
		t.Fatal(err)
	}
	if len(relays) != 100 || len(private) != 300 {
		t.Fatalf("%d relays, %d private", len(relays), len(private))
	}
	role := map[int]string{}
	for _, i := range relays {
		role[i] = "relay"
	}
	for _, i := range private {
		if role[i] != "" || i <= 2 {
			t.Fatalf("node %d is private and %q", i, role[i])
		}
		role[i] = "private"
	}
	for _, i := range relays {
		if i <= 2 {
			t.Fatalf("bootstrap node %d is a relay", i)
		}
	}
	w := s.Workload[0].Relay
	if w == nil || !w.ToPrivate || w.MinHops != 1 || w.MaxHops != 3 || w.Size != 512 || !w.From.All || w.Count != 5 {
		t.Fatalf("relay workload defaults: %+v", w)
	}
	if s.Network.Filter != (FilterSpec{Behavior: FilterAddressPortDependent, BindingTimeout: Duration(2 * time.Minute)}) {
		t.Errorf("filter defaults: %+v", s.Network.Filter)
	}
	// 1,010 nodes: the shares grow by one relay and three private nodes;
	// the first thousand nodes keep nearly all their roles.
	s2, err := Parse("x.yaml", []byte(src), "nodes.count=1010", "nodes.bootstrap=[0-2]")
	if err != nil {
		t.Fatal(err)
	}
	relays2, private2, _ := s2.Roles()
	changed := 0
	for _, c := range []struct {
		role  string
		nodes []int
	}{{"relay", relays2}, {"private", private2}} {
		for _, i := range c.nodes {
			if i < 1000 && role[i] != c.role {
				changed++
			}
		}
	}
	if len(relays2) != 101 || len(private2) != 303 || changed > 10 {
		t.Errorf("1,010 nodes: %d relays, %d private, %d of the first 1,000 nodes changed role", len(relays2), len(private2), changed)
	}
	// Another seed draws other nodes.
	s3, _ := Parse("x.yaml", []byte(src), "nodes.count=1000", "nodes.bootstrap=[0-2]", "seed=2")
	relays3, _, _ := s3.Roles()
	if reflect.DeepEqual(relays, relays3) {
		t.Error("seeds 1 and 2 drew the same relays")
	}
}

// Package scenarios loads the YAML scenario files dchat-sim runs, and holds
// the built-in ones (ping-1000, the default, and ping-50).
//
// A scenario says how many nodes there are and where, what the network
// between them is like, which protocol parameters they use, what they are
// asked to do and which faults hit them, all on a virtual timeline:
//
//	name: ping-1000
//	seed: 1
//	duration: 30s
//	nodes:
//	  count: 1000
//	  regions: {eu-west: 50%, us-east: 30%, ap-southeast: 20%}
//	  bandwidth:
//	    - {share: 80%, up: 20Mbps, down: 100Mbps}
//	    - {share: 20%, up: 2Mbps, down: 10Mbps}
//	  bootstrap: [0, 1, 2]
//	  relays: 5%                         # relay others' messages; a share drawn from the seed, or a node set
//	  private: 30%                       # behind inbound filters: reachable only through sessions they open
//	network:
//	  latency: {model: regions}          # or {model: constant, value: 20ms}, {model: matrix, file: lat.csv}
//	  jitter: {distribution: normal, stddev: 2ms}
//	  loss: 0.1%
//	  filter: {behavior: address-and-port-dependent, binding_timeout: 120s}   # the private nodes' filters
//	protocol:                            # core.Config by yaml tag; omitted keys keep their defaults
//	  gossip_fanout: 8
//	workload:
//	  - {at: 1s, every: 1s, count: 20, ping: {from: all, target: random-peer}}
//	  - {at: 5s, relay: {count: 1000, from: all, to: private, hops: 1-3, size: 512B, over: 20s}}
//	faults:
//	  - {at: 10s, partition: {groups: [[0-499], [500-999]]}, heal_after: 5s}
//	  - {at: 15s, crash: {share: 5%, restart_after: 5s, keep_state: true}}
//	  - {at: 16s, every: 4s, count: 3, crash: {share: 2%, restart_after: 2s}}  # repeated: new victims each time
//	outputs: [summary, trace, csv]
//
// The files ping-1000.yaml and ping-50.yaml in this directory are the
// commented reference; Scenario documents every field and its default.
//
// Values carry their units: durations (Duration: 250ms, 1.5s, 1h30m), sizes
// (Size: 512B, 10kB, 1MiB), bandwidths in bits per second (Bandwidth:
// 10Mbps, 1Gbps), rates (Rate: 10/s, 600/m), fractions (Fraction: 30%, 0.3)
// and node sets (NodeSet: all, 0-99, [0, 5, 10-19]; ranges inclusive).
// nodes.relays and nodes.private take a share drawn from the seed (30%) or
// a node set (NodeChoice); bootstrap nodes and relays are never private. A
// bare number where a unit is due is an error, never a guess.
//
// Decoding is strict. Unknown and duplicate keys, wrong types, bad units,
// out-of-range values, node indices beyond nodes.count, shares that do not
// sum to 100%, unknown regions or models, missing required fields and
// sections not supported yet (adversaries, churn, nodes.nat, publish and
// lookups workloads) are all errors, each naming the place:
//
//	ping.yaml:12:5: nodes.count: must be positive, got -3
//	ping.yaml:3:1: unknown key "nodez" (did you mean "nodes"?)
//
// Overrides ("--set key=value") edit the YAML tree before decoding, so they
// are checked the same way; see Parse and set.go. Errors are *Error values
// wrapping ErrInvalid (and ErrUnsupported for sections not supported yet).
//
// Concurrency: Parse, Load and Builtin may be called from any goroutine; a
// returned Scenario is plain data owned by the caller.
package scenarios

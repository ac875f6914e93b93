package scenarios

import (
	"reflect"
	"strconv"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/dchat/network/core"
)

// Scenario is one simulation run as a scenario file describes it, with every
// default filled in and every value checked (see Parse). It is plain data:
// the runner reads it and never changes it. A Scenario is not safe for
// concurrent mutation; concurrent reads are fine.
type Scenario struct {
	// File names the source for messages: a path, or "builtin:NAME".
	File string
	// Name identifies the scenario (letters, digits, '.', '_', '-'). Required.
	Name string
	// Description is free text.
	Description string
	// Seed drives every random stream of the run. Default 1.
	Seed uint64
	// Duration is the virtual time the run lasts. Required, > 0.
	Duration Duration
	// Nodes says how many nodes there are and how they differ.
	Nodes Nodes
	// Network is the model of the links between nodes.
	Network Network
	// Topology is the starting overlay: who knows whom.
	Topology Topology
	// Protocol starts from core.DefaultConfig(); the protocol section sets
	// keys by their yaml tags, and the result passes core.Config.Validate.
	Protocol core.Config
	// Workload is what the nodes are asked to do, in file order.
	Workload []Workload
	// Faults are injected failures, in file order.
	Faults []Fault
	// Churn makes nodes come and go (see Churn); nil: none.
	Churn *Churn
	// Adversaries are the Byzantine roles, in file order.
	Adversaries []Adversary
	// Outputs are the artifacts to write, a subset of summary, trace, csv,
	// plots and report, in that order. Default [summary, trace, csv].
	Outputs []string
	// TraceGzip compresses the trace. It needs "trace" in Outputs.
	TraceGzip bool `yaml:"trace_gzip"`
}

// Nodes describes the population of simulated nodes.
type Nodes struct {
	// Count is the number of nodes, 1..MaxNodes. Required.
	Count int
	// Regions places nodes in the built-in region model's regions (sim's
	// table), by share, in file order. The shares sum to 100%. Required when
	// network.latency.model is "regions"; ignored by the other models.
	Regions []RegionShare
	// Bandwidth assigns uplink and downlink rates by share; the shares sum
	// to 100%. Empty means unlimited.
	Bandwidth []BandwidthClass
	// Bootstrap lists the nodes that act as bootstrap (rendezvous) nodes.
	// Optional; the DHT needs it.
	Bootstrap NodeSet
	// JoinOver spreads the nodes' DHT bootstrap: each node starts at a time
	// drawn uniformly in [0, JoinOver). Default 0: all at once.
	JoinOver Duration
	// Relays are the nodes that relay others' messages (the plan's
	// enable_relay, set per node): a share drawn from the seed among the
	// nodes that are not bootstrap nodes (nor in a private node set), or a
	// node set. Never private. Empty: no relay. Every node gets a relay
	// component when there are relays (it sends and receives relayed
	// messages; only relays forward them).
	Relays NodeChoice
	// Private are the nodes behind an inbound filter (network.filter): they
	// can reach anyone, and receive only from endpoints they sent to within
	// the binding timeout. A share drawn from the seed among the nodes that
	// are neither bootstrap nodes nor relays, or a node set that holds
	// neither. Each private node keeps sessions to ReservationsPerNode
	// relays (when there are relays) so that it can be reached through them.
	Private NodeChoice

	// NAT puts the client nodes (all but the bootstrap, STUN and TURN
	// nodes, which stay public) behind RFC 4787 NAT boxes, by share of
	// the clients, in NATTypes order; the shares sum to 100%. Empty: no
	// NAT model. network.nat says where the STUN and TURN servers are.
	NAT []NATShare
}

// NodeChoice selects nodes by a share drawn from the seed or by a node set.
// In YAML a single percentage ("30%") is a share; anything else is a node
// set (all, 7, 0-99, "0%-30%", [0, 5, 10-19]).
type NodeChoice struct {
	// Share, when positive, selects round(Share x nodes.count) nodes: those
	// with the smallest (seed, node, purpose) draws among the eligible
	// nodes, so a node keeps its role when others are added.
	Share Fraction
	// Nodes is the node set, when Share is 0.
	Nodes NodeSet
}

// Empty reports whether c selects no node.
func (c NodeChoice) Empty() bool { return c.Share == 0 && c.Nodes.Empty() }

// String returns the canonical form: a percentage or a node set.
func (c NodeChoice) String() string {
	if c.Share > 0 {
		return c.Share.String()
	}
	return c.Nodes.String()
}

// ReservationsPerNode is how many relays each private node keeps a
// session with (fewer when there are fewer relays): the relays its
// messages can arrive through.
const ReservationsPerNode = 2

// RegionShare is the share of nodes placed in one region.
type RegionShare struct {
	Region string  // a name from sim's region table, e.g. "eu-west"
	Share  float64 // in [0, 1]
}

// BandwidthClass gives a share of the nodes the same link rates.
type BandwidthClass struct {
	Share Fraction
	Up    Bandwidth // > 0
	Down  Bandwidth // > 0
}

// NATTypes are the NAT presets nodes.nat assigns, by core.NATType name:
// none (a public address), full-cone (endpoint-independent mapping and
// filtering), restricted-cone (address-dependent filtering),
// port-restricted (address-and-port-dependent filtering) and symmetric
// (address-and-port-dependent mapping and filtering, random ports).
var NATTypes = []string{"none", "full-cone", "restricted-cone", "port-restricted", "symmetric"}

// NATShare is a share of the client nodes behind one kind of NAT.
type NATShare struct {
	Type  string // one of NATTypes
	Share Fraction
}

// NATSpec is network.nat: the servers and gateways of the NAT model. It
// may be given only with nodes.nat, and is filled with its defaults then.
type NATSpec struct {
	// BindingTimeout is how long a NAT binding lives after the last
	// outbound packet that used it; default 120s (RFC 4787 REQ-5), at most
	// 24h.
	BindingTimeout Duration `yaml:"binding_timeout"`
	// UPnP is the share of NATed nodes whose gateway offers UPnP IGD port
	// mapping (drawn from the seed); default 0.
	UPnP Fraction
	// STUN are the public nodes that answer STUN (RFC 8489) and RFC 5780
	// behaviour discovery; default nodes.bootstrap. Never empty.
	STUN NodeSet
	// TURN are the public nodes that run a TURN server (RFC 8656); default
	// none.
	TURN NodeSet
}

// Network is the model of the links between nodes.
type Network struct {
	Latency LatencySpec
	Jitter  JitterSpec
	// Loss is the independent drop probability of each packet, in [0, 1).
	Loss Fraction
	// MTU is the largest packet; larger ones are dropped. 0 = unlimited,
	// else at least 68B (RFC 791's minimum).
	MTU Size
	// Reorder lets jitter reorder packets on a link (default false: a packet
	// never overtakes an earlier one on the same link).
	Reorder bool
	// Filter is the private nodes' inbound filter (nodes.private).
	Filter FilterSpec
	// NAT configures the NAT model (nodes.nat).
	NAT NATSpec
}

// Filtering behaviours (RFC 4787 §5), as network.filter.behavior spells
// them.
const (
	FilterEndpointIndependent  = "endpoint-independent"
	FilterAddressDependent     = "address-dependent"
	FilterAddressPortDependent = "address-and-port-dependent"
)

// FilterSpec configures the inbound filter of the private nodes (sim.Filter:
// the filtering half of an RFC 4787 NAT, without translation). It may be
// given only when nodes.private is.
type FilterSpec struct {
	// Behavior is address-and-port-dependent (default: what a
	// port-restricted cone NAT's filter does), address-dependent or
	// endpoint-independent.
	Behavior string
	// BindingTimeout is how long a binding lives after the node last sent
	// to the endpoint; default 120s (RFC 4787 REQ-5's minimum), at most 24h.
	BindingTimeout Duration `yaml:"binding_timeout"`
}

// Latency models.
const (
	LatencyRegions  = "regions"
	LatencyConstant = "constant"
	LatencyMatrix   = "matrix"
)

// LatencySpec selects the base one-way delay model.
type LatencySpec struct {
	// Model is "regions" (default), "constant" or "matrix".
	Model string
	// Value is the one-way delay of the constant model (required, > 0).
	Value Duration
	// File is the matrix model's CSV file (required), as an absolute, clean
	// path: resolved against the scenario file's directory, or against the
	// working directory when it came from --set or a built-in scenario.
	File string
	// Stretch is the regions model's path stretch (>= 1); 0 = model default.
	Stretch float64
	// Access is the regions model's median access delay; 0 = model default.
	Access Duration
}

// Jitter distributions.
const (
	JitterNone        = "none"
	JitterUniform     = "uniform"
	JitterNormal      = "normal"
	JitterExponential = "exponential"
)

// JitterSpec is extra per-packet delay. Each distribution takes exactly one
// parameter; the others stay 0. Parameters are at most 1h.
type JitterSpec struct {
	// Distribution is none (default), uniform, normal or exponential.
	Distribution string
	// Stddev is the normal distribution's standard deviation (half-normal).
	Stddev Duration
	// Max is the uniform distribution's maximum.
	Max Duration
	// Mean is the exponential distribution's mean.
	Mean Duration
}

// Workload is one entry of the workload list: a kind of work started at At
// and repeated Count times, Every apart. Exactly one kind is set.
type Workload struct {
	// At is when the first repetition starts; in [0, duration). Default 0.
	At Duration
	// Every is the repeat interval; 0 = once.
	Every Duration
	// Count is the number of repetitions, >= 1 (default 1). With Every = 0
	// it must be 1. The last repetition, At + (Count-1)*Every, lies before
	// the end of the run.
	Count int
	// Ping makes nodes send health pings.
	Ping *PingWork
	// Publish makes a node publish a gossip message.
	Publish *PublishWork

	// Lookups makes nodes look up peers in the DHT.
	Lookups *LookupWork
	// Relay makes nodes send messages through relays.
	Relay *RelayWork
	// Connect makes nodes open paths to each other through NATs.
	Connect *ConnectWork
}

// ConnectWork is a batch of NAT traversals: Count times, a live node drawn
// from From asks for a path to a live node drawn from To (never itself),
// through the rendezvous (the bootstrap nodes), by the traversal ladder:
// direct, UPnP-mapped port, hole punch, TURN relay. The attempts are spread
// evenly over Over (0: all at once). From and To default to the clients:
// every node but the bootstrap, STUN and TURN nodes.
type ConnectWork struct {
	Count    int
	From, To NodeSet
	Over     Duration
}

// Ping targets.
const (
	TargetRandomPeer = "random-peer"
	TargetBootstrap  = "bootstrap"
)

// PingWork is a round of pings: every node in From pings one target.
type PingWork struct {
	// From are the senders; default all. Never empty.
	From NodeSet
	// Target is "random-peer" (default: a uniformly drawn other node) or
	// "bootstrap" (one of nodes.bootstrap, which must then be non-empty).
	Target string
}

// PublishWork is gossip publishing: each repetition, one node drawn at
// random among the live nodes of From publishes a message of Size bytes.
// In YAML, from: random means all nodes.
type PublishWork struct {
	// From are the candidate publishers; default all. Never empty.
	From NodeSet
	// Size is the payload size, 1B to MaxPublishSize; default 512B.
	Size Size
}

// MaxPublishSize is the largest gossip payload a scenario may publish.
const MaxPublishSize = 60 * 1024

// Topology is the overlay the protocols start from until peer discovery
// supplies peers: which nodes each node knows.
type Topology struct {
	// Model is "random" (each node links to Degree others drawn at random;
	// links are symmetric, so degrees are at least Degree and vary) or
	// "dht" (peers come from the DHT routing table; Degree is unused).
	Model string
	// Degree is the number of links each node draws; default 8. With fewer
	// nodes than Degree+1, every node links to all others.
	Degree int
}

// Topology models: "random" is a static random graph; "dht" means the
// protocols take their peers from the DHT's routing table after every node
// bootstraps through nodes.bootstrap.
const (
	TopologyRandom = "random"
	TopologyDHT    = "dht"
)

// LookupWork is a batch of DHT lookups: Count lookups, each from a live
// node drawn from From, for the peer ID of a live node drawn at random
// ("random-peer"), spread evenly over Over (0: all at once).
type LookupWork struct {
	Count  int
	Target string
	From   NodeSet
	Over   Duration
}

// RelayWork is a batch of relayed messages: Count messages, spread evenly
// over Over (0: all at once), each from a live node drawn from From to a
// live node drawn from To (private nodes by default), along a path of
// Hops relays (drawn uniformly in [MinHops, MaxHops] per message): random
// relays chosen by the sender, then, for a private recipient, one of the
// relays it keeps a session with (the runner stands in for the DHT lookup
// of the recipient's relay reservations). Every message carries Size
// random bytes.
type RelayWork struct {
	// Count is the number of messages per repetition, 1 to 10,000,000.
	Count int
	// From are the candidate senders; default all. Never empty.
	From NodeSet
	// ToPrivate (YAML to: private, the default) draws recipients among the
	// private nodes; otherwise To is the node set they are drawn from.
	ToPrivate bool
	To        NodeSet
	// MinHops and MaxHops bound the relays on a path: 1 <= MinHops <=
	// MaxHops <= protocol.max_relay_hops. YAML hops: 1-3 or hops: 2;
	// default 1 to max_relay_hops.
	MinHops, MaxHops int
	// Size is the payload size, 1B to MaxRelaySize; default 512B.
	Size Size
	// Over spreads the messages; the last is sent before the end of the run.
	Over Duration
}

// MaxRelaySize is the largest relayed payload a scenario may send (the
// relay component's default limit).
const MaxRelaySize = 32 << 10

// Fault is one entry of the faults list: a failure injected at At. Exactly
// one kind is set.
type Fault struct {
	// At is when the fault starts; in [0, duration). Default 0.
	At Duration
	// Partition splits the network into groups.
	Partition *Partition
	// HealAfter ends the partition, link fault or skew this long after
	// At; 0 = never. Not with Crash.
	HealAfter Duration
	// Crash stops nodes.
	Crash *Crash
	// Link degrades links; Skew skews clocks (see chaos.go).
	Link *LinkFault
	Skew *SkewFault
	// Every and Count repeat the fault: it strikes Count times (default
	// 1), Every apart, from At; the last strike comes before the end of
	// the run. Repetitions do not overlap: a repeated partition needs
	// 0 < HealAfter < Every, a repeated crash RestartAfter < Every. A crash
	// by Share draws new victims at each strike, from the seed and the
	// strike's number.
	Every Duration
	Count int
}

// Partition cuts the links between nodes of different groups, both ways.
// Nodes in no group stay connected to everyone.
type Partition struct {
	// Groups are at least two non-empty, pairwise disjoint node sets.
	Groups []NodeSet
	// OneWay cuts only the way from Groups[0] to Groups[1] (exactly two
	// groups): the second group still reaches the first.
	OneWay bool
	// Share, when positive, cuts only that share of the links the
	// partition separates (chosen from the seed; both ways of a pair
	// together unless OneWay).
	Share Fraction
}

// Crash stops nodes; exactly one of Nodes and Share is set (Share is 0 when
// Nodes is used).
type Crash struct {
	// Nodes are the nodes to crash.
	Nodes NodeSet
	// Share is the fraction of nodes to crash, drawn by the runner from the
	// seed; in (0, 1].
	Share Fraction
	// RestartAfter restarts the crashed nodes this long after the crash;
	// 0 = never.
	RestartAfter Duration
	// KeepState restarts a node with its state (routing table, peers) rather
	// than fresh. Needs RestartAfter > 0.
	KeepState bool `yaml:"keep_state"`
}

// Adversary is a Byzantine role given to some nodes (adversaries:, see
// load_adversary.go and core/adversary): a share of the nodes drawn from
// the seed, or a node set.
type Adversary struct {
	Role   string // one of adversary.Roles, e.g. black-hole, eclipse
	Share  Fraction
	Nodes  NodeSet
	Victim int // the targeted node (selective-drop, eclipse; optional for sybil); -1: none
	// Role parameters (0: the role's default; see adversary.Params).
	Rate       float64
	Identities int
	Delay      Duration
	Interval   Duration
}

// Output kinds, in canonical order.
var outputKinds = []string{"summary", "trace", "csv", "plots", "report"}

// defaultOutputs are the outputs of a scenario that names none.
var defaultOutputs = []string{"summary", "trace", "csv"}

// CanonicalYAML returns the effective scenario as YAML: every default filled
// in, units in canonical form, the protocol section complete. Parsing it
// (from the same directory, since the matrix path is absolute anyway) gives
// back an equal Scenario, apart from File.
func (s *Scenario) CanonicalYAML() ([]byte, error) {
	return yaml.Dump(s.node(), yaml.WithIndent(2), yaml.WithLineWidth(-1))
}

// YAML node builders for CanonicalYAML.

func mapNode(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, strNode(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}

func flow(n *yaml.Node) *yaml.Node { n.Style = yaml.FlowStyle; return n }

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intNode(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

func floatNode(v float64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v, 'g', -1, 64)}
}

func boolNode(v bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
}

func seqNode(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func (s *Scenario) node() *yaml.Node {
	root := mapNode("name", strNode(s.Name))
	if s.Description != "" {
		root.Content = append(root.Content, strNode("description"), strNode(s.Description))
	}
	root.Content = append(root.Content,
		strNode("seed"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatUint(s.Seed, 10)},
		strNode("duration"), strNode(s.Duration.String()),
		strNode("nodes"), s.Nodes.node(),
		strNode("network"), s.Network.node(),
		strNode("topology"), flow(mapNode("model", strNode(s.Topology.Model), "degree", intNode(int64(s.Topology.Degree)))),
		strNode("protocol"), protocolNode(s.Protocol),
	)
	wl := seqNode()
	for _, w := range s.Workload {
		e := mapNode("at", strNode(w.At.String()), "every", strNode(w.Every.String()), "count", intNode(int64(w.Count)))
		if w.Ping != nil {
			e.Content = append(e.Content, strNode("ping"),
				flow(mapNode("from", nodeSetNode(w.Ping.From), "target", strNode(w.Ping.Target))))
		}
		if w.Publish != nil {
			e.Content = append(e.Content, strNode("publish"),
				flow(mapNode("from", nodeSetNode(w.Publish.From), "size", strNode(w.Publish.Size.String()))))
		}
		if l := w.Lookups; l != nil {
			e.Content = append(e.Content, strNode("lookups"),
				flow(mapNode("count", intNode(int64(l.Count)), "target", strNode(l.Target),
					"from", nodeSetNode(l.From), "over", strNode(l.Over.String()))))
		}
		if c := w.Connect; c != nil {
			cm := mapNode("count", intNode(int64(c.Count)))
			if !c.From.Empty() {
				cm.Content = append(cm.Content, strNode("from"), nodeSetNode(c.From))
			}
			if !c.To.Empty() {
				cm.Content = append(cm.Content, strNode("to"), nodeSetNode(c.To))
			}
			cm.Content = append(cm.Content, strNode("over"), strNode(c.Over.String()))
			e.Content = append(e.Content, strNode("connect"), flow(cm))
		}
		if rw := w.Relay; rw != nil {
			to := strNode("private")
			if !rw.ToPrivate {
				to = nodeSetNode(rw.To)
			}
			hops := strNode(strconv.Itoa(rw.MinHops) + "-" + strconv.Itoa(rw.MaxHops))
			e.Content = append(e.Content, strNode("relay"),
				flow(mapNode("count", intNode(int64(rw.Count)), "from", nodeSetNode(rw.From), "to", to,
					"hops", hops, "size", strNode(rw.Size.String()), "over", strNode(rw.Over.String()))))
		}
		wl.Content = append(wl.Content, e)
	}
	fl := seqNode()
	for _, f := range s.Faults {
		e := mapNode("at", strNode(f.At.String()))
		if p := f.Partition; p != nil {
			groups := flow(seqNode())
			for _, g := range p.Groups {
				groups.Content = append(groups.Content, nodeSetNode(g))
			}
			e.Content = append(e.Content, strNode("partition"), flow(partitionExtra(mapNode("groups", groups), p)),
				strNode("heal_after"), strNode(f.HealAfter.String()))
		}
		if c := f.Crash; c != nil {
			cm := mapNode()
			if c.Share > 0 {
				cm.Content = append(cm.Content, strNode("share"), strNode(c.Share.String()))
			} else {
				cm.Content = append(cm.Content, strNode("nodes"), nodeSetNode(c.Nodes))
			}
			cm.Content = append(cm.Content, strNode("restart_after"), strNode(c.RestartAfter.String()),
				strNode("keep_state"), boolNode(c.KeepState))
			e.Content = append(e.Content, strNode("crash"), flow(cm))
		}
		e.Content = append(e.Content, chaosFaultNodes(f)...)
		if f.Count > 1 {
			e.Content = append(e.Content, strNode("every"), strNode(f.Every.String()), strNode("count"), intNode(int64(f.Count)))
		}
		fl.Content = append(fl.Content, e)
	}
	if len(s.Adversaries) > 0 {
		root.Content = append(root.Content, strNode("adversaries"), adversariesNode(s.Adversaries))
	}
	outs := flow(seqNode())
	for _, o := range s.Outputs {
		outs.Content = append(outs.Content, strNode(o))
	}
	root.Content = append(root.Content,
		strNode("workload"), wl,
		strNode("faults"), fl,
	)
	if s.Churn != nil {
		root.Content = append(root.Content, strNode("churn"), s.Churn.node())
	}
	root.Content = append(root.Content,
		strNode("outputs"), outs,
		strNode("trace_gzip"), boolNode(s.TraceGzip),
	)
	return root
}

func (n Nodes) node() *yaml.Node {
	m := mapNode("count", intNode(int64(n.Count)))
	if len(n.Regions) > 0 {
		r := mapNode()
		for _, rs := range n.Regions {
			r.Content = append(r.Content, strNode(rs.Region), strNode(Fraction(rs.Share).String()))
		}
		m.Content = append(m.Content, strNode("regions"), r)
	}
	if len(n.Bandwidth) > 0 {
		b := seqNode()
		for _, c := range n.Bandwidth {
			b.Content = append(b.Content, flow(mapNode("share", strNode(c.Share.String()),
				"up", strNode(c.Up.String()), "down", strNode(c.Down.String()))))
		}
		m.Content = append(m.Content, strNode("bandwidth"), b)
	}
	if !n.Bootstrap.Empty() {
		m.Content = append(m.Content, strNode("bootstrap"), nodeSetNode(n.Bootstrap))
	}
	if n.JoinOver > 0 {
		m.Content = append(m.Content, strNode("join_over"), strNode(n.JoinOver.String()))
	}
	for _, c := range []struct {
		key string
		v   NodeChoice
	}{{"relays", n.Relays}, {"private", n.Private}} {
		switch {
		case c.v.Share > 0:
			m.Content = append(m.Content, strNode(c.key), strNode(c.v.Share.String()))
		case !c.v.Nodes.Empty():
			m.Content = append(m.Content, strNode(c.key), nodeSetNode(c.v.Nodes))
		}
	}
	if len(n.NAT) > 0 {
		nm := mapNode()
		for _, ns := range n.NAT {
			nm.Content = append(nm.Content, strNode(ns.Type), strNode(ns.Share.String()))
		}
		m.Content = append(m.Content, strNode("nat"), nm)
	}
	return m
}

func (n Network) node() *yaml.Node {
	l := n.Latency
	lat := mapNode("model", strNode(l.Model))
	switch l.Model {
	case LatencyConstant:
		lat.Content = append(lat.Content, strNode("value"), strNode(l.Value.String()))
	case LatencyMatrix:
		lat.Content = append(lat.Content, strNode("file"), strNode(l.File))
	case LatencyRegions:
		if l.Stretch != 0 {
			lat.Content = append(lat.Content, strNode("stretch"), floatNode(l.Stretch))
		}
		if l.Access != 0 {
			lat.Content = append(lat.Content, strNode("access"), strNode(l.Access.String()))
		}
	}
	j := n.Jitter
	jit := mapNode("distribution", strNode(j.Distribution))
	switch j.Distribution {
	case JitterNormal:
		jit.Content = append(jit.Content, strNode("stddev"), strNode(j.Stddev.String()))
	case JitterUniform:
		jit.Content = append(jit.Content, strNode("max"), strNode(j.Max.String()))
	case JitterExponential:
		jit.Content = append(jit.Content, strNode("mean"), strNode(j.Mean.String()))
	}
	out := mapNode(
		"latency", flow(lat),
		"jitter", flow(jit),
		"loss", strNode(n.Loss.String()),
		"mtu", strNode(n.MTU.String()),
		"reorder", boolNode(n.Reorder),
	)
	if n.Filter != (FilterSpec{}) {
		out.Content = append(out.Content, strNode("filter"), flow(mapNode(
			"behavior", strNode(n.Filter.Behavior), "binding_timeout", strNode(n.Filter.BindingTimeout.String()))))
	}
	if !n.NAT.STUN.Empty() {
		nm := mapNode("binding_timeout", strNode(n.NAT.BindingTimeout.String()), "upnp", strNode(n.NAT.UPnP.String()),
			"stun", nodeSetNode(n.NAT.STUN))
		if !n.NAT.TURN.Empty() {
			nm.Content = append(nm.Content, strNode("turn"), nodeSetNode(n.NAT.TURN))
		}
		out.Content = append(out.Content, strNode("nat"), flow(nm))
	}
	return out
}

// protocolNode lists every core.Config field by its yaml tag, in field order.
func protocolNode(c core.Config) *yaml.Node {
	m := mapNode()
	v := reflect.ValueOf(c)
	for _, f := range protocolFields {
		fv := v.Field(f.index)
		var n *yaml.Node
		switch f.kind {
		case protoInt:
			n = intNode(fv.Int())
		case protoFloat:
			n = floatNode(fv.Float())
		case protoBool:
			n = boolNode(fv.Bool())
		case protoDuration:
			n = strNode(Duration(time.Duration(fv.Int())).String())
		case protoString:
			n = strNode(fv.String())
		default:
			continue
		}
		m.Content = append(m.Content, strNode(f.key), n)
	}
	return m
}

package scenarios

import (
	"strconv"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/dchat/network/chaos"
)

// LinkFault degrades the links from the nodes of From to the nodes of To
// (both default to all nodes): each packet is independently dropped,
// duplicated, corrupted (a copy with bits or bytes flipped, which the
// receiver's decoder must reject) or reordered (held back by
// ReorderDelay so that later packets overtake it) with the given
// probabilities, and delayed by Delay plus a Jitter draw (see
// chaos.Link). A fault entry's heal_after ends it.
type LinkFault struct {
	From, To                          NodeSet
	Drop, Duplicate, Corrupt, Reorder Fraction
	// ReorderDelay is how long a reordered packet is held back; 0 means
	// chaos.DefaultReorderDelay (20ms).
	ReorderDelay Duration
	// Delay is added to every packet; Jitter is random extra delay.
	Delay  Duration
	Jitter DistSpec
}

// Link returns the chaos package's description of the fault.
func (l *LinkFault) Link() chaos.Link {
	return chaos.Link{Drop: float64(l.Drop), Duplicate: float64(l.Duplicate), Corrupt: float64(l.Corrupt),
		Reorder: float64(l.Reorder), ReorderDelay: time.Duration(l.ReorderDelay), Delay: time.Duration(l.Delay),
		Jitter: l.Jitter.Dist()}
}

// SkewFault skews the clocks of Nodes: an Offset (may be negative) and a
// rate error DriftPPM in parts per million (see chaos.Skew). A fault
// entry's heal_after sets the clocks right again.
type SkewFault struct {
	Nodes    NodeSet
	Offset   Duration
	DriftPPM float64
}

// Skew returns the chaos package's description of the skew.
func (s *SkewFault) Skew() chaos.Skew {
	return chaos.Skew{Offset: time.Duration(s.Offset), Drift: s.DriftPPM / 1e6}
}

// DistSpec is a distribution of durations: Distribution is exponential,
// weibull, pareto, uniform or normal ("" = none); Scale is its scale (the
// mean of an exponential, λ of a Weibull, xm of a Pareto, the maximum of a
// uniform, the standard deviation of a half-normal) and Shape the shape of
// a Weibull (k) or a Pareto (α). In YAML, mean: sets the scale that gives
// that mean; max: and stddev: name the scale of uniform and normal.
type DistSpec struct {
	Distribution string
	Scale        Duration
	Shape        float64
}

// Dist returns the chaos package's distribution.
func (d DistSpec) Dist() chaos.Dist {
	k, _ := chaos.ParseDistKind(d.Distribution)
	if d.Distribution == "" {
		k = chaos.None
	}
	return chaos.Dist{Kind: k, Scale: time.Duration(d.Scale), Shape: d.Shape}
}

// Churn makes nodes come and go: from Start, each churning node stays up
// for a session drawn from Session, then is down for a time drawn from
// Downtime, and so on until the end of the run, with draws from its own
// (seed, node, "churn") stream. A node restarts with its state when
// KeepState, else fresh (same identity, empty tables) and bootstraps
// again.
type Churn struct {
	// Nodes are the churning nodes: a share drawn from the seed among the
	// nodes that are not bootstrap nodes, or a node set. Empty: every node
	// but the bootstrap nodes.
	Nodes NodeChoice
	// Session and Downtime are the distributions of up and down times.
	Session, Downtime DistSpec
	KeepState         bool `yaml:"keep_state"`
	// Start is when the first sessions start (every churning node is up
	// then); in [0, duration).
	Start Duration
}

// Canonical YAML of the chaos parts (see Scenario.CanonicalYAML).

func (d DistSpec) node() *yaml.Node {
	m := mapNode("distribution", strNode(d.Distribution))
	switch d.Distribution {
	case "exponential":
		m.Content = append(m.Content, strNode("mean"), strNode(d.Scale.String()))
	case "uniform":
		m.Content = append(m.Content, strNode("max"), strNode(d.Scale.String()))
	case "normal":
		m.Content = append(m.Content, strNode("stddev"), strNode(d.Scale.String()))
	default:
		m.Content = append(m.Content, strNode("shape"), floatNode(d.Shape), strNode("scale"), strNode(d.Scale.String()))
	}
	return flow(m)
}

// partitionExtra adds a partition's oneway and share keys to its mapping.
func partitionExtra(m *yaml.Node, p *Partition) *yaml.Node {
	if p.OneWay {
		m.Content = append(m.Content, strNode("oneway"), boolNode(true))
	}
	if p.Share > 0 {
		m.Content = append(m.Content, strNode("share"), strNode(p.Share.String()))
	}
	return m
}

// chaosFaultNodes returns the keys of a link or skew fault entry.
func chaosFaultNodes(f Fault) []*yaml.Node {
	var out []*yaml.Node
	if l := f.Link; l != nil {
		m := mapNode("from", nodeSetNode(l.From), "to", nodeSetNode(l.To),
			"drop", strNode(l.Drop.String()), "duplicate", strNode(l.Duplicate.String()),
			"corrupt", strNode(l.Corrupt.String()), "reorder", strNode(l.Reorder.String()),
			"reorder_delay", strNode(l.ReorderDelay.String()), "delay", strNode(l.Delay.String()))
		if l.Jitter.Distribution != "" {
			m.Content = append(m.Content, strNode("jitter"), l.Jitter.node())
		}
		out = append(out, strNode("link"), flow(m))
	}
	if s := f.Skew; s != nil {
		out = append(out, strNode("skew"), flow(mapNode("nodes", nodeSetNode(s.Nodes), "offset", strNode(s.Offset.String()),
			"drift", strNode(strconv.FormatFloat(s.DriftPPM, 'g', -1, 64)+"ppm"))))
	}
	if len(out) > 0 {
		out = append(out, strNode("heal_after"), strNode(f.HealAfter.String()))
	}
	return out
}

func (c *Churn) node() *yaml.Node {
	m := mapNode()
	if !c.Nodes.Empty() {
		if c.Nodes.Share > 0 {
			m.Content = append(m.Content, strNode("share"), strNode(c.Nodes.Share.String()))
		} else {
			m.Content = append(m.Content, strNode("nodes"), nodeSetNode(c.Nodes.Nodes))
		}
	}
	m.Content = append(m.Content, strNode("session"), c.Session.node(), strNode("downtime"), c.Downtime.node(),
		strNode("keep_state"), boolNode(c.KeepState), strNode("start"), strNode(c.Start.String()))
	return m
}

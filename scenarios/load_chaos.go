package scenarios

import (
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/dchat/network/chaos"
)

// Decoding of the chaos parts of a scenario: link and skew faults, the
// partition's oneway and share keys, and the churn section.

// chaosFault decodes a faults entry that holds link: or skew:; ok is false
// (and nothing is decoded) for any other entry.
func (d *decoder) chaosFault(m *mapping, path string) (f Fault, ok bool, err error) {
	_, hasL := m.idx["link"]
	_, hasS := m.idx["skew"]
	if !hasL && !hasS {
		return f, false, nil
	}
	var kinds []string
	for _, k := range m.keys {
		if k == "partition" || k == "crash" || k == "link" || k == "skew" {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) > 1 {
		return f, true, d.errAt(m.key(kinds[1]), path, "one fault per entry: %s and %s need separate entries", kinds[0], kinds[1])
	}
	if f.At, err = d.optDuration(m, "at"); err != nil {
		return f, true, err
	}
	if err := d.checkTime(m.val("at"), join(path, "at"), f.At); err != nil {
		return f, true, err
	}
	if f.HealAfter, err = d.optDuration(m, "heal_after"); err != nil {
		return f, true, err
	}
	if hasL {
		if f.Link, err = d.linkFault(m.val("link"), m.key("link"), join(path, "link")); err != nil {
			return f, true, err
		}
	} else {
		if f.Skew, err = d.skewFault(m.val("skew"), m.key("skew"), join(path, "skew")); err != nil {
			return f, true, err
		}
	}
	if f.Every, f.Count, err = d.repetition(m, path, f.At); err != nil {
		return f, true, err
	}
	if f.Count > 1 {
		if f.HealAfter == 0 || f.HealAfter >= f.Every {
			return f, true, d.errAt(m.key("count"), join(path, "heal_after"),
				"a repeated %s fault must heal before the next: need 0 < heal_after < every (%v), got %v", kinds[0], f.Every, f.HealAfter)
		}
	} else if v := m.val("every"); v != nil {
		return f, true, d.errAt(v, join(path, "every"), "every needs count (the number of repetitions, at least 2)")
	}
	return f, true, nil
}

var linkFaultKeys = []string{"from", "to", "drop", "duplicate", "corrupt", "reorder", "reorder_delay", "delay", "jitter"}

// linkFault decodes {from, to, drop, duplicate, corrupt, reorder,
// reorder_delay, delay, jitter}.
func (d *decoder) linkFault(n, key *yaml.Node, path string) (*LinkFault, error) {
	if n == nil {
		return nil, d.errAt(key, path, "missing the link fault, e.g. link: {from: [0-9], drop: 5%%, delay: 50ms}")
	}
	m, err := d.mapping(n, path, linkFaultKeys)
	if err != nil {
		return nil, err
	}
	l := &LinkFault{From: AllNodes(), To: AllNodes()}
	for _, f := range []struct {
		key string
		dst *NodeSet
	}{{"from", &l.From}, {"to", &l.To}} {
		if v := m.val(f.key); v != nil {
			if *f.dst, err = d.nodeSet(v, join(path, f.key)); err != nil {
				return nil, err
			}
			if f.dst.Empty() {
				return nil, d.errAt(v, join(path, f.key), "empty node set (omit %s for all nodes)", f.key)
			}
		}
	}
	for _, f := range []struct {
		key string
		dst *Fraction
	}{{"drop", &l.Drop}, {"duplicate", &l.Duplicate}, {"corrupt", &l.Corrupt}, {"reorder", &l.Reorder}} {
		if v := m.val(f.key); v != nil {
			if err := d.unit(v, join(path, f.key), f.dst); err != nil {
				return nil, err
			}
		}
	}
	if l.Drop >= 1 {
		return nil, d.errAt(m.val("drop"), join(path, "drop"), "must be below 100%% (a partition cuts links for good)")
	}
	for _, f := range []struct {
		key string
		dst *Duration
	}{{"delay", &l.Delay}, {"reorder_delay", &l.ReorderDelay}} {
		if *f.dst, err = d.optDuration(m, f.key); err != nil {
			return nil, err
		}
		if *f.dst > Duration(chaos.MaxDelay) {
			return nil, d.errAt(m.val(f.key), join(path, f.key), "at most %v, got %v", Duration(chaos.MaxDelay), *f.dst)
		}
	}
	if l.ReorderDelay > 0 && l.Reorder == 0 {
		return nil, d.errAt(m.key("reorder_delay"), join(path, "reorder_delay"), "only with reorder (the share of packets held back)")
	}
	if v := m.val("jitter"); v != nil {
		if l.Jitter, err = d.distSpec(v, join(path, "jitter"), Duration(chaos.MaxDelay)); err != nil {
			return nil, err
		}
	}
	if l.Link().Empty() {
		return nil, d.errAt(n, path, "the link fault does nothing: give drop, duplicate, corrupt, reorder, delay or jitter")
	}
	return l, nil
}

// skewFault decodes {nodes, offset, drift}.
func (d *decoder) skewFault(n, key *yaml.Node, path string) (*SkewFault, error) {
	if n == nil {
		return nil, d.errAt(key, path, "missing the skew, e.g. skew: {nodes: [5-9], offset: 2s, drift: 50ppm}")
	}
	m, err := d.mapping(n, path, []string{"nodes", "offset", "drift"})
	if err != nil {
		return nil, err
	}
	s := &SkewFault{}
	v := m.val("nodes")
	if v == nil {
		return nil, d.errAt(n, join(path, "nodes"), "missing required field: the nodes whose clocks are skewed, e.g. nodes: [5-9]")
	}
	if s.Nodes, err = d.nodeSet(v, join(path, "nodes")); err != nil {
		return nil, err
	}
	if s.Nodes.Empty() {
		return nil, d.errAt(v, join(path, "nodes"), "empty node set")
	}
	if v := m.val("offset"); v != nil {
		if err := d.unit(v, join(path, "offset"), &s.Offset); err != nil {
			return nil, err
		}
		if s.Offset < -Duration(chaos.MaxOffset) || s.Offset > Duration(chaos.MaxOffset) {
			return nil, d.errAt(v, join(path, "offset"), "must be within ±%v, got %v", Duration(chaos.MaxOffset), s.Offset)
		}
	}
	if v := m.val("drift"); v != nil {
		if err := d.scalar(v, join(path, "drift"), "a rate error such as 50ppm"); err != nil {
			return nil, err
		}
		// The number of ppm is kept as written (not divided by 1e6), so
		// the canonical form gives it back exactly.
		num, ok := strings.CutSuffix(strings.TrimSpace(v.Value), "ppm")
		x, perr := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !ok || perr != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, d.errAt(v, join(path, "drift"), "expected a rate error in ppm such as 50ppm or -20ppm, got %s", describe(v))
		}
		if math.Abs(x) > chaos.MaxDrift*1e6 {
			return nil, d.errAt(v, join(path, "drift"), "must be within ±%gppm, got %s", chaos.MaxDrift*1e6, v.Value)
		}
		s.DriftPPM = x
	}
	if s.Offset == 0 && s.DriftPPM == 0 {
		return nil, d.errAt(n, path, "the skew does nothing: give offset or drift")
	}
	return s, nil
}

// distSpec decodes a distribution: {distribution, mean | scale | max |
// stddev, shape}, with scales up to limit.
func (d *decoder) distSpec(n *yaml.Node, path string, limit Duration) (DistSpec, error) {
	var out DistSpec
	m, err := d.mapping(n, path, []string{"distribution", "mean", "scale", "max", "stddev", "shape"})
	if err != nil {
		return out, err
	}
	if n.Kind != yaml.MappingNode {
		return out, d.errAt(n, path, "expected a mapping such as {distribution: exponential, mean: 5m}, got %s", describe(n))
	}
	v := m.val("distribution")
	if v == nil {
		return out, d.errAt(n, join(path, "distribution"), "missing required field: exponential, weibull, pareto, uniform or normal")
	}
	if out.Distribution, err = d.str(v, join(path, "distribution")); err != nil {
		return out, err
	}
	names := []string{"exponential", "weibull", "pareto", "uniform", "normal"}
	kind, kerr := chaos.ParseDistKind(out.Distribution)
	if kerr != nil || kind == chaos.None {
		return out, d.errAt(v, join(path, "distribution"), "unknown distribution %q%s (want exponential, weibull, pareto, uniform or normal)",
			out.Distribution, suggest(out.Distribution, names))
	}
	if sv := m.val("shape"); sv != nil {
		if !kind.HasShape() {
			return out, d.errAt(m.key("shape"), join(path, "shape"), "only weibull and pareto take a shape")
		}
		if out.Shape, err = d.float(sv, join(path, "shape")); err != nil {
			return out, err
		}
	} else if kind.HasShape() {
		return out, d.errAt(n, join(path, "shape"), "missing: %s needs a shape (e.g. shape: 0.5)", out.Distribution)
	}
	var given []string
	for _, k := range []string{"mean", "scale", "max", "stddev"} {
		if m.val(k) != nil {
			given = append(given, k)
		}
	}
	switch {
	case len(given) == 0:
		return out, d.errAt(n, path, "missing the distribution's size: give mean (or scale)")
	case len(given) > 1:
		return out, d.errAt(m.key(given[1]), join(path, given[1]), "give one of mean, scale, max and stddev, not %s and %s", given[0], given[1])
	}
	key := given[0]
	p := m.val(key)
	switch {
	case key == "max" && kind != chaos.Uniform:
		return out, d.errAt(m.key(key), join(path, key), "max is the uniform distribution's; %s takes mean or scale", out.Distribution)
	case key == "stddev" && kind != chaos.Normal:
		return out, d.errAt(m.key(key), join(path, key), "stddev is the normal distribution's; %s takes mean or scale", out.Distribution)
	}
	var x Duration
	if err := d.unit(p, join(path, key), &x); err != nil {
		return out, err
	}
	if x <= 0 || x > limit {
		return out, d.errAt(p, join(path, key), "must be positive and at most %v, got %v", limit, x)
	}
	out.Scale = x
	if key == "mean" {
		s, err := chaos.ScaleForMean(kind, out.Shape, x.Std())
		if err != nil {
			return out, d.errAt(p, join(path, key), "%s", strings.TrimPrefix(err.Error(), chaos.ErrConfig.Error()+": "))
		}
		out.Scale = Duration(s)
	}
	if err := out.Dist().Validate(); err != nil {
		at := m.val("shape")
		if at == nil {
			at = p
		}
		return out, d.errAt(at, path, "%s", strings.TrimPrefix(err.Error(), chaos.ErrConfig.Error()+": "))
	}
	return out, nil
}

// partitionChaos decodes a partition's oneway and share keys.
func (d *decoder) partitionChaos(m *mapping, path string, p *Partition) error {
	var err error
	if v := m.val("oneway"); v != nil {
		if p.OneWay, err = d.boolean(v, join(path, "oneway")); err != nil {
			return err
		}
		if p.OneWay && len(p.Groups) != 2 {
			return d.errAt(v, join(path, "oneway"), "a one-way partition needs exactly 2 groups (the first cannot reach the second), got %d", len(p.Groups))
		}
	}
	if v := m.val("share"); v != nil {
		if err := d.unit(v, join(path, "share"), &p.Share); err != nil {
			return err
		}
		if p.Share <= 0 {
			return d.errAt(v, join(path, "share"), "must be positive, got %v (omit share to cut every link)", p.Share)
		}
	}
	return nil
}

var churnKeys = []string{"nodes", "share", "session", "downtime", "keep_state", "start"}

// churn decodes the churn section: {nodes | share, session, downtime,
// keep_state, start}. A null section is no churn.
func (d *decoder) churn(n, key *yaml.Node) (*Churn, error) {
	if n == nil {
		return nil, nil
	}
	m, err := d.mapping(n, "churn", churnKeys)
	if err != nil {
		return nil, err
	}
	c := &Churn{}
	nodes, share := m.val("nodes"), m.val("share")
	switch {
	case nodes != nil && share != nil:
		return nil, d.errAt(m.key("share"), "churn", "give nodes or share, not both")
	case nodes != nil:
		if c.Nodes.Nodes, err = d.nodeSet(nodes, "churn.nodes"); err != nil {
			return nil, err
		}
		if c.Nodes.Nodes.Empty() {
			return nil, d.errAt(nodes, "churn.nodes", "empty node set (omit nodes for every node but the bootstrap nodes)")
		}
	case share != nil:
		if err := d.unit(share, "churn.share", &c.Nodes.Share); err != nil {
			return nil, err
		}
		if c.Nodes.Share <= 0 {
			return nil, d.errAt(share, "churn.share", "must be positive, got %v", c.Nodes.Share)
		}
	}
	if _, err := churnNodes(d.seed, d.count, d.bootstrap, c.Nodes); err != nil {
		at := share
		if at == nil {
			at = nodes
		}
		if at == nil {
			at = key
		}
		return nil, d.errAt(at, "churn", "%v%s", err, d.countNote())
	}
	for _, f := range []struct {
		key string
		dst *DistSpec
	}{{"session", &c.Session}, {"downtime", &c.Downtime}} {
		v := m.val(f.key)
		if v == nil {
			return nil, d.errAt(n, "churn."+f.key, "missing required field, e.g. %s: {distribution: exponential, mean: 5m}", f.key)
		}
		if *f.dst, err = d.distSpec(v, "churn."+f.key, Duration(chaos.MaxSample)); err != nil {
			return nil, err
		}
	}
	if v := m.val("keep_state"); v != nil {
		if c.KeepState, err = d.boolean(v, "churn.keep_state"); err != nil {
			return nil, err
		}
	}
	if c.Start, err = d.optDuration(m, "start"); err != nil {
		return nil, err
	}
	if err := d.checkTime(m.val("start"), "churn.start", c.Start); err != nil {
		return nil, err
	}
	return c, nil
}

// churnNodes resolves the churning nodes: a node set, a share drawn from
// the seed among the non-bootstrap nodes, or (empty choice) every
// non-bootstrap node.
func churnNodes(seed uint64, count int, bootstrap NodeSet, c NodeChoice) ([]int, error) {
	notBoot := func(i int) bool { return !bootstrap.Contains(i, count) }
	switch {
	case c.Share > 0:
		return drawShare(seed, count, c.Share, "churn-role", notBoot, "not bootstrap nodes")
	case !c.Nodes.Empty():
		return c.Nodes.Resolve(count)
	}
	var out []int
	for i := range count {
		if notBoot(i) {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return nil, invalidf("every node is a bootstrap node: no node is left to churn (name churn.nodes)")
	}
	return out, nil
}

// ChurnNodes returns the nodes the churn section makes come and go (nil
// without churn).
func (sc *Scenario) ChurnNodes() ([]int, error) {
	if sc.Churn == nil {
		return nil, nil
	}
	return churnNodes(sc.Seed, sc.Nodes.Count, sc.Nodes.Bootstrap, sc.Churn.Nodes)
}

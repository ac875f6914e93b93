package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/dchat/network/core/adversary"
)

// adversaryKeys are the keys of an adversaries entry.
var adversaryKeys = []string{"role", "share", "nodes", "victim", "rate", "identities", "delay", "interval"}

// adversaries decodes the adversaries section: a list of {role, share |
// nodes, victim, rate, identities, delay, interval}. Roles are
// adversary.Roles; selective-drop and eclipse need a victim, which is
// never one of the attackers; a parameter may be given only to a role
// that uses it.
func (d *decoder) adversaries(n *yaml.Node) ([]Adversary, error) {
	items, err := d.sequence(n, "adversaries", "adversaries")
	if err != nil {
		return nil, err
	}
	var out []Adversary
	for i, item := range items {
		path := fmt.Sprintf("adversaries[%d]", i)
		m, err := d.mapping(item, path, adversaryKeys)
		if err != nil {
			return nil, err
		}
		if item.Kind != yaml.MappingNode {
			return nil, d.errAt(item, path, "expected a mapping such as {role: black-hole, share: 20%%}, got %s", describe(item))
		}
		a := Adversary{Victim: -1}
		rn := m.val("role")
		if rn == nil {
			return nil, d.errAt(item, join(path, "role"), "missing required field (one of %s)", strings.Join(adversary.Roles, ", "))
		}
		if a.Role, err = d.str(rn, join(path, "role")); err != nil {
			return nil, err
		}
		if !slices.Contains(adversary.Roles, a.Role) {
			return nil, d.errAt(rn, join(path, "role"), "unknown role %q%s; roles: %s",
				a.Role, suggest(a.Role, adversary.Roles), strings.Join(adversary.Roles, ", "))
		}
		nodes, share := m.val("nodes"), m.val("share")
		switch {
		case nodes != nil && share != nil:
			return nil, d.errAt(m.key("share"), path, "give nodes or share, not both")
		case nodes == nil && share == nil:
			return nil, d.errAt(item, path, "missing which nodes play %s: add share: 10%% or nodes: [...]", a.Role)
		case nodes != nil:
			if a.Nodes, err = d.nodeSet(nodes, join(path, "nodes")); err != nil {
				return nil, err
			}
			if a.Nodes.Empty() {
				return nil, d.errAt(nodes, join(path, "nodes"), "empty node set")
			}
		default:
			if err := d.unit(share, join(path, "share"), &a.Share); err != nil {
				return nil, err
			}
			if a.Share <= 0 || a.Share >= 1 {
				return nil, d.errAt(share, join(path, "share"), "must be above 0%% and below 100%%, got %v", a.Share)
			}
		}
		if v := m.val("victim"); v != nil {
			x, err := d.integer(v, join(path, "victim"))
			if err != nil {
				return nil, err
			}
			if x < 0 || x >= int64(d.count) {
				return nil, d.errAt(v, join(path, "victim"), "node %d is out of range 0..%d%s", x, d.count-1, d.countNote())
			}
			if !adversary.NeedsVictim(a.Role) && a.Role != adversary.Sybil {
				return nil, d.errAt(m.key("victim"), join(path, "victim"), "%s targets no node (victim is for %s, %s and %s)",
					a.Role, adversary.SelectiveDrop, adversary.Eclipse, adversary.Sybil)
			}
			a.Victim = int(x)
		} else if adversary.NeedsVictim(a.Role) {
			return nil, d.errAt(item, join(path, "victim"), "missing: %s targets one node; add victim: NODE", a.Role)
		}
		if a.Victim >= 0 && !a.Nodes.Empty() && slices.Contains(mustResolve(a.Nodes, d.count), a.Victim) {
			return nil, d.errAt(m.val("victim"), join(path, "victim"), "node %d is one of the attackers", a.Victim)
		}
		uses := map[string][]string{
			"rate":       {adversary.Spam, adversary.Forged},
			"identities": {adversary.Sybil, adversary.Eclipse},
			"delay":      {adversary.Replay},
			"interval":   {adversary.Spam, adversary.Forged, adversary.Sybil, adversary.Eclipse},
		}
		for _, key := range []string{"rate", "identities", "delay", "interval"} {
			v := m.val(key)
			if v == nil {
				continue
			}
			kp := join(path, key)
			if !slices.Contains(uses[key], a.Role) {
				return nil, d.errAt(m.key(key), kp, "%s takes no %s (%s is for %s)", a.Role, key, key, strings.Join(uses[key], ", "))
			}
			switch key {
			case "rate":
				if a.Rate, err = d.float(v, kp); err != nil {
					return nil, err
				}
				if a.Rate <= 0 || a.Rate > 10000 {
					return nil, d.errAt(v, kp, "a multiple of the per-peer rate limit in (0, 10000], got %g", a.Rate)
				}
			case "identities":
				x, err := d.integer(v, kp)
				if err != nil {
					return nil, err
				}
				if x < 1 || x > 10000 {
					return nil, d.errAt(v, kp, "must be in 1..10000, got %d", x)
				}
				a.Identities = int(x)
			case "delay", "interval":
				dst := &a.Delay
				if key == "interval" {
					dst = &a.Interval
				}
				if *dst, err = d.optDuration(m, key); err != nil {
					return nil, err
				}
				if *dst <= 0 {
					return nil, d.errAt(v, kp, "must be positive, got %v", *dst)
				}
			}
		}
		out = append(out, a)
	}
	if _, err := resolveAdversaries(d.seed, d.count, d.bootstrap, out); err != nil {
		return nil, d.errAt(n, "adversaries", "%v", err)
	}
	return out, nil
}

func mustResolve(ns NodeSet, count int) []int {
	v, _ := ns.Resolve(count)
	return v
}

// resolveAdversaries returns, per entry, its attackers (sorted). Node
// sets are taken as written, and may hold no victim and no node of
// another entry's set; then each share, in order, draws round(share x
// count) nodes with the smallest (seed, node, "adversaries/K") draws
// among the nodes that are neither bootstrap nodes, a victim, nor
// another entry's attacker.
func resolveAdversaries(seed uint64, count int, bootstrap NodeSet, as []Adversary) ([][]int, error) {
	if len(as) == 0 {
		return nil, nil
	}
	taken := make([]bool, count)
	victim := make([]bool, count)
	boot := make([]bool, count)
	if !bootstrap.Empty() {
		for _, b := range mustResolve(bootstrap, count) {
			boot[b] = true
		}
	}
	for _, a := range as {
		if a.Victim >= 0 && a.Victim < count {
			victim[a.Victim] = true
		}
	}
	out := make([][]int, len(as))
	// Node sets first, as written; then shares, drawn among the rest.
	for k, a := range as {
		if a.Share > 0 {
			continue
		}
		nodes, err := a.Nodes.Resolve(count)
		if err != nil {
			return nil, fmt.Errorf("adversaries[%d]: %w", k, err)
		}
		for _, i := range nodes {
			switch {
			case victim[i]:
				return nil, fmt.Errorf("adversaries[%d]: node %d is a victim", k, i)
			case taken[i]:
				return nil, fmt.Errorf("adversaries[%d]: node %d already plays another role", k, i)
			}
			taken[i] = true
		}
		out[k] = nodes
	}
	for k, a := range as {
		if a.Share == 0 {
			continue
		}
		nodes, err := drawShare(seed, count, a.Share, "adversaries/"+strconv.Itoa(k),
			func(i int) bool { return !taken[i] && !victim[i] && !boot[i] }, "neither bootstrap nodes, victims nor other attackers")
		if err != nil {
			return nil, fmt.Errorf("adversaries[%d]: %w", k, err)
		}
		for _, i := range nodes {
			taken[i] = true
		}
		out[k] = nodes
	}
	return out, nil
}

// Attackers returns, per adversaries entry, its nodes (sorted).
func (sc *Scenario) Attackers() ([][]int, error) {
	return resolveAdversaries(sc.Seed, sc.Nodes.Count, sc.Nodes.Bootstrap, sc.Adversaries)
}

// adversariesNode is the canonical YAML of the adversaries section.
func adversariesNode(as []Adversary) *yaml.Node {
	s := seqNode()
	for _, a := range as {
		e := mapNode("role", strNode(a.Role))
		if a.Share > 0 {
			e.Content = append(e.Content, strNode("share"), strNode(a.Share.String()))
		} else {
			e.Content = append(e.Content, strNode("nodes"), nodeSetNode(a.Nodes))
		}
		if a.Victim >= 0 {
			e.Content = append(e.Content, strNode("victim"), intNode(int64(a.Victim)))
		}
		if a.Rate > 0 {
			e.Content = append(e.Content, strNode("rate"), floatNode(a.Rate))
		}
		if a.Identities > 0 {
			e.Content = append(e.Content, strNode("identities"), intNode(int64(a.Identities)))
		}
		if a.Delay > 0 {
			e.Content = append(e.Content, strNode("delay"), strNode(a.Delay.String()))
		}
		if a.Interval > 0 {
			e.Content = append(e.Content, strNode("interval"), strNode(a.Interval.String()))
		}
		s.Content = append(s.Content, flow(e))
	}
	return s
}

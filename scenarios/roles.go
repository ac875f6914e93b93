package scenarios

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/dchat/network/sim"
)

// Roles returns the scenario's relays and private nodes (nodes.relays and
// nodes.private), each sorted. See resolveRoles for how shares are drawn.
// Parse has checked that they resolve, so an error here means a Scenario
// built by hand.
func (sc *Scenario) Roles() (relays, private []int, err error) {
	relays, private, key, err := resolveRoles(sc.Seed, sc.Nodes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: nodes.%s: %w", sc.File, key, err)
	}
	return relays, private, nil
}

// resolveRoles resolves nodes.relays and nodes.private among n.Count nodes.
// A node set is taken as written; a share draws round(share x count)
// nodes among the eligible ones: those with the smallest (seed, node,
// "role/relay") or (seed, node, "role/private") draws, ties by index, so
// adding nodes changes a node's role only at the margin. Relays are drawn
// first, among the nodes that are neither bootstrap nodes nor in a private
// node set; private nodes then among those neither bootstrap nodes nor
// relays. A private node set may hold neither bootstrap nodes nor relays.
// On error key names the field at fault ("relays" or "private").
func resolveRoles(seed uint64, n Nodes) (relays, private []int, key string, err error) {
	count := n.Count
	if n.Relays.Empty() && n.Private.Empty() {
		return nil, nil, "", nil
	}
	isBoot := make([]bool, count)
	if !n.Bootstrap.Empty() {
		boot, err := n.Bootstrap.Resolve(count)
		if err != nil {
			return nil, nil, "bootstrap", err
		}
		for _, b := range boot {
			isBoot[b] = true
		}
	}
	isPriv := make([]bool, count)
	if n.Private.Share == 0 && !n.Private.Nodes.Empty() {
		if private, err = n.Private.Nodes.Resolve(count); err != nil {
			return nil, nil, "private", err
		}
		for _, i := range private {
			if isBoot[i] {
				return nil, nil, "private", invalidf("node %d is a bootstrap node; bootstrap nodes are never private", i)
			}
			isPriv[i] = true
		}
	}
	isRelay := make([]bool, count)
	switch {
	case n.Relays.Share > 0:
		relays, err = drawShare(seed, count, n.Relays.Share, "role/relay", func(i int) bool { return !isBoot[i] && !isPriv[i] },
			"neither bootstrap nor private nodes")
		if err != nil {
			return nil, nil, "relays", err
		}
	case !n.Relays.Nodes.Empty():
		if relays, err = n.Relays.Nodes.Resolve(count); err != nil {
			return nil, nil, "relays", err
		}
	}
	for _, i := range relays {
		if isPriv[i] {
			return nil, nil, "private", invalidf("node %d is a relay; relays are never private", i)
		}
		isRelay[i] = true
	}
	if n.Private.Share > 0 {
		private, err = drawShare(seed, count, n.Private.Share, "role/private", func(i int) bool { return !isBoot[i] && !isRelay[i] },
			"neither bootstrap nodes nor relays")
		if err != nil {
			return nil, nil, "private", err
		}
	}
	return relays, private, "", nil
}

// drawShare picks round(share x count) of the eligible nodes: those with
// the smallest (seed, node, purpose) draws. The result is sorted.
func drawShare(seed uint64, count int, share Fraction, purpose string, eligible func(int) bool, what string) ([]int, error) {
	k := int(math.Round(float64(share) * float64(count)))
	if k == 0 {
		return nil, invalidf("%v of %d nodes is no node; raise the share or name nodes", share, count)
	}
	type draw struct {
		u float64
		i int
	}
	var ds []draw
	for i := range count {
		if eligible(i) {
			ds = append(ds, draw{sim.StreamFloat(seed, i, purpose), i})
		}
	}
	if k > len(ds) {
		return nil, invalidf("%v of %d nodes is %d nodes, but only %d are %s", share, count, k, len(ds), what)
	}
	slices.SortFunc(ds, func(a, b draw) int {
		if c := cmp.Compare(a.u, b.u); c != 0 {
			return c
		}
		return a.i - b.i
	})
	out := make([]int, k)
	for j := range out {
		out[j] = ds[j].i
	}
	slices.Sort(out)
	return out, nil
}

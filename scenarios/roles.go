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

// natServers returns the sorted union of the bootstrap, STUN and TURN
// nodes: the public nodes of the NAT model.
func natServers(count int, bootstrap NodeSet, spec NATSpec) ([]int, error) {
	var all []int
	for _, set := range []NodeSet{bootstrap, spec.STUN, spec.TURN} {
		if set.Empty() {
			continue
		}
		ns, err := set.Resolve(count)
		if err != nil {
			return nil, err
		}
		all = append(all, ns...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// NATRoles is the NAT model's assignment of nodes: each node's NAT type
// (one of NATTypes; servers are "none"), whether its gateway offers UPnP,
// and the server lists, each sorted.
type NATRoles struct {
	Type                  []string
	UPnP                  []bool
	Servers, Clients      []int
	STUN, TURN, Bootstrap []int
}

// NATRoles resolves nodes.nat and network.nat. The clients (nodes that
// are neither bootstrap, STUN nor TURN nodes) are ordered by their (seed,
// node, "role/nat") draws, ties by index, and cut into consecutive runs
// in NATTypes order: a type with cumulative share c ends at
// round(c x clients). UPnP gateways go to round(upnp x natted) of the
// NATed clients with the smallest (seed, node, "role/upnp") draws. Without
// nodes.nat it returns nil.
func (sc *Scenario) NATRoles() (*NATRoles, error) {
	n := sc.Nodes
	if len(n.NAT) == 0 {
		return nil, nil
	}
	count := n.Count
	servers, err := natServers(count, n.Bootstrap, sc.Network.NAT)
	if err != nil {
		return nil, fmt.Errorf("%s: network.nat: %w", sc.File, err)
	}
	r := &NATRoles{Type: make([]string, count), UPnP: make([]bool, count), Servers: servers}
	for i := range r.Type {
		r.Type[i] = "none"
	}
	if r.STUN, err = sc.Network.NAT.STUN.Resolve(count); err != nil {
		return nil, err
	}
	if !sc.Network.NAT.TURN.Empty() {
		if r.TURN, err = sc.Network.NAT.TURN.Resolve(count); err != nil {
			return nil, err
		}
	}
	if r.Bootstrap, err = n.Bootstrap.Resolve(count); err != nil {
		return nil, err
	}
	type draw struct {
		u float64
		i int
	}
	byDraw := func(purpose string, nodes []int) []int {
		ds := make([]draw, len(nodes))
		for j, i := range nodes {
			ds[j] = draw{sim.StreamFloat(sc.Seed, i, purpose), i}
		}
		slices.SortFunc(ds, func(a, b draw) int {
			if c := cmp.Compare(a.u, b.u); c != 0 {
				return c
			}
			return a.i - b.i
		})
		out := make([]int, len(ds))
		for j, d := range ds {
			out[j] = d.i
		}
		return out
	}
	for i := range count {
		if _, isServer := slices.BinarySearch(servers, i); !isServer {
			r.Clients = append(r.Clients, i)
		}
	}
	order := byDraw("role/nat", r.Clients)
	cum, start := 0.0, 0
	var natted []int
	for _, t := range NATTypes {
		for _, s := range n.NAT {
			if s.Type != t {
				continue
			}
			cum += float64(s.Share)
			end := min(int(math.Round(cum*float64(len(order)))), len(order))
			if s == n.NAT[len(n.NAT)-1] {
				end = len(order) // the shares sum to 100% within rounding
			}
			for _, i := range order[start:end] {
				r.Type[i] = t
				if t != "none" {
					natted = append(natted, i)
				}
			}
			start = end
		}
	}
	slices.Sort(natted)
	k := int(math.Round(float64(sc.Network.NAT.UPnP) * float64(len(natted))))
	for _, i := range byDraw("role/upnp", natted)[:k] {
		r.UPnP[i] = true
	}
	return r, nil
}

package scenarios

import (
	"fmt"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/traversal"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/sim"
)

// natRun is the NAT model's part of a run: the roles, every node's
// traversal component, and the record of each connect the workload asked
// for, measured from both sides.
type natRun struct {
	roles *NATRoles
	trav  []*traversal.Traversal
	byID  map[identity.PeerID]int
	// connects in the order they were asked for; open holds the latest
	// connect of each ordered pair, where both sides' events land.
	connects []*natConnect
	open     map[[2]int]*natConnect
	refused  map[string]uint64 // Connect errors, by error
	col      *reports.NATCollector
}

// natConnect is one connect: who asked whom, when, and what each method
// did on either side.
type natConnect struct {
	a, b     int
	path     bool
	failed   bool
	method   traversal.Method
	took     time.Duration
	tried    map[traversal.Method]bool // by either side
	ok       map[traversal.Method]bool
	upgrades int
}

// natNetConfig puts the NAT boxes, the STUN and the TURN servers into the
// network configuration.
func (r *runner) natNetConfig(cfg *sim.NetConfig) error {
	sc := r.sc
	roles, err := sc.NATRoles()
	if err != nil || roles == nil {
		return err
	}
	r.nat = &natRun{roles: roles, byID: map[identity.PeerID]int{}, open: map[[2]int]*natConnect{},
		refused: map[string]uint64{}, col: reports.NewNATCollector()}
	n := sc.Nodes.Count
	cfg.NAT = make([]sim.NATConfig, n)
	for i, t := range roles.Type {
		if t == "none" {
			continue
		}
		c := sim.NATPreset(natType(t))
		c.Timeout = time.Duration(sc.Network.NAT.BindingTimeout)
		c.UPnP = roles.UPnP[i]
		cfg.NAT[i] = c
	}
	cfg.STUNServers = roles.STUN
	cfg.TURNServers = roles.TURN
	return nil
}

// natType maps a NATTypes name to its core type.
func natType(name string) core.NATType {
	switch name {
	case "full-cone":
		return core.NATFullCone
	case "restricted-cone":
		return core.NATRestrictedCone
	case "port-restricted":
		return core.NATPortRestricted
	case "symmetric":
		return core.NATSymmetric
	}
	return core.NATOpen
}

// natName is the inverse of natType, for the types nodes discover.
func natName(t string) string {
	if t == core.NATOpen.String() {
		return "none"
	}
	return t
}

// attachNAT gives node i its traversal component: every node asks the
// STUN servers about itself, registers with the rendezvous (the bootstrap
// nodes, which serve), and keeps its paths alive.
func (r *runner) attachNAT(i int, node *core.Node) error {
	nr := r.nat
	if nr == nil {
		return nil
	}
	if nr.trav == nil {
		nr.trav = make([]*traversal.Traversal, r.sc.Nodes.Count)
	}
	cfg := traversal.FromCore(r.sc.Protocol)
	for _, s := range nr.roles.STUN {
		cfg.STUNServers = append(cfg.STUNServers, sim.STUNAddr(s))
	}
	for _, s := range nr.roles.TURN {
		cfg.TURNServers = append(cfg.TURNServers, sim.TURNAddr(s))
	}
	for _, b := range nr.roles.Bootstrap {
		if b != i {
			cfg.Rendezvous = append(cfg.Rendezvous, sim.Addr(b))
		}
	}
	_, cfg.Serve = slices.BinarySearch(nr.roles.Bootstrap, i)
	// A rendezvous holds every client's registration.
	cfg.MaxRegistrations = max(cfg.MaxRegistrations, 2*r.sc.Nodes.Count)
	t, err := traversal.New(node, cfg)
	if err != nil {
		return fmt.Errorf("%s: node %d: traversal: %w", r.sc.File, i, err)
	}
	nr.trav[i] = t
	nr.byID[node.ID()] = i
	return nil
}

// connectRound asks for one workload entry's connects, spread over Over.
type connectRound struct {
	r     *runner
	from  []int
	to    []int
	work  *ConnectWork
	index int
}

func (c connectRound) HandleEvent(int, any) {
	eng := c.r.w.Engine()
	step := time.Duration(0)
	if c.work.Count > 1 {
		step = time.Duration(c.work.Over) / time.Duration(c.work.Count)
	}
	for k := range c.work.Count {
		eng.Schedule(eng.Now()+time.Duration(k)*step, oneConnect(c), 0, nil)
	}
}

type oneConnect connectRound

// maxConnectDraws bounds the draws for a pair that is live, distinct and
// not already connected or connecting.
const maxConnectDraws = 32

// HandleEvent asks a live node of From for a path to a live node of To.
func (c oneConnect) HandleEvent(int, any) {
	r := c.r
	nr := r.nat
	rng := r.publishRand(c.index)
	now := r.w.Now()
	var lastErr error
	for range maxConnectDraws {
		a := c.from[rng.IntN(len(c.from))]
		b := c.to[rng.IntN(len(c.to))]
		if a == b || !r.w.Up(a) || !r.w.Up(b) {
			continue
		}
		err := nr.trav[a].Connect(now, r.ids[b].ID())
		if err != nil {
			lastErr = err
			continue
		}
		rec := &natConnect{a: a, b: b, tried: map[traversal.Method]bool{}, ok: map[traversal.Method]bool{}}
		nr.connects = append(nr.connects, rec)
		nr.open[[2]int{a, b}] = rec
		return
	}
	reason := "no-live-pair"
	if lastErr != nil {
		reason = lastErr.Error()
	}
	nr.refused[reason]++
}

// observeNAT feeds the traversal events into the connect records and the
// collector.
func (r *runner) observeNAT(now time.Time, node int, ev core.Event) {
	nr := r.nat
	if nr == nil || node < 0 {
		return
	}
	rec := func(peer identity.PeerID, initiator bool) *natConnect {
		j, ok := nr.byID[peer]
		if !ok {
			return nil
		}
		if initiator {
			return nr.open[[2]int{node, j}]
		}
		return nr.open[[2]int{j, node}]
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	switch e := ev.(type) {
	case traversal.Discovered:
		if !e.Assumed {
			// A live UPnP mapping forwards unsolicited traffic, so a
			// STUN client behind it sees that: say so in the label.
			configured := nr.roles.Type[node]
			if nr.roles.UPnP[node] {
				configured += "+upnp"
			}
			nr.col.Discovered(configured, natName(e.Type), e.Err == "", ms(e.Took))
		}
	case traversal.Mapped:
		nr.col.Mapped(e.Err == "", ms(e.Took))
	case traversal.RelayAllocated:
		nr.col.Allocated(e.Err == "", ms(e.Took))
	case traversal.Attempt:
		// An attempt a better path made moot neither failed nor worked.
		if c := rec(e.Peer, e.Initiator); c != nil && e.Result != "abandoned" {
			c.tried[e.Method] = true
			if e.OK {
				c.ok[e.Method] = true
			}
		}
	case traversal.PathSet:
		if c := rec(e.Peer, e.Initiator); c != nil && e.Initiator && !c.path {
			c.path, c.method, c.took = true, e.Method, e.Took
		}
	case traversal.Failed:
		if c := rec(e.Peer, e.Initiator); c != nil && e.Initiator && !c.path {
			c.failed = true
		}
	case traversal.Upgrade:
		if c := rec(e.Peer, true); c != nil {
			c.upgrades++
		}
	}
}

// natSection finishes the NAT summary: each connect's methods count once
// per connect, whichever side tried them.
func (r *runner) natSection() *reports.NATSection {
	nr := r.nat
	if nr == nil {
		return nil
	}
	c := nr.col
	for i, t := range nr.roles.Type {
		c.Node(t, nr.roles.UPnP[i])
	}
	c.Servers(len(nr.roles.STUN), len(nr.roles.TURN), len(nr.roles.Bootstrap))
	for _, k := range nr.connects {
		ta, tb := nr.roles.Type[k.a], nr.roles.Type[k.b]
		c.Connect(ta, tb)
		for _, m := range []traversal.Method{traversal.MethodDirect, traversal.MethodUPnP, traversal.MethodPunch, traversal.MethodRelay} {
			if k.tried[m] {
				c.Attempt(ta, tb, m.String(), k.ok[m])
			}
		}
		switch {
		case k.path:
			c.Connected(ta, tb, k.method.String(), float64(k.took)/1e6)
			if p, ok := nr.trav[k.a].Path(r.ids[k.b].ID()); ok && p.Addr.IsValid() {
				c.Final(p.Method.String())
			} else {
				c.Final("lost")
			}
		case k.failed:
			c.NoPath(ta, tb)
		}
		for range k.upgrades {
			c.Upgraded()
		}
	}
	return c.Section()
}

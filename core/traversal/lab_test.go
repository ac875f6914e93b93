package traversal_test

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/traversal"
)

// A small RFC 4787 NAT lab for these tests only, put between coretest's
// nodes through its Route hook. Mapping: endpoint-independent for the
// cones, address-and-port-dependent with random ports (like iptables
// --random-fully) for symmetric. Filtering: endpoint-independent
// (full-cone), address-dependent (restricted), address-and-port-dependent
// (port-restricted, symmetric). Mapping and filtering are kept apart, as in
// pion's vnet. A TURN server relays for allocations with per-IP
// permissions, and a node whose allocation permits an IP sends everything
// to that IP through the relay (the core.Connectivity contract).

var (
	stunServer = netip.MustParseAddrPort("192.0.2.1:3478")
	turnServer = netip.MustParseAddrPort("203.0.113.1:3478")
	errNone    = errors.New("not available")
)

type mapping struct {
	port    uint16
	forward bool // a UPnP port forwarding: accepts anything
	sent    map[netip.AddrPort]bool
	sentIP  map[netip.Addr]bool
}

type natBox struct {
	typ    core.NATType
	inner  netip.AddrPort
	public netip.Addr
	eim    *mapping
	byDest map[netip.AddrPort]*mapping
	byPort map[uint16]*mapping
	rng    *rand.Rand
}

func (b *natBox) newMapping(port uint16) *mapping {
	m := &mapping{port: port, sent: map[netip.AddrPort]bool{}, sentIP: map[netip.Addr]bool{}}
	b.byPort[port] = m
	return m
}

// outbound maps a packet from the inner endpoint to dst and records the
// filter state; it returns the external source endpoint.
func (b *natBox) outbound(dst netip.AddrPort) netip.AddrPort {
	var m *mapping
	if b.typ == core.NATSymmetric {
		if m = b.byDest[dst]; m == nil {
			port := uint16(20000 + b.rng.IntN(40000))
			for b.byPort[port] != nil {
				port++
			}
			m = b.newMapping(port)
			b.byDest[dst] = m
		}
	} else {
		if b.eim == nil {
			b.eim = b.newMapping(40000)
		}
		m = b.eim
	}
	m.sent[dst], m.sentIP[dst.Addr()] = true, true
	return netip.AddrPortFrom(b.public, m.port)
}

// inbound filters a packet from src to the external port.
func (b *natBox) inbound(src netip.AddrPort, port uint16) bool {
	m := b.byPort[port]
	switch {
	case m == nil:
		return false
	case m.forward || b.typ == core.NATFullCone:
		return true
	case b.typ == core.NATRestrictedCone:
		return m.sentIP[src.Addr()]
	}
	return m.sent[src]
}

type allocation struct {
	holder  netip.AddrPort
	relayed netip.AddrPort
	perms   map[netip.Addr]bool
}

type spec struct {
	typ   core.NATType
	upnp  bool // the gateway grants a port mapping
	relay bool // the TURN server grants an allocation
}

type lab struct {
	t        *testing.T
	net      *coretest.Net
	boxes    map[netip.AddrPort]*natBox
	byPublic map[netip.Addr]*natBox
	allocs   map[netip.AddrPort]*allocation
	byHolder map[netip.AddrPort]*allocation
	specs    []spec
	nodes    []*core.Node
	ts       []*traversal.Traversal
	paths    map[int][]pathChange
	// block, if set, loses packets (after NAT translation).
	block func(src, dst netip.AddrPort, pkt []byte) bool
}

type pathChange struct {
	at     time.Duration
	addr   netip.AddrPort
	method traversal.Method
}

// newLab builds node 0, an open rendezvous, and one node per spec behind
// its NAT, all configured by cfg (which may be nil).
func newLab(t *testing.T, specs []spec, cfg func(i int, c *traversal.Config)) *lab {
	t.Helper()
	return newLabOpts(t, specs, cfg, nil)
}

func newLabOpts(t *testing.T, specs []spec, cfg func(i int, c *traversal.Config), peers core.PeerDirectory) *lab {
	t.Helper()
	l := &lab{t: t, net: coretest.New(10 * time.Millisecond), boxes: map[netip.AddrPort]*natBox{},
		byPublic: map[netip.Addr]*natBox{}, allocs: map[netip.AddrPort]*allocation{},
		byHolder: map[netip.AddrPort]*allocation{}, paths: map[int][]pathChange{}}
	l.specs = append([]spec{{typ: core.NATOpen}}, specs...)
	for i, s := range l.specs {
		if s.typ == core.NATOpen {
			continue
		}
		b := &natBox{typ: s.typ, inner: coretest.Addr(i), public: netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}),
			byDest: map[netip.AddrPort]*mapping{}, byPort: map[uint16]*mapping{}, rng: rand.New(rand.NewPCG(uint64(i), 7))}
		l.boxes[b.inner], l.byPublic[b.public] = b, b
	}
	if peers != nil {
		l.net.Peers = peers
	}
	l.net.Route = l.route
	l.net.Connectivity = func(i int, addr netip.AddrPort) core.Connectivity {
		if i == 0 {
			return nil
		}
		return &fakeConn{l: l, i: i, self: addr}
	}
	for i := range l.specs {
		node := l.net.AddNode(i, core.DefaultConfig())
		c := traversal.DefaultConfig()
		if i == 0 {
			c.Serve = true
		} else {
			c.Rendezvous = []netip.AddrPort{coretest.Addr(0)}
			c.STUNServers = []netip.AddrPort{stunServer}
			c.TURNServers = []netip.AddrPort{turnServer}
		}
		if cfg != nil {
			cfg(i, &c)
		}
		tr, err := traversal.New(node, c)
		if err != nil {
			t.Fatal(err)
		}
		i := i
		tr.OnPath(func(now time.Time, peer identity.PeerID, addr netip.AddrPort, m traversal.Method) {
			l.paths[i] = append(l.paths[i], pathChange{now.Sub(coretest.Epoch), addr, m})
		})
		l.nodes, l.ts = append(l.nodes, node), append(l.ts, tr)
	}
	return l
}

func (l *lab) start() {
	for _, n := range l.nodes {
		n.Start(l.net.Now())
	}
}

func (l *lab) run(d time.Duration) { l.net.Run(l.net.Now().Add(d)) }

func (l *lab) id(i int) identity.PeerID { return l.nodes[i].ID() }

func (l *lab) route(from, to netip.AddrPort, pkt []byte) (netip.AddrPort, netip.AddrPort, bool) {
	src, dst, ok := l.translate(from, to)
	if ok && l.block != nil && l.block(src, to, pkt) {
		return src, dst, false
	}
	return src, dst, ok
}

func (l *lab) translate(from, to netip.AddrPort) (netip.AddrPort, netip.AddrPort, bool) {
	if a := l.byHolder[from]; a != nil && a.perms[to.Addr()] {
		return l.deliver(a.relayed, to) // the relay sends it on from the relayed address
	}
	src := from
	if b := l.boxes[from]; b != nil {
		src = b.outbound(to)
	}
	if a := l.allocs[to]; a != nil {
		if !a.perms[src.Addr()] {
			return src, to, false
		}
		return src, a.holder, true // the TURN client's own binding is kept open by its refreshes
	}
	return l.deliver(src, to)
}

func (l *lab) deliver(src, to netip.AddrPort) (netip.AddrPort, netip.AddrPort, bool) {
	if b := l.byPublic[to.Addr()]; b != nil {
		return src, b.inner, b.inbound(src, to.Port())
	}
	return src, to, true
}

// fakeConn answers Connectivity calls from the lab's truth, later, through
// the harness's clock.
type fakeConn struct {
	l    *lab
	i    int
	self netip.AddrPort
}

func (f *fakeConn) QueryMapping(server netip.AddrPort, discover bool, done func(core.MappingResult)) {
	s := f.l.specs[f.i]
	r := core.MappingResult{Public: f.self, Type: s.typ, Took: 20 * time.Millisecond,
		Mapping: core.BehaviorEndpointIndependent, Filtering: core.BehaviorEndpointIndependent}
	if b := f.l.boxes[f.self]; b != nil {
		r.Public = b.outbound(server)
		switch s.typ {
		case core.NATRestrictedCone:
			r.Filtering = core.BehaviorAddressDependent
		case core.NATPortRestricted:
			r.Filtering = core.BehaviorAddressPortDependent
		case core.NATSymmetric:
			r.Mapping, r.Filtering = core.BehaviorAddressPortDependent, core.BehaviorAddressPortDependent
		}
	}
	f.l.net.After(r.Took, func() { done(r) })
}

func (f *fakeConn) MapPort(lease time.Duration, done func(core.PortMapping)) {
	r := core.PortMapping{Took: 30 * time.Millisecond, Err: errNone}
	if b := f.l.boxes[f.self]; b != nil && f.l.specs[f.i].upnp {
		m := b.newMapping(10000)
		m.forward = true
		r = core.PortMapping{External: netip.AddrPortFrom(b.public, 10000), Lease: lease, Took: r.Took}
	}
	f.l.net.After(r.Took, func() { done(r) })
}

func (f *fakeConn) AllocateRelay(server netip.AddrPort, done func(core.RelayAllocation)) {
	r := core.RelayAllocation{Took: 40 * time.Millisecond, Err: errNone}
	if f.l.specs[f.i].relay {
		a := &allocation{holder: f.self, relayed: netip.AddrPortFrom(turnServer.Addr(), uint16(50000+f.i)), perms: map[netip.Addr]bool{}}
		f.l.allocs[a.relayed], f.l.byHolder[f.self] = a, a
		r = core.RelayAllocation{Relayed: a.relayed, Lifetime: 10 * time.Minute, Took: r.Took}
	}
	f.l.net.After(r.Took, func() { done(r) })
}

func (f *fakeConn) PermitRelay(peer netip.Addr) {
	if a := f.l.byHolder[f.self]; a != nil {
		a.perms[peer] = true
	}
}

// events returns the events of type E observed at node i.
func events[E core.Event](l *lab, i int) []E {
	var out []E
	for _, o := range l.net.Events {
		if e, ok := o.Ev.(E); ok && o.Node == coretest.Addr(i) {
			out = append(out, e)
		}
	}
	return out
}

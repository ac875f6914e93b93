package sim

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// testKind is the wire kind of the tiny test protocol below.
const testKind wire.Kind = 0xf0

// natRecv is a packet a test node received.
type natRecv struct {
	at   time.Duration
	from netip.AddrPort
	body string
}

// natRig is a world under the NAT model whose nodes run a tiny protocol:
// every testKind packet is recorded, and one whose body starts with
// "punch" is answered with "ack" to the address it came from.
type natRig struct {
	t    *testing.T
	w    *World
	got  [][]natRecv
	conn []core.Connectivity
}

func newNATRig(t *testing.T, cfg NetConfig, n int) *natRig {
	t.Helper()
	if cfg.Latency == nil {
		cfg.Latency = NewConstantLatency(10 * time.Millisecond)
	}
	w, err := NewWorld(1, n, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &natRig{t: t, w: w, got: make([][]natRecv, n), conn: make([]core.Connectivity, n)}
	for i := range n {
		id, _ := identity.Generate(w.Entropy(i, "identity"))
		env := w.Env(i)
		node, err := core.NewNode(id, env, core.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if err := node.Register(testKind, func(now time.Time, from netip.AddrPort, body []byte) error {
			r.got[i] = append(r.got[i], natRecv{now.Sub(Epoch), from, string(body)})
			if len(body) >= 5 && string(body[:5]) == "punch" {
				r.send(i, from, "ack")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w.SetNode(i, node)
		node.Start(w.Now())
		r.conn[i] = env.Connectivity
	}
	return r
}

func (r *natRig) send(i int, to netip.AddrPort, body string) {
	r.w.Node(i).Send(to, append(wire.AppendEnvelope(nil, testKind), body...))
}

// run advances the world by d.
func (r *natRig) run(d time.Duration) { r.w.Run(r.w.eng.Now() + d) }

// query runs QueryMapping for node i to completion.
func (r *natRig) query(i, server int, discover bool) core.MappingResult {
	r.t.Helper()
	var res *core.MappingResult
	start := r.w.eng.Now()
	r.conn[i].QueryMapping(STUNAddr(server), discover, func(m core.MappingResult) { res = &m })
	if res != nil {
		r.t.Fatal("QueryMapping called done before returning")
	}
	r.run(10 * time.Second)
	if res == nil {
		r.t.Fatalf("node %d: QueryMapping never finished (started at %v)", i, start)
	}
	return *res
}

// natCfg returns a NetConfig where node k has NAT nats[k] (zero: public).
func natCfg(nats ...NATConfig) NetConfig { return NetConfig{NAT: nats} }

var natTypes = []core.NATType{core.NATOpen, core.NATFullCone, core.NATRestrictedCone, core.NATPortRestricted, core.NATSymmetric}

// Discovery classifies each preset from real request packets and reports
// the public endpoint; STUN packets never reach the core node.
func TestQueryMappingDiscovery(t *testing.T) {
	const rtt = 20 * time.Millisecond
	adm := NATConfig{Mapping: core.BehaviorAddressDependent, Filtering: core.BehaviorAddressDependent}
	cases := []struct {
		name string
		nat  NATConfig
		want core.NATType
		m, f core.Behavior
	}{
		{"open", NATConfig{}, core.NATOpen, core.BehaviorEndpointIndependent, core.BehaviorEndpointIndependent},
		{"full-cone", NATPreset(core.NATFullCone), core.NATFullCone, core.BehaviorEndpointIndependent, core.BehaviorEndpointIndependent},
		{"restricted-cone", NATPreset(core.NATRestrictedCone), core.NATRestrictedCone, core.BehaviorEndpointIndependent, core.BehaviorAddressDependent},
		{"port-restricted", NATPreset(core.NATPortRestricted), core.NATPortRestricted, core.BehaviorEndpointIndependent, core.BehaviorAddressPortDependent},
		{"symmetric", NATPreset(core.NATSymmetric), core.NATSymmetric, core.BehaviorAddressPortDependent, core.BehaviorAddressPortDependent},
		{"address-dependent", adm, core.NATSymmetric, core.BehaviorAddressDependent, core.BehaviorAddressDependent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := natCfg(NATConfig{}, tc.nat)
			cfg.STUNServers = []int{0}
			r := newNATRig(t, cfg, 2)
			res := r.query(1, 0, true)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Type != tc.want || res.Mapping != tc.m || res.Filtering != tc.f {
				t.Fatalf("got %v (mapping %v, filtering %v), want %v (%v, %v)", res.Type, res.Mapping, res.Filtering, tc.want, tc.m, tc.f)
			}
			wantIP := NATAddr(1)
			if !tc.nat.Enabled() {
				wantIP = Addr(1).Addr()
			}
			if res.Public.Addr() != wantIP {
				t.Fatalf("public %v, want address %v", res.Public, wantIP)
			}
			if tc.nat.Enabled() && tc.nat.Mapping == core.BehaviorEndpointIndependent && res.Public.Port() != Port {
				t.Fatalf("public %v: a port-preserving box should keep %d", res.Public, Port)
			}
			// A few RTTs; plus one 1.5 s timeout when a filtering test
			// gets no answer.
			// (Open: no mapping tests, M1 is the local address.)
			lo, hi := 3*rtt, 4*rtt+time.Millisecond
			if !tc.nat.Enabled() {
				lo, hi = 2*rtt, 2*rtt
			}
			if tc.f != core.BehaviorEndpointIndependent {
				lo, hi = lo+stunGiveUp-rtt, hi+stunGiveUp
			}
			if res.Took < lo || res.Took > hi {
				t.Fatalf("took %v, want in [%v, %v]", res.Took, lo, hi)
			}
			if s := r.w.Node(1).Stats(); s.PacketsIn != 0 {
				t.Fatalf("core node got %d packets: STUN leaked into HandlePacket", s.PacketsIn)
			}
			if s := r.w.NATStats(); s.STUNResponses == 0 || s.STUNTransactions < 3 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// Without discover, one transaction: one RTT, the public endpoint, and
// Type only when the node is open.
func TestQueryMappingPlain(t *testing.T) {
	cfg := natCfg(NATConfig{}, NATPreset(core.NATPortRestricted))
	cfg.STUNServers = []int{0}
	r := newNATRig(t, cfg, 2)
	res := r.query(1, 0, false)
	if res.Err != nil || res.Public != netip.AddrPortFrom(NATAddr(1), Port) || res.Took != 20*time.Millisecond || res.Type != core.NATUnknown {
		t.Fatalf("%+v", res)
	}
}

// With every packet lost the query fails after its retransmissions, in
// stunGiveUp.
func TestQueryMappingLoss(t *testing.T) {
	cfg := natCfg(NATConfig{}, NATPreset(core.NATFullCone))
	cfg.STUNServers = []int{0}
	r := newNATRig(t, cfg, 2)
	r.w.Network().Partition([][]int{{0}, {1}})
	res := r.query(1, 0, true)
	if !errors.Is(res.Err, ErrSTUNTimeout) || res.Took != stunGiveUp {
		t.Fatalf("%+v, want ErrSTUNTimeout after %v", res, stunGiveUp)
	}
	if s := r.w.NATStats(); s.STUNRequests != stunTries || s.STUNTimeouts != 1 {
		t.Fatalf("stats %+v: want %d requests, 1 timeout", s, stunTries)
	}
	// Not a STUN server: the request goes nowhere.
	res = r.query(1, 1, false)
	if !errors.Is(res.Err, ErrSTUNTimeout) {
		t.Fatalf("%+v", res)
	}
}

// A crash discards the pending result of a query started before it.
func TestQueryMappingCrash(t *testing.T) {
	cfg := natCfg(NATConfig{}, NATPreset(core.NATFullCone))
	cfg.STUNServers = []int{0}
	r := newNATRig(t, cfg, 2)
	called := false
	r.conn[1].QueryMapping(STUNAddr(0), false, func(core.MappingResult) { called = true })
	r.run(5 * time.Millisecond)
	r.w.Crash(1)
	r.run(time.Millisecond)
	r.w.Restart(1, nil)
	r.run(5 * time.Second)
	if called {
		t.Fatal("result of an earlier incarnation delivered")
	}
	// The box kept the binding the request opened.
	if got := r.w.NAT(1).Mappings(r.w.eng.Now()); got != 1 {
		t.Fatalf("%d mappings after the crash, want 1", got)
	}
}

// punch runs a packet-level hole punch between nodes 1 and 2 behind NATs
// a and b: each learns its public endpoint from the STUN server at node 0,
// then both send to each other's at the same time (three times, 100 ms
// apart), and every punch received is acknowledged to its source. It
// reports whether each side received something from the other.
func punch(t *testing.T, a, b NATConfig) (ok bool, detail string) {
	cfg := natCfg(NATConfig{}, a, b)
	cfg.STUNServers = []int{0}
	r := newNATRig(t, cfg, 3)
	var pub [3]netip.AddrPort
	for _, i := range []int{1, 2} {
		r.conn[i].QueryMapping(STUNAddr(0), false, func(m core.MappingResult) {
			if m.Err != nil {
				t.Errorf("node %d: %v", i, m.Err)
			}
			pub[i] = m.Public
		})
	}
	r.run(time.Second)
	for k := range 3 {
		r.send(1, pub[2], fmt.Sprint("punch", k))
		r.send(2, pub[1], fmt.Sprint("punch", k))
		r.run(100 * time.Millisecond)
	}
	r.run(time.Second)
	ok = len(r.got[1]) > 0 && len(r.got[2]) > 0
	return ok, fmt.Sprintf("1 (%v) got %v; 2 (%v) got %v; drops %v", pub[1], r.got[1], pub[2], r.got[2], r.w.Stats().Dropped)
}

// The textbook hole-punching matrix: every pair succeeds except
// port-restricted × symmetric and symmetric × symmetric.
func TestHolePunchMatrix(t *testing.T) {
	for _, ta := range natTypes {
		for _, tb := range natTypes {
			t.Run(ta.String()+"×"+tb.String(), func(t *testing.T) {
				sym := func(x core.NATType) bool { return x == core.NATSymmetric }
				want := !(sym(ta) && sym(tb) ||
					sym(ta) && tb == core.NATPortRestricted ||
					sym(tb) && ta == core.NATPortRestricted)
				got, detail := punch(t, NATPreset(ta), NATPreset(tb))
				if got != want {
					t.Fatalf("success = %v, want %v: %s", got, want, detail)
				}
			})
		}
	}
}

// Address plan: a NATed node's private address is unreachable; its
// packets arrive from its NAT's endpoint.
func TestNATPrivateAndSource(t *testing.T) {
	r := newNATRig(t, natCfg(NATConfig{}, NATPreset(core.NATFullCone)), 2)
	r.send(0, Addr(1), "hello")
	r.run(time.Second)
	if len(r.got[1]) != 0 || r.w.Stats().Dropped[DropNATPrivate] != 1 {
		t.Fatalf("got %v, drops %v", r.got[1], r.w.Stats().Dropped)
	}
	if r.w.Env(1).Transport.LocalAddr() != Addr(1) {
		t.Fatal("LocalAddr is not the private address")
	}
	r.send(1, Addr(0), "hi")
	r.run(time.Second)
	if len(r.got[0]) != 1 || r.got[0][0].from != netip.AddrPortFrom(NATAddr(1), Port) {
		t.Fatalf("public node got %v, want one packet from %v:%d", r.got[0], NATAddr(1), Port)
	}
	if i, ok := r.w.NodeOf(r.got[0][0].from); !ok || i != 1 {
		t.Fatalf("NodeOf(%v) = %d, %v", r.got[0][0].from, i, ok)
	}
	// Full cone: anyone may now send to the mapping.
	r.send(0, r.got[0][0].from, "back")
	r.run(time.Second)
	if len(r.got[1]) != 1 || r.got[1][0].from != Addr(0) {
		t.Fatalf("NATed node got %v", r.got[1])
	}
	if s := r.w.NATStats(); s.NATs != 1 || s.MappingsCreated != 1 || s.DroppedPrivate != 1 || s.InboundPassed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// UPnP: unsolicited inbound reaches the node after MapPort, not before;
// the lease is renewed while the node is up and expires after a crash;
// without a gateway MapPort fails after the SSDP timeout.
func TestUPnP(t *testing.T) {
	gw := NATPreset(core.NATPortRestricted)
	gw.UPnP = true
	r := newNATRig(t, natCfg(NATConfig{}, gw, NATPreset(core.NATPortRestricted)), 3)
	ext := netip.AddrPortFrom(NATAddr(1), Port)
	r.send(0, ext, "early")
	r.run(time.Second)
	if len(r.got[1]) != 0 || r.w.Stats().Dropped[DropNATNoMapping] != 1 {
		t.Fatalf("reached before MapPort: %v %v", r.got[1], r.w.Stats().Dropped)
	}
	const lease = 10 * time.Minute
	var pm *core.PortMapping
	r.conn[1].MapPort(lease, func(m core.PortMapping) { pm = &m })
	if pm != nil {
		t.Fatal("done called synchronously")
	}
	r.run(time.Second)
	if pm == nil || pm.Err != nil || pm.External != ext || pm.Lease != lease || pm.Took != 2*upnpLAN {
		t.Fatalf("MapPort: %+v", pm)
	}
	r.send(0, ext, "late")
	r.run(time.Second)
	if len(r.got[1]) != 1 || r.got[1][0].from != Addr(0) {
		t.Fatalf("after MapPort: %v", r.got[1])
	}
	// Renewed: still reachable three leases later without traffic.
	r.run(3 * lease)
	r.send(0, ext, "renewed")
	r.run(time.Second)
	if len(r.got[1]) != 2 || r.w.NATStats().UPnPRenewals < 5 {
		t.Fatalf("after renewals: %v, stats %+v", r.got[1], r.w.NATStats())
	}
	// A crash stops renewals; the box drops the mapping after the lease.
	r.w.Crash(1)
	r.run(lease + time.Second)
	if r.w.NAT(1).Mappings(r.w.eng.Now()) != 0 {
		t.Fatal("port mapping outlived its lease after the crash")
	}
	// No gateway: a box without UPnP, or no box at all.
	for _, i := range []int{2, 0} {
		var res *core.PortMapping
		r.conn[i].MapPort(time.Hour, func(m core.PortMapping) { res = &m })
		r.run(5 * time.Second)
		if res == nil || !errors.Is(res.Err, ErrNoGateway) || res.Took != ssdpTimeout {
			t.Fatalf("node %d: %+v, want ErrNoGateway after %v", i, res, ssdpTimeout)
		}
	}
}

// TURN: a node behind a symmetric NAT reaches another behind a symmetric
// NAT through the latter's relayed address once it has a permission, and
// the replies come back from the relayed address.
func TestTURNRelay(t *testing.T) {
	sym := NATPreset(core.NATSymmetric)
	cfg := natCfg(NATConfig{}, sym, sym)
	cfg.TURNServers = []int{0}
	r := newNATRig(t, cfg, 3)
	var ra *core.RelayAllocation
	r.conn[2].AllocateRelay(STUNAddr(0), func(a core.RelayAllocation) { ra = &a })
	r.run(time.Second)
	if ra == nil || ra.Err != nil || ra.Relayed != netip.AddrPortFrom(Addr(0).Addr(), RelayPortMin) || ra.Lifetime != turnLifetime || ra.Took != 20*time.Millisecond {
		t.Fatalf("AllocateRelay: %+v", ra)
	}
	relayed := ra.Relayed
	// No permission yet: dropped at the server.
	r.send(1, relayed, "punch-early")
	r.run(time.Second)
	if len(r.got[2]) != 0 || r.w.Stats().Dropped[DropTURNNoPermission] != 1 {
		t.Fatalf("before permission: %v, drops %v", r.got[2], r.w.Stats().Dropped)
	}
	r.conn[2].PermitRelay(NATAddr(1))
	r.run(time.Second)
	r.send(1, relayed, "punch")
	r.run(time.Second)
	if len(r.got[2]) != 1 || r.got[2][0].from.Addr() != NATAddr(1) {
		t.Fatalf("B got %v, want one packet from A's NAT", r.got[2])
	}
	// Two legs of 10 ms (A→server, server→B).
	if r.got[2][0].at != 3*time.Second+20*time.Millisecond {
		t.Fatalf("relayed packet arrived at %v", r.got[2][0].at)
	}
	if len(r.got[1]) != 1 || r.got[1][0].from != relayed || r.got[1][0].body != "ack" {
		t.Fatalf("A got %v, want the ack from %v", r.got[1], relayed)
	}
	st, ok := r.w.TURNStats(0)
	if !ok || st.RelayedPackets != 2 || st.Allocations != 1 || st.Active != 1 || st.NoPermission != 1 {
		t.Fatalf("TURN stats %+v", st)
	}
	// Refreshes keep the allocation, the permission and B's binding to
	// the server alive across an idle hour.
	r.run(time.Hour)
	r.send(1, relayed, "punch-later")
	r.run(time.Second)
	if len(r.got[2]) != 2 || len(r.got[1]) != 2 {
		t.Fatalf("after an idle hour: A got %v, B got %v, drops %v", r.got[1], r.got[2], r.w.Stats().Dropped)
	}
	if s := r.w.NATStats(); s.TURNRefreshes < 100 || s.TURNRelayedPackets != 4 {
		t.Fatalf("stats %+v", s)
	}
	// After a crash B stops refreshing; its allocation expires.
	r.w.Crash(2)
	r.run(turnLifetime + time.Minute)
	if st, _ := r.w.TURNStats(0); st.Active != 0 {
		t.Fatalf("allocation outlived the crash: %+v", st)
	}
}

// Without a TURN server at the address, AllocateRelay fails.
func TestTURNNoServer(t *testing.T) {
	cfg := natCfg(NATConfig{}, NATPreset(core.NATSymmetric))
	cfg.STUNServers = []int{0}
	r := newNATRig(t, cfg, 2)
	var ra *core.RelayAllocation
	r.conn[1].AllocateRelay(STUNAddr(0), func(a core.RelayAllocation) { ra = &a })
	r.run(5 * time.Second)
	if ra == nil || !errors.Is(ra.Err, ErrSTUNTimeout) {
		t.Fatalf("%+v", ra)
	}
	r.conn[1].PermitRelay(Addr(0).Addr()) // no allocation: does nothing
	r.send(1, Addr(0), "x")
	r.run(time.Second)
	if len(r.got[0]) != 1 {
		t.Fatal("PermitRelay without an allocation changed routing")
	}
}

// Same seed, same run: the symmetric NAT's random ports and every result
// repeat.
func TestNATDeterminism(t *testing.T) {
	run := func() string {
		ok, detail := punch(t, NATPreset(core.NATSymmetric), NATPreset(core.NATRestrictedCone))
		return fmt.Sprint(ok, detail)
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("two runs differ:\n%s\n%s", a, b)
	}
}

// Without the NAT model the Env has no Connectivity and nothing changes.
func TestNATOff(t *testing.T) {
	w, err := NewWorld(1, 2, NetConfig{Latency: NewConstantLatency(time.Millisecond)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Env(0).Connectivity != nil || w.NATEnabled() || w.NAT(0) != nil || w.NATStats() != (NATStats{}) {
		t.Fatal("NAT model on without configuration")
	}
}

package sim

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dchat/network/core"
)

func newTestNAT(t testing.TB, cfg NATConfig) *NAT {
	t.Helper()
	b, err := NewNAT(cfg, netip.MustParseAddr("100.64.0.9"), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The RFC 4787 behaviour table: for each preset, whether mappings are
// reused across destinations (§4.1) and which inbound packets pass after
// the node sent to one remote endpoint (§5).
func TestNATBehaviourTable(t *testing.T) {
	r1 := ep("10.0.0.1:3478")    // the remote the node sent to
	r1port := ep("10.0.0.1:999") // same IP, other port
	r2 := ep("10.0.0.2:3478")    // other IP, same port
	for _, tc := range []struct {
		typ                       core.NATType
		sameMapping               [2]bool // r1 vs r1port, r1 vs r2 share an external port
		fromSame, fromPort, fromI bool    // inbound passes from r1, r1port, r2
	}{
		{core.NATFullCone, [2]bool{true, true}, true, true, true},
		{core.NATRestrictedCone, [2]bool{true, true}, true, true, false},
		{core.NATPortRestricted, [2]bool{true, true}, true, false, false},
		{core.NATSymmetric, [2]bool{false, false}, true, false, false},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			cfg := NATPreset(tc.typ)
			if got := cfg.Type(); got != tc.typ {
				t.Fatalf("preset Type() = %v", got)
			}
			// Inbound after one outbound packet.
			b := newTestNAT(t, cfg)
			e1 := b.Outbound(0, r1)
			if e1.IP() != ep("100.64.0.9:0").IP() {
				t.Fatalf("external address %v, want the box's", e1)
			}
			for _, in := range []struct {
				from Endpoint
				want bool
			}{{r1, tc.fromSame}, {r1port, tc.fromPort}, {r2, tc.fromI}} {
				got := b.Inbound(time.Second, e1.Port(), in.from) == DropNone
				if got != in.want {
					t.Errorf("inbound from %v to %v passes = %v, want %v", in.from, e1, got, in.want)
				}
			}
			if r := b.Inbound(time.Second, e1.Port()+1, r1); r != DropNATNoMapping {
				t.Errorf("inbound to an unmapped port: %q, want %q", r, DropNATNoMapping)
			}
			// Mapping reuse across destinations.
			e1b := b.Outbound(2*time.Second, r1port)
			e2 := b.Outbound(3*time.Second, r2)
			if (e1b == e1) != tc.sameMapping[0] || (e2 == e1) != tc.sameMapping[1] {
				t.Errorf("mappings %v %v %v: reuse = %v %v, want %v", e1, e1b, e2, e1b == e1, e2 == e1, tc.sameMapping)
			}
			s := b.Stats()
			want := uint64(1)
			if !tc.sameMapping[0] {
				want = 3
			}
			if s.MappingsCreated != want {
				t.Errorf("MappingsCreated = %d, want %d", s.MappingsCreated, want)
			}
		})
	}
}

// Address-dependent mapping (with address-dependent filtering): one
// mapping per remote address, shared across its ports.
func TestNATAddressDependentMapping(t *testing.T) {
	b := newTestNAT(t, NATConfig{Mapping: core.BehaviorAddressDependent, Filtering: core.BehaviorAddressDependent})
	a := b.Outbound(0, ep("10.0.0.1:1"))
	if b.Outbound(0, ep("10.0.0.1:2")) != a {
		t.Error("same address, other port: new mapping")
	}
	if b.Outbound(0, ep("10.0.0.2:1")) == a {
		t.Error("other address: same mapping")
	}
	if got := (NATConfig{Mapping: core.BehaviorAddressDependent, Filtering: core.BehaviorEndpointIndependent}).Type(); got != core.NATSymmetric {
		t.Errorf("ADM type %v, want symmetric", got)
	}
}

// Binding timeout (RFC 4787 §4.3): a mapping lives Timeout after the last
// outbound packet; outbound packets refresh it, inbound ones do not.
func TestNATTimeoutRefresh(t *testing.T) {
	r := ep("10.0.0.1:3478")
	for _, typ := range []core.NATType{core.NATFullCone, core.NATPortRestricted, core.NATSymmetric} {
		t.Run(typ.String(), func(t *testing.T) {
			b := newTestNAT(t, NATPreset(typ))
			e := b.Outbound(0, r)
			// Inbound traffic at 60 s and 100 s does not refresh.
			for _, at := range []time.Duration{60 * time.Second, 100 * time.Second} {
				if got := b.Inbound(at, e.Port(), r); got != DropNone {
					t.Fatalf("inbound at %v: %q", at, got)
				}
			}
			if got := b.Inbound(DefaultNATTimeout-time.Nanosecond, e.Port(), r); got != DropNone {
				t.Fatalf("inbound just before timeout: %q", got)
			}
			if got := b.Inbound(DefaultNATTimeout, e.Port(), r); got != DropNATNoMapping {
				t.Fatalf("inbound at timeout: %q, want %q (inbound must not refresh)", got, DropNATNoMapping)
			}
			// A fresh mapping refreshed by outbound traffic at 100 s lives
			// to 220 s.
			b = newTestNAT(t, NATPreset(typ))
			e = b.Outbound(0, r)
			if b.Outbound(100*time.Second, r) != e {
				t.Fatal("refresh changed the mapping")
			}
			if got := b.Inbound(219*time.Second, e.Port(), r); got != DropNone {
				t.Fatalf("inbound at 219s after refresh at 100s: %q", got)
			}
			if got := b.Inbound(220*time.Second, e.Port(), r); got != DropNATNoMapping {
				t.Fatalf("inbound at 220s: %q", got)
			}
			// Expiry is counted when the box purges.
			b.Outbound(300*time.Second, r)
			if s := b.Stats(); s.BindingsExpired != 1 || s.MappingsCreated != 2 {
				t.Fatalf("stats %+v: want 1 expired, 2 created", s)
			}
		})
	}
}

// Port assignment (RFC 4787 §4.2.1).
func TestNATPortAssignment(t *testing.T) {
	apdm := func(assign string) NATConfig {
		return NATConfig{Mapping: core.BehaviorAddressPortDependent, Filtering: core.BehaviorAddressPortDependent, PortAssignment: assign}
	}
	ports := func(b *NAT, n int) []uint16 {
		var ps []uint16
		for k := range n {
			ps = append(ps, b.Outbound(0, endpoint(0x0a000001, uint16(1000+k))).Port())
		}
		return ps
	}
	if got := ports(newTestNAT(t, apdm(PortPreserve)), 3); got[0] != Port || got[1] != Port+1 || got[2] != Port+2 {
		t.Errorf("preserve: %v, want %d, %d, %d", got, Port, Port+1, Port+2)
	}
	if got := ports(newTestNAT(t, apdm(PortSequential)), 3); got[0] != natPortMin || got[1] != natPortMin+1 || got[2] != natPortMin+2 {
		t.Errorf("sequential: %v", got)
	}
	rnd := ports(newTestNAT(t, apdm(PortRandom)), 50)
	seen := map[uint16]bool{}
	for _, p := range rnd {
		if p < natPortMin || seen[p] {
			t.Fatalf("random: port %d out of range or repeated in %v", p, rnd)
		}
		seen[p] = true
	}
	if rnd[0] == Port && rnd[1] == Port+1 {
		t.Error("random ports look sequential")
	}
	// Same seed, same ports.
	again := ports(newTestNAT(t, apdm(PortRandom)), 50)
	for k := range rnd {
		if rnd[k] != again[k] {
			t.Fatal("random ports differ for the same rng seed")
		}
	}
	// Default assignment: preserve for EIM, random for APDM.
	if c := (NATConfig{Mapping: core.BehaviorEndpointIndependent, Filtering: 1}).withDefaults(); c.PortAssignment != PortPreserve {
		t.Errorf("EIM default %q", c.PortAssignment)
	}
	if c := apdm("").withDefaults(); c.PortAssignment != PortRandom {
		t.Errorf("APDM default %q", c.PortAssignment)
	}
}

// MaxBindings bounds the table: the mapping closest to expiry goes.
func TestNATMaxBindings(t *testing.T) {
	cfg := NATPreset(core.NATSymmetric)
	cfg.MaxBindings = 4
	b := newTestNAT(t, cfg)
	var first Endpoint
	for k := range 10 {
		e := b.Outbound(time.Duration(k)*time.Second, endpoint(0x0a000001, uint16(1000+k)))
		if k == 0 {
			first = e
		}
	}
	if got := b.Mappings(10 * time.Second); got != 4 {
		t.Fatalf("%d mappings, want 4", got)
	}
	if s := b.Stats(); s.Evicted < 6 || s.Peak != 4 {
		t.Fatalf("stats %+v", s)
	}
	if got := b.Inbound(10*time.Second, first.Port(), endpoint(0x0a000001, 1000)); got != DropNATNoMapping {
		t.Fatalf("evicted mapping still answers: %q", got)
	}
}

func TestNATConfigValidate(t *testing.T) {
	lat := NewConstantLatency(time.Millisecond)
	good := NATPreset(core.NATFullCone)
	for _, tc := range []struct {
		name string
		cfg  NetConfig
		want string
	}{
		{"len", NetConfig{Latency: lat, NAT: make([]NATConfig, 2)}, "NAT: 2 entries"},
		{"filtering", NetConfig{Latency: lat, NAT: []NATConfig{{}, {}, {Mapping: core.BehaviorEndpointIndependent}}}, "NAT[2].Filtering"},
		{"mapping", NetConfig{Latency: lat, NAT: []NATConfig{{Mapping: 9, Filtering: 1}, {}, {}}}, "NAT[0].Mapping"},
		{"unset", NetConfig{Latency: lat, NAT: []NATConfig{{UPnP: true}, {}, {}}}, "NAT[0].Mapping"},
		{"ports", NetConfig{Latency: lat, NAT: []NATConfig{{Mapping: 1, Filtering: 1, PortAssignment: "odd"}, {}, {}}}, "NAT[0].PortAssignment"},
		{"timeout", NetConfig{Latency: lat, NAT: []NATConfig{{Mapping: 1, Filtering: 1, Timeout: -1}, {}, {}}}, "NAT[0].Timeout"},
		{"max", NetConfig{Latency: lat, NAT: []NATConfig{{Mapping: 1, Filtering: 1, MaxBindings: 1 << 20}, {}, {}}}, "NAT[0].MaxBindings"},
		{"private", NetConfig{Latency: lat, NAT: []NATConfig{good, {}, {}}, Private: []bool{true, false, false}}, "NAT[0]: node is also Private"},
		{"stun range", NetConfig{Latency: lat, STUNServers: []int{3}}, "STUNServers[0] = 3"},
		{"stun twice", NetConfig{Latency: lat, STUNServers: []int{1, 1}}, "STUNServers[1] = 1: listed twice"},
		{"turn natted", NetConfig{Latency: lat, NAT: []NATConfig{{}, good, {}}, TURNServers: []int{1}}, "TURNServers[0] = 1: a server must be public"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate(3)
			if err == nil || !errors.Is(err, ErrNetConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an ErrNetConfig naming %q", err, tc.want)
			}
			if _, err := NewWorld(1, 3, tc.cfg, nil); err == nil {
				t.Fatal("NewWorld accepted it")
			}
		})
	}
	if err := (NetConfig{Latency: lat, NAT: []NATConfig{good, {}, NATPreset(core.NATSymmetric)}, STUNServers: []int{1}, TURNServers: []int{1}}).Validate(3); err != nil {
		t.Fatal(err)
	}
}

func TestNATAddrPlan(t *testing.T) {
	seen := map[netip.Addr]bool{}
	for _, i := range []int{0, 1, 2, 1000, 1 << 20, natMaxNodes - 1} {
		a := NATAddr(i)
		if !netip.MustParsePrefix("100.64.0.0/10").Contains(a) || seen[a] {
			t.Fatalf("NATAddr(%d) = %v", i, a)
		}
		seen[a] = true
		if j, ok := natIndex(EndpointOf(netip.AddrPortFrom(a, 1)).IP()); !ok || j != i {
			t.Fatalf("natIndex(NATAddr(%d)) = %d, %v", i, j, ok)
		}
	}
	if _, ok := natIndex(ep("100.128.0.1:1").IP()); ok {
		t.Fatal("address outside 100.64/10 resolved")
	}
}

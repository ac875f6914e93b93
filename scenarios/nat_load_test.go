package scenarios

import (
	"slices"
	"testing"
	"time"
)

const natScenario = `name: nat-t
duration: 1m
nodes:
  count: 1000
  bootstrap: [0-2]
  nat: {none: 40%, full-cone: 10%, port-restricted: 30%, symmetric: 20%}
network:
  latency: {model: constant, value: 20ms}
  nat: {upnp: 10%, turn: [3, 4], binding_timeout: 30s}
workload:
  - at: 10s
    connect: {count: 500, over: 40s}
`

func TestNATScenario(t *testing.T) {
	s, err := Parse("x.yaml", []byte(natScenario))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Network.NAT; got.BindingTimeout != Duration(30*time.Second) || got.UPnP != 0.1 ||
		got.STUN.String() != s.Nodes.Bootstrap.String() || got.TURN.String() != "[3, 4]" {
		t.Errorf("network.nat = %+v", got)
	}
	if c := s.Workload[0].Connect; c == nil || c.Count != 500 || c.Over != Duration(40*time.Second) || !c.From.Empty() {
		t.Errorf("connect = %+v", c)
	}
	roundTrip(t, s)

	r, err := s.NATRoles()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Servers, []int{0, 1, 2, 3, 4}) || len(r.Clients) != 995 {
		t.Fatalf("servers %v, %d clients", r.Servers, len(r.Clients))
	}
	count := map[string]int{}
	upnp := 0
	for i, typ := range r.Type {
		count[typ]++
		if r.UPnP[i] {
			upnp++
			if typ == "none" {
				t.Errorf("node %d: a UPnP gateway without a NAT", i)
			}
		}
	}
	// 995 clients: 40% = 398 none (+5 servers), 10% = 99.5 -> cumulative
	// round(0.5 x 995) = 498, so 100 full-cone; 30% up to round(0.8 x 995)
	// = 796: 298; the rest 199 symmetric.
	want := map[string]int{"none": 403, "full-cone": 100, "port-restricted": 298, "symmetric": 199}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%s: %d nodes, want %d (all: %v)", k, count[k], v, count)
		}
	}
	if upnp != 60 { // 10% of 597 NATed, rounded
		t.Errorf("%d UPnP gateways, want 60", upnp)
	}
	// Another seed deals the types to other nodes.
	s2, err := Parse("x.yaml", []byte(natScenario), "seed=2")
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := s2.NATRoles()
	if slices.Equal(r.Type, r2.Type) {
		t.Error("seed 2 gives the same NAT assignment as seed 1")
	}
	r3, _ := s.NATRoles()
	if !slices.Equal(r.Type, r3.Type) || !slices.Equal(r.UPnP, r3.UPnP) {
		t.Error("NATRoles is not deterministic")
	}
}

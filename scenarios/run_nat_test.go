package scenarios

import (
	"strings"
	"testing"

	"github.com/dchat/network/reports"
)

func init() { builtinChecks["nat-mix"] = checkNATMix }

// checkNATMix checks nat-mix's targets on its summary: hole-punch success
// at least 95% for every pair of non-symmetric NAT types that punched
// (and every such pair of filtering NATs did punch); under 1% of the
// connects without a working path; the textbook failures (a symmetric NAT
// against a port-restricted or symmetric one cannot be punched) carried
// by TURN; every node's type discovered.
func checkNATMix(t *testing.T, s *reports.Summary) {
	t.Helper()
	n := s.NAT
	if n == nil {
		t.Fatal("no nat section")
	}
	if n.Connects != 3000 || n.Pending != 0 {
		t.Errorf("%d connects, %d pending", n.Connects, n.Pending)
	}
	if n.NoPathShare >= 0.01 {
		t.Errorf("no working path for %.4f of the connects (%d)", n.NoPathShare, n.NoPath)
	}
	if n.PunchMinNonSymmetric < 0.95 {
		t.Errorf("lowest hole-punch rate over non-symmetric pairs %v", n.PunchMinNonSymmetric)
	}
	filtering := []string{"restricted-cone", "port-restricted"}
	for _, a := range filtering {
		for _, b := range filtering {
			p := n.Pairs[a+">"+b]
			if p == nil || p.Methods["punch"] == nil || p.Methods["punch"].Attempts < 30 {
				t.Errorf("%s>%s: too few punches to measure: %+v", a, b, p)
			}
		}
	}
	for _, k := range []string{"port-restricted>symmetric", "symmetric>port-restricted", "symmetric>symmetric"} {
		p := n.Pairs[k]
		if p == nil {
			t.Errorf("%s: no connects", k)
			continue
		}
		if m := p.Methods["punch"]; m != nil && m.OK > 0 {
			t.Errorf("%s: %d punches worked; RFC 4787 says they cannot", k, m.OK)
		}
		if m := p.Methods["relay"]; m == nil || m.OK == 0 || p.Success < 0.99 {
			t.Errorf("%s: success %v, relay %+v", k, p.Success, m)
		}
	}
	d := n.Discovery
	if d.Queries != 1000 || d.Failed > 10 {
		t.Errorf("discovery: %d queries, %d failed", d.Queries, d.Failed)
	}
	for k := range d.Confused {
		if !strings.Contains(k, "+upnp→") {
			t.Errorf("discovery found the wrong type for a node without UPnP: %s (%d)", k, d.Confused[k])
		}
	}
	if n.Relay.OK != uint64(n.Nodes["symmetric"]) || n.FirstPathMs.P50 <= 0 || n.FirstPathMs.P95 > 2000 {
		t.Errorf("relays %+v for %d symmetric nodes; first path %+v", n.Relay, n.Nodes["symmetric"], n.FirstPathMs)
	}
}

// Without TURN servers (and without UPnP, which would make a node
// reachable whatever its NAT) the pairs that cannot be punched have no
// path, and the summary says so per pair.
func TestNATWithoutTURN(t *testing.T) {
	s := simulate(t, "nat-mix", "nodes.count=200", "network.nat.turn=[]", "network.nat.upnp=0%", "network.loss=0",
		"workload=[{at: 15s, connect: {count: 400, over: 30s}}]", "duration=60s")
	n := s.NAT
	if n == nil || n.Connects != 400 || n.Relay.Attempts != 0 {
		t.Fatalf("nat section %+v", n)
	}
	for k, p := range n.Pairs {
		hard := k == "port-restricted>symmetric" || k == "symmetric>port-restricted" || k == "symmetric>symmetric"
		switch {
		case hard && p.Connected != 0:
			t.Errorf("%s: %d connected without a relay", k, p.Connected)
		case hard && p.NoPath != p.Connects:
			t.Errorf("%s: %d of %d connects failed", k, p.NoPath, p.Connects)
		case !hard && p.NoPath != 0:
			t.Errorf("%s: %d connects failed", k, p.NoPath)
		}
	}
	if n.NoPath == 0 || n.NoPathShare <= 0.01 {
		t.Errorf("no-path %d (%v): the hard pairs should fail", n.NoPath, n.NoPathShare)
	}
}

package scenarios

import (
	"math"
	"testing"

	"github.com/dchat/network/reports"
)

// chaosRun simulates gossip-100 with the overrides sets.
func chaosSim(t *testing.T, sets ...string) *reports.Summary {
	t.Helper()
	return simulate(t, "gossip-100", sets...)
}

// Link faults do what they say, corrupted packets are dropped by the
// receivers' decoders, and runs stay deterministic.
func TestRunLinkFaults(t *testing.T) {
	fault := "faults=[{at: 2s, link: {duplicate: 5%, corrupt: 5%, reorder: 10%, delay: 5ms}, heal_after: 20s}]"
	a, b := chaosSim(t, fault), chaosSim(t, fault)
	if a.TraceSHA256 != b.TraceSHA256 {
		t.Fatal("same scenario and seed, different traces")
	}
	c := a.Chaos
	if c == nil || c.Links == nil {
		t.Fatalf("no chaos section: %+v", a.Chaos)
	}
	l := c.Links
	near := func(name string, got uint64, want float64) {
		t.Helper()
		if math.Abs(float64(got)-want) > 0.15*want {
			t.Errorf("%s: %d, want about %.0f", name, got, want)
		}
	}
	near("duplicated", l.Duplicated, 0.05*float64(l.Faulted))
	near("corrupted", l.Corrupted, 0.05*float64(l.Faulted))
	near("reordered", l.Reordered, 0.10*float64(l.Faulted))
	if l.Delayed != l.Faulted || l.Dropped != 0 || l.Faults != 1 {
		t.Errorf("links %+v", l)
	}
	if c.MalformedDrops == 0 || a.Drops["malformed"] != c.MalformedDrops {
		t.Errorf("corrupted packets not dropped as malformed: %d (drops %v)", c.MalformedDrops, a.Drops)
	}
	if a.Gossip.DeliveryRatio < 0.99 {
		t.Errorf("delivery %.4f under mild link faults", a.Gossip.DeliveryRatio)
	}
	clean := chaosSim(t)
	if clean.Chaos != nil {
		t.Error("a scenario without chaos faults got a chaos section")
	}
	if a.Gossip.FirstDeliveryMs.P50 <= clean.Gossip.FirstDeliveryMs.P50 {
		t.Errorf("a 5ms delay per hop did not slow delivery: p50 %v vs %v", a.Gossip.FirstDeliveryMs.P50, clean.Gossip.FirstDeliveryMs.P50)
	}
}

// Churn draws sessions and downtimes per node; over many sessions the
// observed means approach the model's.
func TestRunChurn(t *testing.T) {
	s := chaosSim(t, "churn={share: 50%, session: {distribution: exponential, mean: 2s}, downtime: {distribution: weibull, shape: 2, mean: 1s}, start: 1s}")
	ch := s.Chaos.Churn
	if ch == nil || ch.Nodes != 50 || ch.KeepState {
		t.Fatalf("churn %+v", ch)
	}
	if ch.SessionsEnded < 500 || ch.Restarts < 500 || ch.SessionsStarted < ch.SessionsEnded {
		t.Errorf("too few sessions: %+v", ch)
	}
	if math.Abs(ch.MeanSessionS-2) > 0.2 || math.Abs(ch.MeanDowntimeS-1) > 0.1 {
		t.Errorf("observed means %.3f s up, %.3f s down; model 2 s, 1 s", ch.MeanSessionS, ch.MeanDowntimeS)
	}
	if ch.ModelMeanSessionS != 2 || ch.ModelMeanDowntimeS != 1 {
		t.Errorf("model means %+v", ch)
	}
}

// A one-way partition cuts one direction only; a partial one a share of
// the links; skewed publishers far ahead get their messages refused as
// "future" by the others.
func TestRunPartitionsAndSkew(t *testing.T) {
	s := chaosSim(t, "faults=[{at: 2s, partition: {groups: [[0-49], [50-99]], oneway: true}, heal_after: 10s},"+
		" {at: 15s, partition: {groups: [[0-49], [50-99]], share: 30%}, heal_after: 5s},"+
		" {at: 0s, skew: {nodes: [0-9], offset: 45s}}]")
	c := s.Chaos
	if c == nil || c.OneWayPartitions != 1 || c.PartialPartitions != 1 || c.SkewedNodes != 10 {
		t.Fatalf("chaos %+v", c)
	}
	if s.Network.Dropped["partition"] == 0 {
		t.Error("no packet dropped by the partitions")
	}
	if s.Gossip.Drops["future"] == 0 {
		t.Errorf("no message from a clock 45 s ahead was refused as future: %v", s.Gossip.Drops)
	}
}

// Link faults apply on the NAT model's packet path too (STUN and TURN
// control messages included), and corrupted packets crash nothing there.
func TestRunLinkFaultsNAT(t *testing.T) {
	s := simulate(t, "nat-mix", "faults=[{at: 1s, link: {drop: 2%, duplicate: 5%, corrupt: 5%, reorder: 5%}}]")
	l := s.Chaos.Links
	if l == nil || l.Faulted == 0 || l.Dropped == 0 || l.Duplicated == 0 || l.Corrupted == 0 {
		t.Fatalf("link faults on the NAT path: %+v", l)
	}
	if s.Network.Dropped["chaos"] != l.Dropped || s.NAT == nil {
		t.Errorf("drops %v, links %+v", s.Network.Dropped, l)
	}
}

package scenarios

import (
	"testing"

	"github.com/dchat/network/reports"
)

func init() { builtinChecks["relay-1000"] = checkRelay1000 }

// checkRelay1000 checks relay-1000's targets on its summary: relayed
// delivery ratio at least 0.99; every delivered message's proof verifies
// (again, in the runner); every tampered proof is rejected; every batch
// and inclusion proof verifies; private nodes are unreachable directly
// (their filters drop packets) yet keep their relay sessions and get
// every gossip message over the sessions they open.
func checkRelay1000(t *testing.T, s *reports.Summary) {
	t.Helper()
	rl := s.Relay
	if rl == nil {
		t.Fatal("no relay section")
	}
	if rl.Relays != 50 || rl.PrivateNodes != 300 || rl.Reservations != 600 || rl.ReservationsUp != 600 {
		t.Errorf("%d relays, %d private nodes, %d of %d relay sessions up", rl.Relays, rl.PrivateNodes, rl.ReservationsUp, rl.Reservations)
	}
	if rl.Messages != 1200 || len(rl.SendErrors) != 0 || rl.Pending != 0 {
		t.Errorf("%d messages sent, send errors %v, %d pending", rl.Messages, rl.SendErrors, rl.Pending)
	}
	if rl.DeliveryRatio < 0.99 {
		t.Errorf("relayed delivery ratio %v (undelivered %v, suspects %v)", rl.DeliveryRatio, rl.UndeliveredBy, rl.Suspects)
	}
	if rl.ProofsFailed != 0 || rl.ProofsVerified != rl.Delivered || rl.PayloadMismatch != 0 {
		t.Errorf("proofs: %d verified, %d failed, %d mismatched, for %d delivered", rl.ProofsVerified, rl.ProofsFailed, rl.PayloadMismatch, rl.Delivered)
	}
	if rl.TamperedChecked < 100 || rl.TamperedRejected != rl.TamperedChecked {
		t.Errorf("tampered proofs: %d of %d rejected", rl.TamperedRejected, rl.TamperedChecked)
	}
	// Senders batch their proofs and every relay on the path batches the
	// proof it helped make: at least (hops + 1) leaves per delivered message.
	if rl.Batches == 0 || rl.BatchesFailed != 0 || rl.InclusionFailed != 0 || rl.InclusionChecked != rl.BatchedProofs ||
		rl.BatchedProofs < 2*rl.Delivered {
		t.Errorf("batches %d (failed %d), batched proofs %d, inclusion proofs %d (failed %d)",
			rl.Batches, rl.BatchesFailed, rl.BatchedProofs, rl.InclusionChecked, rl.InclusionFailed)
	}
	if rl.Hops["1"] == 0 || rl.Hops["2"] == 0 || rl.Hops["3"] == 0 || len(rl.Hops) != 3 {
		t.Errorf("hops %v", rl.Hops)
	}
	if rl.MessagesPerRelay.Min == 0 || rl.BytesPerRelay.Mean <= 0 || rl.LatencyMs.P50 <= 0 || rl.LatencyMs.P99 > 2000 {
		t.Errorf("per relay %+v, bytes %+v, latency %+v", rl.MessagesPerRelay, rl.BytesPerRelay, rl.LatencyMs)
	}
	n := s.Network
	if n.Dropped["filtered"] == 0 || n.Filter == nil || n.Filter.PrivateNodes != 300 || n.Filter.Dropped != n.Dropped["filtered"] {
		t.Errorf("filters: dropped %v, %+v", n.Dropped, n.Filter)
	}
	if g := s.Gossip; g == nil || g.DeliveryRatio < 0.999 {
		t.Errorf("gossip %+v", g)
	}
}

// A direct packet to a private node is dropped unless it answers the node:
// private nodes ping a public one and get their answers; public nodes'
// pings to private nodes are all dropped by the filters and time out.
func TestPrivateNodesUnreachable(t *testing.T) {
	s := simulate(t, "ping-50", "duration=20s", "nodes.bootstrap=[49]", "nodes.private=[0-9]",
		"workload=[{at: 1s, ping: {from: [0-9], target: bootstrap}}, {at: 3s, every: 1s, count: 5, ping: {from: [10-48]}}]")
	p, n := s.Ping, s.Network
	if p.Sent != 10+5*39 {
		t.Fatalf("ping section %+v", p)
	}
	filtered := n.Dropped["filtered"]
	if filtered == 0 || p.TimedOut != filtered || p.Answered != p.Sent-filtered {
		t.Errorf("sent %d, answered %d, timed out %d, filtered %d", p.Sent, p.Answered, p.TimedOut, filtered)
	}
	if f := n.Filter; f == nil || f.PrivateNodes != 10 || f.Passed != 10 || f.Dropped != filtered || f.Opened != 10 || f.BindingTimeoutS != 120 {
		t.Errorf("filter section %+v", f)
	}
}

// Relays on a smaller network, to any recipient (public ones get paths of
// random relays, private ones through their relays), with three relays
// crashing and coming back without state: the private nodes whose session
// with them broke redial them, and messages still arrive with verifying
// proofs.
func TestRelayToAnyRecipient(t *testing.T) {
	s := simulate(t, "relay-1000", "nodes.count=200", "duration=45s", "nodes.relays=[3-12]",
		"faults=[{at: 1s, crash: {nodes: [3-5], restart_after: 2s}}]",
		"workload=[{at: 5s, relay: {count: 300, to: all, hops: 1-3, size: 1KiB, over: 20s}}]")
	rl := s.Relay
	if rl == nil || rl.Relays != 10 || rl.PrivateNodes != 60 || rl.Messages != 300 {
		t.Fatalf("relay section %+v", rl)
	}
	if rl.DeliveryRatio < 0.99 || rl.ProofsFailed != 0 || rl.ProofsVerified != rl.Delivered || rl.InclusionFailed != 0 {
		t.Errorf("delivery %v, proofs %d verified %d failed, inclusion failures %d", rl.DeliveryRatio, rl.ProofsVerified, rl.ProofsFailed, rl.InclusionFailed)
	}
	if rl.ReservationsUp != rl.Reservations {
		t.Errorf("%d of %d relay sessions up at the end", rl.ReservationsUp, rl.Reservations)
	}
	if s.Gossip != nil || s.Connections != nil {
		t.Error("gossip or connection sections without gossip")
	}
}

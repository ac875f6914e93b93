package scenarios

import (
	"testing"

	"github.com/dchat/network/reports"
)

func init() {
	builtinChecks["byz-black-hole"] = checkByzDelivery
	builtinChecks["byz-selective-drop"] = checkByzDelivery
	builtinChecks["byz-forged"] = checkByzForged
	builtinChecks["byz-replay"] = checkByzReplay
	builtinChecks["byz-poisoning"] = checkByzPoisoning
}

// adversaries returns the summary's adversaries section, with its clean
// baseline.
func adversaries(t *testing.T, s *reports.Summary) *reports.AdversarySection {
	t.Helper()
	a := s.Adversaries
	if a == nil || len(a.Roles) == 0 || a.Roles[0].Nodes == 0 {
		t.Fatalf("no adversaries section: %+v", a)
	}
	return a
}

// checkByzDelivery: with 20% of the nodes black holes (or dropping one
// victim's messages), honest nodes still get at least 99% of the honest
// messages (the target), as in the clean run.
func checkByzDelivery(t *testing.T, s *reports.Summary) {
	t.Helper()
	a := adversaries(t, s)
	if a.Clean.Messages == 0 || a.Attacked.DeliveryRatio < 0.99 {
		t.Errorf("honest delivery ratio %v (clean %v)", a.Attacked.DeliveryRatio, a.Clean.DeliveryRatio)
	}
	if a.Roles[0].Withheld == 0 {
		t.Errorf("the attackers withheld nothing: %+v", a.Roles[0])
	}
}

// checkByzForged: every forgery that reaches an honest node is dropped;
// none is delivered; honest delivery is untouched.
func checkByzForged(t *testing.T, s *reports.Summary) {
	t.Helper()
	a := adversaries(t, s)
	if g := a.Gossip; g == nil || g.Forged == 0 || g.Foreign != 0 {
		t.Errorf("gossip %+v", g)
	}
	if a.Attacked.DeliveryRatio < 0.99 {
		t.Errorf("honest delivery ratio %v", a.Attacked.DeliveryRatio)
	}
}

// checkByzReplay: replays past the cache TTL are rejected (expired or
// replayed), and no honest node delivers a message twice.
func checkByzReplay(t *testing.T, s *reports.Summary) {
	t.Helper()
	a := adversaries(t, s)
	if g := a.Gossip; g == nil || g.Expired+g.Replayed == 0 || g.Redelivered != 0 {
		t.Errorf("gossip %+v", g)
	}
	if a.Attacked.DeliveryRatio < 0.99 {
		t.Errorf("honest delivery ratio %v", a.Attacked.DeliveryRatio)
	}
}

// checkByzPoisoning: with 20% of the nodes lying in their FIND_NODE
// answers, honest lookups of honest peers still succeed 95% of the time.
func checkByzPoisoning(t *testing.T, s *reports.Summary) {
	t.Helper()
	a := adversaries(t, s)
	if a.Roles[0].Lies == 0 || a.Attacked.Lookups == 0 || a.Attacked.LookupSuccess < 0.95 {
		t.Errorf("lies %d, honest lookups %d, success %v (clean %v)",
			a.Roles[0].Lies, a.Attacked.Lookups, a.Attacked.LookupSuccess, a.Clean.LookupSuccess)
	}
}

func init() {
	builtinChecks["byz-spam"] = checkByzSpam
	builtinChecks["byz-eclipse"] = checkByzEclipse
}

// checkByzSpam: ten spammers at 100x the per-peer rate raise the honest
// p95 latency by less than 20% (the target) and cost no honest
// delivery; the first hop refuses nearly all of their messages.
func checkByzSpam(t *testing.T, s *reports.Summary) {
	t.Helper()
	a := adversaries(t, s)
	if a.Roles[0].Role != "spam" || a.Roles[0].Nodes != 10 || a.Clean.Messages == 0 || a.Gossip == nil {
		t.Fatalf("adversaries %+v", a)
	}
	if a.LatencyP95Rise >= 0.2 || a.Attacked.DeliveryRatio < 0.99 {
		t.Errorf("p95 %v -> %v ms (rise %v), delivery %v", a.Clean.LatencyP95Ms, a.Attacked.LatencyP95Ms, a.LatencyP95Rise, a.Attacked.DeliveryRatio)
	}
	if g := a.Gossip; g.PublisherLimited == 0 || g.SpamAbsorbed < 0.9 {
		t.Errorf("spam absorbed %v (publisher-limited %d)", g.SpamAbsorbed, g.PublisherLimited)
	}
}

// checkByzEclipse: the victim's lookups still succeed at least 95% of the
// time, and honest peers hold more than half of its routing table (the
// issue's targets).
func checkByzEclipse(t *testing.T, s *reports.Summary) {
	t.Helper()
	a := adversaries(t, s)
	e := a.Eclipse
	if e == nil || e.Victim != 7 || e.VictimLookups != 200 {
		t.Fatalf("eclipse figures %+v", e)
	}
	if e.VictimLookupOK < 0.95 {
		t.Errorf("victim lookups succeed %v", e.VictimLookupOK)
	}
	if e.HonestTableShare <= 0.5 {
		t.Errorf("honest share of the victim's table %v (%d attackers of %d)", e.HonestTableShare, e.TableAttackers, e.TableSize)
	}
}

func init() { builtinChecks["byz-relay-cheat"] = checkByzRelayCheat }

// checkByzRelayCheat: no message through a cheating relay is taken as
// delivered (a claim signed by a relay is no recipient's acknowledgement,
// and a forged hand-off fails Verify), every delivered message's proof
// verifies, and the senders' audits rank exactly the cheaters as the most
// suspected relays.
func checkByzRelayCheat(t *testing.T, s *reports.Summary) {
	t.Helper()
	a := adversaries(t, s)
	r, rl := a.Relay, s.Relay
	if r == nil || rl == nil || r.Cheaters != 10 || r.Through < 100 {
		t.Fatalf("relay figures %+v", r)
	}
	if r.Delivered != 0 || rl.ProofsFailed != 0 || rl.ProofsVerified != rl.Delivered {
		t.Errorf("through cheaters %d, of them delivered %d; proofs %d verified, %d failed, %d delivered",
			r.Through, r.Delivered, rl.ProofsVerified, rl.ProofsFailed, rl.Delivered)
	}
	if r.Detected != r.Cheaters || r.TopSuspects != r.Cheaters {
		t.Errorf("cheaters detected %d, among the top suspects %d, of %d", r.Detected, r.TopSuspects, r.Cheaters)
	}
}

func init() { builtinChecks["byz-sybil"] = checkByzSybil }

// checkByzSybil: 1,000 Sybil identities on 100 nodes beside 900 honest
// ones leave honest lookups succeeding at least 95% of the time.
func checkByzSybil(t *testing.T, s *reports.Summary) {
	t.Helper()
	a := adversaries(t, s)
	if r := a.Roles[0]; r.Role != "sybil" || r.Nodes != 100 || r.Identities != 1000 {
		t.Fatalf("roles %+v", a.Roles)
	}
	if a.Attacked.Lookups < 200 || a.Attacked.LookupSuccess < 0.95 {
		t.Errorf("honest lookups %d, success %v (clean %v)", a.Attacked.Lookups, a.Attacked.LookupSuccess, a.Clean.LookupSuccess)
	}
}

func init() { builtinChecks["chaos-mix"] = checkChaosMix }

// checkChaosMix: under loss, churn, a crash and 10% mixed attackers, honest
// nodes still get at least 99% of the honest messages, as in the run with
// the same faults and no attackers.
func checkChaosMix(t *testing.T, s *reports.Summary) {
	t.Helper()
	a := adversaries(t, s)
	if len(a.Roles) != 5 || a.HonestNodes != 900 {
		t.Fatalf("roles %+v, %d honest", a.Roles, a.HonestNodes)
	}
	if a.Attacked.DeliveryRatio < 0.99 || a.Clean.DeliveryRatio < 0.99 {
		t.Errorf("honest delivery %v (clean %v)", a.Attacked.DeliveryRatio, a.Clean.DeliveryRatio)
	}
	if c := s.Chaos; c == nil || c.Churn == nil || c.Churn.Restarts == 0 {
		t.Errorf("chaos section %+v", c)
	}
}

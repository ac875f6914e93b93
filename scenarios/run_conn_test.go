package scenarios

import (
	"testing"

	"github.com/dchat/network/reports"
)

// checkCap fails if the connections section shows any node above the cap:
// at any session opening (MaxEver) or at any sample.
func checkCap(t *testing.T, c *reports.ConnectionsSection, cap int) {
	t.Helper()
	if c == nil {
		t.Fatal("no connections section")
	}
	if c.MaxConnections != cap || c.MaxEver > cap || int(c.PerNode.Max) > cap {
		t.Errorf("cap %d: configured %d, max ever %d, final max %v", cap, c.MaxConnections, c.MaxEver, c.PerNode.Max)
	}
	for _, s := range c.OverTime {
		if s.Max > cap {
			t.Errorf("a node held %d sessions at %.0f s, above the cap %d", s.Max, s.TimeS, cap)
		}
	}
}

// Gossip runs over the sessions the connection managers hold: in
// gossip-100 every node gets every message, every node holds sessions (its
// random-overlay neighbours), and the session graph is connected and
// symmetric.
func TestGossipOverConnectionManager(t *testing.T) {
	s := simulate(t, "gossip-100")
	c := s.Connections
	checkCap(t, c, 50)
	if g := s.Gossip; g.DeliveryRatio != 1 || g.LiveNodes != 100 {
		t.Errorf("delivery ratio %v to %d live nodes", g.DeliveryRatio, g.LiveNodes)
	}
	if c.PerNode.N != 100 || c.PerNode.Min < 8 || c.PairsWithoutPath != 0 || c.Components != 1 || c.HalfOpen != 0 {
		t.Errorf("session graph: per node %+v, %d components, pairs without path %v, half open %d",
			c.PerNode, c.Components, c.PairsWithoutPath, c.HalfOpen)
	}
	// Both ends report each session's opening, once each way.
	if c.Opens["inbound"] != c.Opens["outbound"] || c.Opens["inbound"] != uint64(c.PerNode.Mean*100/2+0.5) {
		t.Errorf("opens %v for %v sessions per node", c.Opens, c.PerNode.Mean)
	}
	if len(c.OverTime) != 40 || c.OverTime[39].Mean != c.PerNode.Mean {
		t.Errorf("%d samples, last %+v", len(c.OverTime), c.OverTime[len(c.OverTime)-1])
	}
}

// With a cap of 8, a target of 4 and no grace period, nodes of a random
// overlay of degree 8 (16 neighbours each on average) dial into full
// peers, which trim to make room: sessions are pruned, no node ever holds
// more than 8, and gossip still reaches every node.
func TestConnectionPruning(t *testing.T) {
	s := simulate(t, "gossip-100", "protocol.max_connections=8", "protocol.target_connections=4",
		"protocol.connection_grace_period=0s", "protocol.connection_trim_pause=1s")
	c := s.Connections
	checkCap(t, c, 8)
	if c.Prunes["make-room"] == 0 || c.Closes["pruned"] != c.Prunes["make-room"] {
		t.Errorf("prunes %v, closes %v", c.Prunes, c.Closes)
	}
	if c.PerNode.Min < 4 || c.PairsWithoutPath != 0 {
		t.Errorf("per node %+v, pairs without path %v", c.PerNode, c.PairsWithoutPath)
	}
	if s.Gossip.DeliveryRatio != 1 {
		t.Errorf("delivery ratio %v", s.Gossip.DeliveryRatio)
	}
}

// builtinChecks are target checks of built-in scenarios that
// TestDeterminism runs on the summary of its first run, so that a
// 1,000-node scenario is not run a fourth time for them.
var builtinChecks = map[string]func(*testing.T, *reports.Summary){
	"conn-churn":     checkConnChurn,
	"partition-heal": checkPartitionHeal,
}

// checkConnChurn checks conn-churn's targets: 5% of the nodes crash and
// come back fresh every 10 s, yet no node ever holds more than 50
// sessions, under 1% of the pairs of live nodes are left without a path of
// sessions, and gossip reaches the live nodes (a node down while a message
// spread can miss it).
func checkConnChurn(t *testing.T, s *reports.Summary) {
	t.Helper()
	c := s.Connections
	checkCap(t, c, 50)
	if c.PairsWithoutPath >= 0.01 {
		t.Errorf("pairs without path %v (%d components, largest %d)", c.PairsWithoutPath, c.Components, c.LargestComponent)
	}
	// Churn happened and the managers dealt with it: stale sessions of
	// crashed nodes were replaced by the fresh node's dials or reset by
	// probes, and nodes reopened sessions with peers they had lost.
	if c.Closes["replaced"] == 0 || c.Closes["reset"]+c.Closes["unhealthy"] == 0 || c.Reopened == 0 {
		t.Errorf("closes %v, reopened %d", c.Closes, c.Reopened)
	}
	if c.PerNode.Min < 8 {
		t.Errorf("a live node ends with %v sessions", c.PerNode.Min)
	}
	if g := s.Gossip; g.LiveNodes != 1000 || g.DeliveryRatio < 0.98 {
		t.Errorf("delivery ratio %v to %d live nodes", g.DeliveryRatio, g.LiveNodes)
	}
}

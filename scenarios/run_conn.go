package scenarios

import (
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/sim"
)

// Every node runs a connection manager (core/connmgr), with the node's
// traffic hook set to it, and gossip takes its peers from it: the overlay
// gossip runs on is the graph of sessions the managers hold. Scenarios
// without gossip (ping, DHT lookups only) give their managers no
// candidates: nothing there runs over sessions (DHT requests are
// datagrams to any peer), so they open none. Where the candidates come
// from depends on the topology model:
//
//   - random: the random graph's neighbours are a node's candidates from
//     its start (a configured peer list); the manager dials them up to its
//     target, and the feed offers them again every 30 s while the node is
//     below target, so lost neighbours are redialled once back up.
//   - dht: the routing table is the candidate source. The feed checks
//     every 2 s while the node is below target and its candidate queue is
//     empty, and then offers the whole table, shuffled with the node's
//     "candidates" stream, if the table changed since the last offer (or
//     30 s passed); the table fills during the node's bootstrap, so
//     sessions follow within seconds of the join.
//
// Bootstrap nodes (nodes.bootstrap) protect one another (tag bootstrap):
// their sessions are never pruned and are redialled with backoff. Other
// nodes do not protect them: a thousand nodes insisting on sessions with
// three nodes capped at 50 sessions each would only churn those three.
// Routing-table peers are not protected either: the DHT's requests are
// datagrams that need no session, and a routing table (75 peers on
// average at 1,000 nodes) is larger than the cap.

// connRun holds the managers and what the summary's connections section
// is built from.
type connRun struct {
	mgrs   []*connmgr.Manager
	adj    [][]int32 // the random topology's neighbours (nil under dht)
	boot   []int     // bootstrap node indices
	isBoot []bool

	samples    []reports.ConnSample
	maxEver    int
	opens      map[string]uint64
	closes     map[string]uint64
	failures   map[string]uint64
	prunes     map[string]uint64
	rejects    map[string]uint64
	reconnects uint64
	reopened   uint64
	closed     map[uint64]struct{} // node*n+peer of sessions that ended
}

func (r *runner) setupConn() error {
	sc := r.sc
	n := sc.Nodes.Count
	c := &connRun{mgrs: make([]*connmgr.Manager, n), isBoot: make([]bool, n),
		opens: map[string]uint64{}, closes: map[string]uint64{}, failures: map[string]uint64{},
		prunes: map[string]uint64{}, rejects: map[string]uint64{}, closed: map[uint64]struct{}{}}
	if !sc.Nodes.Bootstrap.Empty() {
		boot, err := sc.Nodes.Bootstrap.Resolve(n)
		if err != nil {
			return err
		}
		c.boot = boot
		for _, b := range boot {
			c.isBoot[b] = true
		}
	}
	if sc.Topology.Model != TopologyDHT && sc.usesGossip() {
		c.adj = sim.RandomGraph(sc.Seed, n, sc.Topology.Degree)
	}
	r.conn = c
	return nil
}

// attachConn adds node i's connection manager and sets the node's traffic
// hook to it. It must run before the DHT and gossip are attached, so that
// the manager starts first and stops last.
func (r *runner) attachConn(i int, node *core.Node) error {
	m, err := connmgr.New(node, connmgr.FromCore(r.sc.Protocol))
	if err != nil {
		return err
	}
	node.SetTrafficHook(m.Traffic)
	r.conn.mgrs[i] = m
	return nil
}

// attachFeed gives node i's manager its candidate source (after the DHT is
// attached, which the source reads).
func (r *runner) attachFeed(i int) error {
	c := r.conn
	if !r.connFed() {
		return nil // nothing runs over sessions: the managers stay idle
	}
	m := c.mgrs[i]
	var first []connmgr.PeerAddr
	if c.isBoot[i] {
		for _, b := range c.boot {
			if b != i {
				id := r.ids[b].ID()
				m.Protect(id, connmgr.TagBootstrap)
				first = append(first, connmgr.PeerAddr{ID: id, Addr: sim.Addr(b)})
			}
		}
	}
	var src connmgr.CandidateSource
	if c.adj == nil {
		src = connmgr.DHTCandidates{DHT: r.dht.nodes[i], First: first, Rand: r.w.Rand(i, "candidates")}
	} else {
		ps := first
		for _, j := range c.adj[i] {
			ps = append(ps, connmgr.PeerAddr{ID: r.ids[j].ID(), Addr: sim.Addr(int(j))})
		}
		src = connmgr.StaticCandidates(ps)
	}
	_, err := connmgr.NewFeed(m, src, connmgr.DefaultFeedConfig())
	return err
}

// connFed reports whether the managers get candidates: only when
// something runs over sessions (gossip). Otherwise they stay idle and the
// summary has no connections section.
func (r *runner) connFed() bool { return r.gossip != nil }

// scheduleConnSamples samples the connection counts every second of the
// run.
func (r *runner) scheduleConnSamples() {
	if !r.connFed() {
		return
	}
	eng := r.w.Engine()
	for t := time.Second; t <= time.Duration(r.sc.Duration); t += time.Second {
		eng.Schedule(t, connSampler{r}, 0, nil)
	}
}

type connSampler struct{ r *runner }

// HandleEvent records the mean, min and max connected sessions across the
// live nodes.
func (s connSampler) HandleEvent(int, any) {
	r := s.r
	sum, live, lo, hi := 0, 0, 0, 0
	for i, m := range r.conn.mgrs {
		if !r.w.Up(i) {
			continue
		}
		k := m.Count()
		if live == 0 || k < lo {
			lo = k
		}
		hi = max(hi, k)
		sum += k
		live++
	}
	if live == 0 {
		return
	}
	r.conn.samples = append(r.conn.samples, reports.ConnSample{
		TimeS: r.w.Engine().Now().Seconds(), Mean: reports.Round3(float64(sum) / float64(live)), Min: lo, Max: hi})
}

// observeConn folds connection-manager events into the run's record.
func (r *runner) observeConn(node int, ev core.Event) {
	c := r.conn
	if c == nil || node < 0 {
		return
	}
	switch e := ev.(type) {
	case connmgr.Open:
		c.opens[e.Direction.String()]++
		c.maxEver = max(c.maxEver, e.Count)
		if j, ok := r.w.Index(e.Addr); ok {
			if _, seen := c.closed[r.pairKey(node, j)]; seen {
				c.reopened++
			}
		}
	case connmgr.Close:
		if e.Was == connmgr.Connecting {
			c.failures[e.Reason]++
			return
		}
		c.closes[e.Reason]++
		if j, ok := r.w.Index(e.Addr); ok {
			c.closed[r.pairKey(node, j)] = struct{}{}
		}
	case connmgr.Prune:
		c.prunes[e.Reason]++
	case connmgr.Reject:
		c.rejects[e.Reason]++
	case connmgr.Reconnect:
		c.reconnects++
	}
}

func (r *runner) pairKey(i, j int) uint64 { return uint64(i)*uint64(r.w.Len()) + uint64(j) }

func (r *runner) connSummary() *reports.ConnectionsSection {
	c := r.conn
	if c == nil || !r.connFed() {
		return nil
	}
	n := r.w.Len()
	s := &reports.ConnectionsSection{
		MaxConnections: r.sc.Protocol.MaxConnections, Target: r.sc.Protocol.TargetConnections,
		OverTime: c.samples, MaxEver: c.maxEver, Reconnects: c.reconnects, Reopened: c.reopened,
	}
	for _, m := range []struct {
		dst *map[string]uint64
		src map[string]uint64
	}{{&s.Opens, c.opens}, {&s.Closes, c.closes}, {&s.DialFailures, c.failures}, {&s.Prunes, c.prunes}, {&s.Rejects, c.rejects}} {
		if len(m.src) > 0 {
			*m.dst = m.src
		}
	}
	// The final connection graph: a link is a session both live ends
	// hold. Components by union-find over node indices.
	parent := make([]int32, n)
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	var per []float64
	for i, m := range c.mgrs {
		if !r.w.Up(i) {
			continue
		}
		per = append(per, float64(m.Count()))
		for _, p := range m.GossipPeers() {
			j, ok := r.w.Index(p.Addr)
			if !ok || !r.w.Up(j) {
				continue
			}
			if !c.mgrs[j].IsConnected(r.ids[i].ID()) {
				s.HalfOpen++
				continue
			}
			if a, b := find(int32(i)), find(int32(j)); a != b {
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	s.PerNode = reports.Summarize(per)
	sizes := make([]int, n)
	for i := range n {
		if r.w.Up(i) {
			sizes[find(int32(i))]++
		}
	}
	s.Components, s.LargestComponent, s.PairsWithoutPath = reports.PairsWithoutPath(sizes)
	return s
}

// writeConnOutputs writes connections_over_time.csv when the scenario asks
// for tables or plots.
func (r *runner) writeConnOutputs(dir string) error {
	if r.conn == nil || len(r.conn.samples) == 0 || !(r.sc.wants("csv") || r.sc.wants("plots")) {
		return nil
	}
	return reports.WriteConnectionsCSV(dir, slices.Clip(r.conn.samples))
}

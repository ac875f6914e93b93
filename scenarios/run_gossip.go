package scenarios

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/sim"
)

// gossipRun holds what a run needs for gossip: the shared
// verification cache and the per-message record the summary is built from.
type gossipRun struct {
	verify  *gossip.VerifyCache
	bodies  *gossip.Bodies
	nodes   []*gossip.Gossip
	msgs    []*msgRecord
	byID    map[gossip.ID]int
	dups    uint64
	pulls   uint64
	repairs uint64
	// redelivered counts deliveries to a node that had the message
	// before (it restarted without its state).
	redelivered uint64
	splits      []splitWindow // partitions, in the order they started
	drops       map[string]uint64
	bounds      map[int][]time.Duration // publisher -> shortest-path latency to every node
	payload     []*payloadSource
}

// msgRecord is one published message: who published it when, and who got
// it after how long.
type msgRecord struct {
	sender  int
	at      time.Time
	nodes   []int32
	latency []float64 // ms, parallel to nodes
	hops    []int
	// got marks the nodes with a delivery: a node restarted without its
	// state may be delivered the message again (by repair), and only its
	// first delivery counts.
	got []uint64
}

// first marks node's delivery and reports whether it is its first.
func (m *msgRecord) first(node int) bool {
	w, b := node/64, uint64(1)<<(node%64)
	if m.got[w]&b != 0 {
		return false
	}
	m.got[w] |= b
	return true
}

type payloadSource struct {
	rng interface{ Read([]byte) (int, error) }
}

// usesGossip reports whether any workload publishes.
func (sc *Scenario) usesGossip() bool {
	return slices.ContainsFunc(sc.Workload, func(w Workload) bool { return w.Publish != nil })
}

// setupGossip prepares what every node's gossip shares. Gossip's peers are
// its node's connected sessions (the connection manager is its
// PeerSource; see run_conn.go for where candidates come from).
func (r *runner) setupGossip() error {
	sc := r.sc
	n := sc.Nodes.Count
	g := &gossipRun{byID: map[gossip.ID]int{}, drops: map[string]uint64{}, bounds: map[int][]time.Duration{}}
	var err error
	// One verification cache shared by all simulated nodes (one goroutine):
	// a message's signature is checked once per distinct (key, msg, sig).
	if g.verify, err = gossip.NewVerifyCache(1<<16, gossip.Ed25519Verifier{}); err != nil {
		return err
	}
	// One payload store: nodes that accepted a message hold one shared copy.
	g.bodies = gossip.NewBodies()
	g.nodes = make([]*gossip.Gossip, n)
	r.gossip = g
	return nil
}

// attachGossip adds the gossip component to node i (on first build and on
// a restart without state).
func (r *runner) attachGossip(i int, node *core.Node) error {
	if r.gossip == nil {
		return nil
	}
	cfg := gossip.FromCore(r.sc.Protocol)
	// How many hops push at full fanout depends on the network's size.
	cfg.EagerHops = gossip.EagerHopsFor(r.sc.Nodes.Count, cfg.Fanout)
	gs, err := gossip.New(node, cfg, r.conn.mgrs[i], r.gossip.verify)
	if err != nil {
		return err
	}
	gs.ShareBodies(r.gossip.bodies)
	r.gossip.nodes[i] = gs
	return nil
}

// publishRound is one firing of a publish workload: one live node drawn
// from the candidates publishes Size random bytes.
type publishRound struct {
	r     *runner
	from  []int
	size  int
	index int // workload index, names the random streams
}

func (p publishRound) HandleEvent(int, any) {
	r := p.r
	w := r.w
	g := r.gossip
	for len(g.payload) <= p.index {
		g.payload = append(g.payload, nil)
	}
	src := g.payload[p.index]
	if src == nil {
		src = &payloadSource{rng: w.Entropy(-1, "payload/"+strconv.Itoa(p.index))}
		g.payload[p.index] = src
	}
	pick := r.publishRand(p.index)
	live := make([]int, 0, len(p.from))
	for _, i := range p.from {
		if w.Up(i) {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		return
	}
	i := live[pick.IntN(len(live))]
	payload := make([]byte, p.size)
	src.rng.Read(payload)
	if _, err := g.nodes[i].Publish(w.NodeTime(i), payload); err != nil {
		r.col.publishErrors++
	}
}

// observeGossip folds gossip events into the per-message record.
func (r *runner) observeGossip(now time.Time, node int, ev core.Event) {
	g := r.gossip
	if g == nil {
		return
	}
	switch e := ev.(type) {
	case gossip.Published:
		g.byID[e.ID] = len(g.msgs)
		m := &msgRecord{sender: node, at: now,
			nodes: []int32{int32(node)}, latency: []float64{0}, hops: []int{0}, got: make([]uint64, (r.w.Len()+63)/64)}
		m.first(node)
		g.msgs = append(g.msgs, m)
	case gossip.Delivered:
		k, ok := g.byID[e.ID]
		if !ok {
			return
		}
		m := g.msgs[k]
		if !m.first(node) {
			g.redelivered++
			return
		}
		m.nodes = append(m.nodes, int32(node))
		m.latency = append(m.latency, float64(now.Sub(m.at))/1e6)
		m.hops = append(m.hops, e.Hops)
		switch e.Via {
		case gossip.ViaPull:
			g.pulls++
		case gossip.ViaRepair:
			g.repairs++
		}
	case gossip.Duplicate:
		g.dups++
	case core.Drop:
		switch e.Msg {
		case "gossip", "ihave", "iwant", "digest", "digest-reply":
			g.drops[e.Reason]++
		}
	case FaultEvent:
		g.observeSplit(now, e)
	}
}

// spreads returns, per message, the first-delivery latencies at nodes that
// are live at the end of the run (the publisher at 0), and the live count.
func (r *runner) spreads() ([]reports.MessageSpread, int) {
	n := r.w.Len()
	live := 0
	for i := range n {
		if r.w.Up(i) {
			live++
		}
	}
	out := make([]reports.MessageSpread, 0, len(r.gossip.msgs))
	for _, m := range r.gossip.msgs {
		s := reports.MessageSpread{Live: live}
		for k, j := range m.nodes {
			if r.w.Up(int(j)) {
				s.LatenciesMs = append(s.LatenciesMs, m.latency[k])
			}
		}
		out = append(out, s)
	}
	return out, live
}

func (r *runner) gossipSummary(bytesSent uint64) *reports.GossipSection {
	g := r.gossip
	if g == nil || len(g.msgs) == 0 {
		return nil
	}
	spreads, live := r.spreads()
	gs := &reports.GossipSection{Messages: len(g.msgs), LiveNodes: live, PullDeliveries: g.pulls}
	var first, hops, ratio []float64
	var reach [3][]float64
	unreached := map[string]int{}
	shares := [3]float64{0.90, 0.99, 1.0}
	names := [3]string{"90", "99", "100"}
	for k, m := range g.msgs {
		bound := r.shortestFrom(m.sender)
		for x, j := range m.nodes {
			if !r.w.Up(int(j)) || int(j) == m.sender {
				continue
			}
			first = append(first, m.latency[x])
			hops = append(hops, float64(m.hops[x]))
			if b := float64(bound[j]) / 1e6; b > 0 {
				ratio = append(ratio, m.latency[x]/b)
			}
		}
		lat := slices.Clone(spreads[k].LatenciesMs)
		gs.Deliveries += uint64(len(lat))
		slices.Sort(lat)
		for q, share := range shares {
			need := int(math.Ceil(share * float64(live)))
			if need <= len(lat) && need > 0 {
				reach[q] = append(reach[q], lat[need-1])
			} else {
				unreached[names[q]]++
			}
		}
	}
	if denom := float64(len(g.msgs)) * float64(live); denom > 0 {
		// Six decimals: a ratio of 0.9999 must not print as 1.
		gs.DeliveryRatio = math.Floor(float64(gs.Deliveries)/denom*1e6) / 1e6
		gs.DuplicatesPerNodePerMsg = reports.Round3(float64(g.dups) / denom)
	}
	gs.FirstDeliveryMs = reports.Summarize(first)
	gs.Hops = reports.Summarize(hops)
	gs.Reach90Ms = reports.Summarize(reach[0])
	gs.Reach99Ms = reports.Summarize(reach[1])
	gs.Reach100Ms = reports.Summarize(reach[2])
	if len(unreached) > 0 {
		gs.Unreached = unreached
	}
	if len(g.drops) > 0 {
		gs.Drops = g.drops
	}
	gs.BytesSentPerNode = reports.Round3(float64(bytesSent) / float64(r.w.Len()))
	gs.RepairDeliveries = g.repairs
	gs.Redelivered = g.redelivered
	gs.Heal = r.healSection()
	if len(ratio) > 0 {
		slices.Sort(ratio)
		gs.BoundRatioP50 = reports.Round3(reports.Quantile(ratio, 0.5))
	}
	return gs
}

// shortestFrom returns (and caches) the shortest-path latencies from a
// publisher to every node under the latency model.
func (r *runner) shortestFrom(src int) []time.Duration {
	if d, ok := r.gossip.bounds[src]; ok {
		return d
	}
	d := sim.ShortestFrom(r.w.Network().Latency(), r.w.Len(), src)
	r.gossip.bounds[src] = d
	return d
}

// writeGossipOutputs writes the propagation curve and latency CSVs, and the
// plots when the scenario asks for them.
func (r *runner) writeGossipOutputs(dir string) error {
	if r.gossip == nil || len(r.gossip.msgs) == 0 {
		return nil
	}
	spreads, _ := r.spreads()
	curve := reports.PropagationCurve(spreads, reports.CurveStep(reports.MaxLatency(spreads)), 0)
	var lat []float64
	for _, s := range spreads {
		for _, l := range s.LatenciesMs {
			if l > 0 {
				lat = append(lat, l)
			}
		}
	}
	if r.sc.wants("csv") || r.sc.wants("plots") {
		if err := reports.WriteCurveCSV(dir, "gossip_propagation.csv", curve); err != nil {
			return err
		}
		if len(lat) > 0 {
			if err := reports.WriteLatenciesCSV(dir, "gossip_latency.csv", lat); err != nil {
				return err
			}
		}
	}
	return nil
}

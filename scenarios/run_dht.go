package scenarios

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/dht"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/sim"
)

// dhtRun holds what a run needs for the DHT: a component per node, who
// bootstraps from whom, and the record of user lookups.
type dhtRun struct {
	nodes      []*dht.DHT
	keys       *identity.KeyCache
	bootstrap  []int // node indices of nodes.bootstrap
	joinAt     []time.Duration
	lookups    []lookupRecord
	bootTook   []time.Duration // per node; -1 until BootstrapDone
	drops      map[string]uint64
	lookupRand map[int]*rand.Rand
}

// lookupRecord is one user lookup: whether it found its target, and its
// cost as the DHT reported it.
type lookupRecord struct {
	src, dst int  // looking node, node looked for
	misled   bool // the first result is an attacker or nobody (run_adversary.go)
	done     bool
	ok       bool
	latency  time.Duration
	hops     int
	messages int
}

// usesDHT reports whether the scenario runs the DHT: lookups are asked for
// or gossip takes its peers from it.
func (sc *Scenario) usesDHT() bool {
	return sc.Topology.Model == TopologyDHT ||
		slices.ContainsFunc(sc.Workload, func(w Workload) bool { return w.Lookups != nil })
}

// dhtKinds are the DHT's wire kinds, to attribute drops.
var dhtKinds = func() map[string]bool {
	m := map[string]bool{}
	for k := wire.Kind(0x10); k <= 0x2f; k++ {
		m[k.String()] = true
	}
	return m
}()

func (r *runner) setupDHT() error {
	sc := r.sc
	n := sc.Nodes.Count
	boot, err := sc.Nodes.Bootstrap.Resolve(n)
	if err != nil || len(boot) == 0 {
		return fmt.Errorf("%s: the DHT needs nodes.bootstrap: %v", sc.File, err)
	}
	d := &dhtRun{nodes: make([]*dht.DHT, n), bootstrap: boot, joinAt: make([]time.Duration, n),
		bootTook: make([]time.Duration, n), drops: map[string]uint64{}, lookupRand: map[int]*rand.Rand{}}
	for i := range n {
		d.bootTook[i] = -1
		// Bootstrap nodes start first; the others join spread over
		// JoinOver, each at a time from its own stream.
		if !slices.Contains(boot, i) && sc.Nodes.JoinOver > 0 {
			d.joinAt[i] = time.Duration(sim.StreamFloat(sc.Seed, i, "join") * float64(sc.Nodes.JoinOver))
		}
	}
	// One key memo for all nodes (one goroutine): each peer ID is hashed
	// once, not once per NODES answer naming it.
	d.keys = identity.NewKeyCache(2 * n)
	r.dht = d
	return nil
}

// attachDHT adds the DHT component to node i.
func (r *runner) attachDHT(i int, node *core.Node) error {
	if r.dht == nil {
		return nil
	}
	d, err := dht.New(node, dht.FromCore(r.sc.Protocol))
	if err != nil {
		return err
	}
	d.ShareKeys(r.dht.keys)
	r.dht.nodes[i] = d
	return nil
}

// scheduleJoins starts every node's bootstrap at its join time.
func (r *runner) scheduleJoins() {
	if r.dht == nil {
		return
	}
	for i := range r.w.Len() {
		r.w.Engine().Schedule(r.dht.joinAt[i], joinEvent{r}, i, nil)
	}
}

type joinEvent struct{ r *runner }

func (e joinEvent) HandleEvent(i int, _ any) { e.r.bootstrapNode(i) }

// bootstrapNode makes node i join through the bootstrap nodes (the other
// bootstrap nodes, for a bootstrap node itself).
func (r *runner) bootstrapNode(i int) {
	if !r.w.Up(i) {
		return
	}
	var peers []dht.BootstrapPeer
	for _, b := range r.dht.bootstrap {
		if b != i {
			peers = append(peers, dht.BootstrapPeer{Addr: sim.Addr(b), ID: r.ids[b].ID()})
		}
	}
	if len(peers) == 0 {
		return // a lone bootstrap node has nobody to join
	}
	if err := r.dht.nodes[i].Bootstrap(r.w.Now(), peers); err != nil {
		r.col.dhtErrors++
	}
}

// lookupRound issues one workload entry's lookups, spread over Over.
type lookupRound struct {
	r     *runner
	from  []int
	work  *LookupWork
	index int
}

func (l lookupRound) HandleEvent(int, any) {
	eng := l.r.w.Engine()
	step := time.Duration(0)
	if l.work.Count > 1 {
		step = time.Duration(l.work.Over) / time.Duration(l.work.Count)
	}
	for k := range l.work.Count {
		eng.Schedule(eng.Now()+time.Duration(k)*step, oneLookup(l), 0, nil)
	}
}

type oneLookup lookupRound

// HandleEvent starts one lookup from a live node of From for the peer ID of
// another live node.
func (l oneLookup) HandleEvent(int, any) {
	r := l.r
	w := r.w
	rng := r.dht.lookupRand[l.index]
	if rng == nil {
		rng = w.Rand(-1, "lookups/"+strconv.Itoa(l.index))
		r.dht.lookupRand[l.index] = rng
	}
	var live []int
	for _, i := range l.from {
		if w.Up(i) {
			live = append(live, i)
		}
	}
	if len(live) == 0 || w.Len() < 2 {
		return
	}
	src := live[rng.IntN(len(live))]
	dst := rng.IntN(w.Len() - 1)
	if dst >= src {
		dst++
	}
	for tries := 0; !w.Up(dst) && tries < 64; tries++ {
		if dst = rng.IntN(w.Len() - 1); dst >= src {
			dst++
		}
	}
	target := r.ids[dst].ID()
	idx := len(r.dht.lookups)
	r.dht.lookups = append(r.dht.lookups, lookupRecord{src: src, dst: dst})
	err := r.dht.nodes[src].FindPeer(w.Now(), target, func(res dht.LookupResult) {
		rec := &r.dht.lookups[idx]
		rec.done = true
		rec.latency, rec.hops, rec.messages = res.Latency, res.Hops, res.Messages
		rec.ok = res.OK && slices.ContainsFunc(res.Peers, func(p dht.PeerInfo) bool { return p.ID == target })
		rec.misled = r.misled(res)
	})
	if err != nil {
		r.col.dhtErrors++
	}
}

// observeDHT folds DHT events into the run's record.
func (r *runner) observeDHT(node int, ev core.Event) {
	if r.dht == nil {
		return
	}
	switch e := ev.(type) {
	case dht.BootstrapDone:
		if e.OK && r.dht.bootTook[node] < 0 {
			r.dht.bootTook[node] = e.Took
		}
	case core.Drop:
		if dhtKinds[e.Msg] {
			r.dht.drops[e.Reason]++
		}
	}
}

func (r *runner) dhtSummary() *reports.DHTSection {
	d := r.dht
	if d == nil {
		return nil
	}
	s := &reports.DHTSection{Lookups: len(d.lookups)}
	var lat, hops []float64
	msgs := 0
	for _, l := range d.lookups {
		if !l.done {
			s.Unfinished++ // still running at the end of the run
			continue
		}
		if l.ok {
			s.Succeeded++
		}
		lat = append(lat, float64(l.latency)/1e6)
		hops = append(hops, float64(l.hops))
		msgs += l.messages
	}
	if s.Lookups > 0 {
		s.SuccessRatio = float64(int(float64(s.Succeeded)/float64(s.Lookups)*1e6)) / 1e6
		s.MessagesPerLookup = reports.Round3(float64(msgs) / float64(s.Lookups))
	}
	s.LatencyMs = reports.Summarize(lat)
	s.Hops = reports.Summarize(hops)
	var sizes, boot []float64
	for i, node := range d.nodes {
		if !r.w.Up(i) || node == nil {
			continue
		}
		sizes = append(sizes, float64(node.Table().Len()))
		if slices.Contains(d.bootstrap, i) {
			continue // bootstrap nodes join each other; their time is not a join
		}
		if d.bootTook[i] < 0 {
			s.NotBootstrapped++
			continue
		}
		boot = append(boot, d.bootTook[i].Seconds())
	}
	s.TableSize = reports.Summarize(sizes)
	s.BootstrapS = reports.Summarize(boot)
	if len(d.drops) > 0 {
		s.Drops = d.drops
	}
	return s
}

// writeDHTOutputs writes lookup latency and hop tables, and their plots
// when the scenario asks for them.
func (r *runner) writeDHTOutputs(dir string) error {
	d := r.dht
	if d == nil || len(d.lookups) == 0 || !(r.sc.wants("csv") || r.sc.wants("plots")) {
		return nil
	}
	var lat, hops []float64
	for _, l := range d.lookups {
		if l.ok {
			lat = append(lat, float64(l.latency)/1e6)
			hops = append(hops, float64(l.hops))
		}
	}
	if len(lat) == 0 {
		return nil
	}
	if err := reports.WriteColumnCSV(dir, "dht_lookup_latency.csv", "latency_ms", lat); err != nil {
		return err
	}
	return reports.WriteColumnCSV(dir, "dht_hops.csv", "hops", hops)
}

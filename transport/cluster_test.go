package transport_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/dht"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/transport"
)

// cnode is one real node of a cluster, assembled as the simulator's runner
// assembles one (scenarios/run.go): health, connection manager (with the
// traffic hook), DHT, gossip over the manager's sessions, and the feed of
// DHT candidates to the manager.
type cnode struct {
	h      *transport.Host
	id     *identity.Identity
	node   *core.Node
	dht    *dht.DHT
	mgr    *connmgr.Manager
	gossip *gossip.Gossip
	cancel context.CancelFunc
	done   chan error
}

// cluster is n nodes on 127.0.0.1..n, with what the test waits for, fed by
// the nodes' observers and callbacks (each on its node's loop).
type cluster struct {
	t      *testing.T
	nodes  []*cnode
	index  map[netip.AddrPort]int
	notify chan struct{}

	mu        sync.Mutex
	booted    []bool
	edges     map[[2]int]bool // connected sessions, by (node, peer)
	published map[gossip.ID]time.Time
	delivered map[gossip.ID]map[int]time.Time // recorded even before published is
	drops     map[string]int                  // core drops, by "msg/reason"
}

// clusterConfig is the plan's configuration with intervals shortened for a
// loopback test.
func clusterConfig() core.Config {
	c := core.DefaultConfig()
	c.TargetConnections, c.MaxConnections = 6, 12
	c.ConnectionTimeout = 2 * time.Second
	c.PingInterval, c.PingTimeout = 2*time.Second, time.Second
	c.DHTRequestTimeout = time.Second
	return c
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, index: map[netip.AddrPort]int{}, notify: make(chan struct{}, 1),
		booted: make([]bool, n), edges: map[[2]int]bool{},
		published: map[gossip.ID]time.Time{}, delivered: map[gossip.ID]map[int]time.Time{}, drops: map[string]int{}}
	cfg := clusterConfig()
	for i := range n {
		c.nodes = append(c.nodes, c.build(i, n, cfg,
			netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}), 0)))
	}
	for i, cn := range c.nodes {
		c.index[cn.h.LocalAddr()] = i
	}
	for _, cn := range c.nodes {
		ctx, cancel := context.WithCancel(context.Background())
		cn.cancel, cn.done = cancel, make(chan error, 1)
		go func() { cn.done <- cn.h.Run(ctx) }()
	}
	t.Cleanup(c.stop)
	return c
}

func (c *cluster) build(i, n int, cfg core.Config, listen netip.AddrPort) *cnode {
	t := c.t
	id, err := identity.Generate(rand.NewChaCha8([32]byte{byte(i), 0xc1}))
	if err != nil {
		t.Fatal(err)
	}
	tcfg := transport.DefaultConfig()
	tcfg.Listen = listen
	obs := core.ObserverFunc(func(now time.Time, ev core.Event) { c.observe(i, now, ev) })
	h, err := transport.New(tcfg, id, obs, nil)
	if err != nil {
		t.Fatal(err)
	}
	node, err := core.NewNode(id, h.Env(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := health.DefaultConfig()
	hc.Timeout = cfg.PingTimeout
	if _, err := health.New(node, hc); err != nil {
		t.Fatal(err)
	}
	m, err := connmgr.New(node, connmgr.FromCore(cfg))
	if err != nil {
		t.Fatal(err)
	}
	node.SetTrafficHook(m.Traffic)
	dc := dht.FromCore(cfg)
	dc.DiversityLimits = false // every node is in 127.0.0.0/24
	d, err := dht.New(node, dc)
	if err != nil {
		t.Fatal(err)
	}
	gc := gossip.FromCore(cfg)
	gc.EagerHops = gossip.EagerHopsFor(n, gc.Fanout)
	g, err := gossip.New(node, gc, m, gossip.Ed25519Verifier{})
	if err != nil {
		t.Fatal(err)
	}
	g.OnDeliver(func(now time.Time, msg gossip.Message) { c.deliver(i, now, msg) })
	fc := connmgr.DefaultFeedConfig()
	fc.Interval = 200 * time.Millisecond
	if _, err := connmgr.NewFeed(m, connmgr.DHTCandidates{DHT: d, Rand: h.Env().Rand}, fc); err != nil {
		t.Fatal(err)
	}
	h.SetNode(node)
	return &cnode{h: h, id: id, node: node, dht: d, mgr: m, gossip: g}
}

// restart stops node i and starts a fresh process for it: same identity,
// same address, nothing else kept.
func (c *cluster) restart(i, n int) {
	old := c.nodes[i]
	old.cancel()
	if err := <-old.done; err != nil {
		c.t.Fatalf("node %d: Run: %v", i, err)
	}
	c.mu.Lock()
	c.booted[i] = false
	for e := range c.edges {
		if e[0] == i {
			delete(c.edges, e)
		}
	}
	c.mu.Unlock()
	cn := c.build(i, n, clusterConfig(), old.h.LocalAddr())
	if cn.h.LocalAddr() != old.h.LocalAddr() {
		c.t.Fatalf("restarted node at %v, was %v", cn.h.LocalAddr(), old.h.LocalAddr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cn.cancel, cn.done = cancel, make(chan error, 1)
	go func() { cn.done <- cn.h.Run(ctx) }()
	c.mu.Lock()
	c.nodes[i] = cn
	c.mu.Unlock()
}

func (c *cluster) stop() {
	for _, cn := range c.nodes {
		cn.cancel()
	}
	for i, cn := range c.nodes {
		select {
		case err := <-cn.done:
			if err != nil {
				c.t.Errorf("node %d: Run: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			c.t.Errorf("node %d did not stop", i)
		}
	}
}

func (c *cluster) observe(i int, _ time.Time, ev core.Event) {
	c.mu.Lock()
	switch e := ev.(type) {
	case dht.BootstrapDone:
		c.booted[i] = c.booted[i] || e.OK
	case connmgr.Open:
		if j, ok := c.index[e.Addr]; ok {
			c.edges[[2]int{i, j}] = true
		}
	case connmgr.Close:
		if j, ok := c.index[e.Addr]; ok {
			delete(c.edges, [2]int{i, j})
		}
	case core.Drop:
		c.drops[e.Msg+"/"+e.Reason]++
	}
	c.mu.Unlock()
	c.wake()
}

func (c *cluster) deliver(i int, now time.Time, m gossip.Message) {
	// A receiver may deliver before the publisher's Do has recorded the
	// publication: keep the time, the latency is computed at the end.
	c.mu.Lock()
	if c.delivered[m.ID] == nil {
		c.delivered[m.ID] = map[int]time.Time{}
	}
	c.delivered[m.ID][i] = now
	c.mu.Unlock()
	c.wake()
}

func (c *cluster) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// waitUntil re-evaluates cond (under the lock) after every event until it
// holds, failing after timeout.
func (c *cluster) waitUntil(what string, timeout time.Duration, cond func() bool) time.Duration {
	c.t.Helper()
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return time.Since(start)
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t.Fatalf("%s: not within %v\n%s", what, timeout, c.dumpLocked())
		}
	}
}

// do runs f on node i's loop.
func (c *cluster) do(i int, f func(now time.Time)) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.nodes[i].h.Do(ctx, f); err != nil {
		c.t.Fatalf("node %d: Do: %v", i, err)
	}
}

// overlayReady: every node holds at least min sessions and the session
// graph is connected.
func (c *cluster) overlayReady(min int) bool {
	n := len(c.nodes)
	deg := make([]int, n)
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		if parent[x] != x {
			parent[x] = find(parent[x])
		}
		return parent[x]
	}
	for e := range c.edges {
		deg[e[0]]++
		parent[find(e[0])] = find(e[1])
	}
	for i := range n {
		if deg[i] < min || find(i) != find(0) {
			return false
		}
	}
	return true
}

func (c *cluster) dumpLocked() string {
	s := ""
	deg := make([]int, len(c.nodes))
	for e := range c.edges {
		deg[e[0]]++
	}
	for i, cn := range c.nodes {
		st := cn.h.Stats()
		s += fmt.Sprintf("node %2d %v booted %v sessions(conn) %d transport sessions %d drops %v\n",
			i, cn.h.LocalAddr(), c.booted[i], deg[i], st.Sessions, st.Drops)
	}
	for id, at := range c.published {
		if len(c.delivered[id]) < len(c.nodes) {
			var missing []int
			for i := range c.nodes {
				if _, ok := c.delivered[id][i]; !ok {
					missing = append(missing, i)
				}
			}
			s += fmt.Sprintf("message %v published %v ago: missing at %v\n", id, time.Since(at).Round(time.Millisecond), missing)
		}
	}
	s += fmt.Sprintf("core drops: %v\n", c.drops)
	return s
}

// TestCluster20 runs 20 real nodes on loopback in one process: node 0 is the
// bootstrap node, the others join through it; DHT lookups for random peers
// find them, and messages published on random nodes reach every node.
func TestCluster20(t *testing.T) {
	if testing.Short() {
		t.Skip("20 nodes on loopback")
	}
	const n, messages, lookups = 20, 20, 40
	start := time.Now()
	c := newCluster(t, n)
	boot := dht.BootstrapPeer{Addr: c.nodes[0].h.LocalAddr(), ID: c.nodes[0].id.ID()}
	for i := 1; i < n; i++ {
		c.do(i, func(now time.Time) {
			if err := c.nodes[i].dht.Bootstrap(now, []dht.BootstrapPeer{boot}); err != nil {
				t.Errorf("node %d: bootstrap: %v", i, err)
			}
		})
	}
	tBoot := c.waitUntil("bootstrap", 10*time.Second, func() bool {
		return !slices.Contains(c.booted[1:], false)
	})
	tOverlay := c.waitUntil("overlay", 10*time.Second, func() bool { return c.overlayReady(2) })

	// DHT lookups of random peers from random nodes.
	rng := rand.New(rand.NewPCG(7, 7))
	var lmu sync.Mutex
	found, finished := 0, 0
	var lookupLat []time.Duration
	for range lookups {
		src := rng.IntN(n)
		dst := (src + 1 + rng.IntN(n-1)) % n
		target := c.nodes[dst].id.ID()
		c.do(src, func(now time.Time) {
			err := c.nodes[src].dht.FindPeer(now, target, func(r dht.LookupResult) {
				lmu.Lock()
				finished++
				if r.OK && slices.ContainsFunc(r.Peers, func(p dht.PeerInfo) bool {
					return p.ID == target && p.Addr == c.nodes[dst].h.LocalAddr()
				}) {
					found++
					lookupLat = append(lookupLat, r.Latency)
				}
				lmu.Unlock()
				c.wake()
			})
			if err != nil {
				t.Errorf("lookup from %d: %v", src, err)
			}
		})
	}
	c.waitUntil("lookups", 10*time.Second, func() bool {
		lmu.Lock()
		defer lmu.Unlock()
		return finished == lookups
	})
	if found != lookups {
		t.Errorf("lookups found their target %d of %d times", found, lookups)
	}

	// Gossip from random nodes.
	for k := range messages {
		src := rng.IntN(n)
		c.do(src, func(now time.Time) {
			id, err := c.nodes[src].gossip.Publish(now, []byte(fmt.Sprintf("message %d from node %d", k, src)))
			if err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			c.mu.Lock()
			c.published[id] = now
			c.mu.Unlock()
		})
	}
	// Every node delivers every message (the publisher at once, in
	// Publish).
	tGossip := c.waitUntil("gossip delivery", 10*time.Second, func() bool {
		for id := range c.published {
			if len(c.delivered[id]) != n {
				return false
			}
		}
		return true
	})

	c.mu.Lock()
	if dir := os.Getenv("DCHAT_REAL_DIR"); dir != "" {
		writeRealRun(t, dir, n, c.published, c.delivered)
	}
	var lat []time.Duration
	deliveries := 0
	for id, at := range c.published {
		for _, d := range c.delivered[id] {
			if d.After(at) || d.Equal(at) {
				deliveries++
			}
			if l := d.Sub(at); l > 0 {
				lat = append(lat, l) // receivers only: the publisher's is 0
			}
		}
	}
	c.mu.Unlock()

	// A node restarts (same identity and address, no state) and rejoins:
	// its peers' sessions with the old process are replaced by the new
	// process's handshakes, and later messages reach it too.
	const restarted = 5
	rs := time.Now()
	c.restart(restarted, n)
	c.do(restarted, func(now time.Time) {
		if err := c.nodes[restarted].dht.Bootstrap(now, []dht.BootstrapPeer{boot}); err != nil {
			t.Errorf("rejoin: %v", err)
		}
	})
	c.waitUntil("rejoin", 10*time.Second, func() bool { return c.booted[restarted] && c.overlayReady(2) })
	var after []gossip.ID
	for k := range 5 {
		src := (restarted + 1 + k) % n
		c.do(src, func(now time.Time) {
			id, err := c.nodes[src].gossip.Publish(now, []byte(fmt.Sprintf("after restart %d", k)))
			if err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			c.mu.Lock()
			c.published[id] = now
			after = append(after, id)
			c.mu.Unlock()
		})
	}
	c.waitUntil("delivery after the restart", 10*time.Second, func() bool {
		for _, id := range after {
			if len(c.delivered[id]) != n {
				return false
			}
		}
		return true
	})
	t.Logf("restart of node %d: rejoined and all 5 later messages delivered to all in %v", restarted, time.Since(rs).Round(time.Millisecond))
	slices.Sort(lat)
	slices.Sort(lookupLat)
	ratio := float64(deliveries) / float64(messages*n)
	var hs, drops uint64
	reasons := map[string]uint64{}
	for _, cn := range c.nodes {
		st := cn.h.Stats()
		hs += st.HandshakesCompleted
		drops += st.Dropped
		for r, v := range st.Drops {
			reasons[r] += v
		}
	}
	t.Logf("20 nodes: bootstrap %v, overlay (>= 2 sessions each, connected) %v later", tBoot.Round(time.Millisecond), tOverlay.Round(time.Millisecond))
	t.Logf("lookups: %d/%d found, latency p50 %v p99 %v", found, lookups, q(lookupLat, 0.5), q(lookupLat, 0.99))
	t.Logf("gossip: %d messages, delivery ratio %.4f, latency p50 %v p99 %v max %v (all delivered %v after the publishes)",
		messages, ratio, q(lat, 0.5), q(lat, 0.99), q(lat, 1), tGossip.Round(time.Millisecond))
	t.Logf("transport: %d handshakes completed, %d datagrams dropped %v; wall %v", hs, drops, reasons, time.Since(start).Round(time.Millisecond))
}

// q returns the q-quantile of sorted (nearest rank).
func q(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)].Round(time.Microsecond)
}

// writeRealRun writes the measured gossip of TestCluster20 as a run folder
// that `dchat-sim compare` reads beside a simulated one (see the
// loopback-20 scenario): summary.json with the gossip section, the
// propagation curve and the first-delivery latencies, in the simulator's
// formats. Set DCHAT_REAL_DIR to get it. Only delivery, first-delivery and
// reach figures are measured; the section's other fields stay zero.
func writeRealRun(t *testing.T, dir string, n int, published map[gossip.ID]time.Time, delivered map[gossip.ID]map[int]time.Time) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ids := make([]gossip.ID, 0, len(published))
	for id := range published {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b gossip.ID) int { return published[a].Compare(published[b]) })
	var spreads []reports.MessageSpread
	var first, reach90, reach99, reach100 []float64
	deliveries := 0
	for _, id := range ids {
		s := reports.MessageSpread{Live: n}
		for _, at := range delivered[id] {
			ms := max(0, float64(at.Sub(published[id]))/1e6)
			s.LatenciesMs = append(s.LatenciesMs, ms)
			deliveries++
			if ms > 0 {
				first = append(first, ms)
			}
		}
		slices.Sort(s.LatenciesMs)
		spreads = append(spreads, s)
		// Time until that share of the n nodes had the message (all did).
		at := func(share float64) float64 { return s.LatenciesMs[int(math.Ceil(share*float64(n)))-1] }
		if len(s.LatenciesMs) == n {
			reach90, reach99, reach100 = append(reach90, at(0.9)), append(reach99, at(0.99)), append(reach100, at(1))
		}
	}
	slices.Sort(first)
	curve := reports.PropagationCurve(spreads, reports.CurveStep(reports.MaxLatency(spreads)), 0)
	sum := &reports.Summary{
		Scenario: "loopback-20 (real: transport/TestCluster20)",
		Nodes:    n,
		Gossip: &reports.GossipSection{
			Messages: len(ids), LiveNodes: n, Deliveries: uint64(deliveries),
			DeliveryRatio:   reports.Round3(float64(deliveries) / float64(len(ids)*n)),
			FirstDeliveryMs: reports.Summarize(first),
			Reach90Ms:       reports.Summarize(reach90),
			Reach99Ms:       reports.Summarize(reach99),
			Reach100Ms:      reports.Summarize(reach100),
		},
	}
	for _, err := range []error{
		reports.WriteCurveCSV(dir, "gossip_propagation.csv", curve),
		reports.WriteLatenciesCSV(dir, "gossip_latency.csv", first),
		sum.WriteFile(dir),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

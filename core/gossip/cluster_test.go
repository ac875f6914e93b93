package gossip_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/gossip"
)

// cluster is n gossip nodes on a seeded random graph in a coretest.Net.
type cluster struct {
	net   *coretest.Net
	nodes []*core.Node
	gs    []*gossip.Gossip
	peers []gossip.StaticPeers
	pub   []gossip.ID       // published IDs, in order
	index map[gossip.ID]int // ID -> publish order
	addrs map[netip.AddrPort]int
}

// randomGraph returns a symmetric adjacency list where every node has at
// least degree peers (a few have more), drawn from seed.
func randomGraph(n, degree int, seed uint64) [][]int {
	r := rand.New(rand.NewPCG(seed, 0x9a9))
	adj := make([][]int, n)
	for i := range n {
		for tries := 0; len(adj[i]) < degree && tries < 100*degree; tries++ {
			j := r.IntN(n)
			if j == i || slices.Contains(adj[i], j) || len(adj[j]) >= degree+2 {
				continue
			}
			adj[i] = append(adj[i], j)
			adj[j] = append(adj[j], i)
		}
	}
	for i := range adj {
		slices.Sort(adj[i])
	}
	return adj
}

func connected(adj [][]int) bool {
	seen := make([]bool, len(adj))
	stack := []int{0}
	seen[0] = true
	count := 1
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range adj[i] {
			if !seen[j] {
				seen[j] = true
				count++
				stack = append(stack, j)
			}
		}
	}
	return count == len(adj)
}

func newCluster(t testing.TB, n, degree int, delay time.Duration, cfg gossip.Config, v gossip.Verifier) *cluster {
	t.Helper()
	adj := randomGraph(n, degree, 1)
	if !connected(adj) {
		t.Fatal("random graph is not connected")
	}
	c := &cluster{net: coretest.New(delay), index: map[gossip.ID]int{}, addrs: map[netip.AddrPort]int{}}
	for i := range n {
		c.nodes = append(c.nodes, c.net.AddNode(i, core.DefaultConfig()))
		c.addrs[coretest.Addr(i)] = i
	}
	c.peers = make([]gossip.StaticPeers, n)
	for i := range n {
		for _, j := range adj[i] {
			c.peers[i] = append(c.peers[i], gossip.Peer{Addr: coretest.Addr(j), ID: c.nodes[j].ID(), RTT: 2 * delay})
		}
		g, err := gossip.New(c.nodes[i], cfg, c.peers[i], v)
		if err != nil {
			t.Fatal(err)
		}
		c.gs = append(c.gs, g)
		c.nodes[i].Start(c.net.Now())
	}
	return c
}

// publishRandom publishes count messages from nodes drawn from seed, one
// every gap, running the network in between.
func (c *cluster) publishRandom(t testing.TB, count int, gap time.Duration, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0x9b))
	for k := range count {
		i := r.IntN(len(c.gs))
		id, err := c.gs[i].Publish(c.net.Now(), []byte(fmt.Sprintf("message %d from node %d", k, i)))
		if err != nil {
			t.Fatal(err)
		}
		c.index[id] = len(c.pub)
		c.pub = append(c.pub, id)
		c.net.Run(c.net.Now().Add(gap))
	}
}

// report summarises propagation from the event log.
type report struct {
	nodes, msgs int
	received    [][]int // [msg][node]: Published + Delivered count
	dups        [][]int // [msg][node]
	firstAt     [][]time.Duration
	hops        []int
	pulled      int
	drops       map[string]int
	forwards    int
	pushes      int
}

func (c *cluster) report() *report {
	r := &report{nodes: len(c.gs), msgs: len(c.pub), drops: map[string]int{}}
	for range c.pub {
		r.received = append(r.received, make([]int, r.nodes))
		r.dups = append(r.dups, make([]int, r.nodes))
		r.firstAt = append(r.firstAt, make([]time.Duration, r.nodes))
	}
	pubAt := map[gossip.ID]time.Time{}
	for _, o := range c.net.Events {
		node := c.addrs[o.Node]
		switch ev := o.Ev.(type) {
		case gossip.Published:
			m, ok := c.index[ev.ID]
			if !ok {
				continue
			}
			r.received[m][node]++
			pubAt[ev.ID] = o.Time
		case gossip.Delivered:
			m, ok := c.index[ev.ID]
			if !ok {
				continue
			}
			r.received[m][node]++
			r.firstAt[m][node] = o.Time.Sub(pubAt[ev.ID])
			r.hops = append(r.hops, ev.Hops)
			if ev.Via == gossip.ViaPull {
				r.pulled++
			}
		case gossip.Duplicate:
			if m, ok := c.index[ev.ID]; ok {
				r.dups[m][node]++
			}
		case gossip.Forwarded:
			r.forwards++
			r.pushes += ev.To
		case core.Drop:
			r.drops[ev.Reason]++
		}
	}
	return r
}

// missing counts (message, node) pairs never delivered.
func (r *report) missing() int {
	n := 0
	for m := range r.received {
		for _, k := range r.received[m] {
			if k == 0 {
				n++
			}
		}
	}
	return n
}

func (r *report) delivered() int {
	n := 0
	for m := range r.received {
		for _, k := range r.received[m] {
			n += k
		}
	}
	return n
}

func (r *report) meanDups() float64 {
	total := 0
	for m := range r.dups {
		for _, d := range r.dups[m] {
			total += d
		}
	}
	return float64(total) / float64(r.nodes*r.msgs)
}

func (r *report) maxDups() int {
	mx := 0
	for m := range r.dups {
		mx = max(mx, slices.Max(r.dups[m]))
	}
	return mx
}

func percentile(v []int, p float64) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (r *report) latency(p float64) time.Duration {
	var all []time.Duration
	for m := range r.firstAt {
		for node, d := range r.firstAt[m] {
			if r.received[m][node] > 0 {
				all = append(all, d)
			}
		}
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	if len(all) == 0 {
		return 0
	}
	return all[min(len(all)-1, int(p*float64(len(all))))]
}

func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nodes %d, messages %d, missing %d, delivered %d\n", r.nodes, r.msgs, r.missing(), r.delivered())
	fmt.Fprintf(&b, "duplicates per node per message: mean %.2f, max %d\n", r.meanDups(), r.maxDups())
	if len(r.hops) > 0 {
		fmt.Fprintf(&b, "hops: p50 %d, p95 %d, max %d; pulled %d\n", percentile(r.hops, .5), percentile(r.hops, .95), slices.Max(r.hops), r.pulled)
	}
	fmt.Fprintf(&b, "first delivery: p50 %v, p95 %v, max %v\n", r.latency(.5), r.latency(.95), r.latency(1))
	fmt.Fprintf(&b, "forwards %d, full copies pushed %d, drops %v", r.forwards, r.pushes, r.drops)
	return b.String()
}

package dht_test

import (
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/dht"
	"github.com/dchat/network/core/identity"
)

// testConfig is the plan's config without diversity limits: coretest
// clusters all live in 127.0.0.0/24.
func testConfig() dht.Config {
	c := dht.FromCore(core.DefaultConfig())
	c.DiversityLimits = false
	return c
}

// linkDelay is a seeded one-way delay of 10-150 ms per unordered pair.
func linkDelay(a, b netip.AddrPort) time.Duration {
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	h := fnv.New64a()
	h.Write(a.Addr().AsSlice())
	h.Write(b.Addr().AsSlice())
	return 10*time.Millisecond + time.Duration(h.Sum64()%141)*time.Millisecond
}

type cluster struct {
	net   *coretest.Net
	nodes []*core.Node
	dhts  []*dht.DHT
}

func newCluster(t testing.TB, n int, cfg dht.Config) *cluster {
	t.Helper()
	c := &cluster{net: coretest.New(0)}
	c.net.DelayFn = linkDelay
	for i := range n {
		node := c.net.AddNode(i, core.DefaultConfig())
		d, err := dht.New(node, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, node)
		c.dhts = append(c.dhts, d)
	}
	return c
}

func (c *cluster) at(d time.Duration) { c.net.Run(coretest.Epoch.Add(d)) }

// bootstrap starts node 0, then every other node 20 ms apart, each
// bootstrapping from node 0 (address only), and runs until all are done.
func (c *cluster) bootstrap(t testing.TB) time.Duration {
	t.Helper()
	for i, node := range c.nodes {
		c.at(time.Duration(i) * 20 * time.Millisecond)
		now := c.net.Now()
		node.Start(now)
		if i > 0 {
			if err := c.dhts[i].Bootstrap(now, []dht.BootstrapPeer{{Addr: coretest.Addr(0)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	end := time.Duration(len(c.nodes))*20*time.Millisecond + 30*time.Second
	c.at(end)
	for i, d := range c.dhts[1:] {
		if !d.Bootstrapped() {
			t.Fatalf("node %d not bootstrapped", i+1)
		}
	}
	return end
}

type lookupStats struct {
	ok, total  int
	lat        []time.Duration
	hops, msgs []int
	maxLatency time.Duration
	unfinished int
}

func pct[T any](s []T, p float64, cmp func(a, b T) int) T {
	s = slices.Clone(s)
	slices.SortFunc(s, cmp)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (s *lookupStats) String() string {
	durCmp := func(a, b time.Duration) int { return int(a - b) }
	intCmp := func(a, b int) int { return a - b }
	mean := func(v []int) float64 {
		t := 0
		for _, x := range v {
			t += x
		}
		return float64(t) / float64(len(v))
	}
	return fmt.Sprintf("success %d/%d, latency p50 %v p95 %v max %v, hops mean %.2f p95 %d, messages mean %.1f p95 %d",
		s.ok, s.total, pct(s.lat, 0.5, durCmp), pct(s.lat, 0.95, durCmp), s.maxLatency,
		mean(s.hops), pct(s.hops, 0.95, intCmp), mean(s.msgs), pct(s.msgs, 0.95, intCmp))
}

// lookups runs n lookups, 50 ms apart, from random live nodes of random
// other live nodes' IDs, and returns their stats.
func (c *cluster) lookups(t testing.TB, start time.Duration, n int, live []int, seed uint64) *lookupStats {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 42))
	st := &lookupStats{total: n}
	for j := range n {
		c.at(start + time.Duration(j)*50*time.Millisecond)
		src := live[r.IntN(len(live))]
		dst := src
		for dst == src {
			dst = live[r.IntN(len(live))]
		}
		target := c.nodes[dst].ID()
		st.unfinished++
		err := c.dhts[src].Lookup(c.net.Now(), target.Key(), func(res dht.LookupResult) {
			st.unfinished--
			st.lat = append(st.lat, res.Latency)
			st.hops = append(st.hops, res.Hops)
			st.msgs = append(st.msgs, res.Messages)
			st.maxLatency = max(st.maxLatency, res.Latency)
			if slices.ContainsFunc(res.Peers, func(p dht.PeerInfo) bool { return p.ID == target }) {
				st.ok++
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	c.at(start + time.Duration(n)*50*time.Millisecond + 15*time.Second)
	if st.unfinished != 0 {
		t.Fatalf("%d lookups never finished", st.unfinished)
	}
	return st
}

func (c *cluster) tableSizes(live []int) string {
	var sizes []int
	for _, i := range live {
		sizes = append(sizes, c.dhts[i].Table().Len())
	}
	slices.Sort(sizes)
	t := 0
	for _, s := range sizes {
		t += s
	}
	return fmt.Sprintf("table sizes min %d p50 %d max %d mean %.1f", sizes[0], sizes[len(sizes)/2], sizes[len(sizes)-1], float64(t)/float64(len(sizes)))
}

func allNodes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func runLookups200(t *testing.T) (*cluster, string) {
	c := newCluster(t, 200, testConfig())
	end := c.bootstrap(t)
	var took []time.Duration
	for _, b := range coretest.Of[dht.BootstrapDone](c.net) {
		took = append(took, b.Took)
	}
	st := c.lookups(t, end, 200, allNodes(200), 7)
	t.Logf("200 nodes: bootstrap p50 %v p95 %v; %s", pct(took, 0.5, func(a, b time.Duration) int { return int(a - b) }),
		pct(took, 0.95, func(a, b time.Duration) int { return int(a - b) }), c.tableSizes(allNodes(200)))
	t.Logf("200 lookups: %s", st)
	if st.ok != st.total {
		t.Errorf("success %d/%d, want all", st.ok, st.total)
	}
	h := sha256.Sum256([]byte(c.net.String()))
	return c, fmt.Sprintf("%x", h)
}

func TestLookups200(t *testing.T) {
	if testing.Short() {
		t.Skip("200-node cluster")
	}
	_, h1 := runLookups200(t)
	_, h2 := runLookups200(t)
	if h1 != h2 {
		t.Fatalf("event logs differ between identical runs: %s vs %s", h1, h2)
	}
}

func TestChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("200-node cluster")
	}
	cfg := testConfig()
	c := newCluster(t, 200, cfg)
	end := c.bootstrap(t)
	// Stop 20% without notice.
	r := rand.New(rand.NewPCG(99, 1))
	dead := map[int]bool{}
	for len(dead) < 40 {
		dead[1+r.IntN(199)] = true
	}
	var live []int
	for i := range c.nodes {
		if dead[i] {
			c.nodes[i].Stop(c.net.Now())
		} else {
			live = append(live, i)
		}
	}
	st := c.lookups(t, end, 200, live, 8)
	t.Logf("churn, 40 of 200 stopped: %s; %s", st, c.tableSizes(live))
	if float64(st.ok)/float64(st.total) < 0.99 {
		t.Errorf("success %d/%d < 0.99", st.ok, st.total)
	}
	if st.maxLatency > cfg.LookupTimeout {
		t.Errorf("a lookup took %v > deadline %v", st.maxLatency, cfg.LookupTimeout)
	}
	var timeouts uint64
	for _, i := range live {
		timeouts += c.dhts[i].Stats().Timeouts
	}
	if timeouts == 0 {
		t.Error("no timeouts with 20% of nodes dead: churn not exercised")
	}
}

// keyOf is a record key.
func keyOf(s string) identity.Key { return identity.KeyOf([]byte(s)) }

// retryPair is a two-node cluster whose bootstrap retries wait 1 s,
// doubling up to 4 s.
func retryPair(t *testing.T) (*cluster, dht.Config) {
	cfg := testConfig()
	cfg.BootstrapRetry = time.Second
	cfg.BootstrapRetryMax = 4 * time.Second
	return newCluster(t, 2, cfg), cfg
}

// TestBootstrapRetry: a node whose bootstrap peer is not up yet fails its
// first attempt, retries with growing waits, and joins once the peer is
// up; Took counts from the first attempt.
func TestBootstrapRetry(t *testing.T) {
	c, cfg := retryPair(t)
	c.nodes[1].Start(coretest.Epoch)
	if err := c.dhts[1].Bootstrap(coretest.Epoch, []dht.BootstrapPeer{{Addr: coretest.Addr(0)}}); err != nil {
		t.Fatal(err)
	}
	c.at(20 * time.Second) // node 0 is down: every attempt fails
	fails := coretest.Of[dht.BootstrapDone](c.net)
	if len(fails) < 3 {
		t.Fatalf("%d attempts in 20 s, want at least 3: %+v", len(fails), fails)
	}
	for i, f := range fails {
		if f.OK || f.RetryIn <= 0 {
			t.Fatalf("attempt %d: %+v, want a failure with a retry", i+1, f)
		}
		if want := i + 1; (want == 1 && f.Attempt != 0) || (want > 1 && f.Attempt != want) {
			t.Fatalf("attempt %d reported as %d", want, f.Attempt)
		}
		if f.RetryIn < cfg.BootstrapRetryMax/2 && i >= 2 {
			// the third wait is at least 4 s * 0.5
			t.Fatalf("attempt %d: retry in %v, want backoff to reach %v/2", i+1, f.RetryIn, cfg.BootstrapRetryMax)
		}
		if f.RetryIn >= cfg.BootstrapRetryMax*3/2 {
			t.Fatalf("attempt %d: retry in %v, above the cap %v*1.5", i+1, f.RetryIn, cfg.BootstrapRetryMax)
		}
	}
	if c.dhts[1].Bootstrapped() {
		t.Fatal("bootstrapped with its only peer down")
	}
	c.nodes[0].Start(c.net.Now())
	c.at(40 * time.Second)
	if !c.dhts[1].Bootstrapped() {
		t.Fatal("not bootstrapped 20 s after its peer came up")
	}
	all := coretest.Of[dht.BootstrapDone](c.net)
	last := all[len(all)-1]
	if !last.OK || last.Attempt != len(all) || last.RetryIn != 0 || last.Took < 20*time.Second {
		t.Fatalf("last attempt %+v of %d, want OK, numbered, no retry, took counted from the first attempt", last, len(all))
	}
	c.at(120 * time.Second)
	if n := len(coretest.Of[dht.BootstrapDone](c.net)); n != len(all) {
		t.Fatalf("%d bootstrap events after success, want %d: retries go on", n, len(all))
	}
}

// TestBootstrapRetryStops: Stop cancels a pending retry, and
// BootstrapRetry 0 disables retries.
func TestBootstrapRetryStops(t *testing.T) {
	for _, tc := range []struct {
		name  string
		retry time.Duration
		stop  bool
	}{{"stopped", time.Second, true}, {"disabled", 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.BootstrapRetry = tc.retry
			c := newCluster(t, 2, cfg)
			c.nodes[1].Start(coretest.Epoch)
			c.dhts[1].Bootstrap(coretest.Epoch, []dht.BootstrapPeer{{Addr: coretest.Addr(0)}})
			c.at(1500 * time.Millisecond) // the first attempt's ping timed out
			if n := len(coretest.Of[dht.BootstrapDone](c.net)); n != 1 {
				t.Fatalf("%d bootstrap events, want 1", n)
			}
			if tc.stop {
				c.nodes[1].Stop(c.net.Now())
			}
			c.nodes[0].Start(c.net.Now())
			c.at(60 * time.Second)
			if n := len(coretest.Of[dht.BootstrapDone](c.net)); n != 1 || c.dhts[1].Bootstrapped() {
				t.Fatalf("%d bootstrap events, bootstrapped %v; want no retry", n, c.dhts[1].Bootstrapped())
			}
		})
	}
}

// TestRejoinWhenTableEmpties: a node whose only peer stops answering loses
// it from its table, goes back to its bootstrap peers (failing while they
// are down) and joins again once one is up.
func TestRejoinWhenTableEmpties(t *testing.T) {
	c, _ := retryPair(t)
	c.nodes[0].Start(coretest.Epoch)
	c.nodes[1].Start(coretest.Epoch)
	c.dhts[1].Bootstrap(coretest.Epoch, []dht.BootstrapPeer{{Addr: coretest.Addr(0)}})
	c.at(5 * time.Second)
	if !c.dhts[1].Bootstrapped() || c.dhts[1].Table().Len() != 1 {
		t.Fatalf("bootstrapped %v with %d peers, want 1", c.dhts[1].Bootstrapped(), c.dhts[1].Table().Len())
	}
	c.nodes[0].Stop(c.net.Now())
	for i := range 3 { // lookups time out on node 0 until it is evicted
		c.dhts[1].Lookup(c.net.Now(), identity.Key{byte(i)}, nil)
		c.at(time.Duration(8+3*i) * time.Second)
	}
	if n := c.dhts[1].Table().Len(); n != 0 {
		t.Fatalf("%d peers after its only peer stopped answering, want 0", n)
	}
	if len(coretest.Of[dht.TableEmpty](c.net)) != 1 {
		t.Fatal("no TableEmpty event")
	}
	if c.dhts[1].Bootstrapped() {
		t.Fatal("Bootstrapped with an empty table")
	}
	c.at(30 * time.Second)
	boots := coretest.Of[dht.BootstrapDone](c.net)
	if len(boots) < 3 || boots[len(boots)-1].OK {
		t.Fatalf("bootstrap events %+v: want the first success, then failed rejoins while node 0 is down", boots)
	}
	c.nodes[0].Start(c.net.Now())
	c.at(45 * time.Second)
	if !c.dhts[1].Bootstrapped() || c.dhts[1].Table().Len() != 1 {
		t.Fatalf("bootstrapped %v with %d peers after node 0 came back, want a rejoin", c.dhts[1].Bootstrapped(), c.dhts[1].Table().Len())
	}
}

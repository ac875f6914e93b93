package sim

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/core/identity"
)

type rec struct {
	node int
	ev   core.Event
	at   time.Duration
}

func newTestWorld(t *testing.T, n int, cfg NetConfig) (*World, []*health.Pinger, *[]rec) {
	t.Helper()
	var log []rec
	w, err := NewWorld(1, n, cfg, func(now time.Time, node int, ev core.Event) {
		log = append(log, rec{node, ev, now.Sub(Epoch)})
	})
	if err != nil {
		t.Fatal(err)
	}
	ps := make([]*health.Pinger, n)
	for i := range n {
		id, _ := identity.Generate(w.Entropy(i, "identity"))
		node, err := core.NewNode(id, w.Env(i), core.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if ps[i], err = health.New(node, health.DefaultConfig()); err != nil {
			t.Fatal(err)
		}
		w.SetNode(i, node)
		node.Start(w.Now())
	}
	return w, ps, &log
}

func TestAddrIndex(t *testing.T) {
	w, _, _ := newTestWorld(t, 300, NetConfig{Latency: NewConstantLatency(time.Millisecond)})
	subnets := map[[3]byte]int{}
	for i := range 300 {
		j, ok := w.Index(Addr(i))
		if !ok || j != i {
			t.Fatalf("Index(Addr(%d)) = %d, %v", i, j, ok)
		}
		a := Addr(i).Addr().As4()
		if a[0] != 10 {
			t.Fatalf("Addr(%d) = %v outside 10/8", i, Addr(i))
		}
		subnets[[3]byte(a[:3])]++
	}
	if len(subnets) < 290 {
		t.Fatalf("300 nodes share only %d /24 subnets", len(subnets))
	}
	for _, a := range []string{"10.0.0.0:4001", "11.0.0.1:4001", "10.0.0.1:4002"} {
		if _, ok := w.Index(netip.MustParseAddrPort(a)); ok {
			t.Fatalf("%s resolved to a node", a)
		}
	}
	if _, ok := w.Index(Addr(300)); ok {
		t.Fatal("address past the last node resolved")
	}
	// The scramble is a bijection on 24 bits: spot-check far indices.
	for _, i := range []int{1 << 20, MaxNodes - 1} {
		big := &World{nodes: make([]simNode, MaxNodes)}
		if j, ok := big.Index(Addr(i)); !ok || j != i {
			t.Fatalf("Index(Addr(%d)) = %d, %v", i, j, ok)
		}
	}
}

func TestPingThroughWorld(t *testing.T) {
	w, ps, log := newTestWorld(t, 3, NetConfig{Latency: NewConstantLatency(25 * time.Millisecond)})
	ps[0].Ping(w.Now(), Addr(2))
	w.Run(time.Second)
	var got []health.PingRTT
	for _, r := range *log {
		if e, ok := r.ev.(health.PingRTT); ok && r.node == 0 {
			got = append(got, e)
		}
	}
	if len(got) != 1 || got[0].RTT != 50*time.Millisecond || got[0].Observed != Addr(0) {
		t.Fatalf("RTT events %+v", got)
	}
	st := w.Stats()
	if st.Sent != 2 || st.Delivered != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCrashDiscardsTimersAndPackets(t *testing.T) {
	w, ps, log := newTestWorld(t, 2, NetConfig{Latency: NewConstantLatency(100 * time.Millisecond)})
	ps[0].Ping(w.Now(), Addr(1))
	w.Run(50 * time.Millisecond)
	w.Crash(1) // the ping is in flight to a node that is now down
	w.Run(200 * time.Millisecond)
	w.Crash(0) // node 0's timeout timer belongs to its old life now
	w.Run(time.Minute)
	for _, r := range *log {
		switch r.ev.(type) {
		case health.PingRTT, health.PingTimeout:
			t.Fatalf("event from a crashed node: %+v", r)
		}
	}
	if w.Stats().Dropped[DropDown] != 1 {
		t.Fatalf("drops %+v", w.Stats().Dropped)
	}
	// Restart with state: it answers again.
	w.Restart(0, nil)
	w.Restart(1, nil)
	ps[0].Ping(w.Now(), Addr(1))
	w.Run(w.Engine().Now() + time.Second)
	n := 0
	for _, r := range *log {
		if _, ok := r.ev.(health.PingRTT); ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("after restart: %d RTT events", n)
	}
}

func TestNoRouteAndStreams(t *testing.T) {
	w, _, _ := newTestWorld(t, 2, NetConfig{Latency: NewConstantLatency(time.Millisecond)})
	w.Node(0).Send(Addr(5), []byte{1, 1})
	if w.Stats().Dropped[DropNoRoute] != 1 {
		t.Fatal("packet to a non-node address not dropped as no-route")
	}
	// A node's stream does not depend on how many nodes exist.
	w2, _, _ := newTestWorld(t, 50, NetConfig{Latency: NewConstantLatency(time.Millisecond)})
	if w.Rand(1, "x").Uint64() != w2.Rand(1, "x").Uint64() {
		t.Fatal("stream changed with the node count")
	}
	if w.Rand(1, "x").Uint64() == w.Rand(1, "y").Uint64() || w.Rand(1, "x").Uint64() == w.Rand(2, "x").Uint64() {
		t.Fatal("streams for different purposes or nodes coincide")
	}
}

// A node's timers die with it: one set before a crash never fires, even
// after a restart, while one set after the restart does.
func TestNodeTimerDiscardedAfterCrash(t *testing.T) {
	w, err := NewWorld(1, 2, NetConfig{Latency: NewConstantLatency(time.Millisecond)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var fired []string
	clock := w.Env(1).Clock
	clock.AfterFunc(10*time.Millisecond, func() { fired = append(fired, "before crash") })
	stopped := clock.AfterFunc(10*time.Millisecond, func() { fired = append(fired, "stopped") })
	w.Env(0).Clock.AfterFunc(10*time.Millisecond, func() { fired = append(fired, "other node") })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending node timer reported false")
	}
	w.Crash(1)
	w.Restart(1, nil)
	clock.AfterFunc(20*time.Millisecond, func() { fired = append(fired, "after restart") })
	w.Run(time.Second)
	if want := []string{"other node", "after restart"}; !slices.Equal(fired, want) {
		t.Fatalf("fired %q, want %q", fired, want)
	}
}

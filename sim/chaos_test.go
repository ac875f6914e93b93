package sim

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/dchat/network/chaos"
	"github.com/dchat/network/core"
	"github.com/dchat/network/core/health"
)

// arrivals returns, per (from, to), the times node to observed a drop of
// junk from node from (every junk packet that reaches a node is dropped as
// malformed by its decoder).
func arrivals(log []rec) map[[2]int][]time.Duration {
	out := map[[2]int][]time.Duration{}
	for _, r := range log {
		if d, ok := r.ev.(core.Drop); ok && r.node >= 0 {
			from := -1
			for i := range 10 {
				if Addr(i) == d.From {
					from = i
				}
			}
			out[[2]int{from, r.node}] = append(out[[2]int{from, r.node}], r.at)
		}
	}
	return out
}

// junkEvery makes node from send junk to node to every ms, n times.
func junkEvery(w *World, from, to, n int, junk []byte) {
	for k := range n {
		w.Engine().AfterFunc(time.Duration(k)*time.Millisecond, func() { w.Node(from).Send(Addr(to), junk) })
	}
}

func TestLinkFaults(t *testing.T) {
	w, _, log := newTestWorld(t, 3, NetConfig{Latency: NewConstantLatency(10 * time.Millisecond)})
	id, err := w.AddLinkFault(chaos.Link{Drop: 0.3, Duplicate: 0.2, Corrupt: 0.5, Delay: 5 * time.Millisecond}, []int{0}, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	junk := []byte{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8}
	keep := bytes.Clone(junk)
	const n = 4000
	junkEvery(w, 0, 1, n, junk)
	junkEvery(w, 0, 2, n, junk)
	junkEvery(w, 2, 1, n, junk)
	w.Run(10 * time.Second)
	if !bytes.Equal(junk, keep) {
		t.Fatal("a link fault wrote the sender's buffer")
	}
	got := arrivals(*log)
	if len(got[[2]int{0, 2}]) != n || len(got[[2]int{2, 1}]) != n {
		t.Fatalf("unfaulted links delivered %d and %d of %d", len(got[[2]int{0, 2}]), len(got[[2]int{2, 1}]), n)
	}
	cs := w.ChaosStats()
	faulted := got[[2]int{0, 1}]
	if want := n - int(cs.Dropped) + int(cs.Duplicated); len(faulted) != want {
		t.Errorf("faulted link delivered %d, want sent - dropped + duplicated = %d", len(faulted), want)
	}
	for name, c := range map[string]struct {
		got  uint64
		want float64
	}{"dropped": {cs.Dropped, 0.3 * n}, "duplicated": {cs.Duplicated, 0.2 * 0.7 * n}, "corrupted": {cs.Corrupted, 0.5 * 0.7 * n}} {
		if math.Abs(float64(c.got)-c.want) > 0.1*c.want {
			t.Errorf("%s: %d, want about %.0f", name, c.got, c.want)
		}
	}
	if w.Stats().Dropped[DropChaos] != cs.Dropped || cs.Faulted != n || cs.Delayed != n-cs.Dropped {
		t.Errorf("stats %+v, net drops %v", cs, w.Stats().Dropped)
	}
	// Every copy arrives 15 ms after a send (sends are on whole ms).
	for _, at := range faulted {
		if (at-15*time.Millisecond)%time.Millisecond != 0 || at < 15*time.Millisecond {
			t.Fatalf("arrival at %v is not latency + delay after a send", at)
		}
	}
	// Removed: the link is clean again.
	w.RemoveLinkFault(id)
	before := w.ChaosStats()
	junkEvery(w, 0, 1, 100, junk)
	w.Run(20 * time.Second)
	if w.ChaosStats() != (ChaosStats{Added: 1, Faulted: before.Faulted, Dropped: before.Dropped, Duplicated: before.Duplicated,
		Corrupted: before.Corrupted, Delayed: before.Delayed}) {
		t.Errorf("after removal: %+v", w.ChaosStats())
	}
	if _, err := w.AddLinkFault(chaos.Link{Drop: 2}, nil, nil); err == nil {
		t.Error("invalid link fault accepted")
	}
	if _, err := w.AddLinkFault(chaos.Link{Drop: 0.1}, []int{5}, nil); err == nil {
		t.Error("node out of range accepted")
	}
}

// Adding a link fault changes no network draw: with random loss on, the
// links the fault does not touch lose exactly the same packets.
func TestLinkFaultKeepsNetworkDraws(t *testing.T) {
	run := func(fault bool) map[[2]int][]time.Duration {
		cfg := NetConfig{Latency: NewConstantLatency(10 * time.Millisecond), Loss: 0.2,
			Jitter: Jitter{Dist: JitterUniform, Param: time.Millisecond}, Reorder: true}
		w, _, log := newTestWorld(t, 3, cfg)
		if fault {
			if _, err := w.AddLinkFault(chaos.Link{Drop: 0.5, Reorder: 0.5, Jitter: chaos.Dist{Kind: chaos.Exponential, Scale: time.Millisecond}}, []int{0}, []int{1}); err != nil {
				t.Fatal(err)
			}
		}
		junk := []byte{0xff, 1, 2, 3}
		junkEvery(w, 0, 1, 500, junk)
		junkEvery(w, 0, 2, 500, junk)
		junkEvery(w, 2, 1, 500, junk)
		w.Run(5 * time.Second)
		return arrivals(*log)
	}
	a, b := run(false), run(true)
	for _, link := range [][2]int{{0, 2}, {2, 1}} {
		if !equalDurations(a[link], b[link]) {
			t.Errorf("link %v: arrivals changed when a fault was added elsewhere", link)
		}
	}
	if len(b[[2]int{0, 1}]) >= len(a[[2]int{0, 1}]) {
		t.Errorf("the faulted link lost nothing more: %d vs %d", len(b[[2]int{0, 1}]), len(a[[2]int{0, 1}]))
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Corrupted packets reach the receiver's decoder, which drops and counts
// those it can tell are damaged (a ping has no checksum: a flipped nonce
// bit still decodes, and the pong then matches no ping); nothing crashes.
func TestCorruptedPingsAreDropped(t *testing.T) {
	w, ps, log := newTestWorld(t, 2, NetConfig{Latency: NewConstantLatency(5 * time.Millisecond)})
	if _, err := w.AddLinkFault(chaos.Link{Corrupt: 1}, []int{0}, []int{1}); err != nil {
		t.Fatal(err)
	}
	for k := range 200 {
		w.Engine().AfterFunc(time.Duration(k)*time.Second, func() { ps[0].Ping(w.Now(), Addr(1)) })
	}
	w.Run(300 * time.Second)
	var rtts, drops int
	for _, r := range *log {
		switch r.ev.(type) {
		case health.PingRTT:
			rtts++
		case core.Drop:
			if r.node == 1 {
				drops++
			}
		}
	}
	if w.ChaosStats().Corrupted != 200 {
		t.Errorf("corrupted %d of 200", w.ChaosStats().Corrupted)
	}
	if drops < 50 || uint64(drops) != w.Node(1).Stats().Dropped {
		t.Errorf("receiver dropped only %d corrupted pings (stats %+v)", drops, w.Node(1).Stats())
	}
	if rtts > 50 {
		t.Errorf("%d pings answered through a corrupting link", rtts)
	}
}

func TestPartitionPartial(t *testing.T) {
	const n = 200
	nw := netTestNew(t, n, NetConfig{Latency: NewConstantLatency(time.Millisecond)}, 1)
	var a, b []int
	for i := range n {
		if i < n/2 {
			a = append(a, i)
		} else {
			b = append(b, i)
		}
	}
	id := nw.PartitionPartial([][]int{a, b}, false, 0.3, 12345)
	cut := 0
	for _, i := range a {
		for _, j := range b {
			if nw.Blocked(i, j) != nw.Blocked(j, i) {
				t.Fatalf("two-way partial partition cut %d-%d one way only", i, j)
			}
			if nw.Blocked(i, j) {
				cut++
			}
		}
		for _, j := range a {
			if nw.Blocked(i, j) {
				t.Fatal("a partial partition cut a link inside a group")
			}
		}
	}
	if share := float64(cut) / float64(len(a)*len(b)); math.Abs(share-0.3) > 0.02 {
		t.Errorf("cut %.3f of the cross links, want 0.3", share)
	}
	// The same salt cuts the same links; another salt others.
	nw.Heal(id)
	id2 := nw.PartitionPartial([][]int{a, b}, false, 0.3, 12345)
	same := 0
	for _, i := range a {
		for _, j := range b {
			if nw.Blocked(i, j) {
				same++
			}
		}
	}
	if same != cut {
		t.Errorf("same salt cut %d links, then %d", cut, same)
	}
	nw.Heal(id2)

	// One-way and partial: only a -> b links, about half of them.
	nw.PartitionPartial([][]int{a, b}, true, 0.5, 99)
	cut = 0
	for _, i := range a {
		for _, j := range b {
			if nw.Blocked(j, i) {
				t.Fatal("a one-way partition cut the way back")
			}
			if nw.Blocked(i, j) {
				cut++
			}
		}
	}
	if share := float64(cut) / float64(len(a)*len(b)); math.Abs(share-0.5) > 0.02 {
		t.Errorf("one-way: cut %.3f, want 0.5", share)
	}
}

func TestPartitionPartialFull(t *testing.T) {
	nw := netTestNew(t, 4, NetConfig{Latency: NewConstantLatency(time.Millisecond)}, 1)
	nw.PartitionPartial([][]int{{0}, {1, 2}}, true, 1, 0)
	if !nw.Blocked(0, 1) || !nw.Blocked(0, 2) || nw.Blocked(1, 0) || nw.Blocked(3, 1) {
		t.Error("a one-way partition with share 1 must cut every link from the first group to the others, and only those")
	}
	defer func() {
		if recover() == nil {
			t.Error("share 0 accepted")
		}
	}()
	nw.PartitionPartial([][]int{{0}, {1}}, false, 0, 0)
}

// A skewed node reads its clock skewed, its timers fire on time by that
// clock, and what it observes is recorded at engine time.
func TestSkew(t *testing.T) {
	w, ps, log := newTestWorld(t, 2, NetConfig{Latency: NewConstantLatency(20 * time.Millisecond)})
	w.Run(time.Second)
	s := chaos.Skew{Offset: 30 * time.Second, Drift: 0.001}
	if err := w.SetSkew(0, s); err != nil {
		t.Fatal(err)
	}
	if w.ChaosStats().SkewedNodes != 1 || w.Skew(0) != s || w.Skew(1) != (chaos.Skew{}) {
		t.Fatalf("skew state %+v", w.ChaosStats())
	}
	env := w.Env(0)
	if got := env.Clock.Now().Sub(w.Now()); got != 30*time.Second {
		t.Errorf("offset %v, want 30s", got)
	}
	if w.NodeTime(1) != w.Now() {
		t.Error("an unskewed node's clock is off")
	}
	var firedAt time.Duration
	var localAt time.Time
	set := env.Clock.Now()
	env.Clock.AfterFunc(10*time.Second, func() { firedAt = w.Engine().Now(); localAt = env.Clock.Now() })
	ps[0].Ping(env.Clock.Now(), Addr(1))
	w.Run(time.Minute)
	if want := time.Second + s.TrueDelay(10*time.Second); firedAt != want {
		t.Errorf("timer fired at engine %v, want %v", firedAt, want)
	}
	if d := localAt.Sub(set); d < 10*time.Second || d > 10*time.Second+time.Microsecond {
		t.Errorf("the node's clock moved %v during its 10s timer", d)
	}
	for _, r := range *log {
		if e, ok := r.ev.(health.PingRTT); ok && r.node == 0 {
			if r.at > 2*time.Second {
				t.Errorf("skewed node's event recorded at %v, not engine time", r.at)
			}
			if e.RTT < 40*time.Millisecond || e.RTT > 41*time.Millisecond {
				t.Errorf("RTT %v measured on the skewed clock, want about 40ms", e.RTT)
			}
		}
	}
	if err := w.SetSkew(0, chaos.Skew{}); err != nil || w.ChaosStats().SkewedNodes != 0 || w.NodeTime(0) != w.Now() {
		t.Error("a zero skew did not end it")
	}
	if err := w.SetSkew(1, chaos.Skew{Drift: 1}); err == nil {
		t.Error("invalid skew accepted")
	}
}

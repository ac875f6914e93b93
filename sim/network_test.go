package sim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// netTestMatrix is an asymmetric 4-site matrix (ms): node i sits at site i%4.
const netTestMatrix = `0.5,10,20,30
11,0.5,40,50
21,41,0.5,60
31,51,61,0.5
`

func netTestLatency(t testing.TB) *Matrix {
	t.Helper()
	m, err := LoadLatencyMatrix(strings.NewReader(netTestMatrix), "net.csv")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func netTestNew(t testing.TB, nodes int, cfg NetConfig, seed uint64) *Network {
	t.Helper()
	n, err := NewNetwork(nodes, cfg, rand.New(rand.NewPCG(seed, 0x6e6574)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNetworkLatencyExact(t *testing.T) {
	lat := netTestLatency(t)
	n := netTestNew(t, 8, NetConfig{Latency: lat}, 1)
	if n.Latency() != LatencyModel(lat) || n.Nodes() != 8 {
		t.Fatal("Latency() or Nodes() wrong")
	}
	for _, now := range []time.Duration{0, 3 * time.Millisecond, 17 * time.Second} {
		for from := range 8 {
			for to := range 8 {
				arrive, drop := n.Uplink(now, from, to, 1200)
				if drop != DropNone {
					t.Fatalf("Uplink(%v, %d, %d) dropped: %q", now, from, to, drop)
				}
				if want := now + lat.OneWay(from, to); arrive != want {
					t.Errorf("Uplink(%v, %d, %d) = %v, want %v", now, from, to, arrive, want)
				}
				if got := n.Downlink(arrive, to, 1200); got != arrive {
					t.Errorf("unlimited Downlink(%v) = %v", arrive, got)
				}
			}
		}
	}
	if got, want := n.BaseRTT(1, 6), 40*time.Millisecond+41*time.Millisecond; got != want {
		t.Errorf("BaseRTT(1, 6) = %v, want %v", got, want)
	}
}

func TestNetworkJitterNeverEarly(t *testing.T) {
	lat := netTestLatency(t)
	const param = 20 * time.Millisecond
	for _, dist := range []string{JitterUniform, JitterNormal, JitterExponential} {
		t.Run(dist, func(t *testing.T) {
			for _, reorder := range []bool{false, true} {
				n := netTestNew(t, 8, NetConfig{Latency: lat, Jitter: Jitter{Dist: dist, Param: param}, Reorder: reorder}, 3)
				var sum time.Duration
				const packets = 20000
				for i := range packets {
					now := time.Duration(i) * 100 * time.Microsecond
					from, to := i%8, (i/8)%8
					arrive, drop := n.Uplink(now, from, to, 100)
					if drop != DropNone {
						t.Fatalf("dropped: %q", drop)
					}
					base := now + lat.OneWay(from, to)
					if arrive < base {
						t.Fatalf("packet %d arrives at %v, before its link allows (%v)", i, arrive, base)
					}
					if reorder && dist == JitterUniform && arrive > base+param {
						t.Fatalf("uniform jitter %v exceeds max %v", arrive-base, param)
					}
					sum += arrive - base
				}
				// The mean extra delay matches the distribution (loosely:
				// non-reordering only ever adds).
				mean := sum / packets
				want := map[string]time.Duration{
					JitterUniform:     param / 2,
					JitterNormal:      time.Duration(float64(param) * math.Sqrt(2/math.Pi)),
					JitterExponential: param,
				}[dist]
				if mean < want*9/10 || (reorder && mean > want*11/10) {
					t.Errorf("reorder=%v: mean jitter %v, want about %v", reorder, mean, want)
				}
			}
		})
	}
}

func TestNetworkNoReorder(t *testing.T) {
	// Heavy jitter (exponential, mean 50 ms) over a 1 ms link with packets
	// every 0.5 ms: without the guard most packets would overtake others.
	for _, reorder := range []bool{false, true} {
		n := netTestNew(t, 4, NetConfig{
			Latency: NewConstantLatency(time.Millisecond),
			Jitter:  Jitter{Dist: JitterExponential, Param: 50 * time.Millisecond},
			Reorder: reorder,
			Up:      []int64{1e6, 0, 0, 0},
		}, 11)
		rng := rand.New(rand.NewPCG(5, 5))
		last := map[[2]int]time.Duration{}
		var now time.Duration
		inversions := 0
		for range 50000 {
			now += time.Duration(rng.IntN(1000)) * time.Microsecond
			from, to := rng.IntN(4), rng.IntN(4)
			arrive, drop := n.Uplink(now, from, to, 1+rng.IntN(100))
			if drop != DropNone {
				t.Fatalf("dropped: %q", drop)
			}
			k := [2]int{from, to}
			if prev, ok := last[k]; ok && arrive < prev {
				inversions++
			}
			last[k] = max(last[k], arrive)
		}
		switch {
		case !reorder && inversions != 0:
			t.Errorf("Reorder=false: %d packets overtook an earlier one on their link", inversions)
		case reorder && inversions < 1000:
			t.Errorf("Reorder=true: only %d reorderings under heavy jitter", inversions)
		}
		t.Logf("Reorder=%v: %d inversions", reorder, inversions)
	}
}

func TestNetworkUplinkBandwidth(t *testing.T) {
	const lat = 5 * time.Millisecond
	n := netTestNew(t, 3, NetConfig{
		Latency: NewConstantLatency(lat),
		Up:      []int64{10_000_000, 0, 10_000_000},
	}, 1)

	// A 1 MB message on a 10 Mbit/s uplink takes exactly 800 ms to leave.
	arrive, drop := n.Uplink(0, 0, 1, 1_000_000)
	if drop != DropNone || arrive != 800*time.Millisecond+lat {
		t.Fatalf("1 MB at 10 Mbit/s: arrive %v %q, want %v", arrive, drop, 800*time.Millisecond+lat)
	}

	// Back-to-back packets queue FIFO behind it: 125,000 B = 100 ms each.
	for i, tc := range []struct {
		now, depart time.Duration
	}{
		{100 * time.Millisecond, 900 * time.Millisecond},   // queued behind the 1 MB
		{100 * time.Millisecond, 1000 * time.Millisecond},  // sent at the same time: after it
		{950 * time.Millisecond, 1100 * time.Millisecond},  // still busy
		{2000 * time.Millisecond, 2100 * time.Millisecond}, // idle again: no wait
	} {
		arrive, drop := n.Uplink(tc.now, 0, 2, 125_000)
		if drop != DropNone || arrive != tc.depart+lat {
			t.Errorf("packet %d sent at %v: arrive %v %q, want %v", i, tc.now, arrive, drop, tc.depart+lat)
		}
	}

	// Another sender's uplink is independent; node 1's is unlimited.
	if arrive, _ := n.Uplink(0, 2, 0, 125_000); arrive != 100*time.Millisecond+lat {
		t.Errorf("node 2's uplink: arrive %v, want %v", arrive, 100*time.Millisecond+lat)
	}
	if arrive, _ := n.Uplink(0, 1, 0, 1_000_000); arrive != lat {
		t.Errorf("unlimited uplink: arrive %v, want %v", arrive, lat)
	}
}

func TestNetworkDownlinkQueue(t *testing.T) {
	n := netTestNew(t, 2, NetConfig{
		Latency: NewConstantLatency(0),
		Down:    []int64{0, 10_000_000},
	}, 1)
	for i, tc := range []struct {
		now, done time.Duration
		size      int
	}{
		{0, 100 * time.Millisecond, 125_000},
		{50 * time.Millisecond, 200 * time.Millisecond, 125_000}, // waits for the first
		{60 * time.Millisecond, 200*time.Millisecond + 800*time.Microsecond, 1000},
		{500 * time.Millisecond, 600 * time.Millisecond, 125_000}, // idle: no wait
		{600 * time.Millisecond, 600 * time.Millisecond, 0},       // empty packet: no time
	} {
		if got := n.Downlink(tc.now, 1, tc.size); got != tc.done {
			t.Errorf("packet %d at %v: delivered %v, want %v", i, tc.now, got, tc.done)
		}
	}
	if got := n.Downlink(7*time.Second, 0, 1_000_000); got != 7*time.Second {
		t.Errorf("unlimited downlink: %v", got)
	}
}

func TestNetworkSerialization(t *testing.T) {
	for _, tc := range []struct {
		size int
		rate int64
		want time.Duration
	}{
		{1_000_000, 10_000_000, 800 * time.Millisecond},
		{1, 3, 2666666667}, // 8/3 s, rounded up
		{1500, 1_000_000_000, 12 * time.Microsecond},
		{0, 1, 0},
		{1, 0, 0},
		{math.MaxInt32, 1, math.MaxInt64}, // would overflow: saturates
	} {
		if got := serialization(tc.size, tc.rate); got != tc.want {
			t.Errorf("serialization(%d B, %d b/s) = %d, want %d", tc.size, tc.rate, got, tc.want)
		}
	}
}

func TestNetworkLoss(t *testing.T) {
	const packets, p = 100_000, 0.05
	run := func(seed uint64) (lost int, pattern uint64) {
		n := netTestNew(t, 2, NetConfig{Latency: NewConstantLatency(time.Millisecond), Loss: p}, seed)
		h := fnv.New64a()
		for i := range packets {
			_, drop := n.Uplink(time.Duration(i), 0, 1, 100)
			switch drop {
			case DropLoss:
				lost++
				fmt.Fprint(h, i, ",")
			case DropNone:
			default:
				t.Fatalf("unexpected drop %q", drop)
			}
		}
		return lost, h.Sum64()
	}
	lost, pat := run(1)
	mean := packets * p
	sd := math.Sqrt(packets * p * (1 - p))
	t.Logf("lost %d of %d (expected %.0f ± %.0f)", lost, packets, mean, sd)
	if math.Abs(float64(lost)-mean) > 4*sd {
		t.Errorf("lost %d of %d at p=%v: more than 4 sd (%.0f) from %.0f", lost, packets, p, sd, mean)
	}
	if lost2, pat2 := run(1); lost2 != lost || pat2 != pat {
		t.Errorf("same seed, different losses: %d vs %d", lost, lost2)
	}
	if _, pat3 := run(2); pat3 == pat {
		t.Error("different seeds, identical loss pattern")
	}
}

// TestNetworkDrawOrder pins the documented use of the rng: per packet that
// reaches the loss check, one Float64 for loss, then (if kept) one draw for
// jitter. A reference stream replays it.
func TestNetworkDrawOrder(t *testing.T) {
	const loss, param = 0.3, 10 * time.Millisecond
	for _, dist := range []string{JitterUniform, JitterNormal, JitterExponential} {
		n := netTestNew(t, 2, NetConfig{
			Latency: NewConstantLatency(time.Millisecond),
			Jitter:  Jitter{Dist: dist, Param: param},
			Loss:    loss,
			Reorder: true,
		}, 9)
		ref := rand.New(rand.NewPCG(9, 0x6e6574))
		for i := range 1000 {
			now := time.Duration(i) * time.Second // far apart: no queueing
			arrive, drop := n.Uplink(now, 0, 1, 10)
			if ref.Float64() < loss {
				if drop != DropLoss {
					t.Fatalf("%s packet %d: want DropLoss, got %q", dist, i, drop)
				}
				continue
			}
			var j time.Duration
			switch dist {
			case JitterUniform:
				j = time.Duration(ref.Int64N(int64(param) + 1))
			case JitterNormal:
				j = time.Duration(math.Abs(ref.NormFloat64()) * float64(param))
			case JitterExponential:
				j = time.Duration(ref.ExpFloat64() * float64(param))
			}
			if want := now + time.Millisecond + j; drop != DropNone || arrive != want {
				t.Fatalf("%s packet %d: got %v %q, want %v", dist, i, arrive, drop, want)
			}
		}
	}
}

func TestNetworkDeterministic(t *testing.T) {
	run := func(seed uint64) uint64 {
		n := netTestNew(t, 16, NetConfig{
			Latency: netTestLatency(t),
			Jitter:  Jitter{Dist: JitterNormal, Param: 5 * time.Millisecond},
			Loss:    0.02,
			MTU:     1400,
			Up:      []int64{1e6, 2e6, 0, 5e6, 1e6, 2e6, 0, 5e6, 1e6, 2e6, 0, 5e6, 1e6, 2e6, 0, 5e6},
		}, seed)
		n.Partition([][]int{{0, 1, 2}, {3, 4}})
		traffic := rand.New(rand.NewPCG(1, 1)) // same traffic for every seed
		h := fnv.New64a()
		var now time.Duration
		for range 20000 {
			now += time.Duration(traffic.IntN(200)) * time.Microsecond
			from, to, size := traffic.IntN(16), traffic.IntN(16), 40+traffic.IntN(1400)
			arrive, drop := n.Uplink(now, from, to, size)
			fmt.Fprintln(h, arrive, drop)
		}
		return h.Sum64()
	}
	a, b, c := run(1), run(1), run(2)
	if a != b {
		t.Errorf("same seed: trace hashes %x and %x differ", a, b)
	}
	if a == c {
		t.Errorf("different seeds: identical trace hash %x", a)
	}
}

func TestNetworkPartition(t *testing.T) {
	n := netTestNew(t, 6, NetConfig{Latency: NewConstantLatency(time.Millisecond)}, 1)
	reach := func(from, to int) bool {
		t.Helper()
		_, drop := n.Uplink(0, from, to, 10)
		if blocked := n.Blocked(from, to); blocked != (drop == DropPartition) {
			t.Fatalf("%d->%d: Blocked() = %v but Uplink drop = %q", from, to, blocked, drop)
		}
		return drop == DropNone
	}
	// check asserts reachability for every ordered pair: want lists the
	// blocked pairs.
	check := func(label string, blocked ...[2]int) {
		t.Helper()
		isBlocked := map[[2]int]bool{}
		for _, p := range blocked {
			isBlocked[p] = true
		}
		for a := range 6 {
			for b := range 6 {
				if got := reach(a, b); got == isBlocked[[2]int{a, b}] {
					t.Errorf("%s: %d->%d reachable = %v, want %v", label, a, b, got, !got)
				}
			}
		}
	}
	check("no partition")

	// Groups {0,1} and {2,3}; nodes 4 and 5 are in no group.
	p1 := n.Partition([][]int{{0, 1}, {2, 3}})
	check("groups", [2]int{0, 2}, [2]int{0, 3}, [2]int{1, 2}, [2]int{1, 3},
		[2]int{2, 0}, [2]int{3, 0}, [2]int{2, 1}, [2]int{3, 1})

	// A one-way block from 4 to 5 on top of it.
	p2 := n.PartitionOneWay([]int{4}, []int{5})
	check("groups + one-way", [2]int{0, 2}, [2]int{0, 3}, [2]int{1, 2}, [2]int{1, 3},
		[2]int{2, 0}, [2]int{3, 0}, [2]int{2, 1}, [2]int{3, 1}, [2]int{4, 5})

	// An overlapping partition: {1,2} against {4}.
	p3 := n.Partition([][]int{{1, 2}, {4}})
	all := [][2]int{{0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 0}, {3, 0}, {2, 1}, {3, 1}, {4, 5},
		{1, 4}, {4, 1}, {2, 4}, {4, 2}}
	check("three partitions", all...)
	if got := n.Partitions(); len(got) != 3 || got[0] != p1 || got[1] != p2 || got[2] != p3 {
		t.Errorf("Partitions() = %v, want [%v %v %v]", got, p1, p2, p3)
	}

	// Healing the first leaves the other two; 1-2 stays blocked by p3.
	n.Heal(p1)
	check("p1 healed", [2]int{4, 5}, [2]int{1, 4}, [2]int{4, 1}, [2]int{2, 4}, [2]int{4, 2})
	n.Heal(p1) // healing twice is a no-op
	n.Heal(0)  // as is healing nothing
	n.Heal(p3)
	check("p3 healed", [2]int{4, 5})
	n.Heal(p2)
	check("all healed")
	if got := n.Partitions(); len(got) != 0 {
		t.Errorf("Partitions() = %v after healing all", got)
	}
	if p1 == p2 || p2 == p3 || p1 == 0 {
		t.Errorf("partition IDs not distinct and non-zero: %v %v %v", p1, p2, p3)
	}
}

func TestNetworkPartitionOneWayOverlap(t *testing.T) {
	// A node in both sets cannot reach itself; from->to only.
	n := netTestNew(t, 3, NetConfig{Latency: NewConstantLatency(0)}, 1)
	n.PartitionOneWay([]int{0, 1}, []int{1, 2})
	for _, tc := range []struct {
		from, to int
		blocked  bool
	}{
		{0, 1, true}, {0, 2, true}, {1, 1, true}, {1, 2, true},
		{1, 0, false}, {2, 0, false}, {2, 1, false}, {0, 0, false},
	} {
		if got := n.Blocked(tc.from, tc.to); got != tc.blocked {
			t.Errorf("Blocked(%d, %d) = %v, want %v", tc.from, tc.to, got, tc.blocked)
		}
	}
}

func TestNetworkPartitionPanics(t *testing.T) {
	n := netTestNew(t, 3, NetConfig{Latency: NewConstantLatency(0)}, 1)
	for name, f := range map[string]func(){
		"out of range":    func() { n.Partition([][]int{{0}, {3}}) },
		"negative":        func() { n.PartitionOneWay([]int{-1}, []int{0}) },
		"in two groups":   func() { n.Partition([][]int{{0, 1}, {1, 2}}) },
		"one-way to high": func() { n.PartitionOneWay([]int{0}, []int{7}) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	if len(n.Partitions()) != 0 {
		t.Errorf("a panicking call left partitions behind: %v", n.Partitions())
	}
}

func TestNetworkDown(t *testing.T) {
	n := netTestNew(t, 3, NetConfig{
		Latency: NewConstantLatency(time.Millisecond),
		Up:      []int64{8e6, 8e6, 8e6}, // 1 byte per microsecond
	}, 1)
	n.SetDown(1, true)
	if !n.IsDown(1) || n.IsDown(0) {
		t.Fatal("IsDown wrong")
	}
	for _, p := range [][2]int{{1, 0}, {0, 1}, {1, 2}, {2, 1}} {
		if _, drop := n.Uplink(0, p[0], p[1], 1000); drop != DropDown {
			t.Errorf("%d->%d with node 1 down: drop %q, want down", p[0], p[1], drop)
		}
	}
	// The down sender used no uplink; node 0's and 2's packets to the down
	// node did (they were sent and lost on the way).
	if arrive, _ := n.Uplink(0, 1, 0, 0); arrive != 0 {
		t.Errorf("down node: arrive %v", arrive)
	}
	n.SetDown(1, false)
	if arrive, drop := n.Uplink(0, 1, 0, 1000); drop != DropNone || arrive != time.Millisecond+time.Millisecond {
		t.Errorf("node 1 back up, idle uplink: %v %q, want 2ms", arrive, drop)
	}
	if arrive, drop := n.Uplink(0, 0, 2, 1000); drop != DropNone || arrive != 2*time.Millisecond+time.Millisecond {
		t.Errorf("node 0's uplink after a lost packet: %v %q, want 3ms", arrive, drop)
	}
	if arrive, drop := n.Uplink(0, 0, 2, 1000); drop != DropNone || arrive != 3*time.Millisecond+time.Millisecond {
		t.Errorf("node 0's next packet: %v %q, want 4ms", arrive, drop)
	}
}

func TestNetworkMTU(t *testing.T) {
	n := netTestNew(t, 2, NetConfig{Latency: NewConstantLatency(time.Millisecond), MTU: 1500, Up: []int64{8e6, 0}}, 1)
	if _, drop := n.Uplink(0, 0, 1, 1500); drop != DropNone {
		t.Errorf("1500 B at MTU 1500: %q", drop)
	}
	if _, drop := n.Uplink(0, 0, 1, 1501); drop != DropMTU {
		t.Errorf("1501 B at MTU 1500: %q, want mtu", drop)
	}
	// The refused packet used no uplink: the next one queues only behind
	// the first (1500 us).
	if arrive, _ := n.Uplink(0, 0, 1, 1000); arrive != 2500*time.Microsecond+time.Millisecond {
		t.Errorf("after an MTU drop: arrive %v, want 3.5ms", arrive)
	}
	unlimited := netTestNew(t, 2, NetConfig{Latency: NewConstantLatency(0)}, 1)
	if _, drop := unlimited.Uplink(0, 0, 1, 10_000_000); drop != DropNone {
		t.Errorf("MTU 0: %q", drop)
	}
}

func TestNetworkConfigErrors(t *testing.T) {
	lat := NewConstantLatency(time.Millisecond)
	regions, err := NewRegionModel([]string{"eu-west", "us-east"}, DefaultRegionConfig(), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		name  string
		nodes int
		cfg   NetConfig
		rng   *rand.Rand
		want  string
	}{
		{"no nodes", 0, NetConfig{Latency: lat}, rng, "nodes 0"},
		{"nil latency", 3, NetConfig{}, rng, "Latency: nil"},
		{"region model too small", 3, NetConfig{Latency: regions}, rng, "Latency: regions model built for 2 nodes"},
		{"loss 1", 3, NetConfig{Latency: lat, Loss: 1}, rng, "Loss 1"},
		{"loss negative", 3, NetConfig{Latency: lat, Loss: -0.1}, rng, "Loss -0.1"},
		{"loss NaN", 3, NetConfig{Latency: lat, Loss: math.NaN()}, rng, "Loss NaN"},
		{"negative jitter", 3, NetConfig{Latency: lat, Jitter: Jitter{Dist: JitterNormal, Param: -1}}, rng, "Jitter.Param -1ns"},
		{"unknown distribution", 3, NetConfig{Latency: lat, Jitter: Jitter{Dist: "pareto", Param: 1}}, rng, `Jitter.Dist "pareto"`},
		{"negative MTU", 3, NetConfig{Latency: lat, MTU: -1}, rng, "MTU -1"},
		{"Up too short", 3, NetConfig{Latency: lat, Up: []int64{1, 2}}, rng, "Up: 2 entries, want one per node (3)"},
		{"Down too long", 3, NetConfig{Latency: lat, Down: []int64{1, 2, 3, 4}}, rng, "Down: 4 entries"},
		{"Up empty", 3, NetConfig{Latency: lat, Up: []int64{}}, rng, "Up: 0 entries"},
		{"negative rate", 3, NetConfig{Latency: lat, Down: []int64{1, -2, 3}}, rng, "Down[1] = -2"},
		{"nil rng with loss", 3, NetConfig{Latency: lat, Loss: 0.1}, nil, "rng: nil"},
		{"nil rng with jitter", 3, NetConfig{Latency: lat, Jitter: Jitter{Dist: JitterUniform, Param: 1}}, nil, "rng: nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := NewNetwork(tc.nodes, tc.cfg, tc.rng)
			if err == nil {
				t.Fatalf("no error (network of %d nodes)", n.Nodes())
			}
			if !errors.Is(err, ErrNetConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q: want ErrNetConfig containing %q", err, tc.want)
			}
		})
	}
	// Valid edge cases.
	for name, cfg := range map[string]NetConfig{
		"nil rng, nothing random": {Latency: lat},
		"jitter none, zero param": {Latency: lat, Jitter: Jitter{Dist: JitterNone}},
		"jitter on, zero param":   {Latency: lat, Jitter: Jitter{Dist: JitterExponential}},
		"region model big enough": {Latency: regions, Up: []int64{0, 1}},
	} {
		if _, err := NewNetwork(2, cfg, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNetworkConfigCopied(t *testing.T) {
	up := []int64{8e6, 8e6}
	n := netTestNew(t, 2, NetConfig{Latency: NewConstantLatency(0), Up: up}, 1)
	up[0] = 1 // the caller's slice is not the network's
	if arrive, _ := n.Uplink(0, 0, 1, 1000); arrive != time.Millisecond {
		t.Errorf("arrive %v, want 1ms", arrive)
	}
}

// netBenchSetup builds a 1,000-node network with region latency, normal
// jitter, loss and bandwidth limits, warmed so that every link the
// benchmark uses already has its reordering state.
func netBenchSetup(tb testing.TB) (*Network, func(i int) (from, to int)) {
	const nodes = 1000
	names := make([]string, nodes)
	up, down := make([]int64, nodes), make([]int64, nodes)
	rs := Regions()
	for i := range names {
		names[i] = rs[i%len(rs)].Name
		up[i], down[i] = 20e6, 100e6
	}
	lat, err := NewRegionModel(names, DefaultRegionConfig(), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		tb.Fatal(err)
	}
	n, err := NewNetwork(nodes, NetConfig{
		Latency: lat,
		Jitter:  Jitter{Dist: JitterNormal, Param: 5 * time.Millisecond},
		Loss:    0.005,
		MTU:     1400,
		Up:      up,
		Down:    down,
	}, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		tb.Fatal(err)
	}
	n.Partition([][]int{{0, 1, 2}, {3, 4, 5}}) // one active partition to check
	pair := func(i int) (int, int) {
		from := i % nodes
		return from, (from + 1 + (i/nodes)%8) % nodes // 8 peers per node
	}
	for i := range nodes * 8 {
		from, to := pair(i)
		n.Uplink(0, from, to, 1200)
	}
	return n, pair
}

func TestNetworkUplinkAllocs(t *testing.T) {
	n, pair := netBenchSetup(t)
	i := 0
	now := time.Second
	allocs := testing.AllocsPerRun(10000, func() {
		from, to := pair(i)
		i++
		now += 10 * time.Microsecond
		if arrive, drop := n.Uplink(now, from, to, 1200); drop == DropNone {
			n.Downlink(arrive, to, 1200)
		}
	})
	if allocs != 0 {
		t.Errorf("Uplink+Downlink: %v allocs per packet, want 0", allocs)
	}
}

func BenchmarkUplink(b *testing.B) {
	n, pair := netBenchSetup(b)
	b.ReportAllocs()
	now := time.Second
	i := 0
	for b.Loop() {
		from, to := pair(i)
		i++
		now += 10 * time.Microsecond
		n.Uplink(now, from, to, 1200)
	}
}

// With per-sender streams, a node's loss and jitter draws depend only on its
// own packets: traffic from another node in between changes none of them.
func TestSenderStreamsIndependent(t *testing.T) {
	fates := func(interleave bool) []time.Duration {
		cfg := NetConfig{Latency: NewConstantLatency(10 * time.Millisecond), Loss: 0.3,
			Jitter: Jitter{Dist: "uniform", Param: 5 * time.Millisecond}, Reorder: true}
		n, err := NewNetwork(3, cfg, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		n.SetSenderStreams(func(i int) *rand.Rand { return rand.New(rand.NewPCG(7, uint64(i))) })
		var out []time.Duration
		for k := range 200 {
			now := time.Duration(k) * time.Millisecond
			if interleave {
				n.Uplink(now, 1, 2, 100) // another sender's packet
			}
			at, drop := n.Uplink(now, 0, 2, 100)
			if drop != DropNone {
				at = -1
			}
			out = append(out, at)
		}
		return out
	}
	a, b := fates(false), fates(true)
	if !slices.Equal(a, b) {
		t.Fatal("node 0's packet fates changed when node 1 sent too")
	}
	if !slices.Contains(a, -1) {
		t.Fatal("no loss drawn at 30% loss")
	}
}

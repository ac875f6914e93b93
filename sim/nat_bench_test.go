package sim

import (
	"testing"
	"time"

	"github.com/dchat/network/core"
)

const benchNodes = 1000

// benchPair returns the k-th (sender, receiver) pair of the benchmarks: a
// fixed set of benchNodes pairs, visited in a cycle.
func benchPair(k int) (int, int) { return k % benchNodes, (k*7 + 1) % benchNodes }

// natBenchWorld returns a world of benchNodes nodes (without core nodes)
// whose odd nodes are behind port-restricted NATs and even ones public,
// with every benchmark pair's mappings and permissions open both ways.
func natBenchWorld(tb testing.TB) *World {
	nats := make([]NATConfig, benchNodes)
	for i := 1; i < benchNodes; i += 2 {
		nats[i] = NATPreset(core.NATPortRestricted)
	}
	w, err := NewWorld(1, benchNodes, NetConfig{Latency: NewConstantLatency(time.Millisecond), NAT: nats}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	payload := make([]byte, 200)
	for k := range benchNodes {
		a, b := benchPair(k)
		w.nat.send(a, w.PublicAddr(b), payload)
		w.nat.send(b, w.PublicAddr(a), payload)
	}
	w.Run(w.eng.Now() + time.Second)
	return w
}

// BenchmarkWorldPacket is one packet through the plain path: send, then
// the engine dispatches its arrival and delivery.
func BenchmarkWorldPacket(b *testing.B) {
	w, err := NewWorld(1, benchNodes, NetConfig{Latency: NewConstantLatency(time.Millisecond)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 200)
	k := 0
	b.ReportAllocs()
	for b.Loop() {
		from, to := benchPair(k)
		k++
		nodeTransport{&w.nodes[from]}.Send(Addr(to), payload)
		w.eng.Step()
	}
}

// BenchmarkWorldPacketNAT is the same through the NAT path: half the
// packets leave through a port-restricted NAT, half arrive through one.
// Pairs alternate direction, as a conversation does, so that the filter
// permissions stay refreshed while virtual time runs on.
func BenchmarkWorldPacketNAT(b *testing.B) {
	w := natBenchWorld(b)
	payload := make([]byte, 200)
	k := 0
	b.ReportAllocs()
	for b.Loop() {
		natBenchStep(w, k, payload)
		k++
	}
	if d := w.stats.Dropped; len(d) != 0 {
		b.Fatalf("drops in the steady state: %v", d)
	}
}

// natBenchStep sends the k-th packet of the NAT benchmark and dispatches
// its arrival.
func natBenchStep(w *World, k int, payload []byte) {
	from, to := benchPair(k / 2)
	if k%2 == 1 {
		from, to = to, from
	}
	w.nat.send(from, w.PublicAddr(to), payload)
	w.eng.Step()
}

// BenchmarkNATBox is one outbound and one inbound packet through a
// port-restricted box holding 50 peers.
func BenchmarkNATBox(b *testing.B) {
	box := newTestNAT(b, NATPreset(core.NATPortRestricted))
	var peers [50]Endpoint
	for k := range peers {
		peers[k] = endpoint(0x0a000001+uint32(k), 4001)
		box.Outbound(0, peers[k])
	}
	now := time.Duration(0)
	k := 0
	b.ReportAllocs()
	for b.Loop() {
		now += time.Microsecond
		p := peers[k%len(peers)]
		k++
		e := box.Outbound(now, p)
		if box.Inbound(now, e.Port(), p) != DropNone {
			b.Fatal("dropped")
		}
	}
}

// The NAT packet path allocates nothing in the steady state, and the plain
// path nothing either.
func TestNATPathAllocs(t *testing.T) {
	w := natBenchWorld(t)
	payload := make([]byte, 200)
	k := 0
	allocs := testing.AllocsPerRun(10*benchNodes, func() {
		natBenchStep(w, k, payload)
		k++
	})
	if allocs != 0 {
		t.Errorf("NAT path: %v allocs per packet, want 0", allocs)
	}
	if d := w.stats.Dropped; len(d) != 0 {
		t.Fatalf("drops: %v", d)
	}
	plain, err := NewWorld(1, benchNodes, NetConfig{Latency: NewConstantLatency(time.Millisecond)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	allocs = testing.AllocsPerRun(10*benchNodes, func() {
		from, to := benchPair(k)
		k++
		nodeTransport{&plain.nodes[from]}.Send(Addr(to), payload)
		plain.eng.Step()
	})
	if allocs != 0 {
		t.Errorf("plain path: %v allocs per packet, want 0", allocs)
	}
}

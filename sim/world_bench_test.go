package sim

import (
	"testing"
	"time"
)

// BenchmarkNodeTimer is one protocol timer through a node's clock: set with
// AfterFunc, then dispatched by the engine. The Timer handed back as a
// core.Timer is the only allocation.
func BenchmarkNodeTimer(b *testing.B) {
	w, err := NewWorld(1, benchNodes, NetConfig{Latency: NewConstantLatency(time.Millisecond)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	fired := 0
	f := func() { fired++ }
	k := 0
	b.ReportAllocs()
	for b.Loop() {
		nodeClock{&w.nodes[k%benchNodes]}.AfterFunc(time.Millisecond, f)
		k++
		w.eng.Step()
	}
	if fired != k {
		b.Fatalf("%d of %d timers fired", fired, k)
	}
}

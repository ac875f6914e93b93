package sim

import (
	"testing"
	"time"
)

// engBenchQueueLen is the steady-state number of pending events.
const engBenchQueueLen = 10_000

// engXorshift is Marsaglia's xorshift64: cheap, deterministic, and free of
// interface calls, so the benchmark measures the engine, not the generator.
type engXorshift uint64

func (x *engXorshift) next() uint64 {
	v := uint64(*x)
	v ^= v << 13
	v ^= v >> 7
	v ^= v << 17
	*x = engXorshift(v)
	return v
}

// delay returns a pseudo-random delay in [0, ~1ms), at nanosecond grain.
func (x *engXorshift) delay() time.Duration { return time.Duration(x.next() & (1<<20 - 1)) }

// engRescheduler is a Handler that, like a node answering a packet, schedules
// one new event at a pseudo-random future time each time it is called.
type engRescheduler struct {
	e   *Engine
	rng engXorshift
}

func (r *engRescheduler) HandleEvent(arg int, _ any) {
	r.e.After(r.rng.delay(), r, arg+1, nil)
}

func reportEngineRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkScheduleDispatch measures the engine's hot path: with 10,000
// events pending, each iteration dispatches one event whose handler schedules
// one more, so the queue stays the same size.
func BenchmarkScheduleDispatch(b *testing.B) {
	e := NewEngine()
	r := &engRescheduler{e: e, rng: 0x9E3779B97F4A7C15}
	for range engBenchQueueLen {
		r.HandleEvent(0, nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Step()
	}
	reportEngineRate(b)
	if e.Pending() != engBenchQueueLen {
		b.Fatalf("queue drifted to %d events", e.Pending())
	}
}

// BenchmarkAfterFuncDispatch is BenchmarkScheduleDispatch with protocol-style
// timers: each callback sets the next with AfterFunc.
func BenchmarkAfterFuncDispatch(b *testing.B) {
	e := NewEngine()
	rng := engXorshift(0x9E3779B97F4A7C15)
	var f func()
	f = func() { e.AfterFunc(rng.delay(), f) }
	for range engBenchQueueLen {
		f()
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Step()
	}
	reportEngineRate(b)
}

// BenchmarkTimerStop measures setting a timer and cancelling it before it
// fires, the usual fate of a request timeout. On top of 10,000 pending events,
// 1,000 timers are outstanding; each iteration sets one with After and stops
// the one set 1,000 iterations earlier, which by then sits anywhere in the
// heap, so Stop exercises removal from the middle.
func BenchmarkTimerStop(b *testing.B) {
	e := NewEngine()
	r := &engRescheduler{e: e, rng: 0x9E3779B97F4A7C15}
	for range engBenchQueueLen {
		r.HandleEvent(0, nil)
	}
	var ring [1000]Timer
	for i := range ring {
		ring[i] = e.After(r.rng.delay(), r, 0, nil)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if !ring[i].Stop() {
			b.Fatal("Stop of a pending timer reported false")
		}
		ring[i] = e.After(r.rng.delay(), r, 0, nil)
		i++
		if i == len(ring) {
			i = 0
		}
	}
	reportEngineRate(b)
}

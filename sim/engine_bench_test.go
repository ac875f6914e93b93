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

// engBenchLargeQueueLen is the pending-event count of the large benchmarks:
// the size of the queue in a 10,000-node run.
const engBenchLargeQueueLen = 500_000

// BenchmarkScheduleDispatchLarge is BenchmarkScheduleDispatch with 500,000
// events pending.
func BenchmarkScheduleDispatchLarge(b *testing.B) {
	e := NewEngine()
	r := &engRescheduler{e: e, rng: 0x9E3779B97F4A7C15}
	for range engBenchLargeQueueLen {
		r.HandleEvent(0, nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Step()
	}
	reportEngineRate(b)
	if e.Pending() != engBenchLargeQueueLen {
		b.Fatalf("queue drifted to %d events", e.Pending())
	}
}

// engTimerMix is a Handler with the shape of a large simulation's load: each
// event schedules one more, mostly a packet delivery (1 to 200 ms ahead),
// otherwise a protocol timer (1 to 30 s ahead).
type engTimerMix struct {
	e   *Engine
	rng engXorshift
}

func (m *engTimerMix) HandleEvent(arg int, _ any) {
	v := m.rng.next()
	var d time.Duration
	if v%10 < 6 {
		d = time.Millisecond + time.Duration(v>>8%uint64(199*time.Millisecond))
	} else {
		d = time.Second + time.Duration(v>>8%uint64(29*time.Second))
	}
	m.e.After(d, m, arg+1, nil)
}

// BenchmarkScheduleDispatchTimerMix measures a timer-heavy queue of 500,000
// pending events: 450,000 from engTimerMix plus 50,000 request timeouts (5 to
// 10 s). Each iteration dispatches one event, which schedules one more, and
// stops the oldest timeout, still pending, and sets a new one.
func BenchmarkScheduleDispatchTimerMix(b *testing.B) {
	e := NewEngine()
	m := &engTimerMix{e: e, rng: 0x9E3779B97F4A7C15}
	const timeouts = 50_000
	for range engBenchLargeQueueLen - timeouts {
		m.HandleEvent(0, nil)
	}
	// Warm up past the initial schedule, so the queue holds a steady mix.
	for range engBenchLargeQueueLen {
		e.Step()
	}
	timeout := func() Timer {
		return e.After(5*time.Second+time.Duration(m.rng.next()%uint64(5*time.Second)), engNoop{}, 0, nil)
	}
	ring := make([]Timer, timeouts)
	for i := range ring {
		ring[i] = timeout()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Step()
		if !ring[i].Stop() {
			b.Fatal("a timeout fired before it was stopped")
		}
		ring[i] = timeout()
		i++
		if i == len(ring) {
			i = 0
		}
	}
	reportEngineRate(b)
	if e.Pending() != engBenchLargeQueueLen {
		b.Fatalf("queue drifted to %d events", e.Pending())
	}
}

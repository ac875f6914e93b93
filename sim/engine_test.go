package sim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// engFired is one dispatched event as a recorder saw it.
type engFired struct {
	at  time.Duration
	arg int
}

// engRecorder is a Handler that logs every event with the virtual time it ran
// at, then calls then (if set).
type engRecorder struct {
	e    *Engine
	got  []engFired
	then func(arg int, data any)
}

func (r *engRecorder) HandleEvent(arg int, data any) {
	r.got = append(r.got, engFired{r.e.Now(), arg})
	if r.then != nil {
		r.then(arg, data)
	}
}

func (r *engRecorder) args() []int {
	out := make([]int, len(r.got))
	for i, f := range r.got {
		out[i] = f.arg
	}
	return out
}

func newEngRecorder() (*Engine, *engRecorder) {
	e := NewEngine()
	return e, &engRecorder{e: e}
}

func TestEngineOrderByTime(t *testing.T) {
	e, r := newEngRecorder()
	times := []time.Duration{50, 10, 40, 20, 30, 5, 45, 15}
	for i, at := range times {
		e.Schedule(at, r, i, nil)
	}
	e.Run(endOfTime)
	want := []engFired{{5, 5}, {10, 1}, {15, 7}, {20, 3}, {30, 4}, {40, 2}, {45, 6}, {50, 0}}
	if !slices.Equal(r.got, want) {
		t.Fatalf("dispatch order\n got %v\nwant %v", r.got, want)
	}
}

func TestEngineTiesFIFO(t *testing.T) {
	e, r := newEngRecorder()
	// Interleave two instants so that FIFO cannot come about by accident of
	// heap layout: many equal keys force sifts past each other.
	for i := range 200 {
		e.Schedule(time.Duration(10*(i%2+1)), r, i, nil)
	}
	e.Run(endOfTime)
	var want []int
	for i := 0; i < 200; i += 2 {
		want = append(want, i)
	}
	for i := 1; i < 200; i += 2 {
		want = append(want, i)
	}
	if got := r.args(); !slices.Equal(got, want) {
		t.Fatalf("same-time events not FIFO\n got %v\nwant %v", got, want)
	}
}

func TestEngineSchedulePastClampsToNow(t *testing.T) {
	e, r := newEngRecorder()
	e.Schedule(100, r, 1, nil)
	e.Schedule(200, r, 4, nil)
	r.then = func(arg int, _ any) {
		if arg == 1 {
			// Both in the past of t=100: clamped to 100, FIFO among themselves.
			e.Schedule(10, r, 2, nil)
			e.After(-50, r, 3, nil)
		}
	}
	e.Run(endOfTime)
	want := []engFired{{100, 1}, {100, 2}, {100, 3}, {200, 4}}
	if !slices.Equal(r.got, want) {
		t.Fatalf("got %v, want %v", r.got, want)
	}

	// Before any event: negative times clamp to zero.
	e2, r2 := newEngRecorder()
	e2.Schedule(-5, r2, 7, nil)
	if at, ok := e2.Peek(); !ok || at != 0 {
		t.Fatalf("Peek after Schedule(-5) = %v, %v; want 0, true", at, ok)
	}
}

func TestEngineAfterAndAfterFunc(t *testing.T) {
	e, r := newEngRecorder()
	var calls []time.Duration
	e.Schedule(100, r, 0, nil)
	e.Run(100)
	e.After(25, r, 1, nil)
	e.AfterFunc(10, func() { calls = append(calls, e.Now()) })
	e.AfterFunc(-10, func() { calls = append(calls, -e.Now()) }) // treated as 0
	e.Run(1000)
	if want := []time.Duration{-100, 110}; !slices.Equal(calls, want) {
		t.Fatalf("AfterFunc ran at %v, want %v", calls, want)
	}
	if want := []engFired{{100, 0}, {125, 1}}; !slices.Equal(r.got, want) {
		t.Fatalf("After: got %v, want %v", r.got, want)
	}
	// A delay that would overflow saturates instead of wrapping into the past.
	e.After(endOfTime, r, 2, nil)
	e.AfterFunc(endOfTime-500, func() {})
	if e.Pending() != 2 {
		t.Fatalf("Pending = %d, want 2", e.Pending())
	}
	if at, _ := e.Peek(); at != endOfTime {
		t.Fatalf("overflowing delays due at %v, want %v", at, endOfTime)
	}
}

func TestEngineTime(t *testing.T) {
	e := NewEngine()
	if !e.Time().Equal(Epoch) {
		t.Fatalf("Time() = %v at start, want Epoch %v", e.Time(), Epoch)
	}
	e.Run(90 * time.Minute)
	if want := time.Date(2026, time.January, 1, 1, 30, 0, 0, time.UTC); !e.Time().Equal(want) {
		t.Fatalf("Time() = %v, want %v", e.Time(), want)
	}
}

func TestEngineRunUntil(t *testing.T) {
	e, r := newEngRecorder()
	for _, at := range []time.Duration{10, 20, 30, 36, 40} {
		e.Schedule(at, r, int(at), nil)
	}
	e.Run(30) // an event exactly at until is dispatched
	if want := []int{10, 20, 30}; !slices.Equal(r.args(), want) {
		t.Fatalf("Run(30) dispatched %v, want %v", r.args(), want)
	}
	if e.Now() != 30 || e.Pending() != 2 {
		t.Fatalf("after Run(30): Now=%v Pending=%d, want 30, 2", e.Now(), e.Pending())
	}
	e.Run(35) // the next event is later: time still advances to until
	if e.Now() != 35 || len(r.got) != 3 {
		t.Fatalf("after Run(35): Now=%v dispatched=%d, want 35, 3", e.Now(), len(r.got))
	}
	e.Run(100) // the queue empties before until: time advances to until
	if e.Now() != 100 || len(r.got) != 5 || e.Pending() != 0 {
		t.Fatalf("after Run(100): Now=%v dispatched=%d pending=%d, want 100, 5, 0",
			e.Now(), len(r.got), e.Pending())
	}
	e.Run(50) // until in the past: time does not go back
	if e.Now() != 100 {
		t.Fatalf("Run(50) at 100 moved Now to %v", e.Now())
	}
}

func TestEngineStep(t *testing.T) {
	e, r := newEngRecorder()
	if e.Step() {
		t.Fatal("Step on an empty queue reported true")
	}
	e.Schedule(7, r, 1, nil)
	e.Schedule(3, r, 2, nil)
	if !e.Step() || e.Now() != 3 || !slices.Equal(r.args(), []int{2}) {
		t.Fatalf("first Step: Now=%v got=%v", e.Now(), r.args())
	}
	if !e.Step() || e.Now() != 7 || !slices.Equal(r.args(), []int{2, 1}) {
		t.Fatalf("second Step: Now=%v got=%v", e.Now(), r.args())
	}
	if e.Step() {
		t.Fatal("Step after draining reported true")
	}
}

func TestEnginePeek(t *testing.T) {
	e, r := newEngRecorder()
	if _, ok := e.Peek(); ok {
		t.Fatal("Peek on empty queue reported ok")
	}
	e.Schedule(40, r, 0, nil)
	tm := e.Schedule(20, r, 0, nil)
	if at, ok := e.Peek(); !ok || at != 20 {
		t.Fatalf("Peek = %v, %v; want 20, true", at, ok)
	}
	tm.Stop()
	if at, ok := e.Peek(); !ok || at != 40 {
		t.Fatalf("Peek after Stop = %v, %v; want 40, true", at, ok)
	}
}

func TestEngineTimerStop(t *testing.T) {
	e, r := newEngRecorder()
	e.Schedule(10, r, 1, nil)
	tm := e.Schedule(20, r, 2, nil)
	e.Schedule(30, r, 3, nil)
	if !tm.Stop() {
		t.Fatal("first Stop of a pending timer reported false")
	}
	if e.Pending() != 2 {
		t.Fatalf("Pending after Stop = %d, want 2 (stopped events leave the queue)", e.Pending())
	}
	if tm.Stop() {
		t.Fatal("second Stop reported true")
	}
	e.Run(endOfTime)
	if want := []int{1, 3}; !slices.Equal(r.args(), want) {
		t.Fatalf("dispatched %v, want %v", r.args(), want)
	}
	if tm.Stop() {
		t.Fatal("Stop after Run reported true")
	}
	var zero Timer
	if zero.Stop() {
		t.Fatal("zero Timer Stop reported true")
	}
}

func TestEngineTimerStopAfterDispatch(t *testing.T) {
	e, r := newEngRecorder()
	tm := e.Schedule(10, r, 1, nil)
	e.Run(endOfTime)
	if tm.Stop() {
		t.Fatal("Stop of a dispatched timer reported true")
	}
	if e.Dispatched() != 1 {
		t.Fatalf("Dispatched = %d, want 1", e.Dispatched())
	}
}

func TestEngineStaleTimerAfterReuse(t *testing.T) {
	for _, how := range []string{"dispatched", "stopped"} {
		t.Run(how, func(t *testing.T) {
			e, r := newEngRecorder()
			old := e.Schedule(10, r, 1, nil)
			if how == "dispatched" {
				e.Run(10)
			} else {
				old.Stop()
			}
			fresh := e.Schedule(20, r, 2, nil)
			if fresh.ev != old.ev {
				t.Fatal("test premise: the pool did not reuse the event's storage")
			}
			if old.Stop() {
				t.Fatal("stale Timer Stop reported true")
			}
			if e.Pending() != 1 {
				t.Fatalf("stale Stop changed Pending to %d", e.Pending())
			}
			e.Run(endOfTime)
			if got := r.args(); got[len(got)-1] != 2 {
				t.Fatalf("event behind reused storage not dispatched: %v", got)
			}
		})
	}
}

func TestEngineScheduleFromHandler(t *testing.T) {
	e, r := newEngRecorder()
	e.Schedule(10, r, 1, nil)
	e.Schedule(10, r, 2, nil)
	e.Schedule(20, r, 5, nil)
	r.then = func(arg int, _ any) {
		switch arg {
		case 1:
			e.After(0, r, 3, nil) // same instant: after the already queued 2
			e.Schedule(15, r, 4, nil)
		case 4:
			e.Schedule(20, r, 6, nil) // same instant as 5, queued later
		}
	}
	e.Run(endOfTime)
	want := []engFired{{10, 1}, {10, 2}, {10, 3}, {15, 4}, {20, 5}, {20, 6}}
	if !slices.Equal(r.got, want) {
		t.Fatalf("got %v, want %v", r.got, want)
	}
}

func TestEngineStopFromHandler(t *testing.T) {
	e, r := newEngRecorder()
	var self, other, later Timer
	var selfStop, otherStop, otherAgain bool
	self = e.Schedule(10, r, 1, nil)
	other = e.Schedule(20, r, 2, nil)
	e.Schedule(30, r, 3, nil)
	r.then = func(arg int, _ any) {
		if arg == 1 {
			selfStop = self.Stop() // being dispatched: too late
			later = e.Schedule(25, r, 4, nil)
			if later.ev == self.ev {
				t.Error("storage of the event being dispatched was reused before it returned")
			}
			otherStop = other.Stop()
			otherAgain = other.Stop()
			later.Stop()
		}
	}
	e.Run(endOfTime)
	if selfStop || !otherStop || otherAgain {
		t.Fatalf("Stop from handler: self=%v other=%v again=%v; want false, true, false",
			selfStop, otherStop, otherAgain)
	}
	if want := []int{1, 3}; !slices.Equal(r.args(), want) {
		t.Fatalf("dispatched %v, want %v", r.args(), want)
	}
}

func TestEngineStopRun(t *testing.T) {
	e, r := newEngRecorder()
	for i := 1; i <= 5; i++ {
		e.Schedule(time.Duration(10*i), r, i, nil)
	}
	r.then = func(arg int, _ any) {
		if arg == 2 {
			e.Stop()
			e.After(0, r, 6, nil) // scheduled before Run returns; stays queued
		}
	}
	e.Run(1000)
	if want := []int{1, 2}; !slices.Equal(r.args(), want) {
		t.Fatalf("Run after Stop dispatched %v, want %v", r.args(), want)
	}
	if e.Now() != 20 {
		t.Fatalf("Now after a stopped Run = %v, want 20 (not until)", e.Now())
	}
	if e.Pending() != 4 {
		t.Fatalf("Pending after stop = %d, want 4", e.Pending())
	}
	r.then = nil
	e.Run(1000) // resumes
	if want := []int{1, 2, 6, 3, 4, 5}; !slices.Equal(r.args(), want) {
		t.Fatalf("resumed Run dispatched %v, want %v", r.args(), want)
	}
	if e.Now() != 1000 {
		t.Fatalf("Now after resumed Run = %v, want 1000", e.Now())
	}
}

func TestEngineCounts(t *testing.T) {
	e, r := newEngRecorder()
	if e.Pending() != 0 || e.Dispatched() != 0 {
		t.Fatalf("new engine: Pending=%d Dispatched=%d", e.Pending(), e.Dispatched())
	}
	var tms []Timer
	for i := range 10 {
		tms = append(tms, e.Schedule(time.Duration(i), r, i, nil))
	}
	tms[3].Stop()
	tms[7].Stop()
	if e.Pending() != 8 {
		t.Fatalf("Pending = %d, want 8", e.Pending())
	}
	e.Run(4) // 0, 1, 2, 4
	if e.Pending() != 4 || e.Dispatched() != 4 {
		t.Fatalf("after Run(4): Pending=%d Dispatched=%d, want 4, 4", e.Pending(), e.Dispatched())
	}
	e.Run(endOfTime)
	if e.Pending() != 0 || e.Dispatched() != 8 {
		t.Fatalf("drained: Pending=%d Dispatched=%d, want 0, 8", e.Pending(), e.Dispatched())
	}
}

func TestEngineReentrantRunPanics(t *testing.T) {
	for _, name := range []string{"Run", "Step"} {
		t.Run(name, func(t *testing.T) {
			e, r := newEngRecorder()
			var recovered any
			r.then = func(int, any) {
				defer func() { recovered = recover() }()
				if name == "Run" {
					e.Run(endOfTime)
				} else {
					e.Step()
				}
			}
			e.Schedule(1, r, 0, nil)
			e.Schedule(2, r, 0, nil)
			e.Run(endOfTime)
			if recovered == nil {
				t.Fatalf("%s from a handler did not panic", name)
			}
			if e.Dispatched() != 2 {
				t.Fatalf("Dispatched = %d, want 2", e.Dispatched())
			}
		})
	}
}

func TestEngineNilHandlerPanics(t *testing.T) {
	e := NewEngine()
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Schedule", func() { e.Schedule(1, nil, 0, nil) }},
		{"After", func() { e.After(1, nil, 0, nil) }},
		{"AfterFunc", func() { e.AfterFunc(1, nil) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with nil did not panic", c.name)
				}
			}()
			c.f()
		}()
	}
	if e.Pending() != 0 {
		t.Fatalf("Pending = %d after rejected schedules", e.Pending())
	}
}

// engNoop is a Handler that does nothing.
type engNoop struct{}

func (engNoop) HandleEvent(int, any) {}

func TestEngineScheduleDispatchAllocs(t *testing.T) {
	e := NewEngine()
	var h engNoop
	var payload int
	f := func() { payload++ }
	// Warm up: grow the heap and the pool past the sizes used below.
	for i := range 1000 {
		e.Schedule(time.Duration(i), h, i, nil)
	}
	e.Run(endOfTime)
	for i := range 1000 {
		e.Schedule(e.Now()+time.Duration(i%17), h, i, nil)
	}
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Schedule+Step", func() {
			e.Schedule(e.Now()+5, h, 1, &payload)
			e.Step()
		}},
		{"After+Stop", func() { e.After(3, h, 2, nil).Stop() }},
		{"AfterFunc+Step", func() {
			e.AfterFunc(5, f)
			e.Step()
		}},
	} {
		if n := testing.AllocsPerRun(10000, c.f); n != 0 {
			t.Errorf("%s allocates %v times per event in the steady state, want 0", c.name, n)
		}
	}
}

// The randomized test drives the engine and a naive reference queue with the
// same seeded script and compares everything observable.

// engModel is what the script needs from an event queue.
type engModel interface {
	now() time.Duration
	schedule(at time.Duration, id int) // id is also the handle
	stop(id int) bool
	step() bool
	run(until time.Duration)
	stopRun()
	pending() int
	dispatched() uint64
	peek() (time.Duration, bool)
}

// engScript is a seeded sequence of operations on a queue. fire is called for
// each dispatched event and may itself schedule and stop events; because it
// draws from the same stream, any divergence in dispatch order changes
// everything after it.
type engScript struct {
	rng *rand.Rand
	q   engModel
	log strings.Builder
	ids int
	// wide spreads times over the whole range of virtual time, so events
	// cross every level of the engine's timing wheel, and stops are
	// frequent, so stopped entries are swept.
	wide bool
}

func (s *engScript) delay() time.Duration {
	// Coarse times produce many ties; some land in the past to test clamping.
	return time.Duration(s.rng.IntN(40)-5) * 25
}

// at returns the time of the next event to schedule.
func (s *engScript) at() time.Duration {
	now := s.q.now()
	if !s.wide {
		return now + s.delay()
	}
	switch x := s.rng.IntN(100); {
	case x < 35:
		return now + s.delay()
	case x < 60:
		// Up to ~2^(8k+12) ns ahead, at nanosecond grain: any wheel level.
		return now + time.Duration(s.rng.Int64N(1<<(8*s.rng.IntN(6)+12)))
	case x < 95:
		// The next few multiples of a power of two: ties that travel through
		// the wheel together, on the edges of its granules and slots.
		return s.edge(now, 1+s.rng.IntN(3))
	case x < 98:
		return endOfTime - time.Duration(s.rng.IntN(3))
	default:
		return time.Duration(s.rng.Int64N(int64(endOfTime)))
	}
}

// edge returns the n-th multiple after now of a random power of two, most
// often the size of one of the engine's granules or wheel slots, or near it.
func (s *engScript) edge(now time.Duration, n int) time.Duration {
	shift := 8 + s.rng.IntN(40)
	if s.rng.IntN(4) != 0 {
		shift = min(granuleBits+wheelBits*s.rng.IntN(4)+s.rng.IntN(3)-1, 50)
	}
	unit := time.Duration(1) << shift
	return (now/unit + time.Duration(n)) * unit
}

// until returns the limit for the next run.
func (s *engScript) until() time.Duration {
	now := s.q.now()
	if !s.wide {
		return now + time.Duration(s.rng.IntN(200))
	}
	switch s.rng.IntN(3) {
	case 0:
		return now + time.Duration(s.rng.IntN(200))
	case 1:
		// Just before an edge, so that short delays cross it.
		return max(now, s.edge(now, 1)-time.Duration(s.rng.IntN(3)*25))
	}
	d := time.Duration(s.rng.Int64N(1 << (8*s.rng.IntN(6) + 12)))
	if now > endOfTime-d {
		return endOfTime
	}
	return now + d
}

func (s *engScript) scheduleOne() {
	id := s.ids
	s.ids++
	at := s.at()
	s.q.schedule(at, id)
	fmt.Fprintf(&s.log, "sched %d@%d\n", id, at)
}

func (s *engScript) stopOne() {
	if s.ids == 0 {
		return
	}
	// Any handle ever issued: pending, dispatched, stopped, or storage reused.
	id := s.rng.IntN(s.ids)
	fmt.Fprintf(&s.log, "stop %d=%v\n", id, s.q.stop(id))
}

func (s *engScript) fire(id int) {
	fmt.Fprintf(&s.log, "fire %d@%d pending=%d\n", id, s.q.now(), s.q.pending())
	switch x := s.rng.IntN(100); {
	case x < 30:
		s.scheduleOne()
	case x < 45:
		s.scheduleOne()
		s.scheduleOne()
	case x < 60:
		s.stopOne()
	case x < 70 && s.wide:
		s.stopOne()
		s.stopOne()
	case x < 62:
		s.q.stopRun()
		fmt.Fprintf(&s.log, "stopRun\n")
	}
}

func (s *engScript) play(ops int) {
	for range ops {
		switch x := s.rng.IntN(100); {
		case x < 45:
			s.scheduleOne()
		case x < 60:
			s.stopOne()
		case x < 90:
			fmt.Fprintf(&s.log, "step=%v\n", s.q.step())
		default:
			until := s.until()
			s.q.run(until)
			fmt.Fprintf(&s.log, "run(%d) now=%d\n", until, s.q.now())
		}
		at, ok := s.q.peek()
		fmt.Fprintf(&s.log, "now=%d pending=%d dispatched=%d peek=%d,%v\n",
			s.q.now(), s.q.pending(), s.q.dispatched(), at, ok)
	}
	s.q.run(endOfTime)
	fmt.Fprintf(&s.log, "end now=%d dispatched=%d pending=%d\n",
		s.q.now(), s.q.dispatched(), s.q.pending())
}

// engineQueue adapts Engine to engModel.
type engineQueue struct {
	e      *Engine
	s      *engScript
	timers []Timer
}

func (q *engineQueue) HandleEvent(id int, _ any) { q.s.fire(id) }

func (q *engineQueue) schedule(at time.Duration, id int) {
	q.timers = append(q.timers, q.e.Schedule(at, q, id, nil))
}

func (q *engineQueue) now() time.Duration          { return q.e.Now() }
func (q *engineQueue) stop(id int) bool            { return q.timers[id].Stop() }
func (q *engineQueue) step() bool                  { return q.e.Step() }
func (q *engineQueue) run(until time.Duration)     { q.e.Run(until) }
func (q *engineQueue) stopRun()                    { q.e.Stop() }
func (q *engineQueue) pending() int                { return q.e.Pending() }
func (q *engineQueue) dispatched() uint64          { return q.e.Dispatched() }
func (q *engineQueue) peek() (time.Duration, bool) { return q.e.Peek() }

// engRefQueue is the obvious implementation: a list of everything ever
// scheduled, with the next event found by sorting the pending ones by
// (time, sequence).
type engRefQueue struct {
	s       *engScript
	t       time.Duration
	n       uint64
	items   []*engRefItem
	stopped bool
}

type engRefItem struct {
	at      time.Duration
	seq     int
	id      int
	pending bool
}

// schedule clamps to now; ids are issued in order, so items[id] is the event.
func (q *engRefQueue) schedule(at time.Duration, id int) {
	q.items = append(q.items, &engRefItem{at: max(at, q.t), seq: len(q.items), id: id, pending: true})
}

func (q *engRefQueue) stop(id int) bool {
	it := q.items[id]
	was := it.pending
	it.pending = false
	return was
}

func (q *engRefQueue) now() time.Duration { return q.t }
func (q *engRefQueue) dispatched() uint64 { return q.n }
func (q *engRefQueue) stopRun()           { q.stopped = true }

func (q *engRefQueue) sorted() []*engRefItem {
	var p []*engRefItem
	for _, it := range q.items {
		if it.pending {
			p = append(p, it)
		}
	}
	slices.SortFunc(p, func(a, b *engRefItem) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return p
}

func (q *engRefQueue) pending() int { return len(q.sorted()) }

func (q *engRefQueue) peek() (time.Duration, bool) {
	p := q.sorted()
	if len(p) == 0 {
		return 0, false
	}
	return p[0].at, true
}

func (q *engRefQueue) step() bool {
	p := q.sorted()
	if len(p) == 0 {
		return false
	}
	p[0].pending = false
	q.t = p[0].at
	q.n++
	q.s.fire(p[0].id)
	return true
}

func (q *engRefQueue) run(until time.Duration) {
	q.stopped = false
	for !q.stopped {
		at, ok := q.peek()
		if !ok || at > until {
			break
		}
		q.step()
	}
	if !q.stopped && q.t < until {
		q.t = until
	}
}

func TestEngineRandomizedAgainstReference(t *testing.T) {
	testEngineRandomized(t, false, 30)
}

// TestEngineRandomizedWideAgainstReference is the randomized test with times
// spread over all of virtual time, frequent stops, and the engine sweeping
// stopped entries early, so that every path of the timing wheel is taken.
func TestEngineRandomizedWideAgainstReference(t *testing.T) {
	testEngineRandomized(t, true, 60)
}

func testEngineRandomized(t *testing.T, wide bool, seeds uint64) {
	for seed := uint64(1); seed <= seeds; seed++ {
		ref := &engScript{rng: rand.New(rand.NewPCG(seed, 0x5eed)), wide: wide}
		ref.q = &engRefQueue{s: ref}
		ref.play(1500)

		eng := &engScript{rng: rand.New(rand.NewPCG(seed, 0x5eed)), wide: wide}
		e := NewEngine()
		if wide {
			e.purgeAt = 1 + int(seed%16)
		}
		eng.q = &engineQueue{e: e, s: eng}
		eng.play(1500)

		if got, want := eng.log.String(), ref.log.String(); got != want {
			g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
			for i := range min(len(g), len(w)) {
				if g[i] != w[i] {
					t.Fatalf("seed %d: engine diverges from reference at line %d:\n got %q\nwant %q",
						seed, i+1, g[i], w[i])
				}
			}
			t.Fatalf("seed %d: engine log has %d lines, reference %d", seed, len(g), len(w))
		}
	}
}

// TestEngineTiesAcrossGranules checks FIFO order among events due at the
// first instant of a granule or wheel slot, when the earlier of them waited in
// the wheel and the later one is scheduled while the granule before is
// current.
func TestEngineTiesAcrossGranules(t *testing.T) {
	for l := range wheelLevels {
		g := time.Duration(1) << (granuleBits + wheelBits*l)
		for _, edge := range []time.Duration{2 * g, 3 * g, 5 * g} {
			if edge > endOfTime-1 || edge <= 0 {
				continue
			}
			e, r := newEngRecorder()
			r.then = func(arg int, _ any) {
				if arg == 0 {
					e.Schedule(edge, r, 2, nil)
				}
			}
			e.Schedule(edge, r, 1, nil)
			e.Schedule(edge-1, r, 0, nil)
			e.Run(endOfTime)
			if got := r.args(); !slices.Equal(got, []int{0, 1, 2}) {
				t.Errorf("level %d, edge %d: dispatched %v, want [0 1 2]", l, edge, got)
			}
		}
	}
}

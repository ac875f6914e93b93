package sim

import (
	"math"
	"math/bits"
	"time"
)

// Epoch is virtual time zero: a fixed UTC instant. Engine.Time reports
// Epoch plus the virtual time elapsed, so traces never depend on the wall clock.
var Epoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// endOfTime is the latest virtual time an event can be scheduled at; After and
// AfterFunc saturate to it instead of overflowing into the past.
const endOfTime = time.Duration(math.MaxInt64)

// Handler receives dispatched events. arg and data are the values given to
// Engine.Schedule or Engine.After.
//
// A single Handler (a node, a link, a NAT box) usually serves many events and
// tells them apart by arg; data carries a payload. Passing a pointer or nil
// as data keeps scheduling allocation-free.
type Handler interface {
	HandleEvent(arg int, data any)
}

// funcHandler dispatches AfterFunc events: the callback is stored in the
// event's data field. A func value is pointer-shaped, so storing it in an
// interface does not allocate, and dispatch needs no wrapping closure.
type funcHandler struct{}

func (funcHandler) HandleEvent(_ int, data any) { data.(func())() }

// queuedEvent is the pooled storage behind one scheduled event. It is 64
// bytes, one cache line. The ordering key (time, sequence) lives in the heap
// entry, not here, so comparisons never dereference an event.
type queuedEvent struct {
	h    Handler
	data any
	arg  int
	// idx is the event's position in the heap, or -1 when it is not queued
	// (being dispatched, or free).
	idx int
	// gen counts how often this storage has been released; a Timer whose
	// generation differs refers to an earlier use and is inert.
	gen uint64
	eng *Engine
}

// heapEntry is one heap slot: the ordering key inline, so sifting compares
// adjacent memory, and the event it stands for.
type heapEntry struct {
	at  time.Duration
	seq uint64
	ev  *queuedEvent
}

// before reports whether a is dispatched before b: earlier time first, then
// lower insertion sequence (FIFO among equal times).
func (a *heapEntry) before(b *heapEntry) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// keyLess is before without branches, on bare keys: 1 if (at1, seq1) comes
// before (at2, seq2), else 0. It compares each key as one unsigned 128-bit
// number, which orders like before because times are never negative: Now
// starts at 0 and never decreases, and schedule clamps every time to at least
// Now.
func keyLess(at1, seq1, at2, seq2 uint64) uint64 {
	_, borrow := bits.Sub64(seq1, seq2, 0)
	_, borrow = bits.Sub64(at1, at2, borrow)
	return borrow
}

// keyMin returns the earlier of two keys, and 1 if that is the second, without
// branches: which of two children is earlier is a coin toss the branch
// predictor would lose.
func keyMin(at1, seq1, at2, seq2 uint64) (at, seq, second uint64) {
	second = keyLess(at2, seq2, at1, seq1)
	mask := -second
	return at1 ^ ((at1 ^ at2) & mask), seq1 ^ ((seq1 ^ seq2) & mask), second
}

// heapArity is the heap's branching factor. A 4-ary heap is half as deep as a
// binary one and its four children (96 bytes) span two or three cache lines.
// down unrolls its common case for exactly four children.
const heapArity = 4

// down's unrolled tournament assumes heapArity is 4; this fails to compile
// otherwise.
var _ [1]struct{} = [heapArity - 3]struct{}{}

// maxEventSlab bounds how many events are allocated at once when the pool is
// empty.
const maxEventSlab = 4096

// Engine is a discrete-event scheduler over virtual time. Events are
// dispatched in order of (virtual time, insertion sequence): events due at the
// same instant run in the order they were scheduled, so a run is a pure
// function of its inputs.
//
// Events live in a 4-ary min-heap of pooled event structs. Scheduling and
// dispatching allocate nothing once the pool has grown to the largest queue
// seen; Timer.Stop removes its event from the heap at once, so cancelled
// timers never accumulate.
//
// Handlers may schedule new events and stop pending ones (including
// themselves) while being dispatched; they must not call Run or Step.
//
// Concurrency: an Engine is not safe for concurrent use. One goroutine drives
// it and every handler runs on that goroutine, inside Run or Step.
type Engine struct {
	now        time.Duration
	seq        uint64
	heap       []heapEntry
	free       []*queuedEvent
	slab       int
	dispatched uint64
	stopped    bool
	running    bool
}

// NewEngine returns an engine at virtual time zero with an empty queue.
func NewEngine() *Engine {
	return &Engine{
		heap: make([]heapEntry, 0, 64),
		slab: 32,
	}
}

// Now returns the virtual time elapsed since Epoch.
func (e *Engine) Now() time.Duration { return e.now }

// Time returns the current virtual time as an instant: Epoch.Add(e.Now()).
func (e *Engine) Time() time.Time { return Epoch.Add(e.now) }

// Dispatched returns the number of events dispatched so far.
func (e *Engine) Dispatched() uint64 { return e.dispatched }

// Pending returns the number of events queued. Stopped events are removed
// from the queue at once and are not counted; neither is the event being
// dispatched.
func (e *Engine) Pending() int { return len(e.heap) }

// Peek returns the time of the next event, and false if the queue is empty.
func (e *Engine) Peek() (time.Duration, bool) {
	if len(e.heap) == 0 {
		return 0, false
	}
	return e.heap[0].at, true
}

// Schedule arranges for h.HandleEvent(arg, data) to be called at virtual time
// at. A time in the past is clamped to Now: the engine never goes back in
// time. Events due at the same time are dispatched in the order they were
// scheduled, including events scheduled by a handler for the current instant,
// which run after those already queued for it.
//
// Schedule panics if h is nil.
func (e *Engine) Schedule(at time.Duration, h Handler, arg int, data any) Timer {
	if h == nil {
		panic("sim: Schedule with nil Handler")
	}
	return e.schedule(at, h, arg, data)
}

// After is Schedule(e.Now()+d, h, arg, data); a negative d means now, and a
// d too large to represent saturates at the end of virtual time.
func (e *Engine) After(d time.Duration, h Handler, arg int, data any) Timer {
	if h == nil {
		panic("sim: After with nil Handler")
	}
	return e.schedule(e.deadline(d), h, arg, data)
}

// AfterFunc arranges for f to be called at e.Now()+d; a negative d is treated
// as 0. It is the engine's form of a protocol timer. AfterFunc stores f as
// given and allocates nothing beyond what the caller's closure costs.
//
// AfterFunc panics if f is nil.
func (e *Engine) AfterFunc(d time.Duration, f func()) Timer {
	if f == nil {
		panic("sim: AfterFunc with nil func")
	}
	return e.schedule(e.deadline(d), funcHandler{}, 0, f)
}

// deadline returns e.now+d, saturating instead of overflowing.
func (e *Engine) deadline(d time.Duration) time.Duration {
	at := e.now + d
	if d > 0 && at < e.now {
		return endOfTime
	}
	return at
}

func (e *Engine) schedule(at time.Duration, h Handler, arg int, data any) Timer {
	if at < e.now {
		at = e.now
	}
	if len(e.free) == 0 {
		e.grow()
	}
	ev := e.free[len(e.free)-1]
	e.free = e.free[:len(e.free)-1]
	ev.h, ev.arg, ev.data = h, arg, data
	e.seq++
	e.heap = append(e.heap, heapEntry{})
	e.up(len(e.heap)-1, heapEntry{at: at, seq: e.seq, ev: ev})
	return Timer{ev: ev, gen: ev.gen}
}

// grow refills the empty free list with a slab of fresh events. Slabs double
// up to maxEventSlab, so few allocations build the pool for the largest queue
// and the events of one slab sit together in memory.
func (e *Engine) grow() {
	n := e.slab
	if n < maxEventSlab {
		e.slab *= 2
	}
	evs := make([]queuedEvent, n)
	for i := n - 1; i >= 0; i-- {
		evs[i].idx = -1
		evs[i].eng = e
		e.free = append(e.free, &evs[i])
	}
}

// release returns ev's storage to the pool. Bumping the generation makes
// every outstanding Timer for it inert; clearing the references lets the
// garbage collector reclaim what the event carried.
func (e *Engine) release(ev *queuedEvent) {
	ev.gen++
	ev.h, ev.data = nil, nil
	e.free = append(e.free, ev)
}

// Run dispatches events in order until the queue is empty, Stop is called, or
// the next event is due after until. Events due exactly at until are
// dispatched. Unless Stop ended it, Run then advances Now to until (if Now is
// earlier), whether the queue emptied or holds only later events; after a
// Stop, Now is the time of the last event dispatched.
//
// Run panics if called from an event handler.
func (e *Engine) Run(until time.Duration) {
	e.enter()
	defer e.exit()
	e.stopped = false
	for !e.stopped && len(e.heap) > 0 && e.heap[0].at <= until {
		e.dispatch()
	}
	if !e.stopped && e.now < until {
		e.now = until
	}
}

// Step dispatches the next event, advancing Now to its time. It reports false,
// doing nothing, if the queue is empty.
//
// Step panics if called from an event handler.
func (e *Engine) Step() bool {
	e.enter()
	defer e.exit()
	if len(e.heap) == 0 {
		return false
	}
	e.dispatch()
	return true
}

// Stop makes the current Run return once the event being dispatched returns,
// leaving later events queued; a following Run resumes with them. Stop has no
// effect outside Run.
func (e *Engine) Stop() { e.stopped = true }

func (e *Engine) enter() {
	if e.running {
		panic("sim: Run or Step called from an event handler")
	}
	e.running = true
}

func (e *Engine) exit() { e.running = false }

// dispatch pops the earliest event and runs its handler. The event's storage
// is released only after the handler returns, so a Timer for it stays inert
// (Stop reports false) during its own dispatch and cannot reach a reuse.
func (e *Engine) dispatch() {
	top := e.heap[0]
	ev := top.ev
	ev.idx = -1
	n := len(e.heap) - 1
	last := e.heap[n]
	e.heap = e.heap[:n]
	if n > 0 {
		e.down(0, last)
	}
	e.now = top.at
	e.dispatched++
	ev.h.HandleEvent(ev.arg, ev.data)
	e.release(ev)
}

// remove takes the event at heap index i out of the queue.
func (e *Engine) remove(i int) {
	e.heap[i].ev.idx = -1
	n := len(e.heap) - 1
	last := e.heap[n]
	e.heap = e.heap[:n]
	if i == n {
		return
	}
	if i > 0 && last.before(&e.heap[(i-1)/heapArity]) {
		e.up(i, last)
	} else {
		e.down(i, last)
	}
}

// up places x at the hole i, moving it towards the root past later parents.
func (e *Engine) up(i int, x heapEntry) {
	h := e.heap
	for i > 0 {
		p := (i - 1) / heapArity
		if !x.before(&h[p]) {
			break
		}
		h[i] = h[p]
		h[i].ev.idx = i
		i = p
	}
	h[i] = x
	x.ev.idx = i
}

// down places x at the hole i, moving it towards the leaves past earlier
// children.
func (e *Engine) down(i int, x heapEntry) {
	h := e.heap
	n := len(h)
	xat, xseq := uint64(x.at), x.seq
	for {
		c := heapArity*i + 1
		if c >= n {
			break
		}
		m := c
		if c+heapArity <= n {
			// All four children exist: the common case. A branch-free
			// tournament that carries the winning keys along, so the
			// next comparison waits on no reload.
			k := h[c : c+4 : c+4]
			at, seq, b01 := keyMin(uint64(k[0].at), k[0].seq, uint64(k[1].at), k[1].seq)
			at23, seq23, b23 := keyMin(uint64(k[2].at), k[2].seq, uint64(k[3].at), k[3].seq)
			at, seq, b := keyMin(at, seq, at23, seq23)
			m = c + int(b01) + int(b)*(2+int(b23)-int(b01))
			if keyLess(xat, xseq, at, seq) == 1 {
				break
			}
		} else {
			for j := c + 1; j < n; j++ {
				if h[j].before(&h[m]) {
					m = j
				}
			}
			if !h[m].before(&x) {
				break
			}
		}
		h[i] = h[m]
		h[i].ev.idx = i
		i = m
	}
	h[i] = x
	x.ev.idx = i
}

// Timer is a handle to a scheduled event, returned by Engine.Schedule, After
// and AfterFunc. It is a small value: copy it freely. Its zero value is valid
// and refers to no event. Timer satisfies core.Timer.
//
// A Timer holds the event's pooled storage and the generation that storage
// had when the event was scheduled; once the event is dispatched or stopped
// the storage may be reused, and the generation check keeps an old Timer from
// touching the new event.
//
// Concurrency: like its Engine, a Timer must only be used on the goroutine
// that drives the engine.
type Timer struct {
	ev  *queuedEvent
	gen uint64
}

// Stop cancels the event if it is still queued, removing it from the queue.
// It reports whether this call cancelled it: false for the zero Timer, for an
// event already dispatched or being dispatched, and for one already stopped.
func (t Timer) Stop() bool {
	ev := t.ev
	if ev == nil || ev.gen != t.gen || ev.idx < 0 {
		return false
	}
	e := ev.eng
	e.remove(ev.idx)
	e.release(ev)
	return true
}

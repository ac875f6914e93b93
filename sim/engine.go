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
// bytes, one cache line. The ordering key (time, sequence) lives in the queue
// entry, not here, so ordering and moving entries never dereference an event.
type queuedEvent struct {
	h    Handler
	data any
	arg  int
	// seq is the insertion sequence of the event while it is queued, and 0
	// when it is not (being dispatched, stopped, or free). A queue entry is
	// live only while its sequence matches: see queueEntry.live.
	seq uint64
	// gen counts how often this storage has been released; a Timer whose
	// generation differs refers to an earlier use and is inert.
	gen uint64
	eng *Engine
}

// queueEntry is one entry of the queue, in the heap or in a wheel slot: the
// ordering key inline, so sifting compares adjacent memory, and the event it
// stands for.
type queueEntry struct {
	at  time.Duration
	seq uint64
	ev  *queuedEvent
}

// before reports whether a is dispatched before b: earlier time first, then
// lower insertion sequence (FIFO among equal times).
func (a *queueEntry) before(b *queueEntry) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// live reports whether the entry still stands for a pending event. Stopping
// an event leaves its entry in place (lazy deletion); the entry is dead from
// then on, because the event's sequence no longer matches, even after its
// storage has been reused: sequences are never reused.
func (a *queueEntry) live() bool { return a.ev.seq == a.seq }

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

// The wheel: events due at or after the end of the heap's granule wait in a
// hierarchical timing wheel keyed on the bits of their time, radix-heap style.
// Level l holds the events whose time first differs from base in bit group l
// (bits granuleBits+wheelBits*l and up, wheelBits of them), in the slot named
// by that group; every such slot lies after base's own slot on the level.
// Slots are unordered: an entry only moves (to a lower level, or into the
// heap) when base reaches its slot, and the heap orders it by (time,
// sequence) then. An event scheduled d after base therefore moves at most
// about log256(d/granule)+1 times, each move a sequential copy.
const (
	// granuleBits sets the heap's granule: 2^granuleBits ns of virtual time.
	granuleBits = 18
	wheelBits   = 8
	wheelSlots  = 1 << wheelBits
	wheelWords  = wheelSlots / 64
	wheelLevels = (64 - granuleBits + wheelBits - 1) / wheelBits
)

// wheelBlockLen is the number of entries in a wheelBlock (3 KiB of them).
const wheelBlockLen = 128

// wheelBlock is a fixed-size run of a wheel slot's entries. Slots are chains
// of blocks drawn from a pool shared by all slots, so appending never copies
// and the wheel's memory follows the number of entries, not of slots.
type wheelBlock struct {
	next *wheelBlock
	n    int
	e    [wheelBlockLen]queueEntry
}

// wheelSlot is the chain of blocks holding one slot's entries, in the order
// they were filed; both are nil when the slot is empty.
type wheelSlot struct {
	head, tail *wheelBlock
}

// purgeMin is how many stopped entries may linger in the queue, whatever
// the number of pending events, before they are swept out.
const purgeMin = 1024

// maxEventSlab bounds how many events are allocated at once when the pool is
// empty.
const maxEventSlab = 4096

// Engine is a discrete-event scheduler over virtual time. Events are
// dispatched in order of (virtual time, insertion sequence): events due at the
// same instant run in the order they were scheduled, so a run is a pure
// function of its inputs.
//
// Events are pooled structs. The queue is two-tier: events due within the
// current granule of virtual time (2^granuleBits ns, starting at base) sit in
// a small 4-ary min-heap ordered by (time, sequence); later events wait,
// unordered, in a hierarchical timing wheel and move into the heap when their
// granule becomes current. The heap stays small, so the hot path works in
// cache even with hundreds of thousands of events pending. Scheduling and
// dispatching allocate nothing once the pool and the wheel's slots have grown
// to the largest queue seen.
//
// Timer.Stop cancels its event at once (it is no longer pending, counted, or
// dispatched) but leaves its queue entry to be dropped when it reaches the
// top of the heap; when stopped entries outnumber pending events (and
// purgeMin), they are swept out, so they never hold more than about as much
// memory as the pending events.
//
// Handlers may schedule new events and stop pending ones (including
// themselves) while being dispatched; they must not call Run or Step.
//
// Concurrency: an Engine is not safe for concurrent use. One goroutine drives
// it and every handler runs on that goroutine, inside Run or Step.
type Engine struct {
	now  time.Duration
	seq  uint64
	heap []queueEntry
	// base is the start of the heap's granule; every entry in the wheel is
	// due at or after limit, the granule's end. Entries due before limit,
	// even long before base, go to the heap. limit only grows, and entries
	// leave the wheel before it passes them, so all entries due at one
	// instant are in the same tier and the heap alone decides their order.
	base, limit uint64
	// live counts pending events; dead counts the entries of stopped events
	// still in the heap or the wheel.
	live, dead int
	// purgeAt is the number of stopped entries that, if they also outnumber
	// the pending events, triggers a sweep: purgeMin (tests lower it).
	purgeAt int
	// levels has bit l set if wheel level l has an entry; used[l] has a bit
	// for each nonempty slot of level l.
	levels uint64
	used   [wheelLevels][wheelWords]uint64
	slots  [wheelLevels][wheelSlots]wheelSlot
	// freeBlocks lists the wheel's unused blocks, linked by next.
	freeBlocks *wheelBlock
	free       []*queuedEvent
	slab       int
	dispatched uint64
	stopped    bool
	running    bool
}

// NewEngine returns an engine at virtual time zero with an empty queue.
func NewEngine() *Engine {
	return &Engine{
		heap:    make([]queueEntry, 0, 64),
		limit:   1 << granuleBits,
		purgeAt: purgeMin,
		slab:    32,
	}
}

// Now returns the virtual time elapsed since Epoch.
func (e *Engine) Now() time.Duration { return e.now }

// Time returns the current virtual time as an instant: Epoch.Add(e.Now()).
func (e *Engine) Time() time.Time { return Epoch.Add(e.now) }

// Dispatched returns the number of events dispatched so far.
func (e *Engine) Dispatched() uint64 { return e.dispatched }

// Pending returns the number of events queued. Stopped events are not
// counted, nor is the event being dispatched.
func (e *Engine) Pending() int { return e.live }

// Peek returns the time of the next event, and false if the queue is empty.
func (e *Engine) Peek() (time.Duration, bool) {
	if !e.top() {
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
	ev.seq = e.seq
	e.live++
	x := queueEntry{at: at, seq: e.seq, ev: ev}
	if uint64(at) < e.limit {
		e.heap = append(e.heap, queueEntry{})
		e.up(len(e.heap)-1, x)
	} else {
		e.toWheel(x)
	}
	return Timer{ev: ev, gen: ev.gen}
}

// toWheel files x, due at or after limit, in the wheel.
func (e *Engine) toWheel(x queueEntry) {
	t := uint64(x.at)
	l := (bits.Len64((t^e.base)>>granuleBits) - 1) / wheelBits
	s := t >> (granuleBits + wheelBits*l) & (wheelSlots - 1)
	slot := &e.slots[l][s]
	b := slot.tail
	if b == nil || b.n == wheelBlockLen {
		nb := e.newBlock()
		if b == nil {
			slot.head = nb
			e.used[l][s/64] |= 1 << (s % 64)
			e.levels |= 1 << l
		} else {
			b.next = nb
		}
		slot.tail = nb
		b = nb
	}
	b.e[b.n] = x
	b.n++
}

// newBlock returns an empty block from the pool, or a new one.
func (e *Engine) newBlock() *wheelBlock {
	b := e.freeBlocks
	if b == nil {
		return new(wheelBlock)
	}
	e.freeBlocks = b.next
	b.next = nil
	return b
}

// freeBlock returns b, emptied, to the pool.
func (e *Engine) freeBlock(b *wheelBlock) {
	b.n = 0
	b.next = e.freeBlocks
	e.freeBlocks = b
}

// refill advances base to the first nonempty slot of the lowest nonempty
// wheel level and spreads that slot's entries over the heap (those due in
// the new granule) and the lower levels. It must be called only with the
// heap empty and the wheel not. The heap may still be empty afterwards.
//
// Every entry on a lower level is due before every entry on a higher one
// (they agree with base on more leading bits, and base is earlier), and slots
// on a level are in time order, so the slot taken holds the earliest entries.
func (e *Engine) refill() {
	l := bits.TrailingZeros64(e.levels)
	used := &e.used[l]
	w := 0
	for used[w] == 0 {
		w++
	}
	s := w*64 + bits.TrailingZeros64(used[w])
	used[w] &^= 1 << (s % 64)
	if *used == [wheelWords]uint64{} {
		e.levels &^= 1 << l
	}
	shift := granuleBits + wheelBits*l
	// Keep base's bits above level l, put s in its group, clear the rest.
	// A shift of 64 or more yields 0, which covers the top level.
	e.base = e.base&^(1<<(shift+wheelBits)-1) | uint64(s)<<shift
	e.limit = e.base + 1<<granuleBits
	b := e.slots[l][s].head
	e.slots[l][s] = wheelSlot{}
	for b != nil {
		if l == 0 {
			// The whole slot is the new granule.
			e.heap = append(e.heap, b.e[:b.n]...)
		} else {
			for _, x := range b.e[:b.n] {
				if uint64(x.at) < e.limit {
					e.heap = append(e.heap, x)
				} else {
					e.toWheel(x)
				}
			}
		}
		next := b.next
		e.freeBlock(b)
		b = next
	}
	e.heapify()
}

// heapify restores the heap order over the whole heap.
func (e *Engine) heapify() {
	if len(e.heap) < 2 {
		return
	}
	for i := (len(e.heap) - 2) / heapArity; i >= 0; i-- {
		e.down(i, e.heap[i])
	}
}

// top makes heap[0] the next pending event, dropping stopped entries and
// refilling the heap from the wheel as needed, and reports false if no event
// is pending.
func (e *Engine) top() bool {
	for {
		if len(e.heap) == 0 {
			if e.levels == 0 {
				return false
			}
			e.refill()
			continue
		}
		if e.heap[0].live() {
			return true
		}
		e.pop()
		e.dead--
	}
}

// pop removes heap[0].
func (e *Engine) pop() {
	n := len(e.heap) - 1
	last := e.heap[n]
	e.heap = e.heap[:n]
	if n > 0 {
		e.down(0, last)
	}
}

// purge sweeps the entries of stopped events out of the heap and the wheel.
func (e *Engine) purge() {
	h := e.heap[:0]
	for _, x := range e.heap {
		if x.live() {
			h = append(h, x)
		}
	}
	clear(e.heap[len(h):])
	e.heap = h
	e.heapify()
	for l := range wheelLevels {
		for w, word := range e.used[l] {
			for word != 0 {
				s := w*64 + bits.TrailingZeros64(word)
				word &= word - 1
				if !e.purgeSlot(&e.slots[l][s]) {
					e.used[l][w] &^= 1 << (s % 64)
				}
			}
		}
		if e.used[l] == [wheelWords]uint64{} {
			e.levels &^= 1 << l
		}
	}
	e.dead = 0
}

// purgeSlot compacts the live entries of a nonempty slot to the front of its
// chain and frees the blocks left over. It reports whether any remain.
func (e *Engine) purgeSlot(slot *wheelSlot) bool {
	wb, wi := slot.head, 0
	for rb := slot.head; rb != nil; rb = rb.next {
		for _, x := range rb.e[:rb.n] {
			if !x.live() {
				continue
			}
			if wi == wheelBlockLen {
				wb, wi = wb.next, 0
			}
			wb.e[wi] = x
			wi++
		}
	}
	rest := wb.next
	if wi == 0 {
		rest = slot.head
		*slot = wheelSlot{}
	} else {
		wb.n = wi
		wb.next = nil
		slot.tail = wb
	}
	for rest != nil {
		next := rest.next
		e.freeBlock(rest)
		rest = next
	}
	return wi > 0
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
	for !e.stopped && e.top() && e.heap[0].at <= until {
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
	if !e.top() {
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

// dispatch pops the earliest event, which top has found, and runs its
// handler. The event's storage is released only after the handler returns,
// so a Timer for it stays inert (Stop reports false) during its own dispatch
// and cannot reach a reuse.
func (e *Engine) dispatch() {
	top := e.heap[0]
	ev := top.ev
	ev.seq = 0
	e.live--
	e.pop()
	e.now = top.at
	e.dispatched++
	ev.h.HandleEvent(ev.arg, ev.data)
	e.release(ev)
}

// up places x at the hole i, moving it towards the root past later parents.
func (e *Engine) up(i int, x queueEntry) {
	h := e.heap
	for i > 0 {
		p := (i - 1) / heapArity
		if !x.before(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
}

// down places x at the hole i, moving it towards the leaves past earlier
// children.
func (e *Engine) down(i int, x queueEntry) {
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
		i = m
	}
	h[i] = x
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

// Stop cancels the event if it is still queued: it will not be dispatched
// and no longer counts as pending. It reports whether this call cancelled it:
// false for the zero Timer, for an event already dispatched or being
// dispatched, and for one already stopped.
func (t Timer) Stop() bool {
	ev := t.ev
	if ev == nil || ev.gen != t.gen || ev.seq == 0 {
		return false
	}
	e := ev.eng
	ev.seq = 0
	e.release(ev)
	e.live--
	e.dead++
	if e.dead > e.live && e.dead >= e.purgeAt {
		e.purge()
	}
	return true
}

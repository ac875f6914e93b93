package gossip

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/dchat/network/core/wire"
)

// entry is a node's hold on an accepted message: the immutable record
// (shared with other nodes through Bodies, or its own) and the node's
// mutable state beside it.
type entry struct {
	msg *record
	// at is when the node accepted (or published) the message, in Unix
	// nanoseconds.
	at int64
	// holders are peers known to have the message: they sent us a copy or
	// announced it. Nothing is pushed or announced to them. nil: none
	// known, or the entry is cold (most of an entry's life), which then
	// takes 32 bytes. The set and its keys are one object (holderBlock),
	// replaced by a larger one as the set grows.
	holders *holderSet
	// tag is the first 4 bytes of the ID (idTag), kept here so that an
	// index probe compares them before following msg.
	tag uint32
	// ttl and hopCount are the TTL and hop count to send on.
	ttl, hopCount uint8
	// cold: the entry is older than the announce horizon and kept only to
	// serve repair; its holders are dropped and no longer tracked.
	cold bool
}

// idTag returns the part of an ID an entry keeps beside its record
// pointer.
func idTag(id *ID) uint32 { return binary.LittleEndian.Uint32(id[:4]) }

// newEntry returns an entry for msg (its tag set), with no holders yet.
func newEntry(msg *record, at int64, ttl, hopCount uint8) *entry {
	return &entry{msg: msg, at: at, tag: idTag(&msg.id), ttl: ttl, hopCount: hopCount}
}

// hops returns how many hops the node's own copy travelled (0 at the
// publisher).
func (e *entry) hops() int { return int(e.hopCount) - 1 }

// live reports whether the message may travel further.
func (e *entry) live() bool { return e.ttl > 0 }

func (e *entry) addHolder(a netip.AddrPort) {
	if e.cold {
		return
	}
	h := e.holders
	if h == nil {
		h = newHolderBlock(holderSetCap)
		e.holders = h
	}
	if g := h.addGrowing(a); g != h {
		e.holders = g
	}
}

// packet returns the message as the node sends it on.
func (e *entry) packet() []byte {
	r := e.msg
	m := wire.Gossip{
		ID: r.id, TTL: e.ttl, Hops: e.hopCount, Sender: r.sender, Seq: r.seq, Time: r.time, Sig: r.sig,
		Payload: r.payload,
	}
	return m.AppendPacket(make([]byte, 0, m.PacketLen()))
}

// history keeps accepted messages in acceptance order for window (the
// longer of HistoryWindow and the repair window), within a byte and a
// count budget, with an index by ID. Entries older than hot (HistoryWindow)
// turn cold: their holder lists are dropped, as nothing announces or pushes
// them any more; they only serve IWANTs and digests. Lookups use the map;
// every ordered walk uses the slice.
//
// Concurrency: not safe for concurrent use.
type history struct {
	window   time.Duration
	hot      time.Duration
	maxBytes int
	maxCount int
	byID     entryIndex
	fifo     []*entry // fifo[head:] are live, oldest first
	head     int
	cold     int // fifo[head:cold] are cold
	// due is when prune next has work, in Unix nanoseconds: the sooner
	// of fifo[head] leaving the window and fifo[cold] turning cold
	// (checkNow: check now). Before it prune returns without reading
	// entries, which are cold in the CPU cache by then.
	due    int64
	bytes  int
	bodies *Bodies // nil: each entry owns its record
}

// checkNow is a due before any time: prune looks at once.
const checkNow = math.MinInt64

// keep returns the record to store for m (its ID checked): the shared one
// from bodies, or one of its own.
func (h *history) keep(m *wire.Gossip) *record {
	if h.bodies != nil {
		return h.bodies.intern(m)
	}
	return newRecord(m)
}

func newHistory(hot, window time.Duration, maxBytes, maxCount int) *history {
	return &history{window: max(hot, window), hot: hot, maxBytes: maxBytes, maxCount: maxCount, byID: newEntryIndex(), due: checkNow}
}

func (h *history) get(id ID) *entry { return h.byID.get(id) }

func (h *history) add(now time.Time, e *entry) {
	h.prune(now)
	h.byID.set(e)
	n := len(h.fifo)
	h.fifo = append(h.fifo, e)
	h.bytes += len(e.msg.payload)
	evicted := false
	for (h.bytes > h.maxBytes || h.len() > h.maxCount) && h.head < len(h.fifo)-1 {
		h.evict()
		evicted = true
	}
	if evicted {
		h.compact()
	}
	if evicted || h.head == n || h.cold == n {
		// fifo[head] or fifo[cold] is another entry now.
		h.setDue()
	}
}

// prune drops messages older than the window and turns cold those older
// than hot.
func (h *history) prune(now time.Time) {
	t := now.UnixNano()
	if t < h.due {
		return // neither loop below would run
	}
	for h.head < len(h.fifo) && t-h.fifo[h.head].at >= int64(h.window) {
		h.evict()
	}
	for h.cold < len(h.fifo) && t-h.fifo[h.cold].at >= int64(h.hot) {
		e := h.fifo[h.cold]
		e.cold = true
		e.holders = nil
		h.cold++
	}
	h.compact()
	h.setDue()
}

// setDue sets due from the entries prune looks at first. An entry leaves
// the window once now.Sub(at) >= window, that is once now is not before
// at + window (likewise for hot); with no live entry due is checkNow, and
// prune's loops stop at once.
func (h *history) setDue() {
	h.due = checkNow
	if h.head < len(h.fifo) {
		h.due = h.fifo[h.head].at + int64(h.window)
	}
	if h.cold < len(h.fifo) { // so head < len(fifo) too: cold >= head
		if t := h.fifo[h.cold].at + int64(h.hot); t < h.due {
			h.due = t
		}
	}
}

// compact moves the live entries to the front of fifo once the dropped
// ones take more than half of it.
func (h *history) compact() {
	if h.head > 64 && h.head*2 > len(h.fifo) {
		n := copy(h.fifo, h.fifo[h.head:])
		clear(h.fifo[n:])
		h.fifo = h.fifo[:n]
		h.cold -= h.head
		h.head = 0
	}
}

func (h *history) evict() {
	e := h.fifo[h.head]
	h.fifo[h.head] = nil
	h.head++
	h.cold = max(h.cold, h.head)
	h.bytes -= len(e.msg.payload)
	h.byID.remove(e)
	if h.bodies != nil {
		h.bodies.release(e.msg)
	}
}

// newest calls f for live entries, newest first, until f returns false.
func (h *history) newest(f func(*entry) bool) {
	for i := len(h.fifo) - 1; i >= h.head; i-- {
		if !f(h.fifo[i]) {
			return
		}
	}
}

func (h *history) len() int { return len(h.fifo) - h.head }

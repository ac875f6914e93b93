package gossip

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// entry is an accepted message kept for forwarding, announcing and
// serving IWANTs.
type entry struct {
	msg wire.Gossip // Payload owned; TTL and Hops are the values to send on
	id  ID
	// origin is the message's sender.
	origin identity.PeerID
	// at is when the node accepted (or published) the message.
	at time.Time
	// holders are peers known to have the message: they sent us a copy or
	// announced it. Nothing is pushed or announced to them.
	holders holderSet
	// cold: the entry is older than the announce horizon and kept only to
	// serve repair; its holders are dropped and no longer tracked.
	cold bool
}

// hops returns how many hops the node's own copy travelled (0 at the
// publisher).
func (e *entry) hops() int { return int(e.msg.Hops) - 1 }

// live reports whether the message may travel further.
func (e *entry) live() bool { return e.msg.TTL > 0 }

func (e *entry) addHolder(a netip.AddrPort) {
	if !e.cold {
		e.holders.add(a)
	}
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
	byID     map[ID]*entry
	fifo     []*entry // fifo[head:] are live, oldest first
	head     int
	cold     int // fifo[head:cold] are cold
	// due is when prune next has work: the sooner of fifo[head] leaving
	// the window and fifo[cold] turning cold (zero: check now). Before it
	// prune returns without reading entries, which are cold in the CPU
	// cache by then.
	due    time.Time
	bytes  int
	bodies *Bodies // nil: each entry owns a copy of its payload
}

// keep returns the payload to store for id: a shared copy from bodies, or
// a copy of its own.
func (h *history) keep(id ID, p []byte) []byte {
	if h.bodies != nil {
		return h.bodies.intern(id, p)
	}
	return append([]byte(nil), p...)
}

func newHistory(hot, window time.Duration, maxBytes, maxCount int) *history {
	return &history{window: max(hot, window), hot: hot, maxBytes: maxBytes, maxCount: maxCount, byID: map[ID]*entry{}}
}

func (h *history) get(id ID) *entry { return h.byID[id] }

func (h *history) add(now time.Time, e *entry) {
	h.prune(now)
	h.byID[e.id] = e
	n := len(h.fifo)
	h.fifo = append(h.fifo, e)
	h.bytes += len(e.msg.Payload)
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
	if now.Before(h.due) {
		return // neither loop below would run
	}
	for h.head < len(h.fifo) && now.Sub(h.fifo[h.head].at) >= h.window {
		h.evict()
	}
	for h.cold < len(h.fifo) && now.Sub(h.fifo[h.cold].at) >= h.hot {
		e := h.fifo[h.cold]
		e.cold = true
		e.holders.reset()
		h.cold++
	}
	h.compact()
	h.setDue()
}

// setDue sets due from the entries prune looks at first. An entry leaves
// the window once now.Sub(at) >= window, that is once now is not before
// at.Add(window) (likewise for hot); with no live entry due is zero, and
// prune's loops stop at once.
func (h *history) setDue() {
	h.due = time.Time{}
	if h.head < len(h.fifo) {
		h.due = h.fifo[h.head].at.Add(h.window)
	}
	if h.cold < len(h.fifo) { // so head < len(fifo) too: cold >= head
		if t := h.fifo[h.cold].at.Add(h.hot); t.Before(h.due) {
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
	h.bytes -= len(e.msg.Payload)
	if h.byID[e.id] == e {
		delete(h.byID, e.id)
	}
	if h.bodies != nil {
		h.bodies.release(e.id)
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

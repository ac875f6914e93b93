package gossip

import (
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// maxHolders bounds the peers remembered as holding one message.
const maxHolders = 32

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
	holders []netip.AddrPort
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
	if !e.cold && len(e.holders) < maxHolders && !slices.Contains(e.holders, a) {
		e.holders = append(e.holders, a)
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
	bytes    int
	bodies   *Bodies // nil: each entry owns a copy of its payload
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
	h.fifo = append(h.fifo, e)
	h.bytes += len(e.msg.Payload)
	for (h.bytes > h.maxBytes || h.len() > h.maxCount) && h.head < len(h.fifo)-1 {
		h.evict()
	}
}

// prune drops messages older than the window.
func (h *history) prune(now time.Time) {
	for h.head < len(h.fifo) && now.Sub(h.fifo[h.head].at) >= h.window {
		h.evict()
	}
	for h.cold < len(h.fifo) && now.Sub(h.fifo[h.cold].at) >= h.hot {
		e := h.fifo[h.cold]
		e.cold, e.holders = true, nil
		h.cold++
	}
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

package gossip

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestHolderSet checks the set against a plain slice of addresses, the
// representation it replaces, over a mix of addresses that differ only in
// family (IPv4, the same address mapped into IPv6), port or zone, and the
// zero AddrPort: the same answers, the same bound.
func TestHolderSet(t *testing.T) {
	var pool []netip.AddrPort
	for i := range 12 {
		v4 := netip.AddrFrom4([4]byte{10, 0, byte(i / 4), byte(i)})
		pool = append(pool,
			netip.AddrPortFrom(v4, 4000),
			netip.AddrPortFrom(v4, 4001),
			netip.AddrPortFrom(netip.AddrFrom16(v4.As16()), 4000), // ::ffff:10.0.x.y
			netip.AddrPortFrom(netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 15: byte(i)}), 4000),
			netip.AddrPortFrom(netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(i)}).WithZone("eth0"), 4000),
		)
	}
	pool = append(pool, netip.AddrPort{})
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var s holderSet
		var ref []netip.AddrPort
		for range 80 {
			a := pool[r.IntN(len(pool))]
			want := len(ref) < maxHolders && !slices.Contains(ref, a)
			if want {
				ref = append(ref, a)
			}
			if got := s.add(a); got != want {
				t.Fatalf("round %d: add(%v) = %v, want %v", round, a, got, want)
			}
			if s.len() != len(ref) {
				t.Fatalf("round %d: len %d, want %d", round, s.len(), len(ref))
			}
		}
		for _, a := range pool {
			if got, want := s.has(a), slices.Contains(ref, a); got != want {
				t.Fatalf("round %d: has(%v) = %v, want %v", round, a, got, want)
			}
		}
		s.reset()
		if s.len() != 0 || s.has(ref[0]) {
			t.Fatal("reset kept holders")
		}
	}
}

// TestEntryHolders checks an entry's holders, which move to larger
// blocks as they grow (addHolder), against a plain slice, as TestHolderSet
// does for a set alone, and that each block has the room its size calls
// for: 8, 16, then 32 keys.
func TestEntryHolders(t *testing.T) {
	var pool []netip.AddrPort
	for i := range 40 {
		v4 := netip.AddrFrom4([4]byte{10, 0, byte(i / 4), byte(i)})
		pool = append(pool, netip.AddrPortFrom(v4, 4000), netip.AddrPortFrom(v4, 4001))
		if i%8 == 0 {
			pool = append(pool, netip.AddrPortFrom(netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 15: byte(i)}), 4000))
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for round := range 200 {
		e := newEntry(&record{id: idOf(round)}, 0, 3, 1)
		var ref []netip.AddrPort
		for range 120 {
			a := pool[r.IntN(len(pool))]
			if len(ref) < maxHolders && !slices.Contains(ref, a) {
				ref = append(ref, a)
			}
			e.addHolder(a)
			if got := e.holders.len(); got != len(ref) {
				t.Fatalf("round %d: %d holders, want %d", round, got, len(ref))
			}
			if n, c := len(e.holders.keys), cap(e.holders.keys); c != 8 && c != 16 && c != 32 || n > 8 && c < 16 || n > 16 && c < 32 {
				t.Fatalf("round %d: %d keys in room for %d", round, n, c)
			}
		}
		for _, a := range pool {
			if got, want := e.holders.has(a), slices.Contains(ref, a); got != want {
				t.Fatalf("round %d: has(%v) = %v, want %v", round, a, got, want)
			}
		}
	}
}

// TestHistoryDue checks that prune's early return (before due) changes
// nothing: a history pruned against one whose due is cleared before every
// call, so that its loops always look, holds the same entries, cold and
// live alike, through adds, budget evictions and clocks that step back.
func TestHistoryDue(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fast := newHistory(10*time.Second, 60*time.Second, 40<<10, 50)
	ref := newHistory(10*time.Second, 60*time.Second, 40<<10, 50)
	now := t0
	for i := range 5000 {
		now = now.Add(time.Duration(r.IntN(2000)-100) * time.Millisecond)
		if r.IntN(40) == 0 {
			now = now.Add(time.Duration(r.IntN(40)) * time.Second) // quiet spells: everything cold, or gone
		}
		ref.due = checkNow
		if r.IntN(3) == 0 {
			fast.prune(now)
			ref.prune(now)
		} else {
			size := r.IntN(2048)
			hot := r.IntN(2) == 0
			for _, h := range []*history{fast, ref} {
				msg := &record{id: idOf(i), payload: make([]byte, size)}
				e := &entry{msg: msg, at: now.UnixNano()}
				if hot {
					e = newEntry(msg, now.UnixNano(), 3, 1)
					e.addHolder(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), 7))
				}
				h.add(now, e)
			}
		}
		// The index finds exactly the entries in fifo, and cold ones
		// keep no holders.
		for _, h := range []*history{fast, ref} {
			for _, e := range h.fifo[h.head:] {
				if h.get(e.msg.id) != e {
					t.Fatalf("step %d: index and fifo disagree on %v", i, e.msg.id)
				}
				if e.cold && e.holders != nil {
					t.Fatalf("step %d: a cold entry keeps holders", i)
				}
			}
		}
		if fast.len() != ref.len() || fast.cold-fast.head != ref.cold-ref.head || fast.byID.len() != ref.byID.len() {
			t.Fatalf("step %d: %d entries (%d cold), reference %d (%d cold)",
				i, fast.len(), fast.cold-fast.head, ref.len(), ref.cold-ref.head)
		}
		for j := range fast.len() {
			a, b := fast.fifo[fast.head+j], ref.fifo[ref.head+j]
			if a.msg.id != b.msg.id || a.cold != b.cold {
				t.Fatalf("step %d: entry %d differs", i, j)
			}
		}
	}
}

package gossip

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core/identity"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func idOf(i int) ID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return ID(sha256.Sum256(b[:]))
}

func TestSeqWindow(t *testing.T) {
	var w seqWindow
	r, _ := newReplayGuard(2)
	a := identity.PeerIDFromPublicKey(make([]byte, 32))
	if !r.fresh(a, 100) {
		t.Fatal("unknown sender not fresh")
	}
	r.mark(a, 100)
	w = must(r.senders.Peek(peerKey(a)))
	steps := []struct {
		seq   uint64
		fresh bool
	}{
		{100, false}, // seen
		{99, true},   // within the window, unseen
		{37, true},   // 100-63: the window's last slot
		{36, false},  // below the window
		{164, true},  // slides the window by 64
		{100, false}, // now below the window
		{101, true},
		{101, false},
		{1 << 62, true}, // a jump clears the bitmap
		{164, false},
	}
	for i, s := range steps {
		if got := w.fresh(s.seq); got != s.fresh {
			t.Fatalf("step %d: fresh(%d) = %v, want %v (max %d bits %064b)", i, s.seq, got, s.fresh, w.max, w.seen)
		}
		if s.fresh {
			w.mark(s.seq)
		}
	}
	// The sender LRU is bounded: a third sender evicts the first.
	b := identity.PeerIDFromPublicKey(slices.Repeat([]byte{1}, 32))
	c := identity.PeerIDFromPublicKey(slices.Repeat([]byte{2}, 32))
	r.mark(b, 1)
	r.mark(c, 1)
	if r.senders.Len() != 2 || !r.fresh(a, 100) {
		t.Fatal("sender windows not bounded")
	}
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("missing")
	}
	return v
}

func TestSeenCache(t *testing.T) {
	c, err := newSeenCache(100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if c.has(idOf(i), t0) {
			t.Fatalf("id %d seen before insertion", i)
		}
		c.add(idOf(i), t0)
		if !c.has(idOf(i), t0) {
			t.Fatalf("id %d not seen after insertion", i)
		}
	}
	if c.exact.Len() != 100 || c.has(idOf(899), t0) || !c.has(idOf(900), t0) {
		t.Fatal("exact cache does not keep the last 100 insertions")
	}
	// Entries expire after the TTL.
	if c.has(idOf(999), t0.Add(time.Minute)) {
		t.Fatal("entry did not expire")
	}
	// Re-adding an expired entry refreshes it.
	c.add(idOf(999), t0.Add(time.Minute))
	if !c.has(idOf(999), t0.Add(90*time.Second)) {
		t.Fatal("refreshed entry missing")
	}
	// A refreshed entry moves to the newest end: the oldest, 900, is
	// refreshed, so the next insertion evicts 901, not 900.
	c.add(idOf(900), t0.Add(time.Minute))
	c.add(idOf(5000), t0.Add(time.Minute))
	if !c.has(idOf(900), t0.Add(time.Minute)) || c.has(idOf(901), t0) || c.exact.Len() != 100 {
		t.Fatal("refreshing did not move the entry to the newest end")
	}
}

func TestSelector(t *testing.T) {
	ap := func(i int) netip.AddrPort { return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1) }
	peers := []Peer{
		{Addr: ap(1), RTT: 50 * time.Millisecond},
		{Addr: ap(2), RTT: 10 * time.Millisecond, Score: -1},
		{Addr: ap(3)}, // RTT unknown
		{Addr: ap(4), RTT: 20 * time.Millisecond},
		{Addr: ap(5), RTT: 20 * time.Millisecond, Score: 2},
		{Addr: ap(6), RTT: 5 * time.Millisecond},
	}
	s := selector{rand: rand.New(rand.NewPCG(1, 2))}
	x := exclusion{from: ap(6)}
	eager, lazy := s.pick(peers, &x, 3, 10, 1)
	want := []netip.AddrPort{ap(5), ap(4), ap(1)} // best RTT, score breaks the tie; the excluded and the negative last
	if !slices.Equal(eager, want) {
		t.Fatalf("preferred picks %v, want %v", eager, want)
	}
	if len(lazy) != 2 || slices.Contains(lazy, ap(6)) {
		t.Fatalf("lazy %v", lazy)
	}
	// Random picks cover every candidate over many draws, and never the
	// excluded ones.
	var hs holderSet
	hs.add(ap(2))
	x = exclusion{self: ap(1), holders: &hs}
	hit := map[netip.AddrPort]int{}
	for range 200 {
		e, l := s.pick(peers, &x, 2, 1, 0)
		if len(e) != 2 || len(l) != 1 {
			t.Fatalf("picked %v %v", e, l)
		}
		for _, a := range append(slices.Clone(e), l...) {
			hit[a]++
		}
	}
	if hit[ap(1)]+hit[ap(2)] != 0 || len(hit) != 4 {
		t.Fatalf("random picks %v", hit)
	}
}

func BenchmarkDedup(b *testing.B) {
	c, _ := newSeenCache(10000, 5*time.Minute)
	ids := make([]ID, 20000)
	for i := range ids {
		ids[i] = idOf(i)
	}
	for _, id := range ids[:10000] {
		c.add(id, t0)
	}
	b.Run("duplicate", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if !c.has(ids[i%10000], t0) {
				b.Fatal("duplicate not found")
			}
			i++
		}
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.has(ids[10000+i%10000], t0)
			i++
		}
	})
}

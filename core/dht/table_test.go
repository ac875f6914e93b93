package dht

import (
	"crypto/ed25519"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core/identity"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeID returns a peer ID from 32 seeded bytes (not necessarily a valid
// curve point: the table only hashes it).
func fakeID(r *rand.Rand) identity.PeerID {
	var b [ed25519.PublicKeySize]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return identity.PeerIDFromPublicKey(b[:])
}

func addrN(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 4000)
}

// idsInBucket returns n fake IDs whose key falls in self's bucket i.
func idsInBucket(t testing.TB, tab *Table, r *rand.Rand, i, n int) []identity.PeerID {
	t.Helper()
	var out []identity.PeerID
	for tries := 0; len(out) < n; tries++ {
		if tries > 1<<20 {
			t.Fatalf("no IDs for bucket %d", i)
		}
		id := fakeID(r)
		if tab.BucketIndex(id.Key()) == i {
			out = append(out, id)
		}
	}
	return out
}

func TestTablePlacement(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	self := fakeID(r)
	tab := NewTable(self, 20, 4, Diversity{})
	for n := range 300 {
		id := fakeID(r)
		out, _ := tab.Update(t0, PeerInfo{ID: id, Addr: addrN(n)}, time.Millisecond)
		i := identity.Xor(self.Key(), id.Key()).CommonPrefixLen()
		if got := tab.BucketIndex(id.Key()); got != i {
			t.Fatalf("bucket index %d, want %d", got, i)
		}
		if out == Added {
			found := false
			for _, p := range tab.Bucket(i) {
				found = found || p.ID == id
			}
			if !found {
				t.Fatalf("peer not in bucket %d", i)
			}
		}
	}
	for i := range Buckets {
		if n := len(tab.Bucket(i)); n > 20 {
			t.Fatalf("bucket %d holds %d > k", i, n)
		}
	}
	if len(tab.Bucket(0)) != 20 {
		t.Fatalf("bucket 0 holds %d, want 20 of ~150", len(tab.Bucket(0)))
	}
	if out, _ := tab.Update(t0, PeerInfo{ID: self, Addr: addrN(999)}, 0); out != Invalid {
		t.Fatalf("self: %v", out)
	}
	if out, _ := tab.Update(t0, PeerInfo{ID: fakeID(r)}, 0); out != Invalid {
		t.Fatalf("no address: %v", out)
	}
}

func TestTableLRSAndReplacement(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tab := NewTable(fakeID(r), 2, 2, Diversity{})
	ids := idsInBucket(t, tab, r, 0, 4)
	for n, id := range ids[:2] {
		if out, _ := tab.Update(t0.Add(time.Duration(n)), PeerInfo{ID: id, Addr: addrN(n)}, 0); out != Added {
			t.Fatalf("add %d: %v", n, out)
		}
	}
	// Full: the oldest (ids[0]) is returned to be pinged.
	out, oldest := tab.Update(t0, PeerInfo{ID: ids[2], Addr: addrN(2)}, 0)
	if out != Full || oldest.ID != ids[0] {
		t.Fatalf("full: %v oldest %v", out, oldest.ID.Short())
	}
	if rs := tab.Replacements(0); len(rs) != 1 || rs[0].ID != ids[2] {
		t.Fatalf("replacements %v", rs)
	}
	// The oldest answers: it moves to the tail, the newcomer stays out.
	if out, _ := tab.Update(t0.Add(time.Second), PeerInfo{ID: ids[0], Addr: addrN(0)}, 0); out != Updated {
		t.Fatalf("update: %v", out)
	}
	if b := tab.Bucket(0); b[0].ID != ids[1] || b[1].ID != ids[0] {
		t.Fatal("oldest did not move to the tail")
	}
	if _, ok := tab.Get(ids[2]); ok {
		t.Fatal("newcomer entered a full bucket")
	}
	// The next oldest fails: it is removed and the newcomer promoted.
	_, oldest = tab.Update(t0, PeerInfo{ID: ids[3], Addr: addrN(3)}, 0)
	if oldest.ID != ids[1] {
		t.Fatalf("oldest %v, want ids[1]", oldest.ID.Short())
	}
	removed, promoted, ok, did := tab.Remove(ids[1])
	if !ok || !did || removed.ID != ids[1] || promoted.ID != ids[3] {
		t.Fatalf("remove: %v %v %v %v", ok, did, removed.ID.Short(), promoted.ID.Short())
	}
	if _, ok := tab.Get(ids[3]); !ok || tab.Len() != 2 {
		t.Fatal("replacement not promoted")
	}
	if n := tab.Fail(ids[0]); n != 1 {
		t.Fatalf("failures %d", n)
	}
}

func TestTableDiversity(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tab := NewTable(fakeID(r), 20, 2, Diversity{Enabled: true, PerBucket: 2, PerTable: 3, IPv4Bits: 24, IPv6Bits: 48})
	same := func(host byte) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 1, host}), 4000)
	}
	b0 := idsInBucket(t, tab, r, 0, 3)
	b1 := idsInBucket(t, tab, r, 1, 3)
	for n, id := range b0[:2] {
		if out, _ := tab.Update(t0, PeerInfo{ID: id, Addr: same(byte(n + 1))}, 0); out != Added {
			t.Fatalf("add: %v", out)
		}
	}
	if out, _ := tab.Update(t0, PeerInfo{ID: b0[2], Addr: same(3)}, 0); out != Rejected {
		t.Fatalf("third of a /24 in one bucket: %v", out)
	}
	if out, _ := tab.Update(t0, PeerInfo{ID: b0[2], Addr: addrN(77)}, 0); out != Added {
		t.Fatalf("other /24: %v", out)
	}
	if out, _ := tab.Update(t0, PeerInfo{ID: b1[0], Addr: same(4)}, 0); out != Added {
		t.Fatalf("third of a /24 in the table: %v", out)
	}
	if out, _ := tab.Update(t0, PeerInfo{ID: b1[1], Addr: same(5)}, 0); out != Rejected {
		t.Fatalf("fourth of a /24 in the table: %v", out)
	}
	if tab.Admissible(b1[1].Key(), same(6)) {
		t.Fatal("Admissible ignores the table limit")
	}
	// Removing one frees a slot.
	tab.Remove(b0[0])
	if out, _ := tab.Update(t0, PeerInfo{ID: b1[1], Addr: same(5)}, 0); out != Added {
		t.Fatalf("after removal: %v", out)
	}
	// IPv6 groups by /48.
	v6 := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	b2 := idsInBucket(t, tab, r, 2, 3)
	tab.Update(t0, PeerInfo{ID: b2[0], Addr: v6("[2001:db8:1:1::1]:1")}, 0)
	tab.Update(t0, PeerInfo{ID: b2[1], Addr: v6("[2001:db8:1:2::1]:1")}, 0)
	if out, _ := tab.Update(t0, PeerInfo{ID: b2[2], Addr: v6("[2001:db8:1:3::1]:1")}, 0); out != Rejected {
		t.Fatalf("third of a /48 in one bucket: %v", out)
	}
}

func TestTableClosest(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	tab := NewTable(fakeID(r), 20, 0, Diversity{})
	var all []identity.PeerID
	for n := range 2000 {
		id := fakeID(r)
		if out, _ := tab.Update(t0, PeerInfo{ID: id, Addr: addrN(n)}, 0); out == Added {
			all = append(all, id)
		}
	}
	for range 200 {
		target := identity.Key(fakeID(r).Key())
		got := tab.Closest(target, 20)
		// Brute force.
		best := append([]identity.PeerID(nil), all...)
		sortByDist(best, target)
		if len(got) != min(20, len(best)) {
			t.Fatalf("got %d peers", len(got))
		}
		for i := range got {
			if got[i].ID != best[i] {
				t.Fatalf("closest[%d] wrong", i)
			}
		}
	}
	if got := tab.Closest(tab.Self(), 5); len(got) != 5 {
		t.Fatalf("closest to self: %d", len(got))
	}
	// RandomKeyIn lands in the bucket asked.
	for i := range 40 {
		var rnd [32]byte
		binary.LittleEndian.PutUint64(rnd[:], r.Uint64())
		if got := tab.BucketIndex(tab.RandomKeyIn(i, rnd)); got != i {
			t.Fatalf("RandomKeyIn(%d) in bucket %d", i, got)
		}
	}
	// Peers: everyone once, deterministic.
	ps := tab.Peers(0)
	if len(ps) != tab.Len() {
		t.Fatalf("Peers %d of %d", len(ps), tab.Len())
	}
	seen := map[identity.PeerID]bool{}
	for _, p := range ps {
		if seen[p.ID] {
			t.Fatal("duplicate in Peers")
		}
		seen[p.ID] = true
	}
	if len(tab.Peers(7)) != 7 {
		t.Fatal("Peers bound")
	}
}

func sortByDist(ids []identity.PeerID, target identity.Key) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && identity.Xor(target, ids[j].Key()).Cmp(identity.Xor(target, ids[j-1].Key())) < 0; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}

// benchTable fills a table with bucket size k from n random IDs.
func benchTable(b *testing.B, k, n int) (*Table, []PeerInfo) {
	r := rand.New(rand.NewPCG(9, 9))
	tab := NewTable(fakeID(r), k, 8, Diversity{Enabled: true, PerBucket: k, PerTable: 1 << 20, IPv4Bits: 24, IPv6Bits: 48})
	var in []PeerInfo
	for i := range n {
		p := PeerInfo{ID: fakeID(r), Addr: addrN(i)}
		if out, _ := tab.Update(t0, p, time.Millisecond); out == Added {
			in = append(in, p)
		}
	}
	return tab, in
}

// BenchmarkTableUpdate measures Table.Update at about 1,000 entries (k 256,
// so that random IDs fill that many; k 20 holds ~300 at a million IDs),
// alternating an existing peer (moved to its bucket's tail) and a new one
// (into a full bucket: replacement cache).
func BenchmarkTableUpdate(b *testing.B) {
	for _, c := range []struct {
		name string
		k, n int
	}{{"k256", 256, 6000}, {"k20", 20, 1 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			tab, in := benchTable(b, c.k, c.n)
			r := rand.New(rand.NewPCG(10, 10))
			fresh := make([]PeerInfo, 4096)
			for i := range fresh {
				fresh[i] = PeerInfo{ID: fakeID(r), Addr: addrN(1<<20 + i)}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i%2 == 0 {
					tab.Update(t0, in[(i/2)%len(in)], time.Millisecond)
				} else {
					tab.Update(t0, fresh[(i/2)%len(fresh)], time.Millisecond)
				}
				i++
			}
			b.ReportMetric(float64(tab.Len()), "entries")
		})
	}
}

func BenchmarkClosest(b *testing.B) {
	tab, _ := benchTable(b, 256, 6000)
	r := rand.New(rand.NewPCG(11, 11))
	targets := make([]identity.Key, 1024)
	for i := range targets {
		targets[i] = fakeID(r).Key()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tab.Closest(targets[i%len(targets)], 20)
		i++
	}
	b.ReportMetric(float64(tab.Len()), "entries")
}

// One address holds one identity: a second identity at an address in the
// table is refused, and admitted once the first has left.
func TestTableOneIdentityPerEndpoint(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	tab := NewTable(fakeID(r), 20, 2, Diversity{Enabled: true, PerBucket: 20, PerTable: 100, IPv4Bits: 24, IPv6Bits: 48})
	now := time.Unix(1000, 0)
	a, b := fakeID(r), fakeID(r)
	if out, _ := tab.Update(now, PeerInfo{ID: a, Addr: addrN(1)}, 0); out != Added {
		t.Fatalf("first identity: %v", out)
	}
	if out, _ := tab.Update(now, PeerInfo{ID: b, Addr: addrN(1)}, 0); out != Rejected {
		t.Fatalf("second identity at the same address: %v, want Rejected", out)
	}
	if tab.Admissible(b.Key(), addrN(1)) {
		t.Error("Admissible says yes to a taken address")
	}
	if out, _ := tab.Update(now, PeerInfo{ID: b, Addr: addrN(2)}, 0); out != Added {
		t.Fatalf("the second identity at its own address: %v", out)
	}
	tab.Remove(a)
	c := fakeID(r)
	if out, _ := tab.Update(now, PeerInfo{ID: c, Addr: addrN(1)}, 0); out != Added {
		t.Fatalf("a new identity at a freed address: %v", out)
	}
	// Without limits (loopback clusters) nothing changes.
	free := NewTable(fakeID(r), 20, 2, Diversity{})
	free.Update(now, PeerInfo{ID: a, Addr: addrN(1)}, 0)
	if out, _ := free.Update(now, PeerInfo{ID: b, Addr: addrN(1)}, 0); out != Added {
		t.Fatalf("without limits: %v", out)
	}
}

// Beyond depth+1 the buckets hold at most k peers between them: SetDepth
// trims the latest admitted, and later admissions there are refused while
// the shallower buckets fill as before.
func TestTableDeepCap(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	tab := NewTable(fakeID(r), 4, 2, Diversity{Enabled: true, PerBucket: 100, PerTable: 100, IPv4Bits: 24, IPv6Bits: 48})
	now := time.Unix(1000, 0)
	addr := 0
	add := func(i, n int) []identity.PeerID {
		ids := idsInBucket(t, tab, r, i, n)
		for _, id := range ids {
			addr++
			if out, _ := tab.Update(now, PeerInfo{ID: id, Addr: addrN(addr)}, 0); out != Added {
				t.Fatalf("bucket %d: %v", i, out)
			}
		}
		return ids
	}
	first := add(3, 3) // admitted first: these stay
	add(4, 3)          // 6 peers beyond bucket 2, k = 4
	add(1, 2)
	trimmed := tab.SetDepth(1)
	if len(trimmed) != 2 || tab.Depth() != 1 {
		t.Fatalf("trimmed %d peers, want 2 (depth %d)", len(trimmed), tab.Depth())
	}
	for _, id := range first {
		if _, ok := tab.Get(id); !ok {
			t.Errorf("an early deep peer was trimmed")
		}
	}
	deep := idsInBucket(t, tab, r, 5, 1)[0]
	if out, _ := tab.Update(now, PeerInfo{ID: deep, Addr: addrN(900)}, 0); out != Rejected {
		t.Errorf("a fifth deep peer: %v, want Rejected", out)
	}
	if tab.Admissible(deep.Key(), addrN(900)) {
		t.Error("Admissible says yes beyond the cap")
	}
	// Bucket 2 (depth+1) is not capped.
	add(2, 4)
	// Lifting the cap admits again.
	tab.SetDepth(-1)
	if out, _ := tab.Update(now, PeerInfo{ID: deep, Addr: addrN(900)}, 0); out != Added {
		t.Errorf("without a depth: %v", out)
	}
}

package dht

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// refClosest is Closest by brute force over the reference's entries.
func (t *refTable) refClosest(key identity.Key, n int) []PeerInfo {
	var all []PeerInfo
	for i := range t.buckets {
		for _, e := range t.buckets[i].entries {
			all = append(all, e.PeerInfo)
		}
	}
	slices.SortStableFunc(all, func(a, b PeerInfo) int { return compareDist(key, a.key, b.key, a.Addr, b.Addr) })
	if n <= 0 || len(all) == 0 {
		return nil
	}
	return all[:min(n, len(all))]
}

// tableOp is one step of TestTableMatchesReference's random walks.
type tableOp struct {
	r     *rand.Rand
	ids   []identity.PeerID
	addrs []netip.AddrPort
	now   time.Time
}

func newTableOp(seed uint64, ids int) *tableOp {
	o := &tableOp{r: rand.New(rand.NewPCG(seed, 77)), now: t0}
	for range ids {
		o.ids = append(o.ids, fakeID(o.r))
	}
	// Few prefixes, so that the diversity limits bite; IPv6 with and
	// without zones, the same address and port in two zones; addresses
	// shared by several IDs (one endpoint, one identity).
	for i := range 24 {
		o.addrs = append(o.addrs, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i % 3), byte(i)}), uint16(4000+i%2)))
	}
	for _, s := range []string{
		"[2001:db8:1:1::1]:1", "[2001:db8:1:2::1]:1", "[2001:db8:2:1::1]:1", "[2001:db8:1:1::1]:2",
		"[fe80::1%eth0]:7", "[fe80::1%eth1]:7", "[fe80::2%eth0]:7", "[::1]:9", "[::2:0:0:1]:9",
		"[2001:db8:3::1]:5", "[2001:db8:3::2]:5",
	} {
		o.addrs = append(o.addrs, netip.MustParseAddrPort(s))
	}
	// Unusable: the table refuses them.
	o.addrs = append(o.addrs, netip.AddrPort{}, netip.MustParseAddrPort("0.0.0.0:1"), netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"))
	return o
}

func (o *tableOp) id() identity.PeerID  { return o.ids[o.r.IntN(len(o.ids))] }
func (o *tableOp) addr() netip.AddrPort { return o.addrs[o.r.IntN(len(o.addrs))] }
func (o *tableOp) key() identity.Key    { return fakeID(o.r).Key() }
func (o *tableOp) caps() (c Capabilities) {
	return Capabilities{IsRelay: o.r.IntN(2) == 0, SupportsNATTraversal: o.r.IntN(3) == 0, MaxBandwidth: uint64(o.r.IntN(3)) * 1000}
}
func (o *tableOp) rtt() time.Duration {
	return time.Duration(o.r.IntN(3)) * time.Duration(o.r.IntN(100000))
}
func (o *tableOp) tick() {
	o.now = o.now.Add(time.Duration(o.r.IntN(3)) * time.Duration(o.r.Int64N(int64(time.Minute))))
}
func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

// TestTableMatchesReference runs random operations on a Table and on the
// map-based table it replaced (table_ref_test.go) and compares every
// answer and the whole content after each step: bucket order, replacement
// caches, diversity and endpoint decisions, the deep cap, times.
func TestTableMatchesReference(t *testing.T) {
	divs := []Diversity{
		{},
		{Enabled: true, PerBucket: 2, PerTable: 3, IPv4Bits: 24, IPv6Bits: 48},
		{Enabled: true, PerBucket: 1, PerTable: 2, IPv4Bits: 16, IPv6Bits: 0},
		{Enabled: true, PerBucket: 3, PerTable: 5, IPv4Bits: 32, IPv6Bits: 128},
		{Enabled: true, PerBucket: 2, PerTable: 4, IPv4Bits: 0, IPv6Bits: 64},
		{Enabled: true, PerBucket: 2, PerTable: 4, IPv4Bits: 33, IPv6Bits: 129}, // out of range: one group each
		{Enabled: true, PerBucket: 2, PerTable: 6, IPv4Bits: -1, IPv6Bits: 88},
	}
	for di, div := range divs {
		for _, kr := range [][2]int{{2, 2}, {3, 0}, {4, 3}, {20, 8}} {
			for seed := range uint64(3) {
				t.Run(fmt.Sprintf("div%d/k%d-r%d/%d", di, kr[0], kr[1], seed), func(t *testing.T) {
					checkAgainstReference(t, div, kr[0], kr[1], seed)
				})
			}
		}
	}
}

func checkAgainstReference(t *testing.T, div Diversity, k, repl int, seed uint64) {
	o := newTableOp(seed, 80)
	self := fakeID(o.r)
	tab, ref := NewTable(self, k, repl, div), newRefTable(self, k, repl, div)
	if seed%2 == 1 {
		tab.TouchAll(o.now)
		ref.TouchAll(o.now)
	}
	steps := 400
	if testing.Short() {
		steps = 150
	}
	for step := range steps {
		o.tick()
		what := ""
		switch op := o.r.IntN(20); {
		case op < 9:
			id, addr, rtt := o.id(), o.addr(), o.rtt()
			if op == 0 {
				id = self
			}
			p := PeerInfo{ID: id, Addr: addr, Capabilities: o.caps()}
			now := o.now
			if op == 1 {
				now = time.Time{}
			}
			what = fmt.Sprintf("Update(%v, %v)", id.Short(), addr)
			out, old := tab.Update(now, p, rtt)
			rout, rold := ref.Update(now, p, rtt)
			same(t, what+" outcome", out, rout)
			same(t, what+" oldest", old, rold)
		case op < 12:
			id := o.id()
			what = "Remove"
			a, b, c, d := tab.Remove(id)
			ra, rb, rc, rd := ref.Remove(id)
			same(t, what, []any{a, b, c, d}, []any{ra, rb, rc, rd})
		case op < 14:
			id := o.id()
			what = "Fail"
			same(t, what, tab.Fail(id), ref.Fail(id))
		case op < 15:
			d := o.r.IntN(6) - 1
			what = fmt.Sprintf("SetDepth(%d)", d)
			same(t, what, tab.SetDepth(d), ref.SetDepth(d))
		case op < 17:
			id, addr := o.id(), o.addr()
			what = "Admissible"
			same(t, what, tab.Admissible(id.Key(), addr), ref.Admissible(id.Key(), addr))
			same(t, "replacement", tab.replacement(id.Key(), id), ref.replacement(id.Key(), id))
		case op < 18:
			key := o.key()
			if o.r.IntN(4) == 0 {
				key = o.id().Key()
			}
			what = "Touch"
			tab.Touch(key, o.now)
			ref.Touch(key, o.now)
		case op < 19:
			what = "Stale"
			iv := time.Duration(o.r.IntN(5)) * time.Minute
			same(t, what, tab.Stale(o.now, iv), ref.Stale(o.now, iv))
		default:
			what = "TouchAll"
			tab.TouchAll(o.now)
			ref.TouchAll(o.now)
		}
		what = fmt.Sprintf("step %d after %s", step, what)
		same(t, what+": Len", tab.Len(), ref.Len())
		same(t, what+": Version", tab.Version(), ref.Version())
		same(t, what+": Depth", tab.Depth(), ref.Depth())
		for i := range max(len(tab.buckets), len(ref.buckets)) {
			same(t, fmt.Sprintf("%s: Bucket(%d)", what, i), tab.Bucket(i), ref.Bucket(i))
			same(t, fmt.Sprintf("%s: Replacements(%d)", what, i), tab.Replacements(i), ref.Replacements(i))
		}
		same(t, what+": deepest", tab.deepest(), ref.deepest())
		same(t, what+": Peers", tab.Peers(0), ref.Peers(0))
		key := o.key()
		n := 1 + o.r.IntN(2*k)
		same(t, what+": Closest", tab.Closest(key, n), ref.refClosest(key, n))
		for _, id := range o.ids[:8] {
			p, ok := tab.Get(id)
			rp, rok := ref.Get(id)
			same(t, what+": Get", []any{p, ok}, []any{rp, rok})
		}
		checkIndexes(t, tab, what)
	}
}

// checkIndexes checks byID, byAddr and zones against the buckets.
func checkIndexes(t *testing.T, tab *Table, what string) {
	t.Helper()
	var all []*entry
	held := map[*entry]bool{}
	for i := range tab.buckets {
		for j, e := range tab.buckets[i].entries {
			all = append(all, e)
			held[e] = true
			if tab.buckets[i].k0[j] != prefix64(&e.key) || int(e.bucket) != i {
				t.Fatalf("%s: bucket %d slot %d out of step", what, i, j)
			}
		}
		for _, r := range tab.buckets[i].repl {
			held[r] = true
		}
	}
	if len(tab.byID) != len(all) {
		t.Fatalf("%s: byID holds %d of %d", what, len(tab.byID), len(all))
	}
	for j, r := range tab.byID {
		if r.id0 != idPrefix(&r.e.id) || (j > 0 && tab.byID[j-1].id0 > r.id0) || !slices.Contains(all, r.e) {
			t.Fatalf("%s: byID[%d] wrong", what, j)
		}
	}
	if tab.div.Enabled {
		if len(tab.byAddr) != len(all) {
			t.Fatalf("%s: byAddr holds %d of %d", what, len(tab.byAddr), len(all))
		}
		for j, e := range tab.byAddr {
			if j > 0 {
				if prev := tab.byAddr[j-1].endpoint(); e.before(&prev) {
					t.Fatalf("%s: byAddr out of order at %d", what, j)
				}
			}
			if !slices.Contains(all, e) {
				t.Fatalf("%s: byAddr[%d] wrong", what, j)
			}
		}
	} else if len(tab.byAddr) != 0 {
		t.Fatalf("%s: byAddr without limits", what)
	}
	for e := range tab.zones { // checks every entry; the order is irrelevant
		if !held[e] {
			t.Fatalf("%s: a zone outlives its entry", what)
		}
	}
}

// An entry is 128 bytes without pointers: the garbage collector does not
// scan it, and a size class holds it exactly.
func TestEntryCompact(t *testing.T) {
	if s := unsafe.Sizeof(entry{}); s != 128 {
		t.Errorf("entry is %d bytes, want 128", s)
	}
	e := reflect.TypeFor[entry]()
	for i := range e.NumField() {
		switch e.Field(i).Type.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.String, reflect.Interface, reflect.Func, reflect.Chan:
			t.Errorf("entry.%s holds a pointer", e.Field(i).Name)
		}
	}
}

// Stamps give back the times they were made from: instant, location and
// the zero time.
func TestTableStamps(t *testing.T) {
	tab := NewTable(fakeID(rand.New(rand.NewPCG(1, 1))), 20, 8, Diversity{})
	if got := tab.timeAt(tab.stamp(time.Time{})); got != (time.Time{}) {
		t.Fatalf("zero time: %v", got)
	}
	for _, tm := range []time.Time{
		t0, t0.Add(-time.Hour), t0.Add(90 * 24 * time.Hour), t0.Add(time.Nanosecond),
		time.Unix(1e9, 5).UTC(), t0.Add(-200 * 365 * 24 * time.Hour),
	} {
		if got := tab.timeAt(tab.stamp(tm)); got != tm {
			t.Errorf("%v came back as %v", tm, got)
		}
	}
	// Another location: the same instant, in the first time's location.
	if local := time.Unix(1e9, 5).In(time.FixedZone("X", 3600)); !tab.timeAt(tab.stamp(local)).Equal(local) {
		t.Error("a time in another location moved")
	}
	// Stamps are what Sub gives, on the fast path and off it.
	for _, tm := range []time.Time{
		t0.Add(150 * 365 * 24 * time.Hour), t0.Add(-250 * 365 * 24 * time.Hour), t0.Add(-time.Duration(1 << 62)),
		time.Unix(1e9, 5).In(time.FixedZone("X", 3600)), time.Now(),
	} {
		if got, want := tab.stamp(tm), int64(tm.Sub(t0)); got != want {
			t.Errorf("stamp of %v: %d, want %d", tm, got, want)
		}
	}
	// A monotonic reading survives: intervals measured from it stay right.
	now := time.Now()
	mono := NewTable(fakeID(rand.New(rand.NewPCG(1, 1))), 20, 8, Diversity{})
	mono.stamp(now)
	later := now.Add(3 * time.Second)
	if got := mono.timeAt(mono.stamp(later)); got.Sub(now) != 3*time.Second || !got.Equal(later) {
		t.Errorf("monotonic time came back as %v", got)
	}
}

// grown and grownIndex give room for one more, within their limits.
func TestGrown(t *testing.T) {
	var s []int
	for n := range 40 {
		s = append(grown(s, 20), n)
		if cap(s) > max(20, len(s)) {
			t.Fatalf("len %d cap %d over the limit", len(s), cap(s))
		}
	}
	var x []int
	for n := range 1000 {
		x = append(grownIndex(x), n)
		if cap(x) > max(8, len(x)+len(x)/4+1) {
			t.Fatalf("len %d cap %d", len(x), cap(x))
		}
	}
	for n := range x {
		if x[n] != n {
			t.Fatal("grownIndex lost elements")
		}
	}
}

// put and drop keep the map's content; a map that grew past one group is
// let go of once empty, a small one kept.
func TestIdleMaps(t *testing.T) {
	var m map[int]bool
	var peak int
	ref := map[int]bool{}
	r := rand.New(rand.NewPCG(3, 3))
	for range 5000 {
		k := r.IntN(40)
		if r.IntN(2) == 0 {
			put(&m, &peak, k, true)
			ref[k] = true
		} else {
			drop(&m, &peak, k)
			delete(ref, k)
		}
		if len(m) != len(ref) {
			t.Fatalf("len %d, want %d", len(m), len(ref))
		}
		for k := range ref { // membership only; the order is irrelevant
			if !m[k] {
				t.Fatalf("lost %d", k)
			}
		}
	}
	m, peak = nil, 0
	for k := range 3 {
		put(&m, &peak, k, true)
	}
	for k := range 3 {
		drop(&m, &peak, k)
	}
	if m == nil {
		t.Error("a small map was let go of")
	}
	for k := range 20 {
		put(&m, &peak, k, true)
	}
	for k := range 20 {
		drop(&m, &peak, k)
	}
	if m != nil || peak != 0 {
		t.Error("an emptied large map was kept")
	}
}

// checkNodes fails a NODES list with a bad or repeated entry (whatever its
// family), and otherwise keeps the entries of the own family, in order,
// with their keys.
func TestCheckNodesKeepsOwnFamily(t *testing.T) {
	d, _ := benchDHT(t) // its address is IPv4
	r := rand.New(rand.NewPCG(21, 21))
	var ns []wire.DHTNode
	var want []wire.DHTNode
	for i := range 12 {
		n := wire.DHTNode{ID: pubKey(fakeID(r)), Flags: uint8(i % 4), Addr: addrN(i + 1)}
		if i%3 == 1 {
			n.Addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}), 4000)
		} else {
			want = append(want, n)
		}
		ns = append(ns, n)
	}
	got, keys, ok := d.checkNodes(slices.Clone(ns))
	if !ok || !slices.Equal(got, want) || len(keys) != len(want) {
		t.Fatalf("ok %v, got %d entries (%d keys), want %d", ok, len(got), len(keys), len(want))
	}
	for i, n := range got {
		if keys[i] != identity.PeerIDFromPublicKey(n.ID[:]).Key() {
			t.Fatalf("key %d wrong", i)
		}
	}
	// A repeated ID fails the list, even between families.
	bad := slices.Clone(ns)
	bad[4].ID = bad[1].ID
	if _, _, ok := d.checkNodes(bad); ok {
		t.Error("a repeated ID passed")
	}
	bad = slices.Clone(ns)
	bad[7].Addr = netip.AddrPort{}
	if _, _, ok := d.checkNodes(bad); ok {
		t.Error("an unusable address passed")
	}
}

package gossip

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// TestKeyLRUMatchesSimpleLRU runs random operations on a keyLRU and on
// golang-lru's simplelru (the reference) side by side and compares every
// result, the length and finally the eviction order. Keys come from a
// small pool, so hits, updates, removals and evictions are all common;
// some keys share their first bytes and others differ only in the last.
func TestKeyLRUMatchesSimpleLRU(t *testing.T) {
	for _, tc := range []struct{ size, tagBits int }{
		{1, -1}, {2, -1}, {3, -1}, {7, -1}, {64, -1}, {300, -1},
		// Few tag bits (as a table of 2^30 entries would have): keys
		// often share home and tag, so the key comparison decides.
		{64, 1}, {300, 2},
		// None (2^31 entries and more): every probe reads the key.
		{300, 0},
	} {
		size := tc.size
		r := rand.New(rand.NewPCG(uint64(size), 9))
		pool := make([][keyLen]byte, 3*size+5)
		for i := range pool {
			switch i % 3 {
			case 0:
				pool[i][keyLen-1] = byte(i) // differ only at the end
				pool[i][keyLen-2] = byte(i >> 8)
			default:
				for j := range pool[i] {
					pool[i][j] = byte(r.UintN(256))
				}
			}
		}
		got := newKeyLRU[int64](size)
		if tc.tagBits >= 0 {
			got.numMask = math.MaxUint32 >> tc.tagBits
		}
		ref, err := simplelru.NewLRU[[keyLen]byte, int64](size, nil)
		if err != nil {
			t.Fatal(err)
		}
		for step := range 20000 {
			k := pool[r.IntN(len(pool))]
			switch op := r.IntN(10); {
			case op < 4:
				v := r.Int64()
				if a, b := got.Add(k, v), ref.Add(k, v); a != b {
					t.Fatalf("size %d step %d: Add evicted %v, reference %v", size, step, a, b)
				}
			case op < 6:
				a, aok := got.Peek(k)
				b, bok := ref.Peek(k)
				if a != b || aok != bok {
					t.Fatalf("size %d step %d: Peek = %d %v, reference %d %v", size, step, a, aok, b, bok)
				}
			case op < 8:
				a, aok := got.Get(k)
				b, bok := ref.Get(k)
				if aok != bok || (aok && *a != b) {
					t.Fatalf("size %d step %d: Get = %v, reference %d %v", size, step, aok, b, bok)
				}
				if aok {
					*a++ // Get's pointer writes in place
					ref.Add(k, b+1)
				}
			case op < 9:
				if a, b := got.Remove(k), ref.Remove(k); a != b {
					t.Fatalf("size %d step %d: Remove = %v, reference %v", size, step, a, b)
				}
			default:
				if a, b := got.Contains(k), ref.Contains(k); a != b {
					t.Fatalf("size %d step %d: Contains = %v, reference %v", size, step, a, b)
				}
			}
			if got.Len() != ref.Len() {
				t.Fatalf("size %d step %d: Len = %d, reference %d", size, step, got.Len(), ref.Len())
			}
		}
		// Eviction order: the keys from least to most recently used.
		var order [][keyLen]byte
		for i := got.tail; i != 0; i = got.ent(i).prev {
			order = append(order, got.ent(i).key)
		}
		want := ref.Keys()
		if len(order) != len(want) {
			t.Fatalf("size %d: %d keys in order, reference %d", size, len(order), len(want))
		}
		for i := range want {
			if order[i] != want[i] {
				t.Fatalf("size %d: key %d of eviction order differs", size, i)
			}
		}
		if len(got.ents) > size {
			t.Fatalf("size %d: %d entries allocated", size, len(got.ents))
		}
	}
}

// TestKeyLRUProbeRuns adds and removes keys at random in a table kept
// near its fullest (half its index slots), where probe runs of several
// slots are common, and checks after every step that every key is found
// with its value, or not at all: removal from the middle of a run must
// leave the rest of the run findable (backward-shift deletion).
func TestKeyLRUProbeRuns(t *testing.T) {
	c := newKeyLRU[int64](64)
	var keys [][keyLen]byte
	for i := range 64 {
		var k [keyLen]byte
		k[0], k[1] = byte(i), 0xee
		keys = append(keys, k)
		c.Add(k, int64(i))
	}
	r := rand.New(rand.NewPCG(1, 2))
	live := map[[keyLen]byte]int64{}
	for i, k := range keys {
		live[k] = int64(i)
	}
	for step := range 5000 {
		k := keys[r.IntN(len(keys))]
		if r.IntN(2) == 0 {
			c.Remove(k)
			delete(live, k)
		} else {
			c.Add(k, int64(step))
			live[k] = int64(step)
		}
		for _, k := range keys {
			v, ok := c.Peek(k)
			w, wok := live[k]
			if ok != wok || v != w {
				t.Fatalf("step %d: Peek = %d %v, want %d %v", step, v, ok, w, wok)
			}
		}
	}
	// Every occupied slot carries its key's tag beside the entry number.
	for s, v := range c.index {
		if v == 0 {
			continue
		}
		if _, tag := c.hash(&c.ent(v & c.numMask).key); v&^c.numMask != tag {
			t.Fatalf("slot %d: tag %#x, key's %#x", s, v&^c.numMask, tag)
		}
	}
	// The index never holds more than half its slots.
	if 2*c.Len() > len(c.index) {
		t.Fatalf("%d entries in an index of %d", c.Len(), len(c.index))
	}
}

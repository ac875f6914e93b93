package gossip

import (
	"hash/maphash"
	"math"
	"math/bits"
)

// keyLen is the length of a keyLRU key: a message ID or an Ed25519 public
// key.
const keyLen = 32

// keyLRU is a size-bounded LRU map from 32-byte keys to small values, with
// the behaviour of golang-lru's simplelru (Add, Get, Peek, Contains,
// Remove; Add past the size evicts the least recently used entry) in a
// fraction of its memory. simplelru keeps a heap-allocated list element
// (key, value, three pointers) and a map entry per key, about 130 bytes
// beside a 32-byte key and an 8-byte value; a node keeps such maps for
// every message and every publisher it has seen, so at 100,000 nodes they
// dominated the heap. Here entries live in one slice, linked by 32-bit
// indices, and the index is an open-addressing table of 32-bit entry
// numbers, each tagged with bits of its key's hash (linear probing,
// backward-shift deletion, at most half full): 40 bytes of entry and 4
// to 8 of index beside key and value, and no
// pointer for the garbage collector to follow unless V has one.
//
// The table hashes keys with hash/maphash under a seed of its own, so that
// nobody can pick keys that collide (a public key costs nothing to make).
// The seed changes only where entries sit in the table, never what a call
// returns, and nothing ever walks the table: order comes from the list.
//
// Entries are added at the front (most recent) and evicted from the back.
// Storage grows with use up to the size and is then reused in place: an
// evicted or removed entry's slot is taken by the next new key.
//
// Concurrency: not safe for concurrent use.
type keyLRU[V any] struct {
	size int
	ents []lruEnt[V] // entry i is number i+1
	free uint32      // a free entry number (chained through next); 0: none
	head uint32      // most recently used; 0: empty
	tail uint32      // least recently used
	n    int
	// index holds, per slot, an entry number in the bits of numMask and a
	// tag (the top bits of the key's hash) in the others; 0: empty. A
	// probe compares the tag in the slot and reads the entry's key only
	// when it matches, so a lookup of an absent key (every new message:
	// the dedup check, the pending table, Add) or a probe past another
	// key rarely reads an entry. len a power of two or 0.
	index   []uint32
	numMask uint32
	seed    maphash.Seed
}

type lruEnt[V any] struct {
	key        [keyLen]byte
	val        V
	prev, next uint32 // towards head and tail; 0: none
}

// newKeyLRU returns an empty keyLRU of at most size entries (size >= 1).
func newKeyLRU[V any](size int) *keyLRU[V] {
	c := new(keyLRU[V])
	c.init(size)
	return c
}

// init makes c an empty keyLRU of at most size entries (size >= 1), for
// one held by value.
func (c *keyLRU[V]) init(size int) {
	// Entry numbers go up to size; the bits above them carry the tag (none
	// left at 2^31 entries and more: every probe then reads the key).
	nb := bits.Len64(uint64(size))
	mask := uint32(math.MaxUint32)
	if nb < 32 {
		mask = 1<<nb - 1
	}
	*c = keyLRU[V]{size: size, numMask: mask, seed: maphash.MakeSeed()}
}

// Len returns the number of entries.
func (c *keyLRU[V]) Len() int { return c.n }

func (c *keyLRU[V]) ent(i uint32) *lruEnt[V] { return &c.ents[i-1] }

// hash returns k's home slot and its tag (in the bits above numMask).
// The slot comes from the low bits of the hash, the tag from the high
// ones, so that keys sharing a home still differ in tag.
func (c *keyLRU[V]) hash(k *[keyLen]byte) (home int, tag uint32) {
	h := maphash.Bytes(c.seed, k[:])
	return int(h) & (len(c.index) - 1), uint32(h>>32) &^ c.numMask
}

func (c *keyLRU[V]) home(k *[keyLen]byte) int {
	return int(maphash.Bytes(c.seed, k[:])) & (len(c.index) - 1)
}

// find returns the index slot holding k's entry number, or -1.
func (c *keyLRU[V]) find(k *[keyLen]byte) int {
	if c.n == 0 {
		return -1
	}
	mask := len(c.index) - 1
	s, tag := c.hash(k)
	for ; ; s = (s + 1) & mask {
		v := c.index[s]
		if v == 0 {
			return -1
		}
		if v&^c.numMask == tag && c.ents[v&c.numMask-1].key == *k {
			return s
		}
	}
}

// num returns the entry number in index slot s.
func (c *keyLRU[V]) num(s int) uint32 { return c.index[s] & c.numMask }

// Peek returns k's value without marking it used.
func (c *keyLRU[V]) Peek(k [keyLen]byte) (v V, ok bool) {
	if s := c.find(&k); s >= 0 {
		return c.ent(c.num(s)).val, true
	}
	return v, false
}

// Contains reports whether k is present, without marking it used.
func (c *keyLRU[V]) Contains(k [keyLen]byte) bool { return c.find(&k) >= 0 }

// Get returns a pointer to k's value, valid until the next Add or Remove,
// and marks k most recently used.
func (c *keyLRU[V]) Get(k [keyLen]byte) (*V, bool) {
	s := c.find(&k)
	if s < 0 {
		return nil, false
	}
	i := c.num(s)
	c.unlink(i)
	c.pushFront(i)
	return &c.ent(i).val, true
}

// Add sets k's value and marks it most recently used; a new key past the
// size evicts the least recently used entry, and evicted reports that.
func (c *keyLRU[V]) Add(k [keyLen]byte, v V) (evicted bool) {
	if s := c.find(&k); s >= 0 {
		i := c.num(s)
		c.ent(i).val = v
		c.unlink(i)
		c.pushFront(i)
		return false
	}
	if c.n >= c.size {
		c.Remove(c.ent(c.tail).key)
		evicted = true
	}
	var i uint32
	if c.free != 0 {
		i = c.free
		c.free = c.ent(i).next
	} else {
		if len(c.ents) == cap(c.ents) {
			// Grow by doubling, but never past the size.
			grown := make([]lruEnt[V], len(c.ents), min(c.size, max(4, 2*cap(c.ents))))
			copy(grown, c.ents)
			c.ents = grown
		}
		c.ents = append(c.ents, lruEnt[V]{})
		i = uint32(len(c.ents))
	}
	*c.ent(i) = lruEnt[V]{key: k, val: v}
	c.pushFront(i)
	c.n++
	if 2*c.n > len(c.index) {
		c.rehash(max(8, 2*len(c.index)))
	} else {
		c.insert(i)
	}
	return evicted
}

// Oldest returns the least recently used key and its value, without
// marking it used; ok is false when c is empty.
func (c *keyLRU[V]) Oldest() (k [keyLen]byte, v V, ok bool) {
	if c.tail == 0 {
		return k, v, false
	}
	e := c.ent(c.tail)
	return e.key, e.val, true
}

// Remove deletes k and reports whether it was present.
func (c *keyLRU[V]) Remove(k [keyLen]byte) bool {
	s := c.find(&k)
	if s < 0 {
		return false
	}
	i := c.num(s)
	c.unindex(s)
	c.unlink(i)
	var zero V
	e := c.ent(i)
	e.val = zero // let go of anything V points to
	e.next = c.free
	c.free = i
	c.n--
	return true
}

// insert puts entry number i in the index (not full).
func (c *keyLRU[V]) insert(i uint32) {
	mask := len(c.index) - 1
	s, tag := c.hash(&c.ent(i).key)
	for c.index[s] != 0 {
		s = (s + 1) & mask
	}
	c.index[s] = tag | i
}

// unindex empties index slot s and moves later entries of its probe run
// back into the gap, so that no lookup ends early at it (backward-shift
// deletion: no tombstones).
func (c *keyLRU[V]) unindex(s int) {
	mask := len(c.index) - 1
	for {
		c.index[s] = 0
		j := s
		for {
			j = (j + 1) & mask
			v := c.index[j]
			if v == 0 {
				return
			}
			// The entry at j may move to s unless its home lies
			// cyclically in (s, j]: then s is not on its probe path.
			h := c.home(&c.ent(v & c.numMask).key)
			if (j-h)&mask >= (j-s)&mask {
				c.index[s] = v
				s = j
				break
			}
		}
	}
}

func (c *keyLRU[V]) rehash(n int) {
	c.index = make([]uint32, n)
	for i := c.head; i != 0; i = c.ent(i).next {
		c.insert(i)
	}
}

func (c *keyLRU[V]) pushFront(i uint32) {
	e := c.ent(i)
	e.prev, e.next = 0, c.head
	if c.head != 0 {
		c.ent(c.head).prev = i
	} else {
		c.tail = i
	}
	c.head = i
}

func (c *keyLRU[V]) unlink(i uint32) {
	e := c.ent(i)
	if e.prev != 0 {
		c.ent(e.prev).next = e.next
	} else {
		c.head = e.next
	}
	if e.next != 0 {
		c.ent(e.next).prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = 0, 0
}

package gossip

import (
	"hash/maphash"
	"math/bits"
)

// entryIndex finds a history's entries by message ID: an open-addressing
// table of entry pointers (linear probing, backward-shift deletion, at
// most half full), read through each entry's record for its ID. It takes
// 8 to 16 bytes an entry where a map[ID]*entry takes about 50 (the key is
// stored again beside the pointer, in groups sized for growth), and it
// shrinks as the history empties. Keys are hashed with hash/maphash under
// a seed of the table's own, which decides only where entries sit: no
// lookup's answer depends on it, and nothing walks the table.
//
// In front of the table sit the last recentLen entries set (recent, with
// their tags in rtags): announcements and duplicates of a message mostly
// come within a moment of it, while it is among the newest, and then a
// lookup reads these few words beside the table's header instead of a
// random slot of it. Every entry there is the table's entry for its ID
// (set and remove keep it so), so an answer from there is the table's
// answer. Entries keep a tag of their ID (the first 4 bytes), compared
// before the record's ID, so a probe past another ID reads the entry but
// not its record.
//
// Concurrency: not safe for concurrent use.
type entryIndex struct {
	slots  []*entry // nil: empty; len a power of two or 0
	n      int
	seed   maphash.Seed
	rtags  uint64            // byte i: the low byte of recent[i]'s tag
	recent [recentLen]*entry // nil: none
	rnext  int               // the next of recent to overwrite
}

// recentLen is how many of the newest entries the index checks first:
// one tag byte each in rtags.
const recentLen = 8

// Byte-wise constants for comparing the eight tag bytes of rtags at once.
const (
	bytesLo = 0x0101010101010101
	bytesHi = 0x8080808080808080
)

func newEntryIndex() entryIndex { return entryIndex{seed: maphash.MakeSeed()} }

// minIndex is the smallest table, and the size below which it never
// shrinks.
const minIndex = 8

func (x *entryIndex) len() int { return x.n }

func (x *entryIndex) home(id *ID) int {
	return int(maphash.Bytes(x.seed, id[:])) & (len(x.slots) - 1)
}

// find returns the slot holding id's entry, or -1.
func (x *entryIndex) find(id *ID) int {
	if x.n == 0 {
		return -1
	}
	mask := len(x.slots) - 1
	tag := idTag(id)
	for s := x.home(id); ; s = (s + 1) & mask {
		e := x.slots[s]
		if e == nil {
			return -1
		}
		// The tag, in the entry, first: a probe past another ID then
		// does not follow the entry's record pointer.
		if e.tag == tag && e.msg.id == *id {
			return s
		}
	}
}

// get returns id's entry, or nil.
func (x *entryIndex) get(id ID) *entry {
	if e := x.fromRecent(&id); e != nil {
		return e
	}
	if s := x.find(&id); s >= 0 {
		return x.slots[s]
	}
	return nil
}

// fromRecent returns id's entry if it is one of recent, or nil.
func (x *entryIndex) fromRecent(id *ID) *entry {
	tag := idTag(id)
	// The bytes of rtags equal to the tag's low byte become zero, and
	// each zero byte sets its top bit in m (so may a 0x01 byte above a
	// zero one: every candidate is checked in full).
	b := x.rtags ^ uint64(byte(tag))*bytesLo
	for m := (b - bytesLo) &^ b & bytesHi; m != 0; m &= m - 1 {
		if e := x.recent[bits.TrailingZeros64(m)/8]; e != nil && e.tag == tag && e.msg.id == *id {
			return e
		}
	}
	return nil
}

// set makes e the entry of its ID, replacing any other. It sets e's tag.
func (x *entryIndex) set(e *entry) {
	e.tag = idTag(&e.msg.id)
	if s := x.find(&e.msg.id); s >= 0 {
		x.forget(x.slots[s])
		x.slots[s] = e
	} else {
		x.n++
		if 2*x.n > len(x.slots) {
			x.resize(max(minIndex, 2*len(x.slots)))
		}
		x.insert(e)
	}
	sh := 8 * uint(x.rnext)
	x.recent[x.rnext] = e
	x.rtags = x.rtags&^(0xff<<sh) | uint64(byte(e.tag))<<sh
	x.rnext = (x.rnext + 1) % recentLen
}

// forget takes e out of recent, if there.
func (x *entryIndex) forget(e *entry) {
	for i, r := range x.recent {
		if r == e {
			x.recent[i] = nil // its tag byte stays: get checks for nil
		}
	}
}

// remove deletes e if it is the entry of its ID.
func (x *entryIndex) remove(e *entry) {
	s := x.find(&e.msg.id)
	if s < 0 || x.slots[s] != e {
		return
	}
	x.forget(e)
	x.n--
	mask := len(x.slots) - 1
	for {
		x.slots[s] = nil
		j := s
		for {
			j = (j + 1) & mask
			f := x.slots[j]
			if f == nil {
				if len(x.slots) > minIndex && 8*x.n <= len(x.slots) {
					x.resize(len(x.slots) / 2)
				}
				return
			}
			// f may move to s unless its home lies cyclically in
			// (s, j]: then s is not on its probe path.
			if h := x.home(&f.msg.id); (j-h)&mask >= (j-s)&mask {
				x.slots[s] = f
				s = j
				break
			}
		}
	}
}

func (x *entryIndex) insert(e *entry) {
	mask := len(x.slots) - 1
	s := x.home(&e.msg.id)
	for x.slots[s] != nil {
		s = (s + 1) & mask
	}
	x.slots[s] = e
}

func (x *entryIndex) resize(n int) {
	old := x.slots
	x.slots = make([]*entry, n)
	for _, e := range old {
		if e != nil {
			x.insert(e)
		}
	}
}

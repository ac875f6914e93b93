package gossip

import "hash/maphash"

// entryIndex finds a history's entries by message ID: an open-addressing
// table of entry pointers (linear probing, backward-shift deletion, at
// most half full), read through each entry's record for its ID. It takes
// 8 to 16 bytes an entry where a map[ID]*entry takes about 50 (the key is
// stored again beside the pointer, in groups sized for growth), and it
// shrinks as the history empties. Keys are hashed with hash/maphash under
// a seed of the table's own, which decides only where entries sit: no
// lookup's answer depends on it, and nothing walks the table.
//
// Concurrency: not safe for concurrent use.
type entryIndex struct {
	slots []*entry // nil: empty; len a power of two or 0
	n     int
	seed  maphash.Seed
}

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
	for s := x.home(id); ; s = (s + 1) & mask {
		e := x.slots[s]
		if e == nil {
			return -1
		}
		if e.msg.id == *id {
			return s
		}
	}
}

// get returns id's entry, or nil.
func (x *entryIndex) get(id ID) *entry {
	if s := x.find(&id); s >= 0 {
		return x.slots[s]
	}
	return nil
}

// set makes e the entry of its ID, replacing any other.
func (x *entryIndex) set(e *entry) {
	if s := x.find(&e.msg.id); s >= 0 {
		x.slots[s] = e
		return
	}
	x.n++
	if 2*x.n > len(x.slots) {
		x.resize(max(minIndex, 2*len(x.slots)))
	}
	x.insert(e)
}

// remove deletes e if it is the entry of its ID.
func (x *entryIndex) remove(e *entry) {
	s := x.find(&e.msg.id)
	if s < 0 || x.slots[s] != e {
		return
	}
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

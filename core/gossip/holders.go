package gossip

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// maxHolders bounds the peers remembered as holding one message.
const maxHolders = 32

// holderSet is the bounded set of peers known to hold one message. It is
// asked "does a hold it?" for every announcement received and for every
// peer considered when forwarding or announcing, so membership must be
// cheap: an IPv4 address and port (every address in simulation, most on
// the Internet) is kept as an exact 64-bit key (addrKey) in a compact,
// pointer-free slice, 8 bytes a holder where a netip.AddrPort takes 32;
// any other address is kept whole, in a slice allocated only when one
// comes (most sets never see one, so an empty set takes 32 bytes, not 48).
// Only membership is ever asked, so the split changes no outcome.
//
// Concurrency: not safe for concurrent use.
type holderSet struct {
	keys  []uint64          // addrKey of IPv4 holders
	other *[]netip.AddrPort // holders without a key (IPv6); nil: none
}

// holderSetCap is the first allocation of a set's keys: most messages
// are announced by a handful of peers, and growing from nil would take
// four allocations to get there.
const holderSetCap = 8

// addrKey returns an exact key for an IPv4 address and port: the address
// in bits 16-47, the port in bits 0-15 and a tag in bit 48, so that no key
// is zero. ok is false for any other address (IPv6, IPv4-mapped IPv6,
// invalid), which has no key: netip tells ::ffff:a.b.c.d from a.b.c.d.
func addrKey(a netip.AddrPort) (key uint64, ok bool) {
	ip := a.Addr()
	if !ip.Is4() {
		return 0, false
	}
	b := ip.As4()
	return 1<<48 | uint64(binary.BigEndian.Uint32(b[:]))<<16 | uint64(a.Port()), true
}

// len returns the number of holders.
func (s *holderSet) len() int {
	if s.other == nil {
		return len(s.keys)
	}
	return len(s.keys) + len(*s.other)
}

// has reports whether a is a holder; a nil set has none.
func (s *holderSet) has(a netip.AddrPort) bool {
	if s == nil {
		return false
	}
	if k, ok := addrKey(a); ok {
		return slices.Contains(s.keys, k)
	}
	return s.other != nil && slices.Contains(*s.other, a)
}

// add records a as a holder, up to maxHolders; it reports whether a was
// added (false: already there or the set is full).
func (s *holderSet) add(a netip.AddrPort) bool {
	if s.len() >= maxHolders {
		return false
	}
	k, ok := addrKey(a)
	switch {
	case !ok:
		if s.other == nil {
			s.other = new([]netip.AddrPort)
		} else if slices.Contains(*s.other, a) {
			return false
		}
		*s.other = append(*s.other, a)
	case slices.Contains(s.keys, k):
		return false
	default:
		if s.keys == nil {
			s.keys = make([]uint64, 0, holderSetCap)
		}
		s.keys = append(s.keys, k)
	}
	return true
}

// A set is allocated with its keys in one object, a holderBlock: asking
// or adding a holder (every IHAVE and duplicate received, every peer
// considered when forwarding or announcing) then reads the set and its
// first keys from one place instead of two objects the allocator
// scattered, at 10,000 nodes two cache misses. An entry's set grows by
// moving to a block of twice the keys (entry.addHolder), so each size
// takes what the set and its separately grown keys took before: 96 bytes
// up to 8 holders, 160 up to 16, 288 up to 32 (32 + 64, 128, 256).
type (
	holderBlock8 struct {
		s   holderSet
		buf [8]uint64
	}
	holderBlock16 struct {
		s   holderSet
		buf [16]uint64
	}
	holderBlock32 struct {
		s   holderSet
		buf [32]uint64
	}
)

// newHolderBlock returns an empty set with room for n keys (8, 16 or
// 32) in the same object.
func newHolderBlock(n int) *holderSet {
	switch {
	case n <= 8:
		b := new(holderBlock8)
		b.s.keys = b.buf[:0]
		return &b.s
	case n <= 16:
		b := new(holderBlock16)
		b.s.keys = b.buf[:0]
		return &b.s
	default:
		b := new(holderBlock32)
		b.s.keys = b.buf[:0]
		return &b.s
	}
}

// grown returns a copy of s in a block with twice its key room (at most
// maxHolders).
func (s *holderSet) grown() *holderSet {
	g := newHolderBlock(min(maxHolders, 2*cap(s.keys)))
	g.keys = append(g.keys, s.keys...)
	g.other = s.other
	return g
}

// addGrowing adds a as add does, but when a new IPv4 holder finds the
// keys full it first moves the set to a block with twice the room, and
// returns the set as it is now (s or its larger copy).
func (s *holderSet) addGrowing(a netip.AddrPort) *holderSet {
	k, ok := addrKey(a)
	if !ok {
		s.add(a)
		return s
	}
	if s.len() >= maxHolders || slices.Contains(s.keys, k) {
		return s
	}
	if len(s.keys) == cap(s.keys) {
		s = s.grown()
	}
	s.keys = append(s.keys, k)
	return s
}

// reset forgets every holder and frees the storage.
func (s *holderSet) reset() { *s = holderSet{} }

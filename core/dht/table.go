package dht

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core/identity"
)

// Buckets is the number of k-buckets: one per common-prefix length with
// the own key, 0 (the farthest half of the key space) to 255.
const Buckets = identity.KeyLen * 8

// Outcome is the result of Table.Update.
type Outcome int

// Update outcomes.
const (
	// Added: the peer is new and went into its bucket.
	Added Outcome = iota
	// Updated: the peer was known; it moved to its bucket's tail.
	Updated
	// Full: the bucket is full. The newcomer went into the replacement
	// cache; the caller should ping the returned oldest entry and, if it
	// does not answer, Remove it (which promotes a replacement). Kademlia
	// §2.2 and §4.1.
	Full
	// Rejected: the diversity limits refuse the peer's address.
	Rejected
	// Invalid: the own ID, a zero ID or an unusable address.
	Invalid
)

// Diversity limits the peers from one network prefix, against eclipse and
// routing-table poisoning (S/Kademlia, Baumgart and Mies 2007; IPFS's
// go-libp2p-kbucket peerdiversity filter).
type Diversity struct {
	Enabled             bool
	PerBucket, PerTable int
	IPv4Bits, IPv6Bits  int
}

// entry is a table slot or a replacement: a PeerInfo in 128 pointer-free
// bytes (the garbage collector never scans it). The address is kept as its
// 16-byte form (As16, two big-endian words) and port; the zone of a zoned
// IPv6 address, rare, in Table.zones. LastSeen is a stamp (Table.stamp).
type entry struct {
	id       identity.PeerID
	key      identity.Key // id.Key()
	ip       [2]uint64    // address, As16 as big-endian words
	seen     int64        // LastSeen (Table.stamp)
	rtt      time.Duration
	rep      float64
	bw       uint64 // Capabilities.MaxBandwidth
	seq      uint64 // admission order, for the deep cap's trim (SetDepth)
	failures int32
	port     uint16
	flags    uint8
	bucket   uint8
}

// entry.flags bits.
const (
	flagRelay = 1 << iota // Capabilities.IsRelay
	flagNAT               // Capabilities.SupportsNATTraversal
	flagV4                // the address is IPv4
	flagZone              // the address has a zone, in Table.zones
)

// caps returns e's capabilities.
func (e *entry) caps() Capabilities {
	return Capabilities{IsRelay: e.flags&flagRelay != 0, SupportsNATTraversal: e.flags&flagNAT != 0, MaxBandwidth: e.bw}
}

// setCaps records c in e.
func (e *entry) setCaps(c Capabilities) {
	e.flags &^= flagRelay | flagNAT
	if c.IsRelay {
		e.flags |= flagRelay
	}
	if c.SupportsNATTraversal {
		e.flags |= flagNAT
	}
	e.bw = c.MaxBandwidth
}

// wireFlags returns e's capabilities as wire flags (Capabilities.Flags).
func (e *entry) wireFlags() uint8 { return e.caps().Flags() }

// addrWords returns ap's address as As16 words.
func addrWords(a netip.Addr) [2]uint64 {
	if a.Is4() {
		b := a.As4()
		return [2]uint64{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// endpoint is an address as Table.byAddr orders it: IPv4 before IPv6,
// then by address words, then port (the zone is left out).
type endpoint struct {
	v6   bool
	ip   [2]uint64
	port uint16
}

// endpointOf returns ap's endpoint.
func endpointOf(ap netip.AddrPort) endpoint {
	a := ap.Addr()
	return endpoint{!a.Is4(), addrWords(a), ap.Port()}
}

// before reports whether ep comes before e's endpoint.
func (ep *endpoint) before(e *entry) bool {
	if v6 := e.flags&flagV4 == 0; v6 != ep.v6 {
		return v6
	}
	if e.ip[0] != ep.ip[0] {
		return ep.ip[0] < e.ip[0]
	}
	if e.ip[1] != ep.ip[1] {
		return ep.ip[1] < e.ip[1]
	}
	return ep.port < e.port
}

// endpoint returns e's endpoint.
func (e *entry) endpoint() endpoint { return endpoint{e.flags&flagV4 == 0, e.ip, e.port} }

// group is a diversity group: an address masked to its family's prefix
// length, as netip.Addr.Prefix(IPv4Bits or IPv6Bits) gives it (validAddr
// excludes the IPv4-mapped IPv6 addresses, the only ones whose masked
// words could equal an IPv4 group's). noGroup stands for the zero Prefix that
// netip.Addr.Prefix returns for a prefix length out of range (all the
// family's addresses in one group); no usable address masks to it (it
// would be multicast).
type group [2]uint64

var noGroup = group{^uint64(0), ^uint64(0)}

type bucket struct {
	entries []*entry // least recently seen first
	// k0 holds the first 8 bytes of each entry's key (big-endian), in
	// entries' order: Closest scans them without touching the entries.
	k0      []uint64
	repl    []*entry // replacement cache, most recently seen last
	touched int64    // stamp of the last lookup into the bucket
}

// grown returns s with room for one more element: capacities double up
// to limit, so a bucket holds at most a few spare slots and a full one
// none.
func grown[T any](s []T, limit int) []T {
	if len(s) < cap(s) {
		return s
	}
	n := min(max(2*cap(s), 2), limit)
	if n <= len(s) {
		n = len(s) + 1
	}
	out := make([]T, len(s), n)
	copy(out, s)
	return out
}

// grownIndex returns index s with room for one more element: capacities
// grow by a quarter, so an index has little spare room.
func grownIndex[T any](s []T) []T {
	if len(s) < cap(s) {
		return s
	}
	out := make([]T, len(s), max(len(s)+len(s)/4, 8))
	copy(out, s)
	return out
}

func (b *bucket) appendEntry(e *entry, k int) {
	b.entries = append(grown(b.entries, k), e)
	b.k0 = append(grown(b.k0, k), prefix64(&e.key))
}

func (b *bucket) deleteEntry(j int) {
	b.entries = slices.Delete(b.entries, j, j+1)
	b.k0 = slices.Delete(b.k0, j, j+1)
}

// moveToTail makes entry j the most recently seen.
func (b *bucket) moveToTail(j int) {
	e, k := b.entries[j], b.k0[j]
	copy(b.entries[j:], b.entries[j+1:])
	copy(b.k0[j:], b.k0[j+1:])
	b.entries[len(b.entries)-1], b.k0[len(b.k0)-1] = e, k
}

// replIndex returns the index of id in the replacement cache, -1 if none.
func (b *bucket) replIndex(id *identity.PeerID) int {
	for j, r := range b.repl {
		if r.id == *id {
			return j
		}
	}
	return -1
}

func prefix64(k *identity.Key) uint64 { return binary.BigEndian.Uint64(k[:8]) }

// idPrefix returns the first 8 bytes of id (big-endian).
func idPrefix(id *identity.PeerID) uint64 { return binary.BigEndian.Uint64(id.PublicKey()[:8]) }

// idRef is an entry of Table.byID: the first 8 bytes of the entry's ID
// beside it, so that the search reads no entry but the one found.
type idRef struct {
	id0 uint64
	e   *entry
}

// zeroStamp is the stamp of the zero time.
const zeroStamp = math.MinInt64

// Table is a Kademlia routing table (Kademlia §2.2): 256 buckets of at most
// k peers by common-prefix length with the own key, each ordered from least
// to most recently seen, with a replacement cache per bucket. It only
// records what the caller tells it: the DHT calls Update for peers that
// answered a request, never for peers merely mentioned in a NODES list.
//
// Memory: a peer costs a 128-byte entry and about 40 bytes of slices that
// order it (its bucket, the ID index and, with diversity limits, the
// address index); nothing is kept per diversity group or endpoint. Times
// are kept as nanoseconds from the first time the table was given (a
// stamp), and given back as that time plus the offset: the same instant
// (and monotonic reading) for times within ±292 years of it, in its
// location (a node's clock gives all its times in one).
//
// Concurrency: not safe for concurrent use.
type Table struct {
	self    identity.PeerID
	selfKey identity.Key
	k, repl int
	div     Diversity
	// mask4 and mask6 mask an IPv4 (as As16) or IPv6 address to its
	// diversity group; bad4 and bad6 say the family's prefix length is out
	// of range (netip.Addr.Prefix fails: one group, noGroup).
	mask4, mask6 [2]uint64
	bad4, bad6   bool
	// buckets[i] is bucket i. Buckets past the end are empty and were last
	// touched at touchedAll: the slice grows when a bucket is first used,
	// so a table holds a few dozen buckets rather than 256.
	buckets    []bucket
	touchedAll int64
	// epoch is the time stamps count from (stamp), set by the first
	// non-zero time given. epochNano is its UnixNano; unixStamps says
	// stamps may be taken as differences of UnixNano (the epoch has no
	// monotonic reading and is within unixSafe of 1970).
	epoch      time.Time
	epochNano  int64
	epochSet   bool
	unixStamps bool
	// byID holds the table's entries (not the replacements) ordered by
	// ID prefix: Get, Fail, Remove and Update find a peer by binary search.
	byID []idRef
	// byAddr holds the table's entries ordered by address and port, when
	// limits are on. The peers of one diversity group are a run in it (a
	// group is an address prefix), so the table limit is a binary search
	// and one look (fits); and one socket is one node: a second identity
	// at an address already in the table is refused (several Sybil
	// identities behind one address get one slot).
	byAddr []*entry
	// zones holds the zones of entries (table or replacement) with a zoned
	// address; nil until one comes. Only looked up, never iterated.
	zones map[*entry]string
	// depth is the network's depth in key bits as the node's own lookups
	// measure it (SetDepth), -1 while unknown.
	depth int
	// admitted numbers admissions (entry.seq).
	admitted uint64
	version  uint64
	scratch  []distEntry // Closest's working set
}

// at returns bucket i, creating it (and those below it) if needed. It may
// move the buckets: pointers from an earlier call to a higher index die.
// The slice is sized to the buckets in use.
func (t *Table) at(i int) *bucket {
	if n := len(t.buckets); n <= i {
		bs := make([]bucket, i+1)
		copy(bs, t.buckets)
		for j := n; j <= i; j++ {
			bs[j].touched = t.touchedAll
		}
		t.buckets = bs
	}
	return &t.buckets[i]
}

// entriesIn returns bucket i's entries without creating it.
func (t *Table) entriesIn(i int) []*entry {
	if i < len(t.buckets) {
		return t.buckets[i].entries
	}
	return nil
}

// replIn returns bucket i's replacement cache without creating it.
func (t *Table) replIn(i int) []*entry {
	if i < len(t.buckets) {
		return t.buckets[i].repl
	}
	return nil
}

// mask6 returns the As16 mask of an n-bit prefix (0 <= n <= 128).
func mask6(n int) [2]uint64 {
	return [2]uint64{^uint64(0) << (64 - min(n, 64)), ^uint64(0) << (64 - max(n-64, 0))}
}

// NewTable returns an empty table for self with bucket size k, replacement
// caches of repl entries and the given diversity limits.
func NewTable(self identity.PeerID, k, repl int, div Diversity) *Table {
	t := &Table{
		self: self, selfKey: self.Key(), k: k, repl: repl, div: div,
		touchedAll: zeroStamp,
		depth:      -1,
	}
	t.bad4 = div.IPv4Bits < 0 || div.IPv4Bits > 32
	t.bad6 = div.IPv6Bits < 0 || div.IPv6Bits > 128
	if !t.bad4 {
		t.mask4 = mask6(96 + div.IPv4Bits)
	}
	if !t.bad6 {
		t.mask6 = mask6(div.IPv6Bits)
	}
	return t
}

// unixSafe bounds, in seconds from 1970, the times whose UnixNano and
// whose differences fit in an int64 (146 years).
const unixSafe = math.MaxInt64 / 2 / int64(time.Second)

// stamp returns now as kept in the table: nanoseconds since the epoch,
// now.Sub(epoch). Without a monotonic reading in the epoch, Sub is the
// difference of the wall clocks, which UnixNano gives faster.
func (t *Table) stamp(now time.Time) int64 {
	if now.IsZero() {
		return zeroStamp
	}
	if !t.epochSet {
		t.epoch, t.epochSet = now, true
		u := now.Unix()
		t.unixStamps = now == now.Round(0) && u > -unixSafe && u < unixSafe
		t.epochNano = now.UnixNano()
	}
	if u := now.Unix(); t.unixStamps && u > -unixSafe && u < unixSafe {
		return now.UnixNano() - t.epochNano
	}
	return int64(now.Sub(t.epoch))
}

// timeAt returns the time of stamp s.
func (t *Table) timeAt(s int64) time.Time {
	if s == zeroStamp {
		return time.Time{}
	}
	return t.epoch.Add(time.Duration(s))
}

// newEntry returns the entry of p (whose key is set, whose address's
// endpoint is ep) in bucket i.
func (t *Table) newEntry(p *PeerInfo, ep *endpoint, i int) *entry {
	e := &entry{
		id: p.ID, key: p.key, ip: ep.ip, seen: t.stamp(p.LastSeen),
		rtt: p.RTT, rep: p.Reputation, port: ep.port, bucket: uint8(i),
	}
	e.setCaps(p.Capabilities)
	if !ep.v6 {
		e.flags |= flagV4
	} else if z := p.Addr.Addr().Zone(); z != "" {
		e.flags |= flagZone
		if t.zones == nil {
			t.zones = make(map[*entry]string)
		}
		t.zones[e] = z
	}
	return e
}

// discard forgets what the table keeps beside e, which it no longer holds
// (neither as a peer nor as a replacement).
func (t *Table) discard(e *entry) {
	if e.flags&flagZone != 0 {
		delete(t.zones, e)
	}
}

// addrOf returns e's address.
func (t *Table) addrOf(e *entry) netip.AddrPort {
	var a netip.Addr
	if e.flags&flagV4 != 0 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(e.ip[1]))
		a = netip.AddrFrom4(b)
	} else {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], e.ip[0])
		binary.BigEndian.PutUint64(b[8:], e.ip[1])
		a = netip.AddrFrom16(b)
		if e.flags&flagZone != 0 {
			a = a.WithZone(t.zones[e])
		}
	}
	return netip.AddrPortFrom(a, e.port)
}

// info returns a copy of e as a PeerInfo.
func (t *Table) info(e *entry) PeerInfo {
	var p PeerInfo
	t.fill(&p, e)
	return p
}

// fill sets *p to a copy of e, in place (a PeerInfo is 152 bytes).
func (t *Table) fill(p *PeerInfo, e *entry) {
	p.ID, p.key = e.id, e.key
	p.Addr = t.addrOf(e)
	p.LastSeen = t.timeAt(e.seen)
	p.RTT, p.Reputation = e.rtt, e.rep
	p.IsRelay, p.SupportsNATTraversal, p.MaxBandwidth = e.flags&flagRelay != 0, e.flags&flagNAT != 0, e.bw
}

// find returns the table's entry for id, nil if none.
func (t *Table) find(id identity.PeerID) *entry {
	id0 := idPrefix(&id)
	for j := t.idSearch(id0); j < len(t.byID) && t.byID[j].id0 == id0; j++ {
		if e := t.byID[j].e; e.id == id {
			return e
		}
	}
	return nil
}

// idSearch returns the index of the first entry of byID whose ID prefix
// is at least id0.
func (t *Table) idSearch(id0 uint64) int {
	lo, hi := 0, len(t.byID)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.byID[m].id0 < id0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// indexID adds e to byID, after the entries of an equal prefix.
func (t *Table) indexID(e *entry) {
	id0 := idPrefix(&e.id)
	j := t.idSearch(id0)
	for j < len(t.byID) && t.byID[j].id0 == id0 {
		j++
	}
	t.byID = slices.Insert(grownIndex(t.byID), j, idRef{id0, e})
}

// unindexID removes e from byID.
func (t *Table) unindexID(e *entry) {
	id0 := idPrefix(&e.id)
	for j := t.idSearch(id0); j < len(t.byID) && t.byID[j].id0 == id0; j++ {
		if t.byID[j].e == e {
			t.byID = slices.Delete(t.byID, j, j+1)
			return
		}
	}
}

// addrSearch returns the index of the first entry of byAddr[lo:hi] at or
// after ep (hi if none).
func (t *Table) addrSearch(lo, hi int, ep endpoint) int {
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if e := t.byAddr[m]; e.before(&ep) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// before reports whether e's endpoint comes before ep.
func (e *entry) before(ep *endpoint) bool {
	if v6 := e.flags&flagV4 == 0; v6 != ep.v6 {
		return ep.v6
	}
	if e.ip[0] != ep.ip[0] {
		return e.ip[0] < ep.ip[0]
	}
	if e.ip[1] != ep.ip[1] {
		return e.ip[1] < ep.ip[1]
	}
	return e.port < ep.port
}

// indexAddr adds e to byAddr, after the entries of an equal address.
func (t *Table) indexAddr(e *entry) {
	ep := e.endpoint()
	j := t.addrSearch(0, len(t.byAddr), ep)
	for j < len(t.byAddr) && t.byAddr[j].endpoint() == ep {
		j++
	}
	t.byAddr = slices.Insert(grownIndex(t.byAddr), j, e)
}

// unindexAddr removes e from byAddr.
func (t *Table) unindexAddr(e *entry) {
	for j := t.addrSearch(0, len(t.byAddr), e.endpoint()); j < len(t.byAddr); j++ {
		if t.byAddr[j] == e {
			t.byAddr = slices.Delete(t.byAddr, j, j+1)
			return
		}
	}
}

// SetDepth tells the table how deep the network is: about log2(N/k) key
// bits, the common-prefix length of a random key with the k-th closest
// peer to it. With diversity limits on, the buckets deeper than depth+1
// then hold at most k peers between them (Kademlia needs only the k
// closest; honest peers that close to the own key are about
// N/2^(depth+2), fewer than k), so peers ground to sit next to the node's
// key (an eclipse attack) compete for those k slots instead of filling a
// bucket of k per bit. If the deep buckets hold more than k, the latest
// admitted go; they are returned. The depth must come from lookups such
// peers cannot steer (far from the own key). d < 0 lifts the cap.
func (t *Table) SetDepth(d int) (trimmed []PeerInfo) {
	t.depth = d
	if !t.div.Enabled || d < 0 {
		return nil
	}
	for t.deepCount() > t.k {
		var last *entry
		for j := d + 2; j < len(t.buckets); j++ {
			for _, e := range t.buckets[j].entries {
				if last == nil || e.seq > last.seq {
					last = e
				}
			}
		}
		t.remove(last)
		trimmed = append(trimmed, t.info(last))
		t.discard(last)
	}
	return trimmed
}

// Depth returns the depth set by SetDepth, -1 if none.
func (t *Table) Depth() int { return t.depth }

// deepCount returns the peers in the buckets beyond depth+1.
func (t *Table) deepCount() int {
	n := 0
	for j := t.depth + 2; j < len(t.buckets); j++ {
		n += len(t.buckets[j].entries)
	}
	return n
}

// deepFull reports whether bucket i lies beyond depth+1 and the buckets
// there already hold k peers.
func (t *Table) deepFull(i int) bool {
	return t.div.Enabled && t.depth >= 0 && i > t.depth+1 && t.deepCount() >= t.k
}

// Len returns the number of peers in the table.
func (t *Table) Len() int { return len(t.byID) }

// Self returns the table owner's key.
func (t *Table) Self() identity.Key { return t.selfKey }

// Version changes whenever the table changes (membership, order, RTTs).
func (t *Table) Version() uint64 { return t.version }

// BucketIndex returns the bucket of key: its common-prefix length with the
// own key, or -1 for the own key.
func (t *Table) BucketIndex(key identity.Key) int {
	i := identity.Xor(t.selfKey, key).CommonPrefixLen()
	if i >= Buckets {
		return -1
	}
	return i
}

// Bucket returns copies of bucket i's peers, least recently seen first.
func (t *Table) Bucket(i int) []PeerInfo {
	es := t.entriesIn(i)
	out := make([]PeerInfo, len(es))
	for j, e := range es {
		t.fill(&out[j], e)
	}
	return out
}

// Replacements returns copies of bucket i's replacement cache, most
// recently seen last.
func (t *Table) Replacements(i int) []PeerInfo {
	rs := t.replIn(i)
	out := make([]PeerInfo, len(rs))
	for j, e := range rs {
		t.fill(&out[j], e)
	}
	return out
}

// Get returns the table's entry for id.
func (t *Table) Get(id identity.PeerID) (PeerInfo, bool) {
	if e := t.find(id); e != nil {
		return t.info(e), true
	}
	return PeerInfo{}, false
}

// rtt returns the RTT the table knows for id (0: unknown or not in the
// table), as Get(id).RTT without the copy.
func (t *Table) rtt(id identity.PeerID) time.Duration {
	if e := t.find(id); e != nil {
		return e.rtt
	}
	return 0
}

// groupOf returns the group of address words ip.
func (t *Table) groupOf(ip [2]uint64, v4 bool) group {
	m := &t.mask6
	if v4 {
		if t.bad4 {
			return noGroup
		}
		m = &t.mask4
	} else if t.bad6 {
		return noGroup
	}
	return group{ip[0] & m[0], ip[1] & m[1]}
}

// inGroup reports whether e's diversity group is *g, word by word (a
// whole array compared after two word stores stalls on store forwarding).
func (t *Table) inGroup(e *entry, g *group) bool {
	m := &t.mask6
	if e.flags&flagV4 != 0 {
		if t.bad4 {
			return *g == noGroup
		}
		m = &t.mask4
	} else if t.bad6 {
		return *g == noGroup
	}
	return e.ip[0]&m[0] == g[0] && e.ip[1]&m[1] == g[1]
}

// validAddr reports whether addr may be a peer's address.
func validAddr(ap netip.AddrPort) bool {
	a := ap.Addr()
	return ap.IsValid() && ap.Port() != 0 && !a.IsUnspecified() && !a.IsMulticast() && !a.Is4In6()
}

// Admissible reports whether a new peer at addr would pass the diversity
// limits of key's bucket and of the table (it may still find the bucket
// full).
func (t *Table) Admissible(key identity.Key, addr netip.AddrPort) bool {
	i := t.BucketIndex(key)
	if i < 0 || !validAddr(addr) {
		return false
	}
	ep := endpointOf(addr)
	return t.fits(i, addr, &ep, identity.PeerID{}) && !t.deepFull(i)
}

// fits reports whether peer id (zero: a peer not in the table) at addr
// passes the diversity limits of bucket i and of the table, and whether
// no other peer holds addr (one socket is one node: several Sybil
// identities behind one address get one slot).
func (t *Table) fits(i int, addr netip.AddrPort, ep *endpoint, id identity.PeerID) bool {
	if !t.div.Enabled {
		return true
	}
	g := t.groupOf(ep.ip, !ep.v6)
	n := 0
	for _, e := range t.entriesIn(i) {
		if t.inGroup(e, &g) {
			n++
		}
	}
	if n >= t.div.PerBucket || t.div.PerTable <= 0 {
		return false
	}
	lo, hi := 0, len(t.byAddr)
	if g == noGroup {
		n = 0
		for _, e := range t.byAddr {
			if t.inGroup(e, &g) {
				n++
			}
		}
		if n >= t.div.PerTable {
			return false
		}
	} else {
		// The group's addresses are those of its family from g (its
		// masked form, the lowest) up to the last that masks to g: a run
		// of byAddr. It is full if it holds PerTable entries; if not, addr
		// (in the group) can only be within it.
		lo = t.addrSearch(0, hi, endpoint{ep.v6, g, 0})
		if j := lo + t.div.PerTable - 1; j < hi {
			if t.inGroup(t.byAddr[j], &g) {
				return false
			}
			hi = j
		}
	}
	for j := t.addrSearch(lo, hi, *ep); j < len(t.byAddr); j++ {
		e := t.byAddr[j]
		if e.before(ep) || ep.before(e) {
			break
		}
		if e.id != id && t.atAddr(e, addr, ep) {
			return false
		}
	}
	return true
}

// atAddr reports whether e's address is addr (t.addrOf(e) == addr), whose
// endpoint is ep.
func (t *Table) atAddr(e *entry, addr netip.AddrPort, ep *endpoint) bool {
	if e.port != ep.port || (e.flags&flagV4 == 0) != ep.v6 || e.ip[0] != ep.ip[0] || e.ip[1] != ep.ip[1] {
		return false
	}
	if e.flags&flagZone != 0 {
		return t.zones[e] == addr.Addr().Zone()
	}
	return addr.Addr().Zone() == ""
}

// Update records that peer p answered a request of ours at now, with the
// measured rtt (0 if none). It returns what happened and, for Full, the
// bucket's least recently seen entry, which the caller should ping.
func (t *Table) Update(now time.Time, p PeerInfo, rtt time.Duration) (Outcome, PeerInfo) {
	if p.ID.IsZero() || p.ID == t.self || !validAddr(p.Addr) {
		return Invalid, PeerInfo{}
	}
	ep := endpointOf(p.Addr)
	if e := t.find(p.ID); e != nil {
		if !t.atAddr(e, p.Addr, &ep) {
			// Moved: it answered at the new address. Re-admit it there.
			rep := e.rep
			t.remove(e)
			t.discard(e)
			p.RTT, p.Reputation = 0, rep
		} else {
			e.seen = t.stamp(now)
			e.setCaps(p.Capabilities)
			e.rtt = ewmaRTT(e.rtt, rtt)
			e.rep = rewarded(e.rep)
			e.failures = 0
			b := t.at(int(e.bucket))
			if j := slices.Index(b.entries, e); j >= 0 && j != len(b.entries)-1 {
				b.moveToTail(j)
			}
			t.version++
			return Updated, PeerInfo{}
		}
	}
	key := p.dhtKey()
	i := t.BucketIndex(key)
	if !t.fits(i, p.Addr, &ep, p.ID) || t.deepFull(i) {
		return Rejected, PeerInfo{}
	}
	p.LastSeen = now
	p.observeRTT(rtt)
	e := t.newEntry(&p, &ep, i)
	b := t.at(i)
	if len(b.entries) < t.k {
		t.insert(e)
		return Added, PeerInfo{}
	}
	t.addReplacement(b, e)
	return Full, t.info(b.entries[0])
}

func (t *Table) insert(e *entry) {
	t.admitted++
	e.seq = t.admitted
	b := t.at(int(e.bucket))
	b.appendEntry(e, t.k)
	if j := b.replIndex(&e.id); j >= 0 {
		if r := b.repl[j]; r != e {
			t.discard(r)
		}
		b.repl = slices.Delete(b.repl, j, j+1)
	}
	t.indexID(e)
	if t.div.Enabled {
		t.indexAddr(e)
	}
	t.version++
}

func (t *Table) addReplacement(b *bucket, e *entry) {
	if j := b.replIndex(&e.id); j >= 0 {
		t.discard(b.repl[j])
		b.repl = slices.Delete(b.repl, j, j+1)
	}
	if t.repl == 0 {
		t.discard(e)
		return
	}
	if len(b.repl) >= t.repl {
		t.discard(b.repl[0])
		b.repl = slices.Delete(b.repl, 0, 1)
	}
	b.repl = append(grown(b.repl, t.repl), e)
}

// remove takes e out of the table; the caller discards it once done with
// it.
func (t *Table) remove(e *entry) {
	b := t.at(int(e.bucket))
	if j := slices.Index(b.entries, e); j >= 0 {
		b.deleteEntry(j)
	}
	t.unindexID(e)
	if t.div.Enabled {
		t.unindexAddr(e)
	}
	t.version++
}

// Fail records an unanswered request to id and returns its consecutive
// failures (0 if id is not in the table).
func (t *Table) Fail(id identity.PeerID) int {
	e := t.find(id)
	if e == nil {
		return 0
	}
	e.failures++
	e.rep = punished(e.rep)
	return int(e.failures)
}

// Remove takes id out of the table and promotes the most recently seen
// replacement of its bucket that passes the diversity limits. It returns
// the removed entry and the promoted one, if any.
func (t *Table) Remove(id identity.PeerID) (removed PeerInfo, promoted PeerInfo, ok, didPromote bool) {
	e := t.find(id)
	if e == nil {
		return PeerInfo{}, PeerInfo{}, false, false
	}
	t.remove(e)
	removed = t.info(e)
	t.discard(e)
	b := t.at(int(e.bucket))
	for j := len(b.repl) - 1; j >= 0; j-- {
		r := b.repl[j]
		if t.find(r.id) != nil {
			t.discard(r)
			b.repl = slices.Delete(b.repl, j, j+1)
			continue
		}
		if ep := r.endpoint(); t.fits(int(r.bucket), t.addrOf(r), &ep, r.id) && !t.deepFull(int(r.bucket)) {
			t.insert(r) // also removes it from the cache
			return removed, t.info(r), true, true
		}
	}
	return removed, PeerInfo{}, true, false
}

// replacement reports whether id, whose key is key, waits in its bucket's
// replacement cache.
func (t *Table) replacement(key identity.Key, id identity.PeerID) bool {
	i := t.BucketIndex(key)
	return i >= 0 && i < len(t.buckets) && t.buckets[i].replIndex(&id) >= 0
}

// Closest returns up to n peers closest to key by XOR distance, closest
// first (ties, which need equal keys, by address). It visits buckets in
// distance order: key's own bucket c (whose peers share at least c+1 bits
// with key), then all buckets above c (exactly c bits), then c-1, c-2...
func (t *Table) Closest(key identity.Key, n int) []PeerInfo {
	if n <= 0 || t.Len() == 0 {
		return nil
	}
	ds := t.closest(key, n)
	out := make([]PeerInfo, len(ds))
	for i, de := range ds {
		t.fill(&out[i], de.e)
	}
	clear(ds)
	return out
}

// closest is Closest without the copies: the entries, closest first, in
// the table's scratch space, valid until the next call (which is also
// when the scratch lets go of them: at most n).
func (t *Table) closest(key identity.Key, n int) []distEntry {
	if n <= 0 || t.Len() == 0 {
		return nil
	}
	c := identity.Xor(t.selfKey, key).CommonPrefixLen()
	k0 := prefix64(&key)
	ds := t.scratch[:0]
	if m := min(n, t.Len()); cap(ds) < m {
		ds = make([]distEntry, 0, m)
	}
	if c < len(t.buckets) {
		ds = t.offer(&t.buckets[c], ds, n, &key, k0)
		if len(ds) < n {
			// The buckets above c are one group, equally far: all of it.
			for i := c + 1; i < len(t.buckets); i++ {
				ds = t.offer(&t.buckets[i], ds, n, &key, k0)
			}
		}
	}
	for i := min(c, len(t.buckets)) - 1; i >= 0 && len(ds) < n; i-- {
		ds = t.offer(&t.buckets[i], ds, n, &key, k0)
	}
	t.scratch = ds[:0]
	return ds
}

// distEntry is a candidate of Closest: d0 is the first 8 bytes of its
// distance to the key.
type distEntry struct {
	d0 uint64
	e  *entry
}

// offer keeps in ds (sorted, at most n) the closest of ds and b's entries.
// Most entries lose against the current n-th on d0 alone, without their
// entry being read.
func (t *Table) offer(b *bucket, ds []distEntry, n int, key *identity.Key, k0 uint64) []distEntry {
	for j, kp := range b.k0 {
		de := distEntry{kp ^ k0, b.entries[j]}
		if len(ds) == n && t.cmpDist(key, de, ds[n-1]) >= 0 {
			continue
		}
		i := len(ds)
		for i > 0 && t.cmpDist(key, de, ds[i-1]) < 0 {
			i--
		}
		if len(ds) < n {
			ds = append(ds, distEntry{})
		}
		copy(ds[i+1:], ds[i:len(ds)-1])
		ds[i] = de
	}
	return ds
}

// cmpDist orders candidates by XOR distance to key, then by address.
func (t *Table) cmpDist(key *identity.Key, a, b distEntry) int {
	if a.d0 != b.d0 {
		if a.d0 < b.d0 {
			return -1
		}
		return 1
	}
	return compareDist(*key, a.e.key, b.e.key, t.addrOf(a.e), t.addrOf(b.e))
}

// compareDist orders a and b by XOR distance to target, then by address.
func compareDist(target, a, b identity.Key, aa, ab netip.AddrPort) int {
	if c := identity.Xor(target, a).Cmp(identity.Xor(target, b)); c != 0 {
		return c
	}
	return aa.Compare(ab)
}

// Peers returns every peer in a deterministic order that spreads over the
// key space: round-robin over the non-empty buckets from the closest
// (highest index) down, each bucket least recently seen first; at most n
// peers (n <= 0: all).
func (t *Table) Peers(n int) []PeerInfo {
	if n <= 0 || n > t.Len() {
		n = t.Len()
	}
	out := make([]PeerInfo, 0, n)
	for round := 0; len(out) < n; round++ {
		added := false
		for i := len(t.buckets) - 1; i >= 0 && len(out) < n; i-- {
			if es := t.buckets[i].entries; round < len(es) {
				out = out[:len(out)+1]
				t.fill(&out[len(out)-1], es[round])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}

// Touch marks the bucket of key as looked up at now (Kademlia §2.4).
func (t *Table) Touch(key identity.Key, now time.Time) {
	if i := t.BucketIndex(key); i >= 0 {
		t.at(i).touched = t.stamp(now)
	}
}

// TouchAll marks every bucket as looked up at now.
func (t *Table) TouchAll(now time.Time) {
	t.touchedAll = t.stamp(now)
	for i := range t.buckets {
		t.buckets[i].touched = t.touchedAll
	}
}

// Stale returns, in increasing order, the indexes of buckets up to the
// closest non-empty one that no lookup went into since now-interval.
func (t *Table) Stale(now time.Time, interval time.Duration) []int {
	var out []int
	for i := 0; i <= t.deepest(); i++ {
		if now.Sub(t.timeAt(t.buckets[i].touched)) >= interval { // deepest < len(buckets)
			out = append(out, i)
		}
	}
	return out
}

// deepest returns the highest non-empty bucket index, -1 if none.
func (t *Table) deepest() int {
	for i := len(t.buckets) - 1; i >= 0; i-- {
		if len(t.buckets[i].entries) > 0 {
			return i
		}
	}
	return -1
}

// RandomKeyIn returns a key in bucket i's range: sharing exactly i leading
// bits with the own key, the rest from rnd (32 random bytes).
func (t *Table) RandomKeyIn(i int, rnd [identity.KeyLen]byte) identity.Key {
	k := identity.Key(rnd)
	for bit := 0; bit <= i; bit++ {
		byteI, mask := bit/8, byte(0x80>>(bit%8))
		want := t.selfKey[byteI] & mask
		if bit == i {
			want ^= mask
		}
		k[byteI] = k[byteI]&^mask | want
	}
	return k
}

// keyLess orders keys bytewise (for deterministic ties).
func keyLess(a, b identity.Key) int { return bytes.Compare(a[:], b[:]) }

package dht

// refTable is the routing table as it was before entries were compacted
// (maps by ID, endpoint and diversity group; full PeerInfo entries): the
// reference TestTableMatchesReference (table_compact_test.go) holds Table to.

import (
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core/identity"
)

// refEntry is a table slot; its key is PeerInfo's cached one.
type refEntry struct {
	PeerInfo
	bucket   int32
	failures int32
	seq      uint64       // admission order, for the deep cap's trim (SetDepth)
	group    netip.Prefix // diversity group of Addr (Table.group)
}

type refBucket struct {
	entries []*refEntry // least recently seen first
	// k0 holds the first 8 bytes of each entry's key (big-endian), in
	// entries' order: Closest scans them without touching the entries.
	k0      []uint64
	repl    []*refEntry // replacement cache, most recently seen last
	touched time.Time
}

func (b *refBucket) appendEntry(e *refEntry) {
	b.entries = append(b.entries, e)
	b.k0 = append(b.k0, prefix64(&e.key))
}

func (b *refBucket) deleteEntry(j int) {
	b.entries = slices.Delete(b.entries, j, j+1)
	b.k0 = slices.Delete(b.k0, j, j+1)
}

// moveToTail makes entry j the most recently seen.
func (b *refBucket) moveToTail(j int) {
	e, k := b.entries[j], b.k0[j]
	copy(b.entries[j:], b.entries[j+1:])
	copy(b.k0[j:], b.k0[j+1:])
	b.entries[len(b.entries)-1], b.k0[len(b.k0)-1] = e, k
}

// refTable is a Kademlia routing table (Kademlia §2.2): 256 buckets of at most
// k peers by common-prefix length with the own key, each ordered from least
// to most recently seen, with a replacement cache per bucket. It only
// records what the caller tells it: the DHT calls Update for peers that
// answered a request, never for peers merely mentioned in a NODES list.
//
// Concurrency: not safe for concurrent use.
type refTable struct {
	self    identity.PeerID
	selfKey identity.Key
	k, repl int
	div     Diversity
	// buckets[i] is bucket i. Buckets past the end are empty and were last
	// touched at touchedAll: the slice grows when a bucket is first used,
	// so a table holds a few dozen buckets rather than 256.
	buckets    []refBucket
	touchedAll time.Time
	index      map[identity.PeerID]*refEntry
	groups     map[netip.Prefix]int // peers per diversity group, when limits are on
	// depth is the network's depth in key bits as the node's own lookups
	// measure it (SetDepth), -1 while unknown.
	depth int
	// admitted numbers admissions (entry.seq).
	admitted uint64
	// endpoints holds the peer at each address, when limits are on: one
	// socket is one node, so a second identity at an address already in
	// the table is refused (several Sybil identities behind one address
	// get one slot).
	endpoints map[netip.AddrPort]identity.PeerID
	size      int
	version   uint64
}

// at returns bucket i, creating it (and those below it) if needed. It may
// move the buckets: pointers from an earlier call to a higher index die.
func (t *refTable) at(i int) *refBucket {
	for len(t.buckets) <= i {
		t.buckets = append(t.buckets, refBucket{touched: t.touchedAll})
	}
	return &t.buckets[i]
}

// entriesIn returns bucket i's entries without creating it.
func (t *refTable) entriesIn(i int) []*refEntry {
	if i < len(t.buckets) {
		return t.buckets[i].entries
	}
	return nil
}

// replIn returns bucket i's replacement cache without creating it.
func (t *refTable) replIn(i int) []*refEntry {
	if i < len(t.buckets) {
		return t.buckets[i].repl
	}
	return nil
}

// NewTable returns an empty table for self with bucket size k, replacement
// caches of repl entries and the given diversity limits.
func newRefTable(self identity.PeerID, k, repl int, div Diversity) *refTable {
	return &refTable{
		self: self, selfKey: self.Key(), k: k, repl: repl, div: div,
		index:     make(map[identity.PeerID]*refEntry),
		groups:    make(map[netip.Prefix]int),
		endpoints: make(map[netip.AddrPort]identity.PeerID),
		depth:     -1,
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
func (t *refTable) SetDepth(d int) (trimmed []PeerInfo) {
	t.depth = d
	if !t.div.Enabled || d < 0 {
		return nil
	}
	for t.deepCount() > t.k {
		var last *refEntry
		for j := d + 2; j < len(t.buckets); j++ {
			for _, e := range t.buckets[j].entries {
				if last == nil || e.seq > last.seq {
					last = e
				}
			}
		}
		t.remove(last)
		trimmed = append(trimmed, last.PeerInfo)
	}
	return trimmed
}

// Depth returns the depth set by SetDepth, -1 if none.
func (t *refTable) Depth() int { return t.depth }

// deepCount returns the peers in the buckets beyond depth+1.
func (t *refTable) deepCount() int {
	n := 0
	for j := t.depth + 2; j < len(t.buckets); j++ {
		n += len(t.buckets[j].entries)
	}
	return n
}

// deepFull reports whether bucket i lies beyond depth+1 and the buckets
// there already hold k peers.
func (t *refTable) deepFull(i int) bool {
	return t.div.Enabled && t.depth >= 0 && i > t.depth+1 && t.deepCount() >= t.k
}

// Len returns the number of peers in the table.
func (t *refTable) Len() int { return t.size }

// Self returns the table owner's key.
func (t *refTable) Self() identity.Key { return t.selfKey }

// Version changes whenever the table changes (membership, order, RTTs).
func (t *refTable) Version() uint64 { return t.version }

// BucketIndex returns the bucket of key: its common-prefix length with the
// own key, or -1 for the own key.
func (t *refTable) BucketIndex(key identity.Key) int {
	i := identity.Xor(t.selfKey, key).CommonPrefixLen()
	if i >= Buckets {
		return -1
	}
	return i
}

// Bucket returns copies of bucket i's peers, least recently seen first.
func (t *refTable) Bucket(i int) []PeerInfo {
	es := t.entriesIn(i)
	out := make([]PeerInfo, len(es))
	for j, e := range es {
		out[j] = e.PeerInfo
	}
	return out
}

// Replacements returns copies of bucket i's replacement cache, most
// recently seen last.
func (t *refTable) Replacements(i int) []PeerInfo {
	rs := t.replIn(i)
	out := make([]PeerInfo, len(rs))
	for j, e := range rs {
		out[j] = e.PeerInfo
	}
	return out
}

// Get returns the table's entry for id.
func (t *refTable) Get(id identity.PeerID) (PeerInfo, bool) {
	if e := t.index[id]; e != nil {
		return e.PeerInfo, true
	}
	return PeerInfo{}, false
}

// group returns the diversity group of addr.
func (t *refTable) group(addr netip.Addr) netip.Prefix {
	bits := t.div.IPv4Bits
	if !addr.Is4() {
		bits = t.div.IPv6Bits
	}
	p, _ := addr.Prefix(bits)
	return p
}

// Admissible reports whether a new peer at addr would pass the diversity
// limits of key's bucket and of the table (it may still find the bucket
// full).
func (t *refTable) Admissible(key identity.Key, addr netip.AddrPort) bool {
	i := t.BucketIndex(key)
	return i >= 0 && validAddr(addr) && t.diverse(i, t.group(addr.Addr())) && !t.endpointTaken(addr, identity.PeerID{}) && !t.deepFull(i)
}

// endpointTaken reports whether another peer than id holds addr.
func (t *refTable) endpointTaken(addr netip.AddrPort, id identity.PeerID) bool {
	if !t.div.Enabled {
		return false
	}
	other, ok := t.endpoints[addr]
	return ok && other != id
}

// diverse reports whether one more peer of group g fits the limits of
// bucket i and of the table.
func (t *refTable) diverse(i int, g netip.Prefix) bool {
	if !t.div.Enabled {
		return true
	}
	if t.groups[g] >= t.div.PerTable {
		return false
	}
	n := 0
	for _, e := range t.entriesIn(i) {
		if e.group == g {
			n++
		}
	}
	return n < t.div.PerBucket
}

// Update records that peer p answered a request of ours at now, with the
// measured rtt (0 if none). It returns what happened and, for Full, the
// bucket's least recently seen entry, which the caller should ping.
func (t *refTable) Update(now time.Time, p PeerInfo, rtt time.Duration) (Outcome, PeerInfo) {
	if p.ID.IsZero() || p.ID == t.self || !validAddr(p.Addr) {
		return Invalid, PeerInfo{}
	}
	if e := t.index[p.ID]; e != nil {
		if e.Addr != p.Addr {
			// Moved: it answered at the new address. Re-admit it there.
			old := e.PeerInfo
			t.remove(e)
			p.RTT, p.Reputation = 0, old.Reputation
		} else {
			e.LastSeen = now
			e.Capabilities = p.Capabilities
			refObserveRTT(&e.PeerInfo, rtt)
			e.Reputation = min(1, e.Reputation+0.1)
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
	g := t.group(p.Addr.Addr())
	if !t.diverse(i, g) || t.endpointTaken(p.Addr, p.ID) || t.deepFull(i) {
		return Rejected, PeerInfo{}
	}
	p.LastSeen = now
	refObserveRTT(&p, rtt)
	e := &refEntry{PeerInfo: p, bucket: int32(i), group: g}
	b := t.at(i)
	if len(b.entries) < t.k {
		t.insert(e)
		return Added, PeerInfo{}
	}
	t.addReplacement(b, e)
	return Full, b.entries[0].PeerInfo
}

func (t *refTable) insert(e *refEntry) {
	t.admitted++
	e.seq = t.admitted
	b := t.at(int(e.bucket))
	b.appendEntry(e)
	if j := slices.IndexFunc(b.repl, func(r *refEntry) bool { return r.ID == e.ID }); j >= 0 {
		b.repl = slices.Delete(b.repl, j, j+1)
	}
	t.index[e.ID] = e
	if t.div.Enabled {
		t.groups[e.group]++
		t.endpoints[e.Addr] = e.ID
	}
	t.size++
	t.version++
}

func (t *refTable) addReplacement(b *refBucket, e *refEntry) {
	if j := slices.IndexFunc(b.repl, func(r *refEntry) bool { return r.ID == e.ID }); j >= 0 {
		b.repl = slices.Delete(b.repl, j, j+1)
	}
	if t.repl == 0 {
		return
	}
	if len(b.repl) >= t.repl {
		b.repl = slices.Delete(b.repl, 0, 1)
	}
	b.repl = append(b.repl, e)
}

func (t *refTable) remove(e *refEntry) {
	b := t.at(int(e.bucket))
	if j := slices.Index(b.entries, e); j >= 0 {
		b.deleteEntry(j)
	}
	delete(t.index, e.ID)
	if t.div.Enabled {
		g := e.group
		if t.groups[g]--; t.groups[g] <= 0 {
			delete(t.groups, g)
		}
		if t.endpoints[e.Addr] == e.ID {
			delete(t.endpoints, e.Addr)
		}
	}
	t.size--
	t.version++
}

// Fail records an unanswered request to id and returns its consecutive
// failures (0 if id is not in the table).
func (t *refTable) Fail(id identity.PeerID) int {
	e := t.index[id]
	if e == nil {
		return 0
	}
	e.failures++
	e.Reputation = max(-1, e.Reputation-0.2)
	return int(e.failures)
}

// Remove takes id out of the table and promotes the most recently seen
// replacement of its bucket that passes the diversity limits. It returns
// the removed entry and the promoted one, if any.
func (t *refTable) Remove(id identity.PeerID) (removed PeerInfo, promoted PeerInfo, ok, didPromote bool) {
	e := t.index[id]
	if e == nil {
		return PeerInfo{}, PeerInfo{}, false, false
	}
	t.remove(e)
	b := t.at(int(e.bucket))
	for j := len(b.repl) - 1; j >= 0; j-- {
		r := b.repl[j]
		if t.index[r.ID] != nil {
			b.repl = slices.Delete(b.repl, j, j+1)
			continue
		}
		if t.diverse(int(r.bucket), r.group) && !t.endpointTaken(r.Addr, r.ID) && !t.deepFull(int(r.bucket)) {
			t.insert(r) // also removes it from the cache
			return e.PeerInfo, r.PeerInfo, true, true
		}
	}
	return e.PeerInfo, PeerInfo{}, true, false
}

// replacement reports whether id, whose key is key, waits in its bucket's
// replacement cache.
func (t *refTable) replacement(key identity.Key, id identity.PeerID) bool {
	i := t.BucketIndex(key)
	return i >= 0 && slices.ContainsFunc(t.replIn(i), func(r *refEntry) bool { return r.ID == id })
}

// Peers returns every peer in a deterministic order that spreads over the
// key space: round-robin over the non-empty buckets from the closest
// (highest index) down, each bucket least recently seen first; at most n
// peers (n <= 0: all).
func (t *refTable) Peers(n int) []PeerInfo {
	if n <= 0 || n > t.size {
		n = t.size
	}
	out := make([]PeerInfo, 0, n)
	for round := 0; len(out) < n; round++ {
		added := false
		for i := len(t.buckets) - 1; i >= 0 && len(out) < n; i-- {
			if es := t.buckets[i].entries; round < len(es) {
				out = append(out, es[round].PeerInfo)
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
func (t *refTable) Touch(key identity.Key, now time.Time) {
	if i := t.BucketIndex(key); i >= 0 {
		t.at(i).touched = now
	}
}

// TouchAll marks every bucket as looked up at now.
func (t *refTable) TouchAll(now time.Time) {
	t.touchedAll = now
	for i := range t.buckets {
		t.buckets[i].touched = now
	}
}

// Stale returns, in increasing order, the indexes of buckets up to the
// closest non-empty one that no lookup went into since now-interval.
func (t *refTable) Stale(now time.Time, interval time.Duration) []int {
	var out []int
	for i := 0; i <= t.deepest(); i++ {
		if now.Sub(t.buckets[i].touched) >= interval { // deepest < len(buckets)
			out = append(out, i)
		}
	}
	return out
}

// deepest returns the highest non-empty bucket index, -1 if none.
func (t *refTable) deepest() int {
	for i := len(t.buckets) - 1; i >= 0; i-- {
		if len(t.buckets[i].entries) > 0 {
			return i
		}
	}
	return -1
}

func refObserveRTT(p *PeerInfo, sample time.Duration) {
	if sample <= 0 {
		return
	}
	if p.RTT <= 0 {
		p.RTT = sample
		return
	}
	p.RTT = time.Duration((1-rttWeight)*float64(p.RTT) + rttWeight*float64(sample))
}

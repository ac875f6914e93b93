package dht

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// ErrValueTooLarge is returned by Put for a value over Config.MaxValue.
var ErrValueTooLarge = errors.New("dht: value too large")

// LookupResult is the outcome of a lookup, passed to its callback.
type LookupResult struct {
	Target  identity.Key
	Purpose string
	// OK: for FIND_NODE, some peer answered and the lookup converged
	// before its deadline; for FIND_VALUE, a valid record was found.
	OK bool
	// Peers are the up to k closest peers that answered, closest first.
	Peers []PeerInfo
	// Record is the record found by FindValue, or nil.
	Record *Record
	// Hops, Messages and Latency are as in LookupDone.
	Hops     int
	Messages int
	Latency  time.Duration
}

type candState uint8

const (
	fresh candState = iota
	inflight
	answered
	failed
)

// cand is a peer a lookup has heard of.
type cand struct {
	info  PeerInfo
	dist  distance // of info's key to the lookup's target
	state candState
	depth int // hop of the answer that named it; 0 for the own table
}

// distance is an XOR distance (identity.Distance) as four big-endian
// words: comparing words compares the 256-bit integers, without the
// byte-by-byte loops of identity.Xor and Distance.Cmp.
type distance [4]uint64

// distanceOf returns the XOR distance between a and b.
func distanceOf(a, b *identity.Key) distance {
	var d distance
	for i := range d {
		d[i] = binary.BigEndian.Uint64(a[8*i:]) ^ binary.BigEndian.Uint64(b[8*i:])
	}
	return d
}

// cmp compares two distances as identity.Distance.Cmp does.
func (d *distance) cmp(o *distance) int {
	for i := range d {
		if d[i] != o[i] {
			if d[i] < o[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// candChunk is how many candidates a lookup allocates at once.
const candChunk = 32

// lookup is one iterative lookup (Kademlia §2.3).
type lookup struct {
	seq     uint64
	target  identity.Key
	purpose string
	value   bool // FIND_VALUE
	// peer, for FindPeer, is the peer looked for; found is its contact
	// once a response named it (or it answered), at hop foundHop.
	peer     identity.PeerID
	found    *PeerInfo
	foundHop int
	// wide is set once an answer brought no candidate closer than the
	// closest already known: from then on up to k requests are in flight
	// (Kademlia §2.3: "resends the FIND_NODE to all of the k closest nodes
	// it has not already queried").
	wide  bool
	start time.Time
	// cands holds each peer heard of once (by ID), ordered by XOR
	// distance to target, then address; d0[i] is the first word of
	// cands[i]'s distance, which add searches without reading the
	// candidates. spare is where the next ones go: they are allocated
	// candChunk at a time.
	cands    []*cand
	d0       []uint64
	spare    []cand
	inflight int
	messages int
	record   *Record
	recHop   int
	deadline core.Timer
	kick     core.Timer
	done     bool
	cb       func(LookupResult)
}

// add inserts a copy of *p as a candidate in distance order, once per ID.
func (lk *lookup) add(p *PeerInfo, depth int, self identity.PeerID) {
	if p.ID == self {
		return
	}
	key := p.dhtKey()
	d := distanceOf(&lk.target, &key)
	// i is where p goes: the first candidate not before it. Candidates
	// whose first word ties (rarely more than none) are compared in full.
	i, _ := slices.BinarySearch(lk.d0, d[0])
	for i < len(lk.cands) && lk.d0[i] == d[0] && lk.cands[i].before(&d, p.Addr) {
		i++
	}
	if lk.heard(i, &d, p.ID) {
		return
	}
	if len(lk.spare) == 0 {
		lk.spare = make([]cand, candChunk)
	}
	c := &lk.spare[0]
	lk.spare = lk.spare[1:]
	*c = cand{info: *p, dist: d, depth: depth}
	lk.cands = slices.Insert(lk.cands, i, c)
	lk.d0 = slices.Insert(lk.d0, i, d[0])
}

// before reports whether c comes before a candidate at distance d and
// address addr.
func (c *cand) before(d *distance, addr netip.AddrPort) bool {
	if o := c.dist.cmp(d); o != 0 {
		return o < 0
	}
	return c.info.Addr.Compare(addr) < 0
}

// heard reports whether id is a candidate already, given the index i at
// which a candidate at distance d would go. Its key, hence its distance,
// would be the same: it sits next to i, among the candidates at d.
func (lk *lookup) heard(i int, d *distance, id identity.PeerID) bool {
	for j := i; j < len(lk.cands) && lk.d0[j] == d[0] && lk.cands[j].dist == *d; j++ {
		if lk.cands[j].info.ID == id {
			return true
		}
	}
	for j := i - 1; j >= 0 && lk.d0[j] == d[0] && lk.cands[j].dist == *d; j-- {
		if lk.cands[j].info.ID == id {
			return true
		}
	}
	return false
}

// Lookup starts an iterative FIND_NODE lookup of target (a local command).
// done, if not nil, is called with the result when it ends, always from a
// later event (never from within Lookup); a LookupDone is observed too.
func (d *DHT) Lookup(now time.Time, target identity.Key, done func(LookupResult)) error {
	_, err := d.startLookup(now, target, PurposeUser, false, done)
	return err
}

// FindValue starts an iterative FIND_VALUE lookup of key, which ends as
// soon as a valid record arrives (or is held locally). done is called as
// for Lookup; Result.Record is the record, or nil.
func (d *DHT) FindValue(now time.Time, key identity.Key, done func(LookupResult)) error {
	_, err := d.startLookup(now, key, PurposeValue, true, done)
	return err
}

// FindPeer looks up a peer's contact (a local command): an iterative
// FIND_NODE lookup of the peer's key that ends as soon as an answer names
// the peer (or the peer itself answers), as libp2p's FindPeer does. The own
// routing table does not count: the answer always comes from the network.
// Result.Peers then starts with the peer; OK is false if it was not found.
func (d *DHT) FindPeer(now time.Time, id identity.PeerID, done func(LookupResult)) error {
	lk, err := d.startLookup(now, id.Key(), PurposePeer, false, done)
	if err == nil {
		lk.peer = id
	}
	return err
}

func (d *DHT) startLookup(now time.Time, target identity.Key, purpose string, value bool, cb func(LookupResult)) (*lookup, error) {
	if !d.running {
		return nil, ErrNotRunning
	}
	d.lookupSeq++
	lk := &lookup{seq: d.lookupSeq, target: target, purpose: purpose, value: value, start: now, cb: cb}
	put(&d.lookups, &d.peaks.lookups, lk.seq, lk)
	d.table.Touch(target, now)
	for _, de := range d.table.closest(target, d.cfg.K) {
		var p PeerInfo
		d.table.fill(&p, de.e)
		lk.add(&p, 0, d.self)
	}
	clock := d.node.Env().Clock
	lk.deadline = clock.AfterFunc(d.cfg.LookupTimeout, func() { d.onLookupDeadline(lk) })
	lk.kick = clock.AfterFunc(0, func() { d.onLookupStart(lk) })
	return lk, nil
}

func (d *DHT) onLookupStart(lk *lookup) {
	if lk.done {
		return
	}
	now := d.node.Env().Clock.Now()
	if lk.value {
		if rec, ok := d.localRecord(now, lk.target); ok {
			lk.record = &rec
		}
	}
	d.step(now, lk)
}

func (d *DHT) onLookupDeadline(lk *lookup) {
	if !lk.done {
		d.finish(d.node.Env().Clock.Now(), lk, false)
	}
}

// step sends requests and decides the end. The stop rule: the lookup ends
// when the k (Config.Converge) closest candidates not known to have failed
// have all answered
// (or, for FIND_VALUE, when a valid record arrived). Up to alpha requests
// are in flight, always to the closest candidates not yet asked.
func (d *DHT) step(now time.Time, lk *lookup) {
	if lk.done {
		return
	}
	if lk.record != nil || lk.found != nil {
		d.finish(now, lk, true)
		return
	}
	window := d.cfg.Converge
	if (lk.purpose == PurposeRefresh || lk.purpose == PurposeDepth) && d.cfg.RefreshConverge > 0 {
		window = min(d.cfg.RefreshConverge, d.cfg.K)
	}
	if window == 0 {
		window = d.cfg.K
	}
	active, complete, heard := 0, true, false
	for _, c := range lk.cands {
		if active == window {
			break
		}
		switch c.state {
		case failed:
			continue
		case fresh:
			complete = false
			if lk.inflight < d.cfg.Alpha || (lk.wide && lk.inflight < d.cfg.K) {
				d.query(now, lk, c)
				if c.state == failed {
					continue
				}
			}
		case inflight:
			complete = false
		case answered:
			heard = true
		}
		active++
	}
	if complete {
		d.finish(now, lk, heard && !lk.value && lk.peer.IsZero())
	}
}

// query sends the lookup's request to c.
func (d *DHT) query(now time.Time, lk *lookup, c *cand) {
	kind := wire.KindFindNode
	if lk.value {
		kind = wire.KindFindValue
	}
	r := d.newRequest(now, kind, c.info.Addr, c.info.ID, forLookup)
	if r == nil {
		c.state = failed
		return
	}
	r.lk, r.c, r.target = lk, c, lk.target
	c.state = inflight
	lk.inflight++
	lk.messages++
	if lk.value {
		m := wire.FindValue{DHTHeader: d.header(r.id), Key: lk.target}
		d.node.Send(r.to, m.AppendPacket(make([]byte, 0, keyPacketCap)))
	} else {
		m := wire.FindNode{DHTHeader: d.header(r.id), Target: lk.target}
		d.node.Send(r.to, m.AppendPacket(make([]byte, 0, keyPacketCap)))
	}
}

// lookupAnswered takes in c's answer: the usable NODES entries and their
// keys (checkNodes), or a record.
func (d *DHT) lookupAnswered(now time.Time, lk *lookup, c *cand, nodes []wire.DHTNode, keys []identity.Key, rec *Record) {
	c.state = answered
	lk.inflight--
	if lk.done {
		return
	}
	hop := c.depth + 1
	if rec != nil && lk.record == nil {
		lk.record, lk.recHop = rec, hop
	}
	var closest *cand
	if len(lk.cands) > 0 {
		closest = lk.cands[0]
	}
	for i := range nodes {
		n := &nodes[i]
		p := PeerInfo{ID: identity.PeerIDFromPublicKey(n.ID[:]), Addr: n.Addr, Capabilities: capsFrom(n.Flags, 0), key: keys[i]}
		lk.add(&p, hop, d.self)
		if !lk.peer.IsZero() && p.ID == lk.peer && lk.found == nil {
			found := p
			lk.found, lk.foundHop = &found, hop
		}
	}
	if !lk.peer.IsZero() && c.info.ID == lk.peer && lk.found == nil {
		lk.found, lk.foundHop = &c.info, c.depth
	}
	if closest != nil && lk.cands[0] == closest {
		lk.wide = true
	}
	d.step(now, lk)
}

func (d *DHT) lookupFailed(now time.Time, lk *lookup, c *cand) {
	c.state = failed
	lk.inflight--
	d.step(now, lk)
}

// finish ends lk: observe LookupDone and call back.
func (d *DHT) finish(now time.Time, lk *lookup, ok bool) {
	lk.done = true
	lk.deadline.Stop()
	lk.kick.Stop()
	drop(&d.lookups, &d.peaks.lookups, lk.seq)
	res := LookupResult{Target: lk.target, Purpose: lk.purpose, OK: ok, Messages: lk.messages, Latency: now.Sub(lk.start)}
	for _, c := range lk.cands {
		if len(res.Peers) == d.cfg.K {
			break
		}
		if c.state == answered {
			res.Peers = append(res.Peers, c.info)
			res.Hops = max(res.Hops, c.depth+1)
		}
	}
	if lk.record != nil {
		res.Record, res.Hops = lk.record, lk.recHop
	}
	if lk.found != nil {
		res.Peers = slices.Insert(slices.DeleteFunc(res.Peers, func(p PeerInfo) bool { return p.ID == lk.peer }), 0, *lk.found)
		if len(res.Peers) > d.cfg.K {
			res.Peers = res.Peers[:d.cfg.K]
		}
		res.Hops = max(lk.foundHop, 1)
	}
	d.stats.Lookups++
	if !ok {
		d.stats.LookupsFailed++
	}
	if !lk.value && lk.peer.IsZero() {
		// Only plain FIND_NODE lookups run to convergence; FindPeer and
		// FindValue stop at the first answer naming what they seek.
		d.sampleDepth(now, lk.target, res.Peers, ok)
	}
	d.node.Observe(now, LookupDone{Target: HexKey(lk.target), Purpose: lk.purpose, OK: ok, Found: len(res.Peers),
		Value: res.Record != nil, Hops: res.Hops, Messages: res.Messages, Latency: res.Latency})
	if lk.cb != nil {
		lk.cb(res)
	}
}

// BootstrapPeer is a peer to bootstrap from: its address and, if known, its
// ID (a zero ID accepts whoever answers at Addr).
type BootstrapPeer struct {
	Addr netip.AddrPort
	ID   identity.PeerID
}

type bootstrap struct {
	start      time.Time // of the first attempt
	peers      []BootstrapPeer
	attempt    int        // 1 for the first
	waiting    int        // pings to bootstrap peers in flight
	refreshing int        // refresh lookups in flight
	kick       core.Timer // the attempt's start, or the retry's
}

// Bootstrap joins the network (a local command): ping the bootstrap peers
// (those that answer enter the table), look up the own key, then refresh
// the buckets farther than the closest neighbour that are not full (at most
// BootstrapRefresh, closest first). BootstrapDone is observed at the end;
// Bootstrapped then reports whether the table is non-empty. A new call
// abandons an unfinished bootstrap. When no bootstrap peer answers, the
// bootstrap is tried again after Config.BootstrapRetry, doubling up to
// BootstrapRetryMax, until one answers or the DHT stops.
func (d *DHT) Bootstrap(now time.Time, peers []BootstrapPeer) error {
	if !d.running {
		return ErrNotRunning
	}
	if d.bs != nil && d.bs.kick != nil {
		d.bs.kick.Stop()
	}
	d.bootPeers = slices.Clone(peers)
	bs := &bootstrap{start: now, peers: d.bootPeers}
	d.bs = bs
	d.bootstrapped = false
	d.bootstrapAttempt(now, bs)
	return nil
}

// bootstrapAttempt pings the bootstrap peers, once more.
func (d *DHT) bootstrapAttempt(now time.Time, bs *bootstrap) {
	bs.attempt++
	bs.kick = nil
	for _, p := range bs.peers {
		if p.Addr == d.selfAddr || p.ID == d.self || !validAddr(p.Addr) {
			continue
		}
		r := d.newRequest(now, wire.KindDHTPing, p.Addr, p.ID, forBootstrap)
		if r == nil {
			break
		}
		r.bs = bs
		bs.waiting++
		m := wire.DHTPing{DHTHeader: d.header(r.id)}
		d.node.Send(r.to, m.AppendPacket(make([]byte, 0, headerPacketCap)))
	}
	if bs.waiting == 0 {
		bs.kick = d.node.Env().Clock.AfterFunc(0, func() { d.onBootstrapKick(bs) })
	}
}

// tableEmptied joins again, through the last Bootstrap's peers, a node
// whose routing table has lost its last peer outside a bootstrap (every
// peer stopped answering): after a jittered BootstrapRetry, so that nodes
// cut off together do not come back together, and with the same retries.
// Without it such a node would stay alone for good (libp2p's DHT likewise
// goes back to its bootstrap peers when its table runs low).
func (d *DHT) tableEmptied(now time.Time) {
	if !d.running || d.bs != nil || len(d.bootPeers) == 0 || d.cfg.BootstrapRetry == 0 {
		return
	}
	d.bootstrapped = false
	bs := &bootstrap{start: now, peers: d.bootPeers}
	d.bs = bs
	wait := d.retryDelay(1)
	bs.kick = d.node.Env().Clock.AfterFunc(wait, func() { d.onBootstrapRetry(bs) })
	d.node.Observe(now, TableEmpty{RejoinIn: wait})
}

// onBootstrapRetry starts the next attempt of a bootstrap that failed.
func (d *DHT) onBootstrapRetry(bs *bootstrap) {
	if d.bs != bs || !d.running {
		return
	}
	d.bootstrapAttempt(d.node.Env().Clock.Now(), bs)
}

// retryDelay is the wait after the attempt-th failed attempt:
// BootstrapRetry doubled attempt-1 times, at most BootstrapRetryMax, times
// a factor drawn in [0.5, 1.5).
func (d *DHT) retryDelay(attempt int) time.Duration {
	wait := d.cfg.BootstrapRetry
	for i := 1; i < attempt && wait < d.cfg.BootstrapRetryMax; i++ {
		wait *= 2
	}
	wait = min(wait, d.cfg.BootstrapRetryMax)
	return wait/2 + time.Duration(d.node.Env().Rand.Uint64()%uint64(wait))
}

func (d *DHT) onBootstrapKick(bs *bootstrap) { d.bootstrapSelf(d.node.Env().Clock.Now(), bs) }

func (d *DHT) bootstrapPinged(now time.Time, bs *bootstrap) {
	if d.bs != bs {
		return
	}
	if bs.waiting--; bs.waiting == 0 {
		d.bootstrapSelf(now, bs)
	}
}

func (d *DHT) bootstrapSelf(now time.Time, bs *bootstrap) {
	if d.bs != bs || !d.running {
		return
	}
	if d.table.Len() == 0 {
		d.bootstrapDone(now, bs)
		return
	}
	d.startLookup(now, d.table.Self(), PurposeBootstrap, false, func(LookupResult) { d.onBootstrapLookup(bs) })
}

func (d *DHT) onBootstrapLookup(bs *bootstrap) {
	if d.bs != bs || !d.running {
		return
	}
	now := d.node.Env().Clock.Now()
	for i := d.table.deepest() - 1; i >= 0 && bs.refreshing < d.cfg.BootstrapRefresh; i-- {
		if len(d.table.entriesIn(i)) >= d.cfg.K {
			continue
		}
		if _, err := d.startLookup(now, d.table.RandomKeyIn(i, d.randomKey()), PurposeRefresh, false,
			func(LookupResult) { d.onBootstrapRefresh(bs) }); err == nil {
			bs.refreshing++
		}
	}
	if bs.refreshing == 0 {
		d.bootstrapDone(now, bs)
	}
}

func (d *DHT) onBootstrapRefresh(bs *bootstrap) {
	if d.bs != bs || !d.running {
		return
	}
	if bs.refreshing--; bs.refreshing == 0 {
		d.bootstrapDone(d.node.Env().Clock.Now(), bs)
	}
}

// bootstrapDone ends an attempt: the bootstrap is done when the table is
// not empty, and otherwise tried again later (if BootstrapRetry allows).
func (d *DHT) bootstrapDone(now time.Time, bs *bootstrap) {
	d.bootstrapped = d.table.Len() > 0
	ev := BootstrapDone{Took: now.Sub(bs.start), TableSize: d.table.Len(), OK: d.bootstrapped}
	if bs.attempt > 1 {
		ev.Attempt = bs.attempt
	}
	if d.bootstrapped || d.cfg.BootstrapRetry == 0 {
		d.bs = nil
	} else {
		ev.RetryIn = d.retryDelay(bs.attempt)
		bs.kick = d.node.Env().Clock.AfterFunc(ev.RetryIn, func() { d.onBootstrapRetry(bs) })
	}
	d.node.Observe(now, ev)
	if d.bootstrapped {
		d.probeDepth(now, d.cfg.DepthProbes)
	}
}

// probeDepth looks up n random keys far from the own one (in buckets 0,
// 1, 2, ...), whose results measure the network's depth (sampleDepth).
func (d *DHT) probeDepth(now time.Time, n int) {
	for i := range n {
		d.startLookup(now, d.table.RandomKeyIn(i%3, d.randomKey()), PurposeDepth, false, nil)
	}
}

// depthSamples is how many recent far lookups the depth estimate is the
// median of, and minDepthSamples how many it needs first.
const (
	depthSamples    = 15
	minDepthSamples = 3
)

// sampleDepth feeds the table's depth estimate (Table.SetDepth) from a
// FIND_NODE lookup that converged: among N peers spread evenly over the key
// space, the m-th closest to a key shares about log2(N/m) leading bits
// with it, so cpl(target, m-th closest) + log2(m/k) estimates log2(N/k).
// It uses the peers that answered and only targets far from the own key
// (common prefix under 3 bits): peers ground near the own key cannot
// steer those.
func (d *DHT) sampleDepth(now time.Time, target identity.Key, peers []PeerInfo, ok bool) {
	if i := d.table.BucketIndex(target); !ok || i < 0 || i >= 3 || !d.cfg.DiversityLimits {
		return
	}
	m := min(len(peers), 3)
	if m == 0 {
		return
	}
	c := identity.Xor(target, d.keyOf(peers[m-1].ID)).CommonPrefixLen()
	sample := float64(c) + math.Log2(float64(m)/float64(d.cfg.K))
	if len(d.depths) == depthSamples {
		copy(d.depths, d.depths[1:])
		d.depths = d.depths[:depthSamples-1]
	}
	d.depths = append(d.depths, sample)
	if len(d.depths) < minDepthSamples {
		return
	}
	sorted := slices.Clone(d.depths)
	slices.Sort(sorted)
	depth := int(math.Floor(sorted[len(sorted)/2]))
	if depth == d.table.Depth() {
		return
	}
	trimmed := d.table.SetDepth(depth)
	d.node.Observe(now, DepthEstimated{Depth: depth, Samples: len(d.depths)})
	for _, p := range trimmed {
		d.stats.Evicted++
		d.node.Observe(now, PeerEvicted{Peer: p.ID, Addr: p.Addr, Reason: EvictDeep})
	}
}

type putOp struct {
	rec            Record
	tried, stored  int
	waiting        int
	lookupFinished bool
}

// Put publishes value under key (a local command): the record is signed
// with the node's identity, valid for RecordTTL, kept locally, and stored on
// the k closest peers after a lookup of key. PutDone is observed when the
// STOREs are answered. The node republishes it while it runs, when less
// than half its TTL is left.
func (d *DHT) Put(now time.Time, key identity.Key, value []byte) error {
	if !d.running {
		return ErrNotRunning
	}
	if len(value) > d.cfg.MaxValue {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrValueTooLarge, len(value), d.cfg.MaxValue)
	}
	d.publish(now, key, value)
	return nil
}

func (d *DHT) publish(now time.Time, key identity.Key, value []byte) {
	rec := SignRecord(d.node.Identity(), key, value, now.Add(d.cfg.RecordTTL))
	d.own[key] = rec
	d.records[key] = rec
	op := &putOp{rec: rec}
	d.startLookup(now, key, PurposePut, false, func(res LookupResult) { d.onPutLookup(op, res) })
}

func (d *DHT) onPutLookup(op *putOp, res LookupResult) {
	if !d.running {
		return
	}
	now := d.node.Env().Clock.Now()
	for _, p := range res.Peers {
		r := d.newRequest(now, wire.KindStore, p.Addr, p.ID, forStore)
		if r == nil {
			break
		}
		r.put = op
		op.tried++
		op.waiting++
		m := wire.Store{DHTHeader: d.header(r.id), Record: op.rec.wire()}
		d.node.Send(r.to, m.AppendPacket(nil))
	}
	op.lookupFinished = true
	if op.waiting == 0 {
		d.putDone(now, op)
	}
}

func (d *DHT) putAcked(now time.Time, op *putOp, ok bool) {
	if ok {
		op.stored++
	}
	if op.waiting--; op.waiting == 0 && op.lookupFinished {
		d.putDone(now, op)
	}
}

func (d *DHT) putDone(now time.Time, op *putOp) {
	d.node.Observe(now, PutDone{Key: HexKey(op.rec.Key), Stored: op.stored, Tried: op.tried})
}

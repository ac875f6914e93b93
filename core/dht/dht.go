package dht

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Errors returned by local commands.
var (
	ErrNotRunning = errors.New("dht: node not running")
)

// DHT is the Kademlia component of one node: it answers PING, FIND_NODE,
// FIND_VALUE and STORE, keeps the routing table, runs lookups, bootstraps,
// refreshes buckets and publishes records.
//
// Concurrency: not safe for concurrent use; it runs on its node's driver.
type DHT struct {
	node     *core.Node
	cfg      Config
	self     identity.PeerID
	selfAddr netip.AddrPort
	table    *Table
	running  bool
	keys     *identity.KeyCache // nil: hash each ID

	// Requests in flight, admissions and probes under way, lookups under
	// way: nil while there are none (put, drop).
	pending   map[uint64]*request
	admitting map[netip.AddrPort]bool
	probing   map[identity.PeerID]bool
	lookups   map[uint64]*lookup
	// peaks holds the largest size of each map above since it was made.
	peaks     mapPeaks
	lookupSeq uint64

	records map[identity.Key]Record // stored for others (and own)
	own     map[identity.Key]Record // published here, republished

	bs           *bootstrap
	bootstrapped bool
	bootPeers    []BootstrapPeer // of the last Bootstrap, to join again from
	maint        core.Timer

	gossipPeers   []gossip.Peer
	gossipVersion uint64
	gossipValid   bool

	stats Stats
	liar  Liar // nil: an honest node (adversary.go)
	// depths are the latest depth samples of far lookups (sampleDepth).
	depths []float64

	// Scratch space of one handler call each, so that a packet costs no
	// allocation for them: the entries of a NODES answer being built
	// (nodesFor; k), of a NODES message received (handleNodes; at most
	// wire.MaxDHTNodes) and the keys of its usable peers (checkNodes; k,
	// where peers' whole PeerInfos would take five times as much). Nothing
	// keeps them past the call. Sent datagrams are never reused: the
	// transport keeps them (core.Transport).
	nodesOut []wire.DHTNode
	nodesIn  []wire.DHTNode
	keysIn   []identity.Key
}

// Stats counts a DHT's work.
type Stats struct {
	RequestsSent  uint64 // requests of every kind
	Responses     uint64 // responses matched to a request
	Timeouts      uint64 // requests that got no answer in time
	Served        uint64 // requests answered
	Lookups       uint64 // lookups finished
	LookupsFailed uint64 // of those, not OK
	Added         uint64 // peers that entered the table
	Evicted       uint64 // peers removed from the table
}

// New creates the DHT component of node, registers its message kinds and
// attaches it.
func New(node *core.Node, cfg Config) (*DHT, error) {
	if node == nil {
		return nil, fmt.Errorf("%w: dht: nil node", core.ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &DHT{
		node:     node,
		cfg:      cfg,
		self:     node.ID(),
		selfAddr: node.Env().Transport.LocalAddr(),
		table: NewTable(node.ID(), cfg.K, cfg.Replacements, Diversity{
			Enabled: cfg.DiversityLimits, PerBucket: cfg.MaxPerPrefixBucket, PerTable: cfg.MaxPerPrefixTable,
			IPv4Bits: cfg.IPv4PrefixBits, IPv6Bits: cfg.IPv6PrefixBits,
		}),
		records: make(map[identity.Key]Record),
		own:     make(map[identity.Key]Record),
	}
	for _, k := range []struct {
		kind wire.Kind
		h    core.Handler
	}{
		{wire.KindDHTPing, d.handlePing}, {wire.KindDHTPong, d.handlePong},
		{wire.KindFindNode, d.handleFindNode}, {wire.KindNodes, d.handleNodes},
		{wire.KindFindValue, d.handleFindValue}, {wire.KindValue, d.handleValue},
		{wire.KindStore, d.handleStore}, {wire.KindStoreAck, d.handleStoreAck},
	} {
		if err := node.Register(k.kind, k.h); err != nil {
			return nil, err
		}
	}
	node.Attach(d)
	return d, nil
}

// ShareKeys makes the DHT take peers' keys from c, shared with the other
// nodes of the process that use it, instead of hashing each ID it meets.
func (d *DHT) ShareKeys(c *identity.KeyCache) { d.keys = c }

// keyOf returns id's DHT key.
func (d *DHT) keyOf(id identity.PeerID) identity.Key {
	if d.keys != nil {
		return d.keys.Key(id)
	}
	return id.Key()
}

// Table returns the routing table (for reading; only the DHT changes it).
func (d *DHT) Table() *Table { return d.table }

// Bootstrapped reports whether the last Bootstrap completed with a
// non-empty table that has not emptied since (the node then joins again:
// TableEmpty).
func (d *DHT) Bootstrapped() bool { return d.bootstrapped }

// Stats returns the component's counters.
func (d *DHT) Stats() Stats { return d.stats }

// Config returns the component's configuration.
func (d *DHT) Config() Config { return d.cfg }

// Start implements core.Component: it arms the maintenance timer (bucket
// refresh, record expiry and republishing). Buckets count as fresh from now.
func (d *DHT) Start(now time.Time) {
	d.running = true
	d.table.TouchAll(now)
	if d.maint != nil {
		d.maint.Stop()
	}
	d.maint = d.node.Env().Clock.AfterFunc(d.cfg.MaintenanceInterval, d.onMaintain)
}

// Stop implements core.Component. Timers and requests in flight are
// cancelled, an unfinished bootstrap is abandoned (no BootstrapDone), and
// every pending lookup ends at once, failed: its LookupDone is observed and
// its callback called (from within Stop), in the order the lookups started.
// The table and records are kept for a restart.
func (d *DHT) Stop(now time.Time) {
	d.running = false
	if d.maint != nil {
		d.maint.Stop()
		d.maint = nil
	}
	if d.bs != nil {
		if d.bs.kick != nil {
			d.bs.kick.Stop()
		}
		d.bs = nil
	}
	for id, r := range d.pending { // order is irrelevant: every entry is cancelled, nothing is emitted
		r.timer.Stop()
		delete(d.pending, id)
	}
	clear(d.admitting)
	clear(d.probing)
	seqs := make([]uint64, 0, len(d.lookups))
	for s := range d.lookups {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for _, s := range seqs {
		if lk := d.lookups[s]; lk != nil {
			d.finish(now, lk, false)
		}
	}
}

// GossipPeers implements gossip.PeerSource: the routing table's peers,
// round-robin over buckets from the closest down (see Table.Peers), at most
// Config.GossipPeerLimit (0: all). RTT and Score come from the table's RTT
// EWMA and reputation. The slice is rebuilt when the table changes; callers
// must not modify it.
func (d *DHT) GossipPeers() []gossip.Peer {
	if d.gossipValid && d.gossipVersion == d.table.Version() {
		return d.gossipPeers
	}
	ps := d.table.Peers(d.cfg.GossipPeerLimit)
	out := make([]gossip.Peer, len(ps))
	for i, p := range ps {
		out[i] = gossip.Peer{Addr: p.Addr, ID: p.ID, RTT: p.RTT, Score: p.Reputation}
	}
	d.gossipPeers, d.gossipVersion, d.gossipValid = out, d.table.Version(), true
	return out
}

var _ gossip.PeerSource = (*DHT)(nil)

func (d *DHT) onMaintain() {
	now := d.node.Env().Clock.Now()
	d.maint = d.node.Env().Clock.AfterFunc(d.cfg.MaintenanceInterval, d.onMaintain)
	for k, r := range d.records { // order is irrelevant: expired entries are deleted, nothing is emitted
		if !r.Expires.After(now) {
			delete(d.records, k)
		}
	}
	// Bucket refresh (Kademlia §2.4).
	stale := d.table.Stale(now, d.cfg.RefreshInterval)
	for _, i := range stale[:min(len(stale), d.cfg.MaxRefreshPerTick)] {
		d.startLookup(now, d.table.RandomKeyIn(i, d.randomKey()), PurposeRefresh, false, nil)
	}
	// Republish own records with less than half their TTL left.
	keys := make([]identity.Key, 0, len(d.own))
	for k, r := range d.own {
		if r.Expires.Sub(now) < d.cfg.RecordTTL/2 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, keyLess)
	for _, k := range keys {
		d.publish(now, k, d.own[k].Value)
	}
}

func (d *DHT) randomKey() [identity.KeyLen]byte {
	var k [identity.KeyLen]byte
	r := d.node.Env().Rand
	for i := 0; i < len(k); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			k[i+j] = byte(v >> (8 * j))
		}
	}
	return k
}

// header returns the header of an outgoing message.
func (d *DHT) header(reqID uint64) wire.DHTHeader {
	return wire.DHTHeader{ReqID: reqID, Sender: pubKey(d.self), Flags: d.cfg.Capabilities.Flags(), Bandwidth: d.cfg.Capabilities.MaxBandwidth}
}

// admit records that p answered a request of ours (the only way into the
// table). A full bucket pings its least recently seen entry (Kademlia §2.2).
func (d *DHT) admit(now time.Time, p PeerInfo, rtt time.Duration) {
	switch out, oldest := d.table.Update(now, p, rtt); out {
	case Added:
		d.stats.Added++
		d.node.Observe(now, PeerAdded{Peer: p.ID, Addr: p.Addr})
	case Full:
		if now.Sub(oldest.LastSeen) >= d.cfg.ProbeInterval {
			d.probe(now, oldest)
		}
	}
}

// probe pings the least recently seen entry of a full bucket; if it does
// not answer it is replaced by the bucket's most recent replacement.
func (d *DHT) probe(now time.Time, oldest PeerInfo) {
	if d.probing[oldest.ID] {
		return
	}
	r := d.newRequest(now, wire.KindDHTPing, oldest.Addr, oldest.ID, forProbe)
	if r == nil {
		return
	}
	put(&d.probing, &d.peaks.probing, oldest.ID, true)
	m := wire.DHTPing{DHTHeader: d.header(r.id)}
	d.node.Send(r.to, m.AppendPacket(make([]byte, 0, headerPacketCap)))
}

// evict removes id from the table, promoting a replacement.
func (d *DHT) evict(now time.Time, id identity.PeerID, reason string) {
	removed, promoted, ok, didPromote := d.table.Remove(id)
	if !ok {
		return
	}
	d.stats.Evicted++
	d.node.Observe(now, PeerEvicted{Peer: removed.ID, Addr: removed.Addr, Reason: reason})
	if didPromote {
		d.stats.Added++
		d.node.Observe(now, PeerAdded{Peer: promoted.ID, Addr: promoted.Addr})
	}
	if d.table.Len() == 0 {
		d.tableEmptied(now)
	}
}

// requester validates the sender of a request.
func (d *DHT) requester(from netip.AddrPort, h *wire.DHTHeader) (identity.PeerID, error) {
	id := identity.PeerIDFromPublicKey(h.Sender[:])
	if id.IsZero() || id == d.self || !validAddr(from) {
		return identity.PeerID{}, core.Dropped(ReasonInvalidPeer)
	}
	if !d.node.Claims(from, id) {
		return identity.PeerID{}, core.Dropped(core.ReasonImpostor)
	}
	d.stats.Served++
	return id, nil
}

// maybeAdmit pings a peer that sent us a valid request and is not in the
// table (nor waiting in a replacement cache): only if it answers, at that
// address, does it enter.
func (d *DHT) maybeAdmit(now time.Time, id identity.PeerID, from netip.AddrPort) {
	if d.table.find(id) != nil || d.admitting[from] {
		return
	}
	if key := d.keyOf(id); d.table.replacement(key, id) || !d.table.Admissible(key, from) {
		return
	}
	r := d.newRequest(now, wire.KindDHTPing, from, id, forAdmit)
	if r == nil {
		return
	}
	put(&d.admitting, &d.peaks.admitting, from, true)
	m := wire.DHTPing{DHTHeader: d.header(r.id)}
	d.node.Send(from, m.AppendPacket(make([]byte, 0, headerPacketCap)))
}

func (d *DHT) handlePing(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeDHTPing(body)
	if err != nil {
		return err
	}
	id, err := d.requester(from, &m.DHTHeader)
	if err != nil {
		return err
	}
	pong := wire.DHTPong{DHTHeader: d.header(m.ReqID)}
	d.node.Send(from, pong.AppendPacket(make([]byte, 0, headerPacketCap)))
	d.maybeAdmit(now, id, from)
	return nil
}

// nodesFor returns the NODES entries for target: the k closest peers,
// without the requester. They are in d.nodesOut, valid until the next
// call.
func (d *DHT) nodesFor(target identity.Key, requester identity.PeerID, from netip.AddrPort) []wire.DHTNode {
	out := d.nodesOut[:0]
	if cap(out) < d.cfg.K {
		out = make([]wire.DHTNode, 0, d.cfg.K)
	}
	fromEp := endpointOf(from)
	for _, de := range d.table.closest(target, d.cfg.K+1) {
		e := de.e
		if e.id == requester || d.table.atAddr(e, from, &fromEp) || len(out) == d.cfg.K {
			continue
		}
		out = append(out, wire.DHTNode{ID: pubKey(e.id), Flags: e.wireFlags(), Addr: d.table.addrOf(e)})
	}
	d.nodesOut = out
	if d.liar != nil {
		return d.liar.Nodes(target, requester, from, out)
	}
	return out
}

func (d *DHT) handleFindNode(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeFindNode(body)
	if err != nil {
		return err
	}
	id, err := d.requester(from, &m.DHTHeader)
	if err != nil {
		return err
	}
	resp := wire.Nodes{DHTHeader: d.header(m.ReqID), Nodes: d.nodesFor(m.Target, id, from)}
	d.node.Send(from, resp.AppendPacket(make([]byte, 0, nodesPacketCap(len(resp.Nodes)))))
	d.maybeAdmit(now, id, from)
	return nil
}

func (d *DHT) handleFindValue(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeFindValue(body)
	if err != nil {
		return err
	}
	id, err := d.requester(from, &m.DHTHeader)
	if err != nil {
		return err
	}
	if rec, ok := d.localRecord(now, m.Key); ok {
		resp := wire.Value{DHTHeader: d.header(m.ReqID), Record: rec.wire()}
		d.node.Send(from, resp.AppendPacket(nil))
	} else {
		resp := wire.Nodes{DHTHeader: d.header(m.ReqID), Nodes: d.nodesFor(m.Key, id, from)}
		d.node.Send(from, resp.AppendPacket(make([]byte, 0, nodesPacketCap(len(resp.Nodes)))))
	}
	d.maybeAdmit(now, id, from)
	return nil
}

func (d *DHT) handleStore(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeStore(body)
	if err != nil {
		return err
	}
	id, err := d.requester(from, &m.DHTHeader)
	if err != nil {
		return err
	}
	rec := recordFrom(&m.Record)
	if len(rec.Value) > d.cfg.MaxValue || rec.Verify(now, d.cfg.RecordTTL+d.cfg.MaxClockSkew) != nil {
		return core.Dropped(ReasonBadRecord)
	}
	ack := wire.StoreAck{DHTHeader: d.header(m.ReqID), OK: d.keep(now, rec)}
	d.node.Send(from, ack.AppendPacket(nil))
	d.maybeAdmit(now, id, from)
	return nil
}

// localRecord returns the valid record held for key.
func (d *DHT) localRecord(now time.Time, key identity.Key) (Record, bool) {
	rec, ok := d.records[key]
	if !ok {
		return Record{}, false
	}
	if !rec.Expires.After(now) {
		delete(d.records, key)
		return Record{}, false
	}
	return rec, true
}

// keep stores a verified record. Policy: one record per key; the first
// publisher keeps the key until its record expires, and its later records
// (a later expiry) replace the earlier ones. It reports whether rec is held.
func (d *DHT) keep(now time.Time, rec Record) bool {
	old, ok := d.localRecord(now, rec.Key)
	switch {
	case ok && old.Publisher != rec.Publisher:
		return false
	case ok && !rec.Expires.After(old.Expires):
		return true
	case !ok && len(d.records) >= d.cfg.MaxRecords:
		for k, r := range d.records { // order is irrelevant: only expired entries are deleted
			if !r.Expires.After(now) {
				delete(d.records, k)
			}
		}
		if len(d.records) >= d.cfg.MaxRecords {
			return false
		}
	}
	d.records[rec.Key] = rec
	return true
}

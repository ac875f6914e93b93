package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Errors returned by Publish.
var (
	ErrNotRunning      = errors.New("gossip: node not running")
	ErrPayloadTooLarge = errors.New("gossip: payload too large")
)

// Gossip is the gossip component of one node: it publishes, receives,
// verifies, deduplicates, forwards, announces and serves messages.
//
// Concurrency: not safe for concurrent use; it runs on its node's driver.
type Gossip struct {
	node     *core.Node
	cfg      Config
	peers    PeerSource
	verifier Verifier
	self     netip.AddrPort

	// seen, replay and hist are held in place (not behind pointers):
	// the receive path reads all three for every datagram, at 10,000
	// nodes each from another node than the last, so every pointer
	// followed is a likely cache miss.
	seen   seenCache
	flood  *floodControl
	replay replayGuard
	hist   history
	sel    selector

	// Pull repair state (pull.go).
	pending   keyLRU[*pending] // by ID, simplelru's behaviour (key_lru.go)
	queue     []pullItem       // queue[qhead:] wait for IWantDelay, in deadline order
	qhead     int
	queued    int // IDs in the queue
	pullTimer core.Timer

	rep repairState // anti-entropy repair (repair.go), held in place

	running bool
	seq     uint64
	hb      core.Timer
	scratch []byte       // content hashed for an ID
	sigBuf  [sigLen]byte // signed bytes
	sig     [wire.GossipSigLen]byte
	idBuf   [][wire.GossipIDLen]byte // a heartbeat's IHAVE IDs
	haveBuf [][wire.GossipIDLen]byte // a received IHAVE's IDs (decodeIHave)
	wantBuf [][wire.GossipIDLen]byte // an IWANT's IDs (processPull)
	deliver func(now time.Time, m Message)
	stats   Stats

	behavior Behavior    // nil: an honest node (adversary.go)
	accepted wire.Gossip // the copy of a new message passed to behavior.Accepted
}

// Stats counts a component's work.
type Stats struct {
	Published  uint64 // messages published here
	Delivered  uint64 // first receipts of valid messages
	Pulled     uint64 // of those, answers to our IWANTs
	Duplicates uint64 // full copies received after the first
	Pushed     uint64 // full copies pushed (forwarded or published)
	IHaveSent  uint64 // IHAVE datagrams sent
	IWantSent  uint64 // IWANT datagrams sent
	Served     uint64 // full copies sent in answer to IWANTs
	// PublisherLimited counts new messages dropped over their publisher's
	// rate.
	PublisherLimited uint64
	Repair           RepairStats
}

// New creates the gossip component of node, registers its message kinds and
// attaches it. peers supplies the peers to gossip with; v verifies
// signatures (nil: Ed25519Verifier, i.e. no cache).
func New(node *core.Node, cfg Config, peers PeerSource, v Verifier) (*Gossip, error) {
	if node == nil || peers == nil {
		return nil, fmt.Errorf("%w: gossip: nil node or peer source", core.ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if v == nil {
		v = Ed25519Verifier{}
	}
	g := &Gossip{
		node:     node,
		cfg:      cfg,
		peers:    peers,
		verifier: v,
		self:     node.Env().Transport.LocalAddr(),
		hist:     *newHistory(cfg.HistoryWindow, cfg.Repair.retention(), cfg.HistoryBytes, cfg.CacheSize),
		sel:      selector{rand: node.Env().Rand},
	}
	seen, err := newSeenCache(cfg.CacheSize, cfg.CacheTTL)
	if err != nil {
		return nil, err
	}
	g.seen = *seen
	if g.flood, err = newFloodControl(cfg); err != nil {
		return nil, err
	}
	replay, err := newReplayGuard(cfg.MaxTrackedSenders)
	if err != nil {
		return nil, err
	}
	g.replay = *replay
	g.pending.init(cfg.MaxPending) // >= 1: Validate
	rep, err := newRepairState(cfg)
	if err != nil {
		return nil, err
	}
	g.rep = *rep
	for _, k := range []struct {
		kind wire.Kind
		h    core.Handler
	}{{wire.KindGossip, g.handleGossip}, {wire.KindIHave, g.handleIHave}, {wire.KindIWant, g.handleIWant},
		{wire.KindDigest, g.handleDigest}, {wire.KindDigestReply, g.handleDigestReply}} {
		if err := node.Register(k.kind, k.h); err != nil {
			return nil, err
		}
	}
	node.Attach(g)
	return g, nil
}

// ShareBodies makes the component keep message payloads in s, shared with
// the other nodes of the process that use s, instead of a copy of its own.
// Call it before Start.
func (g *Gossip) ShareBodies(s *Bodies) { g.hist.bodies = s }

// OnDeliver sets a function called with every message delivered here,
// published ones included. m.Payload must not be modified.
func (g *Gossip) OnDeliver(f func(now time.Time, m Message)) { g.deliver = f }

// Stats returns the component's counters.
func (g *Gossip) Stats() Stats {
	s := g.stats
	return s
}

// Start implements core.Component: it arms the heartbeat, at a random
// offset within the first interval so nodes do not announce in step. The
// sequence number is raised to the clock in nanoseconds (as libp2p pubsub
// does) so a node that restarts without its state does not reuse numbers.
func (g *Gossip) Start(now time.Time) {
	g.running = true
	if floor := uint64(max(0, now.UnixNano())); g.seq < floor {
		g.seq = floor
	}
	g.stopTimers()
	if iv := g.cfg.HeartbeatInterval; iv > 0 {
		d := time.Duration(g.sel.rand.Int64N(int64(iv))) + 1
		g.hb = g.node.Env().Clock.AfterFunc(d, g.onHeartbeat)
	}
	g.startRepair(now)
}

// Stop implements core.Component: timers are cancelled and queued IWANTs
// forgotten. Seen IDs, windows and history are kept for a restart.
func (g *Gossip) Stop(time.Time) {
	g.running = false
	g.stopTimers()
}

func (g *Gossip) stopTimers() {
	if g.hb != nil {
		g.hb.Stop()
		g.hb = nil
	}
	if g.pullTimer != nil {
		g.pullTimer.Stop()
		g.pullTimer = nil
	}
	g.stopRepair()
	clear(g.queue)
	g.queue, g.qhead, g.queued = g.queue[:0], 0, 0
}

// Publish signs payload as the node's next message and sends it (a local
// command): sequence number next, timestamp now, TTL MaxTTL. It is
// delivered locally (observed as Published) and pushed to Fanout peers.
func (g *Gossip) Publish(now time.Time, payload []byte) (ID, error) {
	if !g.running {
		return ID{}, ErrNotRunning
	}
	if len(payload) > g.cfg.MaxPayload {
		return ID{}, fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(payload), g.cfg.MaxPayload)
	}
	g.seq++
	me := g.node.Identity()
	m := Seal(me, g.seq, now, uint8(g.cfg.MaxTTL), payload)
	e := newEntry(g.hist.keep(&m), now.UnixNano(), m.TTL, m.Hops)
	id := e.msg.id
	g.seen.add(id, now)
	g.replay.mark(me.ID(), g.seq)
	g.hist.add(now, e)
	g.stats.Published++
	g.node.Observe(now, Published{ID: id, Seq: g.seq, Size: len(payload)})
	g.handOver(now, e)
	g.forward(now, e, netip.AddrPort{})
	return id, nil
}

// handleGossip is the receive path. Order: decode; dedup by the carried ID
// (a duplicate costs no token and no hashing); flood control; TTL, size and
// timestamp checks; ID recomputed and signature verified; replay window.
// Only a message passing all of them is marked seen.
func (g *Gossip) handleGossip(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeGossip(body)
	if err != nil {
		return err
	}
	id := ID(m.ID)
	if g.seen.has(id, now) {
		g.duplicate(now, from, id)
		return nil
	}
	if !g.flood.publisherOpen(now, identity.PeerIDFromPublicKey(m.Sender[:])) {
		g.stats.PublisherLimited++
		return core.Dropped(ReasonPublisherRate)
	}
	if !g.flood.allowIn(now, from) {
		return core.Dropped(ReasonRateLimited)
	}
	sender, reason := g.check(now, &m)
	if reason != "" {
		return core.Dropped(reason)
	}
	if !g.flood.chargePublisher(now, sender) {
		g.stats.PublisherLimited++
		return core.Dropped(ReasonPublisherRate)
	}
	g.accept(now, from, &m, sender)
	return nil
}

// check validates a new message and returns its sender, or the drop reason.
func (g *Gossip) check(now time.Time, m *wire.Gossip) (identity.PeerID, string) {
	switch {
	case m.TTL == 0 || int(m.TTL) > g.cfg.MaxTTL || m.Hops == 0:
		return identity.PeerID{}, ReasonTTL
	case len(m.Payload) > g.cfg.MaxPayload:
		return identity.PeerID{}, ReasonOversized
	}
	ts := time.Unix(0, m.Time)
	switch {
	case ts.Before(now.Add(-g.cfg.CacheTTL)):
		return identity.PeerID{}, ReasonExpired
	case ts.After(now.Add(g.cfg.MaxClockSkew)):
		return identity.PeerID{}, ReasonFuture
	}
	sender := identity.PeerIDFromPublicKey(m.Sender[:])
	id := computeID(&g.scratch, sender, m.Seq, m.Time, m.Payload)
	if id != ID(m.ID) {
		return sender, ReasonForged
	}
	// Copies, so that nothing of m escapes through the interface call.
	g.sigBuf, g.sig = signingBytes(id), m.Sig
	if !g.verifier.Verify(sender, g.sigBuf[:], g.sig[:]) {
		return sender, ReasonForged
	}
	if !g.replay.fresh(sender, m.Seq) {
		return sender, ReasonReplayed
	}
	return sender, ""
}

// accept records, delivers and forwards a valid new message.
func (g *Gossip) accept(now time.Time, from netip.AddrPort, m *wire.Gossip, sender identity.PeerID) {
	e := newEntry(g.hist.keep(m), now.UnixNano(), m.TTL-1, m.Hops)
	if e.hopCount < 255 {
		e.hopCount++
	}
	id := e.msg.id
	e.addHolder(from)
	via := ViaPush
	if p, ok := g.pending.Peek(id); ok {
		for _, a := range p.announcers {
			e.addHolder(a)
		}
		if p.asked && p.askedTo == from {
			via = ViaPull
			g.stats.Pulled++
			if p.repair {
				via = ViaRepair
				g.stats.Repair.Repaired++
			}
		}
		g.pending.Remove(id)
	}
	g.seen.add(id, now)
	g.replay.mark(sender, m.Seq)
	g.hist.add(now, e)
	g.noteLate(now, m.Time)
	g.stats.Delivered++
	g.node.Observe(now, Delivered{
		ID: id, Sender: sender, From: from, Hops: int(m.Hops),
		Latency: now.Sub(time.Unix(0, m.Time)), Via: via,
	})
	g.handOver(now, e)
	if g.behavior != nil {
		// Through a copy held by g: m itself, passed to an interface
		// method, would escape, and every received message would be
		// decoded on the heap. Accepted keeps nothing (Behavior).
		g.accepted = *m
		g.behavior.Accepted(now, &g.accepted)
		g.accepted = wire.Gossip{} // not to hold on to the packet
	}
	g.forward(now, e, from)
}

func (g *Gossip) handOver(now time.Time, e *entry) {
	if g.deliver != nil {
		r := e.msg
		g.deliver(now, Message{ID: r.id, Sender: r.origin(), Seq: r.seq, Time: time.Unix(0, r.time), Payload: r.payload})
	}
}

func (g *Gossip) duplicate(now time.Time, from netip.AddrPort, id ID) {
	g.stats.Duplicates++
	if e := g.hist.get(id); e != nil {
		e.addHolder(from)
	}
	g.node.Observe(now, Duplicate{ID: id, From: from})
}

// forward pushes a new message to its eager peers and announces it to its
// lazy ones (see "Forwarding" in the package documentation).
func (g *Gossip) forward(now time.Time, e *entry, from netip.AddrPort) {
	if !e.live() || !g.relays(e) {
		return
	}
	k := g.cfg.LateFanout
	if e.hops() < g.cfg.EagerHops {
		k = g.cfg.Fanout
	}
	x := exclusion{self: g.self, from: from, origin: e.msg.origin(), holders: e.holders}
	eager, lazy := g.sel.pick(g.peers.GossipPeers(), &x, k, g.cfg.LazyFanout, g.cfg.PreferShare)
	if len(eager) > 0 {
		pkt := e.packet()
		for _, to := range eager {
			g.node.Send(to, pkt) // read-only once sent, so one buffer for all
		}
		g.stats.Pushed += uint64(len(eager))
		g.node.Observe(now, Forwarded{ID: e.msg.id, To: len(eager)})
	}
	if len(lazy) > 0 {
		ids := [][wire.GossipIDLen]byte{e.msg.id}
		pkt := wire.IHave{IDs: ids}.AppendPacket(make([]byte, 0, idsPacketLen(len(ids))))
		for _, to := range lazy {
			g.node.Send(to, pkt)
		}
		g.stats.IHaveSent += uint64(len(lazy))
	}
}

// onHeartbeat announces recent messages to HeartbeatPeers random peers,
// GossipSub v1.1 style: each gets one IHAVE with the newest IDs of the
// history window (at most MaxIHaveLength) that it is not known to hold.
func (g *Gossip) onHeartbeat() {
	if !g.running {
		return
	}
	env := g.node.Env()
	now := env.Clock.Now()
	g.hb = env.Clock.AfterFunc(g.cfg.HeartbeatInterval, g.onHeartbeat)
	g.hist.prune(now)
	if g.hist.len() == 0 {
		return
	}
	x := exclusion{self: g.self}
	targets, _ := g.sel.pick(g.peers.GossipPeers(), &x, g.cfg.HeartbeatPeers, 0, 0)
	for _, to := range targets {
		ids := g.idBuf[:0]
		since := now.Add(-g.cfg.GossipWindow).UnixNano()
		g.hist.newest(func(e *entry) bool {
			if e.at < since {
				return false // newest first: the rest are older still
			}
			if e.live() && !e.holders.has(to) && g.relays(e) {
				ids = append(ids, e.msg.id)
			}
			return len(ids) < g.cfg.MaxIHaveLength
		})
		g.idBuf = ids
		if len(ids) > 0 {
			g.node.Send(to, wire.IHave{IDs: ids}.AppendPacket(make([]byte, 0, idsPacketLen(len(ids)))))
			g.stats.IHaveSent++
		}
	}
}

// idsPacketLen returns the length of an IHAVE or IWANT datagram listing n
// IDs, so that it is allocated once at its final size.
func idsPacketLen(n int) int {
	var count [binary.MaxVarintLen64]byte
	return wire.HeaderLen + binary.PutUvarint(count[:], uint64(n)) + n*wire.GossipIDLen
}

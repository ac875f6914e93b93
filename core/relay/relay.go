package relay

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Errors returned by Send.
var (
	ErrNotRunning      = errors.New("relay: node not running")
	ErrPayloadTooLarge = errors.New("relay: payload too large")
	ErrBadAddress      = errors.New("relay: peer without an address")
	ErrTooManyPending  = errors.New("relay: too many unacknowledged messages")
)

// reasonBatch counts batches that failed to seal (never expected).
const reasonBatch = "batch-error"

// Hop names a peer of a route: its ID and the address it is reached at.
type Hop struct {
	ID   identity.PeerID
	Addr netip.AddrPort
}

// Message is a relayed message as the recipient's application sees it.
type Message struct {
	ID      MessageID
	Sender  identity.PeerID
	Sent    time.Time
	Path    []identity.PeerID
	Payload []byte
}

// Outcome is the end of a message this node sent: a verified proof of
// delivery, or, at the deadline, the partial proof its receipts give.
type Outcome struct {
	ID        MessageID
	Delivered bool
	// Proof is complete and verified when Delivered; otherwise it holds
	// the route and the hand-offs confirmed by receipts, in order.
	Proof *Proof
	// Report is Audit's reading of Proof.
	Report Report
	// Latency is the acknowledgement's arrival less the send (delivered),
	// or the time waited (undelivered).
	Latency time.Duration
}

// Stats counts a component's work.
type Stats struct {
	Sent        uint64 // messages sent from here
	Forwarded   uint64 // messages handed off as a relay
	Delivered   uint64 // messages accepted as the recipient
	Acked       uint64 // own messages with a verified proof
	Undelivered uint64 // own messages past their deadline without one
	Receipts    uint64 // valid hand-off receipts for own messages
	AcksRelayed uint64 // acknowledgements passed back as a relay
	// DuplicateAcks counts further copies of acknowledgements already
	// handled (each is sent to the sender directly and along the path).
	DuplicateAcks uint64
	// ProofsVerified and ProofsRejected count complete proofs checked, as
	// the sender or as a relay passing the acknowledgement back.
	ProofsVerified uint64
	ProofsRejected uint64
	Batches        uint64 // batches sealed
	BatchedProofs  uint64 // proofs in them
	// BytesIn and BytesOut are relayed bytes (data and acknowledgements).
	BytesIn, BytesOut uint64
	// Refused counts refused or dropped input by reason.
	Refused map[string]uint64
}

// Relay is the relay component of one node: it sends messages along
// explicit paths, relays others' messages when enabled, acknowledges those
// addressed to it, assembles and verifies proofs of delivery, and batches
// them under Merkle roots.
//
// Concurrency: not safe for concurrent use; it runs on its node's driver.
type Relay struct {
	node     *core.Node
	cfg      Config
	verifier Verifier
	self     identity.PeerID
	selfKey  [wire.RelayKeyLen]byte
	addr     netip.AddrPort
	running  bool
	nonce    uint64

	// Own messages awaiting acknowledgement (sender.go).
	out      map[MessageID]*outgoing
	outQ     fifo
	outTimer core.Timer

	// Messages relayed, kept until acknowledged or AckTimeout (forward.go).
	fwd       *simplelru.LRU[MessageID, *forwarded]
	fwdQ      fifo
	fwdTimer  core.Timer
	perSender map[identity.PeerID]int

	seen *simplelru.LRU[MessageID, time.Time] // ID -> forget after
	bw   *BandwidthAccountant

	// The open batch (batch timer armed while it is non-empty).
	batch      []*Proof
	batchStart time.Time
	batchSeq   uint64
	batchTimer core.Timer

	deliver func(now time.Time, m Message)
	outcome func(now time.Time, o Outcome)
	sealed  func(now time.Time, b *Batch)
	stats   Stats
	cheat   Cheat // nil: an honest relay (adversary.go)
}

// New creates the relay component of node, registers its message kinds and
// attaches it. v verifies signatures (nil: Ed25519Verifier, no cache).
func New(node *core.Node, cfg Config, v Verifier) (*Relay, error) {
	if node == nil {
		return nil, fmt.Errorf("%w: relay: nil node", core.ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if v == nil {
		v = Ed25519Verifier{}
	}
	r := &Relay{
		node:      node,
		cfg:       cfg,
		verifier:  v,
		self:      node.ID(),
		selfKey:   keyOf(node.ID()),
		addr:      node.Env().Transport.LocalAddr(),
		out:       map[MessageID]*outgoing{},
		perSender: map[identity.PeerID]int{},
		stats:     Stats{Refused: map[string]uint64{}},
	}
	var err error
	if r.fwd, err = simplelru.NewLRU(cfg.MaxPending, r.onForgetForwarded); err != nil {
		return nil, err
	}
	if r.seen, err = simplelru.NewLRU[MessageID, time.Time](cfg.MaxSeen, nil); err != nil {
		return nil, err
	}
	if r.bw, err = NewBandwidthAccountant(cfg.BandwidthLimitMbps, cfg.PeerShare, cfg.BurstWindow, cfg.MaxTrackedPeers); err != nil {
		return nil, err
	}
	for _, k := range []struct {
		kind wire.Kind
		h    core.Handler
	}{{wire.KindRelayData, r.handleData}, {wire.KindRelayAck, r.handleAck}, {wire.KindRelayReceipt, r.handleReceipt}} {
		if err := node.Register(k.kind, k.h); err != nil {
			return nil, err
		}
	}
	node.Attach(r)
	return r, nil
}

// OnDeliver sets a function called with every message delivered here.
// m.Payload is a copy the function may keep.
func (r *Relay) OnDeliver(f func(now time.Time, m Message)) { r.deliver = f }

// OnOutcome sets a function called once for every message sent from here:
// when its proof of delivery verifies, or at its deadline.
func (r *Relay) OnOutcome(f func(now time.Time, o Outcome)) { r.outcome = f }

// OnBatch sets a function called with every batch sealed here. The node
// keeps nothing of a sealed batch: the function owns it.
func (r *Relay) OnBatch(f func(now time.Time, b *Batch)) { r.sealed = f }

// Stats returns the component's counters.
func (r *Relay) Stats() Stats {
	s := r.stats
	s.Refused = maps.Clone(r.stats.Refused)
	return s
}

// Bandwidth returns the accountant of relayed bytes, for reading usage.
func (r *Relay) Bandwidth() *BandwidthAccountant { return r.bw }

// Pending returns the number of own messages awaiting acknowledgement and
// of relayed messages whose acknowledgement this node still waits for.
func (r *Relay) Pending() (own, relayed int) { return len(r.out), r.fwd.Len() }

// Start implements core.Component: it re-arms the timers of what is
// pending. The nonce is raised to the clock in nanoseconds so a node that
// restarts without state does not reuse message IDs.
func (r *Relay) Start(now time.Time) {
	r.running = true
	if floor := uint64(max(0, now.UnixNano())); r.nonce < floor {
		r.nonce = floor
	}
	r.stopTimers()
	r.armOut()
	r.armFwd()
	if len(r.batch) > 0 {
		r.batchTimer = r.node.Env().Clock.AfterFunc(r.batchStart.Add(r.cfg.BatchInterval).Sub(now), r.onBatchTimeout)
	}
}

// Stop implements core.Component: timers are cancelled; pending messages,
// relay state and the open batch are kept for a restart.
func (r *Relay) Stop(time.Time) {
	r.running = false
	r.stopTimers()
}

func (r *Relay) stopTimers() {
	for _, t := range []*core.Timer{&r.outTimer, &r.fwdTimer, &r.batchTimer} {
		if *t != nil {
			(*t).Stop()
			*t = nil
		}
	}
}

// Send sends payload to the recipient to along path, one to MaxHops relays
// in order (a local command). The message is signed with the route, handed
// to the first relay, and tracked until its acknowledgement or AckTimeout;
// either way OnOutcome is called once.
func (r *Relay) Send(now time.Time, to Hop, path []Hop, payload []byte) (MessageID, error) {
	if !r.running {
		return MessageID{}, ErrNotRunning
	}
	if len(payload) > r.cfg.MaxPayload {
		return MessageID{}, fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(payload), r.cfg.MaxPayload)
	}
	if len(path) == 0 || len(path) > r.cfg.MaxHops {
		return MessageID{}, fmt.Errorf("%w: %d relays, at most %d", ErrPathLength, len(path), r.cfg.MaxHops)
	}
	ids := make([]identity.PeerID, len(path))
	for i, h := range path {
		if !h.Addr.IsValid() {
			return MessageID{}, fmt.Errorf("%w: relay %d", ErrBadAddress, i)
		}
		ids[i] = h.ID
	}
	if !to.Addr.IsValid() {
		return MessageID{}, fmt.Errorf("%w: recipient", ErrBadAddress)
	}
	if err := distinct(r.self, to.ID, ids); err != nil {
		return MessageID{}, err
	}
	if len(r.out) >= r.cfg.MaxPendingPerSender {
		return MessageID{}, fmt.Errorf("%w: %d", ErrTooManyPending, len(r.out))
	}
	r.nonce++
	p := Proof{
		PayloadHash: PayloadHash(payload),
		Nonce:       r.nonce,
		Sender:      r.self,
		Sent:        now.UnixNano(),
		Recipient:   to.ID,
		Path:        ids,
	}
	p.ID = ComputeID(p.Sender, p.Nonce, p.PayloadHash)
	copy(p.RouteSig[:], r.node.Identity().Sign(RouteBytes(p.ID, p.Sent, p.Recipient, p.Path)))
	m := wire.RelayData{
		ID: p.ID, Sender: r.selfKey, SenderAddr: r.addr, Nonce: p.Nonce, Sent: p.Sent,
		Recipient: wire.RelayHop{Key: keyOf(to.ID), Addr: to.Addr},
		Path:      make([]wire.RelayHop, len(path)),
		RouteSig:  p.RouteSig, Payload: payload,
	}
	for i, h := range path {
		m.Path[i] = wire.RelayHop{Key: keyOf(h.ID), Addr: h.Addr}
	}
	r.track(now, &p)
	r.stats.Sent++
	r.node.Observe(now, Sent{ID: p.ID, Recipient: to.ID, FirstHop: path[0].ID, Hops: len(path), Size: len(payload)})
	r.node.Send(path[0].Addr, m.AppendPacket(nil))
	return p.ID, nil
}

// Flush seals the open batch now, if it holds any proof.
func (r *Relay) Flush(now time.Time) {
	if len(r.batch) > 0 {
		r.seal(now)
	}
}

// refuse counts and observes a refused RelayData and returns the drop.
func (r *Relay) refuse(now time.Time, from netip.AddrPort, m *wire.RelayData, reason string, size int) error {
	ev := Refused{From: from, Reason: reason, Bytes: size}
	if m != nil {
		ev.ID, ev.Sender = MessageID(m.ID), peerOf(m.Sender)
	}
	r.node.Observe(now, ev)
	return r.drop(reason)
}

// drop counts a dropped datagram and returns the error the node observes.
func (r *Relay) drop(reason string) error {
	r.stats.Refused[reason]++
	return core.Dropped(reason)
}

func (r *Relay) seenHas(id MessageID, now time.Time) bool {
	until, ok := r.seen.Peek(id)
	return ok && now.Before(until)
}

func (r *Relay) markSeen(id MessageID, now time.Time) {
	r.seen.Add(id, now.Add(r.cfg.AckTimeout+r.cfg.MaxClockSkew))
}

// addToBatch adds a verified proof to the open batch, sealing it at
// BatchSize; the first proof of a batch arms its BatchInterval timer.
func (r *Relay) addToBatch(now time.Time, p *Proof) {
	r.batch = append(r.batch, p)
	if len(r.batch) == 1 {
		r.batchStart = now
		if r.running {
			r.batchTimer = r.node.Env().Clock.AfterFunc(r.cfg.BatchInterval, r.onBatchTimeout)
		}
	}
	if len(r.batch) >= r.cfg.BatchSize {
		r.seal(now)
	}
}

// onBatchTimeout seals the open batch BatchInterval after its first proof.
func (r *Relay) onBatchTimeout() {
	r.batchTimer = nil
	if r.running && len(r.batch) > 0 {
		r.seal(r.node.Env().Clock.Now())
	}
}

func (r *Relay) seal(now time.Time) {
	if r.batchTimer != nil {
		r.batchTimer.Stop()
		r.batchTimer = nil
	}
	proofs := r.batch
	r.batch = nil
	b, err := NewBatch(r.node.Identity(), r.batchSeq+1, proofs)
	if err != nil {
		// Unreachable: only verified, complete proofs enter a batch.
		r.stats.Refused[reasonBatch]++
		return
	}
	r.batchSeq++
	r.stats.Batches++
	r.stats.BatchedProofs += uint64(len(proofs))
	r.node.Observe(now, BatchSealed{Seq: b.Seq, Root: b.Root, Count: int(b.Count), First: b.FirstTime(), Last: b.LastTime()})
	if r.sealed != nil {
		r.sealed(now, b)
	}
}

func hopRecords(recs []wire.RelayRecord) []HopRecord {
	if len(recs) == 0 {
		return nil
	}
	out := make([]HopRecord, len(recs))
	for i := range recs {
		out[i] = HopRecord(recs[i])
	}
	return out
}

func clonePacket(kind wire.Kind, body []byte) []byte {
	return append(wire.AppendEnvelope(make([]byte, 0, wire.HeaderLen+len(body)), kind), body...)
}

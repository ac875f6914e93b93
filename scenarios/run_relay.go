package scenarios

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/relay"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/sim"
)

// Relays in the simulator (core/relay):
//
//   - Every node gets a relay component when the scenario has relays
//     (nodes.relays); only the relays have enable_relay. The components
//     share one signature cache, as gossip's do.
//   - Each private node (nodes.private) keeps sessions with
//     ReservationsPerNode relays, drawn from its own "reservations" stream:
//     its connection manager protects them (tag relay) and dials them at
//     the start, so their probes keep the private node's filter binding to
//     each relay open and a lost session is redialled with backoff. This
//     stands in for a relay reservation the node would find and announce
//     through the DHT. The relays do not protect these sessions (a relay
//     would then redial nodes it cannot reach); with a cap of 50 they are
//     not pruned in practice.
//   - A relay workload sends messages along paths the sender draws from its
//     own "relay-path" stream: hops-1 random relays, then, for a private
//     recipient, one of the recipient's relays (the runner stands in for
//     the DHT lookup of its reservations), or another random relay for a
//     public one. Senders, recipients and path lengths come from the
//     workload entry's world-level stream, payloads from its entropy.
//   - Outcomes (core/relay OnOutcome) are recorded at the sender: a
//     delivered message's proof is verified again with relay.Verify (and
//     checked against the payload and recipient sent), a sample of them
//     is tampered with (one bit of the on-chain form) and must be
//     rejected; an undelivered one is classified by the sender's audit.
//   - Every sealed batch (OnBatch) is checked from its on-chain forms: the
//     header parses and its signature verifies, and every proof's
//     inclusion proof verifies against the header's root and count, its
//     batching node being the proof's sender or one of its relays. Batches
//     seal at 100 proofs or after an hour, so at the end of the run every
//     node's open batch is sealed (Flush), as a node settling before it
//     leaves would.

// relayRun holds the relay components and the record the summary's relay
// section is built from.
type relayRun struct {
	nodes   []*relay.Relay
	verify  *gossip.VerifyCache
	relays  []int
	isRelay []bool
	private []int
	reserve [][]int // per node: the relays a private node keeps sessions with

	msgs     []relayMsg
	byID     map[relay.MessageID]int
	sendErrs map[string]uint64
	resErrs  map[string]uint64 // reservation dials refused locally, by reason
	hops     map[int]uint64

	delivered, undelivered  uint64
	undeliveredBy, suspects map[string]uint64
	latency, delivery       []float64

	proofsVerified, proofsFailed, mismatch uint64
	tamperChecked, tamperRejected          uint64

	batches, batchesFailed, batched, inclChecked, inclFailed uint64

	pick    map[int]*rand.Rand    // workload entry -> sender, recipient and hop draws
	payload map[int]*rand.ChaCha8 // workload entry -> payload bytes
	paths   []*rand.Rand          // per sender: relay choices
	tamper  *rand.Rand
}

// relayMsg is one message sent by a relay workload.
type relayMsg struct {
	sender, recipient int
	hash              relay.Hash
	done              bool
}

// tamperEvery is the sampling interval of the tamper check: every
// tamperEvery-th delivered proof is tampered with.
const tamperEvery = 10

// usesRelay reports whether the scenario has relays (a relay workload
// needs them).
func (sc *Scenario) usesRelay() bool { return !sc.Nodes.Relays.Empty() }

// setupRelay prepares the relay components' shared state and draws each
// private node's relays.
func (r *runner) setupRelay(relays, private []int) error {
	n := r.sc.Nodes.Count
	rr := &relayRun{nodes: make([]*relay.Relay, n), relays: relays, isRelay: make([]bool, n), private: private,
		reserve: make([][]int, n), byID: map[relay.MessageID]int{}, sendErrs: map[string]uint64{}, resErrs: map[string]uint64{}, hops: map[int]uint64{},
		undeliveredBy: map[string]uint64{}, suspects: map[string]uint64{},
		pick: map[int]*rand.Rand{}, payload: map[int]*rand.ChaCha8{}, paths: make([]*rand.Rand, n),
		tamper: r.w.Rand(-1, "relay/tamper")}
	var err error
	if rr.verify, err = gossip.NewVerifyCache(1<<16, gossip.Ed25519Verifier{}); err != nil {
		return err
	}
	for _, i := range relays {
		rr.isRelay[i] = true
	}
	if k := min(ReservationsPerNode, len(relays)); k > 0 {
		for _, p := range private {
			perm := r.w.Rand(p, "reservations").Perm(len(relays))
			res := make([]int, k)
			for j := range res {
				res[j] = relays[perm[j]]
			}
			rr.reserve[p] = res
		}
	}
	r.relay = rr
	return nil
}

// attachRelay adds node i's relay component, and protects a private node's
// relays on its connection manager (attached before).
func (r *runner) attachRelay(i int, node *core.Node) error {
	rr := r.relay
	if rr == nil {
		return nil
	}
	cfg := relay.FromCore(r.sc.Protocol)
	cfg.Enabled = rr.isRelay[i]
	rl, err := relay.New(node, cfg, rr.verify)
	if err != nil {
		return err
	}
	rl.OnOutcome(func(now time.Time, o relay.Outcome) { r.relayOutcome(o); r.advRelayOutcome(o) })
	rl.OnBatch(func(_ time.Time, b *relay.Batch) { r.relayBatch(b) })
	rr.nodes[i] = rl
	if res := rr.reserve[i]; len(res) > 0 {
		m := r.conn.mgrs[i]
		peers := make([]connmgr.PeerAddr, len(res))
		for k, j := range res {
			peers[k] = connmgr.PeerAddr{ID: r.ids[j].ID(), Addr: sim.Addr(j)}
			m.Protect(peers[k].ID, connmgr.TagRelay)
		}
		// Attached after the manager and before the candidate feed, so
		// the relays are dialled before the feed's candidates take the
		// manager's dial slots.
		node.Attach(&reservations{r: r, m: m, peers: peers})
	}
	return nil
}

// reservations is a private node's stand-in for its relay reservations:
// when the node starts (at the start of the run, or after a restart) it
// dials its relays, which its manager protects, so a failed dial or a lost
// session is redialled with backoff.
type reservations struct {
	r     *runner
	m     *connmgr.Manager
	peers []connmgr.PeerAddr
}

// Start implements core.Component.
func (c *reservations) Start(now time.Time) {
	for _, p := range c.peers {
		if err := c.m.Connect(now, p.ID, p.Addr); err != nil && !errors.Is(err, connmgr.ErrExists) {
			c.r.relay.resErrs[connErrReason(err)]++
		}
	}
}

// Stop implements core.Component.
func (c *reservations) Stop(time.Time) {}

func connErrReason(err error) string {
	switch {
	case errors.Is(err, connmgr.ErrFull):
		return "full"
	case errors.Is(err, connmgr.ErrDialLimit):
		return "dial-limit"
	case errors.Is(err, connmgr.ErrNotRunning):
		return "not-running"
	}
	return "other"
}

// relayRound is one firing of a relay workload: its messages, spread
// evenly over Over.
type relayRound struct {
	r     *runner
	from  []int
	to    []int
	work  *RelayWork
	index int
}

func (l relayRound) HandleEvent(int, any) {
	eng := l.r.w.Engine()
	step := time.Duration(0)
	if l.work.Count > 1 {
		step = time.Duration(l.work.Over) / time.Duration(l.work.Count)
	}
	for k := range l.work.Count {
		eng.Schedule(eng.Now()+time.Duration(k)*step, oneRelay(l), 0, nil)
	}
}

type oneRelay relayRound

// HandleEvent sends one message from a live node of From to another live
// node of To.
func (l oneRelay) HandleEvent(int, any) {
	r := l.r
	rr, w := r.relay, r.w
	rng := rr.pick[l.index]
	if rng == nil {
		rng = w.Rand(-1, "relay/"+strconv.Itoa(l.index))
		rr.pick[l.index] = rng
	}
	live := make([]int, 0, len(l.from))
	for _, i := range l.from {
		if w.Up(i) {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		rr.sendErrs["no-sender"]++
		return
	}
	src := live[rng.IntN(len(live))]
	cands := make([]int, 0, len(l.to))
	for _, i := range l.to {
		if i != src && w.Up(i) {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		rr.sendErrs["no-recipient"]++
		return
	}
	dst := cands[rng.IntN(len(cands))]
	h := l.work.MinHops + rng.IntN(l.work.MaxHops-l.work.MinHops+1)
	path, ok := r.relayPath(src, dst, h)
	if !ok {
		rr.sendErrs["no-path"]++
		return
	}
	src8 := rr.payload[l.index]
	if src8 == nil {
		src8 = w.Entropy(-1, "relay-payload/"+strconv.Itoa(l.index))
		rr.payload[l.index] = src8
	}
	payload := make([]byte, l.work.Size)
	src8.Read(payload)
	to := relay.Hop{ID: r.ids[dst].ID(), Addr: sim.Addr(dst)}
	id, err := rr.nodes[src].Send(w.Now(), to, path, payload)
	if err != nil {
		rr.sendErrs[sendErrReason(err)]++
		return
	}
	rr.byID[id] = len(rr.msgs)
	rr.msgs = append(rr.msgs, relayMsg{sender: src, recipient: dst, hash: relay.PayloadHash(payload)})
	rr.hops[h]++
}

func sendErrReason(err error) string {
	switch {
	case errors.Is(err, relay.ErrTooManyPending):
		return "too-many-pending"
	case errors.Is(err, relay.ErrNotRunning):
		return "not-running"
	case errors.Is(err, relay.ErrPayloadTooLarge):
		return "payload-too-large"
	}
	return "other"
}

// relayPath draws the path of a message from src to dst with h relays,
// from src's own stream: h-1 random relays, then one of dst's relays if it
// is private (a random relay otherwise). ok is false when there are not
// enough relays besides src and dst.
func (r *runner) relayPath(src, dst, h int) ([]relay.Hop, bool) {
	rr := r.relay
	rng := rr.paths[src]
	if rng == nil {
		rng = r.w.Rand(src, "relay-path")
		rr.paths[src] = rng
	}
	var last int
	if res := rr.reserve[dst]; len(res) > 0 {
		ok := slices.DeleteFunc(slices.Clone(res), func(j int) bool { return j == src })
		if len(ok) == 0 {
			return nil, false
		}
		last = ok[rng.IntN(len(ok))]
	} else {
		last = -1
	}
	pool := make([]int, 0, len(rr.relays))
	for _, j := range rr.relays {
		if j != src && j != dst && j != last {
			pool = append(pool, j)
		}
	}
	need := h - 1
	if last < 0 {
		need = h
	}
	if need > len(pool) {
		return nil, false
	}
	// A partial Fisher-Yates shuffle picks need distinct relays in order.
	for k := range need {
		j := k + rng.IntN(len(pool)-k)
		pool[k], pool[j] = pool[j], pool[k]
	}
	chosen := pool[:need]
	if last >= 0 {
		chosen = append(chosen, last)
	}
	path := make([]relay.Hop, len(chosen))
	for k, j := range chosen {
		path[k] = relay.Hop{ID: r.ids[j].ID(), Addr: sim.Addr(j)}
	}
	return path, true
}

// relayOutcome records the end of a message at its sender.
func (r *runner) relayOutcome(o relay.Outcome) {
	rr := r.relay
	k, ok := rr.byID[o.ID]
	if !ok || rr.msgs[k].done {
		return
	}
	m := &rr.msgs[k]
	m.done = true
	p := o.Proof
	if !o.Delivered {
		rr.undelivered++
		finding := "forged"
		switch {
		case o.Report.Verdict != relay.VerdictDropped:
		case errors.Is(o.Report.Err, relay.ErrNoAck):
			finding = "no-ack"
		case o.Report.Confirmed == 0:
			finding = "no-receipt"
		default:
			finding = "handoff"
		}
		rr.undeliveredBy[finding]++
		for _, s := range o.Report.Suspects {
			if s == p.Recipient {
				rr.suspects["recipient"]++
			} else {
				rr.suspects["relay"]++
			}
		}
		return
	}
	rr.delivered++
	rr.latency = append(rr.latency, float64(o.Latency)/1e6)
	rr.delivery = append(rr.delivery, float64(p.Ack.Received-p.Sent)/1e6)
	if err := relay.Verify(p); err != nil {
		rr.proofsFailed++
	} else {
		rr.proofsVerified++
	}
	if p.PayloadHash != m.hash || p.Recipient != r.ids[m.recipient].ID() || p.Sender != r.ids[m.sender].ID() {
		rr.mismatch++
	}
	if rr.delivered%tamperEvery == 1 {
		rr.tamperChecked++
		if tamperedRejected(p, rr.tamper) {
			rr.tamperRejected++
		}
	}
}

// tamperedRejected flips one bit, drawn from rng, of p's on-chain form and
// reports whether the result is rejected (by ParseProof or Verify).
func tamperedRejected(p *relay.Proof, rng *rand.Rand) bool {
	data, err := p.SerializeForChain()
	if err != nil {
		return false
	}
	bit := rng.IntN(8 * len(data))
	data[bit/8] ^= 1 << (bit % 8)
	q, err := relay.ParseProof(data)
	return err != nil || relay.Verify(q) != nil
}

// relayBatch checks a sealed batch from its on-chain forms: the header
// parses and verifies, and every proof's inclusion proof verifies against
// the header's root with the header's count as the tree size, its batching
// node being the proof's sender or one of its relays.
func (r *runner) relayBatch(b *relay.Batch) {
	rr := r.relay
	rr.batches++
	rr.batched += uint64(b.Count)
	hdr, err := relay.ParseBatch(b.SerializeForChain())
	if err != nil || hdr.Verify() != nil {
		rr.batchesFailed++
		return
	}
	var data []byte
	for i, p := range b.Proofs {
		rr.inclChecked++
		inc, err := b.Inclusion(i)
		if err != nil {
			rr.inclFailed++
			continue
		}
		onChain, err := relay.ParseInclusion(inc.SerializeForChain())
		if err == nil {
			data, err = p.AppendForChain(data[:0])
		}
		if err != nil || onChain.Size != uint64(hdr.Count) || onChain.Verify(hdr.Root, data) != nil ||
			(p.Sender != hdr.Relay && !slices.Contains(p.Path, hdr.Relay)) {
			rr.inclFailed++
		}
	}
}

// finishRelay seals every live node's open batch at the end of the run.
func (r *runner) finishRelay() {
	rr := r.relay
	if rr == nil {
		return
	}
	now := r.w.Now()
	for i, rl := range rr.nodes {
		if rl != nil && r.w.Up(i) {
			rl.Flush(now)
		}
	}
}

// relayLoad returns every relay's load, in node order.
func (r *runner) relayLoad() []reports.RelayLoad {
	rr := r.relay
	out := make([]reports.RelayLoad, 0, len(rr.relays))
	for _, j := range rr.relays {
		st := rr.nodes[j].Stats()
		out = append(out, reports.RelayLoad{Node: j, Messages: st.Forwarded, Bytes: st.BytesOut})
	}
	return out
}

func (r *runner) relaySummary() *reports.RelaySection {
	rr := r.relay
	if rr == nil {
		return nil
	}
	s := &reports.RelaySection{
		Relays: len(rr.relays), PrivateNodes: len(rr.private),
		Messages: uint64(len(rr.msgs)), Delivered: rr.delivered, Undelivered: rr.undelivered,
		ProofsVerified: rr.proofsVerified, ProofsFailed: rr.proofsFailed, PayloadMismatch: rr.mismatch,
		TamperedChecked: rr.tamperChecked, TamperedRejected: rr.tamperRejected,
		Batches: rr.batches, BatchesFailed: rr.batchesFailed, BatchedProofs: rr.batched,
		InclusionChecked: rr.inclChecked, InclusionFailed: rr.inclFailed,
		LatencyMs: reports.Summarize(slices.Clone(rr.latency)), DeliveryMs: reports.Summarize(slices.Clone(rr.delivery)),
	}
	for _, p := range rr.private {
		for _, j := range rr.reserve[p] {
			s.Reservations++
			if r.w.Up(p) && r.conn.mgrs[p].IsConnected(r.ids[j].ID()) {
				s.ReservationsUp++
			}
		}
	}
	s.Pending = s.Messages - s.Delivered - s.Undelivered
	if s.Messages > 0 {
		s.DeliveryRatio = math.Floor(float64(s.Delivered)/float64(s.Messages)*1e6) / 1e6
	}
	if len(rr.hops) > 0 {
		s.Hops = map[string]uint64{}
		for h, c := range rr.hops {
			s.Hops[strconv.Itoa(h)] = c
		}
	}
	for _, m := range []struct {
		dst *map[string]uint64
		src map[string]uint64
	}{{&s.SendErrors, rr.sendErrs}, {&s.ReservationErrors, rr.resErrs}, {&s.UndeliveredBy, rr.undeliveredBy}, {&s.Suspects, rr.suspects}} {
		if len(m.src) > 0 {
			*m.dst = m.src
		}
	}
	var msgs, bytes []float64
	for _, l := range r.relayLoad() {
		msgs = append(msgs, float64(l.Messages))
		bytes = append(bytes, float64(l.Bytes))
	}
	s.MessagesPerRelay = reports.Summarize(msgs)
	s.BytesPerRelay = reports.Summarize(bytes)
	refused := map[string]uint64{}
	for _, rl := range rr.nodes {
		if rl == nil {
			continue
		}
		for k, v := range rl.Stats().Refused {
			refused[k] += v
		}
	}
	if len(refused) > 0 {
		s.Refused = refused
	}
	return s
}

// writeRelayOutputs writes relay_load.csv when the scenario asks for
// tables or plots.
func (r *runner) writeRelayOutputs(dir string) error {
	if r.relay == nil || len(r.relay.relays) == 0 || !(r.sc.wants("csv") || r.sc.wants("plots")) {
		return nil
	}
	return reports.WriteRelayLoadCSV(dir, r.relayLoad())
}

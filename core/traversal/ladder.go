package traversal

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// cand is a candidate endpoint of a peer (ICE's "candidate", RFC 8445
// §5.1.1): where probes go, and what answered.
type cand struct {
	addr    netip.AddrPort
	method  Method
	round   int // first punching round that probes it; 0: from the OFFER on
	learned bool
	acks    int // probes answered since it last failed
	lastAck time.Time
	dead    bool // failed as a path: no fallback to it until it answers again
}

// trial is one method of one ladder run, for its Attempt event.
type trial struct {
	first time.Time
	addr  netip.AddrPort
	done  bool
}

// sentRing is how many recent probes a peer remembers the candidate of.
const sentRing = 64

type sentProbe struct {
	seq uint32
	c   *cand
}

// peer is the traversal state of one remote peer: the attempt (asking a
// rendezvous, then the ladder) and the chosen path.
type peer struct {
	id        identity.PeerID
	key       [wire.NATKeyLen]byte
	txn       uint64
	initiator bool
	started   time.Time

	asking   bool
	askTries int
	askTimer core.Timer
	// ladders counts the ladder runs of this attempt (initiator only).
	ladders int

	offered    bool
	remote     wire.NATInfo
	remoteType core.NATType
	observed   netip.AddrPort
	cands      []*cand
	ladder     bool
	round      int
	roundTick  int
	startTimer core.Timer
	tickTimer  core.Timer
	trials     [MethodDirect + 1]trial
	seq        uint32
	sent       [sentRing]sentProbe // the candidates of the latest probes, by seq

	path     *cand
	since    time.Time
	reported bool
	pingSeq  uint32
	awaiting uint32
	misses   int
	kaTimer  core.Timer
}

func (p *peer) stopTimers() {
	for _, tm := range []*core.Timer{&p.askTimer, &p.startTimer, &p.tickTimer, &p.kaTimer} {
		if *tm != nil {
			(*tm).Stop()
			*tm = nil
		}
	}
}

func (p *peer) find(addr netip.AddrPort) *cand {
	for _, c := range p.cands {
		if c.addr == addr {
			return c
		}
	}
	return nil
}

// Connect starts the ladder towards peer (a local command): CONNECT to a
// rendezvous, then, on its OFFER, every rung in parallel. The outcome is
// observed (PathSet, Upgrade, Failed) and reported to OnPath.
func (t *Traversal) Connect(now time.Time, id identity.PeerID) error {
	switch {
	case !t.running:
		return ErrNotRunning
	case id == t.self:
		return ErrSelf
	case len(t.regs) == 0:
		return ErrNoRendezvous
	}
	if p := t.peers[id]; p != nil {
		if p.path != nil {
			return ErrConnected
		}
		return ErrInProgress
	}
	if len(t.peers) >= t.cfg.MaxPeers {
		return ErrFull
	}
	p := &peer{id: id, key: [wire.NATKeyLen]byte(id.PublicKey()), txn: t.nonce(), initiator: true, started: now, asking: true}
	t.peers[id] = p
	t.stats.Connects++
	t.ask(now, p)
	return nil
}

// ask sends the attempt's CONNECT to the next rendezvous: registered ones
// first, in configured order.
func (t *Traversal) ask(now time.Time, p *peer) {
	order := make([]*registration, 0, len(t.regs))
	for _, r := range t.regs {
		if r.ok {
			order = append(order, r)
		}
	}
	for _, r := range t.regs {
		if !r.ok {
			order = append(order, r)
		}
	}
	r := order[p.askTries%len(order)]
	m := wire.NATConnect{Txn: p.txn, Sender: t.selfKey, Target: p.key, Info: t.info(), RTT: r.rtt}
	t.node.Send(r.addr, m.AppendPacket(nil))
	p.askTimer = t.env.Clock.AfterFunc(t.cfg.ConnectTimeout, func() { t.onAskTimeout(p) })
}

func (t *Traversal) onAskTimeout(p *peer) {
	if !t.running || t.peers[p.id] != p || !p.asking {
		return
	}
	p.askTimer = nil
	now := t.env.Clock.Now()
	p.askTries++
	if p.askTries >= t.cfg.ConnectRetries {
		t.fail(now, p, FailRendezvous)
		return
	}
	t.ask(now, p)
}

// fail ends an attempt that has no path.
func (t *Traversal) fail(now time.Time, p *peer, reason string) {
	p.stopTimers()
	p.asking, p.ladder = false, false
	delete(t.peers, p.id)
	t.stats.Failures++
	t.observe(now, Failed{Peer: p.id, LocalType: t.natType.String(), RemoteType: p.remoteType.String(),
		Initiator: p.initiator, Reason: reason, Took: now.Sub(p.started)})
}

func (t *Traversal) handleOffer(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeNATOffer(body)
	if err != nil {
		return err
	}
	if t.registration(from) == nil {
		return t.drop(core.ReasonUnsolicited)
	}
	id, err := t.peerID(m.Peer)
	if err != nil {
		return err
	}
	if m.Delay > t.cfg.MaxStartDelay {
		return t.drop(DropBadDelay)
	}
	p := t.peers[id]
	if m.Flags&wire.NATOfferInitiator != 0 {
		switch {
		case p == nil || p.txn != m.Txn:
			return t.drop(DropStale)
		case !p.asking:
			return t.drop(DropDuplicate)
		}
		p.asking = false
		p.askTimer.Stop()
		p.askTimer = nil
	} else {
		switch {
		case p != nil && p.txn == m.Txn:
			return t.drop(DropDuplicate)
		case p != nil && p.asking:
			// Both asked at once: the attempt of the peer with the lower
			// key goes on, on both sides.
			if bytes.Compare(t.selfKey[:], m.Peer[:]) < 0 {
				return t.drop(DropStale)
			}
			p.asking = false
			p.askTimer.Stop()
			p.askTimer = nil
			p.txn = m.Txn
		case p != nil:
			// A new attempt from the peer (it restarted or lost its path):
			// run the ladder again under its txn, keeping any path until a
			// new one works.
			p.txn, p.started, p.initiator, p.reported = m.Txn, now, false, false
		default:
			if len(t.peers) >= t.cfg.MaxPeers {
				return t.drop(DropFull)
			}
			p = &peer{id: id, key: m.Peer, txn: m.Txn, started: now}
			t.peers[id] = p
		}
	}
	t.stats.Offers++
	p.offered = true
	p.remote, p.remoteType, p.observed = m.Info, natType(m.Info.Type), m.Observed
	t.startLadder(now, p, m.Delay)
	return nil
}

// punchFeasible reports whether hole punching can work between NAT types a
// and b (RFC 4787 §4, §5): it fails when one side's mapping is not
// endpoint-independent and the other filters on address and port (or
// does not have endpoint-independent mapping either). Unknown types count
// as feasible.
func punchFeasible(a, b core.NATType) bool {
	hard := func(x, y core.NATType) bool {
		return x == core.NATSymmetric && (y == core.NATSymmetric || y == core.NATPortRestricted)
	}
	return !hard(a, b) && !hard(b, a)
}

// startLadder starts every rung at once: probes to the peer's open, mapped
// and relayed endpoints now; hole punching after the agreed delay.
func (t *Traversal) startLadder(now time.Time, p *peer, delay time.Duration) {
	for _, tm := range []*core.Timer{&p.startTimer, &p.tickTimer} {
		if *tm != nil {
			(*tm).Stop()
			*tm = nil
		}
	}
	var kept []*cand
	if p.path != nil {
		kept = append(kept, p.path)
	}
	p.cands, p.trials, p.ladder, p.round, p.roundTick = kept, [MethodDirect + 1]trial{}, true, 0, 0
	p.sent = [sentRing]sentProbe{}
	r := p.remote
	t.add(p, r.Mapped, 0, false)
	if p.remoteType == core.NATOpen || p.remoteType == core.NATFullCone {
		t.add(p, p.observed, 0, false)
		t.add(p, r.Public, 0, false)
	}
	// The peer's relay lets this node in at once only where punching
	// cannot work; otherwise after the first punching round failed (see
	// tick). Probing it before then only loses probes at its server.
	punching := t.cfg.HolePunching && punchFeasible(t.natType, p.remoteType)
	relayRound := 0
	if punching {
		relayRound = 2
	}
	t.add(p, r.Relayed, relayRound, false)
	if t.cfg.HolePunching {
		t.add(p, p.observed, 1, false)
	}
	if !punching {
		t.permit(now, p)
	}
	t.probe(now, p)
	p.startTimer = t.env.Clock.AfterFunc(delay, func() { t.onPunchStart(p) })
}

// methodFor names how a path to addr would come about: through this
// node's relay (the peer's IP has a permission) or the peer's; through the
// peer's mapped port; directly when the peer is public or full-cone; and
// for any other endpoint (observed, predicted or learned from the peer's
// probes) by what this node's side needs: nothing when it is public or
// full-cone, its mapped port if it has one, else a punched hole.
func (t *Traversal) methodFor(p *peer, addr netip.AddrPort) Method {
	r := p.remote
	switch {
	case t.permittedIPs[addr.Addr().Unmap()]:
		return MethodRelay
	case addr == r.Relayed:
		return MethodRelay
	case addr == r.Mapped:
		return MethodUPnP
	case (p.remoteType == core.NATOpen || p.remoteType == core.NATFullCone) && (addr == p.observed || addr == r.Public):
		return MethodDirect
	case t.natType == core.NATOpen || t.natType == core.NATFullCone:
		return MethodDirect
	case t.mapped.IsValid():
		return MethodUPnP
	}
	return MethodPunch
}

// add adds a candidate (or lowers an existing one's round); nil if addr is
// unusable or the peer has MaxCandidates.
func (t *Traversal) add(p *peer, addr netip.AddrPort, round int, learned bool) *cand {
	if !addr.IsValid() || addr.Port() == 0 {
		return nil
	}
	if c := p.find(addr); c != nil {
		c.round = min(c.round, round)
		return c
	}
	if len(p.cands) >= t.cfg.MaxCandidates {
		return nil
	}
	c := &cand{addr: addr, method: t.methodFor(p, addr), round: round, learned: learned}
	p.cands = append(p.cands, c)
	return c
}

// permit lets the peer in through this node's relay (RFC 8656 §9), if it
// has one. The Connectivity contract then sends everything for the peer's
// IP through the relay, so every candidate there becomes a relay one.
func (t *Traversal) permit(now time.Time, p *peer) {
	if !t.relayed.IsValid() || t.env.Connectivity == nil {
		return
	}
	for _, a := range []netip.AddrPort{p.observed, p.remote.Public} {
		ip := a.Addr().Unmap()
		if !a.IsValid() || t.permittedIPs[ip] {
			continue
		}
		t.permittedIPs[ip] = true
		t.inEnv++
		t.env.Connectivity.PermitRelay(ip)
		t.inEnv--
	}
	for _, c := range p.cands {
		c.method = t.methodFor(p, c.addr)
	}
}

// probe sends a PUNCH to every candidate of the current round that could
// still improve the peer's path.
func (t *Traversal) probe(now time.Time, p *peer) {
	for _, c := range p.cands {
		if c.round <= p.round && (p.path == nil || c.method > p.path.method) {
			t.punch(now, p, c)
		}
	}
}

func (t *Traversal) punch(now time.Time, p *peer, c *cand) {
	p.seq++
	p.sent[p.seq%sentRing] = sentProbe{p.seq, c}
	if tr := &p.trials[c.method]; tr.first.IsZero() {
		tr.first, tr.addr = now, c.addr
	}
	t.stats.ProbesSent++
	t.node.Send(c.addr, (&wire.NATProbe{Txn: p.txn, Sender: t.selfKey, Seq: p.seq}).AppendPacket(nil, wire.KindPunch))
}

func (t *Traversal) onPunchStart(p *peer) {
	if !t.running || t.peers[p.id] != p || !p.ladder {
		return
	}
	p.startTimer = nil
	p.round, p.roundTick = 1, 0
	t.tick(t.env.Clock.Now(), p)
}

func (t *Traversal) onTick(p *peer) {
	if !t.running || t.peers[p.id] != p || !p.ladder {
		return
	}
	p.tickTimer = nil
	t.tick(t.env.Clock.Now(), p)
}

// tick sends one probe per live candidate, PunchAttempts times per round;
// after a round it starts the next, with more candidates, or ends the
// ladder one interval after the last probes.
func (t *Traversal) tick(now time.Time, p *peer) {
	if p.roundTick >= t.cfg.PunchAttempts {
		if p.round >= t.cfg.PunchRounds || t.settled(p) {
			t.finish(now, p, false)
			return
		}
		p.round++
		p.roundTick = 0
		t.nextRound(p)
		if p.path == nil {
			// The first round failed: the relay, which was held back so
			// that this node's punches would not leave through it, may now
			// carry the peer.
			t.permit(now, p)
		}
	}
	t.probe(now, p)
	p.roundTick++
	p.tickTimer = t.env.Clock.AfterFunc(t.cfg.PunchInterval, func() { t.onTick(p) })
}

// nextRound adds the candidates of a later round: the peer's STUN-reported
// endpoint (it differs from the observed one behind a symmetric NAT) and,
// for a symmetric or unknown peer, the ports next to the observed one
// (sequential port allocation).
func (t *Traversal) nextRound(p *peer) {
	if !t.cfg.HolePunching {
		return
	}
	t.add(p, p.remote.Public, p.round, false)
	if p.remoteType != core.NATSymmetric && p.remoteType != core.NATUnknown {
		return
	}
	o := p.observed
	for d := 1; d <= t.cfg.PortPrediction; d++ {
		for _, port := range []int{int(o.Port()) + d, int(o.Port()) - d} {
			if port > 0 && port <= 65535 {
				t.add(p, netip.AddrPortFrom(o.Addr(), uint16(port)), p.round, false)
			}
		}
	}
}

// settled reports whether the path cannot get better: no candidate,
// present or of a later round, outranks it.
func (t *Traversal) settled(p *peer) bool {
	if p.path == nil {
		return false
	}
	for _, c := range p.cands {
		if c.method > p.path.method {
			return false
		}
	}
	if p.round < t.cfg.PunchRounds && t.cfg.HolePunching && t.methodFor(p, netip.AddrPort{}) > p.path.method {
		return false
	}
	return true
}

// finish ends the ladder: Attempt events for the methods that never
// answered, and Failed if no path was found.
func (t *Traversal) finish(now time.Time, p *peer, early bool) {
	p.ladder = false
	for _, tm := range []*core.Timer{&p.startTimer, &p.tickTimer} {
		if *tm != nil {
			(*tm).Stop()
			*tm = nil
		}
	}
	result := "failed"
	if early {
		result = "abandoned"
	}
	for m := MethodRelay; m <= MethodDirect; m++ {
		tr := &p.trials[m]
		if tr.first.IsZero() || tr.done {
			continue
		}
		tr.done = true
		t.observe(now, Attempt{Peer: p.id, Method: m, Addr: tr.addr, LocalType: t.natType.String(),
			RemoteType: p.remoteType.String(), Initiator: p.initiator, Result: result, Took: now.Sub(tr.first)})
	}
	if p.path != nil {
		return
	}
	if p.initiator && p.ladders < t.cfg.LadderRetries {
		// Ask again under a new transaction: the target may never have
		// heard of this one.
		p.ladders++
		p.txn, p.asking, p.askTries, p.offered = t.nonce(), true, 0, false
		t.stats.LadderRetries++
		t.ask(now, p)
		return
	}
	t.fail(now, p, FailExhausted)
}

func (t *Traversal) handlePunch(now time.Time, from netip.AddrPort, body []byte) error {
	m, p, err := t.decodeProbe(from, body)
	if err != nil {
		return err
	}
	if p == nil || !p.offered || p.txn != m.Txn {
		return t.drop(DropStale)
	}
	t.node.Send(from, (&wire.NATProbe{Txn: m.Txn, Sender: t.selfKey, Seq: m.Seq}).AppendPacket(nil, wire.KindPunchAck))
	if p.ladder && p.find(from) == nil {
		// A peer-reflexive candidate (RFC 8445 §7.3.1.3): the peer's
		// packets come from an endpoint no one told us about (its NAT
		// mapped it anew). Check it at once (a triggered check, §7.3.1.4).
		if c := t.add(p, from, p.round, true); c != nil {
			t.punch(now, p, c)
		}
	}
	return nil
}

func (t *Traversal) handlePunchAck(now time.Time, from netip.AddrPort, body []byte) error {
	m, p, err := t.decodeProbe(from, body)
	if err != nil {
		return err
	}
	if p == nil || !p.offered || p.txn != m.Txn || m.Seq == 0 || m.Seq > p.seq {
		return t.drop(DropStale)
	}
	// The answer proves that the candidate the probe went to reaches the
	// peer, whatever address the answer comes from (a peer's gateway may
	// answer from its NAT mapping rather than its forwarded port; a relay
	// owner's answers come through its relay). An answer from an unknown
	// address also teaches a candidate.
	c := p.find(from)
	if s := p.sent[m.Seq%sentRing]; s.seq == m.Seq && s.c != nil {
		if c == nil && p.ladder {
			t.add(p, from, p.round, true)
		}
		c = s.c
	} else if c == nil {
		if c = t.add(p, from, p.round, true); c == nil {
			return t.drop(DropFull)
		}
	}
	t.stats.ProbesAnswered++
	t.answered(now, p, c)
	return nil
}

// answered records a candidate's answer and chooses the path: the first
// answer wins at once (time to first path matters most); a better method
// replaces the path only after UpgradeAfter answers (hysteresis).
func (t *Traversal) answered(now time.Time, p *peer, c *cand) {
	c.acks++
	c.lastAck, c.dead = now, false
	if tr := &p.trials[c.method]; !tr.done {
		tr.done = true
		if tr.first.IsZero() {
			tr.first, tr.addr = now, c.addr
		}
		t.observe(now, Attempt{Peer: p.id, Method: c.method, Addr: c.addr, LocalType: t.natType.String(),
			RemoteType: p.remoteType.String(), Initiator: p.initiator, OK: true, Result: "ok", Took: now.Sub(tr.first)})
	}
	switch {
	case p.path == nil:
		t.setPath(now, p, c)
		if !p.reported {
			p.reported = true
			t.observe(now, PathSet{Peer: p.id, Addr: c.addr, Method: c.method, LocalType: t.natType.String(),
				RemoteType: p.remoteType.String(), Initiator: p.initiator, Took: now.Sub(p.started)})
		}
	case c != p.path && c.method > p.path.method && c.acks >= t.cfg.UpgradeAfter:
		old := p.path
		t.stats.Upgrades++
		t.observe(now, Upgrade{Peer: p.id, From: old.method, FromAddr: old.addr, To: c.method, Addr: c.addr,
			Acks: c.acks, Took: now.Sub(p.started)})
		t.setPath(now, p, c)
	default:
		return
	}
	if p.ladder && t.settled(p) {
		t.finish(now, p, true)
	}
}

package traversal

import (
	"bytes"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// entry is a peer registered with this rendezvous.
type entry struct {
	id       identity.PeerID
	key      [wire.NATKeyLen]byte
	addr     netip.AddrPort // observed source endpoint of its last REGISTER
	info     wire.NATInfo
	rtt      time.Duration
	lastSeen time.Time
}

func (t *Traversal) expired(now time.Time, e *entry) bool {
	return now.Sub(e.lastSeen) > 3*t.cfg.KeepAlive
}

func (t *Traversal) handleRegister(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeNATRegister(body)
	if err != nil {
		return err
	}
	if !t.cfg.Serve {
		return t.drop(DropNotServing)
	}
	id, err := t.claimed(from, m.Sender)
	if err != nil {
		return err
	}
	e := t.table[id]
	if e == nil {
		if len(t.table) >= t.cfg.MaxRegistrations {
			t.evictOne()
		}
		e = &entry{id: id, key: m.Sender}
		t.table[id] = e
	}
	e.addr, e.info, e.lastSeen = from, m.Info, now
	if m.RTT > 0 {
		e.rtt = m.RTT
	}
	t.node.Send(from, wire.NATRegistered{Nonce: m.Nonce, Observed: from}.AppendPacket(nil))
	return nil
}

// evictOne removes the entry seen longest ago (expired ones first, by
// construction), ties broken by key: a full table makes room for the newest
// registrant, and an idle peer is the cheapest to lose (it re-registers
// within KeepAlive if it is alive).
func (t *Traversal) evictOne() {
	var victim *entry
	for _, e := range t.table { // a minimum under a total order: iteration order is irrelevant
		if victim == nil || e.lastSeen.Before(victim.lastSeen) ||
			(e.lastSeen.Equal(victim.lastSeen) && bytes.Compare(e.key[:], victim.key[:]) < 0) {
			victim = e
		}
	}
	if victim != nil {
		delete(t.table, victim.id)
	}
}

func (t *Traversal) onSweep() {
	if !t.running {
		return
	}
	t.sweepTimer = t.env.Clock.AfterFunc(t.cfg.KeepAlive, t.onSweep)
	now := t.env.Clock.Now()
	for id, e := range t.table { // deletions only: order is irrelevant
		if t.expired(now, e) {
			delete(t.table, id)
		}
	}
	for a, l := range t.limiters { // deletions only: order is irrelevant
		if l.TokensAt(now) >= float64(t.cfg.ConnectBurst) {
			delete(t.limiters, a)
		}
	}
}

// allow applies the per-source CONNECT rate limit.
func (t *Traversal) allow(now time.Time, from netip.AddrPort) bool {
	src := from.Addr().Unmap()
	l := t.limiters[src]
	if l == nil {
		if len(t.limiters) >= t.cfg.MaxLimiters {
			for a, old := range t.limiters { // deletions only: order is irrelevant
				if old.TokensAt(now) >= float64(t.cfg.ConnectBurst) {
					delete(t.limiters, a)
				}
			}
			if len(t.limiters) >= t.cfg.MaxLimiters {
				return false
			}
		}
		l = rate.NewLimiter(rate.Limit(t.cfg.ConnectRate), t.cfg.ConnectBurst)
		t.limiters[src] = l
	}
	return l.AllowN(now, 1)
}

func (t *Traversal) handleConnect(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeNATConnect(body)
	if err != nil {
		return err
	}
	if !t.cfg.Serve {
		return t.drop(DropNotServing)
	}
	initiator, err := t.claimed(from, m.Sender)
	if err != nil {
		return err
	}
	if !t.allow(now, from) {
		return t.drop(DropRateLimited)
	}
	refuse := func(reason uint8) {
		t.node.Send(from, (&wire.NATRefused{Txn: m.Txn, Target: m.Target, Reason: reason}).AppendPacket(nil))
	}
	if m.Target == m.Sender {
		refuse(wire.NATRefusedSelf)
		return nil
	}
	var target *entry
	if m.Target != ([wire.NATKeyLen]byte{}) {
		target = t.table[identity.PeerIDFromPublicKey(m.Target[:])]
	}
	if target == nil || t.expired(now, target) {
		refuse(wire.NATRefusedUnknown)
		return nil
	}
	rttA := m.RTT
	if e := t.table[initiator]; rttA == 0 && e != nil {
		rttA = e.rtt
	}
	dA, dB := startDelays(rttA, target.rtt, t.cfg.MaxStartDelay)
	toA := wire.NATOffer{Txn: m.Txn, Peer: target.key, Info: target.info, Observed: target.addr,
		Delay: dA, Flags: wire.NATOfferInitiator}
	toB := wire.NATOffer{Txn: m.Txn, Peer: m.Sender, Info: m.Info, Observed: from, Delay: dB}
	t.node.Send(from, toA.AppendPacket(nil))
	t.node.Send(target.addr, toB.AppendPacket(nil))
	t.stats.Introductions++
	t.observe(now, Introduced{Initiator: initiator, Target: target.id, InitiatorDelay: dA, TargetDelay: dB})
	return nil
}

// startDelays returns how long each side waits after its OFFER arrives so
// that both start punching at about t0 + max(rtt)/2, t0 being when the
// rendezvous sends both OFFERs (each arrives about rtt/2 later). An unknown
// RTT (0) is taken to be the other side's.
func startDelays(rttA, rttB, maxDelay time.Duration) (dA, dB time.Duration) {
	if rttA == 0 {
		rttA = rttB
	}
	if rttB == 0 {
		rttB = rttA
	}
	m := max(rttA, rttB)
	return min((m-rttA)/2, maxDelay), min((m-rttB)/2, maxDelay)
}

func (t *Traversal) handleRefused(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeNATRefused(body)
	if err != nil {
		return err
	}
	if t.registration(from) == nil {
		return t.drop(core.ReasonUnsolicited)
	}
	id, err := t.peerID(m.Target)
	if err != nil {
		return err
	}
	p := t.peers[id]
	if p == nil || !p.asking || p.txn != m.Txn {
		return t.drop(DropStale)
	}
	reason := FailRefused
	if m.Reason == wire.NATRefusedUnknown {
		reason = FailUnknownPeer
		if p.askTries+1 < len(t.regs) {
			// Another rendezvous may know the target.
			p.askTimer.Stop()
			p.askTries++
			t.ask(now, p)
			return nil
		}
	}
	t.fail(now, p, reason)
	return nil
}

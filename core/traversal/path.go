package traversal

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/wire"
)

// setPath makes c the peer's path and keeps it alive.
func (t *Traversal) setPath(now time.Time, p *peer, c *cand) {
	p.path, p.since, p.misses, p.awaiting = c, now, 0, 0
	t.stats.Paths++
	if p.kaTimer == nil {
		p.kaTimer = t.env.Clock.AfterFunc(t.cfg.PathKeepAlive, func() { t.onKeepAlive(p) })
	}
	if t.onPath != nil {
		t.onPath(now, p.id, c.addr, c.method)
	}
}

// onKeepAlive sends a PATH-PING on the peer's path, after counting the
// previous one as missed if it went unanswered; FallbackAfter misses in a
// row lose the path.
func (t *Traversal) onKeepAlive(p *peer) {
	if !t.running || t.peers[p.id] != p {
		return
	}
	p.kaTimer = nil
	if p.path == nil {
		return
	}
	now := t.env.Clock.Now()
	if p.awaiting != 0 {
		p.misses++
		if p.misses >= t.cfg.FallbackAfter {
			t.lose(now, p)
			if p.path == nil {
				return
			}
		}
	}
	p.pingSeq++
	if p.pingSeq == 0 {
		p.pingSeq = 1
	}
	p.awaiting = p.pingSeq
	t.node.Send(p.path.addr, (&wire.NATProbe{Txn: p.txn, Sender: t.selfKey, Seq: p.pingSeq}).AppendPacket(nil, wire.KindPathPing))
	p.kaTimer = t.env.Clock.AfterFunc(t.cfg.PathKeepAlive, func() { t.onKeepAlive(p) })
}

// lose gives up the peer's path: it falls back to the best other candidate
// that answered (best method, then latest answer), or the peer has no path.
func (t *Traversal) lose(now time.Time, p *peer) {
	old := p.path
	old.dead, old.acks = true, 0
	misses := p.misses
	var fb *cand
	for _, c := range p.cands { // slice order: deterministic
		if c == old || c.dead || c.acks == 0 {
			continue
		}
		if fb == nil || c.method > fb.method || (c.method == fb.method && c.lastAck.After(fb.lastAck)) {
			fb = c
		}
	}
	t.stats.Losses++
	ev := Lost{Peer: p.id, Addr: old.addr, Method: old.method, Misses: misses}
	if fb != nil {
		ev.Fallback, ev.FallbackMethod = fb.addr, fb.method
		t.observe(now, ev)
		t.setPath(now, p, fb)
		return
	}
	t.observe(now, ev)
	p.path, p.awaiting, p.misses = nil, 0, 0
	if p.kaTimer != nil {
		p.kaTimer.Stop()
		p.kaTimer = nil
	}
	if !p.ladder && !p.asking {
		delete(t.peers, p.id)
	}
	if t.onPath != nil {
		t.onPath(now, p.id, netip.AddrPort{}, MethodNone)
	}
}

func (t *Traversal) handlePathPing(now time.Time, from netip.AddrPort, body []byte) error {
	m, p, err := t.decodeProbe(from, body)
	if err != nil {
		return err
	}
	if p == nil || p.txn != m.Txn {
		return t.drop(DropStale)
	}
	t.node.Send(from, (&wire.NATProbe{Txn: m.Txn, Sender: t.selfKey, Seq: m.Seq}).AppendPacket(nil, wire.KindPathPong))
	return nil
}

func (t *Traversal) handlePathPong(now time.Time, from netip.AddrPort, body []byte) error {
	m, p, err := t.decodeProbe(from, body)
	if err != nil {
		return err
	}
	if p == nil || p.path == nil || p.txn != m.Txn || p.awaiting == 0 || m.Seq != p.awaiting {
		return t.drop(DropStale)
	}
	// Any source will do: the answer may come back another way than the
	// ping went (through the peer's relay, from its NAT mapping).
	p.awaiting, p.misses = 0, 0
	p.path.lastAck = now
	return nil
}

// decodeProbe decodes a PUNCH, PUNCH-ACK, PATH-PING or PATH-PONG from from,
// checks that the transport lets from claim its sender, and returns the
// sender's traversal state (nil if none).
func (t *Traversal) decodeProbe(from netip.AddrPort, body []byte) (wire.NATProbe, *peer, error) {
	m, err := wire.DecodeNATProbe(body)
	if err != nil {
		return m, nil, err
	}
	id, err := t.claimed(from, m.Sender)
	if err != nil {
		return m, nil, err
	}
	return m, t.peers[id], nil
}

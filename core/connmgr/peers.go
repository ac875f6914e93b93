package connmgr

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
)

// peerInfo is the peer book's entry for one peer: what outlives its
// sessions.
type peerInfo struct {
	id         identity.PeerID
	addr       netip.AddrPort // last known address
	tags       []string
	reputation float64
	conn       *conn // its live session, if any
	seq        uint64

	attempts int // redials since the last established session
	redial   core.Timer
	backoff  time.Duration
	cooldown time.Time // not dialled as a candidate before this
}

func (p *peerInfo) important() bool { return len(p.tags) > 0 }

// lookup returns the book's entry for id, or nil.
func (m *Manager) lookup(id identity.PeerID) *peerInfo { return m.peers[id] }

// entry returns the book's entry for id, creating it if needed. When the
// book is full it evicts an entry first; if none can go, a new entry is
// still made when force is set (sessions and local commands, both
// bounded) and refused (nil) otherwise.
func (m *Manager) entry(id identity.PeerID, force bool) *peerInfo {
	m.peerSeq++
	if p := m.peers[id]; p != nil {
		p.seq = m.peerSeq
		return p
	}
	if len(m.peers) >= m.cfg.MaxPeers && !m.evictOne() && !force {
		return nil
	}
	p := &peerInfo{id: id, seq: m.peerSeq}
	m.peers[id] = p
	return p
}

// evictOne removes the entry that matters least: no session, no tag, no
// pending redial; the reputation closest to neutral, then the least
// recently used. The minimum is unique (seq is), so map order does not
// matter.
func (m *Manager) evictOne() bool {
	var victim *peerInfo
	for _, p := range m.peers {
		if p.conn != nil || len(p.tags) > 0 || p.redial != nil {
			continue
		}
		if victim == nil || math.Abs(p.reputation) < math.Abs(victim.reputation) ||
			(math.Abs(p.reputation) == math.Abs(victim.reputation) && p.seq < victim.seq) {
			victim = p
		}
	}
	if victim == nil {
		return false
	}
	delete(m.peers, victim.id)
	return true
}

// tidy forgets p if it holds nothing worth keeping.
func (m *Manager) tidy(now time.Time, p *peerInfo) {
	if p.conn == nil && len(p.tags) == 0 && p.redial == nil && p.reputation == 0 && !p.cooldown.After(now) {
		delete(m.peers, p.id)
	}
}

// Protect marks peer as protected under tag: its sessions are never
// pruned nor closed as idle, and it is redialled after a disconnect or a
// failed dial (with backoff). Tags are independent: a peer stays
// protected while it has any.
func (m *Manager) Protect(peer identity.PeerID, tag string) {
	if peer.IsZero() || peer == m.self {
		return
	}
	p := m.entry(peer, true)
	if !slices.Contains(p.tags, tag) {
		p.tags = append(p.tags, tag)
		m.gpDirty = true
	}
}

// Unprotect removes tag from peer and reports whether it is still
// protected. A peer that loses its last tag is no longer redialled.
func (m *Manager) Unprotect(peer identity.PeerID, tag string) bool {
	p := m.peers[peer]
	if p == nil {
		return false
	}
	if i := slices.Index(p.tags, tag); i >= 0 {
		p.tags = slices.Delete(p.tags, i, i+1)
	}
	if len(p.tags) > 0 {
		return true
	}
	if p.redial != nil {
		p.redial.Stop()
		p.redial = nil
	}
	m.tidy(m.env.Clock.Now(), p)
	return false
}

// IsProtected reports whether peer has a protection tag.
func (m *Manager) IsProtected(peer identity.PeerID) bool {
	p := m.peers[peer]
	return p != nil && len(p.tags) > 0
}

// KeepAlive marks peer important without another reason: it is
// Protect(peer, TagKeepAlive). Unprotect(peer, TagKeepAlive) undoes it.
func (m *Manager) KeepAlive(peer identity.PeerID) { m.Protect(peer, TagKeepAlive) }

// AdjustReputation adds delta to peer's reputation, clamped to [-1, 1], and
// returns the new value. Other components call it (answers, lies, spam).
// A peer the full book cannot take is not recorded (the result is then
// 0).
func (m *Manager) AdjustReputation(peer identity.PeerID, delta float64) float64 {
	if peer.IsZero() || math.IsNaN(delta) {
		return m.Reputation(peer)
	}
	p := m.entry(peer, false)
	if p == nil {
		return 0
	}
	p.reputation = max(-1, min(1, p.reputation+delta))
	if p.conn != nil {
		m.gpDirty = true
	}
	m.tidy(m.env.Clock.Now(), p)
	return p.reputation
}

// Reputation returns peer's reputation in [-1, 1]; 0 is neutral (and
// unknown).
func (m *Manager) Reputation(peer identity.PeerID) float64 {
	if p := m.peers[peer]; p != nil {
		return p.reputation
	}
	return 0
}

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
// sessions. A node keeps one for every peer it is connected to or has
// dialled (until the entry holds nothing worth keeping, see tidy), so it
// is kept small (80 bytes): the peer's ID is the book's key, times are ns
// offsets from the manager's epoch, and what only important peers need
// (tags, redial state) is in an extension allocated for them alone.
type peerInfo struct {
	addr       netip.AddrPort // last known address
	reputation float64
	conn       *conn // its live session, if any
	seq        uint64
	cooldown   int64          // not dialled as a candidate before this (ns since the epoch; noTime if never)
	x          *peerExtension // nil while it has no tag and no redial state
}

// peerExtension holds a peer's protection tags and redial state. It
// exists while any of them is set: the tags, a pending redial, or redials
// since the last established session.
type peerExtension struct {
	tags     []string
	attempts int // redials since the last established session
	redial   core.Timer
	backoff  time.Duration
}

func (p *peerInfo) important() bool { return p.x != nil && len(p.x.tags) > 0 }

// redialing reports whether p was redialled since its last established
// session.
func (p *peerInfo) redialing() bool { return p.x != nil && p.x.attempts > 0 }

func (p *peerInfo) pendingRedial() bool { return p.x != nil && p.x.redial != nil }

// ext returns p's extension, creating it if needed.
func (p *peerInfo) ext() *peerExtension {
	if p.x == nil {
		p.x = &peerExtension{}
	}
	return p.x
}

// settle frees p's extension once it holds nothing: no tag, no pending
// redial, no redial attempts (backoff is only read after a redial set
// it).
func (p *peerInfo) settle() {
	if x := p.x; x != nil && len(x.tags) == 0 && x.redial == nil && x.attempts == 0 {
		p.x = nil
	}
}

// stopRedial cancels p's pending redial, if any.
func (p *peerInfo) stopRedial() {
	if x := p.x; x != nil && x.redial != nil {
		x.redial.Stop()
		x.redial = nil
		p.settle()
	}
}

// established resets p's redial state when a session with it opens.
func (p *peerInfo) established() {
	if x := p.x; x != nil {
		x.attempts, x.backoff = 0, 0
		if x.redial != nil {
			x.redial.Stop()
			x.redial = nil
		}
		p.settle()
	}
}

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
	p := &peerInfo{seq: m.peerSeq, cooldown: noTime}
	m.peers[id] = p
	return p
}

// evictOne removes the entry that matters least: no session, no tag, no
// pending redial; the reputation closest to neutral, then the least
// recently used. The minimum is unique (seq is), so map order does not
// matter.
func (m *Manager) evictOne() bool {
	var victim *peerInfo
	var victimID identity.PeerID
	for id, p := range m.peers {
		if p.conn != nil || p.important() || p.pendingRedial() {
			continue
		}
		if victim == nil || math.Abs(p.reputation) < math.Abs(victim.reputation) ||
			(math.Abs(p.reputation) == math.Abs(victim.reputation) && p.seq < victim.seq) {
			victim, victimID = p, id
		}
	}
	if victim == nil {
		return false
	}
	m.forget(victimID)
	return true
}

// tidy forgets p, the entry of id, if it holds nothing worth keeping.
func (m *Manager) tidy(now time.Time, id identity.PeerID, p *peerInfo) {
	if p.conn == nil && !p.important() && !p.pendingRedial() && p.reputation == 0 && p.cooldown <= m.since(now) {
		m.forget(id)
	}
}

// forget removes id's entry from the book.
func (m *Manager) forget(id identity.PeerID) {
	delete(m.peers, id)
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
	if !p.important() || !slices.Contains(p.x.tags, tag) {
		x := p.ext()
		x.tags = append(x.tags, tag)
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
	if x := p.x; x != nil {
		if i := slices.Index(x.tags, tag); i >= 0 {
			x.tags = slices.Delete(x.tags, i, i+1)
		}
		if len(x.tags) > 0 {
			return true
		}
		x.tags = nil
	}
	p.stopRedial()
	p.settle()
	m.tidy(m.env.Clock.Now(), peer, p)
	return false
}

// IsProtected reports whether peer has a protection tag.
func (m *Manager) IsProtected(peer identity.PeerID) bool {
	p := m.peers[peer]
	return p != nil && p.important()
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
	m.tidy(m.env.Clock.Now(), peer, p)
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

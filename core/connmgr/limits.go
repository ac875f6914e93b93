package connmgr

import (
	"fmt"

	"github.com/dchat/network/core/identity"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// SetLimits changes MaxConnections and Target (a local command). When the
// node is then above the new maximum it trims down to the new target
// (after the trim pause, if one is running).
func (m *Manager) SetLimits(now time.Time, maxConns, target int) error {
	if maxConns < 1 || target < 0 || target > maxConns {
		return fmt.Errorf("%w: connmgr: need 0 <= target <= max, max >= 1; got max %d, target %d", core.ErrConfig, maxConns, target)
	}
	m.cfg.MaxConnections, m.cfg.Target = maxConns, target
	m.checkHighWater(now)
	m.fill(now)
	return nil
}

func (m *Manager) trimAllowed(now time.Time) bool {
	return !m.trimmed || now.Sub(m.lastTrim) >= m.cfg.TrimPause
}

// makeRoom is called at the cap for a new session: it trims down to Target
// (counting the newcomer) if the trim pause has passed, and reports
// whether there is now room.
func (m *Manager) makeRoom(now time.Time) bool {
	if m.cfg.RejectWhenFull || !m.trimAllowed(now) {
		return false
	}
	m.trim(now, m.count()+1-m.cfg.Target, PruneMakeRoom)
	return m.count() < m.cfg.MaxConnections
}

// checkHighWater trims down to Target when the node holds more sessions
// than MaxConnections, or schedules the trim for the end of the pause (and
// retries while protected or young sessions keep it above).
func (m *Manager) checkHighWater(now time.Time) {
	if !m.running || m.count() <= m.cfg.MaxConnections {
		return
	}
	wait := m.cfg.TrimPause - now.Sub(m.lastTrim) // the rest of the pause
	if m.trimAllowed(now) {
		m.trim(now, m.count()-m.cfg.Target, PruneHighWater)
		if m.count() <= m.cfg.MaxConnections {
			return
		}
		wait = m.cfg.TrimPause // retry when young sessions may have aged
	}
	if m.trimTimer == nil {
		m.trimTimer = m.env.Clock.AfterFunc(max(wait, time.Second), m.onTrimTimer)
	}
}

func (m *Manager) onTrimTimer() {
	m.trimTimer = nil
	m.checkHighWater(m.env.Clock.Now())
}

func (m *Manager) candidate(c *conn) PruneCandidate {
	return PruneCandidate{
		Peer: c.peer, Inbound: c.dir == Inbound, Protected: c.info != nil && c.info.important(),
		Opened: m.at(c.opened), LastActive: m.at(c.tr.lastActive), SRTT: c.health.srtt, Loss: c.health.loss(),
		Reputation: c.reputation(),
	}
}

// pickVictims ranks the connected sessions and returns up to n to prune,
// in order. The result is scratch, valid until the next call.
func (m *Manager) pickVictims(now time.Time, n int) []*conn {
	m.flushTraffic()
	m.pc, m.pcConn = m.pc[:0], m.pcConn[:0]
	for _, c := range m.list {
		if c.state == Connected {
			m.pc = append(m.pc, m.candidate(c))
			m.pcConn = append(m.pcConn, c)
		}
	}
	m.victims = m.pruner.Select(now, m.pc, n, m.victims[:0])
	m.vConns = m.vConns[:0]
	for _, i := range m.victims {
		m.vConns = append(m.vConns, m.pcConn[i])
	}
	return m.vConns
}

// trim prunes up to need connected sessions by the strategy, and returns
// how many it closed. Trims do not nest (a callback cannot start one).
func (m *Manager) trim(now time.Time, need int, reason string) int {
	if need <= 0 || m.trimming {
		return 0
	}
	m.trimming = true
	victims := m.pickVictims(now, need)
	before := m.count()
	for k, c := range victims {
		if !c.live() {
			continue // a callback of an earlier victim closed it
		}
		m.stats.Prunes[reason]++
		m.observe(now, Prune{Peer: c.peer, Addr: c.addr, Direction: c.dir, Strategy: m.cfg.Strategy, Reason: reason,
			Score: m.pruner.Score(now, &m.pc[m.victims[k]]), Count: before})
		m.end(now, c, ending{reason: ReasonPruned, code: wire.ConnReasonPruned, send: true, quiet: true})
	}
	m.trimming = false
	if len(victims) == 0 {
		return 0
	}
	m.stats.Trims++
	m.lastTrim, m.trimmed = now, true
	return len(victims)
}

// AddCandidates offers peers to dial (e.g. from the DHT). They are queued
// (at most MaxCandidates, the oldest dropped first) and dialled, in order,
// while the node holds fewer than Target sessions. Peers already
// connected, queued, cooling down after a failed dial or of too low a
// reputation are skipped. It returns the number queued.
func (m *Manager) AddCandidates(now time.Time, peers []PeerAddr) int {
	if m.cfg.MaxCandidates > 0 && cap(m.cands)-len(m.cands) < len(peers) {
		// Room for the offer at once (capped by the bound), rather than
		// by doubling: the queue keeps its backing array.
		m.cands = slices.Grow(m.cands, min(len(m.cands)+len(peers), m.cfg.MaxCandidates)-len(m.cands))
	}
	added := 0
	for _, pa := range peers {
		if m.cfg.MaxCandidates == 0 || !m.dialable(now, pa) || slices.ContainsFunc(m.cands, pa.same) {
			continue
		}
		if len(m.cands) >= m.cfg.MaxCandidates {
			m.cands = slices.Delete(m.cands, 0, 1)
		}
		m.cands = append(m.cands, pa)
		added++
	}
	m.fill(now)
	m.compactCands()
	return added
}

// compactCands gives back the queue's spare room: a queue is offered in
// bulk and then only shrinks (dials) until it is empty, so what it does
// not hold now it will not need before the next offer.
func (m *Manager) compactCands() {
	if n := len(m.cands); n == 0 {
		m.cands = nil
	} else if spare := cap(m.cands) - n; spare >= 16 && spare > n/4 {
		m.cands = slices.Clone(m.cands)
	}
}

// Candidates returns the number of queued candidates.
func (m *Manager) Candidates() int { return len(m.cands) }

func (a PeerAddr) same(b PeerAddr) bool {
	if !a.ID.IsZero() || !b.ID.IsZero() {
		return a.ID == b.ID
	}
	return a.Addr == b.Addr
}

func (m *Manager) dialable(now time.Time, pa PeerAddr) bool {
	if !pa.Addr.IsValid() || pa.ID == m.self || pa.Addr == m.env.Transport.LocalAddr() {
		return false
	}
	if c := m.byAddr[pa.Addr]; c != nil && c.live() {
		return false
	}
	if pa.ID.IsZero() {
		return true
	}
	if m.byPeer[pa.ID] != nil {
		return false
	}
	p := m.peers[pa.ID]
	return p == nil || (p.cooldown <= m.since(now) && p.reputation >= m.cfg.MinReputation)
}

// fill dials queued candidates while below Target.
func (m *Manager) fill(now time.Time) {
	for m.running && m.count() < m.cfg.Target && m.nDial < m.cfg.MaxDialing && len(m.cands) > 0 {
		pa := m.cands[0]
		m.cands = slices.Delete(m.cands, 0, 1)
		if m.dialable(now, pa) {
			_ = m.dial(now, pa.ID, pa.Addr) // a candidate that cannot be dialled is skipped
		}
	}
	if len(m.cands) == 0 && m.cands != nil {
		m.cands = nil // drained: its array is not kept until the next offer
	}
}

// scheduleRedial arms the redial of p, id's entry, after the next backoff
// delay.
func (m *Manager) scheduleRedial(now time.Time, id identity.PeerID, p *peerInfo) {
	if p.pendingRedial() || !p.addr.IsValid() || !m.running {
		return
	}
	x := p.ext()
	d := m.cfg.Reconnect.Delay(x.attempts, m.env.Rand)
	x.attempts++
	x.backoff = d
	x.redial = m.env.Clock.AfterFunc(d, func() { m.onRedial(id, p) })
}

func (m *Manager) onRedial(id identity.PeerID, p *peerInfo) {
	if p.x != nil {
		p.x.redial = nil
	}
	if !m.running || !p.important() || p.conn != nil || m.peers[id] != p {
		p.settle()
		return
	}
	now := m.env.Clock.Now()
	m.stats.Reconnects++
	m.observe(now, Reconnect{Peer: id, Addr: p.addr, Attempt: p.x.attempts, Backoff: p.x.backoff})
	if err := m.dial(now, id, p.addr); err != nil {
		m.scheduleRedial(now, id, p)
	}
}

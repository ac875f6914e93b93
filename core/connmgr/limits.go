package connmgr

import (
	"fmt"
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
		Opened: c.opened, LastActive: m.at(c.tr.lastActive), SRTT: c.health.SRTT(), Loss: c.health.Loss(),
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
	return added
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
	return p == nil || (!p.cooldown.After(now) && p.reputation >= m.cfg.MinReputation)
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
}

// scheduleRedial arms p's redial after the next backoff delay.
func (m *Manager) scheduleRedial(now time.Time, p *peerInfo) {
	if p.redial != nil || !p.addr.IsValid() || !m.running {
		return
	}
	d := m.cfg.Reconnect.Delay(p.attempts, m.env.Rand)
	p.attempts++
	p.backoff = d
	p.redial = m.env.Clock.AfterFunc(d, func() { m.onRedial(p) })
}

func (m *Manager) onRedial(p *peerInfo) {
	p.redial = nil
	if !m.running || !p.important() || p.conn != nil || m.peers[p.id] != p {
		return
	}
	now := m.env.Clock.Now()
	m.stats.Reconnects++
	m.observe(now, Reconnect{Peer: p.id, Addr: p.addr, Attempt: p.attempts, Backoff: p.backoff})
	if err := m.dial(now, p.id, p.addr); err != nil {
		m.scheduleRedial(now, p)
	}
}

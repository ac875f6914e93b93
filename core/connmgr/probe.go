package connmgr

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// The probe cycle of a session runs on its one timer: PingInterval after
// the session opens (or after the last probe was sent) a CONN-PING goes
// out and the timer is set to PingTimeout. When it fires, an answered
// probe re-arms for the rest of the interval; an unanswered one is a miss,
// and unless the session is now unhealthy the next probe goes at once.
// The PONG handler touches no timer.

func (m *Manager) sendProbe(now time.Time, c *conn) {
	c.seq++
	c.probing, c.probeSent = true, m.since(now)
	m.stats.ProbesSent++
	m.send(c, c.addr, wire.ConnProbe{Nonce: c.nonce, Seq: c.seq}.AppendPacket(packet(wire.ConnProbeLen), wire.KindConnPing))
	c.timer = m.env.Clock.AfterFunc(m.cfg.Health.PingTimeout, func() { m.onProbeTimer(c) })
}

func (m *Manager) onProbeTimer(c *conn) {
	if c.state != Connected || !c.mapped {
		return
	}
	now := m.env.Clock.Now()
	c.timer = nil
	if c.probing {
		c.probing = false
		c.health.missedProbe(&m.cfg.Health)
		m.stats.ProbesLost++
		if m.evaluate(now, c) {
			return // closed as unhealthy
		}
		m.sendProbe(now, c)
		return
	}
	if c.probeSent != noTime {
		if wait := time.Duration(c.probeSent-m.since(now)) + m.cfg.Health.PingInterval; wait > 0 {
			c.timer = m.env.Clock.AfterFunc(wait, func() { m.onProbeTimer(c) })
			return
		}
	}
	m.sendProbe(now, c)
}

// evaluate updates c's health state, observes a change, and closes the
// session if it became unhealthy (reporting true).
func (m *Manager) evaluate(now time.Time, c *conn) bool {
	st, reason, changed := c.health.evaluate(&m.cfg.Health)
	if !changed {
		return false
	}
	m.stats.HealthChanges[st.String()]++
	m.observe(now, HealthChange{Peer: c.peer, Addr: c.addr, State: st, Reason: reason,
		SRTT: c.health.srtt, Loss: c.health.loss()})
	if st == Unhealthy {
		m.end(now, c, ending{reason: ReasonUnhealthy, detail: detail{kind: detailHealth, code: c.health.reason},
			code: wire.ConnReasonUnhealthy, send: true})
		return true
	}
	return false
}

// handlePing answers a probe of a live session. A probe of a session this
// node does not hold (it forgot it, or replaced it) is answered with CLOSE
// "unknown-session", so the peer drops its half.
func (m *Manager) handlePing(now time.Time, from netip.AddrPort, body []byte) error {
	msg, err := wire.DecodeConnProbe(body)
	if err != nil {
		return m.dropErr(err)
	}
	c := m.byAddr[from]
	switch {
	case c != nil && c.nonce == msg.Nonce && c.state == Connected:
		m.received(now, c, body)
		m.send(c, from, msg.AppendPacket(packet(wire.ConnProbeLen), wire.KindConnPong))
		return nil
	case c != nil && c.nonce == msg.Nonce && c.state == Disconnecting:
		// Our CLOSE crossed it or was lost: say it again.
		m.received(now, c, body)
		m.send(c, from, wire.Close{Nonce: msg.Nonce, Reason: wire.ConnReasonUnknownSession}.AppendPacket(packet(closeLen)))
		return nil
	case c != nil && c.nonce == msg.Nonce:
		return m.drop(core.ReasonUnsolicited) // dialling: the ACCEPT is on its way
	}
	m.send(nil, from, wire.Close{Nonce: msg.Nonce, Reason: wire.ConnReasonUnknownSession}.AppendPacket(packet(closeLen)))
	if c == nil {
		return m.drop(DropUnknownSession)
	}
	return m.drop(DropBadNonce)
}

// handlePong matches a probe's answer: RTT sample, loss window, health.
func (m *Manager) handlePong(now time.Time, from netip.AddrPort, body []byte) error {
	msg, err := wire.DecodeConnProbe(body)
	if err != nil {
		return m.dropErr(err)
	}
	c := m.byAddr[from]
	switch {
	case c == nil:
		return m.drop(DropUnknownSession)
	case c.nonce != msg.Nonce:
		return m.drop(DropBadNonce)
	case c.state == Disconnecting:
		return nil
	case c.state != Connected:
		return m.drop(core.ReasonUnsolicited)
	}
	m.received(now, c, body)
	if !c.probing || msg.Seq != c.seq {
		return m.drop(DropLate)
	}
	c.probing = false
	c.health.answered(&m.cfg.Health, time.Duration(m.since(now)-c.probeSent))
	m.gpDirty = true
	m.evaluate(now, c)
	return nil
}

// onIdle closes a session without application traffic for IdleTimeout;
// it re-arms itself for the rest of the timeout otherwise. Protected peers
// are exempt.
func (m *Manager) onIdle(c *conn) {
	if c.state != Connected || !c.mapped {
		return
	}
	now := m.env.Clock.Now()
	m.flushTraffic()
	idle := m.cfg.Health.IdleTimeout
	quiet := now.Sub(m.at(c.tr.lastActive))
	wait := idle - quiet
	if wait <= 0 {
		if c.info == nil || !c.info.important() {
			c.idle = nil
			m.end(now, c, ending{reason: ReasonIdle, code: wire.ConnReasonIdle, send: true})
			return
		}
		wait = idle
	}
	c.idle = m.env.Clock.AfterFunc(wait, func() { m.onIdle(c) })
}

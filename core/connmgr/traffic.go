package connmgr

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/wire"
)

// Traffic accounting runs for every datagram the node sends or receives,
// so it is built to touch little memory. Connected sessions at IPv4
// addresses are indexed by a packed uint64 key (live4). The traffic hook
// only appends a small record to a per-manager batch (trafficRec: key,
// time, size, direction); the batch is applied to the sessions when it is
// full and before anything reads or changes what it would update: a
// session opening or ending, a snapshot (Connections, callbacks, events),
// a trim decision, an idle check, a direct Touch or Sent. Applying a batch
// touches each session it names once, where a per-datagram update would
// load the session, and the map, from memory for every datagram. Other
// addresses (IPv6) are accounted at once through the address map.

// trafficBatch is the number of datagrams accounted in one batch.
const trafficBatch = 64

// trafficRec is one datagram of application traffic awaiting accounting.
type trafficRec struct {
	key uint64 // addr4Key of the peer's address
	at  int64  // time since the manager's epoch, ns
	n   uint32 // bytes
	out bool
}

// Traffic is the node traffic hook (core.Node.SetTrafficHook): it records
// a datagram of kind as received (out false) or sent application traffic
// on the session at addr, if any, as Touch and Sent do. It ignores this
// package's own kinds, which the manager counts itself. It does not
// allocate, apart from its batch once.
func (m *Manager) Traffic(now time.Time, addr netip.AddrPort, kind wire.Kind, n int, out bool) {
	if kind >= wire.KindConnect && kind <= wire.KindConnPong {
		return
	}
	k, ok := addr4Key(addr)
	if !ok {
		account(m.connectedAt(addr), m.since(now), n, out)
		return
	}
	if m.nLive4 == 0 {
		return // no IPv4 session (a batch is applied before one opens)
	}
	if len(m.pend) == cap(m.pend) {
		if m.pend == nil {
			m.pend = make([]trafficRec, 0, trafficBatch)
		} else {
			m.flushTraffic()
		}
	}
	m.pend = append(m.pend, trafficRec{key: k, at: m.since(now), n: uint32(n), out: out})
}

// Touch records application traffic received from addr (n bytes): call it
// for every datagram from a peer that is not one of this package's kinds,
// unless the node's traffic hook is set to Traffic. It reports whether
// addr has a session.
func (m *Manager) Touch(now time.Time, addr netip.AddrPort, n int) bool {
	m.flushTraffic()
	c := m.connectedAt(addr)
	account(c, m.since(now), n, false)
	return c != nil
}

// Sent records application traffic sent to addr (n bytes). It reports
// whether addr has a session.
func (m *Manager) Sent(now time.Time, addr netip.AddrPort, n int) bool {
	m.flushTraffic()
	c := m.connectedAt(addr)
	account(c, m.since(now), n, true)
	return c != nil
}

// traffic is a session's traffic counters: bytes and datagrams each way
// (the manager's own frames included), and when the peer was last heard
// from and application traffic last passed, in ns since the manager's
// epoch. Together they fit one cache line.
type traffic struct {
	bytesIn, bytesOut, msgsIn, msgsOut uint64
	lastSeen, lastActive               int64
}

// since and at convert between times and the manager's epoch offsets.
func (m *Manager) since(t time.Time) int64 { return int64(t.Sub(m.epoch)) }

func (m *Manager) at(ns int64) time.Time { return m.epoch.Add(time.Duration(ns)) }

// account adds a datagram of n bytes at ns (since the epoch) to c's
// counters (c may be nil). Times only move forward: a batch applied late
// never sets them back.
func account(c *conn, ns int64, n int, out bool) {
	if c == nil {
		return
	}
	t := &c.tr
	if out {
		t.bytesOut += uint64(n)
		t.msgsOut++
	} else {
		t.bytesIn += uint64(n)
		t.msgsIn++
		t.lastSeen = max(t.lastSeen, ns)
	}
	t.lastActive = max(t.lastActive, ns)
}

// flushTraffic applies the pending batch.
func (m *Manager) flushTraffic() {
	if len(m.pend) == 0 {
		return
	}
	for i := range m.pend {
		r := &m.pend[i]
		account(m.live4[r.key], r.at, int(r.n), r.out)
	}
	m.pend = m.pend[:0]
}

// connectedAt returns the connected session at addr, or nil.
func (m *Manager) connectedAt(addr netip.AddrPort) *conn {
	if k, ok := addr4Key(addr); ok {
		return m.live4[k]
	}
	if c := m.byAddr[addr]; c != nil && c.state == Connected {
		return c
	}
	return nil
}

// addr4Key packs an IPv4 address and port into a uint64.
func addr4Key(a netip.AddrPort) (uint64, bool) {
	ip := a.Addr()
	if !ip.Is4() {
		return 0, false
	}
	b := ip.As4()
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | uint64(a.Port()), true
}

// index and unindex keep live4 in step with the connected sessions; both
// apply the pending batch first, so that it is accounted to the sessions
// that were connected when its datagrams passed.
func (m *Manager) index(c *conn) {
	m.flushTraffic()
	if k, ok := addr4Key(c.addr); ok {
		m.live4[k] = c
		m.nLive4 = len(m.live4)
	}
}

func (m *Manager) unindex(c *conn) {
	m.flushTraffic()
	if k, ok := addr4Key(c.addr); ok && m.live4[k] == c {
		delete(m.live4, k)
		m.nLive4 = len(m.live4)
	}
}

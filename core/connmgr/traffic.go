package connmgr

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core/wire"
)

// Traffic accounting runs for every datagram the node sends or receives,
// so it is built to touch little memory. Connected sessions at IPv4
// addresses are indexed by a packed uint64 key in a small open-addressing
// table (live4, a connTable: one slice of key and session pairs, where a
// map would load its directory, group and slot). The traffic hook
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

// after returns the offset of now + d (d >= 0), at most math.MaxInt64.
func (m *Manager) after(now time.Time, d time.Duration) int64 {
	t := m.since(now)
	if t > 0 && int64(d) > math.MaxInt64-t {
		return math.MaxInt64
	}
	return t + int64(d)
}

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
		account(m.live4.get(r.key), r.at, int(r.n), r.out)
	}
	m.pend = m.pend[:0]
}

// connectedAt returns the connected session at addr, or nil.
func (m *Manager) connectedAt(addr netip.AddrPort) *conn {
	if k, ok := addr4Key(addr); ok {
		return m.live4.get(k)
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

// index and unindex keep live4 and the ordered conns in step with the
// connected sessions; both apply the pending batch first, so that it is
// accounted to the sessions that were connected when its datagrams
// passed. A connected session's peer and address do not change, so its
// place in conns stays found by binary search.
func (m *Manager) index(c *conn) {
	m.flushTraffic()
	if k, ok := addr4Key(c.addr); ok {
		m.live4.put(k, c)
		m.nLive4 = m.live4.n
	}
	i, _ := slices.BinarySearchFunc(m.conns, c, compareConns)
	m.conns = slices.Insert(m.conns, i, c)
}

func (m *Manager) unindex(c *conn) {
	m.flushTraffic()
	if k, ok := addr4Key(c.addr); ok && m.live4.get(k) == c {
		m.live4.del(k)
		m.nLive4 = m.live4.n
	}
	i, _ := slices.BinarySearchFunc(m.conns, c, compareConns)
	for ; i < len(m.conns) && compareConns(m.conns[i], c) == 0; i++ {
		if m.conns[i] == c {
			m.conns = slices.Delete(m.conns, i, i+1)
			return
		}
	}
}

// connTable maps addr4Key keys to sessions: open addressing with linear
// probing, at most half full, deletion by backward shift (no tombstones),
// so a lookup scans a short run of one contiguous slice. A nil session
// marks a free slot. The zero value is an empty table.
type connTable struct {
	slots []connSlot // a power of two long, or empty
	n     int
}

type connSlot struct {
	key uint64
	c   *conn
}

// connTableMin is the slot count of a table's first allocation.
const connTableMin = 16

// home returns k's preferred slot in a table of mask+1 slots. The keys
// differ mostly in their low bits (address and port), which the
// multiplication spreads over the high half that the fold brings down.
func (t *connTable) home(k uint64) int {
	h := k * 0x9e3779b97f4a7c15
	return int((h ^ h>>32) & uint64(len(t.slots)-1))
}

// get returns the session of key k, or nil.
func (t *connTable) get(k uint64) *conn {
	if t.n == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.c == nil {
			return nil
		}
		if s.key == k {
			return s.c
		}
	}
}

// put sets the session of key k to c (not nil).
func (t *connTable) put(k uint64, c *conn) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.c == nil {
			s.key, s.c = k, c
			t.n++
			return
		}
		if s.key == k {
			s.c = c
			return
		}
	}
}

// del removes key k, if present, and moves back the entries of the run
// after it that may no longer be reachable from their home slot.
func (t *connTable) del(k uint64) {
	if t.n == 0 {
		return
	}
	mask := len(t.slots) - 1
	i := t.home(k)
	for ; t.slots[i].key != k; i = (i + 1) & mask {
		if t.slots[i].c == nil {
			return
		}
	}
	if t.slots[i].c == nil {
		return
	}
	for j := (i + 1) & mask; t.slots[j].c != nil; j = (j + 1) & mask {
		// The entry at j stays if its home lies cyclically in (i, j].
		h := t.home(t.slots[j].key)
		if (i < j && i < h && h <= j) || (i > j && (i < h || h <= j)) {
			continue
		}
		t.slots[i] = t.slots[j]
		i = j
	}
	t.slots[i] = connSlot{}
	t.n--
}

// grow doubles the table (or makes its first slots) and reinserts every
// entry.
func (t *connTable) grow() {
	old := t.slots
	t.slots, t.n = make([]connSlot, max(connTableMin, 2*len(old))), 0
	for _, s := range old {
		if s.c != nil {
			t.put(s.key, s.c)
		}
	}
}

package connmgr_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/wire"
)

// The traffic hook batches what it records, but every read sees it all:
// bytes, datagrams and times are those of the datagrams that passed while
// the session was connected, in either direction.
func TestTrafficHookAccounting(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, noEarlyProbe)
	m := c.ms[0]
	peer := coretest.Addr(1)
	m.Traffic(c.net.Now(), peer, wire.KindGossip, 999, false) // before the session: not counted
	c.connect(0, 1)
	c.run(time.Second)
	before, _ := m.Connection(c.id(1))
	for i := range 100 { // more than a batch
		at := c.net.Now().Add(time.Duration(i) * time.Millisecond)
		m.Traffic(at, peer, wire.KindGossip, 100, i%2 == 0)
	}
	m.Traffic(c.net.Now(), peer, wire.KindConnPing, 50, true)                              // the manager's own kinds: ignored
	m.Traffic(c.net.Now(), coretest.Addr(7), wire.KindGossip, 50, false)                   // no session
	m.Traffic(c.net.Now(), netip.MustParseAddrPort("[::1]:9"), wire.KindGossip, 50, false) // IPv6, no session
	x, _ := m.Connection(c.id(1))
	in, out := x.Metrics.MsgsIn-before.Metrics.MsgsIn, x.Metrics.MsgsOut-before.Metrics.MsgsOut
	if in != 50 || out != 50 || x.Metrics.BytesIn-before.Metrics.BytesIn != 5000 || x.Metrics.BytesOut-before.Metrics.BytesOut != 5000 {
		t.Errorf("counted %d in, %d out: %+v", in, out, x.Metrics)
	}
	last := c.net.Now().Add(99 * time.Millisecond) // the last datagram, received
	if x.Metrics.LastActive != last || x.Metrics.LastSeen != last {
		t.Errorf("last active %v, last seen %v, want %v", x.Metrics.LastActive, x.Metrics.LastSeen, last)
	}
	// A late Touch of an earlier time does not move the times back.
	m.Touch(c.net.Now(), peer, 10)
	if y, _ := m.Connection(c.id(1)); y.Metrics.LastActive != last || y.Metrics.MsgsIn != x.Metrics.MsgsIn+1 {
		t.Errorf("after a Touch: %+v", y.Metrics)
	}
}

// Datagrams recorded before a session ends count for it, not for the next
// session at the same address.
func TestTrafficHookSessionBoundary(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, noEarlyProbe)
	m := c.ms[0]
	var closed connmgr.Connection
	m.OnDisconnected(func(_ time.Time, x connmgr.Connection) { closed = x })
	c.connect(0, 1)
	c.run(time.Second)
	for range 5 {
		m.Traffic(c.net.Now(), coretest.Addr(1), wire.KindGossip, 10, true)
	}
	if err := m.Disconnect(c.net.Now(), c.id(1)); err != nil {
		t.Fatal(err)
	}
	if closed.Metrics.BytesOut < 50 {
		t.Errorf("the ended session's metrics lack its traffic: %+v", closed.Metrics)
	}
	c.run(5 * time.Second)
	c.connect(0, 1)
	c.run(time.Second)
	x, _ := m.Connection(c.id(1))
	if x.Metrics.MsgsOut != 1 { // its CONNECT only
		t.Errorf("the new session inherited traffic: %+v", x.Metrics)
	}
}

// The hook does not allocate once its batch exists.
func TestTrafficHookAllocs(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	c.connect(0, 1)
	c.run(time.Second)
	m, now, peer := c.ms[0], c.net.Now(), coretest.Addr(1)
	m.Traffic(now, peer, wire.KindGossip, 100, false)
	if n := testing.AllocsPerRun(1000, func() { m.Traffic(now, peer, wire.KindGossip, 100, false) }); n != 0 {
		t.Errorf("%v allocations per datagram", n)
	}
}

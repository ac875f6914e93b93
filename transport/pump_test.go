package transport

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/transport/transporttest"
)

// pumpHost is a Host without its loop, over an in-memory network: the test
// goroutine plays the loop, delivering datagrams one at a time (pump), so
// interleavings are chosen, not raced. Timers are never run unless the
// test runs them.
type pumpHost struct {
	*Host
	conn   *transporttest.Conn
	node   *core.Node
	pinger *health.Pinger
	mu     sync.Mutex
	events []core.Event
}

func newPumpHost(t testing.TB, n *transporttest.Net, addr netip.AddrPort, idIndex int, keys *localKeys) *pumpHost {
	t.Helper()
	conn, err := n.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	ph := &pumpHost{conn: conn}
	cfg := DefaultConfig()
	cfg.Conn = conn
	entropy := seeded(uint64(2000 + idIndex))
	obs := core.ObserverFunc(func(_ time.Time, ev core.Event) {
		ph.mu.Lock()
		ph.events = append(ph.events, ev)
		ph.mu.Unlock()
	})
	h, err := newHost(cfg, keys, entropy, obs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ph.Host = h
	id := testIdentity(t, idIndex)
	if ph.node, err = core.NewNode(id, h.Env(), core.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if ph.pinger, err = health.New(ph.node, health.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	h.SetNode(ph.node)
	ph.node.Start(time.Now())
	t.Cleanup(ph.close)
	return ph
}

func (ph *pumpHost) close() {
	ph.stopTimers()
	ph.Close()
}

// pump delivers queued datagrams, host by host in the given order, until
// none is left; it returns how many it delivered.
func pump(hosts ...*pumpHost) int {
	n := 0
	for progress := true; progress; {
		progress = false
		for _, h := range hosts {
			for {
				b, from, ok := h.conn.TryRead()
				if !ok {
					break
				}
				h.receive(time.Now(), from, b)
				n++
				progress = true
			}
		}
	}
	return n
}

func memAddr(i byte) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, i}), 7000)
}

// Two nodes dial each other at once: whatever the order the datagrams are
// handled in, both end on one pair of matching sessions, the one initiated
// by the lower static key, and both pings are answered.
func TestSimultaneousOpen(t *testing.T) {
	for _, c := range []struct {
		name    string
		aFirst  bool
		swapIDs bool
	}{{"a first", true, false}, {"b first", false, false}, {"a first swapped", true, true}, {"b first swapped", false, true}} {
		t.Run(c.name, func(t *testing.T) {
			n := transporttest.NewNet()
			ia, ib := 0, 1
			if c.swapIDs {
				ia, ib = 1, 0
			}
			a := newPumpHost(t, n, memAddr(1), ia, testKeys(t, ia))
			b := newPumpHost(t, n, memAddr(2), ib, testKeys(t, ib))
			now := time.Now()
			a.pinger.Ping(now, b.LocalAddr())
			b.pinger.Ping(now, a.LocalAddr())
			if c.aFirst {
				pump(a, b)
			} else {
				pump(b, a)
			}
			checkTwins(t, a.Host, b.Host)
			if a.pinger.Stats().Answered != 1 || b.pinger.Stats().Answered != 1 {
				t.Errorf("pings answered: a %+v b %+v", a.pinger.Stats(), b.pinger.Stats())
			}
		})
	}
}

// checkTwins checks that a and b each hold one current session with the
// other, that they are the two ends of the same handshake, and that it is
// the one initiated by the lower static key when both completed.
func checkTwins(t *testing.T, a, b *Host) {
	t.Helper()
	checkMatched(t, a, b)
	pa := a.peers[b.LocalAddr()]
	lowerIsA := bytes.Compare(a.keys.static.Public, b.keys.static.Public) < 0
	if pa.prev != nil || a.Stats().HandshakesAbandoned+b.Stats().HandshakesAbandoned > 0 {
		// There were two handshakes: the winner is the lower key's.
		if pa.cur.initiator != lowerIsA {
			t.Errorf("a's session initiated by a = %v, but a has the lower key = %v", pa.cur.initiator, lowerIsA)
		}
	}
}

// checkMatched checks that a and b each hold one current session with the
// other, the two ends of the same handshake.
func checkMatched(t *testing.T, a, b *Host) {
	t.Helper()
	pa, pb := a.peers[b.LocalAddr()], b.peers[a.LocalAddr()]
	if pa == nil || pb == nil || pa.cur == nil || pb.cur == nil {
		t.Fatalf("missing sessions: a %+v b %+v", pa, pb)
	}
	if pa.cur.remote != pb.cur.index || pb.cur.remote != pa.cur.index || pa.cur.initiator == pb.cur.initiator {
		t.Fatalf("different sessions: a %d->%d (init %v), b %d->%d (init %v)",
			pa.cur.index, pa.cur.remote, pa.cur.initiator, pb.cur.index, pb.cur.remote, pb.cur.initiator)
	}
	if a.nSessions != 1 || b.nSessions != 1 {
		t.Errorf("session counts a %d b %d", a.nSessions, b.nSessions)
	}
}

// The same on real sockets with two loops racing, many times.
func TestSimultaneousOpenRace(t *testing.T) {
	twins := 0
	for i := range 10 {
		a := startHost(t, fastConfig(loopback(1)), 2*i)
		b := startHost(t, fastConfig(loopback(2)), 2*i+1)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); a.ping(b.LocalAddr()) }()
		go func() { defer wg.Done(); b.ping(a.LocalAddr()) }()
		wg.Wait()
		waitFor(a, wait, func(e health.PingRTT) bool { return true })
		waitFor(b, wait, func(e health.PingRTT) bool { return true })
		// Once both pings are answered, both ends agree on one session.
		var ai, ar, bi, br uint32
		a.do(func(time.Time) {
			if p := a.peers[b.LocalAddr()]; p != nil && p.cur != nil {
				ai, ar = p.cur.index, p.cur.remote
			}
		})
		b.do(func(time.Time) {
			if p := b.peers[a.LocalAddr()]; p != nil && p.cur != nil {
				bi, br = p.cur.index, p.cur.remote
			}
		})
		if ai == 0 || ai != br || bi != ar {
			t.Errorf("run %d: a's session %d->%d, b's %d->%d", i, ai, ar, bi, br)
		}
		a.stop()
		b.stop()
		if a.Stats().HandshakesCompleted+b.Stats().HandshakesCompleted > 2 || a.Stats().HandshakesAbandoned+b.Stats().HandshakesAbandoned > 0 {
			twins++
		}
	}
	t.Logf("%d of 10 runs had two handshakes", twins)
}

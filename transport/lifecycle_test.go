package transport

import (
	"testing"
	"time"

	"github.com/dchat/network/core/health"
	"github.com/dchat/network/transport/transporttest"
)

// A session older than RekeyAfter is replaced by a new handshake when it
// next carries data; traffic flows throughout and the old session retires.
func TestRekeyByAge(t *testing.T) {
	cfg := fastConfig(loopback(1))
	cfg.RekeyAfter = 300 * time.Millisecond
	a := startHost(t, cfg, 0)
	cfg.Listen = loopback(2)
	b := startHost(t, cfg, 1)
	a.pingRTT(b.LocalAddr())
	first := waitFor(a, wait, func(e SessionUp) bool { return !e.Rekey })
	var firstIndex uint32
	a.do(func(now time.Time) {
		firstIndex = a.peers[b.LocalAddr()].cur.index
		// The next ping leaves once the session is old enough (timed on
		// a's loop, not by the test sleeping).
		a.Env().Clock.AfterFunc(400*time.Millisecond, func() {
			a.pinger.Ping(a.Env().Clock.Now(), b.LocalAddr())
		})
	})
	up := waitFor(a, wait, func(e SessionUp) bool { return e.Rekey })
	if up.Peer != first.Peer || !up.Initiator || up.Restarted {
		t.Errorf("rekey: %+v", up)
	}
	waitFor(a, wait, func(e health.PingRTT) bool { return true })
	waitFor(b, wait, func(e SessionUp) bool { return e.Rekey })
	a.pingRTT(b.LocalAddr())
	var cur, prev uint32
	a.do(func(time.Time) {
		p := a.peers[b.LocalAddr()]
		cur = p.cur.index
		if p.prev != nil {
			prev = p.prev.index
		}
	})
	if cur == firstIndex || prev != firstIndex {
		t.Errorf("indices: first %d, now %d, retired %d", firstIndex, cur, prev)
	}
	if st := a.Stats(); st.Rekeys != 1 || st.Drops["replay"]+st.Drops["bad-mac"]+st.Drops["unknown-session"] != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := a.pinger.Stats().TimedOut; n != 0 {
		t.Errorf("%d pings timed out", n)
	}
}

// Either side rekeys after RekeyAfterMessages sent; pings keep flowing.
func TestRekeyByMessages(t *testing.T) {
	n := transporttest.NewNet()
	a := newPumpHost(t, n, memAddr(1), 0, testKeys(t, 0))
	b := newPumpHost(t, n, memAddr(2), 1, testKeys(t, 1))
	a.cfg.RekeyAfterMessages, b.cfg.RekeyAfterMessages = 5, 5
	for range 20 {
		a.pinger.Ping(time.Now(), b.LocalAddr())
		pump(a, b)
	}
	if got := a.pinger.Stats().Answered; got != 20 {
		t.Errorf("answered %d of 20", got)
	}
	if a.Stats().Rekeys == 0 || b.Stats().Rekeys == 0 {
		t.Errorf("rekeys: a %d b %d", a.Stats().Rekeys, b.Stats().Rekeys)
	}
	checkMatched(t, a.Host, b.Host)
}

// A peer restarts and loses its sessions: data sent on the old session goes
// unanswered, so after StaleAfter the node handshakes again and traffic
// resumes.
func TestPeerRestart(t *testing.T) {
	cfg := fastConfig(loopback(1))
	cfg.KeepaliveAfter, cfg.StaleAfter = 100*time.Millisecond, 300*time.Millisecond
	a := startHost(t, cfg, 0)
	bcfg := fastConfig(loopback(2))
	b := startHost(t, bcfg, 1)
	addr := b.LocalAddr()
	a.pingRTT(addr)
	b.stop()
	bcfg.Listen = addr
	b2 := startHost(t, bcfg, 1) // same identity, same address, no sessions
	a.ping(addr)
	waitDrop(b2, DropUnknownSession)
	up := waitFor(a, wait, func(e SessionUp) bool { return e.Rekey })
	if up.Peer != b2.id.ID() || !up.Restarted {
		t.Errorf("new session: %+v", up)
	}
	a.pingRTT(addr)
}

// A session that carries nothing for IdleTimeout is closed at both ends.
func TestIdleTimeout(t *testing.T) {
	cfg := fastConfig(loopback(1))
	cfg.IdleTimeout = 300 * time.Millisecond
	a := startHost(t, cfg, 0)
	cfg.Listen = loopback(2)
	b := startHost(t, cfg, 1)
	a.pingRTT(b.LocalAddr())
	for _, h := range []*testHost{a, b} {
		d := waitFor(h, wait, func(e SessionDown) bool { return true })
		if d.Reason != reasonIdle {
			t.Errorf("%v: session down %+v", h.LocalAddr(), d)
		}
	}
	if _, ok := a.PeerID(b.LocalAddr()); ok {
		t.Error("PeerID still known after the session closed")
	}
	// A new ping makes a new session.
	a.pingRTT(b.LocalAddr())
}

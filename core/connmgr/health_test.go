package connmgr_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/wire"
)

func TestHealthMonitorRFC6298(t *testing.T) {
	h := connmgr.NewHealthMonitor(connmgr.DefaultHealthConfig())
	h.Answered(100 * time.Millisecond)
	if h.SRTT() != 100*time.Millisecond || h.RTTVar() != 50*time.Millisecond {
		t.Fatalf("first sample: srtt %v rttvar %v", h.SRTT(), h.RTTVar())
	}
	h.Answered(200 * time.Millisecond)
	// RTTVAR = 3/4 x 50 + 1/4 x |100 - 200| = 62.5; SRTT = 7/8 x 100 + 1/8 x 200 = 112.5.
	if h.RTTVar() != 62500*time.Microsecond || h.SRTT() != 112500*time.Microsecond {
		t.Fatalf("second sample: srtt %v rttvar %v", h.SRTT(), h.RTTVar())
	}
	if h.MinRTT() != 100*time.Millisecond || h.LastRTT() != 200*time.Millisecond {
		t.Errorf("min %v last %v", h.MinRTT(), h.LastRTT())
	}
	for range 100 {
		h.Answered(40 * time.Millisecond)
	}
	if d := h.SRTT() - 40*time.Millisecond; d < 0 || d > time.Microsecond {
		t.Errorf("SRTT %v did not converge to 40ms", h.SRTT())
	}
}

func TestHealthMonitorStates(t *testing.T) {
	cfg := connmgr.DefaultHealthConfig()
	type step struct {
		miss   bool
		rtt    time.Duration
		state  connmgr.HealthState
		reason string
	}
	ok := func(rtt time.Duration, s connmgr.HealthState, r string) step {
		return step{rtt: rtt, state: s, reason: r}
	}
	miss := func(s connmgr.HealthState, r string) step { return step{miss: true, state: s, reason: r} }
	cases := map[string][]step{
		"missed pings": {ok(50*time.Millisecond, connmgr.Healthy, ""), miss(connmgr.Degraded, connmgr.ReasonMissedPings),
			miss(connmgr.Degraded, connmgr.ReasonMissedPings), miss(connmgr.Unhealthy, connmgr.ReasonMissedPings)},
		"recovers": {miss(connmgr.Degraded, connmgr.ReasonMissedPings), ok(50*time.Millisecond, connmgr.Healthy, "")},
		// 1 loss in 4 probes: 25% >= 20%.
		"loss degrades": {ok(10*time.Millisecond, connmgr.Healthy, ""), miss(connmgr.Degraded, connmgr.ReasonMissedPings),
			ok(10*time.Millisecond, connmgr.Healthy, ""), ok(10*time.Millisecond, connmgr.Degraded, connmgr.ReasonHighLoss)},
		// 2 of 4 lost: 50%.
		"loss kills": {ok(10*time.Millisecond, connmgr.Healthy, ""), miss(connmgr.Degraded, connmgr.ReasonMissedPings),
			ok(10*time.Millisecond, connmgr.Healthy, ""), miss(connmgr.Unhealthy, connmgr.ReasonHighLoss)},
		"high rtt": {ok(1500*time.Millisecond, connmgr.Degraded, connmgr.ReasonHighRTT), ok(6*time.Second, connmgr.Degraded, connmgr.ReasonHighRTT),
			ok(30*time.Second, connmgr.Unhealthy, connmgr.ReasonHighRTT)},
	}
	for name, steps := range cases {
		h := connmgr.NewHealthMonitor(cfg)
		for i, s := range steps {
			if s.miss {
				h.Missed()
			} else {
				h.Answered(s.rtt)
			}
			st, r, _ := h.Evaluate()
			if st != s.state || r != s.reason {
				t.Errorf("%s step %d: %v/%q, want %v/%q (loss %.2f srtt %v)", name, i, st, r, s.state, s.reason, h.Loss(), h.SRTT())
			}
		}
	}
	// The loss window forgets: 10 good probes after a loss give 0 loss.
	h := connmgr.NewHealthMonitor(cfg)
	h.Missed()
	for range cfg.LossWindow {
		h.Answered(time.Millisecond)
	}
	if h.Loss() != 0 {
		t.Errorf("loss %v after a full window of answers", h.Loss())
	}
	if s, l := h.Probes(); s != 11 || l != 1 {
		t.Errorf("probes %d/%d", s, l)
	}
}

// A peer that stops answering is degraded at the first missed probe,
// unhealthy at the third, and closed; its side learns from the CLOSE.
func TestUnansweringPeerClosed(t *testing.T) {
	c := newCluster(t, 2, 20*time.Millisecond, nil)
	c.connect(0, 1)
	c.run(35 * time.Second) // one probe answered
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool {
		return from == coretest.Addr(1) && wire.Kind(pkt[1]) == wire.KindConnPong
	}
	c.run(2 * time.Minute)
	hc := events[connmgr.HealthChange](c, 0)
	at := eventTimes[connmgr.HealthChange](c, 0)
	// The session opened at 40 ms. Probes at +30 s (answered), +60 s
	// (missed at +70 s), +70 s (missed at +80 s), +80 s (missed at +90 s):
	// degraded at +70 s, unhealthy at +90 s.
	if len(hc) != 2 || hc[0].State != connmgr.Degraded || hc[0].Reason != connmgr.ReasonMissedPings ||
		hc[1].State != connmgr.Unhealthy || at[0] != 70*time.Second+40*time.Millisecond || at[1] != 90*time.Second+40*time.Millisecond {
		t.Fatalf("health changes %+v at %v", hc, at)
	}
	cl := events[connmgr.Close](c, 0)
	if len(cl) != 1 || cl[0].Reason != connmgr.ReasonUnhealthy || cl[0].Detail != connmgr.ReasonMissedPings {
		t.Fatalf("closes %+v", cl)
	}
	cl = events[connmgr.Close](c, 1)
	if len(cl) != 1 || cl[0].Reason != connmgr.ReasonClosedByPeer || cl[0].Detail != "unhealthy" {
		t.Fatalf("peer closes %+v", cl)
	}
	s := c.ms[0].Stats()
	if s.ProbesLost != 3 || s.Closes[connmgr.ReasonUnhealthy] != 1 || s.HealthChanges["unhealthy"] != 1 {
		t.Errorf("stats %+v", s)
	}
	c.checkSymmetric()
}

// The SRTT estimate converges to the link's round trip under jitter.
func TestRTTConverges(t *testing.T) {
	c := newCluster(t, 2, 0, nil)
	n := 0
	// One-way delays alternate 30/50 ms per packet: round trips of 60-100,
	// mean 80 ms.
	c.net.DelayFn = func(from, to netip.AddrPort) time.Duration {
		n++
		if n%3 == 0 {
			return 50 * time.Millisecond
		}
		if n%3 == 1 {
			return 30 * time.Millisecond
		}
		return 40 * time.Millisecond
	}
	c.connect(0, 1)
	for range 20 {
		c.run(30 * time.Second)
		c.ms[0].Touch(c.net.Now(), coretest.Addr(1), 1) // not idle
		c.ms[1].Touch(c.net.Now(), coretest.Addr(0), 1)
	}
	for i, peer := range []int{1, 0} {
		x, ok := c.ms[i].Connection(c.id(peer))
		if !ok {
			t.Fatalf("node %d lost its session", i)
		}
		if d := x.Metrics.SRTT - 80*time.Millisecond; d < -8*time.Millisecond || d > 8*time.Millisecond {
			t.Errorf("node %d: SRTT %v, want about 80ms (min %v)", i, x.Metrics.SRTT, x.Metrics.MinRTT)
		}
		if x.Metrics.MinRTT < 60*time.Millisecond || x.Metrics.MinRTT > 80*time.Millisecond || x.Health != connmgr.Healthy {
			t.Errorf("node %d: %+v", i, x)
		}
		if gp := c.ms[i].GossipPeers(); gp[0].RTT != x.Metrics.SRTT {
			t.Errorf("gossip RTT %v, SRTT %v", gp[0].RTT, x.Metrics.SRTT)
		}
	}
}

func TestLossyLinkDegrades(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	c.connect(0, 1)
	c.run(time.Second)
	k := 0
	// Every 4th probe from 0 is lost: 25% loss, never 2 in a row.
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool {
		if from == coretest.Addr(0) && wire.Kind(pkt[1]) == wire.KindConnPing {
			k++
			return k%4 == 0
		}
		return false
	}
	for range 12 {
		c.run(30 * time.Second)
		c.ms[0].Touch(c.net.Now(), coretest.Addr(1), 1)
		c.ms[1].Touch(c.net.Now(), coretest.Addr(0), 1)
	}
	x, _ := c.ms[0].Connection(c.id(1))
	if x.State != connmgr.Connected || x.Health != connmgr.Degraded || x.HealthReason != connmgr.ReasonHighLoss {
		t.Fatalf("%+v", x)
	}
	if x.Metrics.Loss < 0.19 || x.Metrics.Loss > 0.31 {
		t.Errorf("loss %v, want about 0.25", x.Metrics.Loss)
	}
}

func TestIdleTimeout(t *testing.T) {
	c := newCluster(t, 4, 10*time.Millisecond, func(int) connmgr.Config {
		cfg := connmgr.DefaultConfig()
		cfg.Health.IdleTimeout = 2 * time.Minute
		return cfg
	})
	c.connect(0, 1) // silent: closed as idle
	c.connect(0, 2) // traffic every minute: kept
	c.connect(0, 3) // silent but protected (on both sides): kept
	c.ms[0].Protect(c.id(3), connmgr.TagGossipMesh)
	c.ms[3].Protect(c.id(0), connmgr.TagGossipMesh)
	for range 5 {
		c.run(time.Minute)
		c.ms[0].Sent(c.net.Now(), coretest.Addr(2), 100)
		c.ms[2].Touch(c.net.Now(), coretest.Addr(0), 100)
	}
	if got := c.connectedTo(0); len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Fatalf("connected to %v", got)
	}
	cl := events[connmgr.Close](c, 0)
	at := eventTimes[connmgr.Close](c, 0)
	if len(cl) != 1 || cl[0].Reason != connmgr.ReasonIdle || at[0] != 2*time.Minute+20*time.Millisecond {
		t.Fatalf("closes %+v at %v", cl, at)
	}
	// Probes are not traffic: the silent peer was probed all along.
	x, _ := c.ms[0].Connection(c.id(3))
	if x.Metrics.ProbesSent < 9 || x.Metrics.LastActive != coretest.Epoch.Add(20*time.Millisecond) {
		t.Errorf("protected peer: %+v", x.Metrics)
	}
	c.run(time.Second)
	c.checkSymmetric()
	if !c.ms[0].Touch(c.net.Now(), coretest.Addr(2), 1) || c.ms[0].Touch(c.net.Now(), coretest.Addr(1), 1) {
		t.Error("Touch reports the wrong sessions")
	}
}

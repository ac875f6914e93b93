package connmgr_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// noEarlyProbe is the default config without EarlyProbe: the first probe
// waits PingInterval, so a handshake's own RTT sample (or its absence)
// shows.
func noEarlyProbe(int) connmgr.Config {
	cfg := connmgr.DefaultConfig()
	cfg.Health.EarlyProbe = false
	return cfg
}

func TestHandshake(t *testing.T) {
	c := newCluster(t, 2, 20*time.Millisecond, noEarlyProbe)
	var opened []connmgr.Connection
	c.ms[1].OnConnected(func(now time.Time, x connmgr.Connection) { opened = append(opened, x) })
	c.connect(0, 1)
	if c.ms[0].Dialing() != 1 {
		t.Fatalf("dialing %d", c.ms[0].Dialing())
	}
	c.run(time.Second)
	a, ok := c.ms[0].Connection(c.id(1))
	if !ok || a.State != connmgr.Connected || a.Direction != connmgr.Outbound || a.Addr != coretest.Addr(1) {
		t.Fatalf("dialer's view: %+v %v", a, ok)
	}
	b, ok := c.ms[1].Connection(c.id(0))
	if !ok || b.State != connmgr.Connected || b.Direction != connmgr.Inbound || b.Addr != coretest.Addr(0) {
		t.Fatalf("acceptor's view: %+v %v", b, ok)
	}
	if len(opened) != 1 || opened[0].Peer != c.id(0) {
		t.Fatalf("OnConnected: %+v", opened)
	}
	if a.Metrics.SRTT != 40*time.Millisecond || b.Metrics.SRTT != 0 {
		t.Errorf("handshake RTT: dialer %v (want 40ms), acceptor %v (want none)", a.Metrics.SRTT, b.Metrics.SRTT)
	}
	if a.Health != connmgr.Healthy || a.Metrics.MsgsOut != 1 || a.Metrics.MsgsIn != 1 || b.Metrics.BytesIn != a.Metrics.BytesOut {
		t.Errorf("metrics: %+v / %+v", a, b)
	}
	ev := events[connmgr.Open](c, 0)
	if len(ev) != 1 || ev[0].Direction != connmgr.Outbound || ev[0].RTT != 40*time.Millisecond || ev[0].Count != 1 {
		t.Errorf("open events: %+v", ev)
	}
	gp := c.ms[0].GossipPeers()
	if len(gp) != 1 || gp[0].ID != c.id(1) || gp[0].Addr != coretest.Addr(1) || gp[0].RTT != 40*time.Millisecond {
		t.Errorf("gossip peers: %+v", gp)
	}
	var _ gossip.PeerSource = c.ms[0]
	if err := c.ms[0].Connect(c.net.Now(), c.id(1), coretest.Addr(1)); err != connmgr.ErrExists {
		t.Errorf("second connect: %v", err)
	}
	if err := c.ms[0].Connect(c.net.Now(), c.id(0), coretest.Addr(5)); err != connmgr.ErrSelf {
		t.Errorf("connect to self: %v", err)
	}
	s := c.ms[0].Stats()
	if s.Dials != 1 || s.Connected != 1 || c.ms[1].Stats().Accepted != 1 {
		t.Errorf("stats %+v / %+v", s, c.ms[1].Stats())
	}
	// Probes keep the session up (short of the idle timeout) and measure
	// RTT on both sides.
	c.run(4 * time.Minute)
	c.checkSymmetric()
	b, _ = c.ms[1].Connection(c.id(0))
	if b.Metrics.SRTT != 40*time.Millisecond || b.Metrics.ProbesSent < 7 || b.Metrics.Loss != 0 {
		t.Errorf("after probes: %+v", b.Metrics)
	}
}

func TestDialByAddressOnly(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	if err := c.ms[0].Connect(c.net.Now(), identity.PeerID{}, coretest.Addr(1)); err != nil {
		t.Fatal(err)
	}
	c.run(time.Second)
	if !c.ms[0].IsConnected(c.id(1)) || !c.ms[1].IsConnected(c.id(0)) {
		t.Fatalf("not connected:\n%v", c.net)
	}
}

func TestDialWrongPeer(t *testing.T) {
	c := newCluster(t, 3, 10*time.Millisecond, nil)
	// Node 1's address, node 2's ID: the acceptor refuses.
	if err := c.ms[0].Connect(c.net.Now(), c.id(2), coretest.Addr(1)); err != nil {
		t.Fatal(err)
	}
	c.run(time.Second)
	cl := events[connmgr.Close](c, 0)
	if len(cl) != 1 || cl[0].Reason != connmgr.ReasonRejected || cl[0].Detail != "wrong-peer" || c.ms[1].Count() != 0 {
		t.Fatalf("closes %+v", cl)
	}
}

func TestDialTimeoutAndRetransmit(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	sent := 0
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool {
		if len(pkt) > 1 && wire.Kind(pkt[1]) == wire.KindConnect {
			sent++
		}
		return to == coretest.Addr(1) // node 1 hears nothing
	}
	var failed []connmgr.Connection
	c.ms[0].OnDisconnected(func(now time.Time, x connmgr.Connection) { failed = append(failed, x) })
	c.connect(0, 1)
	c.run(time.Minute)
	// CONNECT at 0, 1, 3 and 7 s (1 s doubling); the dial fails at 10 s.
	if sent != 4 {
		t.Errorf("sent %d CONNECTs, want 4", sent)
	}
	times := eventTimes[connmgr.Close](c, 0)
	if len(failed) != 1 || failed[0].State != connmgr.Failed || failed[0].Reason != connmgr.ReasonTimeout ||
		len(times) != 1 || times[0] != 10*time.Second {
		t.Fatalf("failed %+v at %v", failed, times)
	}
	if c.ms[0].Dialing() != 0 || c.ms[0].Stats().Closes[connmgr.ReasonTimeout] != 1 {
		t.Errorf("after timeout: %s", c.dump())
	}
}

// With EarlyProbe (the default), a session without an RTT sample (the
// acceptor's side) is probed at once: both ends know the RTT within a
// round trip of the handshake. The dialer's side, sampled by its
// handshake, waits for PingInterval.
func TestEarlyProbe(t *testing.T) {
	c := newCluster(t, 2, 20*time.Millisecond, nil)
	c.connect(0, 1)
	c.run(time.Second)
	a, _ := c.ms[0].Connection(c.id(1))
	b, _ := c.ms[1].Connection(c.id(0))
	if a.Metrics.SRTT != 40*time.Millisecond || a.Metrics.ProbesSent != 0 {
		t.Errorf("dialer: SRTT %v, %d probes", a.Metrics.SRTT, a.Metrics.ProbesSent)
	}
	if b.Metrics.SRTT != 40*time.Millisecond || b.Metrics.ProbesSent != 1 || b.Health != connmgr.Healthy {
		t.Errorf("acceptor: SRTT %v, %d probes, %v", b.Metrics.SRTT, b.Metrics.ProbesSent, b.Health)
	}
	// The cycle then runs every PingInterval from the early probe.
	c.run(30 * time.Second)
	b, _ = c.ms[1].Connection(c.id(0))
	a, _ = c.ms[0].Connection(c.id(1))
	if b.Metrics.ProbesSent != 2 || a.Metrics.ProbesSent != 1 {
		t.Errorf("after 31 s: acceptor %d probes, dialer %d", b.Metrics.ProbesSent, a.Metrics.ProbesSent)
	}
}

func TestLostAcceptRetransmitted(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, noEarlyProbe)
	lost := false
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool {
		if !lost && wire.Kind(pkt[1]) == wire.KindAccept {
			lost = true
			return true
		}
		return false
	}
	c.connect(0, 1)
	c.run(5 * time.Second)
	a, ok := c.ms[0].Connection(c.id(1))
	if !ok || a.State != connmgr.Connected {
		t.Fatalf("not connected after a lost ACCEPT:\n%v", c.net)
	}
	if a.Metrics.SRTT != 0 {
		t.Errorf("RTT sampled from a retransmitted handshake (Karn): %v", a.Metrics.SRTT)
	}
	if c.ms[1].Stats().Accepted != 1 || len(events[connmgr.Open](c, 1)) != 1 {
		t.Errorf("retransmitted CONNECT opened a second session: %s", c.dump())
	}
	c.checkSymmetric()
}

func TestSimultaneousOpen(t *testing.T) {
	c := newCluster(t, 2, 30*time.Millisecond, nil)
	c.connect(0, 1)
	c.connect(1, 0)
	c.run(5 * time.Second)
	a, okA := c.ms[0].Connection(c.id(1))
	b, okB := c.ms[1].Connection(c.id(0))
	if !okA || !okB || a.State != connmgr.Connected || b.State != connmgr.Connected || a.Direction == b.Direction {
		t.Fatalf("views %+v / %+v\n%v", a, b, c.net)
	}
	if len(events[connmgr.Open](c, 0)) != 1 || len(events[connmgr.Open](c, 1)) != 1 {
		t.Errorf("more than one session opened:\n%v", c.net)
	}
	if len(events[connmgr.Close](c, 0))+len(events[connmgr.Close](c, 1)) != 0 {
		t.Errorf("simultaneous open closed something:\n%v", c.net)
	}
	c.run(2 * time.Minute)
	c.checkSymmetric()
	if c.ms[0].Count() != 1 || c.ms[1].Count() != 1 {
		t.Errorf("counts: %s", c.dump())
	}
}

func TestClosePropagates(t *testing.T) {
	c := newCluster(t, 3, 10*time.Millisecond, nil)
	c.connect(0, 1)
	c.connect(0, 2)
	c.run(time.Second)
	var gone []connmgr.Connection
	c.ms[1].OnDisconnected(func(now time.Time, x connmgr.Connection) { gone = append(gone, x) })
	if err := c.ms[0].Disconnect(c.net.Now(), c.id(1)); err != nil {
		t.Fatal(err)
	}
	if c.ms[0].IsConnected(c.id(1)) {
		t.Fatal("still connected after Disconnect")
	}
	c.run(time.Second)
	if c.ms[1].Count() != 0 || len(gone) != 1 || gone[0].Reason != connmgr.ReasonClosedByPeer ||
		gone[0].Detail != "local" || gone[0].State != connmgr.Closed {
		t.Fatalf("peer side: count %d, %+v", c.ms[1].Count(), gone)
	}
	if err := c.ms[0].Disconnect(c.net.Now(), c.id(1)); err != connmgr.ErrNotConnected {
		t.Errorf("second disconnect: %v", err)
	}
	// Stopping a node closes all its sessions on both sides.
	c.nodes[0].Stop(c.net.Now())
	c.run(time.Second)
	if c.ms[2].Count() != 0 || c.ms[0].Count() != 0 {
		t.Fatalf("after stop: %s", c.dump())
	}
	cl := events[connmgr.Close](c, 2)
	if len(cl) != 1 || cl[0].Detail != "shutdown" {
		t.Errorf("closes at 2: %+v", cl)
	}
	c.checkSymmetric()
	if d := drops(c, 1); len(d) != 0 {
		t.Errorf("clean closes caused drops: %v", d)
	}
}

// A peer that restarts and lost the CLOSE it sent (or never sent one)
// is found out by the next probe: it answers CLOSE unknown-session.
func TestForgottenSessionReset(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	c.connect(0, 1)
	c.run(time.Second)
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool {
		return wire.Kind(pkt[1]) == wire.KindClose && from == coretest.Addr(1)
	}
	c.nodes[1].Stop(c.net.Now())
	c.nodes[1].Start(c.net.Now())
	c.net.Drop = nil
	c.run(time.Minute)
	cl := events[connmgr.Close](c, 0)
	if len(cl) != 1 || cl[0].Reason != connmgr.ReasonReset {
		t.Fatalf("closes at 0: %+v\n%v", cl, c.net)
	}
	if at := eventTimes[connmgr.Close](c, 0); at[0] > 32*time.Second {
		t.Errorf("reset at %v, want by the first probe (30 s)", at[0])
	}
	c.checkSymmetric()
}

// A peer that dials again (restarted with a new nonce) replaces its old
// session on both sides.
func TestRedialReplaces(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	c.connect(0, 1)
	c.run(time.Second)
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool { return wire.Kind(pkt[1]) == wire.KindClose }
	c.nodes[0].Stop(c.net.Now())
	c.nodes[0].Start(c.net.Now())
	c.net.Drop = nil
	c.connect(0, 1)
	c.run(time.Second)
	cl := events[connmgr.Close](c, 1)
	if len(cl) != 1 || cl[0].Reason != connmgr.ReasonReplaced || c.ms[1].Count() != 1 || len(events[connmgr.Open](c, 1)) != 2 {
		t.Fatalf("closes at 1: %+v; %s", cl, c.dump())
	}
	c.run(2 * time.Minute)
	c.checkSymmetric()
	if c.ms[0].Count() != 1 {
		t.Errorf("count %d", c.ms[0].Count())
	}
}

func TestHostileFramesDropped(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	c.connect(0, 1)
	c.run(time.Second)
	conn, _ := c.ms[0].Connection(c.id(1))
	before := c.ms[0].Stats()
	evil := coretest.Addr(9)
	node0 := coretest.Addr(0)
	var key [32]byte
	key[0] = 7
	cases := []struct {
		from netip.AddrPort
		pkt  []byte
	}{
		{evil, []byte{1, byte(wire.KindConnect), 1, 2, 3}},                                         // malformed
		{evil, []byte{1, byte(wire.KindConnPong)}},                                                 // malformed
		{evil, (&wire.Connect{Nonce: 5}).AppendPacket(nil)},                                        // zero key: bad-peer
		{evil, (&wire.Connect{Nonce: 5, Sender: [32]byte(c.id(0).PublicKey())}).AppendPacket(nil)}, // claims our ID: self
		{evil, wire.Close{Nonce: 1, Reason: 3}.AppendPacket(nil)},                                  // unknown-session
		{evil, (&wire.Accept{Nonce: 1, Sender: key}).AppendPacket(nil)},                            // unsolicited
		{evil, wire.Reject{Nonce: 1, Reason: 1}.AppendPacket(nil)},                                 // unsolicited
		{evil, wire.ConnProbe{Nonce: 1, Seq: 1}.AppendPacket(nil, wire.KindConnPong)},              // unknown-session
		{evil, wire.ConnProbe{Nonce: 1, Seq: 1}.AppendPacket(nil, wire.KindConnPing)},              // unknown-session, answered with CLOSE
		// From the real peer's address, with the wrong nonce.
		{coretest.Addr(1), wire.Close{Nonce: 12345, Reason: 3}.AppendPacket(nil)},                     // bad-nonce
		{coretest.Addr(1), (&wire.Accept{Nonce: 12345, Sender: key}).AppendPacket(nil)},               // bad-nonce
		{coretest.Addr(1), wire.ConnProbe{Nonce: 12345, Seq: 1}.AppendPacket(nil, wire.KindConnPong)}, // bad-nonce
		{coretest.Addr(1), wire.ConnProbe{Nonce: 0, Seq: 99}.AppendPacket(nil, wire.KindConnPong)},    // bad-nonce
	}
	for _, k := range cases {
		c.net.Inject(k.from, node0, k.pkt)
	}
	c.run(time.Second)
	want := map[string]int{core.ReasonMalformed: 2, connmgr.DropBadPeer: 1, connmgr.DropSelf: 1,
		connmgr.DropUnknownSession: 3, core.ReasonUnsolicited: 2, connmgr.DropBadNonce: 4}
	got := drops(c, 0)
	for r, n := range want {
		if got[r] != n {
			t.Errorf("drops for %s: %d, want %d (all %v)", r, got[r], n, got)
		}
	}
	st := c.ms[0].Stats()
	for r, n := range want {
		if int(st.Drops[r]-before.Drops[r]) != n {
			t.Errorf("Stats.Drops[%s] = %d, want %d", r, st.Drops[r], n)
		}
	}
	// The session survived, and no state was made for the hostile address.
	if !c.ms[0].IsConnected(c.id(1)) || len(c.ms[0].Connections()) != 1 {
		t.Errorf("connections after hostile input: %+v", c.ms[0].Connections())
	}
	if after, _ := c.ms[0].Connection(c.id(1)); after.Reputation != conn.Reputation {
		t.Errorf("reputation changed")
	}
	// A late PONG (no probe outstanding) is dropped as late, not matched.
	c.net.Inject(coretest.Addr(1), node0, wire.ConnProbe{Nonce: nonceOf(t, c, 0, 1), Seq: 1}.AppendPacket(nil, wire.KindConnPong))
	c.run(time.Second)
	if drops(c, 0)[connmgr.DropLate] != 1 {
		t.Errorf("late pong: %v", drops(c, 0))
	}
}

// nonceOf returns the nonce of i's session with j, read from i's next
// probe (it runs the network for 40 s).
func nonceOf(t *testing.T, c *cluster, i, j int) uint64 {
	t.Helper()
	var nonce uint64
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool {
		if from == coretest.Addr(i) && to == coretest.Addr(j) && wire.Kind(pkt[1]) == wire.KindConnPing {
			p, err := wire.DecodeConnProbe(pkt[wire.HeaderLen:])
			if err == nil {
				nonce = p.Nonce
			}
		}
		return false
	}
	c.run(40 * time.Second)
	c.net.Drop = nil
	if nonce == 0 {
		t.Fatal("no probe seen")
	}
	return nonce
}

func TestSelfConnectRejected(t *testing.T) {
	c := newCluster(t, 1, 10*time.Millisecond, nil)
	if err := c.ms[0].Connect(c.net.Now(), identity.PeerID{}, coretest.Addr(0)); err != connmgr.ErrSelf {
		t.Fatalf("dial own address: %v", err)
	}
	if err := c.ms[0].Connect(c.net.Now(), identity.PeerID{}, netip.AddrPort{}); err != connmgr.ErrBadAddr {
		t.Fatalf("dial zero address: %v", err)
	}
	c.nodes[0].Stop(c.net.Now())
	if err := c.ms[0].Connect(c.net.Now(), identity.PeerID{}, coretest.Addr(3)); err != connmgr.ErrNotRunning {
		t.Fatalf("dial while stopped: %v", err)
	}
}

func TestReputationThreshold(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	if r := c.ms[1].AdjustReputation(c.id(0), -0.8); r != -0.8 {
		t.Fatalf("reputation %v", r)
	}
	if r := c.ms[1].AdjustReputation(c.id(0), -5); r != -1 {
		t.Fatalf("reputation not clamped: %v", r)
	}
	c.connect(0, 1)
	c.run(time.Second)
	rj := events[connmgr.Reject](c, 1)
	if len(rj) != 1 || rj[0].Reason != "reputation" || c.ms[0].Count() != 0 {
		t.Fatalf("rejects %+v", rj)
	}
	cl := events[connmgr.Close](c, 0)
	if len(cl) != 1 || cl[0].Detail != "reputation" {
		t.Fatalf("dialer closes %+v", cl)
	}
	// Redeemed, it gets in.
	c.ms[1].AdjustReputation(c.id(0), 1.5)
	if c.ms[1].Reputation(c.id(0)) != 0.5 {
		t.Fatalf("reputation %v", c.ms[1].Reputation(c.id(0)))
	}
	c.connect(0, 1)
	c.run(time.Second)
	if x, ok := c.ms[1].Connection(c.id(0)); !ok || x.Reputation != 0.5 {
		t.Fatalf("after redemption: %+v", x)
	}
	if gp := c.ms[1].GossipPeers(); len(gp) != 1 || gp[0].Score != 0.5 {
		t.Errorf("gossip peers %+v", gp)
	}
}

func TestConnectionsSorted(t *testing.T) {
	c := newCluster(t, 8, 10*time.Millisecond, nil)
	for i := 1; i < 8; i++ {
		c.connect(0, i)
	}
	c.run(time.Second)
	cs := c.ms[0].Connections()
	gp := c.ms[0].GossipPeers()
	if len(cs) != 7 || len(gp) != 7 {
		t.Fatalf("%d connections, %d gossip peers", len(cs), len(gp))
	}
	if !slices.IsSortedFunc(gp, func(a, b gossip.Peer) int { return compareIDs(a.ID, b.ID) }) {
		t.Error("gossip peers not sorted by ID")
	}
	for i := range cs {
		if cs[i].Peer != gp[i].ID {
			t.Errorf("connections and gossip peers differ in order at %d", i)
		}
	}
}

func compareIDs(a, b identity.PeerID) int {
	return slices.Compare(a.Bytes(), b.Bytes())
}

// A simultaneous open where the loser's CONNECT is overtaken by its ACCEPT
// of the winner's dial (a reordering link) still ends in one session.
func TestSimultaneousOpenReordered(t *testing.T) {
	c := newCluster(t, 2, 10*time.Millisecond, nil)
	win, lose := 0, 1
	if compareIDs(c.id(1), c.id(0)) < 0 {
		win, lose = 1, 0
	}
	first := true
	c.net.DelayFn = func(from, to netip.AddrPort) time.Duration {
		if from == coretest.Addr(lose) && first {
			first = false
			return 200 * time.Millisecond // the loser's CONNECT
		}
		return 10 * time.Millisecond
	}
	c.connect(lose, win)
	c.connect(win, lose)
	c.run(2 * time.Minute)
	c.checkSymmetric()
	if c.ms[0].Count() != 1 || c.ms[1].Count() != 1 {
		t.Fatalf("%s\n%v", c.dump(), c.net)
	}
	if len(events[connmgr.Close](c, 0))+len(events[connmgr.Close](c, 1)) != 0 || drops(c, win)[connmgr.DropSimultaneous] != 1 {
		t.Errorf("closes or drops:\n%v", c.net)
	}
}

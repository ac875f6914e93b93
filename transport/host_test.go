package transport

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/core/wire"
)

func TestPingPong(t *testing.T) {
	a := startHost(t, fastConfig(loopback(1)), 0)
	b := startHost(t, fastConfig(loopback(2)), 1)
	rtt := a.pingRTT(b.LocalAddr())
	up := waitFor(a, wait, func(e SessionUp) bool { return e.Addr == b.LocalAddr() })
	if !up.Initiator || up.Peer != b.id.ID() {
		t.Errorf("session up at a: %+v", up)
	}
	if id, ok := a.PeerID(b.LocalAddr()); !ok || id != b.id.ID() {
		t.Errorf("a.PeerID(b) = %v %v", id, ok)
	}
	if id, ok := b.PeerID(a.LocalAddr()); !ok || id != a.id.ID() {
		t.Errorf("b.PeerID(a) = %v %v", id, ok)
	}
	// The other way reuses the session.
	b.pingRTT(a.LocalAddr())
	sa, err := a.Sessions(context.Background())
	if err != nil || len(sa) != 1 || !sa[0].Confirmed || sa[0].Peer != b.id.ID() {
		t.Fatalf("a's sessions: %+v %v", sa, err)
	}
	st := a.Stats()
	if st.HandshakesInitiated != 1 || st.HandshakesCompleted != 1 || st.Sessions != 1 || st.Dropped != 0 || st.Delivered != 2 {
		t.Errorf("a's stats: %+v", st)
	}
	if st := b.Stats(); st.HandshakesAnswered != 1 || st.HandshakesInitiated != 0 || st.Dropped != 0 {
		t.Errorf("b's stats: %+v", st)
	}
	t.Logf("first ping (handshake included) %v", rtt.RTT)
}

// A peer sends forged, replayed, malformed and oversized datagrams; each is
// dropped and counted by reason, and the node keeps serving.
func TestForgedDatagrams(t *testing.T) {
	cfg := fastConfig(loopback(1))
	cfg.MaxPacket = 1500
	v := startHost(t, cfg, 0)
	to := v.LocalAddr()
	r := newRawPeer(t, 3, 5)
	r.handshake(to, 0x1111, nil, true)
	up := waitFor(v, wait, func(e SessionUp) bool { return e.Addr == r.addr })
	if up.Peer != r.keys.id || up.Initiator {
		t.Fatalf("session up: %+v", up)
	}

	// A real PING is answered.
	ping := r.sendData(to, pingPacket(42))
	pong, err := wire.DecodeEnvelope(r.readData())
	if err != nil || pong.Kind != wire.KindPong {
		t.Fatalf("answer: %+v %v", pong, err)
	}
	served := func() uint64 {
		var n uint64
		v.do(func(time.Time) { n = v.pinger.Stats().Served })
		return n
	}

	// The same frame again: a replay.
	r.write(to, ping)
	waitDrop(v, DropReplay)
	// A bit flipped in the ciphertext: bad MAC (then the genuine frame
	// with that counter still goes through).
	forged := r.sendDataFrame(pingPacket(43))
	bad := bytes.Clone(forged)
	bad[len(bad)-1] ^= 1
	r.write(to, bad)
	waitDrop(v, DropBadMAC)
	r.write(to, forged)
	r.readData()
	// The session's frame from another address.
	other := newRawPeer(t, 4, 6)
	other.write(to, r.sendDataFrame(pingPacket(44)))
	waitDrop(v, DropAddrMismatch)
	// Random bytes, a random data frame, truncated and oversized datagrams.
	junk := make([]byte, 300)
	crand.Read(junk)
	junk[0] = 0xee
	r.write(to, junk)
	waitDrop(v, DropMalformed)
	junk[0], junk[1], junk[2], junk[3] = frameData, 0, 0, 0
	r.write(to, junk)
	waitDrop(v, DropUnknownSession)
	r.write(to, ping[:20])
	waitDrop(v, DropMalformed)
	r.write(to, make([]byte, 1501))
	r.write(to, []byte{0xee}) // a marker: once it is dropped, so was the oversized one
	waitDrop(v, DropMalformed)
	if n := v.Dropped(DropOversized); n != 1 {
		t.Errorf("oversized drops %d, want 1", n)
	}
	if n := served(); n != 2 {
		t.Errorf("pings served %d, want 2 (42, 43)", n)
	}

	// Handshakes: a garbled message 3 (the half-open handshake survives it
	// and completes with the real one); a message 3 whose identity
	// signature does not verify.
	hr := newRawPeer(t, 5, 7)
	_, fin := hr.handshake(to, 0x2222, nil, false)
	garbled := appendFinish(nil, fin.receiver, bytes.Repeat([]byte{0x5a}, msg3Len))
	hr.write(to, garbled)
	waitDrop(v, DropBadHandshake)
	hr.write(to, appendFinish(nil, fin.receiver, fin.body))
	waitFor(v, wait, func(e SessionUp) bool { return e.Addr == hr.addr })

	sr := newRawPeer(t, 6, 8)
	forgedPayload := bytes.Clone(sr.keys.payload)
	forgedPayload[40] ^= 1 // the signature no longer matches the static key
	_, fin = sr.handshake(to, 0x3333, forgedPayload, false)
	sr.write(to, appendFinish(nil, fin.receiver, fin.body))
	waitDrop(v, DropBadSignature)
	if _, ok := v.PeerID(sr.addr); ok {
		t.Error("a session exists for the peer with the bad signature")
	}

	// A host whose identity signature is bad, dialled by v: v's dial
	// fails and its queue is dropped.
	ecfg := fastConfig(loopback(7))
	evil := startHost(t, ecfg, 9)
	evil.do(func(time.Time) { evil.keys.payload[50] ^= 1 })
	v.ping(evil.LocalAddr())
	waitDrop(v, DropBadSignature)
	fail := waitFor(v, wait, func(e HandshakeFailed) bool { return e.Addr == evil.LocalAddr() })
	if fail.Reason != reasonSignature || fail.Dropped != 1 || !fail.Initiator {
		t.Errorf("handshake failed: %+v", fail)
	}

	// Through all this, v still serves a genuine peer.
	good := startHost(t, fastConfig(loopback(8)), 10)
	good.pingRTT(to)
	want := map[DropReason]uint64{DropReplay: 1, DropBadMAC: 1, DropAddrMismatch: 1, DropMalformed: 3,
		DropUnknownSession: 1, DropOversized: 1, DropBadHandshake: 1, DropBadSignature: 2, DropHandshakeFailed: 1}
	st := v.Stats()
	for r, n := range want {
		if got := st.Drops[r.String()]; got != n {
			t.Errorf("drops[%s] = %d, want %d", r, got, n)
		}
	}
	if len(st.Drops) != len(want) {
		t.Errorf("drops %v, want %v", st.Drops, want)
	}
	t.Logf("victim stats: %+v", st)
}

// sendDataFrame seals pkt without sending it.
func (r *rawPeer) sendDataFrame(pkt []byte) []byte {
	r.t.Helper()
	b, err := r.s.seal(nil, pkt)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

// randomInit returns an init frame with a random index and ephemeral key.
func randomInit() []byte {
	b := make([]byte, initLen)
	b[0] = frameInit
	crand.Read(b[4:8])
	crand.Read(b[initHeaderLen : initHeaderLen+dhLen])
	return b
}

// A flood of handshake initiations from many ports of one IP: at most
// MaxHalfOpenPerIP get state, the goroutines and peers stay bounded, and
// the node still serves another peer meanwhile.
func TestHandshakeFloodOneIP(t *testing.T) {
	v := startHost(t, fastConfig(loopback(1)), 0)
	good := startHost(t, fastConfig(loopback(2)), 1)
	good.pingRTT(v.LocalAddr()) // warm: both loops and readers running
	goroutines := runtime.NumGoroutine()
	before := v.Stats()
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	heapBefore := heap()

	const socks, each = 64, 4
	var conns []*net.UDPConn
	for range socks {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(loopback(9)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for range each {
		for _, c := range conns {
			c.WriteToUDPAddrPort(randomInit(), v.LocalAddr())
		}
	}
	conns[0].WriteToUDPAddrPort([]byte{0xee}, v.LocalAddr()) // a marker, after the flood
	waitFor(v, wait, func(d core.Drop) bool { return d.Reason == "malformed" && d.From == addrOf(conns[0]) })

	st := v.Stats()
	if st.HalfOpen > int64(v.cfg.MaxHalfOpenPerIP) {
		t.Errorf("half-open %d > per-IP limit %d", st.HalfOpen, v.cfg.MaxHalfOpenPerIP)
	}
	if got := st.HandshakesAnswered - before.HandshakesAnswered + st.Drops["half-open-per-ip"] + st.Drops["bad-handshake"] + st.Drops["inbox-full"]; got != socks*each {
		t.Errorf("answered + dropped = %d, want %d: %+v", got, socks*each, st)
	}
	var peers int
	v.do(func(time.Time) { peers = len(v.peers) })
	if peers > v.cfg.MaxHalfOpenPerIP+1 {
		t.Errorf("%d peers held after the flood", peers)
	}
	if g := runtime.NumGoroutine(); g > goroutines+2 {
		t.Errorf("goroutines %d after the flood, %d before", g, goroutines)
	}
	if h := heap(); h > heapBefore+4<<20 {
		t.Errorf("heap in use grew from %d to %d bytes", heapBefore, h)
	}
	// Meanwhile another peer is served, with a fresh handshake.
	fresh := startHost(t, fastConfig(loopback(3)), 2)
	fresh.pingRTT(v.LocalAddr())
	// And the half-open handshakes expire.
	for range st.HalfOpen {
		waitFor(v, wait, func(e HandshakeFailed) bool { return !e.Initiator })
	}
	if st := v.Stats(); st.HalfOpen != 0 || st.Sessions != 2 {
		t.Errorf("after expiry: half-open %d sessions %d", st.HalfOpen, st.Sessions)
	}
	t.Logf("flood: %d inits, answered %d, drops %v", socks*each, st.HandshakesAnswered, st.Drops)
}

// A flood from many IPs fills the half-open table to the cookie threshold;
// beyond it inits get a cookie reply and no state; a genuine peer echoes
// the cookie and gets in.
func TestHandshakeFloodCookies(t *testing.T) {
	cfg := fastConfig(loopback(1))
	cfg.MaxHalfOpen, cfg.CookieThreshold, cfg.MaxHalfOpenPerIP = 32, 16, 2
	v := startHost(t, cfg, 0)
	var conns []*net.UDPConn
	for i := range 64 {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(loopback(byte(10+i))))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.WriteToUDPAddrPort(randomInit(), v.LocalAddr())
		c.WriteToUDPAddrPort(randomInit(), v.LocalAddr())
	}
	conns[0].WriteToUDPAddrPort([]byte{0xee}, v.LocalAddr())
	waitFor(v, wait, func(d core.Drop) bool { return d.Reason == "malformed" })
	st := v.Stats()
	if st.HalfOpen != 16 || st.CookiesSent != 128-16 || st.Drops["cookie-required"] != 128-16 {
		t.Errorf("half-open %d cookies %d drops %v", st.HalfOpen, st.CookiesSent, st.Drops)
	}
	// Attackers got cookie replies no larger than their inits.
	b := make([]byte, 2048)
	conns[63].SetReadDeadline(time.Now().Add(wait))
	n, _, err := conns[63].ReadFromUDPAddrPort(b)
	if err != nil || n != cookieLen || b[0] != frameCookie {
		t.Errorf("attacker read %d bytes %x: %v", n, b[:min(n, 8)], err)
	}
	good := startHost(t, fastConfig(loopback(2)), 1)
	good.pingRTT(v.LocalAddr())
	if gs := good.Stats(); gs.Retransmits == 0 {
		t.Errorf("the genuine peer did not resend with a cookie: %+v", gs)
	}
}

// Handshakes beyond the rate need a cookie even below the threshold.
func TestHandshakeRateCookies(t *testing.T) {
	cfg := fastConfig(loopback(1))
	cfg.HandshakeRate, cfg.HandshakeBurst = 0.001, 2
	v := startHost(t, cfg, 0)
	for i := range 3 {
		c := startHost(t, fastConfig(loopback(byte(2+i))), 1+i)
		c.pingRTT(v.LocalAddr())
	}
	if st := v.Stats(); st.CookiesSent != 1 || st.HandshakesAnswered != 3 {
		t.Errorf("stats %+v", st)
	}
}

// A dial to an address that never answers times out after the retransmits
// of message 1, and what was queued for it is dropped and counted.
func TestSilentDial(t *testing.T) {
	a := startHost(t, fastConfig(loopback(1)), 0)
	silent, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(loopback(2)))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	to := addrOf(silent)
	start := time.Now()
	a.do(func(now time.Time) {
		for range 3 {
			a.pinger.Ping(now, to)
		}
	})
	fail := waitFor(a, wait, func(e HandshakeFailed) bool { return e.Addr == to })
	took := time.Since(start)
	if fail.Reason != reasonTimeout || fail.Dropped != 3 || !fail.Initiator {
		t.Errorf("failure %+v", fail)
	}
	if took < a.cfg.HandshakeTimeout || took > a.cfg.HandshakeTimeout+time.Second {
		t.Errorf("timed out after %v, want about %v", took, a.cfg.HandshakeTimeout)
	}
	st := a.Stats()
	if st.Drops["handshake-timeout"] != 3 || st.Retransmits != 3 || st.HandshakeTimeouts != 1 || st.Dialing != 0 {
		t.Errorf("stats %+v", st)
	}
	// The silent socket got message 1 four times: at 0, 0.1, 0.3, 0.7 s.
	n := 0
	b := make([]byte, 2048)
	silent.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	for {
		k, _, err := silent.ReadFromUDPAddrPort(b)
		if err != nil {
			break
		}
		if k != initLen || b[0] != frameInit {
			t.Errorf("silent socket got %d bytes of type %x", k, b[0])
		}
		n++
	}
	if n != 4 {
		t.Errorf("silent socket got %d inits, want 4", n)
	}
	var peers int
	a.do(func(time.Time) { peers = len(a.peers) })
	if peers != 0 {
		t.Errorf("%d peers left", peers)
	}
	// The pings time out in their turn.
	waitFor(a, wait, func(health.PingTimeout) bool { return true })
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// Do runs a function on the loop and waits; a cancelled Do never runs it;
// after Run returns, Do fails with ErrClosed.
func TestDo(t *testing.T) {
	h, err := New(fastConfig(loopback(1)), testIdentity(t, 0), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ran := 0
	if err := h.Do(cancelled, func(time.Time) { ran++ }); err != context.Canceled {
		t.Errorf("cancelled Do: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	if err := h.Do(context.Background(), func(time.Time) { ran += 10 }); err != nil || ran != 10 {
		t.Errorf("Do: %v, ran %d (the cancelled one must not run)", err, ran)
	}
	if err := h.Run(ctx); err != ErrStarted {
		t.Errorf("second Run: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := h.Do(context.Background(), func(time.Time) { ran++ }); err != ErrClosed || ran != 10 {
		t.Errorf("Do after Run: %v, ran %d", err, ran)
	}
}

// The same over IPv6 loopback, and between a dual-stack socket and an IPv4
// one (the dual-stack side sees IPv4-mapped addresses, which the host
// unmaps).
func TestPingPongIPv6AndDualStack(t *testing.T) {
	if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		c.Close()
	}
	a := startHost(t, fastConfig(netip.MustParseAddrPort("[::1]:0")), 0)
	b := startHost(t, fastConfig(netip.MustParseAddrPort("[::1]:0")), 1)
	a.pingRTT(b.LocalAddr())

	d := startHost(t, fastConfig(netip.MustParseAddrPort("[::]:0")), 2)
	v4 := startHost(t, fastConfig(loopback(1)), 3)
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), d.LocalAddr().Port())
	v4.pingRTT(to)
	up := waitFor(d, wait, func(e SessionUp) bool { return true })
	if up.Addr != v4.LocalAddr() {
		t.Errorf("dual-stack host sees %v, want %v", up.Addr, v4.LocalAddr())
	}
	d.pingRTT(v4.LocalAddr()) // and answers over the same session
	if st := d.Stats(); st.HandshakesCompleted != 1 {
		t.Errorf("dual-stack stats %+v", st)
	}
}

package transport

import (
	"context"
	crand "crypto/rand"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// wait bounds every wait in the host tests.
const wait = 10 * time.Second

// loopback returns 127.0.0.x:0.
func loopback(x byte) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, x}), 0)
}

// fastConfig returns a config for loopback tests with short handshakes.
func fastConfig(listen netip.AddrPort) Config {
	c := DefaultConfig()
	c.Listen = listen
	c.HandshakeTimeout = time.Second
	c.RetransmitBase = 100 * time.Millisecond
	c.TickInterval = 50 * time.Millisecond
	return c
}

// testHost is a running Host with a node that answers pings.
type testHost struct {
	*Host
	t      testing.TB
	id     *identity.Identity
	node   *core.Node
	pinger *health.Pinger
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	log    []core.Event // events not yet consumed by waitFor (nil: consumed)
	notify chan struct{}
}

// startHost runs a host for identity index i with a node and a pinger.
// Its events are logged for waitFor.
func startHost(t testing.TB, cfg Config, i int) *testHost {
	t.Helper()
	th := &testHost{t: t, id: testIdentity(t, i), done: make(chan error, 1), notify: make(chan struct{}, 1)}
	obs := core.ObserverFunc(func(_ time.Time, ev core.Event) {
		th.mu.Lock()
		th.log = append(th.log, ev)
		th.mu.Unlock()
		select {
		case th.notify <- struct{}{}:
		default:
		}
	})
	h, err := New(cfg, th.id, obs, nil)
	if err != nil {
		t.Fatal(err)
	}
	th.Host = h
	ccfg := core.DefaultConfig()
	node, err := core.NewNode(th.id, h.Env(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := health.DefaultConfig()
	hc.Timeout = 2 * time.Second
	if th.pinger, err = health.New(node, hc); err != nil {
		t.Fatal(err)
	}
	th.node = node
	h.SetNode(node)
	ctx, cancel := context.WithCancel(context.Background())
	th.cancel = cancel
	go func() { th.done <- h.Run(ctx) }()
	t.Cleanup(th.stop)
	return th
}

// stop ends the host's loop and waits for it.
func (th *testHost) stop() {
	th.cancel()
	select {
	case err := <-th.done:
		if err != nil {
			th.t.Errorf("Run: %v", err)
		}
		th.done <- nil // later stops return at once
	case <-time.After(wait):
		th.t.Errorf("host %v did not stop", th.LocalAddr())
	}
}

// do runs f on the host's loop.
func (th *testHost) do(f func(now time.Time)) {
	th.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := th.Do(ctx, f); err != nil {
		th.t.Fatalf("Do: %v", err)
	}
}

// ping sends a PING from th to addr on th's loop.
func (th *testHost) ping(to netip.AddrPort) {
	th.t.Helper()
	th.do(func(now time.Time) {
		if _, err := th.pinger.Ping(now, to); err != nil {
			th.t.Errorf("ping: %v", err)
		}
	})
}

// waitFor consumes and returns the earliest event of type E matching ok
// (nil: any) that no earlier waitFor consumed, waiting for it up to
// timeout.
func waitFor[E core.Event](th *testHost, timeout time.Duration, ok func(E) bool) E {
	th.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := 0
	for {
		th.mu.Lock()
		for ; next < len(th.log); next++ {
			if e, is := th.log[next].(E); is && (ok == nil || ok(e)) {
				th.log[next] = nil
				th.mu.Unlock()
				return e
			}
		}
		th.mu.Unlock()
		select {
		case <-th.notify:
		case <-deadline.C:
			var zero E
			th.t.Fatalf("%v: no %T event within %v; stats %+v", th.LocalAddr(), zero, timeout, th.Stats())
			return zero
		}
	}
}

// waitDrop waits for a transport drop event with the given reason.
func waitDrop(th *testHost, r DropReason) core.Drop {
	th.t.Helper()
	return waitFor(th, wait, func(d core.Drop) bool { return d.Reason == r.String() })
}

// pingRTT pings to and waits for the answer.
func (th *testHost) pingRTT(to netip.AddrPort) health.PingRTT {
	th.t.Helper()
	th.ping(to)
	return waitFor(th, wait, func(e health.PingRTT) bool { return e.From == to })
}

// rawPeer is a hand-driven transport peer on a plain UDP socket: it does
// what a host does, one step at a time, so tests can send anything from a
// real peer's address.
type rawPeer struct {
	t    testing.TB
	c    *net.UDPConn
	addr netip.AddrPort
	keys *localKeys
	s    *session
}

func newRawPeer(t testing.TB, ip byte, idIndex int) *rawPeer {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(loopback(ip)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, c: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), keys: testKeys(t, idIndex)}
}

func (r *rawPeer) write(to netip.AddrPort, b []byte) {
	r.t.Helper()
	if _, err := r.c.WriteToUDPAddrPort(b, to); err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next datagram, failing after timeout.
func (r *rawPeer) read(timeout time.Duration) []byte {
	r.t.Helper()
	b, ok := r.tryRead(timeout)
	if !ok {
		r.t.Fatalf("raw peer %v: nothing received within %v", r.addr, timeout)
	}
	return b
}

// tryRead returns the next datagram, or false after timeout.
func (r *rawPeer) tryRead(timeout time.Duration) ([]byte, bool) {
	buf := make([]byte, MaxUDPPayload)
	r.c.SetReadDeadline(time.Now().Add(timeout))
	n, _, err := r.c.ReadFromUDPAddrPort(buf)
	if err != nil {
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			r.t.Fatal(err)
		}
		return nil, false
	}
	return buf[:n], true
}

// readFrame reads the next frame, which must be of type typ.
func (r *rawPeer) readFrame(typ byte) frame {
	r.t.Helper()
	b := r.read(wait)
	f, err := parseFrame(b)
	if err != nil || f.typ != typ {
		r.t.Fatalf("raw peer: got %x (%v), want a %s frame", b, err, typeName(typ))
	}
	return f
}

// handshake runs the initiator's side of a handshake with the host at to,
// up to message 3 if finish (the responder's confirmation is read too).
// With payload set, that payload replaces the identity payload.
func (r *rawPeer) handshake(to netip.AddrPort, index uint32, payload []byte, finish bool) (*session, frame) {
	r.t.Helper()
	hs, err := newNoise(r.keys, true, crand.Reader)
	if err != nil {
		r.t.Fatal(err)
	}
	msg1, _, _, err := hs.WriteMessage(nil, msg1Padding)
	if err != nil {
		r.t.Fatal(err)
	}
	var zero [cookieSize]byte
	r.write(to, appendInit(nil, index, &zero, msg1))
	f := r.readFrame(frameResp)
	p, _, _, err := hs.ReadMessage(nil, f.body)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := verifyPayload(p, hs.PeerStatic()); err != nil {
		r.t.Fatal(err)
	}
	if payload == nil {
		payload = r.keys.payload
	}
	msg3, c1, c2, err := hs.WriteMessage(nil, payload)
	if err != nil {
		r.t.Fatal(err)
	}
	fin := appendFinish(nil, f.sender, msg3)
	s := &session{index: index, remote: f.sender, addr: to, initiator: true, send: c1.Cipher(), recv: c2.Cipher()}
	ff, _ := parseFrame(fin)
	if !finish {
		return s, ff
	}
	r.write(to, fin)
	conf := r.readFrame(frameData)
	if pt, _, ok := s.open(&conf); !ok || len(pt) != 0 {
		r.t.Fatalf("confirmation: %x %v", pt, ok)
	}
	r.s = s
	return s, ff
}

// sendData encrypts pkt on the raw peer's session and sends it; it returns
// the frame.
func (r *rawPeer) sendData(to netip.AddrPort, pkt []byte) []byte {
	r.t.Helper()
	b, err := r.s.seal(nil, pkt)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(to, b)
	return b
}

// readData reads and decrypts the next data frame.
func (r *rawPeer) readData() []byte {
	r.t.Helper()
	f := r.readFrame(frameData)
	pt, reason, ok := r.s.open(&f)
	if !ok {
		r.t.Fatalf("raw peer: data frame dropped: %v", reason)
	}
	return append([]byte(nil), pt...)
}

// pingPacket returns a core PING datagram.
func pingPacket(nonce uint64) []byte { return wire.Ping{Nonce: nonce}.AppendPacket(nil) }

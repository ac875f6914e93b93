package transport

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/transport/transporttest"
)

// scriptConn returns its datagrams to ReadFrom in order, then signals
// drained and blocks until closed.
type scriptConn struct {
	dgrams  [][]byte
	drained chan struct{}
	closed  chan struct{}
}

func (c *scriptConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	if len(c.dgrams) > 0 {
		d := c.dgrams[0]
		c.dgrams = c.dgrams[1:]
		return copy(b, d), memAddr(5), nil
	}
	close(c.drained)
	<-c.closed
	return 0, netip.AddrPort{}, net.ErrClosed
}
func (c *scriptConn) WriteTo([]byte, netip.AddrPort) error { return nil }
func (c *scriptConn) LocalAddr() netip.AddrPort            { return memAddr(6) }
func (c *scriptConn) Close() error                         { close(c.closed); return nil }

// The reader drops what does not fit the inbox and what is larger than
// MaxPacket (its read is truncated at MaxPacket+1), counting both, and
// hands the rest over in order, in buffers of the right size class.
func TestReaderDrops(t *testing.T) {
	conn := &scriptConn{drained: make(chan struct{}), closed: make(chan struct{}),
		dgrams: [][]byte{make([]byte, 100), make([]byte, 1501), make([]byte, 1500), make([]byte, 3), make([]byte, 4)}}
	cfg := DefaultConfig()
	cfg.Conn, cfg.MaxPacket, cfg.InboxLen = conn, 1500, 2
	h, err := New(cfg, testIdentity(t, 0), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.readers.Add(1)
	go h.readLoop()
	select {
	case <-conn.drained:
	case <-time.After(wait):
		t.Fatal("reader stuck")
	}
	conn.Close()
	h.readers.Wait()
	if got := []uint64{h.Dropped(DropOversized), h.Dropped(DropInboxFull)}; got[0] != 1 || got[1] != 2 {
		t.Errorf("oversized, inbox-full drops = %v, want [1 2]", got)
	}
	for _, want := range []int{100, 1500} {
		p := <-h.inbox
		if p.n != want || p.from != memAddr(5) {
			t.Errorf("got %d bytes from %v, want %d", p.n, p.from, want)
		}
		if class := cap(*p.buf); (want <= smallBuf) != (class == smallBuf) {
			t.Errorf("%d bytes in a %d-byte buffer", want, class)
		}
	}
	if st := h.Stats(); st.PacketsIn != 5 {
		t.Errorf("packets in %d, want 5", st.PacketsIn)
	}
}

// At MaxSessions new peers are refused in both directions, but a peer
// that has a session may still rekey.
func TestSessionLimit(t *testing.T) {
	n := transporttest.NewNet()
	v := newPumpHost(t, n, memAddr(1), 0, testKeys(t, 0))
	v.cfg.MaxSessions = 1
	a := newPumpHost(t, n, memAddr(2), 1, testKeys(t, 1))
	b := newPumpHost(t, n, memAddr(3), 2, testKeys(t, 2))
	a.pinger.Ping(time.Now(), v.LocalAddr())
	pump(v, a, b)
	if a.pinger.Stats().Answered != 1 {
		t.Fatal("first peer not served")
	}
	b.pinger.Ping(time.Now(), v.LocalAddr())
	v.pinger.Ping(time.Now(), b.LocalAddr())
	pump(v, a, b)
	if b.pinger.Stats().Answered != 0 || v.Dropped(DropSessionsFull) != 2 || v.Stats().Sessions != 1 {
		t.Errorf("second peer: answered %d, sessions-full drops %d, stats %+v",
			b.pinger.Stats().Answered, v.Dropped(DropSessionsFull), v.Stats())
	}
	// a rekeys (by message count) and is still served.
	a.cfg.RekeyAfterMessages = 1
	a.pinger.Ping(time.Now(), v.LocalAddr())
	pump(v, a, b)
	a.pinger.Ping(time.Now(), v.LocalAddr())
	pump(v, a, b)
	if a.pinger.Stats().Answered != 3 || a.Stats().Rekeys == 0 {
		t.Errorf("rekey at the limit: answered %d, a's stats %+v", a.pinger.Stats().Answered, a.Stats())
	}
	checkMatched(t, v.Host, a.Host)
}

// A timer stopped after its runtime timer fired, but before the loop ran
// the posted callback, does not run; Stop reports that it stopped it.
func TestTimerStopAfterPost(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Conn = &scriptConn{drained: make(chan struct{}), closed: make(chan struct{})}
	h, err := New(cfg, testIdentity(t, 0), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	clk := h.Env().Clock
	ran := 0
	posted := func() {
		t.Helper()
		select {
		case <-h.wake:
		case <-time.After(wait):
			t.Fatal("timer not posted")
		}
	}
	stopped := clk.AfterFunc(0, func() { ran++ })
	posted()
	if !stopped.Stop() {
		t.Error("Stop of a posted, not run timer returned false")
	}
	h.runTimers()
	if ran != 0 {
		t.Fatal("a stopped timer ran")
	}
	fired := clk.AfterFunc(0, func() { ran++ })
	posted()
	h.runTimers()
	if ran != 1 || fired.Stop() {
		t.Errorf("fired timer: ran %d, Stop after run returned true", ran)
	}
	if len(h.timers) != 0 {
		t.Errorf("%d timers still tracked", len(h.timers))
	}
}

func TestSourceNet(t *testing.T) {
	a := sourceNet(netip.MustParseAddrPort("[2001:db8:1:2::1]:5"))
	b := sourceNet(netip.MustParseAddrPort("[2001:db8:1:2:ffff::9]:6"))
	c := sourceNet(netip.MustParseAddrPort("[2001:db8:1:3::1]:5"))
	d := sourceNet(netip.MustParseAddrPort("192.0.2.1:5"))
	e := sourceNet(netip.MustParseAddrPort("192.0.2.2:5"))
	if a != b || a == c || d == e || d.Bits() != 32 {
		t.Errorf("source nets: %v %v %v %v %v", a, b, c, d, e)
	}
}

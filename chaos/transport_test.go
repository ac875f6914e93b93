package chaos

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/dchat/network/core"
)

// fakeClock is a manual clock: Advance runs due timers in time order.
type fakeClock struct {
	now    time.Time
	timers []*fakeTimer
	seq    int
}

type fakeTimer struct {
	at      time.Time
	seq     int
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) core.Timer {
	c.seq++
	t := &fakeTimer{at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	end := c.now.Add(d)
	for {
		sort.SliceStable(c.timers, func(i, j int) bool {
			a, b := c.timers[i], c.timers[j]
			return a.at.Before(b.at) || a.at.Equal(b.at) && a.seq < b.seq
		})
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			break
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		c.now = t.at
		if !t.stopped {
			t.f()
		}
	}
	c.now = end
}

// fakeTransport records what reaches the wire.
type fakeTransport struct {
	clock *fakeClock
	sent  []sent
}

type sent struct {
	at   time.Time
	to   netip.AddrPort
	data []byte
}

func (f *fakeTransport) Send(to netip.AddrPort, b []byte) {
	f.sent = append(f.sent, sent{f.clock.now, to, b})
}

func (f *fakeTransport) LocalAddr() netip.AddrPort { return netip.MustParseAddrPort("127.0.0.1:4001") }

func newFake() (*fakeClock, *fakeTransport) {
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return c, &fakeTransport{clock: c}
}

func TestTransportFaults(t *testing.T) {
	clock, wire := newFake()
	a := netip.MustParseAddrPort("127.0.0.1:4002")
	b := netip.MustParseAddrPort("127.0.0.1:4003")
	rules := []Rule{{
		Link: Link{Drop: 0.1, Duplicate: 0.1, Corrupt: 0.1, Reorder: 0.1, Delay: 30 * time.Millisecond},
		To:   []Dest{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 4002}},
	}}
	tr, err := NewTransport(wire, clock, rand.New(rand.NewPCG(1, 2)), rules)
	if err != nil {
		t.Fatal(err)
	}
	if tr.LocalAddr() != wire.LocalAddr() {
		t.Error("LocalAddr not passed through")
	}
	msg := []byte("hello, chaos")
	keep := bytes.Clone(msg)
	const n = 5000
	for range n {
		tr.Send(a, msg)
		tr.Send(b, msg) // not matched: passes at once, untouched
		clock.Advance(time.Millisecond)
	}
	clock.Advance(time.Second)
	if !bytes.Equal(msg, keep) {
		t.Fatal("the caller's buffer was written")
	}
	st := tr.Stats()
	var toA, toB, corrupted int
	for _, s := range wire.sent {
		switch s.to {
		case a:
			toA++
			if !bytes.Equal(s.data, msg) {
				corrupted++
			}
		case b:
			toB++
			if !bytes.Equal(s.data, msg) {
				t.Fatal("an unmatched packet was changed")
			}
		}
	}
	if toB != n {
		t.Errorf("%d packets to the unmatched destination, want %d", toB, n)
	}
	if want := n - int(st.Dropped) + int(st.Duplicated); toA != want {
		t.Errorf("%d packets reached a, want sent - dropped + duplicated = %d", toA, want)
	}
	for name, c := range map[string]uint64{"dropped": st.Dropped, "duplicated": st.Duplicated, "corrupted": st.Corrupted, "reordered": st.Reordered} {
		if c < n/20 || c > n/5 {
			t.Errorf("%s %d of %d, want about 10%%", name, c, n)
		}
	}
	if corrupted < int(st.Corrupted) {
		t.Errorf("%d corrupted packets on the wire, %d counted", corrupted, st.Corrupted)
	}
	if st.Sent != 2*n || st.Delayed != uint64(n)-st.Dropped || st.Passed != n {
		t.Errorf("stats %+v", st)
	}
}

// A delayed packet reaches the wire after the delay, through the clock;
// a windowed rule applies only in its window.
func TestTransportDelayAndWindow(t *testing.T) {
	clock, wire := newFake()
	to := netip.MustParseAddrPort("10.1.2.3:9")
	tr, err := NewTransport(wire, clock, rand.New(rand.NewPCG(1, 2)), []Rule{
		{Link: Link{Delay: 50 * time.Millisecond}, Start: time.Second, Duration: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr.Send(to, []byte{1}) // before the window: at once
	if len(wire.sent) != 1 {
		t.Fatal("packet before the window was held")
	}
	clock.Advance(time.Second)
	start := clock.now
	tr.Send(to, []byte{2})
	if len(wire.sent) != 1 {
		t.Fatal("delayed packet went out at once")
	}
	clock.Advance(49 * time.Millisecond)
	if len(wire.sent) != 1 {
		t.Fatal("delayed packet went out early")
	}
	clock.Advance(time.Millisecond)
	if len(wire.sent) != 2 || !wire.sent[1].at.Equal(start.Add(50*time.Millisecond)) {
		t.Fatalf("delayed packet: %+v", wire.sent)
	}
	clock.Advance(time.Second) // past the window
	tr.Send(to, []byte{3})
	if len(wire.sent) != 3 {
		t.Fatal("packet after the window was held")
	}
}

func TestSkewClock(t *testing.T) {
	clock, _ := newFake()
	skew := Skew{Offset: -time.Second, Drift: 1e-3}
	sc := SkewClock(clock, skew)
	t0 := sc.Now()
	if want := clock.now.Add(-time.Second); !t0.Equal(want) {
		t.Fatalf("Now = %v, want %v", t0, want)
	}
	fired := false
	sc.AfterFunc(10*time.Second, func() { fired = true })
	clock.Advance(skew.TrueDelay(10*time.Second) - time.Nanosecond)
	if fired {
		t.Error("timer fired before 10 s local time")
	}
	clock.Advance(time.Nanosecond) // 10 s local take 9.99001 s true
	if !fired {
		t.Error("timer on a fast clock did not fire at 10 s local time")
	}
	if got := sc.Now().Sub(t0); got < 10*time.Second-time.Microsecond || got > 10*time.Second+time.Microsecond {
		t.Errorf("skewed clock advanced %v, want 10s", got)
	}
}

func TestNewTransportErrors(t *testing.T) {
	clock, wire := newFake()
	if _, err := NewTransport(nil, clock, rand.New(rand.NewPCG(1, 1)), nil); err == nil {
		t.Error("nil transport accepted")
	}
	if _, err := NewTransport(wire, clock, rand.New(rand.NewPCG(1, 1)), []Rule{{Link: Link{Drop: 2}}}); err == nil {
		t.Error("bad rule accepted")
	}
}

func TestDest(t *testing.T) {
	for _, c := range []struct {
		s     string
		match []string
		miss  []string
	}{
		{"127.0.0.1:4002", []string{"127.0.0.1:4002"}, []string{"127.0.0.1:4003", "127.0.0.2:4002"}},
		{"127.0.0.1", []string{"127.0.0.1:1", "127.0.0.1:4002"}, []string{"127.0.0.2:1"}},
		{"10.0.0.0/8", []string{"10.9.9.9:1"}, []string{"11.0.0.1:1"}},
		{"[::1]:7", []string{"[::1]:7"}, []string{"[::1]:8"}},
	} {
		d, err := ParseDest(c.s)
		if err != nil {
			t.Fatalf("%s: %v", c.s, err)
		}
		if d.String() != c.s {
			t.Errorf("%s: String() = %s", c.s, d)
		}
		for _, m := range c.match {
			if !d.Match(netip.MustParseAddrPort(m)) {
				t.Errorf("%s does not match %s", c.s, m)
			}
		}
		for _, m := range c.miss {
			if d.Match(netip.MustParseAddrPort(m)) {
				t.Errorf("%s matches %s", c.s, m)
			}
		}
	}
	for _, bad := range []string{"", "host:1", "127.0.0.1:0", "10.0.0.0/33"} {
		if _, err := ParseDest(bad); err == nil {
			t.Errorf("ParseDest(%q) accepted", bad)
		}
	}
}

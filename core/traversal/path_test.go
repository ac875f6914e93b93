package traversal_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/traversal"
	"github.com/dchat/network/core/wire"
)

func connect(t *testing.T, l *lab, from, to int) {
	t.Helper()
	if err := l.ts[from].Connect(l.net.Now(), l.id(to)); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeWithHysteresis: the peer's mapped port answers only after
// punching worked, so the path starts as a punched hole and moves to the
// mapped port once it has answered UpgradeAfter probes; when the mapped
// port dies, the node falls back to the punched hole after FallbackAfter
// missed keepalives.
func TestUpgradeWithHysteresis(t *testing.T) {
	l := newLab(t, []spec{{typ: portRes}, {typ: portRes, upnp: true}}, nil)
	mappedB := netip.MustParseAddrPort("198.51.100.3:10000")
	var blockMapped bool
	l.block = func(src, dst netip.AddrPort, pkt []byte) bool { return blockMapped && dst == mappedB }
	l.start()
	l.run(time.Second)
	blockMapped = true
	connect(t, l, 1, 2)
	l.run(500 * time.Millisecond)
	p, ok := l.ts[1].Path(l.id(2))
	if !ok || p.Method != traversal.MethodPunch {
		t.Fatalf("first path %+v %v\n%v", p, ok, l.net)
	}
	blockMapped = false
	l.run(3 * time.Second)
	p, _ = l.ts[1].Path(l.id(2))
	ups := events[traversal.Upgrade](l, 1)
	if p.Method != traversal.MethodUPnP || p.Addr != mappedB || len(ups) != 1 {
		t.Fatalf("path %+v, upgrades %+v\n%v", p, ups, l.net)
	}
	if u := ups[0]; u.From != traversal.MethodPunch || u.To != traversal.MethodUPnP || u.Acks < 2 {
		t.Fatalf("upgrade %+v", u)
	}
	if ch := l.paths[1]; len(ch) != 2 || ch[0].method != traversal.MethodPunch || ch[1].method != traversal.MethodUPnP {
		t.Fatalf("OnPath calls %+v", ch)
	}
	// The mapped port dies: fallback to the punched hole after 3 missed keepalives.
	blockMapped = true
	l.run(40 * time.Second)
	if len(events[traversal.Lost](l, 1)) != 0 {
		t.Fatal("lost after fewer than FallbackAfter misses")
	}
	l.run(30 * time.Second)
	lost := events[traversal.Lost](l, 1)
	if len(lost) != 1 || lost[0].Method != traversal.MethodUPnP || lost[0].FallbackMethod != traversal.MethodPunch || lost[0].Misses != 3 {
		t.Fatalf("lost %+v\n%v", lost, l.net)
	}
	if p, _ = l.ts[1].Path(l.id(2)); p.Method != traversal.MethodPunch {
		t.Fatalf("after fallback %+v", p)
	}
	l.run(2 * time.Minute)
	if len(events[traversal.Lost](l, 1)) != 1 {
		t.Fatalf("fallback path lost too: %+v", events[traversal.Lost](l, 1))
	}
}

// TestKeepAliveHysteresis: one lost PATH-PING does not end a path;
// FallbackAfter in a row do, and with no other candidate the peer has no
// path (OnPath with an invalid address).
func TestKeepAliveHysteresis(t *testing.T) {
	l := newLab(t, []spec{{typ: portRes}, {typ: restricted}}, nil)
	var blockPings bool
	l.block = func(src, dst netip.AddrPort, pkt []byte) bool {
		return blockPings && len(pkt) > 1 && wire.Kind(pkt[1]) == wire.KindPathPing
	}
	l.start()
	l.run(time.Second)
	connect(t, l, 1, 2)
	l.run(2 * time.Second) // path set at about 1.04 s; pings at 16.04, 31.04, ...
	if _, ok := l.ts[1].Path(l.id(2)); !ok {
		t.Fatalf("no path\n%v", l.net)
	}
	l.run(12 * time.Second) // t = 15 s
	blockPings = true
	l.run(2 * time.Second) // the ping at 16.04 s is lost
	blockPings = false
	l.run(33 * time.Second) // t = 50 s: the next pings were answered
	if lost := events[traversal.Lost](l, 1); len(lost) != 0 {
		t.Fatalf("one missed keepalive lost the path: %+v", lost)
	}
	if _, ok := l.ts[1].Path(l.id(2)); !ok {
		t.Fatal("path gone")
	}
	blockPings = true
	l.run(45 * time.Second) // pings at 61, 76, 91 lost; the one at 106 would count the third miss
	if lost := events[traversal.Lost](l, 1); len(lost) != 0 {
		t.Fatalf("lost after two misses: %+v", lost)
	}
	l.run(15 * time.Second)
	lost := events[traversal.Lost](l, 1)
	if len(lost) != 1 || lost[0].Fallback.IsValid() {
		t.Fatalf("lost %+v", lost)
	}
	if _, ok := l.ts[1].Path(l.id(2)); ok {
		t.Fatal("path kept")
	}
	ch := l.paths[1]
	if last := ch[len(ch)-1]; last.addr.IsValid() || last.method != traversal.MethodNone {
		t.Fatalf("OnPath calls %+v", ch)
	}
}

// TestUnknownTarget: a CONNECT for a peer the rendezvous does not know
// fails at once with a Failed event.
func TestUnknownTarget(t *testing.T) {
	l := newLab(t, []spec{{typ: portRes}, {typ: portRes}}, nil)
	l.nodes[0].Start(l.net.Now())
	l.nodes[1].Start(l.net.Now())
	l.run(time.Second)
	connect(t, l, 1, 2)
	l.run(time.Second)
	f := events[traversal.Failed](l, 1)
	if len(f) != 1 || f[0].Reason != traversal.FailUnknownPeer || f[0].Took > 100*time.Millisecond {
		t.Fatalf("failures %+v\n%v", f, l.net)
	}
	// The attempt is gone: a new one may start.
	if err := l.ts[1].Connect(l.net.Now(), l.id(2)); err != nil {
		t.Fatal(err)
	}
}

// TestRendezvousTimeout: with no rendezvous answering, the attempt fails
// after ConnectRetries CONNECTs.
func TestRendezvousTimeout(t *testing.T) {
	l := newLab(t, []spec{{typ: portRes}, {typ: portRes}}, nil)
	l.nodes[1].Start(l.net.Now())
	connect(t, l, 1, 2)
	l.run(10 * time.Second)
	f := events[traversal.Failed](l, 1)
	if len(f) != 1 || f[0].Reason != traversal.FailRendezvous || f[0].Took != 6*time.Second {
		t.Fatalf("failures %+v", f)
	}
}

// TestStartDelay: the rendezvous times both sides' punching from the RTTs
// its registrants measured: the nearer side waits half the difference.
func TestStartDelay(t *testing.T) {
	l := newLab(t, []spec{{typ: portRes}, {typ: portRes}}, nil)
	far := func(a netip.AddrPort) bool {
		return a.Addr() == coretest.Addr(2).Addr() || a.Addr() == netip.MustParseAddr("198.51.100.3")
	}
	l.net.DelayFn = func(from, to netip.AddrPort) time.Duration {
		if far(from) || far(to) {
			return 100 * time.Millisecond
		}
		return 10 * time.Millisecond
	}
	l.start()
	l.run(time.Second)
	connect(t, l, 1, 2)
	l.run(3 * time.Second)
	in := events[traversal.Introduced](l, 0)
	if len(in) != 1 || in[0].InitiatorDelay != 90*time.Millisecond || in[0].TargetDelay != 0 {
		t.Fatalf("introduced %+v", in)
	}
	if _, ok := l.ts[1].Path(l.id(2)); !ok {
		t.Fatalf("no path\n%v", l.net)
	}
}

// TestStopSilences: after Stop no timer fires, nothing is sent, nothing is
// observed.
func TestStopSilences(t *testing.T) {
	l := newLab(t, []spec{{typ: portRes}, {typ: symmetric, relay: true}, {typ: restricted}}, nil)
	l.start()
	l.run(time.Second)
	connect(t, l, 1, 2)
	connect(t, l, 3, 1)
	l.run(1200 * time.Millisecond) // ladders still running
	for _, n := range l.nodes {
		n.Stop(l.net.Now())
	}
	stopped := l.net.Now()
	var out []uint64
	for _, n := range l.nodes {
		out = append(out, n.Stats().PacketsOut)
	}
	l.run(time.Hour)
	for i, n := range l.nodes {
		if n.Stats().PacketsOut != out[i] {
			t.Errorf("node %d sent after Stop", i)
		}
	}
	for _, o := range l.net.Events {
		if o.Time.After(stopped) && strings.HasPrefix(o.Ev.Kind(), "nat.") {
			t.Errorf("event after Stop: %v %s %+v", o.Time.Sub(stopped), o.Ev.Kind(), o.Ev)
		}
	}
	// A restart works again.
	for _, n := range l.nodes {
		n.Start(l.net.Now())
	}
	l.run(time.Second)
	connect(t, l, 3, 2)
	l.run(5 * time.Second)
	if _, ok := l.ts[3].Path(l.id(2)); !ok {
		t.Fatalf("no path after restart\n%v", l.net)
	}
}

// TestDeterminism: the same run gives the same trace.
func TestDeterminism(t *testing.T) {
	trace := func() string {
		l := newLab(t, []spec{{typ: symmetric, relay: true}, {typ: restricted}, {typ: portRes, upnp: true}}, nil)
		l.start()
		l.run(time.Second)
		connect(t, l, 1, 2)
		connect(t, l, 2, 3)
		connect(t, l, 3, 1)
		l.run(time.Minute)
		return l.net.String()
	}
	a, b := trace(), trace()
	if a != b {
		t.Fatal("traces differ")
	}
	if !strings.Contains(a, "nat.path") {
		t.Fatal("no paths in trace")
	}
}

// TestReachability: open, full-cone and mapped nodes are reachable; others
// are not; the state is decided once every startup query has answered.
func TestReachability(t *testing.T) {
	l := newLab(t, []spec{{typ: open}, {typ: fullCone}, {typ: portRes}, {typ: portRes, upnp: true}, {typ: symmetric, relay: true}}, nil)
	l.start()
	l.run(time.Second)
	want := []bool{true, true, true, false, true, false}
	for i, w := range want {
		s := l.ts[i].Self()
		if s.Reachable != w || !s.Discovered {
			t.Errorf("node %d: self %+v, want reachable %v", i, s, w)
		}
		if r := events[traversal.Reachability](l, i); len(r) != 1 || r[0].Reachable != w {
			t.Errorf("node %d: reachability events %+v", i, r)
		}
	}
	if s := l.ts[5].Self(); !s.Relayed.IsValid() || s.Type.String() != "symmetric" {
		t.Errorf("symmetric node: %+v", s)
	}
	if s := l.ts[4].Self(); !s.Mapped.IsValid() {
		t.Errorf("mapped node: %+v", s)
	}
	if s := l.ts[3].Self(); s.Relayed.IsValid() {
		t.Errorf("port-restricted node allocated a relay under RelayAuto: %+v", s)
	}
}

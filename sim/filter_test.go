package sim

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core/health"
)

func ep(s string) Endpoint { return EndpointOf(netip.MustParseAddrPort(s)) }

func newFilter(t *testing.T, cfg FilterConfig) *Filter {
	t.Helper()
	f, err := NewFilter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Address-and-port-dependent filtering (the default): only the exact
// endpoint sent to answers, until the binding times out; sending again
// refreshes it.
func TestFilterAddressPortDependent(t *testing.T) {
	f := newFilter(t, FilterConfig{})
	a, a2, b := ep("10.0.0.1:4001"), ep("10.0.0.1:4002"), ep("10.0.0.2:4001")
	if f.Inbound(0, a) {
		t.Fatal("unsolicited packet passed a filter with no binding")
	}
	f.Outbound(time.Second, a)
	for _, c := range []struct {
		at   time.Duration
		from Endpoint
		want bool
	}{
		{time.Second, a, true},
		{time.Second, a2, false}, // same address, other port
		{time.Second, b, false},
		{121*time.Second - 1, a, true},
		{121 * time.Second, a, false}, // the binding lives while now < sent + 120 s
	} {
		if got := f.Inbound(c.at, c.from); got != c.want {
			t.Errorf("Inbound(%v, %x) = %v, want %v", c.at, c.from, got, c.want)
		}
	}
	// Outbound refreshes: a packet sent at 100 s keeps the binding to 220 s.
	f.Outbound(100*time.Second, a)
	if !f.Inbound(200*time.Second, a) || f.Inbound(220*time.Second, a) {
		t.Error("outbound traffic did not refresh the binding")
	}
	// Inbound traffic does not refresh it.
	f.Outbound(300*time.Second, b)
	for at := 300 * time.Second; at < 420*time.Second; at += 10 * time.Second {
		f.Inbound(at, b)
	}
	if f.Inbound(420*time.Second, b) {
		t.Error("inbound traffic refreshed the binding")
	}
	st := f.Stats()
	if st.Opened != 2 || st.Peak != 1 || st.Dropped == 0 || st.Passed == 0 || st.Evicted != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Address-dependent filtering ignores the port; endpoint-independent
// filtering lets anyone in while the node holds any live binding.
func TestFilterBehaviours(t *testing.T) {
	a, a2, b := ep("10.0.0.1:4001"), ep("10.0.0.1:4002"), ep("10.0.0.2:4001")
	ad := newFilter(t, FilterConfig{Behavior: FilterAddressDependent, Timeout: time.Minute})
	ad.Outbound(0, a)
	if !ad.Inbound(time.Second, a2) || ad.Inbound(time.Second, b) || ad.Inbound(time.Minute, a) {
		t.Error("address-dependent filtering")
	}
	ei := newFilter(t, FilterConfig{Behavior: FilterEndpointIndependent, Timeout: time.Minute})
	if ei.Inbound(0, b) {
		t.Error("endpoint-independent filter without bindings let a packet in")
	}
	ei.Outbound(0, a)
	if !ei.Inbound(time.Second, b) || !ei.Inbound(time.Second, a2) || ei.Inbound(time.Minute, b) {
		t.Error("endpoint-independent filtering")
	}
}

// The table is bounded: when full, the binding closest to expiry goes;
// expired bindings are dropped when the node sends.
func TestFilterBounded(t *testing.T) {
	f := newFilter(t, FilterConfig{MaxBindings: 4, Timeout: time.Minute})
	peers := make([]Endpoint, 10)
	for i := range peers {
		peers[i] = nodeEndpoint(i)
		f.Outbound(time.Duration(i)*time.Second, peers[i])
	}
	now := 10 * time.Second
	for i, p := range peers {
		if want := i >= 6; f.Inbound(now, p) != want {
			t.Errorf("peer %d passes %v, want %v", i, !want, want)
		}
	}
	if st := f.Stats(); st.Evicted != 6 || st.Peak != 4 || st.Opened != 10 {
		t.Errorf("stats %+v", st)
	}
	if n := f.Bindings(now); n != 4 {
		t.Errorf("%d bindings, want 4", n)
	}
	// Two minutes later all have expired; one send leaves one binding.
	f.Outbound(3*time.Minute, peers[0])
	if n := len(f.bindings); n != 1 || f.Bindings(3*time.Minute) != 1 {
		t.Errorf("%d bindings kept after expiry, want 1", n)
	}
}

// Sending and receiving allocate nothing once the table has its size.
func TestFilterNoAllocs(t *testing.T) {
	f := newFilter(t, FilterConfig{})
	for i := range 32 {
		f.Outbound(0, nodeEndpoint(i))
	}
	now := time.Duration(0)
	allocs := testing.AllocsPerRun(1000, func() {
		now += time.Millisecond
		f.Outbound(now, nodeEndpoint(int(now/time.Millisecond)%40))
		f.Inbound(now, nodeEndpoint(int(now/time.Millisecond)%50))
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per send and receive", allocs)
	}
}

func TestFilterConfigValidate(t *testing.T) {
	for _, c := range []FilterConfig{
		{Behavior: "symmetric"},
		{Timeout: -time.Second},
		{MaxBindings: -1},
	} {
		if _, err := NewFilter(c); !errors.Is(err, ErrNetConfig) {
			t.Errorf("NewFilter(%+v) = %v, want ErrNetConfig", c, err)
		}
	}
	cfg := NetConfig{Latency: NewConstantLatency(time.Millisecond), Private: make([]bool, 2)}
	if err := cfg.Validate(3); !errors.Is(err, ErrNetConfig) {
		t.Errorf("Private of the wrong length: %v", err)
	}
	if nodeEndpoint(7) != EndpointOf(Addr(7)) {
		t.Errorf("nodeEndpoint(7) = %x, EndpointOf(Addr(7)) = %x", nodeEndpoint(7), EndpointOf(Addr(7)))
	}
}

// Through the world: a private node is unreachable until it sends. Node 0
// pings private node 1 and the ping is dropped as filtered; node 1 pings
// node 0 and gets its answer; then node 0's pings pass, until the binding
// times out.
func TestPrivateNodeThroughWorld(t *testing.T) {
	cfg := NetConfig{Latency: NewConstantLatency(10 * time.Millisecond), Private: []bool{false, true},
		Filter: FilterConfig{Timeout: 30 * time.Second}}
	w, ps, log := newTestWorld(t, 2, cfg)
	rtts := func(node int) int {
		n := 0
		for _, r := range *log {
			if _, ok := r.ev.(health.PingRTT); ok && r.node == node {
				n++
			}
		}
		return n
	}
	ps[0].Ping(w.Now(), Addr(1))
	w.Run(5 * time.Second)
	if rtts(0) != 0 || w.Stats().Dropped[DropFiltered] != 1 {
		t.Fatalf("unsolicited ping to a private node: %d answers, drops %v", rtts(0), w.Stats().Dropped)
	}
	ps[1].Ping(w.Now(), Addr(0))
	w.Run(6 * time.Second)
	if rtts(1) != 1 {
		t.Fatal("a private node got no answer to its own ping")
	}
	ps[0].Ping(w.Now(), Addr(1))
	w.Run(7 * time.Second)
	if rtts(0) != 1 {
		t.Fatal("the private node's binding did not let its peer's ping in")
	}
	w.Run(40 * time.Second) // 30 s after node 1 last sent
	ps[0].Ping(w.Now(), Addr(1))
	w.Run(45 * time.Second)
	if rtts(0) != 1 || w.Stats().Dropped[DropFiltered] != 2 {
		t.Fatalf("after the binding timed out: %d answers, drops %v", rtts(0), w.Stats().Dropped)
	}
	if !w.Network().IsPrivate(1) || w.Network().IsPrivate(0) {
		t.Fatal("IsPrivate")
	}
	priv, st := w.Network().FilterStats()
	if priv != 1 || st.Dropped != 2 || st.Passed != 2 || st.Opened != 1 {
		t.Fatalf("filter stats: %d private, %+v", priv, st)
	}
}

func BenchmarkFilter(b *testing.B) {
	f, _ := NewFilter(FilterConfig{})
	for i := range 32 {
		f.Outbound(0, nodeEndpoint(i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now := time.Duration(i) * time.Microsecond
		f.Outbound(now, nodeEndpoint(i%32))
		f.Inbound(now, nodeEndpoint(i%48))
	}
}

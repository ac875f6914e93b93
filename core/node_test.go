package core_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/wire"
)

// seen is one call of a traffic hook.
type seen struct {
	at   time.Duration
	peer netip.AddrPort
	kind wire.Kind
	size int
	out  bool
}

// The traffic hook sees every datagram sent, and every datagram received
// whose envelope decodes (unknown kinds included, before the handler), with
// its full size; malformed input and input to a stopped node are not
// traffic.
func TestTrafficHook(t *testing.T) {
	net := coretest.New(10 * time.Millisecond)
	a := net.AddNode(0, core.DefaultConfig())
	b := net.AddNode(1, core.DefaultConfig())
	const kind wire.Kind = 0x7e
	handled := 0
	if err := b.Register(kind, func(time.Time, netip.AddrPort, []byte) error { handled++; return nil }); err != nil {
		t.Fatal(err)
	}
	var gotA, gotB []seen
	hook := func(dst *[]seen) func(time.Time, netip.AddrPort, wire.Kind, int, bool) {
		return func(now time.Time, peer netip.AddrPort, k wire.Kind, n int, out bool) {
			*dst = append(*dst, seen{now.Sub(coretest.Epoch), peer, k, n, out})
		}
	}
	a.SetTrafficHook(hook(&gotA))
	b.SetTrafficHook(hook(&gotB))
	a.Start(net.Now())
	b.Start(net.Now())

	pkt := append(wire.AppendEnvelope(nil, kind), "hello"...)
	a.Send(coretest.Addr(1), pkt)
	net.Run(net.Now().Add(time.Second))
	if want := []seen{{0, coretest.Addr(1), kind, len(pkt), true}}; !equal(gotA, want) {
		t.Errorf("sender saw %+v, want %+v", gotA, want)
	}
	if want := []seen{{10 * time.Millisecond, coretest.Addr(0), kind, len(pkt), false}}; !equal(gotB, want) || handled != 1 {
		t.Errorf("receiver saw %+v (handled %d), want %+v", gotB, handled, want)
	}

	// Malformed and wrong-version input is not traffic; an unknown kind is.
	gotB = nil
	net.Inject(coretest.Addr(0), coretest.Addr(1), []byte{wire.Version})
	net.Inject(coretest.Addr(0), coretest.Addr(1), []byte{wire.Version + 1, byte(kind)})
	net.Inject(coretest.Addr(0), coretest.Addr(1), wire.AppendEnvelope(nil, 0x7f))
	net.Run(net.Now().Add(time.Second))
	if len(gotB) != 1 || gotB[0].kind != 0x7f || gotB[0].size != 2 {
		t.Errorf("receiver saw %+v, want only the unknown kind", gotB)
	}

	// A stopped node hears nothing; removing the hook stops the calls.
	gotB = nil
	b.Stop(net.Now())
	a.Send(coretest.Addr(1), pkt)
	net.Run(net.Now().Add(time.Second))
	if len(gotB) != 0 {
		t.Errorf("stopped receiver saw %+v", gotB)
	}
	gotA = nil
	a.SetTrafficHook(nil)
	a.Send(coretest.Addr(1), pkt)
	if len(gotA) != 0 {
		t.Errorf("removed hook still called: %+v", gotA)
	}
}

func equal(a, b []seen) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Neither an unset hook nor a set one makes receiving allocate.
func TestTrafficHookAllocs(t *testing.T) {
	net := coretest.New(time.Millisecond)
	a := net.AddNode(0, core.DefaultConfig())
	if err := a.Register(0x7e, func(time.Time, netip.AddrPort, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	a.Start(net.Now())
	pkt := wire.AppendEnvelope(nil, 0x7e)
	now, from := net.Now(), coretest.Addr(1)
	if n := testing.AllocsPerRun(100, func() { a.HandlePacket(now, from, pkt) }); n != 0 {
		t.Errorf("no hook: %v allocations per packet", n)
	}
	calls := 0
	a.SetTrafficHook(func(time.Time, netip.AddrPort, wire.Kind, int, bool) { calls++ })
	if n := testing.AllocsPerRun(100, func() { a.HandlePacket(now, from, pkt) }); n != 0 || calls == 0 {
		t.Errorf("hook: %v allocations per packet, %d calls", n, calls)
	}
}

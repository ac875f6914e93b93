package health_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/core/wire"
)

func setup(t *testing.T, delay time.Duration) (*coretest.Net, *health.Pinger, *health.Pinger) {
	t.Helper()
	net := coretest.New(delay)
	var ps []*health.Pinger
	for i := range 2 {
		node := net.AddNode(i, core.DefaultConfig())
		p, err := health.New(node, health.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		node.Start(net.Now())
		ps = append(ps, p)
	}
	return net, ps[0], ps[1]
}

func TestPingRTT(t *testing.T) {
	net, a, b := setup(t, 40*time.Millisecond)
	if _, err := a.Ping(net.Now(), coretest.Addr(1)); err != nil {
		t.Fatal(err)
	}
	net.Run(coretest.Epoch.Add(time.Minute))
	rtts := coretest.Of[health.PingRTT](net)
	if len(rtts) != 1 {
		t.Fatalf("got %d RTT events:\n%v", len(rtts), net)
	}
	if rtts[0].RTT != 80*time.Millisecond {
		t.Errorf("RTT %v, want 80ms", rtts[0].RTT)
	}
	if rtts[0].Observed != coretest.Addr(0) || rtts[0].From != coretest.Addr(1) {
		t.Errorf("addresses: %+v", rtts[0])
	}
	if len(coretest.Of[health.PingTimeout](net)) != 0 {
		t.Error("timeout fired after an answered ping")
	}
	if a.Stats().Answered != 1 || b.Stats().Served != 1 || a.Outstanding() != 0 {
		t.Errorf("stats a=%+v b=%+v", a.Stats(), b.Stats())
	}
}

func TestPingTimeout(t *testing.T) {
	net, a, _ := setup(t, 10*time.Millisecond)
	net.Drop = func(from, to netip.AddrPort, pkt []byte) bool { return true }
	a.Ping(net.Now(), coretest.Addr(1))
	net.Run(coretest.Epoch.Add(time.Minute))
	tos := coretest.Of[health.PingTimeout](net)
	if len(tos) != 1 || tos[0].After != 10*time.Second {
		t.Fatalf("timeouts %+v\n%v", tos, net)
	}
	if a.Outstanding() != 0 {
		t.Error("probe left pending")
	}
}

func TestHostileInputDropped(t *testing.T) {
	net, a, _ := setup(t, 10*time.Millisecond)
	from := coretest.Addr(7)
	cases := map[string][]byte{
		core.ReasonMalformed:   {1, byte(wire.KindPing), 1, 2},
		core.ReasonVersion:     {9, 1},
		core.ReasonUnknownKind: {1, 0xee},
		core.ReasonUnsolicited: wire.Pong{Nonce: 12345}.AppendPacket(nil),
	}
	for _, pkt := range cases {
		net.Inject(from, coretest.Addr(0), pkt)
	}
	net.Inject(from, coretest.Addr(0), nil)
	// A PONG from the wrong address for a real nonce is unsolicited too.
	nonce, _ := a.Ping(net.Now(), coretest.Addr(1))
	net.Inject(from, coretest.Addr(0), wire.Pong{Nonce: nonce}.AppendPacket(nil))
	net.Run(coretest.Epoch.Add(time.Minute))
	got := map[string]int{}
	for _, d := range coretest.Of[core.Drop](net) {
		got[d.Reason]++
	}
	want := map[string]int{core.ReasonMalformed: 2, core.ReasonVersion: 1, core.ReasonUnknownKind: 1, core.ReasonUnsolicited: 2}
	for r, n := range want {
		if got[r] != n {
			t.Errorf("drops for %s: %d, want %d (all: %v)", r, got[r], n, got)
		}
	}
	if len(coretest.Of[health.PingRTT](net)) != 1 {
		t.Error("the genuine pong was lost")
	}
}

func TestStoppedNodeDropsAndForgets(t *testing.T) {
	net, a, _ := setup(t, 10*time.Millisecond)
	a.Ping(net.Now(), coretest.Addr(1))
	net.Run(coretest.Epoch.Add(5 * time.Millisecond))
	// Stop node 0 before the PONG arrives: the PONG is dropped, no timeout fires.
	stopNode(t, net, 0)
	net.Run(coretest.Epoch.Add(time.Minute))
	if len(coretest.Of[health.PingRTT](net))+len(coretest.Of[health.PingTimeout](net)) != 0 {
		t.Fatalf("stopped node reported probe results:\n%v", net)
	}
	drops := coretest.Of[core.Drop](net)
	if len(drops) != 1 || drops[0].Reason != core.ReasonNotRunning {
		t.Fatalf("drops %+v", drops)
	}
}

func TestBusy(t *testing.T) {
	net := coretest.New(time.Millisecond)
	node := net.AddNode(0, core.DefaultConfig())
	p, _ := health.New(node, health.Config{Timeout: time.Second, MaxOutstanding: 2})
	node.Start(net.Now())
	for i := range 3 {
		_, err := p.Ping(net.Now(), coretest.Addr(1))
		if (i < 2) != (err == nil) {
			t.Fatalf("ping %d: err %v", i, err)
		}
	}
	if _, err := health.New(node, health.DefaultConfig()); err == nil {
		t.Fatal("second pinger on one node: kinds registered twice without error")
	}
	if err := (health.Config{}).Validate(); err == nil {
		t.Fatal("zero config validated")
	}
}

func stopNode(t *testing.T, net *coretest.Net, i int) {
	t.Helper()
	nodes := coretest.Nodes(net)
	nodes[coretest.Addr(i)].Stop(net.Now())
}

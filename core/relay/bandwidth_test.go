package relay_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/relay"
	"github.com/dchat/network/core/wire"
)

func TestBandwidthAccountant(t *testing.T) {
	// 0.8 Mbit/s = 100,000 B/s in all, half of it per peer; one-second
	// buckets, the per-peer one raised to a datagram (65,507 bytes).
	a, err := relay.NewBandwidthAccountant(0.8, 0.5, time.Second, 4)
	if err != nil {
		t.Fatal(err)
	}
	g, p, gb, pb := a.Limits()
	if g != 100000 || p != 50000 || gb != 100000 || pb != wire.MaxPacket {
		t.Fatalf("limits %v %v %v %v", g, p, gb, pb)
	}
	A, B := coretest.Addr(1), coretest.Addr(2)
	t0 := coretest.Epoch
	steps := []struct {
		at   time.Duration
		peer netip.AddrPort
		n    int
		want string
	}{
		{0, A, 60000, ""},
		{0, A, 6000, relay.ReasonPeerBandwidth}, // A has 5,507 left
		{0, B, 40000, ""},                       // the global bucket is now empty
		{0, B, 1, relay.ReasonBandwidth},
		{100 * time.Millisecond, A, 10000, ""}, // +5,000 for A, +10,000 in all
		{100 * time.Millisecond, B, 1, relay.ReasonBandwidth},
		{time.Hour, A, wire.MaxPacket, ""},                            // full buckets again
		{time.Hour, B, wire.MaxPacket + 1, relay.ReasonPeerBandwidth}, // over any bucket
	}
	for i, s := range steps {
		if got := a.Admit(t0.Add(s.at), s.peer, s.n); got != s.want {
			t.Fatalf("step %d: %q, want %q", i, got, s.want)
		}
	}
	if u := a.Total(); u.Refused != 4 || u.RefusedBytes != 6000+1+1+wire.MaxPacket+1 {
		t.Fatalf("total %+v", u)
	}
	if u, ok := a.Peer(A); !ok || u.Refused != 1 || u.RefusedBytes != 6000 {
		t.Fatalf("peer A %+v", u)
	}
	a.CountIn(A, 100)
	a.CountOut(B, 120)
	if u, _ := a.Peer(A); u.BytesIn != 100 {
		t.Errorf("peer A %+v", u)
	}
	if u := a.Total(); u.BytesIn != 100 || u.BytesOut != 120 {
		t.Errorf("total %+v", u)
	}

	// A flood of source addresses keeps at most MaxTrackedPeers accounts.
	for i := range 100 {
		a.Admit(t0.Add(2*time.Hour), coretest.Addr(10+i), 1)
	}
	if n, ev := a.Tracked(); n != 4 || ev != 98 {
		t.Fatalf("tracked %d, evicted %d", n, ev)
	}

	for _, bad := range [][4]float64{{0, 0.5, 1, 1}, {1, 0, 1, 1}, {1, 1.5, 1, 1}, {1, 0.5, 0, 1}, {1, 0.5, 1, 0}} {
		if _, err := relay.NewBandwidthAccountant(bad[0], bad[1], time.Duration(bad[2]*float64(time.Second)), int(bad[3])); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// bucket is an independent model of a token bucket for the expected
// counts: tokens refill at rate up to burst; a request is granted whole if
// the tokens cover it, and costs nothing if not.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

func (b *bucket) allow(now time.Time, n int) bool {
	b.tokens = min(b.burst, b.tokens+b.rate*now.Sub(b.last).Seconds())
	b.last = now
	if float64(n) > b.tokens {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// A relay over its limits refuses, and every count agrees: the model's,
// the stats', the events', the accountant's.
func TestBandwidthLimitsInCluster(t *testing.T) {
	cfg := relay.DefaultConfig()
	cfg.BandwidthLimitMbps = 0.8 // 100,000 B/s
	cfg.PeerShare = 0.5          // 50,000 B/s, bucket raised to 65,507 B
	c := newCluster(t, 5, delay, relays(cfg))
	payload := make([]byte, 10000)

	global := newBucket(100000, 100000, c.net.Now().Add(delay))
	peers := map[int]*bucket{
		0: newBucket(50000, wire.MaxPacket, c.net.Now().Add(delay)),
		3: newBucket(50000, wire.MaxPacket, c.net.Now().Add(delay)),
	}
	want := map[string]int{}
	wantPeer := map[int]int{}
	admitted := 0
	round := func(senders []int, each int) {
		t.Helper()
		at := c.net.Now().Add(delay) // when they reach the relay
		for _, s := range senders {
			for k := range each {
				payload[0], payload[1] = byte(s), byte(k)
				c.send(t, s, 2, []int{1}, payload)
			}
		}
		// Every datagram the relay sends on has the same size.
		size := outSize(t, c, payload)
		for _, s := range senders {
			for range each {
				switch {
				case !peers[s].allow(at, size):
					want[relay.ReasonPeerBandwidth]++
					wantPeer[s]++
				case !global.allow(at, size):
					want[relay.ReasonBandwidth]++
					wantPeer[s]++
				default:
					admitted++
				}
			}
		}
		c.run(time.Second)
	}
	round([]int{0, 3}, 8)
	if want[relay.ReasonPeerBandwidth] != 4 || want[relay.ReasonBandwidth] != 3 || admitted != 9 {
		t.Fatalf("model: %v admitted %d (expected 2+2 peer, 3 global, 9 admitted)", want, admitted)
	}
	round([]int{0}, 6) // after a second, sender 0's peer bucket has refilled

	s := c.rs[1].Stats()
	if s.Forwarded != uint64(admitted) || int(s.Refused[relay.ReasonPeerBandwidth]) != want[relay.ReasonPeerBandwidth] ||
		int(s.Refused[relay.ReasonBandwidth]) != want[relay.ReasonBandwidth] {
		t.Fatalf("stats %+v, model %v admitted %d", s, want, admitted)
	}
	got := map[string]int{}
	for _, r := range eventsAt[relay.Refused](c, 1) {
		got[r.Reason]++
	}
	if got[relay.ReasonPeerBandwidth] != want[relay.ReasonPeerBandwidth] || got[relay.ReasonBandwidth] != want[relay.ReasonBandwidth] || len(got) != 2 {
		t.Fatalf("refused events %v, model %v", got, want)
	}
	bw := c.rs[1].Bandwidth()
	if tot := bw.Total(); int(tot.Refused) != want[relay.ReasonPeerBandwidth]+want[relay.ReasonBandwidth] {
		t.Fatalf("accountant total %+v", tot)
	}
	for _, i := range []int{0, 3} {
		if u, ok := bw.Peer(addr(i)); !ok || int(u.Refused) != wantPeer[i] {
			t.Errorf("peer %d usage %+v, want %d refused", i, u, wantPeer[i])
		}
	}
	if tot := bw.Total(); tot.BytesIn != s.BytesIn || tot.BytesOut != s.BytesOut {
		t.Errorf("accountant %+v vs stats %d/%d", tot, s.BytesIn, s.BytesOut)
	}
	if d := len(c.delivered[2]); d != admitted {
		t.Errorf("delivered %d, admitted %d", d, admitted)
	}
}

// outSize returns the size of the datagram a first relay sends on for a
// payload of this length: the sender's datagram plus one record.
func outSize(t *testing.T, c *cluster, payload []byte) int {
	t.Helper()
	for _, f := range eventsAt[relay.Forwarded](c, 1) {
		return f.Bytes
	}
	for _, r := range eventsAt[relay.Refused](c, 1) {
		return r.Bytes
	}
	// Nothing reached the relay yet: compute it from the encoding.
	m := wire.RelayData{
		SenderAddr: addr(0), Recipient: wire.RelayHop{Addr: addr(2)},
		Path: []wire.RelayHop{{Addr: addr(1)}}, Records: make([]wire.RelayRecord, 1), Payload: payload,
	}
	return len(m.AppendPacket(nil))
}

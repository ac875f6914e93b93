package relay_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/relay"
	"github.com/dchat/network/core/wire"
)

const delay = 10 * time.Millisecond

// Paths of 1, 2 and 3 relays deliver, and the sender ends with a proof
// that verifies, names the path, and whose timestamps are the virtual
// times of each step.
func TestDeliveryOverPaths(t *testing.T) {
	for hops := 1; hops <= 3; hops++ {
		t.Run(fmt.Sprintf("%d-hop", hops), func(t *testing.T) {
			n := hops + 2
			cfg := relay.DefaultConfig()
			c := newCluster(t, n, delay, func(i int) relay.Config {
				cc := cfg
				cc.Enabled = i > 0 && i < n-1 // sender and recipient are not relays
				return cc
			})
			var path []int
			for i := 1; i <= hops; i++ {
				path = append(path, i)
			}
			payload := []byte(fmt.Sprintf("hello over %d hops", hops))
			t0 := c.net.Now()
			id := c.send(t, 0, n-1, path, payload)
			c.run(time.Second)

			if got := c.delivered[n-1]; len(got) != 1 || !bytes.Equal(got[0].Payload, payload) || got[0].ID != id ||
				got[0].Sender != c.id(0) || len(got[0].Path) != hops {
				t.Fatalf("delivered %+v\n%s", got, c.net)
			}
			if len(c.outcomes[0]) != 1 || !c.outcomes[0][0].Delivered {
				t.Fatalf("outcomes %+v\n%s", c.outcomes[0], c.net)
			}
			o := c.outcomes[0][0]
			p := o.Proof
			if err := relay.Verify(p); err != nil {
				t.Fatalf("proof does not verify: %v", err)
			}
			if err := p.VerifyPayload(payload); err != nil {
				t.Fatal(err)
			}
			if p.ID != id || p.Sender != c.id(0) || p.Recipient != c.id(n-1) || len(p.Path) != hops {
				t.Fatalf("proof names %v %v %v %d hops", p.ID, p.Sender, p.Recipient, len(p.Path))
			}
			for i := range hops {
				if p.Path[i] != c.id(i+1) {
					t.Errorf("path[%d] = %v", i, p.Path[i])
				}
				// Relay i receives after i+1 link delays and hands off at once.
				want := t0.Add(time.Duration(i+1) * delay).UnixNano()
				if p.Hops[i].Received != want || p.Hops[i].HandedOff != want {
					t.Errorf("hop %d times %d/%d, want %d", i, p.Hops[i].Received, p.Hops[i].HandedOff, want)
				}
			}
			if want := t0.Add(time.Duration(hops+1) * delay).UnixNano(); p.Ack.Received != want {
				t.Errorf("ack time %d, want %d", p.Ack.Received, want)
			}
			if o.Report.Verdict != relay.VerdictDelivered || o.Report.Confirmed != hops || len(o.Report.Segments) != 2*hops+1 {
				t.Errorf("report %+v", o.Report)
			}

			acked := eventsAt[relay.Acked](c, 0)
			if len(acked) != 1 || acked[0].Latency != time.Duration(hops+2)*delay || acked[0].Delivery != time.Duration(hops+1)*delay {
				t.Errorf("acked %+v", acked)
			}
			s := c.rs[0].Stats()
			if s.Sent != 1 || s.Acked != 1 || s.Receipts != uint64(hops) || s.DuplicateAcks != 1 || s.ProofsVerified != 1 || s.Undelivered != 0 {
				t.Errorf("sender stats %+v", s)
			}
			for i := 1; i <= hops; i++ {
				s := c.rs[i].Stats()
				if s.Forwarded != 1 || s.AcksRelayed != 1 || s.ProofsVerified != 1 || s.BytesIn == 0 || s.BytesOut == 0 {
					t.Errorf("relay %d stats %+v", i, s)
				}
			}
			if s := c.rs[n-1].Stats(); s.Delivered != 1 {
				t.Errorf("recipient stats %+v", s)
			}
			if d := coretest.Of[core.Drop](c.net); len(d) != 0 {
				t.Errorf("drops: %+v", d)
			}
			// Nothing is left pending anywhere.
			for i := range n {
				if own, rel := c.rs[i].Pending(); own != 0 || rel != 0 {
					t.Errorf("node %d pending %d/%d", i, own, rel)
				}
			}
		})
	}
}

// A path longer than MaxHops is refused: by Send, and by a relay whose
// limit is lower than the sender's.
func TestPathTooLong(t *testing.T) {
	cfg := relay.DefaultConfig()
	c := newCluster(t, 6, delay, func(i int) relay.Config {
		cc := cfg
		cc.Enabled = true
		if i == 0 {
			cc.MaxHops = 4
		}
		return cc
	})
	if _, err := c.rs[1].Send(c.net.Now(), c.hop(5), c.path(0, 2, 3, 4), []byte("x")); !errors.Is(err, relay.ErrPathLength) {
		t.Fatalf("Send over MaxHops: %v", err)
	}
	if _, err := c.rs[1].Send(c.net.Now(), c.hop(5), nil, []byte("x")); !errors.Is(err, relay.ErrPathLength) {
		t.Fatalf("Send without relays: %v", err)
	}
	c.send(t, 0, 5, []int{1, 2, 3, 4}, []byte("four hops"))
	c.run(cfg.AckTimeout + time.Second)
	if got := dropsAt(c, 1); !slices.Equal(got, []string{relay.ReasonHops}) {
		t.Fatalf("relay 1 drops %v", got)
	}
	ref := eventsAt[relay.Refused](c, 1)
	if len(ref) != 1 || ref[0].Reason != relay.ReasonHops || ref[0].Sender != c.id(0) || ref[0].From != addr(0) {
		t.Fatalf("refused %+v", ref)
	}
	if c.rs[1].Stats().Refused[relay.ReasonHops] != 1 {
		t.Errorf("stats %+v", c.rs[1].Stats())
	}
	un := eventsAt[relay.Undelivered](c, 0)
	if len(un) != 1 || un[0].FirstHop != c.id(1) || un[0].Confirmed != 0 || !slices.Equal(un[0].Suspects, []identity.PeerID{c.id(1)}) {
		t.Fatalf("undelivered %+v", un)
	}
}

// A node that has not opted in refuses relay traffic, counted by reason;
// the sender's deadline reports it undelivered and names that first hop.
// A recipient need not be a relay.
func TestNonRelayRefuses(t *testing.T) {
	cfg := relay.DefaultConfig() // Enabled false everywhere
	c := newCluster(t, 3, delay, func(int) relay.Config { return cfg })
	id := c.send(t, 0, 2, []int{1}, []byte("please relay"))
	c.run(cfg.AckTimeout - time.Millisecond)
	if len(c.outcomes[0]) != 0 {
		t.Fatalf("outcome before the deadline: %+v", c.outcomes[0])
	}
	c.run(2 * time.Millisecond)
	if got := dropsAt(c, 1); !slices.Equal(got, []string{relay.ReasonNotRelay}) {
		t.Fatalf("drops %v", got)
	}
	if s := c.rs[1].Stats(); s.Refused[relay.ReasonNotRelay] != 1 || s.Forwarded != 0 {
		t.Fatalf("stats %+v", s)
	}
	un := eventsAt[relay.Undelivered](c, 0)
	if len(un) != 1 || un[0].ID != id || un[0].FirstHop != c.id(1) || un[0].Recipient != c.id(2) {
		t.Fatalf("undelivered %+v", un)
	}
	o := c.outcomes[0]
	if len(o) != 1 || o[0].Delivered || o[0].Report.Verdict != relay.VerdictDropped || o[0].Latency != cfg.AckTimeout {
		t.Fatalf("outcome %+v", o)
	}
	if err := relay.Verify(o[0].Proof); !errors.Is(err, relay.ErrIncomplete) {
		t.Fatalf("partial proof verifies: %v", err)
	}

	// With the relay enabled, a non-relay recipient receives.
	c2 := newCluster(t, 3, delay, func(i int) relay.Config { cc := cfg; cc.Enabled = i == 1; return cc })
	c2.send(t, 0, 2, []int{1}, []byte("ok"))
	c2.run(time.Second)
	if len(c2.delivered[2]) != 1 || c2.rs[0].Stats().Acked != 1 {
		t.Fatalf("non-relay recipient: %+v\n%s", c2.rs[0].Stats(), c2.net)
	}
}

// A relay that drops is named among the suspects of the undelivered
// message, and across paths that share only it, Tally singles it out.
func TestDroppingRelayAttributed(t *testing.T) {
	cfg := relay.DefaultConfig()
	for _, tc := range []struct {
		name string
		// drop decides which of the dropper's packets are lost.
		drop func(pkt []byte) bool
		// wantA and wantB are the suspects of the two messages.
		wantA, wantB []int
		confirmedA   int
	}{
		// A silent dropper sends nothing: the chain stops before it.
		{"silent", func([]byte) bool { return true }, []int{1, 2}, []int{5, 2}, 1},
		// A lying dropper sends its receipt but not the message: the chain
		// stops after it.
		{"lying", func(p []byte) bool { return isKind(p, wire.KindRelayData) }, []int{2, 3}, []int{2, 6}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 7, delay, relays(cfg))
			c.net.Drop = func(from, _ netip.AddrPort, pkt []byte) bool { return from == addr(2) && tc.drop(pkt) }
			a := c.send(t, 0, 4, []int{1, 2, 3}, []byte("A"))
			b := c.send(t, 0, 4, []int{5, 2, 6}, []byte("B"))
			c.run(cfg.AckTimeout + time.Second)

			un := eventsAt[relay.Undelivered](c, 0)
			if len(un) != 2 || un[0].ID != a || un[1].ID != b {
				t.Fatalf("undelivered %+v\n%s", un, c.net)
			}
			if un[0].FirstHop != c.id(1) || un[1].FirstHop != c.id(5) || un[0].Confirmed != tc.confirmedA {
				t.Errorf("undelivered %+v", un)
			}
			for k, want := range [][]int{tc.wantA, tc.wantB} {
				var ids []identity.PeerID
				for _, i := range want {
					ids = append(ids, c.id(i))
				}
				if !slices.Equal(un[k].Suspects, ids) {
					t.Errorf("message %d suspects %v, want nodes %v", k, un[k].Suspects, want)
				}
			}
			var reports []relay.Report
			for _, o := range c.outcomes[0] {
				if o.Delivered || o.Report.Verdict != relay.VerdictDropped {
					t.Errorf("outcome %+v", o)
				}
				reports = append(reports, o.Report)
			}
			tally := relay.Tally(reports)
			if len(tally) < 2 || tally[0].Peer != c.id(2) || tally[0].Count != 2 || tally[1].Count != 1 {
				t.Errorf("tally %+v", tally)
			}
			if s := c.rs[0].Stats(); s.Undelivered != 2 || s.Acked != 0 {
				t.Errorf("sender stats %+v", s)
			}
		})
	}
}

// delayingRelay makes node (one without a relay component) a relay that
// holds every message for hold and then hands it off, signing true times:
// a slow hold. It sends no receipts and passes no acknowledgements back.
func delayingRelay(t *testing.T, c *cluster, node *core.Node, hold time.Duration) {
	t.Helper()
	err := node.Register(wire.KindRelayData, func(now time.Time, _ netip.AddrPort, body []byte) error {
		m, err := wire.DecodeRelayData(body)
		if err != nil {
			return err
		}
		recv := now.UnixNano()
		node.Env().Clock.AfterFunc(hold, func() {
			later := node.Env().Clock.Now()
			if err := relay.AppendHandoff(node.Identity(), &m, recv, later.UnixNano()); err != nil {
				t.Error(err)
				return
			}
			next := m.Recipient.Addr
			if k := len(m.Records); k < len(m.Path) {
				next = m.Path[k].Addr
			}
			node.Send(next, m.AppendPacket(nil))
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	node.Start(c.net.Now())
}

// A relay that delays is visible in the audit: a slow hold when it signs
// true times, a slow link next to it when it signs before holding.
func TestDelayingRelayVisible(t *testing.T) {
	cfg := relay.DefaultConfig()
	const hold = 5 * time.Second

	t.Run("true-times", func(t *testing.T) {
		c := newCluster(t, 4, delay, relays(cfg))
		// Node 4 joins without a relay component: it holds, then signs.
		slow := c.net.AddNode(4, core.DefaultConfig())
		delayingRelay(t, c, slow, hold)
		c.nodes = append(c.nodes, slow)
		c.send(t, 0, 3, []int{1, 4, 2}, []byte("slow"))
		c.run(cfg.AckTimeout)
		o := c.outcomes[0]
		if len(o) != 1 || !o[0].Delivered {
			t.Fatalf("outcome %+v\n%s", o, c.net)
		}
		rep := o[0].Report
		if rep.Verdict != relay.VerdictDelayed || !slices.Equal(rep.Suspects, []identity.PeerID{c.id(4)}) {
			t.Fatalf("report %+v", rep)
		}
		var slowSegs []relay.Segment
		for _, s := range rep.Segments {
			if s.Slow {
				slowSegs = append(slowSegs, s)
			}
		}
		if len(slowSegs) != 1 || slowSegs[0].Kind != relay.SegmentHold || slowSegs[0].Duration != hold || slowSegs[0].From != c.id(4) {
			t.Fatalf("slow segments %+v", slowSegs)
		}
		if err := relay.Verify(o[0].Proof); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("signs-then-holds", func(t *testing.T) {
		c := newCluster(t, 7, delay, relays(cfg))
		// Node 2 signs its hand-off at once and then holds the datagram:
		// everything it sends on (not its receipts to the sender) is late.
		c.net.DelayFn = func(from, to netip.AddrPort) time.Duration {
			if from == addr(2) && to != addr(0) {
				return hold
			}
			return delay
		}
		c.send(t, 0, 4, []int{1, 2, 3}, []byte("A"))
		c.send(t, 0, 4, []int{5, 2, 6}, []byte("B"))
		c.run(cfg.AckTimeout)
		var reports []relay.Report
		for k, want := range [][]int{{2, 3}, {2, 6}} {
			o := c.outcomes[0]
			if len(o) != 2 || !o[k].Delivered {
				t.Fatalf("outcomes %+v", o)
			}
			rep := o[k].Report
			var ids []identity.PeerID
			for _, i := range want {
				ids = append(ids, c.id(i))
			}
			if rep.Verdict != relay.VerdictDelayed || !slices.Equal(rep.Suspects, ids) {
				t.Errorf("message %d report %+v", k, rep)
			}
			reports = append(reports, rep)
		}
		if tally := relay.Tally(reports); tally[0].Peer != c.id(2) || tally[0].Count != 2 || tally[1].Count != 1 {
			t.Errorf("tally %+v", tally)
		}
	})
}

// A relay that forges (here: alters the payload and signs its hand-off)
// is caught by the next honest hop, which drops the message as forged; the
// sender sees the chain stop next to the forger.
func TestForgingRelayDetected(t *testing.T) {
	cfg := relay.DefaultConfig()
	c := newCluster(t, 4, delay, relays(cfg))
	evil := c.net.AddNode(4, core.DefaultConfig())
	c.nodes = append(c.nodes, evil)
	err := evil.Register(wire.KindRelayData, func(now time.Time, _ netip.AddrPort, body []byte) error {
		m, err := wire.DecodeRelayData(body)
		if err != nil {
			return err
		}
		m.Payload = append(bytes.Clone(m.Payload), '!')
		k := len(m.Records)
		if err := relay.AppendHandoff(evil.Identity(), &m, now.UnixNano(), now.UnixNano()); err != nil {
			return err
		}
		rc := wire.RelayReceipt{ID: m.ID, Hop: uint8(k), Record: m.Records[k]}
		evil.Send(m.SenderAddr, rc.AppendPacket(nil))
		evil.Send(m.Path[k+1].Addr, m.AppendPacket(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	evil.Start(c.net.Now())
	c.send(t, 0, 3, []int{1, 4, 2}, []byte("original"))
	c.run(cfg.AckTimeout + time.Second)
	if got := dropsAt(c, 2); !slices.Equal(got, []string{relay.ReasonForged}) {
		t.Fatalf("next hop drops %v\n%s", got, c.net)
	}
	if len(c.delivered[3]) != 0 {
		t.Fatal("forged payload delivered")
	}
	un := eventsAt[relay.Undelivered](c, 0)
	if len(un) != 1 || un[0].Confirmed != 2 || !slices.Equal(un[0].Suspects, []identity.PeerID{c.id(4), c.id(2)}) {
		t.Fatalf("undelivered %+v", un)
	}
}

// A forged acknowledgement or receipt is rejected; the real one still
// completes the proof.
func TestForgedAckAndReceiptRejected(t *testing.T) {
	cfg := relay.DefaultConfig()
	c := newCluster(t, 3, delay, relays(cfg))
	// Hold the real acknowledgements and receipts back for a moment.
	var held [][2]any
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool {
		if to == addr(0) && held != nil {
			held = append(held, [2]any{from, pkt})
			return true
		}
		return false
	}
	held = [][2]any{}
	id := c.send(t, 0, 2, []int{1}, []byte("x"))
	c.run(time.Second)
	if len(held) != 3 { // receipt, direct ack, ack via relay 1
		t.Fatalf("held %d packets", len(held))
	}
	mallory := ident(t, 0xee)
	ack := wire.RelayAck{ID: id, Received: c.net.Now().UnixNano()}
	copy(ack.Sig[:], mallory.Sign(relay.AckBytes(id, c.id(2), ack.Received, relay.ChainHash(nil, nil))))
	c.net.Inject(addr(2), addr(0), ack.AppendPacket(nil))
	rc := wire.RelayReceipt{ID: id, Hop: 0, Record: wire.RelayRecord{Received: 1, HandedOff: 2}}
	copy(rc.Record.Sig[:], mallory.Sign(relay.HandoffBytes(id, 0, c.id(1), c.id(2), 1, 2)))
	c.net.Inject(addr(1), addr(0), rc.AppendPacket(nil))
	c.run(time.Second)
	if got := dropsAt(c, 0); !slices.Equal(got, []string{relay.ReasonForged, relay.ReasonForged}) {
		t.Fatalf("drops %v", got)
	}
	if s := c.rs[0].Stats(); s.Acked != 0 || s.ProofsRejected != 1 {
		t.Fatalf("stats %+v", s)
	}
	pkts := held
	held = nil
	for _, h := range pkts {
		c.net.Inject(h[0].(netip.AddrPort), addr(0), h[1].([]byte))
	}
	c.run(time.Second)
	if s := c.rs[0].Stats(); s.Acked != 1 || s.Receipts != 1 || s.DuplicateAcks != 1 {
		t.Fatalf("stats after the real ones %+v", s)
	}
}

// Hostile input to a relay is dropped with a counted reason.
func TestHostileInputCounted(t *testing.T) {
	cfg := relay.DefaultConfig()
	c := newCluster(t, 4, delay, relays(cfg))
	// A genuine message to capture and replay.
	var captured []byte
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool {
		if from == addr(0) && to == addr(1) && captured == nil {
			captured = bytes.Clone(pkt)
		}
		return false
	}
	c.send(t, 0, 2, []int{1}, []byte("genuine"))
	c.run(time.Second)
	c.net.Drop = nil

	env, _ := wire.DecodeEnvelope(captured)
	m, _ := wire.DecodeRelayData(env.Body)
	// mut alters a copy of the genuine message; the carried ID changes
	// too, so that it is not simply a duplicate.
	fresh := byte(0)
	mut := func(f func(m *wire.RelayData)) []byte {
		q := m
		q.Path = slices.Clone(m.Path)
		q.Payload = bytes.Clone(m.Payload)
		fresh++
		q.ID[31] ^= fresh
		f(&q)
		return q.AppendPacket(nil)
	}
	cases := []struct {
		name   string
		to     int
		pkt    []byte
		reason string
	}{
		{"garbage", 1, []byte{wire.Version, byte(wire.KindRelayData), 1, 2, 3}, relay.ReasonMalformed},
		{"replay", 1, captured, relay.ReasonDuplicate},
		{"misrouted", 3, captured, relay.ReasonMisrouted},
		{"payload changed", 1, mut(func(m *wire.RelayData) { m.Payload[0] ^= 1 }), relay.ReasonForged},
		{"path changed", 1, mut(func(m *wire.RelayData) { m.Recipient.Key = keyOf(c.id(3)); m.Recipient.Addr = addr(3) }), relay.ReasonForged},
		{"expired", 1, mut(func(m *wire.RelayData) { m.Sent -= int64(time.Hour) }), relay.ReasonExpired},
		{"future", 1, mut(func(m *wire.RelayData) { m.Sent += int64(time.Hour) }), relay.ReasonFuture},
		{"repeated peer", 1, mut(func(m *wire.RelayData) { m.Recipient.Key = m.Sender }), relay.ReasonBadPath},
		{"no address", 1, mut(func(m *wire.RelayData) { m.Recipient.Addr = netip.AddrPort{} }), relay.ReasonBadPath},
		{"records beyond path", 1, mut(func(m *wire.RelayData) { m.Records = make([]wire.RelayRecord, 2) }), relay.ReasonBadPath},
		{"ack for nothing", 1, (&wire.RelayAck{ID: [32]byte{9}}).AppendPacket(nil), relay.ReasonUnsolicited},
		{"receipt for nothing", 1, (&wire.RelayReceipt{ID: [32]byte{9}}).AppendPacket(nil), relay.ReasonUnsolicited},
	}
	for _, tc := range cases {
		before := slices.Clone(dropsAt(c, tc.to))
		c.net.Inject(addr(0), addr(tc.to), tc.pkt)
		c.run(time.Millisecond * 20)
		got := dropsAt(c, tc.to)
		if len(got) != len(before)+1 || got[len(got)-1] != tc.reason {
			t.Errorf("%s: drops %v, want one more %q", tc.name, got[len(before):], tc.reason)
		}
	}
	want := map[string]uint64{}
	for _, tc := range cases {
		if tc.to == 1 {
			want[tc.reason]++
		}
	}
	if got := c.rs[1].Stats().Refused; !mapsEqual(got, want) {
		t.Errorf("relay 1 refused %v, want %v", got, want)
	}
	if len(c.delivered[2]) != 1 {
		t.Errorf("delivered %d", len(c.delivered[2]))
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Each sender may have at most MaxPendingPerSender messages in flight
// through a relay; its own Send is capped alike.
func TestPendingCap(t *testing.T) {
	cfg := relay.DefaultConfig()
	c := newCluster(t, 4, delay, func(i int) relay.Config {
		cc := cfg
		cc.Enabled = true
		if i == 1 {
			cc.MaxPendingPerSender = 2
		}
		return cc
	})
	// The recipient never answers, so relay state is not released.
	c.net.Drop = func(from, _ netip.AddrPort, _ []byte) bool { return from == addr(2) }
	for k := range 3 {
		c.send(t, 0, 2, []int{1}, []byte{byte(k)})
	}
	c.send(t, 3, 2, []int{1}, []byte("other sender"))
	c.run(time.Second)
	if s := c.rs[1].Stats(); s.Forwarded != 3 || s.Refused[relay.ReasonPendingCap] != 1 {
		t.Fatalf("relay stats %+v", s)
	}
	if _, rel := c.rs[1].Pending(); rel != 3 {
		t.Fatalf("relay state %d", rel)
	}
	// After AckTimeout the state expires and the sender may send again.
	c.run(cfg.AckTimeout)
	if _, rel := c.rs[1].Pending(); rel != 0 {
		t.Fatalf("relay state after expiry %d", rel)
	}
	c.send(t, 0, 2, []int{1}, []byte("again"))
	c.run(time.Second)
	if s := c.rs[1].Stats(); s.Forwarded != 4 {
		t.Fatalf("relay stats %+v", s)
	}

	// The sender's own cap.
	c2 := newCluster(t, 3, delay, func(int) relay.Config { cc := cfg; cc.MaxPendingPerSender = 2; return cc })
	for k := range 2 {
		c2.send(t, 0, 2, []int{1}, []byte{byte(k)})
	}
	if _, err := c2.rs[0].Send(c2.net.Now(), c2.hop(2), c2.path(1), nil); !errors.Is(err, relay.ErrTooManyPending) {
		t.Fatalf("third send: %v", err)
	}
}

// The same inputs give the same event log; the log is not empty.
func TestDeterministic(t *testing.T) {
	run := func() string {
		cfg := relay.DefaultConfig()
		cfg.BatchSize = 3
		c := newCluster(t, 8, delay, relays(cfg))
		c.net.Drop = func(from, _ netip.AddrPort, pkt []byte) bool {
			return from == addr(5) && isKind(pkt, wire.KindRelayData)
		}
		for k := range 12 {
			from, to := k%3, 7
			path := [][]int{{3}, {4, 5}, {6, 4, 3}}[k%3]
			c.send(t, from, to, path, []byte(fmt.Sprintf("m%d", k)))
			c.run(7 * time.Millisecond)
		}
		c.run(cfg.AckTimeout + time.Second)
		return c.net.String()
	}
	a, b := run(), run()
	if a != b {
		t.Fatal("two runs differ")
	}
	for _, kind := range []string{"relay.sent", "relay.forwarded", "relay.delivered", "relay.acked", "relay.undelivered", "relay.batch"} {
		if !bytes.Contains([]byte(a), []byte(kind)) {
			t.Errorf("no %s event", kind)
		}
	}
}

// A node stopped with messages pending keeps them; after a restart their
// deadlines fire again and the open batch is still sealed on time.
func TestStopStart(t *testing.T) {
	cfg := relay.DefaultConfig()
	c := newCluster(t, 3, delay, relays(cfg))
	c.send(t, 0, 2, []int{1}, []byte("acked"))
	c.run(time.Second)
	c.net.Drop = func(from, _ netip.AddrPort, _ []byte) bool { return from == addr(1) }
	c.send(t, 0, 2, []int{1}, []byte("lost"))
	c.run(time.Second)
	c.nodes[0].Stop(c.net.Now())
	c.run(time.Hour) // no timer fires while stopped
	if len(c.outcomes[0]) != 1 || len(c.batches[0]) != 0 {
		t.Fatalf("while stopped: %d outcomes, %d batches", len(c.outcomes[0]), len(c.batches[0]))
	}
	if own, _ := c.rs[0].Pending(); own != 1 {
		t.Fatalf("pending %d", own)
	}
	c.nodes[0].Start(c.net.Now())
	c.run(time.Millisecond)
	if len(c.outcomes[0]) != 2 || c.outcomes[0][1].Delivered || len(c.batches[0]) != 1 || c.batches[0][0].Count != 1 {
		t.Fatalf("after restart: %+v, %d batches", c.outcomes[0], len(c.batches[0]))
	}
}

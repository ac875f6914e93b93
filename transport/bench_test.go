package transport

import (
	"context"
	crand "crypto/rand"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/transport/transporttest"
)

// BenchmarkHandshake is one full Noise XX handshake between two in-memory
// parties: three messages, crypto/rand ephemeral keys, both identity
// signatures verified.
func BenchmarkHandshake(b *testing.B) {
	ka, kb := testKeys(b, 0), testKeys(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		runHandshake(b, ka, kb, crand.Reader, crand.Reader, 1, 2)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkSealOpen encrypts a 1,200-byte datagram into a data frame and
// authenticates, replay-checks and decrypts it.
func BenchmarkSealOpen(b *testing.B) {
	tr := runHandshake(b, testKeys(b, 0), testKeys(b, 1), seeded(1), seeded(2), 1, 2)
	payload := make([]byte, 1200)
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := tr.a.seal(buf[:0], payload)
		if err != nil {
			b.Fatal(err)
		}
		f, err := parseFrame(out)
		if err != nil {
			b.Fatal(err)
		}
		if _, r, ok := tr.b.open(&f); !ok {
			b.Fatal(r)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkReceivePing is the loop's cost per datagram: a host receives an
// encrypted PING from its peer (parse, replay check, decrypt, core decode,
// the health handler) and sends the encrypted PONG.
func BenchmarkReceivePing(b *testing.B) {
	n := transporttest.NewNet()
	n.QueueLen = 1 << 20
	x := newPumpHost(b, n, memAddr(1), 0, testKeys(b, 0))
	y := newPumpHost(b, n, memAddr(2), 1, testKeys(b, 1))
	x.pinger.Ping(time.Now(), y.LocalAddr())
	pump(x, y)
	s := x.peers[y.LocalAddr()].cur
	ping := pingPacket(7)
	buf := make([]byte, 0, 256)
	now := time.Now()
	from := x.LocalAddr()
	b.ReportAllocs()
	for b.Loop() {
		out, _ := s.seal(buf[:0], ping)
		y.receive(now, from, out)
		if _, _, ok := x.conn.TryRead(); !ok {
			b.Fatal("no pong")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pings/s")
}

// BenchmarkGossipRelay measures gossip through one node on loopback: node A
// publishes 256-byte messages, node B (the one in the middle) verifies
// and forwards them, node C delivers them; at most a window of messages is
// in flight, so the figure is the sustained rate, not a burst into full
// queues.
func BenchmarkGossipRelay(b *testing.B) {
	const window, size = 256, 256
	hosts := make([]*Host, 3)
	gs := make([]*gossip.Gossip, 3)
	nodes := make([]*core.Node, 3)
	for i := range hosts {
		cfg := DefaultConfig()
		cfg.Listen = loopback(byte(i + 1))
		h, err := New(cfg, testIdentity(b, i), nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		hosts[i] = h
		if nodes[i], err = core.NewNode(testIdentity(b, i), h.Env(), core.DefaultConfig()); err != nil {
			b.Fatal(err)
		}
	}
	peers := func(is ...int) gossip.StaticPeers {
		var out gossip.StaticPeers
		for _, i := range is {
			out = append(out, gossip.Peer{Addr: hosts[i].LocalAddr(), ID: hosts[i].ID()})
		}
		return out
	}
	topo := []gossip.StaticPeers{peers(1), peers(0, 2), peers(1)}
	delivered := make(chan struct{}, 1<<16)
	for i, h := range hosts {
		gc := gossip.DefaultConfig()
		gc.PeerRate, gc.PeerBurst, gc.GlobalRate, gc.GlobalBurst = 1e9, 1<<20, 1e9, 1<<20
		gc.HeartbeatInterval = 0
		g, err := gossip.New(nodes[i], gc, topo[i], gossip.Ed25519Verifier{})
		if err != nil {
			b.Fatal(err)
		}
		gs[i] = g
		if i == 2 {
			g.OnDeliver(func(time.Time, gossip.Message) { delivered <- struct{}{} })
		}
		h.SetNode(nodes[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 3)
	for _, h := range hosts {
		go func() { h.Run(ctx); done <- struct{}{} }()
	}
	defer func() {
		cancel()
		for range hosts {
			<-done
		}
	}()
	payload := make([]byte, size)
	publish := func(k int) {
		err := hosts[0].Do(ctx, func(now time.Time) {
			for range k {
				if _, err := gs[0].Publish(now, payload); err != nil {
					b.Error(err)
				}
			}
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	wait := func() {
		select {
		case <-delivered:
		case <-time.After(10 * time.Second):
			b.Fatalf("stalled; relay stats %+v", hosts[1].Stats())
		}
	}
	// Warm up: sessions between A-B and B-C.
	publish(1)
	wait()
	b.ResetTimer()
	sent, got := 0, 0
	for got < b.N {
		if k := min(window-(sent-got), b.N-sent); k > 0 {
			publish(k)
			sent += k
		}
		wait()
		got++
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if st := hosts[1].Stats(); st.Dropped > 0 {
		b.Logf("relay drops: %v", st.Drops)
	}
}

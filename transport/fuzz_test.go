package transport

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dchat/network/transport/transporttest"
)

// fuzzKeys are made once: signing is the slow part of making a host.
var fuzzKeys = sync.OnceValues(func() (*localKeys, *localKeys) {
	a, err := newLocalKeys(fixedIdentity(0), seeded(3000))
	if err != nil {
		panic(err)
	}
	b, err := newLocalKeys(fixedIdentity(1), seeded(3001))
	if err != nil {
		panic(err)
	}
	return a, b
})

// fuzzPair makes hosts a and b (no loops, seeded entropy: the same bytes
// every time) and establishes a's session to b with a ping; it returns
// the datagrams that crossed the network, by direction.
func fuzzPair(t testing.TB) (a, b *pumpHost, toB, toA [][]byte) {
	n := transporttest.NewNet()
	var mu sync.Mutex
	n.Filter = func(from, to netip.AddrPort, p []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		if to == memAddr(2) {
			toB = append(toB, p)
		} else {
			toA = append(toA, p)
		}
		return true
	}
	ka, kb := fuzzKeys()
	a = newPumpHost(t, n, memAddr(1), 0, ka)
	b = newPumpHost(t, n, memAddr(2), 1, kb)
	a.pinger.Ping(time.Now(), b.LocalAddr())
	pump(a, b)
	if a.pinger.Stats().Answered != 1 {
		t.Fatalf("setup: ping not answered: %+v", a.Stats())
	}
	return a, b, toB, toA
}

// FuzzReceive feeds arbitrary datagrams to a host's receive path, as from
// its established peer and as from a stranger, twice each: it must never
// panic, a datagram delivers at most once, and state stays bounded.
func FuzzReceive(f *testing.F) {
	_, _, toB, toA := fuzzPair(f)
	for _, d := range append(toB, toA...) {
		f.Add(d)
	}
	f.Add(randomInit())
	f.Add(appendCookie(nil, 1, &[cookieSize]byte{1}))
	f.Fuzz(func(t *testing.T, d []byte) {
		a, b, _, _ := fuzzPair(t)
		stranger := memAddr(9)
		before := b.Stats().Delivered
		now := time.Now()
		for range 2 {
			b.receive(now, a.LocalAddr(), append([]byte(nil), d...))
			b.receive(now, stranger, append([]byte(nil), d...))
			pump(a, b)
		}
		st := b.Stats()
		if st.Delivered > before+1 {
			t.Fatalf("one datagram delivered %d times", st.Delivered-before)
		}
		if st.Sessions > 2 || st.HalfOpen > 2 || len(b.peers) > 2 || len(b.handshakes) > 2 {
			t.Fatalf("state grew: %+v, %d peers, %d handshakes", st, len(b.peers), len(b.handshakes))
		}
	})
}

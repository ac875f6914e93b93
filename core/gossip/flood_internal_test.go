package gossip

import (
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/dchat/network/core/identity"
)

func publisherID(i int) identity.PeerID {
	var pk [32]byte
	pk[0], pk[1] = byte(i), byte(i>>8)
	return identity.PeerIDFromPublicKey(pk[:])
}

// TestForgetFullPublishers: publishers whose buckets have refilled are
// forgotten when a new one comes, and one still refilling is kept.
func TestForgetFullPublishers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PublisherRate, cfg.PublisherBurst = 1, 3
	f, err := newFloodControl(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		f.chargePublisher(t0, publisherID(i)) // 2 tokens left each
	}
	if n := f.publishers.Len(); n != 3 {
		t.Fatalf("%d publishers tracked, want 3", n)
	}
	f.chargePublisher(t0.Add(time.Second), publisherID(3)) // 0-2 full again
	if n := f.publishers.Len(); n != 1 {
		t.Fatalf("%d publishers tracked after the others refilled, want 1", n)
	}
	f.chargePublisher(t0.Add(1500*time.Millisecond), publisherID(4)) // 3 has 2.5 tokens
	if n := f.publishers.Len(); n != 2 {
		t.Fatalf("%d publishers tracked, want 2: publisher 3 is still refilling", n)
	}
}

// TestPublisherLimitsMatchUnbounded: forgetting full buckets changes no
// decision against limiters kept forever, over a random mix of publishers
// (a few busy, many rare) and peeks.
func TestPublisherLimitsMatchUnbounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PublisherRate, cfg.PublisherBurst = 2, 4
	f, err := newFloodControl(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref := map[int]*rate.Limiter{}
	rng := rand.New(rand.NewPCG(1, 2))
	now := t0
	maxLen, denied := 0, 0
	for step := range 20000 {
		now = now.Add(time.Duration(rng.IntN(100)) * time.Millisecond)
		p := rng.IntN(500)
		if rng.IntN(4) > 0 {
			p %= 5 // busy publishers
		}
		l := ref[p]
		if l == nil {
			l = rate.NewLimiter(2, 4)
			ref[p] = l
		}
		id := publisherID(p)
		if got, want := f.publisherOpen(now, id), l.TokensAt(now) >= 1; got != want {
			t.Fatalf("step %d: publisherOpen(%d) = %v, want %v", step, p, got, want)
		}
		got, want := f.chargePublisher(now, id), l.AllowN(now, 1)
		if got != want {
			t.Fatalf("step %d: chargePublisher(%d) = %v, want %v", step, p, got, want)
		}
		if !got {
			denied++
		}
		maxLen = max(maxLen, f.publishers.Len())
	}
	if denied == 0 {
		t.Fatal("no charge was denied: the test exercises nothing")
	}
	if maxLen >= len(ref) {
		t.Fatalf("tracked up to %d publishers of %d: none forgotten", maxLen, len(ref))
	}
	t.Logf("%d denied; tracked at most %d of %d publishers", denied, maxLen, len(ref))
}

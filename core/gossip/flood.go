package gossip

import (
	"net/netip"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/dchat/network/core/identity"
)

// floodControl holds the token buckets of golang.org/x/time/rate: one per
// peer for incoming new messages, one per peer for messages served to its
// IWANTs, and one global for incoming new messages. Only the methods that
// take the time (AllowN(now, n)) are used: the others read the wall clock.
// Per-peer state is bounded by an LRU; a peer evicted and seen again starts
// with a full bucket, which the global bucket still caps.
//
// Concurrency: not safe for concurrent use (the limiters' own locks are
// incidental).
type floodControl struct {
	peers  *simplelru.LRU[netip.AddrPort, *peerLimits]
	global *rate.Limiter
	rate   rate.Limit
	burst  int

	publishers *keyLRU[*rate.Limiter] // by public key
	pubRate    rate.Limit
	pubBurst   int
}

type peerLimits struct {
	in, serve *rate.Limiter
}

func newFloodControl(cfg Config) (*floodControl, error) {
	peers, err := simplelru.NewLRU[netip.AddrPort, *peerLimits](cfg.MaxTrackedPeers, nil)
	if err != nil {
		return nil, err
	}
	pubs := newKeyLRU[*rate.Limiter](cfg.MaxTrackedPublishers)
	return &floodControl{
		peers:      peers,
		global:     rate.NewLimiter(rate.Limit(cfg.GlobalRate), cfg.GlobalBurst),
		rate:       rate.Limit(cfg.PeerRate),
		burst:      cfg.PeerBurst,
		publishers: pubs,
		pubRate:    rate.Limit(cfg.PublisherRate),
		pubBurst:   cfg.PublisherBurst,
	}, nil
}

// publisherOpen reports whether the publisher a message claims has a token
// left: a peek, taking nothing, since the claim is not verified yet. An
// unknown publisher has a full bucket.
func (f *floodControl) publisherOpen(now time.Time, id identity.PeerID) bool {
	l, ok := f.publishers.Peek(peerKey(id))
	return !ok || l.TokensAt(now) >= 1
}

// chargePublisher takes a token for one verified new message of id.
func (f *floodControl) chargePublisher(now time.Time, id identity.PeerID) bool {
	k := peerKey(id)
	if l, ok := f.publishers.Get(k); ok {
		return (*l).AllowN(now, 1)
	}
	f.forgetFullPublishers(now)
	l := rate.NewLimiter(f.pubRate, f.pubBurst)
	f.publishers.Add(k, l)
	return l.AllowN(now, 1)
}

// forgetFullPublishers drops the least recently used publishers whose
// buckets have refilled: a full bucket behaves exactly as the fresh one an
// unknown publisher gets, so forgetting it changes no decision. Most
// publishers send rarely, and every node would otherwise keep a limiter
// for each publisher it ever heard from (up to MaxTrackedPublishers).
func (f *floodControl) forgetFullPublishers(now time.Time) {
	for {
		k, l, ok := f.publishers.Oldest()
		if !ok || l.TokensAt(now) < float64(f.pubBurst) {
			return
		}
		f.publishers.Remove(k)
	}
}

func (f *floodControl) peer(addr netip.AddrPort) *peerLimits {
	if p, ok := f.peers.Get(addr); ok {
		return p
	}
	p := &peerLimits{in: rate.NewLimiter(f.rate, f.burst), serve: rate.NewLimiter(f.rate, f.burst)}
	f.peers.Add(addr, p)
	return p
}

// allowIn takes a token for one incoming message from addr: the peer's
// first, then the global one (a message over its peer's rate costs the
// others nothing).
func (f *floodControl) allowIn(now time.Time, from netip.AddrPort) bool {
	return f.peer(from).in.AllowN(now, 1) && f.global.AllowN(now, 1)
}

// allowServe takes a token for one message sent in answer to addr's IWANT.
func (f *floodControl) allowServe(now time.Time, to netip.AddrPort) bool {
	return f.peer(to).serve.AllowN(now, 1)
}

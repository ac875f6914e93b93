package relay

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// Usage counts a peer's (or all peers') relayed traffic in bytes.
type Usage struct {
	// BytesIn is what was received to be relayed and was relayed; BytesOut
	// what was sent on (data and acknowledgements passed back).
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	// Refused and RefusedBytes count messages refused over a limit.
	Refused      uint64 `json:"refused"`
	RefusedBytes uint64 `json:"refused_bytes"`
}

// BandwidthAccountant counts the bytes a relay forwards, per neighbouring
// peer and in all, and enforces the limits: a global token bucket of
// relay_bandwidth_limit_mbps and, per peer, a bucket of PeerShare of it,
// both golang.org/x/time/rate limiters used only through AllowN(now, n)
// (the other methods read the wall clock). Per-peer state lives in an LRU
// of MaxTrackedPeers, so a flood of source addresses cannot grow memory: an
// evicted peer comes back with a full bucket, which the global bucket still
// caps, and its counts restart (the totals keep them).
//
// Concurrency: not safe for concurrent use.
type BandwidthAccountant struct {
	global    *rate.Limiter
	peerRate  rate.Limit
	peerBurst int
	peers     *simplelru.LRU[netip.AddrPort, *peerAccount]
	total     Usage
	evicted   uint64
}

type peerAccount struct {
	lim *rate.Limiter
	Usage
}

// NewBandwidthAccountant returns an accountant for limitMbps megabits per
// second in all and share of it per peer, with buckets of burst at those
// rates (at least one datagram, wire.MaxPacket bytes), tracking at most
// maxPeers peers.
func NewBandwidthAccountant(limitMbps, share float64, burst time.Duration, maxPeers int) (*BandwidthAccountant, error) {
	if !(limitMbps > 0) || !(share > 0 && share <= 1) || burst <= 0 || maxPeers <= 0 {
		return nil, fmt.Errorf("%w: relay: bandwidth limit %g Mbit/s, share %g, burst %v, %d peers", core.ErrConfig, limitMbps, share, burst, maxPeers)
	}
	bucket := func(bytesPerSec float64) int {
		return max(wire.MaxPacket, int(bytesPerSec*burst.Seconds()))
	}
	globalRate := limitMbps * 1e6 / 8
	peerRate := globalRate * share
	a := &BandwidthAccountant{
		global:    rate.NewLimiter(rate.Limit(globalRate), bucket(globalRate)),
		peerRate:  rate.Limit(peerRate),
		peerBurst: bucket(peerRate),
	}
	var err error
	a.peers, err = simplelru.NewLRU[netip.AddrPort, *peerAccount](maxPeers, func(netip.AddrPort, *peerAccount) { a.evicted++ })
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (a *BandwidthAccountant) peer(addr netip.AddrPort) *peerAccount {
	if p, ok := a.peers.Get(addr); ok {
		return p
	}
	p := &peerAccount{lim: rate.NewLimiter(a.peerRate, a.peerBurst)}
	a.peers.Add(addr, p)
	return p
}

// Admit decides whether n bytes from peer may be relayed at now: the
// peer's bucket first, then the global one (traffic over its peer's share
// costs the others nothing). It returns "" when admitted, else the reason
// (ReasonPeerBandwidth, ReasonBandwidth), and counts the refusal.
func (a *BandwidthAccountant) Admit(now time.Time, peer netip.AddrPort, n int) string {
	p := a.peer(peer)
	reason := ""
	switch {
	case !p.lim.AllowN(now, n):
		reason = ReasonPeerBandwidth
	case !a.global.AllowN(now, n):
		reason = ReasonBandwidth
	default:
		return ""
	}
	p.Refused++
	p.RefusedBytes += uint64(n)
	a.total.Refused++
	a.total.RefusedBytes += uint64(n)
	return reason
}

// CountIn records n bytes received from peer and relayed.
func (a *BandwidthAccountant) CountIn(peer netip.AddrPort, n int) {
	a.peer(peer).BytesIn += uint64(n)
	a.total.BytesIn += uint64(n)
}

// CountOut records n bytes relayed to peer.
func (a *BandwidthAccountant) CountOut(peer netip.AddrPort, n int) {
	a.peer(peer).BytesOut += uint64(n)
	a.total.BytesOut += uint64(n)
}

// Peer returns a tracked peer's usage.
func (a *BandwidthAccountant) Peer(addr netip.AddrPort) (Usage, bool) {
	if p, ok := a.peers.Peek(addr); ok {
		return p.Usage, true
	}
	return Usage{}, false
}

// Total returns the usage of all peers together.
func (a *BandwidthAccountant) Total() Usage { return a.total }

// Tracked returns the number of peers tracked and the number evicted so far.
func (a *BandwidthAccountant) Tracked() (peers int, evicted uint64) { return a.peers.Len(), a.evicted }

// Limits returns the global and per-peer rates in bytes per second and
// their bucket sizes in bytes.
func (a *BandwidthAccountant) Limits() (global, perPeer float64, globalBurst, peerBurst int) {
	return float64(a.global.Limit()), float64(a.peerRate), a.global.Burst(), a.peerBurst
}

package dht

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Capabilities are what a peer says it can do. IsRelay and
// SupportsNATTraversal travel as flags in every DHT header and NODES entry;
// MaxBandwidth (bytes per second, 0 unknown) only in the header, i.e. it is
// learnt first-hand.
type Capabilities struct {
	IsRelay              bool   `json:"relay,omitempty"`
	SupportsNATTraversal bool   `json:"nat_traversal,omitempty"`
	MaxBandwidth         uint64 `json:"max_bandwidth,omitempty"`
}

// Flags returns the wire flags for c.
func (c Capabilities) Flags() uint8 {
	var f uint8
	if c.IsRelay {
		f |= wire.DHTFlagRelay
	}
	if c.SupportsNATTraversal {
		f |= wire.DHTFlagNATTraversal
	}
	return f
}

func capsFrom(flags uint8, bandwidth uint64) Capabilities {
	return Capabilities{
		IsRelay:              flags&wire.DHTFlagRelay != 0,
		SupportsNATTraversal: flags&wire.DHTFlagNATTraversal != 0,
		MaxBandwidth:         bandwidth,
	}
}

// PeerInfo is what the routing table knows of a peer.
type PeerInfo struct {
	ID   identity.PeerID
	Addr netip.AddrPort
	// LastSeen is when the peer last answered one of our requests.
	LastSeen time.Time
	// RTT is an EWMA (weight 1/5) of the peer's measured round trips; 0 is
	// unknown.
	RTT time.Duration
	// Reputation is in [-1, 1]: answers raise it, timeouts and lies lower
	// it. 0 is neutral.
	Reputation float64
	Capabilities

	key identity.Key // ID.Key(), once computed (zero: not yet)
}

// dhtKey returns p's DHT key, hashing the ID at most once per value.
func (p *PeerInfo) dhtKey() identity.Key {
	if p.key == (identity.Key{}) {
		p.key = p.ID.Key()
	}
	return p.key
}

// rttWeight is the EWMA weight of a new RTT sample.
const rttWeight = 0.2

func (p *PeerInfo) observeRTT(sample time.Duration) { p.RTT = ewmaRTT(p.RTT, sample) }

// ewmaRTT returns the RTT EWMA rtt after a sample (none if sample <= 0).
func ewmaRTT(rtt, sample time.Duration) time.Duration {
	if sample <= 0 {
		return rtt
	}
	if rtt <= 0 {
		return sample
	}
	return time.Duration((1-rttWeight)*float64(rtt) + rttWeight*float64(sample))
}

// rewarded and punished return a reputation after an answer and after a
// timeout or a lie.
func rewarded(r float64) float64 { return min(1, r+0.1) }

func punished(r float64) float64 { return max(-1, r-0.2) }

func pubKey(id identity.PeerID) [wire.DHTIDLen]byte {
	return [wire.DHTIDLen]byte(id.PublicKey())
}

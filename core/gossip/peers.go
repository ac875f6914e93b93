package gossip

import (
	"cmp"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// Peer is a peer gossip may send to, with what the node knows of it.
type Peer struct {
	Addr netip.AddrPort
	// ID is the peer's identity, or the zero PeerID if unknown. Knowing it
	// lets gossip skip a message's original sender when forwarding.
	ID identity.PeerID
	// RTT is the measured round-trip time; 0 means unknown.
	RTT time.Duration
	// Score is the peer's reputation: higher is better, 0 is neutral.
	Score float64
}

// PeerSource supplies the peers to gossip with: the connection manager in
// the real node, a static topology in simulation. GossipPeers is called
// whenever the component forwards or announces; it must return peers in a
// deterministic order, and the component does not keep or modify the slice.
type PeerSource interface {
	GossipPeers() []Peer
}

// StaticPeers is a fixed peer list.
type StaticPeers []Peer

// GossipPeers implements PeerSource.
func (s StaticPeers) GossipPeers() []Peer { return s }

// selector picks the peers of one push. It keeps scratch slices so picking
// does not allocate in the steady state. Candidates are indices into the
// peer list, so shuffling moves words, not Peer values.
//
// Concurrency: not safe for concurrent use.
type selector struct {
	rand  *rand.Rand
	cand  []int // indices into the peers being picked from
	eager []netip.AddrPort
	lazy  []netip.AddrPort
}

// exclusion names the peers a message must not be sent to: the node
// itself, the peer it came from, its original sender, and peers known to
// hold it.
type exclusion struct {
	self, from netip.AddrPort
	origin     identity.PeerID
	holders    *holderSet // nil: none
}

func (x *exclusion) skip(p *Peer) bool {
	return !p.Addr.IsValid() || p.Addr == x.self || p.Addr == x.from ||
		(!x.origin.IsZero() && p.ID == x.origin) || (x.holders != nil && x.holders.has(p.Addr))
}

// pick chooses up to k peers to push to and up to nLazy further peers to
// announce to, among peers x does not exclude. The candidates are shuffled
// with the node's random stream; then the share prefer (0 to 1) of the k
// are the best by better() order (ties fall to the shuffle), and the other
// pushes and the announcements are the next candidates in shuffled order.
// The choice depends only on the peer list and the random stream.
func (s *selector) pick(peers []Peer, x *exclusion, k, nLazy int, prefer float64) (eager, lazy []netip.AddrPort) {
	s.cand = s.cand[:0]
	for i := range peers {
		if !x.skip(&peers[i]) {
			s.cand = append(s.cand, i)
		}
	}
	s.eager, s.lazy = s.eager[:0], s.lazy[:0]
	c := s.cand
	k = min(k, len(c))
	nLazy = min(nLazy, len(c)-k)
	if k+nLazy == 0 {
		return s.eager, s.lazy
	}
	for i := len(c) - 1; i > 0; i-- {
		j := s.rand.IntN(i + 1)
		c[i], c[j] = c[j], c[i]
	}
	nPref := min(k, int(math.Round(float64(k)*prefer)))
	for i := range nPref {
		best := i
		for j := i + 1; j < len(c); j++ {
			if better(&peers[c[j]], &peers[c[best]]) < 0 {
				best = j
			}
		}
		c[i], c[best] = c[best], c[i]
	}
	for _, i := range c[:k] {
		s.eager = append(s.eager, peers[i].Addr)
	}
	for _, i := range c[k : k+nLazy] {
		s.lazy = append(s.lazy, peers[i].Addr)
	}
	return s.eager, s.lazy
}

// better orders peers by preference: non-negative scores before negative
// ones, then known RTT before unknown, lower RTT first, then higher score.
func better(a, b *Peer) int {
	if c := cmp.Compare(boolInt(a.Score < 0), boolInt(b.Score < 0)); c != 0 {
		return c
	}
	if c := cmp.Compare(boolInt(a.RTT <= 0), boolInt(b.RTT <= 0)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.RTT, b.RTT); c != 0 {
		return c
	}
	return cmp.Compare(b.Score, a.Score)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

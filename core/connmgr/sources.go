package connmgr

import (
	"math/rand/v2"

	"github.com/dchat/network/core/dht"
)

// StaticCandidates is a fixed candidate list (configured peers, a
// scenario's overlay); its version never changes.
type StaticCandidates []PeerAddr

// CandidateVersion implements CandidateSource.
func (StaticCandidates) CandidateVersion() uint64 { return 0 }

// Candidates implements CandidateSource.
func (s StaticCandidates) Candidates(dst []PeerAddr) []PeerAddr { return append(dst, s...) }

// DHTCandidates offers a DHT's routing-table peers as candidates, after
// First (e.g. the bootstrap peers a bootstrap node keeps connected). With
// Rand set, the table's peers are offered in an order drawn from it;
// otherwise in the table's order (Table.Peers: round-robin over buckets,
// closest first, each bucket least recently seen first). The shuffle
// matters when many nodes join at once: the least recently seen entries of
// every table's far buckets are the same early joiners, which would get
// everyone's first dials and refuse most of them. Its version is the
// table's, which changes with every table update.
//
// The DHT's own requests do not need sessions: they are datagrams to any
// peer a lookup names. Sessions carry gossip; DHT traffic to a connected
// peer counts as the session's traffic.
type DHTCandidates struct {
	DHT   *dht.DHT
	First []PeerAddr
	Rand  *rand.Rand
}

// CandidateVersion implements CandidateSource.
func (s DHTCandidates) CandidateVersion() uint64 { return s.DHT.Table().Version() }

// Candidates implements CandidateSource.
func (s DHTCandidates) Candidates(dst []PeerAddr) []PeerAddr {
	dst = append(dst, s.First...)
	start := len(dst)
	for _, p := range s.DHT.Table().Peers(0) {
		dst = append(dst, PeerAddr{ID: p.ID, Addr: p.Addr})
	}
	if s.Rand != nil {
		t := dst[start:]
		s.Rand.Shuffle(len(t), func(i, j int) { t[i], t[j] = t[j], t[i] })
	}
	return dst
}

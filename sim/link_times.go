package sim

import (
	"math"
	"time"
)

// denseLinkNodes is the largest network whose linkTimes is a dense matrix:
// at most denseLinkNodes² times of 8 bytes (32 MiB), and in practice only
// the rows of nodes that send. Larger networks use a map, whose size follows
// the links actually used.
const denseLinkNodes = 2048

// noLinkTime is what linkTimes.get returns for a link with no time stored:
// earlier than any time, so "is the stored time later?" is false for it, as
// it is when nothing was stored.
const noLinkTime = time.Duration(math.MinInt64)

// linkTimes holds one time per directed link (from, to), noLinkTime until
// set. The network keeps each jittered link's latest scheduled arrival in
// one, and looks it up for every packet.
//
// For networks of up to denseLinkNodes nodes it is a matrix: a row per
// sender, allocated when the sender first sets a time, indexed by receiver,
// so a lookup is two loads instead of a hash and a probe. Larger networks use
// a map keyed by linkKey. Both only ever look up and store, never iterate, so
// which one is used cannot change an outcome.
//
// Concurrency: not safe for concurrent use; the Network that owns it is not
// either.
type linkTimes struct {
	nodes int
	rows  [][]time.Duration        // dense form, one lazily made row per sender
	byKey map[uint64]time.Duration // sparse form, when rows is nil
	// pruneAt is the map size at which set next drops stale entries.
	pruneAt int
}

// minPruneAt is the smallest map size that triggers pruning.
const minPruneAt = 1 << 16

// newLinkTimes returns an empty table for nodes nodes; dense says whether to
// use the matrix (see denseLinkNodes).
func newLinkTimes(nodes int, dense bool) linkTimes {
	if dense {
		return linkTimes{nodes: nodes, rows: make([][]time.Duration, nodes)}
	}
	return linkTimes{nodes: nodes, byKey: make(map[uint64]time.Duration), pruneAt: minPruneAt}
}

// get returns the time stored for from -> to, or noLinkTime if none is.
func (t *linkTimes) get(from, to int) time.Duration {
	if t.rows == nil {
		if d, ok := t.byKey[linkKey(from, to)]; ok {
			return d
		}
		return noLinkTime
	}
	if row := t.rows[from]; row != nil {
		return row[to]
	}
	return noLinkTime
}

// set stores d for from -> to at virtual time now.
//
// The map form forgets times at or before now whenever it has doubled since
// it last did: the network stores arrival floors, and a packet sent at now
// or later arrives at now or later (latency and jitter are never negative),
// so a floor at or before now can never raise an arrival again, and reading
// noLinkTime instead gives the same answer. Without this the map would keep
// an entry for every link ever used: at 100,000 nodes, tens of millions.
// Which entries go depends only on their values, not on map order.
func (t *linkTimes) set(from, to int, d, now time.Duration) {
	if t.rows == nil {
		t.byKey[linkKey(from, to)] = d
		if len(t.byKey) >= t.pruneAt {
			for k, v := range t.byKey {
				if v <= now {
					delete(t.byKey, k)
				}
			}
			t.pruneAt = max(2*len(t.byKey), minPruneAt)
		}
		return
	}
	row := t.rows[from]
	if row == nil {
		row = make([]time.Duration, t.nodes)
		for i := range row {
			row[i] = noLinkTime
		}
		t.rows[from] = row
	}
	row[to] = d
}

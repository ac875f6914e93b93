package connmgr

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/dchat/network/core/identity"
)

// Strategy is a pruning strategy: how trim victims are ranked.
type Strategy uint8

// Pruning strategies.
const (
	// LeastRecentlyUsed prunes the session idle longest first.
	LeastRecentlyUsed Strategy = iota + 1
	// LowestReputation prunes the peer with the lowest reputation first.
	LowestReputation
	// HighestLatency prunes the session with the highest SRTT first; an
	// unknown RTT counts as the highest.
	HighestLatency
	// Combined prunes the highest weighted sum of the normalised idle
	// time, reputation, latency and loss first (see Weights).
	Combined
)

var strategyNames = [...]string{"", "lru", "reputation", "latency", "combined"}

func (s Strategy) valid() bool { return s >= LeastRecentlyUsed && s <= Combined }

// String returns the strategy's name: "lru", "reputation", "latency" or
// "combined".
func (s Strategy) String() string {
	if s.valid() {
		return strategyNames[s]
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (s Strategy) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, for config files.
func (s *Strategy) UnmarshalText(b []byte) error {
	for i := LeastRecentlyUsed; i <= Combined; i++ {
		if string(b) == strategyNames[i] {
			*s = i
			return nil
		}
	}
	return errors.New("connmgr: unknown pruning strategy " + string(b))
}

// Weights weigh the terms of the Combined strategy. Each term is in [0, 1]:
// idle time / IdleScale and SRTT / LatencyScale (both capped at 1; an
// unknown RTT counts 1), (1 - reputation) / 2, and the loss rate.
type Weights struct {
	Idle, Reputation, Latency, Loss float64
}

func (w Weights) validate() error {
	if !finiteNonNeg(w.Idle) || !finiteNonNeg(w.Reputation) || !finiteNonNeg(w.Latency) || !finiteNonNeg(w.Loss) {
		return errors.New("weights must be finite and non-negative")
	}
	if w.Idle+w.Reputation+w.Latency+w.Loss == 0 {
		return errors.New("at least one weight must be positive")
	}
	return nil
}

// PruneCandidate is what a Pruner knows of a session.
type PruneCandidate struct {
	Peer       identity.PeerID
	Inbound    bool
	Protected  bool
	Opened     time.Time
	LastActive time.Time
	// SRTT is the smoothed RTT, 0 if unknown.
	SRTT       time.Duration
	Loss       float64
	Reputation float64
}

// Pruner ranks sessions for trimming by its Strategy. Protected sessions
// and sessions younger than Grace are never chosen. Among equal scores an
// inbound session goes before an outbound one, then the lower peer ID
// (binary form) first, so the choice is deterministic.
//
// Concurrency: not safe for concurrent use (it keeps a scratch slice so
// that Select does not allocate in the steady state).
type Pruner struct {
	Strategy     Strategy
	Weights      Weights
	Grace        time.Duration
	IdleScale    time.Duration
	LatencyScale time.Duration

	scratch []ranked
}

// ranked is one eligible candidate: its score and its tie-breakers (the
// first 8 bytes of the peer key; the whole key only if those tie).
type ranked struct {
	score   float64
	prefix  uint64
	i       int32
	inbound bool
}

// Score returns c's pruning score under the strategy: the higher, the
// sooner it is pruned.
func (p *Pruner) Score(now time.Time, c *PruneCandidate) float64 {
	switch p.Strategy {
	case LeastRecentlyUsed:
		return float64(now.Sub(c.LastActive))
	case LowestReputation:
		return -c.Reputation
	case HighestLatency:
		if c.SRTT <= 0 {
			return math.Inf(1)
		}
		return float64(c.SRTT)
	}
	w := &p.Weights
	idle := min(1, float64(now.Sub(c.LastActive))/float64(p.IdleScale))
	lat := 1.0
	if c.SRTT > 0 {
		lat = min(1, float64(c.SRTT)/float64(p.LatencyScale))
	}
	return w.Idle*max(0, idle) + w.Reputation*(1-c.Reputation)/2 + w.Latency*lat + w.Loss*c.Loss
}

// Eligible reports whether c may be pruned at now.
func (p *Pruner) Eligible(now time.Time, c *PruneCandidate) bool {
	return !c.Protected && now.Sub(c.Opened) >= p.Grace
}

// Select appends to dst the indices in cands of up to n sessions to prune,
// in pruning order, and returns it.
func (p *Pruner) Select(now time.Time, cands []PruneCandidate, n int, dst []int) []int {
	if n <= 0 {
		return dst
	}
	s := p.scratch[:0]
	for i := range cands {
		c := &cands[i]
		if !p.Eligible(now, c) {
			continue
		}
		key := c.Peer.PublicKey()
		s = append(s, ranked{score: p.Score(now, c), prefix: binary.BigEndian.Uint64(key[:8]), i: int32(i), inbound: c.Inbound})
	}
	slices.SortFunc(s, func(a, b ranked) int {
		// Highest score first, then inbound before outbound, then the
		// lower peer key. The binary peer ID is a fixed prefix and the
		// key, so ordering by key is ordering by peer ID bytes.
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		case a.inbound != b.inbound:
			if a.inbound {
				return -1
			}
			return 1
		case a.prefix != b.prefix:
			if a.prefix < b.prefix {
				return -1
			}
			return 1
		}
		if c := bytes.Compare(cands[a.i].Peer.PublicKey(), cands[b.i].Peer.PublicKey()); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	for _, r := range s[:min(n, len(s))] {
		dst = append(dst, int(r.i))
	}
	p.scratch = s
	return dst
}

package adversary

import (
	"fmt"
	"slices"
	"time"

	"github.com/dchat/network/core"
)

// Role names, as scenario files spell them.
const (
	BlackHole     = "black-hole"
	SelectiveDrop = "selective-drop"
	Spam          = "spam"
	Forged        = "forged-signatures"
	Replay        = "replay"
	Poisoning     = "routing-poisoning"
	Sybil         = "sybil"
	Eclipse       = "eclipse"
	RelayCheat    = "relay-cheat"
)

// Roles lists every role, in documentation order.
var Roles = []string{BlackHole, SelectiveDrop, Spam, Forged, Replay, Poisoning, Sybil, Eclipse, RelayCheat}

// Layer says which protocol a role attacks.
func Layer(role string) string {
	switch role {
	case BlackHole, SelectiveDrop, Spam, Forged, Replay:
		return "gossip"
	case Poisoning, Sybil, Eclipse:
		return "dht"
	case RelayCheat:
		return "relay"
	}
	return ""
}

// NeedsVictim reports whether a role targets one node.
func NeedsVictim(role string) bool { return role == SelectiveDrop || role == Eclipse }

// Params tunes a role; zero fields take DefaultParams' values.
type Params struct {
	// Rate is spam's sending rate per peer as a multiple of the per-peer
	// rate limit (100: a hundred times gossip_peer_rate), and
	// forged-signatures' likewise (default 0.5, so that the forgeries get
	// past the rate limit and are verified).
	Rate float64
	// Identities is the number of identities a sybil or eclipse node
	// presents (its own included).
	Identities int
	// Delay is how long replay waits before re-sending a message it
	// accepted; default the gossip cache TTL plus one second.
	Delay time.Duration
	// Interval is how often sybil and eclipse nodes introduce one more
	// identity to a peer, and the tick of spam and forgeries.
	Interval time.Duration
}

// DefaultParams returns role's defaults.
func DefaultParams(role string) Params {
	p := Params{Identities: 1, Interval: time.Second}
	switch role {
	case Spam:
		p.Rate, p.Interval = 100, 20*time.Millisecond
	case Forged:
		p.Rate, p.Interval = 0.5, 100*time.Millisecond
	case Sybil:
		p.Identities = 50
	case Eclipse:
		p.Identities = 10
	}
	return p
}

// Fill returns p with its zero fields set to role's defaults.
func (p Params) Fill(role string) Params {
	d := DefaultParams(role)
	if p.Rate == 0 {
		p.Rate = d.Rate
	}
	if p.Identities == 0 {
		p.Identities = d.Identities
	}
	if p.Interval == 0 {
		p.Interval = d.Interval
	}
	return p
}

// Validate reports a parameter out of range for role.
func (p Params) Validate(role string) error {
	if !slices.Contains(Roles, role) {
		return fmt.Errorf("%w: adversary: unknown role %q", core.ErrConfig, role)
	}
	switch {
	case p.Rate < 0 || p.Rate > 10000:
		return fmt.Errorf("%w: adversary: rate must be in [0, 10000], got %g", core.ErrConfig, p.Rate)
	case p.Identities < 0 || p.Identities > 10000:
		return fmt.Errorf("%w: adversary: identities must be in [0, 10000], got %d", core.ErrConfig, p.Identities)
	case p.Delay < 0:
		return fmt.Errorf("%w: adversary: delay must not be negative, got %v", core.ErrConfig, p.Delay)
	case p.Interval < 0:
		return fmt.Errorf("%w: adversary: interval must not be negative, got %v", core.ErrConfig, p.Interval)
	}
	return nil
}

// Stats counts what an attacker did.
type Stats struct {
	Withheld   uint64 // gossip messages accepted and not passed on
	Spam       uint64 // spam datagrams sent (one per message and peer)
	Forged     uint64 // forged datagrams sent
	Replayed   uint64 // replayed datagrams sent
	Lies       uint64 // NODES answers replaced
	Intros     uint64 // identities introduced to a peer
	Dropped    uint64 // relayed messages dropped
	Claimed    uint64 // false acknowledgements sent
	ForgedHops uint64 // hand-offs with a forged signature
}

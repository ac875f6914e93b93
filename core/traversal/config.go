package traversal

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// RelayPolicy says when a node allocates a TURN relay (RFC 8656) for
// itself.
type RelayPolicy uint8

// Relay policies.
const (
	// RelayAuto allocates a relay when self discovery finds a symmetric
	// NAT, or cannot classify the NAT: the cases where hole punching with
	// many peers will fail.
	RelayAuto RelayPolicy = iota
	// RelayAlways allocates a relay at start.
	RelayAlways
	// RelayNever never allocates one (the node may still use its peers'
	// relays).
	RelayNever
)

var relayPolicyNames = [...]string{"auto", "always", "never"}

// String returns the policy's configuration name.
func (p RelayPolicy) String() string {
	if int(p) < len(relayPolicyNames) {
		return relayPolicyNames[p]
	}
	return "invalid"
}

// ParseRelayPolicy parses "auto", "always" or "never".
func ParseRelayPolicy(s string) (RelayPolicy, error) {
	for i, n := range relayPolicyNames {
		if s == n {
			return RelayPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("%w: traversal: unknown relay policy %q (want one of %s)", core.ErrConfig, s, strings.Join(relayPolicyNames[:], ", "))
}

// Config tunes a Traversal. FromCore fills the fields core.Config names
// (enable_upnp, enable_hole_punching); the rest keep DefaultConfig's values
// unless set here.
type Config struct {
	// Servers.

	// STUNServers answer public-address queries; the first one is used for
	// self discovery (RFC 8489, RFC 5780).
	STUNServers []netip.AddrPort
	// TURNServers allocate relays; the first one is used (RFC 8656).
	TURNServers []netip.AddrPort
	// Rendezvous are the nodes this node registers with and asks for
	// introductions, in order of preference.
	Rendezvous []netip.AddrPort
	// Serve makes this node a rendezvous for others.
	Serve bool

	// Self discovery.

	// UseUPnP asks the local gateway for a port mapping at start.
	UseUPnP bool
	// UPnPLease is the lease asked for (the environment renews it).
	UPnPLease time.Duration
	// RelayPolicy says when to allocate a relay of our own.
	RelayPolicy RelayPolicy
	// Rediscover repeats the STUN query this often, to notice a changed
	// NAT or address; 0 disables it.
	Rediscover time.Duration
	// ReachabilityAfter is how many consecutive observations must agree
	// before the node's reachable state changes (after the first
	// decision), so that it does not flap.
	ReachabilityAfter int

	// Registration.

	// KeepAlive is the REGISTER interval, which also keeps the NAT binding
	// towards each rendezvous open (RFC 4787 §4.3: bindings may expire
	// after two minutes, often sooner).
	KeepAlive time.Duration
	// ConnectTimeout is how long a CONNECT waits for its OFFER before it is
	// retried (with the next rendezvous).
	ConnectTimeout time.Duration
	// ConnectRetries is the number of CONNECTs sent before giving up.
	ConnectRetries int
	// LadderRetries is how many times an initiator whose ladder found no
	// path asks the rendezvous again (a new CONNECT, so both sides get a
	// fresh OFFER) before it reports Failed. A lost OFFER to the target
	// leaves the target silent, and a filtering NAT in front of it then
	// drops every probe; one retry turns that loss into a delay.
	LadderRetries int

	// The ladder.

	// HolePunching enables the hole-punching rung (enable_hole_punching).
	HolePunching bool
	// PunchAttempts is the number of probes per candidate per round.
	PunchAttempts int
	// PunchInterval is the time between two probes of a round.
	PunchInterval time.Duration
	// PunchRounds is the number of punching rounds; round 2 and later add
	// the STUN-reported endpoint and, for symmetric peers, ports
	// predicted near the observed one.
	PunchRounds int
	// PortPrediction is how many ports on each side of the observed one
	// later rounds try for a symmetric peer (0 disables prediction).
	PortPrediction int
	// MaxStartDelay caps the start delay a rendezvous gives (and a node
	// accepts) in an OFFER.
	MaxStartDelay time.Duration
	// UpgradeAfter is how many probes a better path must have answered
	// before the node switches to it (hysteresis).
	UpgradeAfter int

	// Paths.

	// PathKeepAlive is the PATH-PING interval on a chosen path; it must
	// stay below typical NAT binding timeouts (30-120 s).
	PathKeepAlive time.Duration
	// FallbackAfter is how many consecutive PATH-PINGs must go unanswered
	// before the node leaves a path (hysteresis).
	FallbackAfter int

	// Bounds and rates.

	// MaxPeers bounds the peers with an attempt or a path.
	MaxPeers int
	// MaxCandidates bounds the candidate endpoints per peer.
	MaxCandidates int
	// MaxRegistrations bounds a rendezvous's table of registered peers.
	MaxRegistrations int
	// ConnectRate and ConnectBurst limit the CONNECTs a rendezvous serves
	// per source IP address (per second, token bucket).
	ConnectRate  float64
	ConnectBurst int
	// MaxLimiters bounds the per-source rate limiters a rendezvous keeps.
	MaxLimiters int
}

// DefaultConfig returns the defaults: UPnP and hole punching on, a relay
// only for symmetric or unknown NATs, REGISTER every 20 s, paths kept alive
// every 15 s, two rounds of 5 probes 200 ms apart.
func DefaultConfig() Config {
	return Config{
		UseUPnP:           true,
		UPnPLease:         time.Hour,
		RelayPolicy:       RelayAuto,
		Rediscover:        10 * time.Minute,
		ReachabilityAfter: 2,

		KeepAlive:      20 * time.Second,
		ConnectTimeout: 2 * time.Second,
		ConnectRetries: 3,
		LadderRetries:  1,

		HolePunching:   true,
		PunchAttempts:  5,
		PunchInterval:  200 * time.Millisecond,
		PunchRounds:    2,
		PortPrediction: 2,
		MaxStartDelay:  2 * time.Second,
		UpgradeAfter:   2,

		PathKeepAlive: 15 * time.Second,
		FallbackAfter: 3,

		MaxPeers:         1024,
		MaxCandidates:    16,
		MaxRegistrations: 4096,
		ConnectRate:      1,
		ConnectBurst:     10,
		MaxLimiters:      4096,
	}
}

// FromCore returns DefaultConfig with enable_upnp and
// enable_hole_punching of c applied.
func FromCore(c core.Config) Config {
	t := DefaultConfig()
	t.UseUPnP = c.EnableUPnP
	t.HolePunching = c.EnableHolePunching
	return t
}

// Validate reports the first out-of-range field.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: traversal: %s: "+format, append([]any{core.ErrConfig, field}, args...)...)
	}
	if err := core.CheckBounds("traversal", []core.IntBound{
		{Name: "ReachabilityAfter", V: c.ReachabilityAfter, Min: 1},
		{Name: "ConnectRetries", V: c.ConnectRetries, Min: 1},
		{Name: "LadderRetries", V: c.LadderRetries, Min: 0},
		{Name: "PunchAttempts", V: c.PunchAttempts, Min: 1},
		{Name: "PunchRounds", V: c.PunchRounds, Min: 1},
		{Name: "PortPrediction", V: c.PortPrediction, Min: 0},
		{Name: "UpgradeAfter", V: c.UpgradeAfter, Min: 1},
		{Name: "FallbackAfter", V: c.FallbackAfter, Min: 1},
		{Name: "MaxPeers", V: c.MaxPeers, Min: 1},
		{Name: "MaxCandidates", V: c.MaxCandidates, Min: 4},
		{Name: "MaxRegistrations", V: c.MaxRegistrations, Min: 1},
		{Name: "ConnectBurst", V: c.ConnectBurst, Min: 1},
		{Name: "MaxLimiters", V: c.MaxLimiters, Min: 1},
	}, []core.DurationBound{
		{Name: "UPnPLease", V: c.UPnPLease, Positive: true},
		{Name: "Rediscover", V: c.Rediscover},
		{Name: "KeepAlive", V: c.KeepAlive, Positive: true},
		{Name: "ConnectTimeout", V: c.ConnectTimeout, Positive: true},
		{Name: "PunchInterval", V: c.PunchInterval, Positive: true},
		{Name: "MaxStartDelay", V: c.MaxStartDelay},
		{Name: "PathKeepAlive", V: c.PathKeepAlive, Positive: true},
	}); err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		v    []netip.AddrPort
	}{{"STUNServers", c.STUNServers}, {"TURNServers", c.TURNServers}, {"Rendezvous", c.Rendezvous}} {
		for _, a := range l.v {
			if !a.IsValid() || a.Port() == 0 {
				return bad(l.name, "invalid address %v", a)
			}
		}
	}
	switch {
	case c.RelayPolicy > RelayNever:
		return bad("RelayPolicy", "unknown policy %d", c.RelayPolicy)
	case c.PortPrediction > 64:
		return bad("PortPrediction", "at most 64, got %d", c.PortPrediction)
	case c.MaxStartDelay > wire.MaxNATDuration:
		return bad("MaxStartDelay", "at most %v, got %v", wire.MaxNATDuration, c.MaxStartDelay)
	case !(c.ConnectRate > 0):
		return bad("ConnectRate", "must be positive, got %g", c.ConnectRate)
	}
	return nil
}

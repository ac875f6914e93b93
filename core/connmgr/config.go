package connmgr

import (
	"fmt"
	"math"
	"time"

	"github.com/dchat/network/core"
)

// Config tunes a Manager. FromCore fills the fields that core.Config (the
// plan's NetworkConfig) names; the rest keep DefaultConfig's values unless
// set here.
type Config struct {
	// Limits (see the package documentation, "Limits").

	// MaxConnections is the high water mark and the hard cap on sessions,
	// connected and being dialled together (max_connections).
	MaxConnections int
	// Target is the low water mark: trims go down to it, and candidates
	// are dialled up to it (target_connections).
	Target int
	// GracePeriod protects a new session from trims while it is younger.
	GracePeriod time.Duration
	// TrimPause is the least time between two trims.
	TrimPause time.Duration
	// RejectWhenFull makes an inbound CONNECT at the cap always refused
	// ("full"). When false (the default), the node trims down to Target
	// to make room if the trim pause allows and some session may go, and
	// refuses only otherwise.
	RejectWhenFull bool

	// Dialling.

	// DialTimeout is how long a dial may wait for ACCEPT
	// (connection_timeout).
	DialTimeout time.Duration
	// DialRetransmit is the delay before the first CONNECT retransmission;
	// it doubles after each one (RFC 6298 §5.5's backoff) until
	// DialTimeout.
	DialRetransmit time.Duration
	// MaxDialing bounds the dials in flight.
	MaxDialing int
	// MaxCandidates bounds the candidate queue fed by AddCandidates.
	MaxCandidates int
	// CandidateCooldown: a peer whose dial failed is not dialled again as
	// a candidate for this long.
	CandidateCooldown time.Duration
	// Linger is how long a session this node closed stays "disconnecting",
	// absorbing the peer's frames still in flight. 0 removes it at once.
	Linger time.Duration

	// Health (see HealthConfig).
	Health HealthConfig

	// Pruning.

	// Strategy picks trim victims.
	Strategy Strategy
	// Weights are the Combined strategy's weights.
	Weights Weights
	// LatencyScale is the SRTT at which Combined's latency term saturates
	// (counts as 1).
	LatencyScale time.Duration
	// IdleScale is the idle time at which Combined's idle term saturates.
	IdleScale time.Duration

	// Reconnection of important peers.

	// Reconnect is the redial backoff.
	Reconnect Backoff

	// Peers.

	// MinReputation: a peer whose reputation is below it is refused
	// ("reputation") and not dialled as a candidate. Reputations are in
	// [-1, 1]; -1 disables the check.
	MinReputation float64
	// MaxPeers bounds the peer book (reputations, protection tags,
	// reconnection state).
	MaxPeers int
}

// DefaultConfig returns the plan's values (max 50, target 30, 10 s dial
// timeout, pings every 30 s with a 10 s timeout, 5 min idle timeout) and
// this package's own.
func DefaultConfig() Config {
	return Config{
		MaxConnections: 50,
		Target:         30,
		GracePeriod:    30 * time.Second,
		TrimPause:      10 * time.Second,

		DialTimeout:       10 * time.Second,
		DialRetransmit:    time.Second,
		MaxDialing:        16,
		MaxCandidates:     256,
		CandidateCooldown: time.Minute,
		Linger:            2 * time.Second,

		Health: DefaultHealthConfig(),

		Strategy:     Combined,
		Weights:      Weights{Idle: 1, Reputation: 2, Latency: 1, Loss: 1},
		LatencyScale: time.Second,
		IdleScale:    5 * time.Minute,

		Reconnect: Backoff{Base: time.Second, Max: 5 * time.Minute, Jitter: 0.2},

		MinReputation: -0.5,
		MaxPeers:      4096,
	}
}

// FromCore returns DefaultConfig with the connection fields of c applied:
// max_connections, target_connections, connection_timeout, ping_interval,
// ping_timeout, idle_timeout, connection_grace_period,
// connection_trim_pause, pruning_strategy, reconnect_backoff_base and
// reconnect_backoff_max. An unknown strategy name leaves Strategy invalid,
// so that Validate (and New) reject it.
func FromCore(c core.Config) Config {
	m := DefaultConfig()
	m.MaxConnections = c.MaxConnections
	m.Target = c.TargetConnections
	m.DialTimeout = c.ConnectionTimeout
	m.Health.PingInterval = c.PingInterval
	m.Health.PingTimeout = c.PingTimeout
	m.Health.IdleTimeout = c.IdleTimeout
	m.IdleScale = c.IdleTimeout
	m.GracePeriod = c.ConnGracePeriod
	m.TrimPause = c.ConnTrimPause
	if err := m.Strategy.UnmarshalText([]byte(c.PruningStrategy)); err != nil {
		m.Strategy = 0
	}
	m.Reconnect.Base = c.ReconnectBackoffBase
	m.Reconnect.Max = c.ReconnectBackoffMax
	return m
}

// Validate reports the first out-of-range field.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: connmgr: %s: "+format, append([]any{core.ErrConfig, field}, args...)...)
	}
	if err := core.CheckBounds("connmgr", []core.IntBound{
		{Name: "MaxConnections", V: c.MaxConnections, Min: 1},
		{Name: "Target", V: c.Target, Min: 0},
		{Name: "MaxDialing", V: c.MaxDialing, Min: 1},
		{Name: "MaxCandidates", V: c.MaxCandidates, Min: 0},
		{Name: "MaxPeers", V: c.MaxPeers, Min: 1},
	}, []core.DurationBound{
		{Name: "GracePeriod", V: c.GracePeriod},
		{Name: "TrimPause", V: c.TrimPause},
		{Name: "DialTimeout", V: c.DialTimeout, Positive: true},
		{Name: "DialRetransmit", V: c.DialRetransmit, Positive: true},
		{Name: "CandidateCooldown", V: c.CandidateCooldown},
		{Name: "Linger", V: c.Linger},
		{Name: "LatencyScale", V: c.LatencyScale, Positive: true},
		{Name: "IdleScale", V: c.IdleScale, Positive: true},
	}); err != nil {
		return err
	}
	switch {
	case c.Target > c.MaxConnections:
		return bad("Target", "must not exceed MaxConnections (%d), got %d", c.MaxConnections, c.Target)
	case !c.Strategy.valid():
		return bad("Strategy", "unknown strategy %d", c.Strategy)
	case !(c.MinReputation >= -1 && c.MinReputation <= 1):
		return bad("MinReputation", "must be in [-1, 1], got %g", c.MinReputation)
	}
	if err := c.Weights.validate(); err != nil {
		return bad("Weights", "%v", err)
	}
	if err := c.Reconnect.validate(); err != nil {
		return bad("Reconnect", "%v", err)
	}
	return c.Health.Validate()
}

// HealthConfig tunes the health monitor of each session.
type HealthConfig struct {
	// PingInterval is the period of a session's probes (ping_interval).
	PingInterval time.Duration
	// PingTimeout is how long a probe waits for its answer (ping_timeout);
	// at most PingInterval. After a missed probe the next goes at once.
	PingTimeout time.Duration
	// IdleTimeout closes a session without application traffic (Touch,
	// Sent) either way for this long; the manager's own frames do not
	// count (idle_timeout). 0 disables it. Protected peers are exempt.
	IdleTimeout time.Duration

	// EarlyProbe sends the first probe of a session that has no RTT
	// sample (every inbound one, and outbound ones whose handshake was
	// retransmitted) at once rather than after PingInterval, so that both
	// ends know the session's RTT within a round trip: gossip prefers
	// low-RTT peers, and pruning by latency counts an unknown RTT as the
	// worst.
	EarlyProbe bool

	// MaxMissed consecutive unanswered probes make a session unhealthy;
	// one makes it degraded.
	MaxMissed int
	// LossWindow is the number of recent probes loss is measured over
	// (at most 64).
	LossWindow int
	// MinLossSamples is the number of probes in the window before loss
	// alone can change the state.
	MinLossSamples int
	// DegradedLoss and UnhealthyLoss are loss-rate thresholds in [0, 1].
	DegradedLoss, UnhealthyLoss float64
	// DegradedRTT and UnhealthyRTT are SRTT thresholds; 0 disables one.
	DegradedRTT, UnhealthyRTT time.Duration
}

// DefaultHealthConfig returns the plan's probe timing (30 s, 10 s timeout,
// 5 min idle) and this package's thresholds: degraded after one missed
// probe, 20% loss or 1 s SRTT; unhealthy after 3 missed in a row, 50% loss
// or 5 s SRTT.
func DefaultHealthConfig() HealthConfig {
	return HealthConfig{
		PingInterval:   30 * time.Second,
		PingTimeout:    10 * time.Second,
		IdleTimeout:    5 * time.Minute,
		EarlyProbe:     true,
		MaxMissed:      3,
		LossWindow:     10,
		MinLossSamples: 4,
		DegradedLoss:   0.2,
		UnhealthyLoss:  0.5,
		DegradedRTT:    time.Second,
		UnhealthyRTT:   5 * time.Second,
	}
}

// Validate reports the first out-of-range field.
func (c HealthConfig) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: connmgr: Health.%s: "+format, append([]any{core.ErrConfig, field}, args...)...)
	}
	if err := core.CheckBounds("connmgr", []core.IntBound{
		{Name: "Health.MaxMissed", V: c.MaxMissed, Min: 1},
		{Name: "Health.LossWindow", V: c.LossWindow, Min: 1},
		{Name: "Health.MinLossSamples", V: c.MinLossSamples, Min: 1},
	}, []core.DurationBound{
		{Name: "Health.PingInterval", V: c.PingInterval, Positive: true},
		{Name: "Health.PingTimeout", V: c.PingTimeout, Positive: true},
		{Name: "Health.IdleTimeout", V: c.IdleTimeout},
		{Name: "Health.DegradedRTT", V: c.DegradedRTT},
		{Name: "Health.UnhealthyRTT", V: c.UnhealthyRTT},
	}); err != nil {
		return err
	}
	frac := func(v float64) bool { return v >= 0 && v <= 1 }
	switch {
	case c.PingTimeout > c.PingInterval:
		return bad("PingTimeout", "must not exceed PingInterval (%v), got %v", c.PingInterval, c.PingTimeout)
	case c.LossWindow > 64:
		return bad("LossWindow", "at most 64, got %d", c.LossWindow)
	case c.MinLossSamples > c.LossWindow:
		return bad("MinLossSamples", "must not exceed LossWindow (%d), got %d", c.LossWindow, c.MinLossSamples)
	case !frac(c.DegradedLoss) || !frac(c.UnhealthyLoss):
		return bad("DegradedLoss", "loss thresholds must be in [0, 1], got %g and %g", c.DegradedLoss, c.UnhealthyLoss)
	}
	return nil
}

func finiteNonNeg(v float64) bool { return v >= 0 && !math.IsInf(v, 0) }

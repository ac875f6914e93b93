package relay

import (
	"fmt"
	"math"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// Config tunes a Relay component. FromCore fills the fields that
// core.Config (the plan's NetworkConfig) names; the rest keep DefaultConfig's
// values unless set here.
type Config struct {
	// Enabled makes the node relay others' messages (enable_relay). A node
	// that is not a relay still sends and receives relayed messages.
	Enabled bool
	// MaxHops is the longest path, in relays, sent or relayed
	// (max_relay_hops, at most wire.MaxRelayPath).
	MaxHops int
	// MaxPayload bounds a payload, at most wire.MaxRelayPayload.
	MaxPayload int

	// AckTimeout is how long a sender waits for the acknowledgement before
	// reporting the message undelivered, and how long a relay keeps what it
	// needs to pass the acknowledgement back. A message sent longer ago is
	// refused as expired.
	AckTimeout time.Duration
	// MaxClockSkew is how far ahead of the receiver's clock a send time may
	// be before the message is refused as "future".
	MaxClockSkew time.Duration

	// Bandwidth (see BandwidthAccountant).

	// BandwidthLimitMbps caps the bytes a relay forwards, all peers
	// together, in megabits per second (relay_bandwidth_limit_mbps).
	BandwidthLimitMbps float64
	// PeerShare is the share of that limit one neighbouring peer may use.
	PeerShare float64
	// BurstWindow sizes the token buckets: a full bucket holds this long at
	// the limit (never less than one datagram).
	BurstWindow time.Duration
	// MaxTrackedPeers bounds the per-peer accounts (LRU).
	MaxTrackedPeers int

	// Anti-spam and state bounds.

	// MaxPending bounds the messages a relay keeps state for (LRU), and a
	// sender's own unacknowledged messages.
	MaxPending int
	// MaxPendingPerSender bounds the unacknowledged messages of one sender
	// a relay carries at a time; beyond it the sender's messages are
	// refused. It also bounds this node's own unacknowledged sends.
	MaxPendingPerSender int
	// MaxSeen bounds the IDs remembered to refuse duplicates (LRU).
	MaxSeen int

	// Batching.

	// BatchSize is the number of proofs that seals a batch.
	BatchSize int
	// BatchInterval is the longest a proof waits in an unsealed batch.
	BatchInterval time.Duration

	// Audit sets the thresholds of the reports given with outcomes.
	Audit AuditConfig
}

// DefaultConfig returns the defaults: the plan's relay values (disabled,
// 3 hops, 10 Mbit/s, batches of 100 proofs or 1 hour) and this package's
// own.
func DefaultConfig() Config {
	return Config{
		Enabled:    false,
		MaxHops:    3,
		MaxPayload: 32 << 10,

		AckTimeout:   10 * time.Second,
		MaxClockSkew: 30 * time.Second,

		BandwidthLimitMbps: 10,
		PeerShare:          0.25,
		BurstWindow:        time.Second,
		MaxTrackedPeers:    1024,

		MaxPending:          4096,
		MaxPendingPerSender: 64,
		MaxSeen:             16384,

		BatchSize:     100,
		BatchInterval: time.Hour,

		Audit: DefaultAuditConfig(),
	}
}

// FromCore returns DefaultConfig with the relay fields of c applied:
// enable_relay, max_relay_hops and relay_bandwidth_limit_mbps.
func FromCore(c core.Config) Config {
	r := DefaultConfig()
	r.Enabled = c.EnableRelay
	r.MaxHops = c.MaxRelayHops
	r.BandwidthLimitMbps = c.RelayBandwidthLimitMbps
	return r
}

// Validate reports the first out-of-range field.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: relay: %s: "+format, append([]any{core.ErrConfig, field}, args...)...)
	}
	if err := core.CheckBounds("relay", []core.IntBound{
		{Name: "MaxHops", V: c.MaxHops, Min: 1},
		{Name: "MaxPayload", V: c.MaxPayload, Min: 1},
		{Name: "MaxTrackedPeers", V: c.MaxTrackedPeers, Min: 1},
		{Name: "MaxPending", V: c.MaxPending, Min: 1},
		{Name: "MaxPendingPerSender", V: c.MaxPendingPerSender, Min: 1},
		{Name: "MaxSeen", V: c.MaxSeen, Min: 1},
		{Name: "BatchSize", V: c.BatchSize, Min: 1},
	}, []core.DurationBound{
		{Name: "AckTimeout", V: c.AckTimeout, Positive: true},
		{Name: "MaxClockSkew", V: c.MaxClockSkew},
		{Name: "BurstWindow", V: c.BurstWindow, Positive: true},
		{Name: "BatchInterval", V: c.BatchInterval, Positive: true},
		{Name: "Audit.MaxHold", V: c.Audit.MaxHold},
		{Name: "Audit.MaxLink", V: c.Audit.MaxLink},
	}); err != nil {
		return err
	}
	switch {
	case c.MaxHops > wire.MaxRelayPath:
		return bad("MaxHops", "at most %d, got %d", wire.MaxRelayPath, c.MaxHops)
	case c.MaxPayload > wire.MaxRelayPayload:
		return bad("MaxPayload", "at most %d bytes (one datagram), got %d", wire.MaxRelayPayload, c.MaxPayload)
	case c.MaxPendingPerSender > c.MaxPending:
		return bad("MaxPendingPerSender", "must not exceed MaxPending (%d), got %d", c.MaxPending, c.MaxPendingPerSender)
	case !(c.BandwidthLimitMbps > 0) || math.IsInf(c.BandwidthLimitMbps, 0):
		return bad("BandwidthLimitMbps", "must be positive and finite, got %g", c.BandwidthLimitMbps)
	case !(c.PeerShare > 0 && c.PeerShare <= 1):
		return bad("PeerShare", "must be in (0, 1], got %g", c.PeerShare)
	}
	return nil
}

package gossip

import (
	"fmt"
	"math"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// Config tunes a Gossip component. FromCore fills the fields that
// core.Config (the plan's NetworkConfig) names; the rest keep DefaultConfig's
// values unless set here.
type Config struct {
	// Forwarding (see the package documentation, "Forwarding").

	// Fanout is the number of peers a message is pushed to by its
	// publisher and by nodes whose copy travelled fewer than EagerHops hops
	// (gossip_fanout).
	Fanout int
	// LateFanout is the number of peers pushed to by nodes further out,
	// where most peers already have the message. 0 leaves those nodes to
	// lazy announcements.
	LateFanout int
	// EagerHops is the hop count below which a node pushes to Fanout peers
	// rather than LateFanout. The publisher counts as hop 0.
	EagerHops int
	// LazyFanout is the number of further peers, not pushed to, that get an
	// immediate IHAVE for a new message. 0 disables immediate announcements.
	LazyFanout int
	// PreferShare is the share of each push's peers picked by preference
	// (lowest RTT, best score); the rest are picked at random.
	PreferShare float64

	// Message limits.

	// MaxTTL is the TTL a message starts with and the largest accepted
	// (gossip_max_ttl, at most 32).
	MaxTTL int
	// MaxPayload bounds a payload, at most wire.MaxGossipPayload.
	MaxPayload int

	// Deduplication and replay protection.

	// CacheSize bounds the exact cache of seen IDs (gossip_message_cache_size).
	CacheSize int
	// CacheTTL is how long an ID stays in that cache, and the replay
	// window: older timestamps are dropped as expired
	// (gossip_message_cache_ttl).
	CacheTTL time.Duration
	// MaxClockSkew is how far ahead of the receiver's clock a timestamp may
	// be before the message is dropped as "future".
	MaxClockSkew time.Duration
	// MaxTrackedSenders bounds the per-sender sequence windows (LRU).
	MaxTrackedSenders int

	// Flood control, on new messages before verification.

	// PeerRate and PeerBurst limit each peer (gossip_peer_rate, _burst);
	// the same limit caps the messages served to a peer's IWANTs.
	PeerRate  float64
	PeerBurst int
	// GlobalRate and GlobalBurst limit all peers together (gossip_global_rate).
	GlobalRate  float64
	GlobalBurst int
	// MaxTrackedPeers bounds the per-peer limiters (LRU).
	MaxTrackedPeers int
	// PublisherRate and PublisherBurst limit the valid new messages
	// accepted per publisher, whichever peers they come through
	// (gossip_publisher_rate, _burst). A message over its publisher's rate
	// is dropped and never forwarded, so one author cannot flood the
	// network however many valid messages it signs: every node applies
	// the limit, and the excess dies at the first hop. The check is a
	// peek before verification (no token is taken for a claim) and a
	// charge after it, so forged messages cannot spend an honest
	// publisher's budget.
	PublisherRate  float64
	PublisherBurst int
	// MaxTrackedPublishers bounds the per-publisher limiters (LRU).
	MaxTrackedPublishers int

	// Pull repair (GossipSub v1.1 IHAVE/IWANT).

	// HeartbeatInterval is the period of IHAVE announcements; 0 disables
	// them.
	HeartbeatInterval time.Duration
	// HeartbeatPeers is the number of random peers announced to per
	// heartbeat.
	HeartbeatPeers int
	// HistoryWindow is how long a message is kept with its holders, for
	// announcing; it is kept to serve IWANTs for the longer of this and
	// Repair.Window.
	HistoryWindow time.Duration
	// GossipWindow is how far back a heartbeat announces: only messages
	// accepted within it are listed (GossipSub's mcache_gossip, 3 of its
	// 5 heartbeats). At most HistoryWindow.
	GossipWindow time.Duration
	// HistoryBytes bounds the payload bytes kept for serving.
	HistoryBytes int
	// MaxIHaveLength bounds the IDs of an IHAVE, sent or accepted.
	MaxIHaveLength int
	// MaxIWantLength bounds the IDs of an IWANT, sent or accepted.
	MaxIWantLength int
	// IWantDelay is how long a node waits after an IHAVE for a pushed copy
	// before it asks with an IWANT. 0 asks at once.
	IWantDelay time.Duration
	// IWantTimeout is how long an unanswered IWANT blocks asking again.
	IWantTimeout time.Duration
	// MaxPending bounds the announced, not yet received IDs tracked (LRU).
	MaxPending int

	// Repair is anti-entropy repair by digest exchange (repair.go).
	Repair RepairConfig
}

// DefaultConfig returns the defaults: the plan's gossip values (fanout 6,
// 10,000 IDs for 5 minutes, TTL 32, 10/s burst 20 per peer, 1,000/s in all)
// and this package's own.
func DefaultConfig() Config {
	return Config{
		Fanout:      6,
		LateFanout:  2,
		EagerHops:   4,
		LazyFanout:  8,
		PreferShare: 0.5,

		MaxTTL:     32,
		MaxPayload: 60 << 10,

		CacheSize:         10000,
		CacheTTL:          5 * time.Minute,
		MaxClockSkew:      30 * time.Second,
		MaxTrackedSenders: 4096,

		PeerRate:        10,
		PeerBurst:       20,
		GlobalRate:      1000,
		GlobalBurst:     1000,
		MaxTrackedPeers: 1024,

		PublisherRate:        1,
		PublisherBurst:       10,
		MaxTrackedPublishers: 4096,

		HeartbeatInterval: time.Second,
		HeartbeatPeers:    3,
		HistoryWindow:     10 * time.Second,
		GossipWindow:      3 * time.Second,
		HistoryBytes:      4 << 20,
		MaxIHaveLength:    500,
		MaxIWantLength:    500,
		IWantDelay:        50 * time.Millisecond,
		IWantTimeout:      time.Second,
		MaxPending:        4096,

		Repair: DefaultRepairConfig(),
	}
}

// FromCore returns DefaultConfig with the gossip fields of c applied.
func FromCore(c core.Config) Config {
	g := DefaultConfig()
	g.Fanout = c.GossipFanout
	g.CacheSize = c.GossipMessageCacheSize
	g.CacheTTL = c.GossipMessageCacheTTL
	g.MaxTTL = c.GossipMaxTTL
	g.PeerRate = c.GossipPeerRate
	g.PeerBurst = c.GossipPeerBurst
	g.GlobalRate = c.GossipGlobalRate
	g.GlobalBurst = max(1, int(math.Ceil(c.GossipGlobalRate)))
	g.PublisherRate = c.GossipPublisherRate
	g.PublisherBurst = c.GossipPublisherBurst
	g.Repair.Window = c.GossipMessageCacheTTL
	return g
}

// EagerHopsFor suggests EagerHops for a network of about n nodes: the hops
// after which pushes to fanout peers each would have reached n nodes,
// round(log(n) / log(fanout)), at least 1. Beyond it most peers already
// have a message, and a full push mostly makes duplicates. At 1,000 nodes
// and fanout 6 it is 4 (the default); at 100 nodes 3; at 10,000 nodes 5.
func EagerHopsFor(n, fanout int) int {
	if n < 2 || fanout < 2 {
		return 1
	}
	return max(1, int(math.Round(math.Log(float64(n))/math.Log(float64(fanout)))))
}

// Validate reports the first out-of-range field.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: gossip: %s: "+format, append([]any{core.ErrConfig, field}, args...)...)
	}
	if err := core.CheckBounds("gossip", []core.IntBound{
		{Name: "Fanout", V: c.Fanout, Min: 1},
		{Name: "LateFanout", V: c.LateFanout, Min: 0},
		{Name: "EagerHops", V: c.EagerHops, Min: 1},
		{Name: "LazyFanout", V: c.LazyFanout, Min: 0},
		{Name: "MaxTTL", V: c.MaxTTL, Min: 1},
		{Name: "MaxPayload", V: c.MaxPayload, Min: 1},
		{Name: "CacheSize", V: c.CacheSize, Min: 1},
		{Name: "MaxTrackedSenders", V: c.MaxTrackedSenders, Min: 1},
		{Name: "PeerBurst", V: c.PeerBurst, Min: 1},
		{Name: "GlobalBurst", V: c.GlobalBurst, Min: 1},
		{Name: "MaxTrackedPeers", V: c.MaxTrackedPeers, Min: 1},
		{Name: "PublisherBurst", V: c.PublisherBurst, Min: 1},
		{Name: "MaxTrackedPublishers", V: c.MaxTrackedPublishers, Min: 1},
		{Name: "HeartbeatPeers", V: c.HeartbeatPeers, Min: 0},
		{Name: "HistoryBytes", V: c.HistoryBytes, Min: 1},
		{Name: "MaxIHaveLength", V: c.MaxIHaveLength, Min: 1},
		{Name: "MaxIWantLength", V: c.MaxIWantLength, Min: 1},
		{Name: "MaxPending", V: c.MaxPending, Min: 1},
	}, []core.DurationBound{
		{Name: "CacheTTL", V: c.CacheTTL, Positive: true},
		{Name: "MaxClockSkew", V: c.MaxClockSkew, Positive: false},
		{Name: "HeartbeatInterval", V: c.HeartbeatInterval, Positive: false},
		{Name: "HistoryWindow", V: c.HistoryWindow, Positive: true},
		{Name: "GossipWindow", V: c.GossipWindow, Positive: true},
		{Name: "IWantDelay", V: c.IWantDelay, Positive: false},
		{Name: "IWantTimeout", V: c.IWantTimeout, Positive: true},
	}); err != nil {
		return err
	}
	switch {
	case c.GossipWindow > c.HistoryWindow:
		return bad("GossipWindow", "must not exceed HistoryWindow (%v), got %v", c.HistoryWindow, c.GossipWindow)
	case c.MaxTTL > 32:
		return bad("MaxTTL", "at most 32 hops, got %d", c.MaxTTL)
	case c.MaxPayload > wire.MaxGossipPayload:
		return bad("MaxPayload", "at most %d bytes (one datagram), got %d", wire.MaxGossipPayload, c.MaxPayload)
	case c.MaxIHaveLength > wire.MaxGossipIDs:
		return bad("MaxIHaveLength", "at most %d, got %d", wire.MaxGossipIDs, c.MaxIHaveLength)
	case c.MaxIWantLength > wire.MaxGossipIDs:
		return bad("MaxIWantLength", "at most %d, got %d", wire.MaxGossipIDs, c.MaxIWantLength)
	case !(c.PreferShare >= 0 && c.PreferShare <= 1):
		return bad("PreferShare", "must be in [0, 1], got %g", c.PreferShare)
	case !(c.PeerRate > 0) || math.IsInf(c.PeerRate, 0):
		return bad("PeerRate", "must be positive and finite, got %g", c.PeerRate)
	case !(c.GlobalRate > 0) || math.IsInf(c.GlobalRate, 0):
		return bad("GlobalRate", "must be positive and finite, got %g", c.GlobalRate)
	case !(c.PublisherRate > 0) || math.IsInf(c.PublisherRate, 0):
		return bad("PublisherRate", "must be positive and finite, got %g", c.PublisherRate)
	case c.HeartbeatInterval > 0 && c.HeartbeatPeers == 0:
		return bad("HeartbeatPeers", "must be positive when heartbeats are on")
	}
	return c.Repair.validate(c.CacheTTL)
}

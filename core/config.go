package core

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Config is the plan's NetworkConfig: every protocol parameter a node uses,
// with the plan's defaults. Scenario files (protocol:) and the node's TOML
// ([network]) set these by their tag names; omitted keys keep their defaults.
type Config struct {
	// DHT (Kademlia).
	KBucketSize        int           `yaml:"k_bucket_size" toml:"k_bucket_size"`
	DHTAlpha           int           `yaml:"dht_alpha" toml:"dht_alpha"`
	DHTRequestTimeout  time.Duration `yaml:"dht_request_timeout" toml:"dht_request_timeout"`
	DHTRefreshInterval time.Duration `yaml:"dht_refresh_interval" toml:"dht_refresh_interval"`
	DHTRecordTTL       time.Duration `yaml:"dht_record_ttl" toml:"dht_record_ttl"`

	// Gossip.
	GossipFanout           int           `yaml:"gossip_fanout" toml:"gossip_fanout"`
	GossipMessageCacheSize int           `yaml:"gossip_message_cache_size" toml:"gossip_message_cache_size"`
	GossipMessageCacheTTL  time.Duration `yaml:"gossip_message_cache_ttl" toml:"gossip_message_cache_ttl"`
	GossipMaxTTL           int           `yaml:"gossip_max_ttl" toml:"gossip_max_ttl"`
	GossipPeerRate         float64       `yaml:"gossip_peer_rate" toml:"gossip_peer_rate"`
	GossipPeerBurst        int           `yaml:"gossip_peer_burst" toml:"gossip_peer_burst"`
	GossipGlobalRate       float64       `yaml:"gossip_global_rate" toml:"gossip_global_rate"`
	// GossipPublisherRate and GossipPublisherBurst limit the valid new
	// messages a node accepts (and so forwards) per publisher, from all
	// peers together: the defence against a valid-message flood.
	GossipPublisherRate  float64 `yaml:"gossip_publisher_rate" toml:"gossip_publisher_rate"`
	GossipPublisherBurst int     `yaml:"gossip_publisher_burst" toml:"gossip_publisher_burst"`

	// Connections and health checks.
	MaxConnections    int           `yaml:"max_connections" toml:"max_connections"`
	TargetConnections int           `yaml:"target_connections" toml:"target_connections"`
	ConnectionTimeout time.Duration `yaml:"connection_timeout" toml:"connection_timeout"`
	PingInterval      time.Duration `yaml:"ping_interval" toml:"ping_interval"`
	PingTimeout       time.Duration `yaml:"ping_timeout" toml:"ping_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout" toml:"idle_timeout"`
	// ConnGracePeriod protects a new connection from pruning while it is
	// younger; 0 disables the grace.
	ConnGracePeriod time.Duration `yaml:"connection_grace_period" toml:"connection_grace_period"`
	// ConnTrimPause is the least time between two trims; 0 allows a trim
	// at every limit hit.
	ConnTrimPause time.Duration `yaml:"connection_trim_pause" toml:"connection_trim_pause"`
	// PruningStrategy ranks connections for trimming: one of
	// PruningStrategies (lru, reputation, latency, combined).
	PruningStrategy string `yaml:"pruning_strategy" toml:"pruning_strategy"`
	// ReconnectBackoffBase and ReconnectBackoffMax bound the exponential
	// backoff of redials to important peers (base x 2^attempt, capped).
	ReconnectBackoffBase time.Duration `yaml:"reconnect_backoff_base" toml:"reconnect_backoff_base"`
	ReconnectBackoffMax  time.Duration `yaml:"reconnect_backoff_max" toml:"reconnect_backoff_max"`

	// NAT traversal.
	EnableUPnP         bool `yaml:"enable_upnp" toml:"enable_upnp"`
	EnableHolePunching bool `yaml:"enable_hole_punching" toml:"enable_hole_punching"`

	// Relays.
	EnableRelay             bool    `yaml:"enable_relay" toml:"enable_relay"`
	MaxRelayHops            int     `yaml:"max_relay_hops" toml:"max_relay_hops"`
	RelayBandwidthLimitMbps float64 `yaml:"relay_bandwidth_limit_mbps" toml:"relay_bandwidth_limit_mbps"`
}

// PruningStrategies are the values of pruning_strategy: least recently
// used, lowest reputation, highest latency, or a weighted combination.
var PruningStrategies = []string{"lru", "reputation", "latency", "combined"}

// DefaultConfig returns the plan's defaults.
func DefaultConfig() Config {
	return Config{
		KBucketSize:        20,
		DHTAlpha:           3,
		DHTRequestTimeout:  2 * time.Second,
		DHTRefreshInterval: time.Hour,
		DHTRecordTTL:       24 * time.Hour,

		GossipFanout:           6,
		GossipMessageCacheSize: 10000,
		GossipMessageCacheTTL:  5 * time.Minute,
		GossipMaxTTL:           32,
		GossipPeerRate:         10,
		GossipPeerBurst:        20,
		GossipGlobalRate:       1000,
		GossipPublisherRate:    1,
		GossipPublisherBurst:   10,

		MaxConnections:    50,
		TargetConnections: 30,
		ConnectionTimeout: 10 * time.Second,
		PingInterval:      30 * time.Second,
		PingTimeout:       10 * time.Second,
		IdleTimeout:       5 * time.Minute,

		ConnGracePeriod:      30 * time.Second,
		ConnTrimPause:        10 * time.Second,
		PruningStrategy:      "combined",
		ReconnectBackoffBase: time.Second,
		ReconnectBackoffMax:  5 * time.Minute,

		EnableUPnP:         true,
		EnableHolePunching: true,

		EnableRelay:             false,
		MaxRelayHops:            3,
		RelayBandwidthLimitMbps: 10,
	}
}

// Validate reports the first out-of-range parameter, by its tag name.
func (c Config) Validate() error {
	bad := func(key string, format string, args ...any) error {
		return fmt.Errorf("%w: %s: "+format, append([]any{ErrConfig, key}, args...)...)
	}
	positive := []struct {
		key string
		v   int
	}{
		{"k_bucket_size", c.KBucketSize}, {"dht_alpha", c.DHTAlpha},
		{"gossip_fanout", c.GossipFanout}, {"gossip_message_cache_size", c.GossipMessageCacheSize},
		{"gossip_max_ttl", c.GossipMaxTTL}, {"gossip_peer_burst", c.GossipPeerBurst},
		{"gossip_publisher_burst", c.GossipPublisherBurst},
		{"max_connections", c.MaxConnections}, {"target_connections", c.TargetConnections},
		{"max_relay_hops", c.MaxRelayHops},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return bad(p.key, "must be positive, got %d", p.v)
		}
	}
	durations := []struct {
		key string
		v   time.Duration
	}{
		{"dht_request_timeout", c.DHTRequestTimeout}, {"dht_refresh_interval", c.DHTRefreshInterval},
		{"dht_record_ttl", c.DHTRecordTTL}, {"gossip_message_cache_ttl", c.GossipMessageCacheTTL},
		{"connection_timeout", c.ConnectionTimeout}, {"ping_interval", c.PingInterval},
		{"ping_timeout", c.PingTimeout}, {"idle_timeout", c.IdleTimeout},
		{"reconnect_backoff_base", c.ReconnectBackoffBase}, {"reconnect_backoff_max", c.ReconnectBackoffMax},
	}
	for _, d := range durations {
		if d.v <= 0 {
			return bad(d.key, "must be a positive duration, got %v", d.v)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"connection_grace_period", c.ConnGracePeriod}, {"connection_trim_pause", c.ConnTrimPause}} {
		if d.v < 0 {
			return bad(d.key, "must not be negative, got %v", d.v)
		}
	}
	switch {
	case c.KBucketSize > 256:
		return bad("k_bucket_size", "at most 256, got %d", c.KBucketSize)
	case c.DHTAlpha > c.KBucketSize:
		return bad("dht_alpha", "at most k_bucket_size (%d), got %d", c.KBucketSize, c.DHTAlpha)
	case c.GossipMaxTTL > 32:
		return bad("gossip_max_ttl", "at most 32 hops, got %d", c.GossipMaxTTL)
	case c.TargetConnections > c.MaxConnections:
		return bad("target_connections", "must not exceed max_connections (%d), got %d", c.MaxConnections, c.TargetConnections)
	case c.MaxRelayHops > 8:
		return bad("max_relay_hops", "at most 8, got %d", c.MaxRelayHops)
	case c.GossipPeerRate <= 0:
		return bad("gossip_peer_rate", "must be positive, got %g", c.GossipPeerRate)
	case c.GossipGlobalRate <= 0:
		return bad("gossip_global_rate", "must be positive, got %g", c.GossipGlobalRate)
	case !(c.GossipPublisherRate > 0) || math.IsInf(c.GossipPublisherRate, 0):
		return bad("gossip_publisher_rate", "must be positive and finite, got %g", c.GossipPublisherRate)
	case c.RelayBandwidthLimitMbps <= 0:
		return bad("relay_bandwidth_limit_mbps", "must be positive, got %g", c.RelayBandwidthLimitMbps)
	case c.ReconnectBackoffMax < c.ReconnectBackoffBase:
		return bad("reconnect_backoff_max", "must not be below reconnect_backoff_base (%v), got %v", c.ReconnectBackoffBase, c.ReconnectBackoffMax)
	case !slices.Contains(PruningStrategies, c.PruningStrategy):
		return bad("pruning_strategy", "unknown strategy %q (want one of %s)", c.PruningStrategy, strings.Join(PruningStrategies, ", "))
	case c.PingTimeout > c.PingInterval:
		return bad("ping_timeout", "must not exceed ping_interval (%v), got %v", c.PingInterval, c.PingTimeout)
	}
	return nil
}

package dht

import (
	"fmt"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// Config tunes a DHT. FromCore fills the fields core.Config (the plan's
// NetworkConfig) names; the rest keep DefaultConfig's values unless set.
type Config struct {
	// K is the bucket size and the number of peers a lookup returns
	// (k_bucket_size, Kademlia's k).
	K int
	// Alpha is a lookup's parallelism (dht_alpha).
	Alpha int
	// Converge is the lookup stop rule: a lookup ends when the Converge
	// closest candidates not known to have failed have all answered.
	// 0 means K (Kademlia's rule); 3 ends lookups about twice as fast
	// but finds fewer of the k closest.
	Converge int
	// RefreshConverge is the stop rule of bucket-refresh lookups (Kademlia
	// §2.4), whose only purpose is to meet peers in a bucket's range: every
	// peer that answers enters the table. 0 means Converge; values above K
	// act as K.
	RefreshConverge int

	// RequestTimeout is the longest a request waits for its answer
	// (dht_request_timeout). A peer whose RTT is known gets
	// clamp(3 x RTT, MinRequestTimeout, RequestTimeout).
	RequestTimeout time.Duration
	// MinRequestTimeout is the floor of RTT-based timeouts.
	MinRequestTimeout time.Duration
	// FirstContactTimeout is the timeout for a peer whose RTT is unknown;
	// at most RequestTimeout.
	FirstContactTimeout time.Duration
	// LookupTimeout is a lookup's overall deadline: it then ends, failed.
	LookupTimeout time.Duration
	// MaxPending bounds the requests in flight, so that nothing a peer
	// sends can make the node hold unbounded state.
	MaxPending int
	// MaxFailures is the number of consecutive unanswered requests after
	// which a table entry is removed (its best replacement promoted).
	MaxFailures int

	// ProbeInterval: a full bucket pings its least recently seen entry
	// for a newcomer only if that entry was not seen within this interval
	// (0: always), so busy nodes do not ping on every request.
	ProbeInterval time.Duration
	// Replacements bounds each bucket's replacement cache (Kademlia §4.1).
	Replacements int
	// DiversityLimits enables the per-prefix limits below (S/Kademlia,
	// IPFS's diversity filter). Disable for loopback clusters, which all
	// live in 127.0.0.0/24.
	DiversityLimits bool
	// MaxPerPrefixBucket and MaxPerPrefixTable bound the peers sharing an
	// IPv4 /IPv4PrefixBits (IPv6 /IPv6PrefixBits) prefix in one bucket and
	// in the whole table.
	MaxPerPrefixBucket int
	MaxPerPrefixTable  int
	IPv4PrefixBits     int
	IPv6PrefixBits     int
	// DepthProbes is how many lookups of random far keys a node makes
	// after joining, to measure the network's depth; with DiversityLimits
	// the buckets beyond it then hold at most K peers between them
	// (Table.SetDepth), against eclipse attacks. 0: none.
	DepthProbes int

	// RefreshInterval: a bucket no lookup went into for this long is
	// refreshed with a lookup of a random key in its range (Kademlia §2.4;
	// dht_refresh_interval).
	RefreshInterval time.Duration
	// MaintenanceInterval is the period of the maintenance timer, which
	// refreshes stale buckets, expires records and republishes own ones.
	MaintenanceInterval time.Duration
	// MaxRefreshPerTick bounds the refresh lookups one tick starts.
	MaxRefreshPerTick int
	// BootstrapRefresh bounds the bucket refreshes after the bootstrap's
	// self-lookup (only buckets farther than the closest neighbour that
	// are not full are refreshed).
	BootstrapRefresh int
	// BootstrapRetry is the wait before a failed bootstrap (no bootstrap
	// peer answered) is tried again; it doubles after each failure, up to
	// BootstrapRetryMax, with ±50% jitter so the nodes that failed
	// together do not retry together. 0: no retry.
	BootstrapRetry    time.Duration
	BootstrapRetryMax time.Duration

	// RecordTTL is a record's lifetime (dht_record_ttl); publishers
	// republish their records when less than half of it is left.
	RecordTTL time.Duration
	// MaxClockSkew is how far past now+RecordTTL a record's expiry may be.
	MaxClockSkew time.Duration
	// MaxRecords bounds the records stored for others.
	MaxRecords int
	// MaxValue bounds a record's value, at most wire.MaxDHTValue.
	MaxValue int

	// GossipPeerLimit bounds GossipPeers (0: the whole table).
	GossipPeerLimit int
	// Capabilities are the ones this node advertises in its messages.
	Capabilities Capabilities
}

// DefaultConfig returns the plan's DHT values (k 20, alpha 3, 2 s request
// timeout, 1 h refresh, 24 h records) and this package's own.
func DefaultConfig() Config {
	return Config{
		K:                   20,
		Alpha:               3,
		RefreshConverge:     3,
		RequestTimeout:      2 * time.Second,
		MinRequestTimeout:   100 * time.Millisecond,
		FirstContactTimeout: time.Second,
		LookupTimeout:       10 * time.Second,
		MaxPending:          4096,
		MaxFailures:         2,
		ProbeInterval:       30 * time.Second,
		Replacements:        8,
		DiversityLimits:     true,
		MaxPerPrefixBucket:  2,
		MaxPerPrefixTable:   10,
		IPv4PrefixBits:      24,
		IPv6PrefixBits:      48,
		DepthProbes:         3,
		RefreshInterval:     time.Hour,
		MaintenanceInterval: 10 * time.Minute,
		MaxRefreshPerTick:   16,
		BootstrapRefresh:    8,
		BootstrapRetry:      2 * time.Second,
		BootstrapRetryMax:   time.Minute,
		RecordTTL:           24 * time.Hour,
		MaxClockSkew:        time.Minute,
		MaxRecords:          4096,
		MaxValue:            wire.MaxDHTValue,
		GossipPeerLimit:     0,
	}
}

// FromCore returns DefaultConfig with the DHT fields of c applied.
func FromCore(c core.Config) Config {
	d := DefaultConfig()
	d.K = c.KBucketSize
	d.Alpha = c.DHTAlpha
	d.RequestTimeout = c.DHTRequestTimeout
	d.FirstContactTimeout = min(d.FirstContactTimeout, c.DHTRequestTimeout)
	d.MinRequestTimeout = min(d.MinRequestTimeout, c.DHTRequestTimeout)
	d.RefreshInterval = c.DHTRefreshInterval
	d.RecordTTL = c.DHTRecordTTL
	return d
}

// Validate reports the first out-of-range field.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: dht: %s: "+format, append([]any{core.ErrConfig, field}, args...)...)
	}
	if err := core.CheckBounds("dht", []core.IntBound{
		{Name: "K", V: c.K, Min: 1},
		{Name: "Alpha", V: c.Alpha, Min: 1},
		{Name: "MaxPending", V: c.MaxPending, Min: 1},
		{Name: "MaxFailures", V: c.MaxFailures, Min: 1},
		{Name: "Replacements", V: c.Replacements, Min: 0},
		{Name: "MaxPerPrefixBucket", V: c.MaxPerPrefixBucket, Min: 1},
		{Name: "MaxPerPrefixTable", V: c.MaxPerPrefixTable, Min: 1},
		{Name: "DepthProbes", V: c.DepthProbes, Min: 0},
		{Name: "IPv4PrefixBits", V: c.IPv4PrefixBits, Min: 0},
		{Name: "IPv6PrefixBits", V: c.IPv6PrefixBits, Min: 0},
		{Name: "MaxRefreshPerTick", V: c.MaxRefreshPerTick, Min: 0},
		{Name: "BootstrapRefresh", V: c.BootstrapRefresh, Min: 0},
		{Name: "MaxRecords", V: c.MaxRecords, Min: 1},
		{Name: "MaxValue", V: c.MaxValue, Min: 1},
		{Name: "GossipPeerLimit", V: c.GossipPeerLimit, Min: 0},
		{Name: "Converge", V: c.Converge, Min: 0},
		{Name: "RefreshConverge", V: c.RefreshConverge, Min: 0},
	}, []core.DurationBound{
		{Name: "RequestTimeout", V: c.RequestTimeout, Positive: true},
		{Name: "MinRequestTimeout", V: c.MinRequestTimeout, Positive: true},
		{Name: "FirstContactTimeout", V: c.FirstContactTimeout, Positive: true},
		{Name: "LookupTimeout", V: c.LookupTimeout, Positive: true},
		{Name: "RefreshInterval", V: c.RefreshInterval, Positive: true},
		{Name: "MaintenanceInterval", V: c.MaintenanceInterval, Positive: true},
		{Name: "RecordTTL", V: c.RecordTTL, Positive: true},
	}); err != nil {
		return err
	}
	switch {
	case c.K > wire.MaxDHTNodes:
		return bad("K", "at most %d, got %d", wire.MaxDHTNodes, c.K)
	case c.Converge > c.K:
		return bad("Converge", "at most K (%d), got %d", c.K, c.Converge)
	case c.Alpha > c.K:
		return bad("Alpha", "at most K (%d), got %d", c.K, c.Alpha)
	case c.MinRequestTimeout > c.RequestTimeout:
		return bad("MinRequestTimeout", "must not exceed RequestTimeout (%v), got %v", c.RequestTimeout, c.MinRequestTimeout)
	case c.FirstContactTimeout > c.RequestTimeout:
		return bad("FirstContactTimeout", "must not exceed RequestTimeout (%v), got %v", c.RequestTimeout, c.FirstContactTimeout)
	case c.ProbeInterval < 0:
		return bad("ProbeInterval", "must not be negative, got %v", c.ProbeInterval)
	case c.BootstrapRetry < 0:
		return bad("BootstrapRetry", "must not be negative, got %v", c.BootstrapRetry)
	case c.BootstrapRetry > 0 && c.BootstrapRetryMax < c.BootstrapRetry:
		return bad("BootstrapRetryMax", "must be at least BootstrapRetry (%v), got %v", c.BootstrapRetry, c.BootstrapRetryMax)
	case c.MaxClockSkew < 0:
		return bad("MaxClockSkew", "must not be negative, got %v", c.MaxClockSkew)
	case c.IPv4PrefixBits > 32:
		return bad("IPv4PrefixBits", "at most 32, got %d", c.IPv4PrefixBits)
	case c.IPv6PrefixBits > 128:
		return bad("IPv6PrefixBits", "at most 128, got %d", c.IPv6PrefixBits)
	case c.MaxValue > wire.MaxDHTValue:
		return bad("MaxValue", "at most %d, got %d", wire.MaxDHTValue, c.MaxValue)
	}
	return nil
}

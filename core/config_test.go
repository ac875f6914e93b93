package core

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidateNamesKey(t *testing.T) {
	cases := []struct {
		key string
		mut func(*Config)
	}{
		{"k_bucket_size", func(c *Config) { c.KBucketSize = 0 }},
		{"dht_alpha", func(c *Config) { c.DHTAlpha = 30 }},
		{"gossip_max_ttl", func(c *Config) { c.GossipMaxTTL = 33 }},
		{"target_connections", func(c *Config) { c.TargetConnections = 60 }},
		{"ping_timeout", func(c *Config) { c.PingTimeout = time.Minute }},
		{"idle_timeout", func(c *Config) { c.IdleTimeout = -1 }},
		{"gossip_peer_rate", func(c *Config) { c.GossipPeerRate = 0 }},
		{"connection_grace_period", func(c *Config) { c.ConnGracePeriod = -time.Second }},
		{"connection_trim_pause", func(c *Config) { c.ConnTrimPause = -1 }},
		{"pruning_strategy", func(c *Config) { c.PruningStrategy = "random" }},
		{"pruning_strategy", func(c *Config) { c.PruningStrategy = "" }},
		{"reconnect_backoff_base", func(c *Config) { c.ReconnectBackoffBase = 0 }},
		{"reconnect_backoff_max", func(c *Config) { c.ReconnectBackoffMax = c.ReconnectBackoffBase / 2 }},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.mut(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s: err = %v", c.key, err)
		}
	}
}

// Zero grace and trim pause are allowed (prune at once), and every
// strategy name is.
func TestConfigConnectionKeys(t *testing.T) {
	c := DefaultConfig()
	c.ConnGracePeriod, c.ConnTrimPause = 0, 0
	for _, s := range PruningStrategies {
		c.PruningStrategy = s
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestCheckBounds(t *testing.T) {
	ok := CheckBounds("x", []IntBound{{"A", 1, 1}, {"B", 0, 0}}, []DurationBound{{"D", 0, false}, {"E", time.Second, true}})
	if ok != nil {
		t.Fatal(ok)
	}
	cases := []struct {
		ints []IntBound
		durs []DurationBound
		want string
	}{
		{[]IntBound{{"A", 0, 1}}, nil, "x: A: must be at least 1, got 0"},
		{nil, []DurationBound{{"D", -1, false}}, "x: D: must be a positive duration, got -1ns"},
		{nil, []DurationBound{{"E", 0, true}}, "x: E: must be a positive duration, got 0s"},
	}
	for _, c := range cases {
		err := CheckBounds("x", c.ints, c.durs)
		if !errors.Is(err, ErrConfig) || !strings.HasSuffix(err.Error(), c.want) {
			t.Errorf("err = %v, want ...%s", err, c.want)
		}
	}
}

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

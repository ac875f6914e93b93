package relay_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/relay"
	"github.com/dchat/network/core/wire"
)

func TestConfig(t *testing.T) {
	if err := relay.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cc := core.DefaultConfig()
	cc.EnableRelay, cc.MaxRelayHops, cc.RelayBandwidthLimitMbps = true, 5, 2.5
	c := relay.FromCore(cc)
	if !c.Enabled || c.MaxHops != 5 || c.BandwidthLimitMbps != 2.5 || c.Validate() != nil {
		t.Fatalf("FromCore: %+v", c)
	}
	if d := relay.FromCore(core.DefaultConfig()); d.Enabled || d.MaxHops != 3 || d.BandwidthLimitMbps != 10 {
		t.Fatalf("FromCore(defaults): %+v", d)
	}
	bad := []func(c *relay.Config){
		func(c *relay.Config) { c.MaxHops = 0 },
		func(c *relay.Config) { c.MaxHops = wire.MaxRelayPath + 1 },
		func(c *relay.Config) { c.MaxPayload = wire.MaxRelayPayload + 1 },
		func(c *relay.Config) { c.AckTimeout = 0 },
		func(c *relay.Config) { c.BatchSize = 0 },
		func(c *relay.Config) { c.BatchInterval = 0 },
		func(c *relay.Config) { c.BurstWindow = 0 },
		func(c *relay.Config) { c.MaxPendingPerSender = c.MaxPending + 1 },
		func(c *relay.Config) { c.BandwidthLimitMbps = 0 },
		func(c *relay.Config) { c.BandwidthLimitMbps = math.Inf(1) },
		func(c *relay.Config) { c.BandwidthLimitMbps = math.NaN() },
		func(c *relay.Config) { c.PeerShare = 0 },
		func(c *relay.Config) { c.PeerShare = 1.01 },
		func(c *relay.Config) { c.MaxSeen = 0 },
		func(c *relay.Config) { c.Audit.MaxHold = -time.Second },
	}
	for i, f := range bad {
		c := relay.DefaultConfig()
		f(&c)
		if err := c.Validate(); !errors.Is(err, core.ErrConfig) {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

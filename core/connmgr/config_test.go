package connmgr_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
)

func TestConfig(t *testing.T) {
	if err := connmgr.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cc := core.DefaultConfig()
	cc.MaxConnections, cc.TargetConnections, cc.ConnectionTimeout = 80, 40, 3*time.Second
	cc.PingInterval, cc.PingTimeout, cc.IdleTimeout = 20*time.Second, 5*time.Second, time.Minute
	m := connmgr.FromCore(cc)
	if m.MaxConnections != 80 || m.Target != 40 || m.DialTimeout != 3*time.Second || m.Health.PingInterval != 20*time.Second ||
		m.Health.PingTimeout != 5*time.Second || m.Health.IdleTimeout != time.Minute {
		t.Fatalf("FromCore: %+v", m)
	}
	if err := connmgr.FromCore(core.DefaultConfig()).Validate(); err != nil {
		t.Fatalf("plan defaults: %v", err)
	}
	if d, c := connmgr.DefaultConfig(), connmgr.FromCore(core.DefaultConfig()); d.GracePeriod != c.GracePeriod ||
		d.TrimPause != c.TrimPause || d.Strategy != c.Strategy || d.Reconnect != c.Reconnect {
		t.Errorf("core's defaults differ from this package's: %+v", c)
	}
	cc.ConnGracePeriod, cc.ConnTrimPause, cc.PruningStrategy = 0, 2*time.Second, "latency"
	cc.ReconnectBackoffBase, cc.ReconnectBackoffMax = 3*time.Second, time.Minute
	m = connmgr.FromCore(cc)
	if m.GracePeriod != 0 || m.TrimPause != 2*time.Second || m.Strategy != connmgr.HighestLatency ||
		m.Reconnect.Base != 3*time.Second || m.Reconnect.Max != time.Minute || m.Reconnect.Jitter != 0.2 {
		t.Fatalf("FromCore: %+v", m)
	}
	cc.PruningStrategy = "random"
	if err := connmgr.FromCore(cc).Validate(); !errors.Is(err, core.ErrConfig) {
		t.Errorf("unknown strategy: %v", err)
	}
	bad := map[string]func(*connmgr.Config){
		"max":           func(c *connmgr.Config) { c.MaxConnections = 0 },
		"target>max":    func(c *connmgr.Config) { c.Target = 51 },
		"dial timeout":  func(c *connmgr.Config) { c.DialTimeout = 0 },
		"strategy":      func(c *connmgr.Config) { c.Strategy = 9 },
		"weights":       func(c *connmgr.Config) { c.Weights = connmgr.Weights{} },
		"neg weight":    func(c *connmgr.Config) { c.Weights.Loss = -1 },
		"backoff":       func(c *connmgr.Config) { c.Reconnect.Max = time.Millisecond },
		"jitter":        func(c *connmgr.Config) { c.Reconnect.Jitter = 1 },
		"ping timeout":  func(c *connmgr.Config) { c.Health.PingTimeout = time.Minute },
		"loss window":   func(c *connmgr.Config) { c.Health.LossWindow = 65 },
		"loss":          func(c *connmgr.Config) { c.Health.UnhealthyLoss = 2 },
		"min samples":   func(c *connmgr.Config) { c.Health.MinLossSamples = 11 },
		"reputation":    func(c *connmgr.Config) { c.MinReputation = -2 },
		"negative idle": func(c *connmgr.Config) { c.Health.IdleTimeout = -1 },
		"max dialing":   func(c *connmgr.Config) { c.MaxDialing = 0 },
	}
	for name, f := range bad {
		c := connmgr.DefaultConfig()
		f(&c)
		if err := c.Validate(); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	net := coretest.New(time.Millisecond)
	node := net.AddNode(0, core.DefaultConfig())
	if _, err := connmgr.New(node, connmgr.Config{}); err == nil {
		t.Error("zero config accepted")
	}
	if _, err := connmgr.New(nil, connmgr.DefaultConfig()); err == nil {
		t.Error("nil node accepted")
	}
	if _, err := connmgr.New(node, connmgr.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if _, err := connmgr.New(node, connmgr.DefaultConfig()); err == nil {
		t.Error("second manager on one node: kinds registered twice without error")
	}
}

func TestSetLimitsValidates(t *testing.T) {
	c := newCluster(t, 1, time.Millisecond, nil)
	for _, l := range [][2]int{{0, 0}, {5, 6}, {5, -1}} {
		if err := c.ms[0].SetLimits(c.net.Now(), l[0], l[1]); !errors.Is(err, core.ErrConfig) {
			t.Errorf("SetLimits(%d, %d): %v", l[0], l[1], err)
		}
	}
}

// Nothing a peer or the DHT feeds in grows state without bound.
func TestBoundedState(t *testing.T) {
	c := newCluster(t, 1, time.Millisecond, func(int) connmgr.Config {
		cfg := connmgr.DefaultConfig()
		cfg.MaxCandidates, cfg.MaxPeers, cfg.MaxDialing = 20, 30, 4
		return cfg
	})
	m := c.ms[0]
	var cands []connmgr.PeerAddr
	for i := 1; i <= 100; i++ {
		cands = append(cands, connmgr.PeerAddr{ID: peerID(t, byte(i)), Addr: coretest.Addr(i)})
	}
	m.AddCandidates(c.net.Now(), cands) // the queue keeps the newest 20, 4 of which are dialled
	if m.Dialing() != 4 || m.Candidates() != 16 {
		t.Fatalf("dialing %d, queued %d", m.Dialing(), m.Candidates())
	}
	for i := 101; i <= 200; i++ {
		m.AdjustReputation(peerID(t, byte(i)), -0.1)
	}
	// The book holds the 4 dialled peers and at most MaxPeers in all.
	n := 0
	for i := 1; i <= 200; i++ {
		if m.Reputation(peerID(t, byte(i))) != 0 {
			n++
		}
	}
	if n > 30 {
		t.Errorf("%d reputations kept, book bounded at 30", n)
	}
	if m.Reputation(peerID(t, 200)) != -0.1 {
		t.Error("newest reputation not kept")
	}
}

package connmgr_test

import (
	"crypto/sha256"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
)

// soak runs n nodes with small limits under loss, crashes and restarts,
// all fed every other node as candidates, and checks the invariants: no
// node above its cap at any session opening, and every session held by
// both ends once the network is quiet. It returns a hash of the event log.
func soak(t *testing.T, seed uint64) [32]byte {
	const n = 40
	c := newCluster(t, n, 0, func(int) connmgr.Config {
		cfg := connmgr.DefaultConfig()
		cfg.MaxConnections, cfg.Target = 8, 5
		cfg.GracePeriod, cfg.TrimPause = 5*time.Second, 2*time.Second
		cfg.Health.IdleTimeout = 0
		return cfg
	})
	r := rand.New(rand.NewPCG(seed, 99))
	lossy := true
	c.net.DelayFn = func(from, to netip.AddrPort) time.Duration {
		return time.Duration(5+int(from.Addr().As4()[3])%7+int(to.Addr().As4()[3])%5) * time.Millisecond
	}
	c.net.Drop = func(from, to netip.AddrPort, pkt []byte) bool { return lossy && r.Float64() < 0.05 }
	for i := range n {
		watchMax(t, c, i) // 8, or what SetLimits set
		if i%7 == 0 {
			c.ms[i].KeepAlive(c.id((i + 1) % n))
		}
	}
	offer := func(i int) {
		var cands []connmgr.PeerAddr
		for _, j := range r.Perm(n)[:12] {
			if j != i {
				cands = append(cands, connmgr.PeerAddr{ID: c.id(j), Addr: coretest.Addr(j)})
			}
		}
		c.ms[i].AddCandidates(c.net.Now(), cands)
	}
	for i := range n {
		offer(i)
	}
	down := map[int]bool{}
	for step := range 120 {
		c.run(5 * time.Second)
		i := r.IntN(n)
		switch {
		case down[i]:
			c.nodes[i].Start(c.net.Now())
			delete(down, i)
		case step%3 == 0 && len(down) < 4:
			c.nodes[i].Stop(c.net.Now())
			down[i] = true
		case step%5 == 0:
			c.ms[i].SetLimits(c.net.Now(), 4+r.IntN(6), 3)
		default:
			offer(i)
		}
	}
	for i := range n {
		if down[i] {
			c.nodes[i].Start(c.net.Now())
		}
	}
	lossy = false
	c.run(3 * time.Minute)
	c.checkSymmetric()
	total := 0
	for i, m := range c.ms {
		if m.Count() > m.Config().MaxConnections || m.Dialing() != 0 {
			t.Errorf("node %d: count %d (max %d), dialing %d", i, m.Count(), m.Config().MaxConnections, m.Dialing())
		}
		total += m.Count()
	}
	if testing.Verbose() {
		agg := map[string]map[string]uint64{}
		for _, m := range c.ms {
			st := m.Stats()
			for name, mp := range map[string]map[string]uint64{"rejects": st.Rejects, "closes": st.Closes, "prunes": st.Prunes, "drops": st.Drops, "health": st.HealthChanges} {
				if agg[name] == nil {
					agg[name] = map[string]uint64{}
				}
				for k, v := range mp {
					agg[name][k] += v
				}
			}
		}
		t.Logf("sessions %d, %v", total/2, agg)
	}
	if total < n {
		t.Errorf("only %d sessions among %d nodes", total/2, n)
	}
	return sha256.Sum256([]byte(c.net.String()))
}

func TestSoakDeterministic(t *testing.T) {
	a, b, other := soak(t, 1), soak(t, 1), soak(t, 2)
	if a != b {
		t.Error("same seed, different event logs")
	}
	if a == other {
		t.Error("different seeds, same event log")
	}
}

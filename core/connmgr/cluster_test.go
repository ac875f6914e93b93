package connmgr_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
)

// cluster is n nodes, each with a connection manager, in a coretest.Net.
type cluster struct {
	t     testing.TB
	net   *coretest.Net
	nodes []*core.Node
	ms    []*connmgr.Manager
	addrs map[netip.AddrPort]int
}

func newCluster(t testing.TB, n int, delay time.Duration, cfg func(i int) connmgr.Config) *cluster {
	t.Helper()
	c := &cluster{t: t, net: coretest.New(delay), addrs: map[netip.AddrPort]int{}}
	for i := range n {
		node := c.net.AddNode(i, core.DefaultConfig())
		cc := connmgr.DefaultConfig()
		if cfg != nil {
			cc = cfg(i)
		}
		m, err := connmgr.New(node, cc)
		if err != nil {
			t.Fatal(err)
		}
		node.Start(c.net.Now())
		c.nodes = append(c.nodes, node)
		c.ms = append(c.ms, m)
		c.addrs[coretest.Addr(i)] = i
	}
	return c
}

func (c *cluster) id(i int) identity.PeerID { return c.nodes[i].ID() }

func (c *cluster) connect(from, to int) {
	c.t.Helper()
	if err := c.ms[from].Connect(c.net.Now(), c.id(to), coretest.Addr(to)); err != nil {
		c.t.Fatalf("connect %d -> %d: %v", from, to, err)
	}
}

// run advances virtual time by d.
func (c *cluster) run(d time.Duration) { c.net.Run(c.net.Now().Add(d)) }

// since returns the virtual time elapsed since the epoch.
func (c *cluster) since() time.Duration { return c.net.Now().Sub(coretest.Epoch) }

// connectedTo returns the indices of the peers node i is connected to.
func (c *cluster) connectedTo(i int) []int {
	var out []int
	for _, x := range c.ms[i].Connections() {
		if x.State == connmgr.Connected {
			out = append(out, c.addrs[x.Addr])
		}
	}
	slices.Sort(out)
	return out
}

// checkSymmetric fails unless every session is held by both ends.
func (c *cluster) checkSymmetric() {
	c.t.Helper()
	for i := range c.ms {
		for _, j := range c.connectedTo(i) {
			if !slices.Contains(c.connectedTo(j), i) {
				c.t.Errorf("%d is connected to %d but not the reverse", i, j)
			}
		}
	}
}

// events returns node i's events of type E.
func events[E core.Event](c *cluster, i int) []E {
	var out []E
	for _, o := range c.net.Events {
		if e, ok := o.Ev.(E); ok && o.Node == coretest.Addr(i) {
			out = append(out, e)
		}
	}
	return out
}

// eventTimes returns when node i observed events of type E, since the epoch.
func eventTimes[E core.Event](c *cluster, i int) []time.Duration {
	var out []time.Duration
	for _, o := range c.net.Events {
		if _, ok := o.Ev.(E); ok && o.Node == coretest.Addr(i) {
			out = append(out, o.Time.Sub(coretest.Epoch))
		}
	}
	return out
}

func drops(c *cluster, i int) map[string]int {
	got := map[string]int{}
	for _, d := range events[core.Drop](c, i) {
		got[d.Reason]++
	}
	return got
}

func (c *cluster) dump() string {
	s := ""
	for i, m := range c.ms {
		s += fmt.Sprintf("node %d: count %d dialing %d stats %+v\n", i, m.Count(), m.Dialing(), m.Stats())
	}
	return s
}

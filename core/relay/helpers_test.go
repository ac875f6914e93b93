package relay_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/relay"
	"github.com/dchat/network/core/wire"
)

func ident(tb testing.TB, b byte) *identity.Identity {
	tb.Helper()
	id, err := identity.FromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func keyOf(id identity.PeerID) (k [32]byte) {
	copy(k[:], id.PublicKey())
	return k
}

// proofSpec describes a proof to build outside the network.
type proofSpec struct {
	hops    int
	payload []byte
	sent    int64
	// step is the time between consecutive signed times (link and hold).
	step int64
	// times, if set, overrides every signed time after sent: per hop
	// received and handed off, then the ack.
	times []int64
}

// buildProof makes a complete proof with the exported building blocks
// only: sender 0x10, relays 0x11.., recipient after them.
func buildProof(tb testing.TB, s proofSpec) *relay.Proof {
	tb.Helper()
	if s.step == 0 {
		s.step = int64(10 * time.Millisecond)
	}
	if s.sent == 0 {
		s.sent = coretest.Epoch.UnixNano()
	}
	times := s.times
	if times == nil {
		for i := range 2*s.hops + 1 {
			times = append(times, s.sent+int64(i+1)*s.step)
		}
	}
	sender := ident(tb, 0x10)
	rcpt := ident(tb, byte(0x11+s.hops))
	p := &relay.Proof{
		PayloadHash: relay.PayloadHash(s.payload), Nonce: 7, Sender: sender.ID(), Sent: s.sent, Recipient: rcpt.ID(),
	}
	m := wire.RelayData{Recipient: wire.RelayHop{Key: keyOf(rcpt.ID())}}
	var relays []*identity.Identity
	for i := range s.hops {
		r := ident(tb, byte(0x11+i))
		relays = append(relays, r)
		p.Path = append(p.Path, r.ID())
		m.Path = append(m.Path, wire.RelayHop{Key: keyOf(r.ID())})
	}
	p.ID = relay.ComputeID(p.Sender, p.Nonce, p.PayloadHash)
	m.ID = p.ID
	copy(p.RouteSig[:], sender.Sign(relay.RouteBytes(p.ID, p.Sent, p.Recipient, p.Path)))
	for i, r := range relays {
		if err := relay.AppendHandoff(r, &m, times[2*i], times[2*i+1]); err != nil {
			tb.Fatal(err)
		}
		p.Hops = append(p.Hops, relay.HopRecord(m.Records[i]))
	}
	p.Ack.Received = times[2*s.hops]
	copy(p.Ack.Sig[:], rcpt.Sign(relay.AckBytes(p.ID, p.Recipient, p.Ack.Received, relay.ChainHash(p.Path, p.Hops))))
	return p
}

// cluster is n nodes running relay components in a coretest.Net. Node i
// is at coretest.Addr(i).
type cluster struct {
	net       *coretest.Net
	nodes     []*core.Node
	rs        []*relay.Relay
	outcomes  [][]relay.Outcome
	delivered [][]relay.Message
	batches   [][]*relay.Batch
}

// newCluster makes n nodes; cfg gives each node's configuration.
func newCluster(tb testing.TB, n int, delay time.Duration, cfg func(i int) relay.Config) *cluster {
	tb.Helper()
	c := &cluster{
		net:       coretest.New(delay),
		outcomes:  make([][]relay.Outcome, n),
		delivered: make([][]relay.Message, n),
		batches:   make([][]*relay.Batch, n),
	}
	for i := range n {
		node := c.net.AddNode(i, core.DefaultConfig())
		r, err := relay.New(node, cfg(i), nil)
		if err != nil {
			tb.Fatal(err)
		}
		r.OnOutcome(func(_ time.Time, o relay.Outcome) { c.outcomes[i] = append(c.outcomes[i], o) })
		r.OnDeliver(func(_ time.Time, m relay.Message) { c.delivered[i] = append(c.delivered[i], m) })
		r.OnBatch(func(_ time.Time, b *relay.Batch) { c.batches[i] = append(c.batches[i], b) })
		c.nodes = append(c.nodes, node)
		c.rs = append(c.rs, r)
		node.Start(c.net.Now())
	}
	return c
}

// relays returns a config function: every node a relay with cfg.
func relays(cfg relay.Config) func(int) relay.Config {
	cfg.Enabled = true
	return func(int) relay.Config { return cfg }
}

func (c *cluster) hop(i int) relay.Hop { return relay.Hop{ID: c.nodes[i].ID(), Addr: coretest.Addr(i)} }

func (c *cluster) path(is ...int) []relay.Hop {
	var out []relay.Hop
	for _, i := range is {
		out = append(out, c.hop(i))
	}
	return out
}

func (c *cluster) id(i int) identity.PeerID { return c.nodes[i].ID() }

func (c *cluster) run(d time.Duration) { c.net.Run(c.net.Now().Add(d)) }

func (c *cluster) send(tb testing.TB, from, to int, path []int, payload []byte) relay.MessageID {
	tb.Helper()
	id, err := c.rs[from].Send(c.net.Now(), c.hop(to), c.path(path...), payload)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// eventsAt returns the events of type E observed at node i.
func eventsAt[E core.Event](c *cluster, i int) []E {
	var out []E
	for _, o := range c.net.Events {
		if e, ok := o.Ev.(E); ok && o.Node == coretest.Addr(i) {
			out = append(out, e)
		}
	}
	return out
}

// dropsAt returns the drop reasons observed at node i, in order.
func dropsAt(c *cluster, i int) []string {
	var out []string
	for _, d := range eventsAt[core.Drop](c, i) {
		out = append(out, d.Reason)
	}
	return out
}

// isKind reports whether pkt is a datagram of kind k.
func isKind(pkt []byte, k wire.Kind) bool {
	env, err := wire.DecodeEnvelope(pkt)
	return err == nil && env.Kind == k
}

func addr(i int) netip.AddrPort { return coretest.Addr(i) }

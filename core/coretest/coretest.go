// Package coretest is a tiny deterministic driver for testing core
// components without the simulator: a virtual clock with a timer queue and a
// loopback network with a fixed one-way delay, where tests can also inject
// raw packets. It imports nothing outside core, so core's tests stay inside
// core's layer.
//
// Concurrency: not safe for concurrent use.
package coretest

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
)

// Epoch is the harness's time zero.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Net is a set of nodes joined by a loopback network with a fixed delay.
type Net struct {
	Delay time.Duration
	// DelayFn, if set, gives the one-way delay per link instead of Delay.
	DelayFn func(from, to netip.AddrPort) time.Duration
	now     time.Time
	seq     uint64
	queue   queue
	nodes   map[netip.AddrPort]*core.Node
	Events  []Observed
	// Drop, if set, decides whether a packet is lost.
	Drop func(from, to netip.AddrPort, pkt []byte) bool
	// Peers, if set before AddNode, is every node's Env.Peers: what an
	// authenticating transport says each address proved to be.
	Peers core.PeerDirectory
	// Route, if set, sees every packet a node sends (after Drop) and
	// decides what the network does with it: deliver it with the source
	// and destination it returns (a NAT rewrites them), or lose it (ok
	// false). Tests use it to put NATs and relays between nodes.
	Route func(from, to netip.AddrPort, pkt []byte) (src, dst netip.AddrPort, ok bool)
	// Connectivity, if set before AddNode, gives the i-th node's
	// Env.Connectivity (nil for none).
	Connectivity func(i int, addr netip.AddrPort) core.Connectivity
}

// Observed is an event seen by the harness, with the node that saw it.
type Observed struct {
	Time time.Time
	Node netip.AddrPort
	Ev   core.Event
}

type item struct {
	at      time.Time
	seq     uint64
	f       func()
	stopped bool
	fired   bool
}

// New returns an empty network with the given one-way delay.
func New(delay time.Duration) *Net {
	return &Net{Delay: delay, now: Epoch, nodes: map[netip.AddrPort]*core.Node{}}
}

// Now returns the current virtual time.
func (n *Net) Now() time.Time { return n.now }

// Addr returns the address of the i-th node: 127.0.0.0 + i + 1, port 4000.
func Addr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, byte((i + 1) >> 16), byte((i + 1) >> 8), byte(i + 1)}), 4000)
}

// AddNode creates the i-th node with a seeded identity and the given config.
func (n *Net) AddNode(i int, cfg core.Config) *core.Node {
	seed := bytes.Repeat([]byte{0x5e}, 32)
	binary.LittleEndian.PutUint64(seed, uint64(i+1))
	id, err := identity.FromSeed(seed)
	if err != nil {
		panic(err)
	}
	addr := Addr(i)
	env := core.Env{
		Clock:     clock{n},
		Transport: &transport{n: n, self: addr},
		Rand:      rand.New(rand.NewPCG(uint64(i), 0x5eed)),
		Entropy:   rand.NewChaCha8([32]byte(seed)),
		Observer: core.ObserverFunc(func(now time.Time, ev core.Event) {
			n.Events = append(n.Events, Observed{Time: now, Node: addr, Ev: ev})
		}),
		Peers: n.Peers,
	}
	if n.Connectivity != nil {
		env.Connectivity = n.Connectivity(i, addr)
	}
	node, err := core.NewNode(id, env, cfg)
	if err != nil {
		panic(err)
	}
	n.nodes[addr] = node
	return node
}

// Inject delivers raw bytes to the node at `to` after the network delay.
func (n *Net) Inject(from, to netip.AddrPort, pkt []byte) {
	d := n.Delay
	if n.DelayFn != nil {
		d = n.DelayFn(from, to)
	}
	n.at(n.now.Add(d), func() {
		if node := n.nodes[to]; node != nil {
			node.HandlePacket(n.now, from, pkt)
		}
	})
}

// After runs f after d of virtual time, as a new input (for test
// environments such as a fake Connectivity). The timer can be stopped.
func (n *Net) After(d time.Duration, f func()) core.Timer {
	return clock{n}.AfterFunc(d, f)
}

// Run processes queued events until none are left or until virtual time
// would pass `until`.
func (n *Net) Run(until time.Time) {
	for len(n.queue) > 0 {
		it := n.queue[0]
		if it.at.After(until) {
			break
		}
		heap.Pop(&n.queue)
		if it.stopped {
			continue
		}
		n.now = it.at
		it.fired = true
		it.f()
	}
	if n.now.Before(until) {
		n.now = until
	}
}

// Of returns the events of type E, in order.
func Of[E core.Event](n *Net) []E {
	var out []E
	for _, o := range n.Events {
		if e, ok := o.Ev.(E); ok {
			out = append(out, e)
		}
	}
	return out
}

func (n *Net) at(t time.Time, f func()) *item {
	n.seq++
	it := &item{at: t, seq: n.seq, f: f}
	heap.Push(&n.queue, it)
	return it
}

// queue is a min-heap of items by (time, sequence).
type queue []*item

func (q queue) Len() int { return len(q) }
func (q queue) Less(a, b int) bool {
	if !q[a].at.Equal(q[b].at) {
		return q[a].at.Before(q[b].at)
	}
	return q[a].seq < q[b].seq
}
func (q queue) Swap(a, b int) { q[a], q[b] = q[b], q[a] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

type clock struct{ n *Net }

func (c clock) Now() time.Time { return c.n.now }

func (c clock) AfterFunc(d time.Duration, f func()) core.Timer {
	return &timer{c.n.at(c.n.now.Add(max(d, 0)), f)}
}

type timer struct{ it *item }

func (t *timer) Stop() bool {
	if t.it.stopped || t.it.fired {
		return false
	}
	t.it.stopped = true
	return true
}

type transport struct {
	n    *Net
	self netip.AddrPort
}

func (t *transport) LocalAddr() netip.AddrPort { return t.self }

func (t *transport) Send(to netip.AddrPort, pkt []byte) {
	if t.n.Drop != nil && t.n.Drop(t.self, to, pkt) {
		return
	}
	from := t.self
	if t.n.Route != nil {
		var ok bool
		if from, to, ok = t.n.Route(from, to, pkt); !ok {
			return
		}
	}
	t.n.Inject(from, to, pkt)
}

// String summarises the event log, for failure messages.
func (n *Net) String() string {
	var b bytes.Buffer
	for _, o := range n.Events {
		fmt.Fprintf(&b, "%v %v %s %+v\n", o.Time.Sub(Epoch), o.Node, o.Ev.Kind(), o.Ev)
	}
	return b.String()
}

// Nodes returns the harness's nodes by address.
func Nodes(n *Net) map[netip.AddrPort]*core.Node { return n.nodes }

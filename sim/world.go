package sim

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
)

// Port is the UDP port every simulated node listens on.
const Port = 4001

// addrBase is the first simulated address: node i is 10.0.0.0 + i + 1. The
// addresses exist only inside the simulator.
var addrBase = binary.BigEndian.Uint32([]byte{10, 0, 0, 0})

// MaxNodes is the largest world the address plan supports.
const MaxNodes = 1<<24 - 2

// Sink receives every event observed by a node (node is its index) or by
// the world itself (node -1), in the order they happen.
type Sink func(now time.Time, node int, ev core.Event)

// World drives simulated nodes: it owns the engine and the network model,
// gives each node a core.Env backed by them, and moves packets between
// nodes through the network model.
//
// Concurrency: not safe for concurrent use; one goroutine runs everything.
type World struct {
	seed  uint64
	eng   *Engine
	net   *Network
	sink  Sink
	nodes []simNode
	free  []*packet
	stats NetStats
	// nat is the NAT model (NAT boxes, STUN/TURN servers, Connectivity);
	// nil when NetConfig configures none, and then packets take the plain
	// path below.
	nat *natWorld
	// chaos holds link faults and clock skew (see chaos.go); nil until
	// the first is set, and then the packet path pays one nil check.
	chaos *worldChaos
}

// NetStats counts packets at the world level.
type NetStats struct {
	Sent, Delivered, Bytes uint64
	// Dropped by reason: loss, partition, down, mtu, filtered, no-route,
	// and with the NAT model nat-private, nat-no-mapping,
	// turn-no-allocation, turn-no-permission. With the NAT model, STUN and
	// TURN messages and each leg of a relayed packet count as packets.
	Dropped map[DropReason]uint64
}

type simNode struct {
	w    *World
	idx  int
	addr netip.AddrPort
	node *core.Node
	// incarnation increases when the node crashes, so timers and packets of
	// an earlier life are discarded.
	incarnation uint32
}

type packet struct {
	from, to int
	data     []byte
}

// Event kinds scheduled by the world (the arg of HandleEvent).
const (
	evArrive = iota
	evDeliver
)

// DropNoRoute is the drop reason for packets to an address that is no node.
const DropNoRoute DropReason = "no-route"

// NewWorld creates a world of n nodes over the given network configuration.
// Nodes are attached afterwards with SetNode.
func NewWorld(seed uint64, n int, cfg NetConfig, sink Sink) (*World, error) {
	if n < 1 || n > MaxNodes {
		return nil, fmt.Errorf("sim: node count %d out of range 1..%d", n, MaxNodes)
	}
	if sink == nil {
		sink = func(time.Time, int, core.Event) {}
	}
	w := &World{seed: seed, eng: NewEngine(), sink: sink, nodes: make([]simNode, n)}
	w.stats.Dropped = map[DropReason]uint64{}
	net, err := NewNetwork(n, cfg, w.Rand(-1, "network"))
	if err != nil {
		return nil, err
	}
	// Loss and jitter draws come from the sender's (seed, node, "network")
	// stream, so one node's traffic never shifts another's draws.
	net.SetSenderStreams(func(i int) *rand.Rand { return w.Rand(i, "network") })
	w.net = net
	for i := range w.nodes {
		w.nodes[i] = simNode{w: w, idx: i, addr: Addr(i)}
	}
	if natEnabled(cfg) {
		if w.nat, err = newNATWorld(w, cfg); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Addr returns node i's simulated address. Indices are scattered over
// 10.0.0.0/8 by a bijection (multiplication by an odd constant modulo 2^24),
// so consecutive nodes land in different /24 subnets, as peers on the
// Internet do, and per-subnet diversity limits see realistic addresses.
func Addr(i int) netip.AddrPort {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], addrBase|addrBits(i))
	return netip.AddrPortFrom(netip.AddrFrom4(b), Port)
}

// addrBits returns the low 24 bits of node i's address.
func addrBits(i int) uint32 { return uint32((uint64(i)+1)*addrMul) & addrMask }

// addrMul is odd, so multiplication by it is invertible modulo 2^24;
// addrInv is its inverse.
const (
	addrMask = 1<<24 - 1
	addrMul  = 0x9e3779 // odd
)

var addrInv = func() uint64 {
	// Newton iteration for the inverse of an odd number modulo 2^24.
	inv := uint64(addrMul)
	for range 5 {
		inv = inv * (2 - addrMul*inv) & addrMask
	}
	return inv
}()

// Index returns the node index of a simulated address.
func (w *World) Index(a netip.AddrPort) (int, bool) {
	if !a.Addr().Is4() || a.Port() != Port {
		return 0, false
	}
	b := a.Addr().As4()
	v := binary.BigEndian.Uint32(b[:])
	if v&^addrMask != addrBase {
		return 0, false
	}
	i := int(uint64(v&addrMask)*addrInv&addrMask) - 1
	if i < 0 || i >= len(w.nodes) {
		return 0, false
	}
	return i, true
}

// Len returns the number of nodes.
func (w *World) Len() int { return len(w.nodes) }

// Engine returns the event engine.
func (w *World) Engine() *Engine { return w.eng }

// Network returns the network model.
func (w *World) Network() *Network { return w.net }

// Stats returns the packet counters.
func (w *World) Stats() NetStats { return w.stats }

// Now returns the current virtual time.
func (w *World) Now() time.Time { return w.eng.Time() }

// Rand returns the random stream for (seed, node, purpose). Node -1 is the
// world itself. Streams are independent: adding a node or a purpose changes
// no other stream's draws.
func (w *World) Rand(node int, purpose string) *rand.Rand {
	return StreamRand(w.seed, node, purpose)
}

// Entropy returns a seeded byte stream for (seed, node, purpose), for key
// generation in simulation.
func (w *World) Entropy(node int, purpose string) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], w.seed)
	binary.LittleEndian.PutUint64(key[8:], streamID(node, purpose))
	return rand.NewChaCha8(key)
}

func streamID(node int, purpose string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	x := h.Sum64() ^ (uint64(int64(node)) * 0x9e3779b97f4a7c15)
	// splitmix64 finalizer
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Env returns the environment for node i: its clock and transport run on
// the world, its random source is the (seed, i, "node") stream. With the
// NAT model on, Connectivity is the node's simulated STUN/UPnP/TURN client
// (see nodeConnectivity); otherwise it is nil.
func (w *World) Env(i int) core.Env {
	sn := &w.nodes[i]
	env := core.Env{
		Clock:     nodeClock{sn},
		Transport: nodeTransport{sn},
		Rand:      w.Rand(i, "node"),
		Entropy:   w.Entropy(i, "entropy"),
		Observer:  nodeObserver{sn},
	}
	if w.nat != nil {
		env.Connectivity = nodeConnectivity{sn}
	}
	return env
}

// SetNode attaches the core node that runs at index i.
func (w *World) SetNode(i int, n *core.Node) { w.nodes[i].node = n }

// Node returns the core node at index i.
func (w *World) Node(i int) *core.Node { return w.nodes[i].node }

// Up reports whether node i is running.
func (w *World) Up(i int) bool { return !w.net.IsDown(i) }

// Observe reports a world-level event (node -1).
func (w *World) Observe(ev core.Event) { w.sink(w.Now(), -1, ev) }

// Crash stops node i at once: it sends and receives nothing, its pending
// timers are discarded, packets in flight to it are lost. Under the NAT
// model its Connectivity sessions end (pending results are discarded, UPnP
// and TURN refreshes stop) while its NAT box keeps its bindings until they
// time out.
func (w *World) Crash(i int) {
	sn := &w.nodes[i]
	if w.net.IsDown(i) {
		return
	}
	w.net.SetDown(i, true)
	sn.incarnation++
	if w.nat != nil {
		w.nat.crash(i)
	}
	if sn.node != nil {
		sn.node.Stop(w.NodeTime(i))
	}
	w.sink(w.Now(), i, NodeDown{})
}

// Restart brings node i back. With replacement nil the node keeps its state
// and is started again; otherwise replacement (a fresh node, e.g. with the
// same identity and no memory) takes its place.
func (w *World) Restart(i int, replacement *core.Node) {
	sn := &w.nodes[i]
	if !w.net.IsDown(i) {
		return
	}
	w.net.SetDown(i, false)
	if replacement != nil {
		sn.node = replacement
	}
	w.sink(w.Now(), i, NodeUp{KeptState: replacement == nil})
	if sn.node != nil {
		sn.node.Start(w.NodeTime(i))
	}
}

// Run advances the simulation to virtual time until (since Epoch).
func (w *World) Run(until time.Duration) { w.eng.Run(until) }

// HandleEvent implements Handler for packet arrivals and deliveries.
func (w *World) HandleEvent(kind int, data any) {
	p := data.(*packet)
	now := w.eng.Now()
	switch kind {
	case evArrive:
		at := w.net.Downlink(now, p.to, len(p.data))
		if at > now {
			w.eng.Schedule(at, w, evDeliver, p)
			return
		}
		w.deliver(p)
	case evDeliver:
		w.deliver(p)
	}
}

func (w *World) deliver(p *packet) {
	switch {
	case w.net.IsDown(p.to):
		w.drop(DropDown)
	case w.net.Blocked(p.from, p.to):
		w.drop(DropPartition)
	case w.net.Filtered(w.eng.Now(), p.from, p.to):
		w.drop(DropFiltered)
	default:
		sn := &w.nodes[p.to]
		w.stats.Delivered++
		if sn.node != nil {
			sn.node.HandlePacket(w.NodeTime(p.to), w.nodes[p.from].addr, p.data)
		}
	}
	p.data = nil
	w.free = append(w.free, p)
}

func (w *World) drop(r DropReason) { w.stats.Dropped[r]++ }

func (w *World) send(from int, to netip.AddrPort, b []byte) {
	if w.nat != nil {
		w.nat.send(from, to, b)
		return
	}
	w.stats.Sent++
	w.stats.Bytes += uint64(len(b))
	dst, ok := w.Index(to)
	if !ok {
		w.drop(DropNoRoute)
		return
	}
	at, reason := w.net.Uplink(w.eng.Now(), from, dst, len(b))
	if reason != "" {
		w.drop(reason)
		return
	}
	if w.chaos != nil && len(w.chaos.links) > 0 {
		w.sendFaulty(from, dst, b, at)
		return
	}
	w.schedulePacket(from, dst, b, at)
}

// schedulePacket puts a packet from -> dst on the engine, arriving at at.
func (w *World) schedulePacket(from, dst int, b []byte, at time.Duration) {
	var p *packet
	if n := len(w.free); n > 0 {
		p, w.free = w.free[n-1], w.free[:n-1]
	} else {
		p = new(packet)
	}
	p.from, p.to, p.data = from, dst, b
	w.eng.Schedule(at, w, evArrive, p)
}

// NodeDown is observed when a node crashes.
type NodeDown struct{}

// Kind implements core.Event.
func (NodeDown) Kind() string { return "node.down" }

// NodeUp is observed when a crashed node restarts.
type NodeUp struct {
	KeptState bool `json:"kept_state"`
}

// Kind implements core.Event.
func (NodeUp) Kind() string { return "node.up" }

type nodeClock struct{ sn *simNode }

func (c nodeClock) Now() time.Time { return c.sn.w.NodeTime(c.sn.idx) }

// AfterFunc implements core.Clock: f runs after d as a new input to the
// node, unless the node crashes first. The timer is an event for the node
// itself (see simNode.HandleEvent) carrying the incarnation and f, so setting
// one allocates no closure.
func (c nodeClock) AfterFunc(d time.Duration, f func()) core.Timer {
	sn := c.sn
	if sk := sn.w.skewOf(sn.idx); sk != nil {
		d = sk.s.TrueDelay(d)
	}
	return sn.after(d, sn.incarnation, f)
}

// after schedules f to run after d (engine time) as a new input to the node,
// unless the node has crashed since incarnation inc. f is stored in the
// event as given: a func value is pointer-shaped, so this allocates nothing.
func (sn *simNode) after(d time.Duration, inc uint32, f func()) Timer {
	return sn.w.eng.After(d, sn, int(inc), f)
}

// HandleEvent implements Handler for the node's timers, set by after: inc is
// the incarnation the timer was set in, data its callback, which is dropped
// if the node has crashed since.
func (sn *simNode) HandleEvent(inc int, data any) {
	if sn.incarnation == uint32(inc) {
		data.(func())()
	}
}

type nodeTransport struct{ sn *simNode }

func (t nodeTransport) Send(to netip.AddrPort, b []byte) { t.sn.w.send(t.sn.idx, to, b) }

func (t nodeTransport) LocalAddr() netip.AddrPort { return t.sn.addr }

type nodeObserver struct{ sn *simNode }

func (o nodeObserver) Observe(now time.Time, ev core.Event) {
	if o.sn.w.skewOf(o.sn.idx) != nil {
		now = o.sn.w.eng.Time() // a skewed node's reading is not the trace's time line
	}
	o.sn.w.sink(now, o.sn.idx, ev)
}

// StreamRand returns the random stream for (seed, node, purpose), the same
// one World.Rand gives. Node -1 stands for the world itself.
func StreamRand(seed uint64, node int, purpose string) *rand.Rand {
	return rand.New(rand.NewPCG(seed, streamID(node, purpose)))
}

// StreamFloat returns the first float64 in [0,1) of a stream: one
// independent uniform draw per (seed, node, purpose).
func StreamFloat(seed uint64, node int, purpose string) float64 {
	return StreamRand(seed, node, purpose).Float64()
}

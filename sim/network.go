package sim

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"time"
)

// ErrNetConfig is wrapped by every error NewNetwork and NetConfig.Validate
// return.
var ErrNetConfig = errors.New("sim: bad network config")

// Jitter is extra, non-negative delay drawn for each packet and added to
// the link's base latency.
type Jitter struct {
	// Dist is the distribution: "none" (or ""), "uniform", "normal" or
	// "exponential".
	Dist string
	// Param scales Dist: for "uniform" the maximum (draws are uniform in
	// [0, Param]); for "normal" the standard deviation of a half-normal
	// |N(0, Param²)|; for "exponential" the mean.
	Param time.Duration
}

// Jitter distributions, as Jitter.Dist spells them.
const (
	JitterNone        = "none"
	JitterUniform     = "uniform"
	JitterNormal      = "normal"
	JitterExponential = "exponential"
)

// maxJitterParam bounds Jitter.Param: far above any real network, low enough
// that no draw overflows a time.Duration.
const maxJitterParam = time.Hour

// jitterKind is Jitter.Dist decoded once, so the hot path switches on an
// integer.
type jitterKind uint8

const (
	jitterOff jitterKind = iota
	jitterUniform
	jitterNormal
	jitterExponential
)

// kind decodes j.Dist; ok is false for an unknown name.
func (j Jitter) kind() (k jitterKind, ok bool) {
	switch j.Dist {
	case "", JitterNone:
		return jitterOff, true
	case JitterUniform:
		return jitterUniform, true
	case JitterNormal:
		return jitterNormal, true
	case JitterExponential:
		return jitterExponential, true
	}
	return jitterOff, false
}

// Validate reports whether j is usable; its errors wrap ErrNetConfig and
// name the field.
func (j Jitter) Validate() error {
	if _, ok := j.kind(); !ok {
		return fmt.Errorf("%w: Jitter.Dist %q: unknown distribution (want none, uniform, normal or exponential)", ErrNetConfig, j.Dist)
	}
	if j.Param < 0 || j.Param > maxJitterParam {
		return fmt.Errorf("%w: Jitter.Param %v: must be in [0, %v]", ErrNetConfig, j.Param, maxJitterParam)
	}
	return nil
}

// NetConfig describes the network between the simulated nodes.
type NetConfig struct {
	// Latency gives the base one-way delay of every directed pair. Required.
	Latency LatencyModel
	// Jitter is extra delay drawn per packet.
	Jitter Jitter
	// Loss is the independent drop probability of each packet, in [0, 1).
	Loss float64
	// Reorder lets jitter reorder packets on a directed link. When false
	// (the default) a packet never arrives before the previous packet sent
	// on the same link: its arrival is raised to that packet's if needed.
	Reorder bool
	// MTU is the largest packet size in bytes; larger packets are dropped
	// with DropMTU. 0 means unlimited.
	MTU int
	// Up and Down are each node's uplink and downlink rates in bits per
	// second. A nil slice or a 0 entry means unlimited; a non-nil slice must
	// have one entry per node.
	Up, Down []int64
	// Private marks the nodes behind an inbound filter (see Filter): they
	// receive only from endpoints they sent to within the binding timeout.
	// A nil slice means none; a non-nil slice has one entry per node.
	Private []bool
	// Filter configures the private nodes' filters (zero fields: the
	// defaults of DefaultFilterConfig).
	Filter FilterConfig

	// NAT puts an RFC 4787 NAT box in front of each node whose entry is
	// enabled (see NATConfig and NATPreset; the zero entry is a public
	// node). A nil slice means none; a non-nil slice has one entry per
	// node. A node cannot be both NATed and Private.
	NAT []NATConfig
	// STUNServers lists the nodes that run a STUN server (RFC 8489 with
	// RFC 5780 behaviour discovery) at STUNAddr(i) and an alternate
	// address (World.STUNAltAddr); TURNServers those that run a TURN
	// server (RFC 8656) at STUNAddr(i). Servers must be public nodes.
	//
	// The World's NAT model is on when NAT is non-nil or a server is
	// listed: packets then take the NAT path and every node's Env gets a
	// Connectivity. The Network itself ignores these three fields.
	STUNServers, TURNServers []int
}

// Validate reports whether c is usable for a network of the given number of
// nodes; its errors wrap ErrNetConfig and name the field.
func (c NetConfig) Validate(nodes int) error {
	if nodes < 1 {
		return fmt.Errorf("%w: nodes %d: must be >= 1", ErrNetConfig, nodes)
	}
	if c.Latency == nil {
		return fmt.Errorf("%w: Latency: nil (want a LatencyModel)", ErrNetConfig)
	}
	if s, ok := c.Latency.(interface{ Nodes() int }); ok && s.Nodes() < nodes {
		return fmt.Errorf("%w: Latency: %s model built for %d nodes, network has %d", ErrNetConfig, c.Latency.Name(), s.Nodes(), nodes)
	}
	if err := c.Jitter.Validate(); err != nil {
		return err
	}
	if !(c.Loss >= 0 && c.Loss < 1) {
		return fmt.Errorf("%w: Loss %v: must be in [0, 1)", ErrNetConfig, c.Loss)
	}
	if c.MTU < 0 {
		return fmt.Errorf("%w: MTU %d: must be >= 0 (0 = unlimited)", ErrNetConfig, c.MTU)
	}
	for _, f := range []struct {
		name string
		rate []int64
	}{{"Up", c.Up}, {"Down", c.Down}} {
		if f.rate == nil {
			continue
		}
		if len(f.rate) != nodes {
			return fmt.Errorf("%w: %s: %d entries, want one per node (%d) or nil", ErrNetConfig, f.name, len(f.rate), nodes)
		}
		for i, r := range f.rate {
			if r < 0 {
				return fmt.Errorf("%w: %s[%d] = %d: must be >= 0 bits/s (0 = unlimited)", ErrNetConfig, f.name, i, r)
			}
		}
	}
	if c.Private != nil && len(c.Private) != nodes {
		return fmt.Errorf("%w: Private: %d entries, want one per node (%d) or nil", ErrNetConfig, len(c.Private), nodes)
	}
	if err := c.validateNAT(nodes); err != nil {
		return err
	}
	return c.Filter.Validate()
}

// DropReason says why a packet was not delivered; DropNone (the empty
// string) means it was.
type DropReason string

// Drop reasons.
const (
	DropNone      DropReason = ""
	DropLoss      DropReason = "loss"      // random loss (NetConfig.Loss)
	DropPartition DropReason = "partition" // a partition separates sender and receiver
	DropDown      DropReason = "down"      // the sender or the receiver is down
	DropMTU       DropReason = "mtu"       // larger than NetConfig.MTU
	DropFiltered  DropReason = "filtered"  // unsolicited: the private receiver's filter has no binding for the sender
)

// PartitionID names an active partition so that it can be healed. The zero
// value names none.
type PartitionID uint64

// netPartition is one active partition. label has one entry per node. For a
// grouped partition it is 0 for a node in no group, else group index + 1;
// for a one-way partition it is a bit set of netPartFrom and netPartTo.
//
// A partial partition cuts only some of the links it separates: partial
// is set, and a link is cut when its hash under salt is below threshold.
type netPartition struct {
	id     PartitionID
	oneWay bool
	label  []int32

	partial   bool
	salt      uint64
	threshold uint64
}

const (
	netPartFrom = 1 << iota
	netPartTo
)

// blocks reports whether p separates from -> to.
func (p *netPartition) blocks(from, to int) bool {
	a, b := p.label[from], p.label[to]
	var sep bool
	if p.oneWay {
		sep = a&netPartFrom != 0 && b&netPartTo != 0
	} else {
		sep = a != 0 && b != 0 && a != b
	}
	if !sep || !p.partial {
		return sep
	}
	return p.linkCut(from, to)
}

// linkCut reports whether a partial partition cuts the link from -> to:
// for a two-way partition the unordered pair (both directions together),
// for a one-way one the directed link.
func (p *netPartition) linkCut(from, to int) bool {
	if !p.oneWay && from > to {
		from, to = to, from
	}
	x := p.salt ^ linkKey(from, to)
	// splitmix64 finalizer: a well-mixed hash of (salt, link).
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x < p.threshold
}

// Network is the model of the links between the nodes: base latency, jitter,
// loss, MTU, per-node uplink and downlink queues, down nodes and
// partitions. It is a pure function of its configuration, the calls made to
// it and the draws from its rng; it never reads a clock. Times are virtual:
// durations since the simulation's epoch, passed in by the caller.
//
// A Network is not safe for concurrent use: the simulation's single event
// loop owns it.
type Network struct {
	nodes   int
	latency LatencyModel
	jitter  Jitter
	jkind   jitterKind
	loss    float64
	reorder bool
	mtu     int
	rng     *rand.Rand
	// streams, when set, gives each sender its own stream for its packets'
	// loss and jitter draws (created on first use).
	streamFor func(node int) *rand.Rand
	streams   []*rand.Rand

	up, down         []int64         // bits/s per node; nil = unlimited
	upFree, downFree []time.Duration // when each queue is next idle
	isDown           []bool

	// lastArrive holds, per directed link, the latest arrival scheduled
	// so far; used only to keep jittered links in order. It is only ever
	// looked up, never iterated.
	lastArrive linkTimes

	parts    []netPartition // active, in creation order
	lastPart PartitionID

	// filters holds the private nodes' inbound filters (nil entries for
	// public nodes); nil when no node is private.
	filters []*Filter
}

// NewNetwork returns a network of nodes nodes (indices 0 to nodes-1), all
// up, unpartitioned, with empty queues. The configuration is checked with
// cfg.Validate. rng supplies every random draw: the loss draw first, then
// the jitter draw, once each per packet that gets that far, and only when
// Loss > 0 or jitter is on. rng may be nil when neither is.
func NewNetwork(nodes int, cfg NetConfig, rng *rand.Rand) (*Network, error) {
	if err := cfg.Validate(nodes); err != nil {
		return nil, err
	}
	jk, _ := cfg.Jitter.kind()
	if jk != jitterOff && cfg.Jitter.Param == 0 {
		jk = jitterOff
	}
	if rng == nil && (cfg.Loss > 0 || jk != jitterOff) {
		return nil, fmt.Errorf("%w: rng: nil, but Loss or Jitter needs random draws", ErrNetConfig)
	}
	n := &Network{
		nodes:   nodes,
		latency: cfg.Latency,
		jitter:  cfg.Jitter,
		jkind:   jk,
		loss:    cfg.Loss,
		reorder: cfg.Reorder,
		mtu:     cfg.MTU,
		rng:     rng,
		isDown:  make([]bool, nodes),
	}
	if cfg.Up != nil {
		n.up = append([]int64(nil), cfg.Up...)
		n.upFree = make([]time.Duration, nodes)
	}
	if cfg.Down != nil {
		n.down = append([]int64(nil), cfg.Down...)
		n.downFree = make([]time.Duration, nodes)
	}
	if jk != jitterOff && !cfg.Reorder {
		n.lastArrive = newLinkTimes(nodes, nodes <= denseLinkNodes)
	}
	for i, p := range cfg.Private {
		if !p {
			continue
		}
		if n.filters == nil {
			n.filters = make([]*Filter, nodes)
		}
		f, err := NewFilter(cfg.Filter)
		if err != nil {
			return nil, err
		}
		n.filters[i] = f
	}
	return n, nil
}

// linkKey names the directed link from -> to.
func linkKey(from, to int) uint64 { return uint64(uint32(from))<<32 | uint64(uint32(to)) }

// Nodes returns the number of nodes.
func (n *Network) Nodes() int { return n.nodes }

// Latency returns the base latency model.
func (n *Network) Latency() LatencyModel { return n.latency }

// BaseRTT returns the round-trip base latency between a and b,
// OneWay(a, b) + OneWay(b, a), without queueing or jitter.
func (n *Network) BaseRTT(a, b int) time.Duration {
	return n.latency.OneWay(a, b) + n.latency.OneWay(b, a)
}

// Uplink decides the fate of a packet of size bytes that node from sends to
// node to at time now, and returns when it reaches to's network interface
// (to be passed to Downlink at that time). If drop is not DropNone the
// packet is lost and arrive is now.
//
// In order:
//  1. a down sender sends nothing (DropDown); a packet larger than the MTU
//     is refused at the sender (DropMTU). Neither uses the uplink.
//  2. the packet is queued FIFO on the sender's uplink: it departs at
//     max(now, uplink idle) + size*8/up (rounded up to the nanosecond).
//     A private sender's filter opens or refreshes its binding to the
//     receiver then (Filter.Outbound), whatever happens to the packet next.
//  3. it is lost on the way if the receiver is down (DropDown), a partition
//     separates the two (DropPartition), or the loss draw says so
//     (DropLoss). Such packets still used the sender's uplink, as real ones
//     would.
//  4. arrive = departure + OneWay(from, to) + jitter; unless Reorder is set,
//     arrive is raised to the previous arrival on the same directed link, so
//     jitter never reorders a link.
//
// Down and partition state are those at now; a world that wants a receiver
// that crashes while a packet is in flight to miss it checks IsDown at
// delivery.
func (n *Network) Uplink(now time.Duration, from, to int, size int) (arrive time.Duration, drop DropReason) {
	if n.isDown[from] {
		return now, DropDown
	}
	if n.mtu > 0 && size > n.mtu {
		return now, DropMTU
	}
	depart := now
	if n.up != nil {
		if rate := n.up[from]; rate > 0 {
			depart = max(now, n.upFree[from]) + serialization(size, rate)
			n.upFree[from] = depart
		}
	}
	if n.filters != nil {
		if f := n.filters[from]; f != nil {
			f.Outbound(depart, nodeEndpoint(to))
		}
	}
	if n.isDown[to] {
		return now, DropDown
	}
	if n.Blocked(from, to) {
		return now, DropPartition
	}
	if n.loss > 0 && n.rngFor(from).Float64() < n.loss {
		return now, DropLoss
	}
	arrive = depart + n.latency.OneWay(from, to)
	if n.jkind != jitterOff {
		arrive += n.drawJitter(n.rngFor(from))
		if !n.reorder {
			if last := n.lastArrive.get(from, to); arrive < last {
				arrive = last
			}
			n.lastArrive.set(from, to, arrive, now)
		}
	}
	return arrive, DropNone
}

// SetSenderStreams makes every packet's loss and jitter draws come from its
// sender's own stream, streamFor(sender), created on first use, instead of
// the network-wide rng. Then a node's draws depend only on its own traffic:
// adding a node, a fault or traffic elsewhere changes nobody else's draws.
func (n *Network) SetSenderStreams(streamFor func(node int) *rand.Rand) {
	n.streamFor = streamFor
	n.streams = make([]*rand.Rand, n.nodes)
}

// rngFor returns the stream for a packet sent by node from.
func (n *Network) rngFor(from int) *rand.Rand {
	if n.streamFor == nil {
		return n.rng
	}
	r := n.streams[from]
	if r == nil {
		r = n.streamFor(from)
		n.streams[from] = r
	}
	return r
}

// drawJitter draws one packet's extra delay from rng.
func (n *Network) drawJitter(rng *rand.Rand) time.Duration {
	p := n.jitter.Param
	switch n.jkind {
	case jitterUniform:
		return time.Duration(rng.Int64N(int64(p) + 1))
	case jitterNormal:
		return time.Duration(math.Abs(rng.NormFloat64()) * float64(p))
	case jitterExponential:
		return time.Duration(rng.ExpFloat64() * float64(p))
	}
	return 0
}

// Downlink queues a packet of size bytes that reaches node to's interface at
// now on to's downlink, FIFO, and returns when it is delivered:
// max(now, downlink idle) + size*8/down, or now if the downlink is
// unlimited. The world calls it at arrival time, so the queue sees packets
// in arrival order.
func (n *Network) Downlink(now time.Duration, to int, size int) time.Duration {
	if n.down == nil {
		return now
	}
	rate := n.down[to]
	if rate <= 0 {
		return now
	}
	done := max(now, n.downFree[to]) + serialization(size, rate)
	n.downFree[to] = done
	return done
}

// serialization returns the time to clock size bytes onto a link of rate
// bits per second, rounded up to the nanosecond; it saturates instead of
// overflowing.
func serialization(size int, rate int64) time.Duration {
	if size <= 0 || rate <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(size)*8, uint64(time.Second))
	if hi >= uint64(rate) {
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, uint64(rate))
	if r != 0 {
		q++
	}
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(q)
}

// Filtered reports whether node to's filter drops a packet from node from
// arriving at now: to is private and holds no live binding for from. It
// counts the packet in to's filter. Public receivers filter nothing.
func (n *Network) Filtered(now time.Duration, from, to int) bool {
	if n.filters == nil {
		return false
	}
	f := n.filters[to]
	return f != nil && !f.Inbound(now, nodeEndpoint(from))
}

// IsPrivate reports whether node i is behind a filter.
func (n *Network) IsPrivate(i int) bool { return n.filters != nil && n.filters[i] != nil }

// Filter returns node i's filter, or nil for a public node.
func (n *Network) Filter(i int) *Filter {
	if n.filters == nil {
		return nil
	}
	return n.filters[i]
}

// FilterStats returns the number of private nodes and their filters'
// counters added up (Peak is the largest of them).
func (n *Network) FilterStats() (private int, total FilterStats) {
	for _, f := range n.filters {
		if f == nil {
			continue
		}
		private++
		s := f.Stats()
		total.Opened += s.Opened
		total.Passed += s.Passed
		total.Dropped += s.Dropped
		total.Evicted += s.Evicted
		total.Peak = max(total.Peak, s.Peak)
	}
	return private, total
}

// SetDown marks node i down (crashed: it neither sends nor receives) or up
// again. Its queues are left as they were.
func (n *Network) SetDown(i int, down bool) { n.isDown[i] = down }

// IsDown reports whether node i is down.
func (n *Network) IsDown(i int) bool { return n.isDown[i] }

// Blocked reports whether an active partition currently stops packets from
// node from to node to. It costs O(1) per active partition.
func (n *Network) Blocked(from, to int) bool {
	for i := range n.parts {
		if n.parts[i].blocks(from, to) {
			return true
		}
	}
	return false
}

// Partition starts a partition: while it is active, nodes in different
// groups cannot reach each other, in either direction. Nodes in no group
// stay connected to everyone (as far as this partition goes). Several
// partitions may be active at once; a packet is blocked if any of them
// blocks it. Heal ends it.
//
// It panics if a node index is out of range or a node is in two groups:
// both are programming errors the scenario loader rules out.
func (n *Network) Partition(groups [][]int) PartitionID {
	label := make([]int32, n.nodes)
	for g, nodes := range groups {
		for _, i := range nodes {
			n.checkNode("Partition", i)
			if label[i] != 0 && label[i] != int32(g+1) {
				panic(fmt.Sprintf("sim: Partition: node %d is in groups %d and %d", i, label[i]-1, g))
			}
			label[i] = int32(g + 1)
		}
	}
	return n.addPartition(false, label)
}

// PartitionOneWay starts an asymmetric partition: while it is active,
// packets from any node in from to any node in to are blocked; the reverse
// direction and all other pairs are unaffected. A node may be in both sets
// (then it cannot reach itself). Heal ends it. It panics if a node index is
// out of range.
func (n *Network) PartitionOneWay(from, to []int) PartitionID {
	label := make([]int32, n.nodes)
	for _, i := range from {
		n.checkNode("PartitionOneWay", i)
		label[i] |= netPartFrom
	}
	for _, i := range to {
		n.checkNode("PartitionOneWay", i)
		label[i] |= netPartTo
	}
	return n.addPartition(true, label)
}

// PartitionPartial starts a partition that cuts only a share of the links
// a full one would: with oneWay false, like Partition(groups) (links
// between different groups, both directions of a pair cut together); with
// oneWay true, like PartitionOneWay(groups[0], the other groups) (directed
// links from the first group to the others). Which links are cut is a
// pure function of salt and the pair, so the same salt (drawn from the
// seed) cuts the same links; share is in (0, 1], and 1 cuts them all.
// Heal ends it. It panics as Partition and PartitionOneWay do, or if
// share is outside (0, 1] or oneWay is given fewer than two groups.
func (n *Network) PartitionPartial(groups [][]int, oneWay bool, share float64, salt uint64) PartitionID {
	if !(share > 0 && share <= 1) {
		panic(fmt.Sprintf("sim: PartitionPartial: share %v outside (0, 1]", share))
	}
	var id PartitionID
	if oneWay {
		if len(groups) < 2 {
			panic("sim: PartitionPartial: a one-way partition needs two groups")
		}
		var to []int
		for _, g := range groups[1:] {
			to = append(to, g...)
		}
		id = n.PartitionOneWay(groups[0], to)
	} else {
		id = n.Partition(groups)
	}
	if share < 1 {
		p := &n.parts[len(n.parts)-1]
		p.partial, p.salt = true, salt
		p.threshold = uint64(math.Ldexp(share, 64))
	}
	return id
}

// checkNode panics with a clear message if i is not a node index.
func (n *Network) checkNode(op string, i int) {
	if i < 0 || i >= n.nodes {
		panic(fmt.Sprintf("sim: %s: node %d out of range [0, %d)", op, i, n.nodes))
	}
}

// addPartition activates a partition and returns its new ID.
func (n *Network) addPartition(oneWay bool, label []int32) PartitionID {
	n.lastPart++
	n.parts = append(n.parts, netPartition{id: n.lastPart, oneWay: oneWay, label: label})
	return n.lastPart
}

// Heal ends the partition id. Healing one that is not active (already
// healed, or never started) does nothing.
func (n *Network) Heal(id PartitionID) {
	for i := range n.parts {
		if n.parts[i].id == id {
			n.parts = slices.Delete(n.parts, i, i+1) // zeroes the tail: the label is freed
			return
		}
	}
}

// Partitions returns the IDs of the active partitions, oldest first.
func (n *Network) Partitions() []PartitionID {
	ids := make([]PartitionID, len(n.parts))
	for i := range n.parts {
		ids[i] = n.parts[i].id
	}
	return ids
}

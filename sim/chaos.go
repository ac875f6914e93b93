package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dchat/network/chaos"
)

// Link faults and clock skew: the chaos package's faults as elements of
// the simulated world.
//
// Link faults sit on the packet path right after the sender's uplink and
// the network model (Network.Uplink): a packet that the network would
// deliver is matched against the active link faults in the order they were
// added; their verdicts (chaos.Link.Decide, merged by chaos.Verdict.Merge)
// drop it (DropChaos), hand the receiver a corrupted copy (chaos.Corrupt;
// the sender's buffer is never written), deliver extra copies, or add
// delay. Delay only ever adds to the network's, so causality holds; a
// delayed or held-back packet may be overtaken by later ones on its link
// even when NetConfig.Reorder is false (the network's ordering applies
// before the fault). Duplicates travel the receiver's downlink like any
// packet and count in NetStats.Delivered (which may then exceed Sent).
//
// Both packet paths have them. On the NAT model's path, STUN and TURN
// control messages (typed messages, not bytes) are dropped and delayed
// like data, a corrupt verdict drops them (a real server or client
// discards a message whose FINGERPRINT or MESSAGE-INTEGRITY fails,
// RFC 8489 §14.5 and §14.7; counted in ChaosStats.Corrupted and
// Dropped), and they are never duplicated. TURN's legs are separate
// packets, each faulted on its own link.
//
// Every draw comes from the sender's (seed, node, "chaos") stream, made on
// its first faulted packet: the network's own streams never see a chaos
// draw, so adding a link fault changes no loss or jitter draw anywhere,
// and a fault on one sender's links changes no other sender's draws. With
// no fault active, the packet path pays one nil check.
//
// Clock skew (SetSkew) changes what a node reads on its clock, not when
// things happen: a skewed node's Clock.Now, and the time handed to its
// HandlePacket, Start and Stop, read chaos.Skew.Local of the engine time;
// its timers are scheduled on the engine after chaos.Skew.TrueDelay of the
// delay it asked for, so every event still runs in engine time order and
// the node sees its own timers fire on time by its own clock. Events the
// node observes are recorded at engine time, so traces and reports stay on
// one time line. Timers armed before a skew starts keep their engine
// deadline. Times the scenario runner hands to a node directly (publish,
// lookups) should come from World.NodeTime.

// DropChaos is the drop reason of packets a link fault dropped.
const DropChaos DropReason = "chaos"

// LinkFaultID names an active link fault so that it can be removed.
type LinkFaultID uint64

// ChaosStats counts what link faults and clock skew did.
type ChaosStats struct {
	// LinkFaults is the number of link faults active now; Added the
	// number ever added.
	LinkFaults, Added int
	// Faulted counts packets that matched at least one link fault.
	Faulted uint64
	// Dropped, Duplicated (extra copies), Corrupted, Delayed (any extra
	// delay) and Reordered (held back) count packets by fault.
	Dropped, Duplicated, Corrupted, Delayed, Reordered uint64
	// SkewedNodes is the number of nodes whose clock is skewed now.
	SkewedNodes int
}

type linkFault struct {
	id       LinkFaultID
	link     chaos.Link
	from, to []bool // nil: every node
}

type nodeSkew struct {
	on    bool
	s     chaos.Skew
	since time.Time
}

// worldChaos is the World's chaos state; nil until the first fault.
type worldChaos struct {
	links   []linkFault // active, in the order added
	lastID  LinkFaultID
	streams []*rand.Rand // per sender, made on first use
	skew    []nodeSkew   // nil until a node is skewed
	stats   ChaosStats
}

func (w *World) chaosState() *worldChaos {
	if w.chaos == nil {
		w.chaos = &worldChaos{}
	}
	return w.chaos
}

// AddLinkFault starts a link fault on the packets from any node in from to
// any node in to (a nil set means every node). It returns an error if l is
// invalid or a node index is out of range.
func (w *World) AddLinkFault(l chaos.Link, from, to []int) (LinkFaultID, error) {
	if err := l.Validate(); err != nil {
		return 0, fmt.Errorf("sim: AddLinkFault: %w", err)
	}
	f := linkFault{link: l}
	for _, s := range []struct {
		nodes []int
		dst   *[]bool
	}{{from, &f.from}, {to, &f.to}} {
		if s.nodes == nil {
			continue
		}
		*s.dst = make([]bool, len(w.nodes))
		for _, i := range s.nodes {
			if i < 0 || i >= len(w.nodes) {
				return 0, fmt.Errorf("sim: AddLinkFault: node %d out of range [0, %d)", i, len(w.nodes))
			}
			(*s.dst)[i] = true
		}
	}
	c := w.chaosState()
	c.lastID++
	f.id = c.lastID
	c.links = append(c.links, f)
	c.stats.Added++
	return f.id, nil
}

// RemoveLinkFault ends the link fault id; removing one that is not active
// does nothing. Packets already in flight keep their fate.
func (w *World) RemoveLinkFault(id LinkFaultID) {
	c := w.chaos
	if c == nil {
		return
	}
	for i := range c.links {
		if c.links[i].id == id {
			c.links = append(c.links[:i], c.links[i+1:]...)
			return
		}
	}
}

// SetSkew skews node i's clock from now on (see the model above); a zero
// skew ends it. It returns an error if s is invalid.
func (w *World) SetSkew(i int, s chaos.Skew) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("sim: SetSkew: %w", err)
	}
	c := w.chaosState()
	if c.skew == nil {
		if s.Zero() {
			return nil
		}
		c.skew = make([]nodeSkew, len(w.nodes))
	}
	was := c.skew[i].on
	c.skew[i] = nodeSkew{on: !s.Zero(), s: s, since: w.eng.Time()}
	switch {
	case !was && c.skew[i].on:
		c.stats.SkewedNodes++
	case was && !c.skew[i].on:
		c.stats.SkewedNodes--
	}
	return nil
}

// Skew returns node i's clock skew (zero if none).
func (w *World) Skew(i int) chaos.Skew {
	if sk := w.skewOf(i); sk != nil {
		return sk.s
	}
	return chaos.Skew{}
}

// skewOf returns node i's skew, or nil when its clock is true.
func (w *World) skewOf(i int) *nodeSkew {
	if c := w.chaos; c != nil && c.skew != nil && c.skew[i].on {
		return &c.skew[i]
	}
	return nil
}

// NodeTime returns the time node i's clock reads now: the engine's time,
// skewed if SetSkew skewed it.
func (w *World) NodeTime(i int) time.Time {
	t := w.eng.Time()
	if sk := w.skewOf(i); sk != nil {
		return sk.s.Local(t, sk.since)
	}
	return t
}

// ChaosStats returns the link-fault and skew counters.
func (w *World) ChaosStats() ChaosStats {
	if w.chaos == nil {
		return ChaosStats{}
	}
	s := w.chaos.stats
	s.LinkFaults = len(w.chaos.links)
	return s
}

// verdict decides the fate of a packet from -> to under the active link
// faults; hit is false when none applies.
func (c *worldChaos) verdict(w *World, from, to int) (v chaos.Verdict, hit bool) {
	for i := range c.links {
		f := &c.links[i]
		if (f.from == nil || f.from[from]) && (f.to == nil || f.to[to]) {
			v.Merge(f.link.Decide(c.rng(w, from)))
			hit = true
		}
	}
	if !hit {
		return v, false
	}
	c.stats.Faulted++
	switch {
	case v.Drop:
		c.stats.Dropped++
		return v, true
	case v.Corrupt:
		c.stats.Corrupted++
	}
	if v.Delay > 0 {
		c.stats.Delayed++
	}
	if v.Reordered {
		c.stats.Reordered++
	}
	return v, true
}

// rng returns sender from's chaos stream.
func (c *worldChaos) rng(w *World, from int) *rand.Rand {
	if c.streams == nil {
		c.streams = make([]*rand.Rand, len(w.nodes))
	}
	r := c.streams[from]
	if r == nil {
		r = w.Rand(from, "chaos")
		c.streams[from] = r
	}
	return r
}

// sendFaulty finishes World.send for a packet that the network delivers at
// at, when link faults are active.
func (w *World) sendFaulty(from, dst int, b []byte, at time.Duration) {
	c := w.chaos
	v, hit := c.verdict(w, from, dst)
	if !hit {
		w.schedulePacket(from, dst, b, at)
		return
	}
	if v.Drop {
		w.drop(DropChaos)
		return
	}
	if v.Corrupt {
		b = chaos.Corrupt(b, c.rng(w, from))
	}
	w.schedulePacket(from, dst, b, at+v.Delay)
	for k := range v.Duplicates {
		c.stats.Duplicated++
		w.schedulePacket(from, dst, b, at+v.DuplicateDelay[k])
	}
}

// emitFaulty finishes natWorld.emit for packet p that the network delivers
// at at, when link faults are active.
func (n *natWorld) emitFaulty(p natPacket, at time.Duration) {
	w := n.w
	c := w.chaos
	v, hit := c.verdict(w, p.from, p.to)
	if !hit {
		n.schedule(p, at)
		return
	}
	control := p.msg.kind != ctlNone
	if v.Drop || v.Corrupt && control {
		if !v.Drop {
			c.stats.Dropped++
		}
		w.drop(DropChaos)
		return
	}
	if v.Corrupt {
		p.data = chaos.Corrupt(p.data, c.rng(w, p.from))
	}
	n.schedule(p, at+v.Delay)
	if control {
		return
	}
	for k := range v.Duplicates {
		c.stats.Duplicated++
		n.schedule(p, at+v.DuplicateDelay[k])
	}
}

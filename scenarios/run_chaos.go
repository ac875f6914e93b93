package scenarios

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/dchat/network/chaos"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/sim"
)

// chaosRun is what a run keeps about the chaos library's faults.
type chaosRun struct {
	oneway, partial int
	skewed          map[int]bool
	churn           *churnRun
}

// churnRun drives churn: per churning node, alternating sessions and
// downtimes drawn from the node's own (seed, node, "churn") stream.
type churnRun struct {
	r                 *runner
	nodes             []int
	session, downtime chaos.Dist
	keep              bool
	rng               []*rand.Rand    // by node index; nil for nodes that do not churn
	since             []time.Duration // when the node's current session or downtime began
	down              []bool          // down because churn took it down

	started, ended, restarts uint64
	sessionSum, downSum      time.Duration
	downN                    uint64
}

func (r *runner) chaosState() *chaosRun {
	if r.chaos == nil {
		r.chaos = &chaosRun{skewed: map[int]bool{}}
	}
	return r.chaos
}

// usesChaos reports whether the scenario uses the chaos library: link or
// skew faults, one-way or partial partitions, churn.
func (sc *Scenario) usesChaos() bool {
	if sc.Churn != nil {
		return true
	}
	for _, f := range sc.Faults {
		if f.Link != nil || f.Skew != nil || f.Partition != nil && (f.Partition.OneWay || f.Partition.Share > 0) {
			return true
		}
	}
	return false
}

// startPartition starts a partition fault's strike: a plain partition as
// before, or a one-way or partial one. A partial partition's links are
// chosen by a salt drawn from the seed and the fault's index, so every
// strike of the fault cuts the same links.
func (r *runner) startPartition(fi int, p *Partition, groups [][]int) sim.PartitionID {
	net := r.w.Network()
	if !p.OneWay && p.Share == 0 {
		return net.Partition(groups)
	}
	c := r.chaosState()
	if p.OneWay {
		c.oneway++
	}
	share := float64(p.Share)
	if share == 0 || share > 1 {
		share = 1
	} else if share < 1 {
		c.partial++
	}
	salt := sim.StreamRand(r.sc.Seed, -1, "chaos/partition/"+strconv.Itoa(fi)).Uint64()
	return net.PartitionPartial(groups, p.OneWay, share, salt)
}

// scheduleChaosFault puts a strike of link or skew fault fi on the engine
// at at.
func (r *runner) scheduleChaosFault(fi int, at time.Duration) error {
	sc, w := r.sc, r.w
	eng := w.Engine()
	n := sc.Nodes.Count
	f := sc.Faults[fi]
	heal := time.Duration(f.HealAfter)
	resolve := func(ns NodeSet, key string) ([]int, error) {
		if ns.All {
			return nil, nil // every node
		}
		v, err := ns.Resolve(n)
		if err != nil {
			return nil, fmt.Errorf("%s: faults[%d].%s: %w", sc.File, fi, key, err)
		}
		return v, nil
	}
	switch {
	case f.Link != nil:
		link := f.Link.Link()
		if err := link.Validate(); err != nil {
			return fmt.Errorf("%s: faults[%d].link: %w", sc.File, fi, err)
		}
		from, err := resolve(f.Link.From, "link.from")
		if err != nil {
			return err
		}
		to, err := resolve(f.Link.To, "link.to")
		if err != nil {
			return err
		}
		eng.AfterFunc(at, func() {
			id, err := w.AddLinkFault(link, from, to)
			if err != nil {
				panic(err) // validated above
			}
			w.Observe(FaultEvent{Fault: "link", Index: fi})
			if heal > 0 {
				eng.AfterFunc(heal, func() {
					w.RemoveLinkFault(id)
					w.Observe(FaultEvent{Fault: "link-heal", Index: fi})
				})
			}
		})
	case f.Skew != nil:
		skew := f.Skew.Skew()
		if err := skew.Validate(); err != nil {
			return fmt.Errorf("%s: faults[%d].skew: %w", sc.File, fi, err)
		}
		nodes, err := f.Skew.Nodes.Resolve(n)
		if err != nil {
			return fmt.Errorf("%s: faults[%d].skew.nodes: %w", sc.File, fi, err)
		}
		c := r.chaosState()
		eng.AfterFunc(at, func() {
			for _, i := range nodes {
				_ = w.SetSkew(i, skew) // validated above
				c.skewed[i] = true
			}
			w.Observe(FaultEvent{Fault: "skew", Index: fi, Nodes: len(nodes)})
			if heal > 0 {
				eng.AfterFunc(heal, func() {
					for _, i := range nodes {
						_ = w.SetSkew(i, chaos.Skew{})
					}
					w.Observe(FaultEvent{Fault: "skew-heal", Index: fi, Nodes: len(nodes)})
				})
			}
		})
	default:
		return fmt.Errorf("%s: faults[%d]: no supported fault kind", sc.File, fi)
	}
	return nil
}

// scheduleChurn starts the churn section's sessions at churn.start.
func (r *runner) scheduleChurn() error {
	sc := r.sc
	if sc.Churn == nil {
		return nil
	}
	nodes, err := sc.ChurnNodes()
	if err != nil {
		return fmt.Errorf("%s: churn: %w", sc.File, err)
	}
	n := sc.Nodes.Count
	c := &churnRun{r: r, nodes: nodes, session: sc.Churn.Session.Dist(), downtime: sc.Churn.Downtime.Dist(),
		keep: sc.Churn.KeepState, rng: make([]*rand.Rand, n), since: make([]time.Duration, n), down: make([]bool, n)}
	for _, d := range []chaos.Dist{c.session, c.downtime} {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("%s: churn: %w", sc.File, err)
		}
	}
	r.chaosState().churn = c
	eng := r.w.Engine()
	for _, i := range nodes {
		c.rng[i] = sim.StreamRand(sc.Seed, i, "churn")
		eng.AfterFunc(time.Duration(sc.Churn.Start), func() { c.beginSession(i) })
	}
	return nil
}

// beginSession starts a session of node i and schedules its end.
func (c *churnRun) beginSession(i int) {
	eng := c.r.w.Engine()
	c.started++
	c.since[i] = eng.Now()
	eng.AfterFunc(c.session.Sample(c.rng[i]), func() { c.endSession(i) })
}

// endSession takes node i down for a downtime. A node another fault took
// down meanwhile is left alone: its session clock starts again.
func (c *churnRun) endSession(i int) {
	w := c.r.w
	eng := w.Engine()
	if !w.Up(i) {
		c.started-- // not a session of churn's: begin again
		c.beginSession(i)
		return
	}
	c.ended++
	c.sessionSum += eng.Now() - c.since[i]
	c.since[i] = eng.Now()
	w.Crash(i)
	c.down[i] = true
	eng.AfterFunc(c.downtime.Sample(c.rng[i]), func() { c.endDowntime(i) })
}

// endDowntime brings node i back (with or without its state) and starts
// its next session.
func (c *churnRun) endDowntime(i int) {
	eng := c.r.w.Engine()
	c.down[i] = false
	c.downN++
	c.downSum += eng.Now() - c.since[i]
	if !c.r.w.Up(i) {
		c.r.restart([]int{i}, c.keep)
		c.restarts++
	}
	c.beginSession(i)
}

// chaosSection is summary.json's chaos section; nil when the scenario
// uses no chaos fault.
func (r *runner) chaosSection() *reports.ChaosSection {
	if !r.sc.usesChaos() {
		return nil
	}
	s := &reports.ChaosSection{MalformedDrops: r.col.drops["malformed"]}
	cs := r.w.ChaosStats()
	if cs.Added > 0 {
		s.Links = &reports.ChaosLinks{Faults: cs.Added, Faulted: cs.Faulted, Dropped: cs.Dropped, Duplicated: cs.Duplicated,
			Corrupted: cs.Corrupted, Delayed: cs.Delayed, Reordered: cs.Reordered}
	}
	c := r.chaos
	if c == nil {
		return s
	}
	s.OneWayPartitions, s.PartialPartitions, s.SkewedNodes = c.oneway, c.partial, len(c.skewed)
	if ch := c.churn; ch != nil {
		cs := &reports.ChurnSection{Nodes: len(ch.nodes), Session: ch.session.String(), Downtime: ch.downtime.String(),
			KeepState: ch.keep, ModelMeanSessionS: reports.Round3(ch.session.Mean().Seconds()),
			ModelMeanDowntimeS: reports.Round3(ch.downtime.Mean().Seconds()),
			SessionsStarted:    ch.started, SessionsEnded: ch.ended, Restarts: ch.restarts}
		if ch.ended > 0 {
			cs.MeanSessionS = reports.Round3(ch.sessionSum.Seconds() / float64(ch.ended))
		}
		if ch.downN > 0 {
			cs.MeanDowntimeS = reports.Round3(ch.downSum.Seconds() / float64(ch.downN))
		}
		for _, i := range ch.nodes {
			if ch.down[i] {
				cs.DownAtEnd++
			}
		}
		s.Churn = cs
	}
	return s
}

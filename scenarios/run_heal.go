package scenarios

import (
	"time"

	"github.com/dchat/network/reports"
)

// healTarget is issue 8's bound: a message published during a partition
// reaches every live node within this long after the heal.
const healTarget = 10 * time.Second

// splitWindow is one strike of a partition fault: when it started and,
// once it healed, when.
type splitWindow struct {
	index       int // the fault's index in the scenario
	start, heal time.Time
	healed      bool
}

// observeSplit records partitions starting and healing (FaultEvents of the
// world).
func (g *gossipRun) observeSplit(now time.Time, e FaultEvent) {
	switch e.Fault {
	case "partition":
		g.splits = append(g.splits, splitWindow{index: e.Index, start: now})
	case "heal":
		// The latest open strike of that fault heals.
		for k := len(g.splits) - 1; k >= 0; k-- {
			if s := &g.splits[k]; s.index == e.Index && !s.healed {
				s.heal, s.healed = now, true
				break
			}
		}
	}
}

// healSection measures, over the messages published while a partition was
// up that healed before the end, the time from the heal until every node
// live at the end had the message (see reports.HealSection). A message
// published during several overlapping partitions counts from the last of
// their heals. Nil when no partition healed.
func (r *runner) healSection() *reports.HealSection {
	g := r.gossip
	h := &reports.HealSection{}
	for _, s := range g.splits {
		if s.healed {
			h.Partitions++
		}
	}
	if h.Partitions == 0 {
		return nil
	}
	live := make([]bool, r.w.Len())
	nLive := 0
	for i := range live {
		if live[i] = r.w.Up(i); live[i] {
			nLive++
		}
	}
	var after []float64
	for _, m := range g.msgs {
		var heal time.Time
		during := false
		for _, s := range g.splits {
			if !m.at.Before(s.start) && (!s.healed || m.at.Before(s.heal)) {
				if !s.healed {
					during = false // never healed: nothing to measure
					break
				}
				during = true
				if s.heal.After(heal) {
					heal = s.heal
				}
			}
		}
		if !during {
			continue
		}
		h.Messages++
		got, last := 0, m.at
		for k, j := range m.nodes {
			if live[j] {
				got++
				if t := m.at.Add(time.Duration(m.latency[k] * 1e6)); t.After(last) {
					last = t
				}
			}
		}
		if got < nLive {
			continue
		}
		h.ReachedAll++
		d := max(0, last.Sub(heal))
		if d <= healTarget {
			h.Within10s++
		}
		after = append(after, float64(d)/1e6)
	}
	h.AfterHealMs = reports.Summarize(after)
	return h
}

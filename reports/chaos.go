package reports

import "strconv"

// ChaosSection summarises the injected faults of the chaos library: link
// faults, churn, clock skew and one-way or partial partitions. It is
// present only when the scenario uses one of them.
type ChaosSection struct {
	// Links counts what link faults did to packets.
	Links *ChaosLinks `json:"links,omitempty"`
	// OneWayPartitions and PartialPartitions count partition strikes that
	// cut one way only, or only a share of the links.
	OneWayPartitions  int `json:"oneway_partitions,omitempty"`
	PartialPartitions int `json:"partial_partitions,omitempty"`
	// SkewedNodes is the number of nodes a skew fault reached.
	SkewedNodes int `json:"skewed_nodes,omitempty"`
	// Churn summarises the churn section.
	Churn *ChurnSection `json:"churn,omitempty"`
	// MalformedDrops counts input the nodes' decoders dropped as
	// malformed (where corrupted packets end up, with signature and other
	// checks catching the rest; see drops).
	MalformedDrops uint64 `json:"malformed_drops"`
}

// ChaosLinks counts packets by link fault. Faulted packets matched at
// least one active fault; Delayed ones got any extra delay, Reordered ones
// were held back; Duplicated counts extra copies.
type ChaosLinks struct {
	Faults     int    `json:"faults"`
	Faulted    uint64 `json:"faulted"`
	Dropped    uint64 `json:"dropped"`
	Duplicated uint64 `json:"duplicated"`
	Corrupted  uint64 `json:"corrupted"`
	Delayed    uint64 `json:"delayed"`
	Reordered  uint64 `json:"reordered"`
}

// ChurnSection summarises churn: the distributions, with their analytic
// means, and what was observed. A session starts when a churning node is
// (re)started by churn and ends when churn takes it down; means are over
// the sessions and downtimes that ended within the run (shorter ones end
// first, so they sit below the model's means on short runs).
type ChurnSection struct {
	Nodes              int     `json:"nodes"`
	Session            string  `json:"session"`
	Downtime           string  `json:"downtime"`
	KeepState          bool    `json:"keep_state"`
	ModelMeanSessionS  float64 `json:"model_mean_session_s"`
	ModelMeanDowntimeS float64 `json:"model_mean_downtime_s"`
	SessionsStarted    uint64  `json:"sessions_started"`
	SessionsEnded      uint64  `json:"sessions_ended"`
	Restarts           uint64  `json:"restarts"`
	MeanSessionS       float64 `json:"mean_session_s"`
	MeanDowntimeS      float64 `json:"mean_downtime_s"`
	DownAtEnd          int     `json:"down_at_end"`
}

// chaosReportSection is report.html's section for a ChaosSection.
func chaosReportSection(c *ChaosSection) Section {
	sec := Section{ID: "chaos", Title: "Chaos", Notes: []string{
		"Injected faults: link faults (drop, duplicate, corrupt, reorder, delay), churn, clock skew and one-way or partial partitions.",
	}}
	u := func(v uint64) string { return FormatNumber(float64(v)) }
	kv := [][2]string{{"malformed drops at receivers", u(c.MalformedDrops)}}
	if c.OneWayPartitions > 0 {
		kv = append(kv, [2]string{"one-way partitions", strconv.Itoa(c.OneWayPartitions)})
	}
	if c.PartialPartitions > 0 {
		kv = append(kv, [2]string{"partial partitions", strconv.Itoa(c.PartialPartitions)})
	}
	if c.SkewedNodes > 0 {
		kv = append(kv, [2]string{"skewed nodes", strconv.Itoa(c.SkewedNodes)})
	}
	sec.Tables = append(sec.Tables, kvTable("Faults", kv))
	if l := c.Links; l != nil {
		sec.Tables = append(sec.Tables, kvTable("Link faults (packets)", [][2]string{
			{"faults", strconv.Itoa(l.Faults)}, {"faulted", u(l.Faulted)}, {"dropped", u(l.Dropped)},
			{"duplicated", u(l.Duplicated)}, {"corrupted", u(l.Corrupted)}, {"delayed", u(l.Delayed)}, {"reordered", u(l.Reordered)},
		}))
	}
	if ch := c.Churn; ch != nil {
		f := func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }
		sec.Tables = append(sec.Tables, kvTable("Churn", [][2]string{
			{"churning nodes", strconv.Itoa(ch.Nodes)}, {"session", ch.Session}, {"downtime", ch.Downtime},
			{"sessions started", u(ch.SessionsStarted)}, {"sessions ended", u(ch.SessionsEnded)}, {"restarts", u(ch.Restarts)},
			{"mean session (s): observed / model", f(ch.MeanSessionS) + " / " + f(ch.ModelMeanSessionS)},
			{"mean downtime (s): observed / model", f(ch.MeanDowntimeS) + " / " + f(ch.ModelMeanDowntimeS)},
			{"down at the end", strconv.Itoa(ch.DownAtEnd)},
		}))
	}
	return sec
}

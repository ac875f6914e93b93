package scenarios

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/sim"
)

// FaultEvent is observed by the world (node -1) when a fault starts or ends.
type FaultEvent struct {
	Fault  string `json:"fault"`
	Index  int    `json:"index"`
	Groups int    `json:"groups,omitempty"`
	Nodes  int    `json:"nodes,omitempty"`
}

// Kind implements core.Event.
func (FaultEvent) Kind() string { return "fault" }

// collector aggregates observed events into the summary's sections.
type collector struct {
	pingSent, pingTimeouts uint64
	rtt, model, excess     []float64
	ratio                  []float64
	drops                  map[string]uint64
	byRegion               map[[2]string]*regionPair
	busy                   uint64
	publishErrors          uint64
	dhtErrors              uint64
	wrand                  []*rand.Rand
	prand                  map[int]*rand.Rand
}

type regionPair struct {
	model float64
	rtts  []float64
}

func (r *runner) workloadRand(i int) *rand.Rand {
	if r.col.wrand == nil {
		r.col.wrand = make([]*rand.Rand, r.w.Len())
	}
	if r.col.wrand[i] == nil {
		r.col.wrand[i] = r.w.Rand(i, "workload")
	}
	return r.col.wrand[i]
}

// publishRand returns the world-level stream that picks publishers for
// workload entry wi.
func (r *runner) publishRand(wi int) *rand.Rand {
	if r.col.prand == nil {
		r.col.prand = map[int]*rand.Rand{}
	}
	if r.col.prand[wi] == nil {
		r.col.prand[wi] = r.w.Rand(-1, "publish/"+strconv.Itoa(wi))
	}
	return r.col.prand[wi]
}

// observe is the world's sink: every event goes to the trace and the
// collector, in the order it happens.
func (r *runner) observe(now time.Time, node int, ev core.Event) {
	r.trace.Write(now, node, ev)
	r.observeGossip(now, node, ev)
	r.observeDHT(node, ev)
	r.observeConn(node, ev)
	r.observeNAT(now, node, ev)
	r.observeAdversary(node, ev)
	switch e := ev.(type) {
	case health.PingSent:
		r.col.pingSent++
	case health.PingTimeout:
		r.col.pingTimeouts++
	case health.PingRTT:
		j, ok := r.w.Index(e.From)
		if !ok {
			return
		}
		ms := float64(e.RTT) / 1e6
		model := float64(r.w.Network().BaseRTT(node, j)) / 1e6
		r.col.rtt = append(r.col.rtt, ms)
		r.col.model = append(r.col.model, model)
		r.col.excess = append(r.col.excess, ms-model)
		if model > 0 {
			r.col.ratio = append(r.col.ratio, ms/model)
		}
		if r.region != nil {
			a, b := r.region[node], r.region[j]
			if b < a {
				a, b = b, a
			}
			p := r.col.byRegion[[2]string{a, b}]
			if p == nil {
				// The pair's model RTT differs per node by access delay;
				// keep the smallest seen as the pair's reference.
				p = &regionPair{model: model}
				r.col.byRegion[[2]string{a, b}] = p
			}
			p.model = min(p.model, model)
			p.rtts = append(p.rtts, ms)
		}
	case core.Drop:
		r.col.drops[e.Reason]++
	}
}

func (r *runner) summary(wall float64, peak uint64) *reports.Summary {
	sc, w := r.sc, r.w
	ev := w.Engine().Dispatched()
	s := &reports.Summary{
		Scenario:      sc.Name,
		Seed:          sc.Seed,
		Nodes:         sc.Nodes.Count,
		SimTimeS:      time.Duration(sc.Duration).Seconds(),
		WallS:         reports.Round3(wall),
		Events:        ev,
		PeakHeapBytes: peak,
		TraceEvents:   r.trace.Lines(),
		TraceSHA256:   r.trace.SHA256(),
	}
	if wall > 0 {
		s.EventsPerS = float64(int64(float64(ev) / wall))
	}
	st := w.Stats()
	ns := &reports.NetworkSection{PacketsSent: st.Sent, PacketsDelivered: st.Delivered, BytesSent: st.Bytes}
	for reason, c := range st.Dropped {
		if ns.Dropped == nil {
			ns.Dropped = map[string]uint64{}
		}
		ns.Dropped[string(reason)] = c
	}
	if priv, fs := w.Network().FilterStats(); priv > 0 {
		ns.Filter = &reports.FilterSection{PrivateNodes: priv, Behavior: sc.Network.Filter.Behavior,
			BindingTimeoutS: time.Duration(sc.Network.Filter.BindingTimeout).Seconds(),
			Opened:          fs.Opened, Passed: fs.Passed, Dropped: fs.Dropped, Evicted: fs.Evicted, PeakBindings: fs.Peak}
	}
	s.Network = ns
	if len(r.col.drops) > 0 {
		s.Drops = r.col.drops
	}
	if r.col.pingSent > 0 {
		ps := &reports.PingSection{
			Sent:     r.col.pingSent,
			Answered: uint64(len(r.col.rtt)),
			TimedOut: r.col.pingTimeouts,
			RTTms:    reports.Summarize(slices.Clone(r.col.rtt)),
		}
		ps.ModelRTTms = reports.Summarize(slices.Clone(r.col.model))
		ps.ExcessMs = reports.Summarize(slices.Clone(r.col.excess))
		if len(r.col.ratio) > 0 {
			rs := slices.Clone(r.col.ratio)
			slices.Sort(rs)
			ps.RatioP50 = reports.Round3(reports.Quantile(rs, 0.5))
		}
		s.Ping = ps
	}
	s.Gossip = r.gossipSummary(st.Bytes)
	s.DHT = r.dhtSummary()
	s.Connections = r.connSummary()
	s.Relay = r.relaySummary()
	s.NAT = r.natSection()
	s.Chaos = r.chaosSection()
	s.Adversaries = r.adversarySummary()
	return s
}

func (r *runner) writeOutputs(s *reports.Summary) error {
	dir, sc := r.opts.OutDir, r.sc
	if sc.wants("summary") {
		if err := s.WriteFile(dir); err != nil {
			return err
		}
	}
	if y, err := sc.CanonicalYAML(); err == nil {
		if err := reports.WriteFileAtomic(filepath.Join(dir, "scenario.yaml"), y); err != nil {
			return err
		}
	}
	if err := r.writeGossipOutputs(dir); err != nil {
		return err
	}
	if err := r.writeDHTOutputs(dir); err != nil {
		return err
	}
	if err := r.writeConnOutputs(dir); err != nil {
		return err
	}
	if err := r.writeRelayOutputs(dir); err != nil {
		return err
	}
	if s.NAT != nil && (sc.wants("csv") || sc.wants("plots") || sc.wants("report")) {
		if err := reports.WriteNATMatrixCSV(dir, s.NAT.NATCells()); err != nil {
			return err
		}
	}
	if r.sc.wants("plots") && (r.gossip != nil || r.dht != nil || r.conn != nil || r.relay != nil || r.nat != nil) {
		if err := reports.PlotDir(dir, r.sc.Name); err != nil && !errors.Is(err, reports.ErrNothingToPlot) {
			return err
		}
	}
	if !sc.wants("csv") {
		return nil
	}
	if len(r.col.rtt) > 0 {
		rtt, model := slices.Clone(r.col.rtt), slices.Clone(r.col.model)
		slices.Sort(rtt)
		slices.Sort(model)
		var rows [][]string
		for q := 0; q <= 100; q++ {
			fq := float64(q) / 100
			rows = append(rows, []string{strconv.Itoa(q), ff(reports.Quantile(rtt, fq)), ff(reports.Quantile(model, fq))})
		}
		if err := reports.WriteCSV(dir, "ping_rtt_cdf.csv", []string{"percentile", "rtt_ms", "model_rtt_ms"}, rows); err != nil {
			return err
		}
	}
	if len(r.col.byRegion) > 0 {
		keys := make([][2]string, 0, len(r.col.byRegion))
		for k := range r.col.byRegion {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b [2]string) int {
			if a[0] != b[0] {
				return compare(a[0], b[0])
			}
			return compare(a[1], b[1])
		})
		var rows [][]string
		for _, k := range keys {
			p := r.col.byRegion[k]
			ps := reports.Summarize(slices.Clone(p.rtts))
			rows = append(rows, []string{k[0], k[1], strconv.Itoa(ps.N), ff(p.model), ff(ps.Min), ff(ps.P50), ff(ps.P95)})
		}
		if err := reports.WriteCSV(dir, "ping_rtt_by_region.csv",
			[]string{"region_a", "region_b", "pings", "model_rtt_min_ms", "rtt_min_ms", "rtt_p50_ms", "rtt_p95_ms"}, rows); err != nil {
			return err
		}
	}
	rows := make([][]string, 0, r.w.Len())
	for i := range r.w.Len() {
		st := r.w.Node(i).Stats()
		region := ""
		if r.region != nil {
			region = r.region[i]
		}
		rows = append(rows, []string{strconv.Itoa(i), r.ids[i].ID().String(), sim.Addr(i).String(), region,
			strconv.FormatUint(st.PacketsOut, 10), strconv.FormatUint(st.PacketsIn, 10),
			strconv.FormatUint(st.BytesOut, 10), strconv.FormatUint(st.BytesIn, 10), strconv.FormatUint(st.Dropped, 10)})
	}
	return reports.WriteCSV(dir, "nodes.csv",
		[]string{"node", "peer_id", "addr", "region", "packets_out", "packets_in", "bytes_out", "bytes_in", "dropped"}, rows)
}

func ff(x float64) string { return strconv.FormatFloat(reports.Round3(x), 'f', 3, 64) }

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

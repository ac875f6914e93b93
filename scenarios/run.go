package scenarios

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/sim"
)

// RunOptions controls where a run writes and how it reports progress.
type RunOptions struct {
	// OutDir receives summary.json, the trace and CSV tables. Empty means
	// nothing is written (the summary is still returned, trace hashed).
	OutDir string
	// Progress, if set, is called about every ProgressStep of virtual time.
	Progress func(p Progress)
	// ProgressStep defaults to 1/200 of the scenario's duration.
	ProgressStep time.Duration

	clean bool // the clean baseline run of a scenario with adversaries (run_adversary.go)
}

// Progress is a snapshot handed to RunOptions.Progress.
type Progress struct {
	Sim, Duration time.Duration
	Events        uint64
}

// Run simulates the scenario and returns its summary, writing the outputs
// the scenario asks for into opts.OutDir.
func Run(sc *Scenario, opts RunOptions) (*reports.Summary, error) {
	if len(sc.Adversaries) > 0 && !opts.clean {
		return runAdversarial(sc, opts)
	}
	r, err := newRunner(sc, opts)
	if err != nil {
		return nil, err
	}
	return r.run()
}

type runner struct {
	sc      *Scenario
	opts    RunOptions
	w       *sim.World
	region  []string // node -> region name ("" without the region model)
	pingers []*health.Pinger
	ids     []*identity.Identity
	gossip  *gossipRun
	dht     *dhtRun
	conn    *connRun
	relay   *relayRun
	nat     *natRun
	chaos   *chaosRun // run_chaos.go
	adv     *advRun
	private []int // nodes.private, resolved
	relays  []int // nodes.relays, resolved
	trace   *reports.TraceWriter
	file    *os.File
	col     collector
}

func (sc *Scenario) wants(output string) bool { return slices.Contains(sc.Outputs, output) }

func newRunner(sc *Scenario, opts RunOptions) (*runner, error) {
	r := &runner{sc: sc, opts: opts}
	n := sc.Nodes.Count
	var err error
	if r.relays, r.private, err = sc.Roles(); err != nil {
		return nil, err
	}
	cfg, err := r.netConfig()
	if err != nil {
		return nil, err
	}
	r.col.drops = map[string]uint64{}
	r.col.byRegion = map[[2]string]*regionPair{}
	if opts.OutDir != "" {
		if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
			return nil, err
		}
	}
	var traceOut *os.File
	if opts.OutDir != "" && sc.wants("trace") {
		name := "trace.jsonl"
		if sc.TraceGzip {
			name += ".gz"
		}
		traceOut, err = os.Create(filepath.Join(opts.OutDir, name))
		if err != nil {
			return nil, err
		}
		r.file = traceOut
	}
	if traceOut != nil {
		r.trace = reports.NewTraceWriter(traceOut, sc.TraceGzip, sim.Epoch)
	} else {
		r.trace = reports.NewTraceWriter(nil, false, sim.Epoch)
	}
	// The latency model is built after the world exists (it needs its
	// random streams), so the world starts with a placeholder and the
	// network is rebuilt below. Keep the order of stream use fixed.
	w, err := sim.NewWorld(sc.Seed, n, cfg, r.observe)
	if err != nil {
		r.closeTrace()
		return nil, fmt.Errorf("%s: %w", sc.File, err)
	}
	r.w = w
	r.pingers = make([]*health.Pinger, n)
	r.ids = make([]*identity.Identity, n)
	for i := range n {
		id, err := identity.Generate(w.Entropy(i, "identity"))
		if err != nil {
			return nil, err
		}
		r.ids[i] = id
	}
	if err := r.setupConn(); err != nil {
		r.closeTrace()
		return nil, fmt.Errorf("%s: %w", sc.File, err)
	}
	if sc.usesDHT() {
		if err := r.setupDHT(); err != nil {
			r.closeTrace()
			return nil, err
		}
	}
	if sc.usesGossip() {
		if err := r.setupGossip(); err != nil {
			r.closeTrace()
			return nil, err
		}
	}
	if sc.usesRelay() {
		if err := r.setupRelay(r.relays, r.private); err != nil {
			r.closeTrace()
			return nil, err
		}
	}
	for i := range n {
		if err := r.buildNode(i); err != nil {
			r.closeTrace()
			return nil, err
		}
	}
	return r, nil
}

// netConfig turns the scenario's nodes and network sections into the sim
// network configuration. Per-node draws use per-node streams, so adding a
// node never changes another node's region or bandwidth.
func (r *runner) netConfig() (sim.NetConfig, error) {
	sc := r.sc
	n := sc.Nodes.Count
	seedRand := func(node int, purpose string) float64 {
		return sim.StreamFloat(sc.Seed, node, purpose)
	}
	var cfg sim.NetConfig
	switch sc.Network.Latency.Model {
	case "constant":
		cfg.Latency = sim.NewConstantLatency(time.Duration(sc.Network.Latency.Value))
	case "matrix":
		f, err := os.Open(sc.Network.Latency.File)
		if err != nil {
			return cfg, fmt.Errorf("%s: network.latency.file: %w", sc.File, err)
		}
		m, err := sim.LoadLatencyMatrix(f, sc.Network.Latency.File)
		f.Close()
		if err != nil {
			return cfg, err
		}
		cfg.Latency = m
	case "regions", "":
		r.region = make([]string, n)
		for i := range n {
			r.region[i] = pickShare(sc.Nodes.Regions, seedRand(i, "region"))
		}
		rc := sim.DefaultRegionConfig()
		if sc.Network.Latency.Stretch > 0 {
			rc.Stretch = sc.Network.Latency.Stretch
		}
		if sc.Network.Latency.Access > 0 {
			rc.AccessMedian = time.Duration(sc.Network.Latency.Access)
		}
		m, err := sim.NewRegionModel(r.region, rc, sim.StreamRand(sc.Seed, -1, "access"))
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", sc.File, err)
		}
		cfg.Latency = m
	default:
		return cfg, fmt.Errorf("%s: network.latency.model: unknown model %q", sc.File, sc.Network.Latency.Model)
	}
	j := sc.Network.Jitter
	switch j.Distribution {
	case "", "none":
		cfg.Jitter = sim.Jitter{Dist: "none"}
	case "uniform":
		cfg.Jitter = sim.Jitter{Dist: "uniform", Param: time.Duration(j.Max)}
	case "normal":
		cfg.Jitter = sim.Jitter{Dist: "normal", Param: time.Duration(j.Stddev)}
	case "exponential":
		cfg.Jitter = sim.Jitter{Dist: "exponential", Param: time.Duration(j.Mean)}
	default:
		return cfg, fmt.Errorf("%s: network.jitter.distribution: unknown %q", sc.File, j.Distribution)
	}
	if len(r.private) > 0 {
		cfg.Private = make([]bool, n)
		for _, i := range r.private {
			cfg.Private[i] = true
		}
		cfg.Filter = sim.FilterConfig{Behavior: sc.Network.Filter.Behavior, Timeout: time.Duration(sc.Network.Filter.BindingTimeout)}
	}
	if err := r.natNetConfig(&cfg); err != nil {
		return cfg, err
	}
	cfg.Loss = float64(sc.Network.Loss)
	cfg.Reorder = sc.Network.Reorder
	cfg.MTU = int(sc.Network.MTU)
	if len(sc.Nodes.Bandwidth) > 0 {
		cfg.Up, cfg.Down = make([]int64, n), make([]int64, n)
		shares := make([]RegionShare, len(sc.Nodes.Bandwidth))
		for k, c := range sc.Nodes.Bandwidth {
			shares[k] = RegionShare{Region: strconv.Itoa(k), Share: float64(c.Share)}
		}
		for i := range n {
			k, _ := strconv.Atoi(pickShare(shares, seedRand(i, "bandwidth")))
			cfg.Up[i] = int64(sc.Nodes.Bandwidth[k].Up)
			cfg.Down[i] = int64(sc.Nodes.Bandwidth[k].Down)
		}
	}
	return cfg, nil
}

// pickShare maps u in [0,1) to the share it falls in, in file order.
func pickShare(shares []RegionShare, u float64) string {
	acc := 0.0
	for _, s := range shares {
		acc += s.Share
		if u < acc {
			return s.Region
		}
	}
	return shares[len(shares)-1].Region
}

func (r *runner) buildNode(i int) error {
	node, err := core.NewNode(r.ids[i], r.nodeEnv(i), r.sc.Protocol)
	if err != nil {
		return fmt.Errorf("%s: node %d: %w", r.sc.File, i, err)
	}
	hc := health.DefaultConfig()
	hc.Timeout = r.sc.Protocol.PingTimeout
	p, err := health.New(node, hc)
	if err != nil {
		return err
	}
	r.pingers[i] = p
	if err := r.attachConn(i, node); err != nil {
		return err
	}
	if err := r.attachDHT(i, node); err != nil {
		return err
	}
	if err := r.attachGossip(i, node); err != nil {
		return err
	}
	if err := r.attachRelay(i, node); err != nil {
		return err
	}
	if err := r.attachFeed(i); err != nil {
		return err
	}
	if err := r.attachNAT(i, node); err != nil {
		return err
	}
	if err := r.attachAdversary(i, node); err != nil {
		return err
	}
	r.w.SetNode(i, node)
	return nil
}

func (r *runner) closeTrace() {
	if r.file != nil {
		r.file.Close()
	}
}

func (r *runner) run() (*reports.Summary, error) {
	defer r.closeTrace()
	sc, w := r.sc, r.w
	start := time.Now()
	now := w.Now()
	for i := range w.Len() {
		w.Node(i).Start(now)
	}
	r.scheduleJoins()
	r.scheduleConnSamples()
	if err := r.schedule(); err != nil {
		return nil, err
	}
	dur := time.Duration(sc.Duration)
	step := r.opts.ProgressStep
	if step <= 0 {
		step = max(dur/200, time.Millisecond)
	}
	var peak uint64
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for t := time.Duration(0); t < dur; {
		t = min(t+step, dur)
		w.Run(t)
		metrics.Read(sample)
		peak = max(peak, sample[0].Value.Uint64())
		if r.opts.Progress != nil {
			r.opts.Progress(Progress{Sim: t, Duration: dur, Events: w.Engine().Dispatched()})
		}
	}
	r.finishRelay()
	if err := r.trace.Close(); err != nil {
		return nil, err
	}
	wall := time.Since(start).Seconds() // the trace's encoding included
	s := r.summary(wall, peak)
	s.LiveHeapBytes = liveHeap()
	s.LiveHeapPerNode = s.LiveHeapBytes / uint64(max(s.Nodes, 1))
	if r.opts.OutDir != "" {
		if err := r.writeOutputs(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// liveHeap returns the bytes of heap objects still reachable, after a full
// collection: called while the world is alive, it is the simulation's
// resident state (nodes, engine, collectors), without the garbage a
// generous GOGC lets accumulate between collections.
func liveHeap() uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// schedule puts the workload and fault timelines on the engine.
func (r *runner) schedule() error {
	sc, w := r.sc, r.w
	eng := w.Engine()
	n := sc.Nodes.Count
	for wi, wl := range sc.Workload {
		if cw := wl.Connect; cw != nil {
			if r.nat == nil {
				return fmt.Errorf("%s: workload[%d].connect: needs nodes.nat", sc.File, wi)
			}
			from, to := r.nat.roles.Clients, r.nat.roles.Clients
			var err error
			if !cw.From.Empty() {
				if from, err = cw.From.Resolve(n); err != nil {
					return fmt.Errorf("%s: workload[%d].connect.from: %w", sc.File, wi, err)
				}
			}
			if !cw.To.Empty() {
				if to, err = cw.To.Resolve(n); err != nil {
					return fmt.Errorf("%s: workload[%d].connect.to: %w", sc.File, wi, err)
				}
			}
			round := connectRound{r: r, from: from, to: to, work: cw, index: wi}
			for k := range max(wl.Count, 1) {
				at := time.Duration(wl.At) + time.Duration(k)*time.Duration(wl.Every)
				if at >= time.Duration(sc.Duration) {
					break
				}
				eng.Schedule(at, round, 0, nil)
			}
			continue
		}
		if wl.Lookups != nil {
			from, err := wl.Lookups.From.Resolve(n)
			if err != nil {
				return fmt.Errorf("%s: workload[%d].lookups.from: %w", sc.File, wi, err)
			}
			round := lookupRound{r: r, from: from, work: wl.Lookups, index: wi}
			for k := range max(wl.Count, 1) {
				at := time.Duration(wl.At) + time.Duration(k)*time.Duration(wl.Every)
				if at >= time.Duration(sc.Duration) {
					break
				}
				eng.Schedule(at, round, 0, nil)
			}
			continue
		}
		if rw := wl.Relay; rw != nil {
			from, err := rw.From.Resolve(n)
			if err != nil {
				return fmt.Errorf("%s: workload[%d].relay.from: %w", sc.File, wi, err)
			}
			to := r.private
			if !rw.ToPrivate {
				if to, err = rw.To.Resolve(n); err != nil {
					return fmt.Errorf("%s: workload[%d].relay.to: %w", sc.File, wi, err)
				}
			}
			if r.relay == nil {
				return fmt.Errorf("%s: workload[%d].relay: no relays (nodes.relays)", sc.File, wi)
			}
			round := relayRound{r: r, from: from, to: to, work: rw, index: wi}
			for k := range max(wl.Count, 1) {
				at := time.Duration(wl.At) + time.Duration(k)*time.Duration(wl.Every)
				if at >= time.Duration(sc.Duration) {
					break
				}
				eng.Schedule(at, round, 0, nil)
			}
			continue
		}
		if wl.Publish != nil {
			from, err := wl.Publish.From.Resolve(n)
			if err != nil {
				return fmt.Errorf("%s: workload[%d].publish.from: %w", sc.File, wi, err)
			}
			round := publishRound{r: r, from: from, size: int(wl.Publish.Size), index: wi}
			for k := range max(wl.Count, 1) {
				at := time.Duration(wl.At) + time.Duration(k)*time.Duration(wl.Every)
				if at >= time.Duration(sc.Duration) {
					break
				}
				eng.Schedule(at, round, 0, nil)
			}
			continue
		}
		if wl.Ping == nil {
			return fmt.Errorf("%s: workload[%d]: no supported workload kind", sc.File, wi)
		}
		from, err := wl.Ping.From.Resolve(n)
		if err != nil {
			return fmt.Errorf("%s: workload[%d].ping.from: %w", sc.File, wi, err)
		}
		var targets []int
		if wl.Ping.Target == "bootstrap" {
			if targets, err = sc.Nodes.Bootstrap.Resolve(n); err != nil || len(targets) == 0 {
				return fmt.Errorf("%s: workload[%d].ping.target: bootstrap needs nodes.bootstrap", sc.File, wi)
			}
		}
		count := max(wl.Count, 1)
		for k := range count {
			at := time.Duration(wl.At) + time.Duration(k)*time.Duration(wl.Every)
			if at >= time.Duration(sc.Duration) {
				break
			}
			eng.Schedule(at, pingRound{r, from, targets}, 0, nil)
		}
	}
	for fi, f := range sc.Faults {
		for k := range max(f.Count, 1) {
			if err := r.scheduleFault(fi, k, time.Duration(f.At)+time.Duration(k)*time.Duration(f.Every)); err != nil {
				return err
			}
		}
	}
	return r.scheduleChurn()
}

// scheduleFault puts strike k of fault fi on the engine at at.
func (r *runner) scheduleFault(fi, k int, at time.Duration) error {
	sc, w := r.sc, r.w
	eng := w.Engine()
	n := sc.Nodes.Count
	f := sc.Faults[fi]
	switch {
	case f.Partition != nil:
		groups := make([][]int, len(f.Partition.Groups))
		for g, ns := range f.Partition.Groups {
			var err error
			if groups[g], err = ns.Resolve(n); err != nil {
				return fmt.Errorf("%s: faults[%d].partition.groups[%d]: %w", sc.File, fi, g, err)
			}
		}
		heal := time.Duration(f.HealAfter)
		p := f.Partition
		eng.AfterFunc(at, func() {
			id := r.startPartition(fi, p, groups)
			w.Observe(FaultEvent{Fault: "partition", Index: fi, Groups: len(groups)})
			if heal > 0 {
				eng.AfterFunc(heal, func() {
					w.Network().Heal(id)
					w.Observe(FaultEvent{Fault: "heal", Index: fi, Groups: len(groups)})
				})
			}
		})
	case f.Crash != nil:
		victims, err := r.crashVictims(fi, k, f.Crash)
		if err != nil {
			return err
		}
		c := f.Crash
		eng.AfterFunc(at, func() {
			// Only nodes up now go down, and only those come back.
			down := make([]int, 0, len(victims))
			for _, i := range victims {
				if w.Up(i) {
					down = append(down, i)
				}
			}
			w.Observe(FaultEvent{Fault: "crash", Index: fi, Nodes: len(down)})
			for _, i := range down {
				w.Crash(i)
			}
			if c.RestartAfter > 0 {
				eng.AfterFunc(time.Duration(c.RestartAfter), func() { r.restart(down, c.KeepState) })
			}
		})
	case f.Link != nil, f.Skew != nil:
		return r.scheduleChaosFault(fi, at)
	default:
		return fmt.Errorf("%s: faults[%d]: no supported fault kind", sc.File, fi)
	}
	return nil
}

// crashVictims returns the nodes strike k of crash fault fi takes down:
// its node set, or a share drawn from the seed, the fault's index and the
// strike's number (the first strike keeps the stream of a fault that
// strikes once).
func (r *runner) crashVictims(fi, strike int, c *Crash) ([]int, error) {
	n := r.sc.Nodes.Count
	if c.Share == 0 {
		v, err := c.Nodes.Resolve(n)
		if err != nil {
			return nil, fmt.Errorf("%s: faults[%d].crash.nodes: %w", r.sc.File, fi, err)
		}
		return v, nil
	}
	k := int(math.Round(float64(c.Share) * float64(n)))
	purpose := "faults/" + strconv.Itoa(fi)
	if strike > 0 {
		purpose += "/" + strconv.Itoa(strike)
	}
	perm := sim.StreamRand(r.sc.Seed, -1, purpose).Perm(n)
	v := perm[:k]
	slices.Sort(v)
	return v, nil
}

func (r *runner) restart(victims []int, keep bool) {
	for _, i := range victims {
		if r.w.Up(i) {
			continue // another fault brought it back already
		}
		if keep {
			r.w.Restart(i, nil)
			continue
		}
		if err := r.buildNode(i); err != nil {
			// buildNode only fails on invalid config, validated at load.
			panic(err)
		}
		node := r.w.Node(i)
		r.w.Restart(i, node)
		if r.dht != nil {
			r.bootstrapNode(i)
		}
	}
}

// pingRound is one firing of a ping workload.
type pingRound struct {
	r       *runner
	from    []int
	targets []int // nil: a random other node
}

func (p pingRound) HandleEvent(int, any) {
	w := p.r.w
	n := w.Len()
	now := w.Now()
	for _, i := range p.from {
		if !w.Up(i) || n < 2 {
			continue
		}
		rng := p.r.workloadRand(i)
		var j int
		if p.targets != nil {
			j = p.targets[rng.IntN(len(p.targets))]
			if j == i {
				continue
			}
		} else {
			j = rng.IntN(n - 1)
			if j >= i {
				j++
			}
		}
		if _, err := p.r.pingers[i].Ping(now, sim.Addr(j)); err != nil {
			p.r.col.busy++
		}
	}
}

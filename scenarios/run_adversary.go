package scenarios

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/adversary"
	"github.com/dchat/network/core/dht"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/relay"
	"github.com/dchat/network/reports"
	"github.com/dchat/network/sim"
)

// Byzantine nodes in the simulator (adversaries:, core/adversary). The
// attackers run the same components as everyone; their role is layered
// over them when the node is built: a gossip.Behavior, a dht.Liar (with a
// PersonaTransport under the node for sybil and eclipse), a relay.Cheat.
// Each attacker draws from its own (seed, node, "adversary") stream.
//
// A scenario with adversaries runs twice: first clean (the same scenario
// and seed, every node honest, the would-be attackers included), then
// attacked; only the attacked run writes outputs. Both runs measure the
// honest nodes (those that are no attacker) the same way, and the
// summary's adversaries section puts the two side by side.

// advRun holds the adversaries of a run and what the section is built from.
type advRun struct {
	clean     bool    // the clean run: nobody attacks, honest figures only
	attackers [][]int // per entry
	role      []int   // node -> entry index, -1 honest
	addrRole  map[netip.AddrPort]int
	personas  []*adversary.PersonaTransport
	gossipA   []*adversary.GossipAttacker
	dhtA      []*adversary.DHTAttacker
	relayA    []*adversary.RelayAttacker
	idRole    map[identity.PeerID]bool // every identity an attacker presents
	delivered map[delivery]bool        // replay: (message, node) delivered
	g         reports.ByzGossip
	relayOut  []relay.Outcome
	relayPath map[relay.MessageID]bool
	baseline  *advFigures
}

type delivery struct {
	id   gossip.ID
	node int32
}

// advFigures are a run's honest figures, kept for the attacked run.
type advFigures struct {
	fig          reports.HonestFigures
	victimLookup float64
}

// runAdversarial runs sc clean, then attacked, and returns the attacked
// run's summary with the adversaries section.
func runAdversarial(sc *Scenario, opts RunOptions) (*reports.Summary, error) {
	base, err := newRunner(sc, RunOptions{clean: true})
	if err != nil {
		return nil, err
	}
	if _, err := base.run(); err != nil {
		return nil, err
	}
	fig := base.honestFigures()
	r, err := newRunner(sc, opts)
	if err != nil {
		return nil, err
	}
	r.adv.baseline = &fig
	return r.run()
}

// nodeEnv returns node i's environment: a sybil or eclipse attacker's
// transport presents its identities.
func (r *runner) nodeEnv(i int) core.Env {
	env := r.w.Env(i)
	a := r.advSetup()
	if a == nil || a.clean || a.role[i] < 0 {
		return env
	}
	switch r.sc.Adversaries[a.role[i]].Role {
	case adversary.Sybil, adversary.Eclipse:
		if a.personas[i] == nil {
			a.personas[i] = adversary.NewPersonaTransport(env.Transport)
		}
		env.Transport = a.personas[i]
	}
	return env
}

// advSetup resolves the attackers on first use.
func (r *runner) advSetup() *advRun {
	if len(r.sc.Adversaries) == 0 {
		return nil
	}
	if r.adv != nil {
		return r.adv
	}
	n := r.sc.Nodes.Count
	sets, err := r.sc.Attackers()
	if err != nil {
		// Parse resolved them already: only a hand-built Scenario gets here.
		sets = make([][]int, len(r.sc.Adversaries))
	}
	a := &advRun{clean: r.opts.clean, attackers: sets, role: make([]int, n), addrRole: map[netip.AddrPort]int{},
		personas: make([]*adversary.PersonaTransport, n), gossipA: make([]*adversary.GossipAttacker, n),
		dhtA: make([]*adversary.DHTAttacker, n), relayA: make([]*adversary.RelayAttacker, n),
		idRole: map[identity.PeerID]bool{}, delivered: map[delivery]bool{}, relayPath: map[relay.MessageID]bool{}}
	for i := range a.role {
		a.role[i] = -1
	}
	for k, s := range sets {
		for _, i := range s {
			a.role[i] = k
			a.addrRole[sim.Addr(i)] = k
		}
	}
	r.adv = a
	return a
}

func (r *runner) isAttacker(i int) bool {
	return r.adv != nil && i >= 0 && i < len(r.adv.role) && r.adv.role[i] >= 0
}

// attachAdversary layers node i's role over its components.
func (r *runner) attachAdversary(i int, node *core.Node) error {
	a := r.advSetup()
	if a == nil || a.clean || a.role[i] < 0 {
		return nil
	}
	k := a.role[i]
	spec := r.sc.Adversaries[k]
	p := adversary.Params{Rate: spec.Rate, Identities: spec.Identities, Delay: time.Duration(spec.Delay), Interval: time.Duration(spec.Interval)}
	rnd := r.w.Rand(i, "adversary")
	var victim identity.PeerID
	if spec.Victim >= 0 {
		victim = r.ids[spec.Victim].ID()
	}
	a.idRole[r.ids[i].ID()] = true
	switch adversary.Layer(spec.Role) {
	case "gossip":
		if r.gossip == nil {
			return fmt.Errorf("%s: adversaries[%d]: %s needs gossip (a publish workload)", r.sc.File, k, spec.Role)
		}
		var others []identity.PeerID
		if spec.Role == adversary.Forged {
			for j := range r.sc.Nodes.Count {
				if a.role[j] < 0 {
					others = append(others, r.ids[j].ID())
				}
			}
		}
		ga, err := adversary.NewGossip(spec.Role, p, node, r.gossip.nodes[i], r.gossipConfig(), rnd, victim, others)
		if err != nil {
			return err
		}
		a.gossipA[i] = ga
	case "dht":
		if r.dht == nil {
			return fmt.Errorf("%s: adversaries[%d]: %s needs the DHT (lookups or topology dht)", r.sc.File, k, spec.Role)
		}
		c := adversary.DHTConfig{Transport: a.personas[i], K: r.sc.Protocol.KBucketSize,
			Unroutable: func(j int) netip.AddrPort { return sim.Addr(r.sc.Nodes.Count + j) }}
		if spec.Victim >= 0 {
			c.Victim = adversary.Contact{ID: victim, Addr: sim.Addr(spec.Victim)}
		}
		for _, j := range a.attackers[k] {
			c.Fellows = append(c.Fellows, adversary.Contact{ID: r.ids[j].ID(), Addr: sim.Addr(j)})
		}
		da, err := adversary.NewDHT(spec.Role, p, node, r.dht.nodes[i], rnd, c)
		if err != nil {
			return err
		}
		for _, id := range da.Identities() {
			a.idRole[id] = true
		}
		a.dhtA[i] = da
		if spec.Role == adversary.Eclipse && spec.Victim >= 0 {
			// Dial the victim's connection slots, and keep redialling.
			m := r.conn.mgrs[i]
			m.Protect(victim, "eclipse")
			r.w.Engine().Schedule(r.dht.joinAt[i]+time.Second, eclipseDial{r: r, i: i, victim: spec.Victim}, 0, nil)
		}
	case "relay":
		if r.relay == nil || r.relay.nodes[i] == nil {
			return fmt.Errorf("%s: adversaries[%d]: relay-cheat needs relays (nodes.relays)", r.sc.File, k)
		}
		a.relayA[i] = adversary.NewRelay(node, r.relay.nodes[i])
	}
	return nil
}

type eclipseDial struct {
	r         *runner
	i, victim int
}

func (e eclipseDial) HandleEvent(int, any) {
	r := e.r
	if r.w.Up(e.i) {
		_ = r.conn.mgrs[e.i].Connect(r.w.Now(), r.ids[e.victim].ID(), sim.Addr(e.victim))
	}
}

// gossipConfig is the gossip configuration attachGossip gives every node.
func (r *runner) gossipConfig() gossip.Config {
	cfg := gossip.FromCore(r.sc.Protocol)
	cfg.EagerHops = gossip.EagerHopsFor(r.sc.Nodes.Count, cfg.Fanout)
	return cfg
}

// observeAdversary counts what honest nodes did with attackers' input.
func (r *runner) observeAdversary(node int, ev core.Event) {
	a := r.adv
	if a == nil || a.clean || r.isAttacker(node) || node < 0 {
		return
	}
	switch e := ev.(type) {
	case core.Drop:
		if _, ok := a.addrRole[e.From]; !ok || e.Msg != "gossip" {
			return
		}
		a.g.Received++
		switch e.Reason {
		case gossip.ReasonRateLimited:
			a.g.RateLimited++
		case gossip.ReasonPublisherRate:
			a.g.PublisherLimited++
		case gossip.ReasonForged:
			a.g.Forged++
		case gossip.ReasonReplayed:
			a.g.Replayed++
		case gossip.ReasonExpired:
			a.g.Expired++
		}
	case gossip.Duplicate:
		if _, ok := a.addrRole[e.From]; ok {
			a.g.Received++
			a.g.Duplicates++
		}
	case gossip.Delivered:
		if _, ok := a.addrRole[e.From]; ok {
			a.g.Received++
		}
		if r.gossip != nil {
			if _, ok := r.gossip.byID[e.ID]; !ok {
				a.g.Foreign++
			}
		}
		key := delivery{e.ID, int32(node)}
		if a.delivered[key] {
			a.g.Redelivered++
		}
		a.delivered[key] = true
	}
}

// honestFigures measures the honest nodes.
func (r *runner) honestFigures() advFigures {
	var f advFigures
	honest := func(i int) bool { return !r.isAttacker(i) }
	if g := r.gossip; g != nil {
		live := 0
		for i := range r.w.Len() {
			if honest(i) && r.w.Up(i) {
				live++
			}
		}
		var lat []float64
		deliveries := 0
		for _, m := range g.msgs {
			if !honest(m.sender) {
				continue
			}
			f.fig.Messages++
			for x, j := range m.nodes {
				if !honest(int(j)) || !r.w.Up(int(j)) {
					continue
				}
				deliveries++
				if int(j) != m.sender {
					lat = append(lat, m.latency[x])
				}
			}
		}
		if f.fig.Messages > 0 && live > 0 {
			f.fig.DeliveryRatio = math.Floor(float64(deliveries)/float64(f.fig.Messages*live)*1e6) / 1e6
		}
		slices.Sort(lat)
		if len(lat) > 0 {
			f.fig.LatencyP50Ms = reports.Round3(reports.Quantile(lat, 0.5))
			f.fig.LatencyP95Ms = reports.Round3(reports.Quantile(lat, 0.95))
		}
	}
	if d := r.dht; d != nil {
		ok, vn, vok := 0, 0, 0
		victim := r.victim()
		for _, l := range d.lookups {
			if !honest(l.src) || !honest(l.dst) {
				continue
			}
			f.fig.Lookups++
			if l.ok {
				ok++
			}
			if !l.ok || l.misled {
				f.fig.LookupsMisled++
			}
			if l.src == victim {
				vn++
				if l.ok {
					vok++
				}
			}
		}
		if f.fig.Lookups > 0 {
			f.fig.LookupSuccess = math.Floor(float64(ok)/float64(f.fig.Lookups)*1e6) / 1e6
		}
		if vn > 0 {
			f.victimLookup = math.Floor(float64(vok)/float64(vn)*1e6) / 1e6
		}
	}
	return f
}

// victim returns the first victim of a DHT role, or -1.
func (r *runner) victim() int {
	for _, a := range r.sc.Adversaries {
		if a.Victim >= 0 && adversary.Layer(a.Role) == "dht" {
			return a.Victim
		}
	}
	return -1
}

// misled reports whether a lookup's first result is an attacker's identity
// or a peer that does not exist.
func (r *runner) misled(res dht.LookupResult) bool {
	if r.adv == nil || r.adv.clean || len(res.Peers) == 0 {
		return false
	}
	p := res.Peers[0]
	if r.adv.idRole[p.ID] {
		return true
	}
	j, ok := r.w.Index(p.Addr)
	return !ok || r.isAttacker(j)
}

// adversarySummary builds the adversaries section of the attacked run.
func (r *runner) adversarySummary() *reports.AdversarySection {
	a := r.adv
	if a == nil || a.clean {
		return nil
	}
	s := &reports.AdversarySection{}
	attackers := 0
	var spamSent uint64
	for k, spec := range r.sc.Adversaries {
		ar := reports.AdversaryRole{Role: spec.Role, Nodes: len(a.attackers[k])}
		if spec.Victim >= 0 {
			v := spec.Victim
			ar.Victim = &v
		}
		for _, i := range a.attackers[k] {
			var st adversary.Stats
			switch {
			case a.gossipA[i] != nil:
				st = a.gossipA[i].Stats()
			case a.dhtA[i] != nil:
				st = a.dhtA[i].Stats()
				ar.Identities += len(a.dhtA[i].Identities())
			case a.relayA[i] != nil:
				st = a.relayA[i].Stats()
			}
			ar.Sent += st.Spam + st.Forged + st.Replayed + st.Intros + st.Claimed + st.ForgedHops
			ar.Withheld += st.Withheld + st.Dropped
			ar.Lies += st.Lies
			spamSent += st.Spam
		}
		attackers += ar.Nodes
		s.Roles = append(s.Roles, ar)
	}
	s.HonestNodes = r.sc.Nodes.Count - attackers
	fig := r.honestFigures()
	s.Attacked = fig.fig
	if b := a.baseline; b != nil {
		s.Clean = b.fig
		if b.fig.LatencyP95Ms > 0 {
			s.LatencyP95Rise = reports.Round3(fig.fig.LatencyP95Ms/b.fig.LatencyP95Ms - 1)
		}
	}
	if r.gossip != nil {
		g := a.g
		if spamSent > 0 {
			g.SpamAbsorbed = reports.Round3(float64(g.RateLimited+g.PublisherLimited) / float64(spamSent))
		}
		s.Gossip = &g
	}
	if v := r.victim(); v >= 0 && r.dht != nil {
		e := &reports.EclipseFigures{Victim: v, VictimLookupOK: fig.victimLookup}
		if a.baseline != nil {
			e.VictimLookupClean = a.baseline.victimLookup
		}
		for _, l := range r.dht.lookups {
			if l.src == v {
				e.VictimLookups++
			}
		}
		for _, p := range r.dht.nodes[v].Table().Peers(0) {
			e.TableSize++
			if j, ok := r.w.Index(p.Addr); a.idRole[p.ID] || !ok || r.isAttacker(j) {
				e.TableAttackers++
			}
		}
		if e.TableSize > 0 {
			e.HonestTableShare = reports.Round3(1 - float64(e.TableAttackers)/float64(e.TableSize))
		}
		for _, c := range r.conn.mgrs[v].Connections() {
			e.Connections++
			if a.idRole[c.Peer] {
				e.ConnAttackers++
			}
		}
		if e.Connections > 0 {
			e.HonestConnShare = reports.Round3(1 - float64(e.ConnAttackers)/float64(e.Connections))
		}
		s.Eclipse = e
	}
	if rr := r.relay; rr != nil && slices.ContainsFunc(r.sc.Adversaries, func(x Adversary) bool { return x.Role == adversary.RelayCheat }) {
		s.Relay = r.relayCheatFigures()
	}
	return s
}

// advRelayOutcome keeps the outcomes of messages whose path held a cheater.
func (r *runner) advRelayOutcome(o relay.Outcome) {
	a := r.adv
	if a == nil || a.clean || o.Proof == nil {
		return
	}
	for _, id := range o.Proof.Path {
		if a.idRole[id] {
			a.relayOut = append(a.relayOut, o)
			return
		}
	}
}

func (r *runner) relayCheatFigures() *reports.ByzRelay {
	a := r.adv
	f := &reports.ByzRelay{}
	cheaters := map[identity.PeerID]bool{}
	for k, spec := range r.sc.Adversaries {
		if spec.Role == adversary.RelayCheat {
			for _, i := range a.attackers[k] {
				cheaters[r.ids[i].ID()] = true
				f.Cheaters++
			}
		}
	}
	var reps []relay.Report
	for _, o := range a.relayOut {
		f.Through++
		if o.Delivered {
			f.Delivered++
		}
		reps = append(reps, o.Report)
	}
	tally := relay.Tally(reps)
	for x, s := range tally {
		if cheaters[s.Peer] {
			f.Detected++
			if x < f.Cheaters {
				f.TopSuspects++
			}
		} else if j, ok := r.peerIndex(s.Peer); ok && r.relay.isRelay[j] {
			f.HonestSuspected++
		}
	}
	return f
}

// peerIndex returns the node whose identity is id.
func (r *runner) peerIndex(id identity.PeerID) (int, bool) {
	for i, x := range r.ids {
		if x.ID() == id {
			return i, true
		}
	}
	return 0, false
}

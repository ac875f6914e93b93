package reports

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// NATSection summarises NAT traversal (core/traversal) over the simulated
// NAT model: what the nodes learned about themselves, and how each pair
// of NAT types fared on each rung of the ladder (direct, UPnP-mapped port,
// hole punch, TURN relay). Success is reported per pair of types, never
// blended into one number. Times are in milliseconds.
type NATSection struct {
	// Nodes counts the nodes by configured NAT type ("none" for public
	// nodes, servers included); UPnPGateways the NATed nodes whose gateway
	// offers UPnP IGD; STUN, TURN and Rendezvous the server nodes.
	Nodes        map[string]int `json:"nodes"`
	UPnPGateways int            `json:"upnp_gateways"`
	STUN         int            `json:"stun_servers"`
	TURN         int            `json:"turn_servers"`
	Rendezvous   int            `json:"rendezvous"`

	// Discovery is the nodes' RFC 5780 behaviour discovery against the
	// STUN servers: Queries answered or failed, Correct when the type found
	// is the configured one; Confused counts the others as
	// "configured→found".
	Discovery NATDiscovery `json:"discovery"`
	// UPnP counts port-mapping requests (MapPort) and how many got a
	// mapping; Relay counts TURN allocations likewise.
	UPnP  NATStep `json:"upnp"`
	Relay NATStep `json:"relay"`

	// Connects counts the paths asked for (the connect workload); Connected
	// of them got a working path, NoPath ended with every method failed,
	// Pending had no outcome by the end of the run. NoPathShare is NoPath
	// over the connects that ended (Connected + NoPath), rounded up to six
	// decimals: the plan's target is under 1%.
	Connects    uint64  `json:"connects"`
	Connected   uint64  `json:"connected"`
	NoPath      uint64  `json:"no_path"`
	Pending     uint64  `json:"pending,omitempty"`
	NoPathShare float64 `json:"no_path_share"`
	// FirstPathMs is the time from asking to the first working path,
	// over the connected pairs.
	FirstPathMs Percentiles `json:"first_path_ms"`
	// FirstMethod counts the method of each first working path; Final the
	// method in use at the end of the run (after upgrades).
	FirstMethod map[string]uint64 `json:"first_method,omitempty"`
	Final       map[string]uint64 `json:"final_method,omitempty"`
	Upgrades    uint64            `json:"upgrades"`

	// Pairs holds one entry per ordered pair of NAT types (initiator,
	// target), keyed "initiator>target".
	Pairs map[string]*NATPair `json:"pairs"`
	// PunchMinNonSymmetric is the lowest hole-punch success rate over the
	// pairs of non-symmetric NAT types (both behind a NAT) that tried it;
	// -1 when none did. The plan's target is at least 0.95.
	PunchMinNonSymmetric float64 `json:"punch_min_non_symmetric"`
}

// NATDiscovery counts behaviour-discovery results.
type NATDiscovery struct {
	Queries  uint64            `json:"queries"`
	Failed   uint64            `json:"failed"`
	Correct  uint64            `json:"correct"`
	Confused map[string]uint64 `json:"confused,omitempty"`
	TookMs   Percentiles       `json:"took_ms"`
}

// NATStep counts one kind of request and its successes.
type NATStep struct {
	Attempts uint64      `json:"attempts"`
	OK       uint64      `json:"ok"`
	TookMs   Percentiles `json:"took_ms"`
}

// NATPair is the traversal record of one ordered pair of NAT types.
type NATPair struct {
	Connects  uint64 `json:"connects"`
	Connected uint64 `json:"connected"`
	NoPath    uint64 `json:"no_path"`
	// Methods holds, per method, the attempts made (by either side of a
	// connect) and how many produced a working path.
	Methods     map[string]*NATMethod `json:"methods"`
	FirstPathMs Percentiles           `json:"first_path_ms"`
	// Success is Connected over the connects that ended; -1 when none did.
	Success float64 `json:"success"`
}

// NATMethod counts the attempts of one method for one pair of types.
type NATMethod struct {
	Attempts uint64 `json:"attempts"`
	OK       uint64 `json:"ok"`
	// Rate is OK / Attempts, rounded down to six decimals.
	Rate float64 `json:"rate"`
}

// NATMethods are the rungs of the traversal ladder, best first.
var NATMethods = []string{"direct", "upnp", "punch", "relay"}

// NATCollector builds a NATSection from a run's traversal outcomes. The
// runner feeds it the configured types, so the matrix is over what the
// NATs really are, whatever the nodes believed.
type NATCollector struct {
	s        NATSection
	disc     []float64
	upnp     []float64
	relay    []float64
	first    []float64
	pairPath map[string][]float64
}

// NewNATCollector returns an empty collector.
func NewNATCollector() *NATCollector {
	return &NATCollector{
		s: NATSection{Nodes: map[string]int{}, Pairs: map[string]*NATPair{},
			FirstMethod: map[string]uint64{}, Final: map[string]uint64{}},
		pairPath: map[string][]float64{},
	}
}

// Node counts a node of the given configured type.
func (c *NATCollector) Node(typ string, upnp bool) {
	c.s.Nodes[typ]++
	if upnp {
		c.s.UPnPGateways++
	}
}

// Servers sets the server counts.
func (c *NATCollector) Servers(stun, turn, rendezvous int) {
	c.s.STUN, c.s.TURN, c.s.Rendezvous = stun, turn, rendezvous
}

// Discovered records a behaviour discovery: the configured type, the one
// found, and whether the query was answered at all.
func (c *NATCollector) Discovered(configured, found string, ok bool, tookMs float64) {
	d := &c.s.Discovery
	d.Queries++
	if !ok {
		d.Failed++
		return
	}
	c.disc = append(c.disc, tookMs)
	if configured == found {
		d.Correct++
		return
	}
	if d.Confused == nil {
		d.Confused = map[string]uint64{}
	}
	d.Confused[configured+"→"+found]++
}

// Mapped records a UPnP port-mapping request.
func (c *NATCollector) Mapped(ok bool, tookMs float64) { step(&c.s.UPnP, &c.upnp, ok, tookMs) }

// Allocated records a TURN allocation request.
func (c *NATCollector) Allocated(ok bool, tookMs float64) { step(&c.s.Relay, &c.relay, ok, tookMs) }

func step(s *NATStep, took *[]float64, ok bool, ms float64) {
	s.Attempts++
	if ok {
		s.OK++
		*took = append(*took, ms)
	}
}

func pairKey(initiator, target string) string { return initiator + ">" + target }

func (c *NATCollector) pair(initiator, target string) *NATPair {
	k := pairKey(initiator, target)
	p := c.s.Pairs[k]
	if p == nil {
		p = &NATPair{Methods: map[string]*NATMethod{}}
		c.s.Pairs[k] = p
	}
	return p
}

// Connect records a connect asked for between nodes of the given types.
func (c *NATCollector) Connect(initiator, target string) {
	c.s.Connects++
	c.pair(initiator, target).Connects++
}

// Attempt records one method tried for a connect between the given types.
func (c *NATCollector) Attempt(initiator, target, method string, ok bool) {
	p := c.pair(initiator, target)
	m := p.Methods[method]
	if m == nil {
		m = &NATMethod{}
		p.Methods[method] = m
	}
	m.Attempts++
	if ok {
		m.OK++
	}
}

// Connected records a connect's first working path.
func (c *NATCollector) Connected(initiator, target, method string, tookMs float64) {
	c.s.Connected++
	c.pair(initiator, target).Connected++
	c.first = append(c.first, tookMs)
	k := pairKey(initiator, target)
	c.pairPath[k] = append(c.pairPath[k], tookMs)
	c.s.FirstMethod[method]++
}

// NoPath records a connect that ended with every method failed.
func (c *NATCollector) NoPath(initiator, target string) {
	c.s.NoPath++
	c.pair(initiator, target).NoPath++
}

// Upgraded records a path switched to a better method.
func (c *NATCollector) Upgraded() { c.s.Upgrades++ }

// Final records the method of a path in use at the end of the run.
func (c *NATCollector) Final(method string) { c.s.Final[method]++ }

// Section finishes the summary. Pending connects are those neither
// connected nor failed.
func (c *NATCollector) Section() *NATSection {
	s := c.s
	s.Discovery.TookMs = Summarize(c.disc)
	s.UPnP.TookMs = Summarize(c.upnp)
	s.Relay.TookMs = Summarize(c.relay)
	s.FirstPathMs = Summarize(c.first)
	s.Pending = s.Connects - s.Connected - s.NoPath
	s.NoPathShare = ratioUp(s.NoPath, s.Connected+s.NoPath)
	s.PunchMinNonSymmetric = -1
	for _, k := range sortedKeys(s.Pairs) {
		p := s.Pairs[k]
		p.FirstPathMs = Summarize(c.pairPath[k])
		p.Success = -1
		if ended := p.Connected + p.NoPath; ended > 0 {
			p.Success = ratioDown(p.Connected, ended)
		}
		for _, m := range p.Methods {
			m.Rate = ratioDown(m.OK, m.Attempts)
		}
		a, b, _ := strings.Cut(k, ">")
		if pm := p.Methods["punch"]; pm != nil && pm.Attempts > 0 && natted(a) && natted(b) &&
			a != "symmetric" && b != "symmetric" {
			if s.PunchMinNonSymmetric < 0 || pm.Rate < s.PunchMinNonSymmetric {
				s.PunchMinNonSymmetric = pm.Rate
			}
		}
	}
	if len(s.FirstMethod) == 0 {
		s.FirstMethod = nil
	}
	if len(s.Final) == 0 {
		s.Final = nil
	}
	return &s
}

func natted(t string) bool { return t != "none" && t != "" }

// ratioDown is a/b rounded down to six decimals (0 when b is 0), so a
// success rate is never shown above what was measured.
func ratioDown(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return math.Floor(float64(a)/float64(b)*1e6) / 1e6
}

// ratioUp is a/b rounded up to six decimals, for failure shares.
func ratioUp(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return math.Ceil(float64(a)/float64(b)*1e6) / 1e6
}

// NATTypeOrder is the order of NAT types in tables and plots: open first,
// most restrictive last.
var NATTypeOrder = []string{"none", "full-cone", "restricted-cone", "port-restricted", "symmetric"}

// MatrixTypes returns the types that appear in the section's pairs, in
// NATTypeOrder.
func (s *NATSection) MatrixTypes() []string {
	seen := map[string]bool{}
	for k := range s.Pairs {
		a, b, _ := strings.Cut(k, ">")
		seen[a], seen[b] = true, true
	}
	var out []string
	for _, t := range NATTypeOrder {
		if seen[t] {
			out = append(out, t)
		}
	}
	return out
}

// Matrix returns, for method ("" for any path), the success rate per
// (initiator, target) over types: rows are initiators. A cell is NaN
// where that pair has no data.
func (s *NATSection) Matrix(method string, types []string) [][]float64 {
	out := make([][]float64, len(types))
	for i, a := range types {
		out[i] = make([]float64, len(types))
		for j, b := range types {
			out[i][j] = math.NaN()
			p := s.Pairs[pairKey(a, b)]
			switch {
			case p == nil:
			case method == "":
				if p.Success >= 0 {
					out[i][j] = p.Success
				}
			default:
				if m := p.Methods[method]; m != nil && m.Attempts > 0 {
					out[i][j] = m.Rate
				}
			}
		}
	}
	return out
}

// MatrixTable renders Matrix as a report table: percentages with the
// counts behind them.
func (s *NATSection) MatrixTable(method, caption string) Table {
	types := s.MatrixTypes()
	t := Table{Caption: caption, Header: append([]string{"initiator \\ target"}, types...), Left: 1}
	for _, a := range types {
		row := []string{a}
		for _, b := range types {
			p := s.Pairs[pairKey(a, b)]
			cell := "–"
			switch {
			case p == nil:
			case method == "":
				if ended := p.Connected + p.NoPath; ended > 0 {
					cell = fmt.Sprintf("%s%% (%d/%d)", pctDown(p.Success), p.Connected, ended)
				}
			default:
				if m := p.Methods[method]; m != nil && m.Attempts > 0 {
					cell = fmt.Sprintf("%s%% (%d/%d)", pctDown(m.Rate), m.OK, m.Attempts)
				}
			}
			row = append(row, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// pctDown formats a rate in [0,1] as a percentage with one decimal, rounded
// down, so 99.96% never shows as 100%.
func pctDown(r float64) string {
	return strconv.FormatFloat(math.Floor(r*1000)/10, 'f', 1, 64)
}

// MarkdownMatrix renders the any-path and per-method matrices as Markdown
// (for the README and docs).
func (s *NATSection) MarkdownMatrix(method string) string {
	t := s.MatrixTable(method, "")
	var b strings.Builder
	b.WriteString("| " + strings.Join(t.Header, " | ") + " |\n|")
	for range t.Header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// sortedPairKeys returns the pair keys in NATTypeOrder.
func (s *NATSection) sortedPairKeys() []string {
	keys := sortedKeys(s.Pairs)
	rank := func(t string) int { return slices.Index(NATTypeOrder, t) }
	slices.SortStableFunc(keys, func(x, y string) int {
		xa, xb, _ := strings.Cut(x, ">")
		ya, yb, _ := strings.Cut(y, ">")
		if c := rank(xa) - rank(ya); c != 0 {
			return c
		}
		return rank(xb) - rank(yb)
	})
	return keys
}

// natReportSection renders the NAT section of a run report.
func natReportSection(nt *NATSection, figs []Figure) Section {
	nodes := map[string]uint64{}
	for t, n := range nt.Nodes {
		nodes[t] = uint64(n)
	}
	sec := Section{ID: "nat", Title: "NAT traversal", Notes: []string{
		"Nodes behind simulated RFC 4787 NATs learn their type by RFC 5780 discovery against the STUN servers, map a port by UPnP where their gateway offers it, allocate a TURN relay when they are symmetric, and connect by the ladder: direct, UPnP-mapped port, hole punch through a rendezvous, TURN relay. Rows are the initiator's NAT type, columns the target's; each cell gives the rate with its counts, never a blended figure.",
	}, Tables: []Table{
		kvTable("outcome", [][2]string{
			{"connects asked for", FormatNumber(float64(nt.Connects))},
			{"connected", FormatNumber(float64(nt.Connected))},
			{"no working path after all fallbacks", FormatNumber(float64(nt.NoPath))},
			{"pending at the end", FormatNumber(float64(nt.Pending))},
			{"share with no path (target < 1%)", pctDown(nt.NoPathShare) + "%"},
			{"lowest hole-punch rate, non-symmetric pairs (target ≥ 95%)", natRate(nt.PunchMinNonSymmetric)},
			{"path upgrades", FormatNumber(float64(nt.Upgrades))},
			{"STUN / TURN / rendezvous servers", fmt.Sprintf("%d / %d / %d", nt.STUN, nt.TURN, nt.Rendezvous)},
			{"UPnP gateways", FormatNumber(float64(nt.UPnPGateways))},
		}),
		percentileTable("times (ms)", []pctRow{
			{"first working path", nt.FirstPathMs},
			{"behaviour discovery (RFC 5780)", nt.Discovery.TookMs},
			{"UPnP mapping", nt.UPnP.TookMs},
			{"TURN allocation", nt.Relay.TookMs},
		}),
		nt.MatrixTable("", "working path by any method"),
	}, Figures: figs}
	for _, m := range NATMethods {
		has := false
		for _, p := range nt.Pairs {
			if x := p.Methods[m]; x != nil && x.Attempts > 0 {
				has = true
			}
		}
		if has {
			sec.Tables = append(sec.Tables, nt.MatrixTable(m, "attempts by "+m))
		}
	}
	sec.Tables = append(sec.Tables, countTable("nodes by NAT type", "type", "nodes", nodes),
		kvTable("discovery", [][2]string{
			{"queries", FormatNumber(float64(nt.Discovery.Queries))},
			{"failed", FormatNumber(float64(nt.Discovery.Failed))},
			{"type found = configured", FormatNumber(float64(nt.Discovery.Correct))},
			{"UPnP mapped / asked", fmt.Sprintf("%d / %d", nt.UPnP.OK, nt.UPnP.Attempts)},
			{"TURN allocated / asked", fmt.Sprintf("%d / %d", nt.Relay.OK, nt.Relay.Attempts)},
		}))
	if len(nt.Discovery.Confused) > 0 {
		sec.Tables = append(sec.Tables, countTable("types found wrong (configured→found)", "types", "nodes", nt.Discovery.Confused))
	}
	if len(nt.FirstMethod) > 0 {
		sec.Tables = append(sec.Tables, countTable("method of the first working path", "method", "connects", nt.FirstMethod))
	}
	if len(nt.Final) > 0 {
		sec.Tables = append(sec.Tables, countTable("method in use at the end", "method", "paths", nt.Final))
	}
	return sec
}

func natRate(r float64) string {
	if r < 0 {
		return "–"
	}
	return pctDown(r) + "%"
}

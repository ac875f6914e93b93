package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ReportFile is the name of the HTML report in an output folder.
const ReportFile = "report.html"

// WriteRunReport writes dir/report.html for the run output folder dir: see
// RunReport. It returns the number of plots on the page.
func WriteRunReport(dir, command string, s *Summary) (int, error) {
	p, err := RunReport(dir, command, s)
	if err != nil {
		return 0, err
	}
	return p.Plots(), p.Write(filepath.Join(dir, ReportFile))
}

// RunReport builds the report of a run output folder: the run's identity
// and the command that reproduces it, one section per summary section
// (network, drops, ping, gossip, DHT, relay) with its tables and plots, every
// summary value flattened, the scenario file, the files beside the report
// and, set apart, the wall-clock cost. The summary is s, or when s is nil
// dir/summary.json; the scenario comes from scenario.yaml and the plots
// from the CSV tables, drawn in memory, so they need not have been
// written as files.
//
// command is shown verbatim as the way to reproduce the run; when empty the
// report suggests running the saved scenario.yaml. Apart from the cost
// section, the page depends only on the folder's deterministic contents:
// the same scenario and seed give the same bytes.
func RunReport(dir, command string, s *Summary) (*Page, error) {
	if s == nil {
		var err error
		if s, err = ReadSummary(dir); err != nil {
			return nil, fmt.Errorf("run report: %w", err)
		}
	}
	raw, err := s.MarshalIndent()
	if err != nil {
		return nil, fmt.Errorf("run report: %w", err)
	}
	metrics, cost, err := FlattenSummary(raw)
	if err != nil {
		return nil, fmt.Errorf("run report: %w", err)
	}
	figs, err := RunFigures(dir, s.Scenario)
	if err != nil && !errors.Is(err, ErrNothingToPlot) {
		return nil, fmt.Errorf("run report: %w", err)
	}
	byProto := map[string][]Figure{}
	for _, f := range figs {
		proto, _, _ := strings.Cut(f.Name, "_")
		byProto[proto] = append(byProto[proto], f)
	}

	page := &Page{
		Title: "dchat-sim run: " + s.Scenario,
		Subtitle: fmt.Sprintf("seed %d · %s nodes · %s s simulated · trace %s",
			s.Seed, FormatNumber(float64(s.Nodes)), FormatNumber(s.SimTimeS), shortHash(s.TraceSHA256)),
	}
	if command == "" {
		command = "dchat-sim run " + filepath.Join(dir, "scenario.yaml")
	}
	run := Section{ID: "run", Title: "Run", Command: command,
		Notes: []string{"Reproduce the run with the command below (or run the scenario.yaml saved beside this report): the same scenario and seed give the same trace and summary."},
		Tables: []Table{{
			Header: []string{"run", "value"}, Left: 2,
			Rows: [][]string{
				{"scenario", s.Scenario},
				{"seed", strconv.FormatUint(s.Seed, 10)},
				{"nodes", FormatNumber(float64(s.Nodes))},
				{"simulated time (s)", FormatNumber(s.SimTimeS)},
				{"events", FormatNumber(float64(s.Events))},
				{"trace events", FormatNumber(float64(s.TraceEvents))},
				{"trace SHA-256", s.TraceSHA256},
			},
		}},
	}
	page.Sections = append(page.Sections, run)

	if n := s.Network; n != nil {
		sec := Section{ID: "network", Title: "Network", Tables: []Table{kvTable("packets and bytes", [][2]string{
			{"packets sent", FormatNumber(float64(n.PacketsSent))},
			{"packets delivered", FormatNumber(float64(n.PacketsDelivered))},
			{"bytes sent (B)", FormatNumber(float64(n.BytesSent))},
		})}}
		if len(n.Dropped) > 0 {
			sec.Tables = append(sec.Tables, countTable("dropped by the network", "reason", "packets", n.Dropped))
		}
		if f := n.Filter; f != nil {
			sec.Tables = append(sec.Tables, kvTable("private nodes' inbound filters", [][2]string{
				{"private nodes", FormatNumber(float64(f.PrivateNodes))},
				{"filtering", f.Behavior},
				{"binding timeout (s)", FormatNumber(f.BindingTimeoutS)},
				{"bindings opened", FormatNumber(float64(f.Opened))},
				{"inbound packets passed", FormatNumber(float64(f.Passed))},
				{"inbound packets dropped", FormatNumber(float64(f.Dropped))},
				{"bindings evicted (table full)", FormatNumber(float64(f.Evicted))},
				{"most bindings at one node", FormatNumber(float64(f.PeakBindings))},
			}))
		}
		page.Sections = append(page.Sections, sec)
	}
	if len(s.Drops) > 0 {
		page.Sections = append(page.Sections, Section{ID: "drops", Title: "Drops",
			Notes:  []string{"Packets and messages dropped, by reason."},
			Tables: []Table{countTable("drops", "reason", "count", s.Drops)}})
	}
	if p := s.Ping; p != nil {
		sec := Section{ID: "ping", Title: "Ping", Tables: []Table{
			kvTable("probes", [][2]string{
				{"sent", FormatNumber(float64(p.Sent))},
				{"answered", FormatNumber(float64(p.Answered))},
				{"timed out", FormatNumber(float64(p.TimedOut))},
				{"measured / model RTT, p50", FormatNumber(p.RatioP50)},
			}),
			percentileTable("round-trip times", []pctRow{
				{"RTT (ms)", p.RTTms},
				{"model RTT (ms)", p.ModelRTTms},
				{"excess over model (ms)", p.ExcessMs},
			}),
		}, Figures: byProto["ping"]}
		delete(byProto, "ping")
		page.Sections = append(page.Sections, sec)
	}
	if g := s.Gossip; g != nil {
		sec := Section{ID: "gossip", Title: "Gossip", Tables: []Table{
			kvTable("delivery", [][2]string{
				{"messages", FormatNumber(float64(g.Messages))},
				{"live nodes", FormatNumber(float64(g.LiveNodes))},
				{"deliveries", FormatNumber(float64(g.Deliveries))},
				{"delivery ratio", FormatNumber(g.DeliveryRatio)},
				{"pull deliveries", FormatNumber(float64(g.PullDeliveries))},
				{"duplicates per node per message", FormatNumber(g.DuplicatesPerNodePerMsg)},
				{"bytes sent per node (B)", FormatNumber(g.BytesSentPerNode)},
				{"latency / shortest path, p50", FormatNumber(g.BoundRatioP50)},
			}),
			percentileTable("latencies and hops", []pctRow{
				{"first delivery (ms)", g.FirstDeliveryMs},
				{"90% reached (ms)", g.Reach90Ms},
				{"99% reached (ms)", g.Reach99Ms},
				{"100% reached (ms)", g.Reach100Ms},
				{"hops", g.Hops},
			}),
		}, Figures: byProto["gossip"]}
		if h := g.Heal; h != nil {
			sec.Tables = append(sec.Tables,
				kvTable("partition heal", [][2]string{
					{"partitions healed", FormatNumber(float64(h.Partitions))},
					{"messages published during a partition", FormatNumber(float64(h.Messages))},
					{"of those, reached every live node", FormatNumber(float64(h.ReachedAll))},
					{"of those, within 10 s after the heal", FormatNumber(float64(h.Within10s))},
					{"repair deliveries (whole run)", FormatNumber(float64(g.RepairDeliveries))},
				}),
				percentileTable("after the heal", []pctRow{{"heal until every live node had it (ms)", h.AfterHealMs}}))
		}
		if len(g.Unreached) > 0 {
			rows := map[string]uint64{}
			for k, v := range g.Unreached {
				rows[k] = uint64(max(v, 0))
			}
			sec.Tables = append(sec.Tables, countTable("messages that never got there", "share of live nodes", "messages", rows))
		}
		if len(g.Drops) > 0 {
			sec.Tables = append(sec.Tables, countTable("gossip drops", "reason", "count", g.Drops))
		}
		delete(byProto, "gossip")
		page.Sections = append(page.Sections, sec)
	}
	if d := s.DHT; d != nil {
		kv := [][2]string{
			{"lookups", FormatNumber(float64(d.Lookups))},
			{"succeeded", FormatNumber(float64(d.Succeeded))},
			{"unfinished", FormatNumber(float64(d.Unfinished))},
			{"success ratio", FormatNumber(d.SuccessRatio)},
			{"messages per lookup", FormatNumber(d.MessagesPerLookup)},
			{"nodes not bootstrapped", FormatNumber(float64(d.NotBootstrapped))},
		}
		sec := Section{ID: "dht", Title: "DHT", Tables: []Table{
			kvTable("lookups and bootstrap", kv),
			percentileTable("latencies, hops and tables", []pctRow{
				{"lookup latency (ms)", d.LatencyMs},
				{"lookup hops", d.Hops},
				{"routing table size (peers)", d.TableSize},
				{"bootstrap time (s)", d.BootstrapS},
			}),
		}, Figures: byProto["dht"]}
		if len(d.Drops) > 0 {
			sec.Tables = append(sec.Tables, countTable("DHT drops", "reason", "count", d.Drops))
		}
		delete(byProto, "dht")
		page.Sections = append(page.Sections, sec)
	}
	if rl := s.Relay; rl != nil {
		sec := Section{ID: "relay", Title: "Relay", Notes: []string{
			"Messages sent along paths of relays with proofs of delivery (core/relay). Every delivered message's proof is verified again with relay.Verify; every sealed batch's header and every inclusion proof are checked from their on-chain forms.",
		}, Tables: []Table{
			kvTable("delivery and proofs", [][2]string{
				{"relays", FormatNumber(float64(rl.Relays))},
				{"private nodes", FormatNumber(float64(rl.PrivateNodes))},
				{"relay sessions of private nodes (up at the end)", FormatNumber(float64(rl.Reservations)) + " (" + FormatNumber(float64(rl.ReservationsUp)) + ")"},
				{"messages", FormatNumber(float64(rl.Messages))},
				{"delivered", FormatNumber(float64(rl.Delivered))},
				{"undelivered", FormatNumber(float64(rl.Undelivered))},
				{"pending at the end", FormatNumber(float64(rl.Pending))},
				{"delivery ratio", FormatNumber(rl.DeliveryRatio)},
				{"proofs verified", FormatNumber(float64(rl.ProofsVerified))},
				{"proofs failed", FormatNumber(float64(rl.ProofsFailed))},
				{"tampered proofs rejected", FormatNumber(float64(rl.TamperedRejected)) + " of " + FormatNumber(float64(rl.TamperedChecked))},
				{"batches (failed)", FormatNumber(float64(rl.Batches)) + " (" + FormatNumber(float64(rl.BatchesFailed)) + ")"},
				{"batched proofs", FormatNumber(float64(rl.BatchedProofs))},
				{"inclusion proofs checked (failed)", FormatNumber(float64(rl.InclusionChecked)) + " (" + FormatNumber(float64(rl.InclusionFailed)) + ")"},
			}),
			percentileTable("latencies and load", []pctRow{
				{"end to end, ack at the sender (ms)", rl.LatencyMs},
				{"delivery, recipient's signed time (ms)", rl.DeliveryMs},
				{"messages per relay", rl.MessagesPerRelay},
				{"bytes per relay (B)", rl.BytesPerRelay},
			}),
		}, Figures: byProto["relay"]}
		for _, t := range []struct {
			caption, key string
			m            map[string]uint64
		}{
			{"messages by path length", "relays", rl.Hops},
			{"undelivered, by the sender's audit", "finding", rl.UndeliveredBy},
			{"suspects named by the audits", "role", rl.Suspects},
			{"refused by relay components", "reason", rl.Refused},
			{"send errors", "reason", rl.SendErrors},
			{"relay session dials refused at once", "reason", rl.ReservationErrors},
		} {
			if len(t.m) > 0 {
				sec.Tables = append(sec.Tables, countTable(t.caption, t.key, "count", t.m))
			}
		}
		delete(byProto, "relay")
		page.Sections = append(page.Sections, sec)
	}
	if nt := s.NAT; nt != nil {
		page.Sections = append(page.Sections, natReportSection(nt, byProto["nat"]))
		delete(byProto, "nat")
	}
	if s.Chaos != nil {
		page.Sections = append(page.Sections, chaosReportSection(s.Chaos))
	}
	// Plots of a protocol the summary has no section for.
	var rest []Figure
	for _, f := range figs {
		proto, _, _ := strings.Cut(f.Name, "_")
		if _, ok := byProto[proto]; ok {
			rest = append(rest, f)
		}
	}
	if len(rest) > 0 {
		page.Sections = append(page.Sections, Section{ID: "plots", Title: "Other plots", Figures: rest})
	}

	page.Sections = append(page.Sections, Section{ID: "values", Title: "All summary values", Collapsed: true,
		Notes:  []string{"Every number in summary.json by dotted path, as sweeps and compare see them; the wall-clock fields are under Cost."},
		Tables: []Table{metricTable(metrics)}})
	if y, err := os.ReadFile(filepath.Join(dir, "scenario.yaml")); err == nil {
		page.Sections = append(page.Sections, Section{ID: "scenario", Title: "Scenario",
			Notes: []string{"The effective scenario (scenario.yaml), overrides applied."}, Pre: string(y)})
	}
	if links := runFiles(dir); len(links) > 0 {
		page.Sections = append(page.Sections, Section{ID: "files", Title: "Files", Links: links,
			Notes: []string{"The run's outputs beside this report."}})
	}
	page.Sections = append(page.Sections, CostSection([]string{"value"}, []map[string]float64{cost}))
	return page, nil
}

// pctRow is one row of a percentile table.
type pctRow struct {
	name string
	p    Percentiles
}

// pctHeader is the header of percentile tables after the row name.
var pctHeader = []string{"n", "min", "mean", "p50", "p90", "p95", "p99", "max"}

// percentileTable has a row per sample and a column per statistic. Rows of
// empty samples are left out.
func percentileTable(caption string, rows []pctRow) Table {
	t := Table{Caption: caption, Header: append([]string{""}, pctHeader...), Left: 1}
	for _, r := range rows {
		p := r.p
		if p.N == 0 {
			continue
		}
		t.Rows = append(t.Rows, []string{r.name, FormatNumber(float64(p.N)), FormatNumber(p.Min), FormatNumber(p.Mean),
			FormatNumber(p.P50), FormatNumber(p.P90), FormatNumber(p.P95), FormatNumber(p.P99), FormatNumber(p.Max)})
	}
	return t
}

// kvTable is a two-column table of names and values.
func kvTable(caption string, kv [][2]string) Table {
	t := Table{Caption: caption, Left: 1}
	for _, r := range kv {
		t.Rows = append(t.Rows, []string{r[0], r[1]})
	}
	return t
}

// countTable lists counts by key, in key order.
func countTable(caption, keyHeader, valueHeader string, m map[string]uint64) Table {
	t := Table{Caption: caption, Header: []string{keyHeader, valueHeader}, Left: 1}
	for _, k := range sortedKeys(m) {
		t.Rows = append(t.Rows, []string{k, FormatNumber(float64(m[k]))})
	}
	return t
}

// metricTable lists flattened metrics by name.
func metricTable(m map[string]float64) Table {
	t := Table{Header: []string{"metric", "value"}, Left: 1}
	for _, k := range sortedKeys(m) {
		t.Rows = append(t.Rows, []string{k, FormatNumber(m[k])})
	}
	return t
}

// CostSection is the wall-clock table: one row per field of
// WallClockFields, one value column per entry of costs.
func CostSection(columns []string, costs []map[string]float64) Section {
	t := Table{Caption: "wall clock and memory", Header: append([]string{"field"}, columns...), Left: 1}
	for _, f := range WallClockFields {
		row := []string{costLabel(f)}
		for _, c := range costs {
			v, ok := c[f]
			switch {
			case !ok:
				row = append(row, "")
			case f == "peak_heap_bytes" || f == "live_heap_bytes":
				row = append(row, FormatNumber(v/(1<<20)))
			case f == "live_heap_per_node_bytes":
				row = append(row, FormatNumber(v/(1<<10)))
			default:
				row = append(row, FormatNumber(v))
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return Section{ID: "cost", Title: "Cost (wall clock)", Cost: true, Tables: []Table{t},
		Notes: []string{"These figures depend on the machine and its load, not on the scenario and seed: they differ between identical runs and are no part of the deterministic result."}}
}

// costLabel names a wall-clock field with its unit.
func costLabel(f string) string {
	switch f {
	case "wall_s":
		return "wall time (s)"
	case "events_per_s":
		return "events per wall-clock second"
	case "peak_heap_bytes":
		return "peak heap (MiB)"
	case "live_heap_bytes":
		return "live heap at the end (MiB)"
	case "live_heap_per_node_bytes":
		return "live heap per node (KiB)"
	}
	return f
}

// runFileNames are the outputs a run folder may hold, in display order.
// The plot files are left out: the report embeds the plots, and 'plot'
// may add files the run did not write.
var runFileNames = []string{
	"summary.json", "scenario.yaml", "trace.jsonl", "trace.jsonl.gz",
	"gossip_propagation.csv", "gossip_latency.csv", "dht_lookup_latency.csv", "dht_hops.csv",
	"ping_rtt_cdf.csv", "ping_rtt_by_region.csv", "nodes.csv", "command.txt",
}

// runFiles links the known outputs present in dir.
func runFiles(dir string) []Link {
	var out []Link
	for _, f := range runFileNames {
		if exists(filepath.Join(dir, f)) {
			out = append(out, Link{Href: f, Text: f})
		}
	}
	return out
}

// shortHash is the first 12 characters of a hex digest.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

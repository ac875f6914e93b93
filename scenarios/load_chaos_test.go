package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const chaosSrc = base + `  loss: 0.5%
faults:
  - at: 1s
    link: {from: [0-4], to: all, drop: 5%, duplicate: 1%, corrupt: 0.1%, reorder: 2%, reorder_delay: 30ms, delay: 50ms,
      jitter: {distribution: weibull, shape: 2, mean: 5ms}}
    heal_after: 2s
  - at: 1s
    every: 3s
    count: 2
    link: {to: [9], delay: 10ms}
    heal_after: 1s
  - at: 2s
    partition: {groups: [[0-4], [5-9]], oneway: true}
    heal_after: 1s
  - at: 3s
    partition: {groups: [[0-4], [5-9]], share: 50%}
  - at: 4s
    skew: {nodes: [7, 8], offset: -2s, drift: 50ppm}
churn:
  share: 50%
  session: {distribution: pareto, shape: 1.5, mean: 10m}
  downtime: {distribution: exponential, mean: 30s}
  keep_state: true
  start: 1s
`

func TestParseChaos(t *testing.T) {
	s, err := Parse("x.yaml", []byte(chaosSrc))
	if err != nil {
		t.Fatal(err)
	}
	l := s.Faults[0].Link
	if l == nil || l.Drop != 0.05 || l.Corrupt != 0.001 || l.Delay != Duration(50*time.Millisecond) || l.From.All || !l.To.All ||
		l.Jitter.Distribution != "weibull" || l.Jitter.Shape != 2 {
		t.Errorf("link fault %+v", l)
	}
	if got := l.Jitter.Dist().Mean(); got < 5*time.Millisecond-time.Microsecond || got > 5*time.Millisecond+time.Microsecond {
		t.Errorf("jitter mean %v, want 5ms", got)
	}
	if p := s.Faults[2].Partition; !p.OneWay || p.Share != 0 {
		t.Errorf("one-way partition %+v", p)
	}
	if p := s.Faults[3].Partition; p.OneWay || p.Share != 0.5 {
		t.Errorf("partial partition %+v", p)
	}
	if sk := s.Faults[4].Skew; sk.DriftPPM != 50 || sk.Offset != Duration(-2*time.Second) || sk.Skew().Drift != 50e-6 {
		t.Errorf("skew %+v", sk)
	}
	c := s.Churn
	if c == nil || c.Nodes.Share != 0.5 || !c.KeepState || c.Start != Duration(time.Second) || c.Downtime.Scale != Duration(30*time.Second) {
		t.Fatalf("churn %+v", c)
	}
	nodes, err := s.ChurnNodes()
	if err != nil || len(nodes) != 5 {
		t.Errorf("churn nodes %v, %v", nodes, err)
	}
	roundTrip(t, s)

	// The default churn set is every node but the bootstrap nodes.
	s, err = Parse("x.yaml", []byte(strings.Replace(base, "nodes:\n  count: 10\n", "nodes:\n  count: 10\n  bootstrap: [0, 1]\n", 1)+
		"churn: {session: {distribution: weibull, shape: 0.5, scale: 1m}, downtime: {distribution: uniform, max: 10s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if nodes, _ := s.ChurnNodes(); len(nodes) != 8 || nodes[0] != 2 {
		t.Errorf("default churn nodes %v", nodes)
	}
	roundTrip(t, s)
}

// Every new error names file:line:column and the dotted key.
func TestParseChaosErrors(t *testing.T) {
	f := func(entry string) string { return base + "faults:\n  - " + entry + "\n" }
	cases := []struct{ name, src, want string }{
		{"two kinds", f("{link: {drop: 1%}, skew: {nodes: [1], offset: 1s}}"), "x.yaml:8:24: faults[0]: one fault per entry: link and skew"},
		{"link and crash", f("{crash: {share: 5%}, link: {drop: 1%}}"), "x.yaml:8:26: faults[0]: one fault per entry: crash and link"},
		{"empty link", f("{link: }"), "x.yaml:8:6: faults[0].link: missing the link fault"},
		{"no-op link", f("{link: {from: [1]}}"), "x.yaml:8:12: faults[0].link: the link fault does nothing"},
		{"unknown link key", f("{link: {dorp: 1%}}"), `x.yaml:8:13: faults[0].link: unknown key "dorp" (did you mean "drop"?)`},
		{"bad fraction", f("{link: {drop: lots}}"), "x.yaml:8:19: faults[0].link.drop:"},
		{"drop all", f("{link: {drop: 100%}}"), "x.yaml:8:19: faults[0].link.drop: must be below 100%"},
		{"big delay", f("{link: {delay: 2h}}"), "x.yaml:8:20: faults[0].link.delay: at most 1h"},
		{"negative delay", f("{link: {delay: -1s}}"), "x.yaml:8:20: faults[0].link.delay: must not be negative"},
		{"reorder delay alone", f("{link: {delay: 1ms, reorder_delay: 5ms}}"), "x.yaml:8:25: faults[0].link.reorder_delay: only with reorder"},
		{"empty from", f("{link: {from: [], drop: 1%}}"), "x.yaml:8:19: faults[0].link.from: empty node set"},
		{"to out of range", f("{link: {to: [12], drop: 1%}}"), "faults[0].link.to:"},
		{"jitter kind", f("{link: {jitter: {distribution: gauss, mean: 1ms}}}"), `x.yaml:8:36: faults[0].link.jitter.distribution: unknown distribution "gauss"`},
		{"jitter no distribution", f("{link: {jitter: {mean: 1ms}}}"), "x.yaml:8:21: faults[0].link.jitter.distribution: missing required field"},
		{"jitter no size", f("{link: {jitter: {distribution: normal}}}"), "x.yaml:8:21: faults[0].link.jitter: missing the distribution's size"},
		{"jitter two sizes", f("{link: {jitter: {distribution: exponential, mean: 1ms, scale: 2ms}}}"), "x.yaml:8:60: faults[0].link.jitter.scale: give one of mean, scale, max and stddev, not mean and scale"},
		{"jitter max", f("{link: {jitter: {distribution: normal, max: 1ms}}}"), "x.yaml:8:44: faults[0].link.jitter.max: max is the uniform distribution's"},
		{"jitter stddev", f("{link: {jitter: {distribution: uniform, stddev: 1ms}}}"), "x.yaml:8:45: faults[0].link.jitter.stddev: stddev is the normal distribution's"},
		{"jitter shape", f("{link: {jitter: {distribution: exponential, shape: 2, mean: 1ms}}}"), "x.yaml:8:49: faults[0].link.jitter.shape: only weibull and pareto take a shape"},
		{"jitter missing shape", f("{link: {jitter: {distribution: weibull, mean: 1ms}}}"), "x.yaml:8:21: faults[0].link.jitter.shape: missing: weibull needs a shape"},
		{"jitter shape range", f("{link: {jitter: {distribution: weibull, shape: 500, scale: 1ms}}}"), "x.yaml:8:52: faults[0].link.jitter: weibull shape 500: must be from 0.05 to 100"},
		{"jitter pareto mean", f("{link: {jitter: {distribution: pareto, shape: 1, mean: 1ms}}}"), "x.yaml:8:60: faults[0].link.jitter.mean: pareto shape 1: a mean exists only for shape > 1"},
		{"jitter zero", f("{link: {jitter: {distribution: uniform, max: 0s}}}"), "x.yaml:8:50: faults[0].link.jitter.max: must be positive"},
		{"repeat without heal", f("{every: 2s, count: 2, link: {drop: 1%}}"), "x.yaml:8:17: faults[0].heal_after: a repeated link fault must heal before the next"},
		{"every alone", f("{every: 2s, link: {drop: 1%}}"), "x.yaml:8:13: faults[0].every: every needs count"},
		{"at too late", f("{at: 1h, link: {drop: 1%}}"), "x.yaml:8:10: faults[0].at: 1h is not before the end of the run"},
		{"skew no nodes", f("{skew: {offset: 1s}}"), "x.yaml:8:12: faults[0].skew.nodes: missing required field"},
		{"skew nothing", f("{skew: {nodes: [1]}}"), "x.yaml:8:12: faults[0].skew: the skew does nothing"},
		{"skew drift", f("{skew: {nodes: [1], drift: 50}}"), "x.yaml:8:32: faults[0].skew.drift: expected a rate error in ppm"},
		{"skew big drift", f("{skew: {nodes: [1], drift: 20000ppm}}"), "x.yaml:8:32: faults[0].skew.drift: must be within ±10000ppm"},
		{"skew offset", f("{skew: {nodes: [1], offset: 48h}}"), "x.yaml:8:33: faults[0].skew.offset: must be within ±24h"},
		{"skew empty", f("{skew: {nodes: [], offset: 1s}}"), "x.yaml:8:20: faults[0].skew.nodes: empty node set"},
		{"oneway groups", f("{partition: {groups: [[0], [1], [2]], oneway: true}}"), "x.yaml:8:51: faults[0].partition.oneway: a one-way partition needs exactly 2 groups"},
		{"oneway type", f("{partition: {groups: [[0], [1]], oneway: yes}}"), "x.yaml:8:46: faults[0].partition.oneway: expected true or false"},
		{"share zero", f("{partition: {groups: [[0], [1]], share: 0%}}"), "x.yaml:8:45: faults[0].partition.share: must be positive"},
		{"churn unknown", base + "churn: {sesion: {}}\n", `x.yaml:7:9: churn: unknown key "sesion" (did you mean "session"?)`},
		{"churn no session", base + "churn: {downtime: {distribution: exponential, mean: 1s}}\n", "x.yaml:7:8: churn.session: missing required field"},
		{"churn bad session", base + "churn: {session: {distribution: pareto, shape: 0.9, mean: 1m}, downtime: {distribution: exponential, mean: 1s}}\n",
			"x.yaml:7:59: churn.session.mean: pareto shape 0.9: a mean exists only for shape > 1"},
		{"churn both", base + "churn: {nodes: [1], share: 5%}\n", "x.yaml:7:21: churn: give nodes or share, not both"},
		{"churn share zero", base + "churn: {share: 0%}\n", "x.yaml:7:16: churn.share: must be positive"},
		{"churn share tiny", base + "churn: {share: 1%}\n", "x.yaml:7:16: churn: 1% of 10 nodes is no node"},
		{"churn empty nodes", base + "churn: {nodes: []}\n", "x.yaml:7:16: churn.nodes: empty node set"},
		{"churn keep_state", base + "churn: {keep_state: 1, session: {distribution: exponential, mean: 1s}, downtime: {distribution: exponential, mean: 1s}}\n",
			"x.yaml:7:21: churn.keep_state: expected true or false"},
		{"churn start", base + "churn: {start: 2h, session: {distribution: exponential, mean: 1s}, downtime: {distribution: exponential, mean: 1s}}\n",
			"x.yaml:7:16: churn.start: 2h is not before the end of the run"},
		{"churn not a mapping", base + "churn: [1]\n", "x.yaml:7:8: churn: expected a mapping"},
		{"churn dist not a mapping", base + "churn: {session: weibull, downtime: {distribution: exponential, mean: 1s}}\n", "x.yaml:7:18: churn.session: expected a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(c.src))
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Errorf("%v is not an *Error wrapping ErrInvalid", err)
			}
		})
	}
}

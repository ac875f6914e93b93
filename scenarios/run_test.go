package scenarios

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// summaryWithoutWall returns summary.json with the wall-clock fields removed.
func summaryWithoutWall(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"wall_s", "events_per_s", "peak_heap_bytes"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("summary lacks %s", k)
		}
		delete(m, k)
	}
	return m
}

func runBuiltin(t *testing.T, name string, dir string, sets ...string) {
	t.Helper()
	sc, err := Builtin(name, sets...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(sc, RunOptions{OutDir: dir}); err != nil {
		t.Fatal(err)
	}
}

func TestDeterminism(t *testing.T) {
	for _, name := range []string{"ping-50", "ping-1000"} {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name == "ping-1000" {
				t.Skip("short")
			}
			a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
			prev := runtime.GOMAXPROCS(1)
			runBuiltin(t, name, a)
			runtime.GOMAXPROCS(max(prev, 2))
			runBuiltin(t, name, b)
			runtime.GOMAXPROCS(prev)
			runBuiltin(t, name, c, "seed=999")
			sa, sb, sc := summaryWithoutWall(t, a), summaryWithoutWall(t, b), summaryWithoutWall(t, c)
			ja, _ := json.Marshal(sa)
			jb, _ := json.Marshal(sb)
			if !bytes.Equal(ja, jb) {
				t.Fatalf("same seed, different summaries (seed %v):\n%s\n%s", sa["seed"], ja, jb)
			}
			ta, _ := os.ReadFile(filepath.Join(a, "trace.jsonl"))
			tb, _ := os.ReadFile(filepath.Join(b, "trace.jsonl"))
			if !bytes.Equal(ta, tb) || len(ta) == 0 {
				t.Fatalf("same seed, different or empty traces (seed %v)", sa["seed"])
			}
			if sa["trace_sha256"] == sc["trace_sha256"] {
				t.Fatalf("seeds %v and 999 gave the same trace", sa["seed"])
			}
		})
	}
}

// With constant latency, no jitter, no loss and unlimited bandwidth, every
// RTT is exactly twice the one-way latency.
func TestPingMatchesConstantModel(t *testing.T) {
	sc, err := Builtin("ping-50")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(sc, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Ping
	if p == nil || p.Answered == 0 {
		t.Fatalf("no pings answered: %+v", s)
	}
	if p.Answered != p.Sent || p.TimedOut != 0 {
		t.Errorf("sent %d answered %d timed out %d", p.Sent, p.Answered, p.TimedOut)
	}
	if p.ExcessMs.Min != 0 || p.ExcessMs.Max != 0 || p.RTTms.P50 != 40 {
		t.Errorf("RTT does not match the model: rtt %+v excess %+v", p.RTTms, p.ExcessMs)
	}
}

// On the region model with jitter and bandwidth limits, no RTT may beat the
// model (causality) and the median excess stays small.
func TestPingRegionModelCausal(t *testing.T) {
	sc, err := Builtin("ping-1000", "nodes.count=200", "faults=[]")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(sc, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Ping
	if p.ExcessMs.Min < 0 {
		t.Fatalf("an RTT beat the latency model by %.3f ms", -p.ExcessMs.Min)
	}
	if p.ExcessMs.P50 > 10 {
		t.Errorf("median excess over the model %.3f ms: the model is not what the network does", p.ExcessMs.P50)
	}
	if p.RatioP50 < 1 || p.RatioP50 > 1.2 {
		t.Errorf("median measured/model RTT ratio %.3f", p.RatioP50)
	}
}

func TestFaultsTakeEffect(t *testing.T) {
	sc, err := Builtin("ping-1000", "nodes.count=200",
		"faults=[{at: 2s, partition: {groups: [[0-99], [100-199]]}, heal_after: 3s}, {at: 6s, crash: {nodes: [0-19], restart_after: 2s, keep_state: false}}]")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Run(sc, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Network.Dropped["partition"] == 0 {
		t.Errorf("partition dropped nothing: %+v", s.Network)
	}
	if s.Network.Dropped["down"] == 0 {
		t.Errorf("crash dropped nothing: %+v", s.Network)
	}
	if s.Ping.TimedOut == 0 {
		t.Error("no ping timed out despite partition and crash")
	}
	if s.Ping.Answered == 0 {
		t.Error("nothing answered")
	}
}

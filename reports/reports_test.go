package reports

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/dchat/network/core"
)

func TestTraceLineAndHash(t *testing.T) {
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var plain, zipped bytes.Buffer
	tw := NewTraceWriter(&plain, false, epoch)
	tz := NewTraceWriter(&zipped, true, epoch)
	ev := core.Drop{From: netip.MustParseAddrPort("10.0.0.2:4001"), Msg: "ping", Reason: "malformed"}
	for _, w := range []*TraceWriter{tw, tz} {
		w.Write(epoch.Add(1500*time.Millisecond), 3, ev)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"t_ns":1500000000,"node":3,"ev":"drop","from":"10.0.0.2:4001","msg":"ping","reason":"malformed"}` + "\n"
	if plain.String() != want {
		t.Fatalf("line:\n%s\nwant:\n%s", plain.String(), want)
	}
	zr, err := gzip.NewReader(&zipped)
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if string(unz) != want {
		t.Fatalf("gzip content differs: %q", unz)
	}
	if tw.SHA256() != tz.SHA256() || tw.Lines() != 1 {
		t.Fatal("hash must not depend on compression")
	}
	// A hash-only writer agrees too.
	th := NewTraceWriter(nil, false, epoch)
	th.Write(epoch.Add(1500*time.Millisecond), 3, ev)
	if th.SHA256() != tw.SHA256() {
		t.Fatal("hash-only writer differs")
	}
}

func TestSummarize(t *testing.T) {
	xs := make([]float64, 0, 100)
	for i := 100; i >= 1; i-- {
		xs = append(xs, float64(i))
	}
	p := Summarize(xs)
	if p.N != 100 || p.Min != 1 || p.Max != 100 || p.P50 != 50 || p.P90 != 90 || p.P99 != 99 || p.Mean != 50.5 {
		t.Fatalf("%+v", p)
	}
	if (Summarize(nil) != Percentiles{}) {
		t.Fatal("empty sample")
	}
	if Quantile([]float64{7}, 0.01) != 7 {
		t.Fatal("single-element quantile")
	}
}

func TestSummaryRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &Summary{Scenario: "x", Seed: 2, Nodes: 3, Drops: map[string]uint64{"b": 1, "a": 2},
		Ping: &PingSection{Sent: 4, RTTms: Summarize([]float64{1, 2, 3})}}
	if err := s.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSummary(dir)
	if err != nil || back.Ping.RTTms.P50 != 2 || back.Drops["a"] != 2 {
		t.Fatalf("%+v %v", back, err)
	}
	b, _ := os.ReadFile(dir + "/summary.json")
	if !bytes.Contains(b, []byte(`"a": 2,`+"\n"+`    "b": 1`)) {
		t.Fatalf("map keys not sorted:\n%s", b)
	}
}

package reports

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fakeRun writes a run output folder with every summary section, the
// CSV tables of every plot, and a scenario.yaml holding text that must be
// escaped (and URLs, which are allowed there). wall is the wall-clock
// time; scale stretches the latencies.
func fakeRun(t *testing.T, dir string, seed uint64, wall, scale float64) *Summary {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pct := func(base float64) Percentiles {
		return Percentiles{N: 100, Min: base / 2, Mean: base, P50: base, P90: 1.5 * base, P95: 1.8 * base, P99: 2 * base, Max: 3 * base}
	}
	s := &Summary{
		Scenario: "fake-<b>run</b>", Seed: seed, Nodes: 1200, SimTimeS: 40, WallS: wall, Events: 123456,
		EventsPerS: 123456 / wall, PeakHeapBytes: 50 << 20, TraceEvents: 999, TraceSHA256: strings.Repeat(strconv.FormatUint(seed%10, 10)+"f", 32),
		Network: &NetworkSection{PacketsSent: 5000, PacketsDelivered: 4900, BytesSent: 1 << 20, Dropped: map[string]uint64{"loss": 90, "partition": 10}},
		Drops:   map[string]uint64{"queue-full": 3},
		Ping:    &PingSection{Sent: 10, Answered: 9, TimedOut: 1, RTTms: pct(40 * scale), ModelRTTms: pct(38), ExcessMs: pct(2), RatioP50: 1.05},
		Gossip: &GossipSection{Messages: 20, LiveNodes: 1200, Deliveries: 24000, DeliveryRatio: 1, FirstDeliveryMs: pct(100 * scale),
			Reach90Ms: pct(200), Reach99Ms: pct(300), Reach100Ms: pct(400), Unreached: map[string]int{"100%": 1},
			DuplicatesPerNodePerMsg: 2.5, BytesSentPerNode: 1000, Hops: pct(3), PullDeliveries: 7, Drops: map[string]uint64{"rate-limit": 4}, BoundRatioP50: 1.3},
		DHT: &DHTSection{Lookups: 50, Succeeded: 49, SuccessRatio: 0.98, LatencyMs: pct(150), Hops: pct(2), MessagesPerLookup: 9,
			TableSize: pct(40), BootstrapS: pct(1.5), Drops: map[string]uint64{"timeout": 2}},
	}
	if err := s.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	yaml := "name: fake\ndescription: see https://example.org/x and <script>alert(1)</script> & more\nseed: " + strconv.FormatUint(seed, 10) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "scenario.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	msgs := syntheticSpreads(20, 100, scale, seed)
	var lat []float64
	for _, m := range msgs {
		lat = append(lat, m.LatenciesMs...)
	}
	var rows [][]string
	for q := 0; q <= 100; q++ {
		v := 30 + float64(q)*scale
		rows = append(rows, []string{strconv.Itoa(q), formatFloat3(v), formatFloat3(v - 2)})
	}
	for _, err := range []error{
		WriteCurveCSV(dir, "gossip_propagation.csv", PropagationCurve(msgs, 10, 0)),
		WriteLatenciesCSV(dir, "gossip_latency.csv", lat),
		WriteColumnCSV(dir, "dht_lookup_latency.csv", "latency_ms", syntheticLatencies(50, seed)),
		WriteColumnCSV(dir, "dht_hops.csv", "hops", syntheticHops(50, seed)),
		WriteCSV(dir, "ping_rtt_cdf.csv", rttHeader, rows),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// costSection matches the page's wall-clock section.
var costSectionRE = regexp.MustCompile(`(?s)<section id="cost".*?</section>`)

// preRE matches preformatted blocks (the scenario text).
var preRE = regexp.MustCompile(`(?s)<pre>.*?</pre>`)

// checkSelfContained fails if page refers to anything outside itself:
// URLs with a scheme, root-relative or protocol-relative references,
// external style sheets, scripts or fonts. Preformatted text (the scenario
// file, which may mention URLs) is left out.
func checkSelfContained(t *testing.T, page []byte) {
	t.Helper()
	body := preRE.ReplaceAll(page, nil)
	for _, bad := range []string{"http://", "https://", `src="/`, `href="/`, `src="http`, "<link", "@import", "url(", "<iframe", "<object", "<embed", `src="file:`} {
		if i := bytes.Index(body, []byte(bad)); i >= 0 {
			t.Errorf("page refers outside itself: %q at %q", bad, body[max(0, i-60):min(len(body), i+60)])
		}
	}
	for _, m := range regexp.MustCompile(`src="([^"]*)"`).FindAllSubmatch(body, -1) {
		if !bytes.HasPrefix(m[1], []byte("data:image/svg+xml;base64,")) {
			t.Errorf("image source %.60q is not an embedded SVG", m[1])
		}
	}
	if n := bytes.Count(body, []byte("<script")); n != 1 {
		t.Errorf("%d scripts, want the one that counts plots", n)
	}
}

// embeddedSVGs decodes the page's images.
func embeddedSVGs(t *testing.T, page []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, m := range regexp.MustCompile(`src="data:image/svg\+xml;base64,([^"]*)"`).FindAllSubmatch(page, -1) {
		b, err := base64.StdEncoding.DecodeString(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestRunReport(t *testing.T) {
	dir := t.TempDir()
	fakeRun(t, dir, 1, 0.5, 1)
	plots, err := WriteRunReport(dir, "dchat-sim run fake --seed 1 --set 'a=<b>'", nil)
	if err != nil {
		t.Fatal(err)
	}
	if plots != 5 {
		t.Errorf("%d plots, want 5 (propagation, latency CDF, DHT CDF and hops, ping RTT)", plots)
	}
	page, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<!DOCTYPE html>`, `<meta charset="utf-8">`, `data-plots="5"`,
		`<section id="run">`, `<section id="network">`, `<section id="drops">`, `<section id="ping">`,
		`<section id="gossip">`, `<section id="dht">`, `<section id="values">`, `<section id="scenario">`,
		`<section id="files">`, `<section id="cost" class="cost">`,
		`id="plot-gossip_propagation"`, `id="plot-gossip_latency_cdf"`, `id="plot-dht_lookup_cdf"`, `id="plot-dht_hops"`, `id="plot-ping_rtt_cdf"`,
		// Escaped: the scenario name, the command and the scenario text.
		`dchat-sim run: fake-&lt;b&gt;run&lt;/b&gt;`,
		`dchat-sim run fake --seed 1 --set &#39;a=&lt;b&gt;&#39;`,
		`&lt;script&gt;alert(1)&lt;/script&gt; &amp; more`,
		// Tables: units in headers, percentiles as columns.
		`<th class="n">p95</th>`, `first delivery (ms)`, `lookup latency (ms)`, `bytes sent (B)`, `RTT (ms)`,
		`<td>partition</td><td class="n">10</td>`, `<td>queue-full</td>`, `<td>rate-limit</td>`, `<td>timeout</td>`,
		`<td class="n">1,200</td>`, `gossip.first_delivery_ms.p99`, `peak heap (MiB)`,
		`<a href="summary.json">summary.json</a>`,
	} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<b>run</b>", "<script>alert", "a=<b>"} {
		if bytes.Contains(page, []byte(bad)) {
			t.Errorf("report holds unescaped %q", bad)
		}
	}
	checkSelfContained(t, page)
	// The deterministic part of the page sits outside the cost section.
	if bytes.Contains(costSectionRE.ReplaceAll(page, nil), []byte("wall time")) {
		t.Error("wall-clock figures outside the cost section")
	}
	svgs := embeddedSVGs(t, page)
	if len(svgs) != 5 {
		t.Fatalf("%d embedded SVGs", len(svgs))
	}
	for _, svg := range svgs {
		if !bytes.HasPrefix(svg, []byte("<?xml")) || !bytes.Contains(svg, []byte("</svg>")) || !bytes.Contains(svg, []byte(`lengthAdjust="spacingAndGlyphs"`)) ||
			!bytes.Contains(svg, []byte("'Times New Roman'")) {
			t.Errorf("embedded SVG malformed or without text fitting: %.200s", svg)
		}
	}
}

func TestRunReportDeterministic(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	fakeRun(t, a, 3, 0.5, 1)
	fakeRun(t, b, 3, 7.25, 1) // same run on a slower machine
	for _, d := range []string{a, b} {
		if _, err := WriteRunReport(d, "dchat-sim run fake --seed 3", nil); err != nil {
			t.Fatal(err)
		}
	}
	pa, _ := os.ReadFile(filepath.Join(a, ReportFile))
	pb, _ := os.ReadFile(filepath.Join(b, ReportFile))
	if bytes.Equal(pa, pb) {
		t.Fatal("different wall-clock figures, same page")
	}
	if !bytes.Equal(costSectionRE.ReplaceAll(pa, nil), costSectionRE.ReplaceAll(pb, nil)) {
		t.Fatal("reports differ outside the cost section")
	}
	// Rendering again gives the same bytes.
	if _, err := WriteRunReport(a, "dchat-sim run fake --seed 3", nil); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(a, ReportFile)); !bytes.Equal(again, pa) {
		t.Fatal("the same report twice gave different bytes")
	}
}

func TestRunReportSparse(t *testing.T) {
	// Only a summary: no plots, no scenario, no sections but the run's.
	dir := t.TempDir()
	s := &Summary{Scenario: "bare", Seed: 1, Nodes: 3}
	if err := s.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	p, err := RunReport(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Plots() != 0 {
		t.Errorf("%d plots", p.Plots())
	}
	html, err := p.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`id="gossip"`, `id="scenario"`, `id="ping"`} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("section %s without data", bad)
		}
	}
	if !bytes.Contains(html, []byte("dchat-sim run "+filepath.Join(dir, "scenario.yaml"))) {
		t.Error("no default command")
	}
	if _, err := RunReport(t.TempDir(), "", nil); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "summary.json") {
		t.Errorf("missing summary: %v", err)
	}
}

func TestPageEscapes(t *testing.T) {
	p := &Page{
		Title: `<script>alert("t")</script>`, Subtitle: "a & b",
		Sections: []Section{{
			ID: "s", Title: "<i>sec</i>", Notes: []string{`"quoted" <note>`}, Command: "run --set 'x=<y>'",
			Tables:  []Table{{Caption: "<cap>", Header: []string{"<h>", "n"}, Rows: [][]string{{"<td>", "1"}}, Left: 1}},
			Figures: []Figure{{Name: `x" onload="alert(1)`, Caption: `<cap" onerror="x`, SVG: []byte("<svg/>")}},
			Links:   []Link{{Href: "javascript:alert(1)", Text: "<l>"}},
			Pre:     "</pre><script>x</script>",
		}},
	}
	html, err := p.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`<script>alert`, `<i>sec`, `<note>`, `<cap>`, `<h>`, `<td><td>`, `onload="alert`, `onerror="x`, `href="javascript:`, "</pre><script>", `<l>`} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("unescaped %q in\n%s", bad, html)
		}
	}
	for _, want := range []string{`&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;`, `a &amp; b`, `&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;`, `href="#ZgotmplZ"`} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("lacks %q", want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-1234567, "-1,234,567"}, {1234.5678, "1,234.57"}, {0.99987654, "0.999877"},
		{103.063, "103.063"}, {1e20, "1e+20"}, {0.00001234, "1.234e-05"}, {math.NaN(), "n/a"}, {math.Inf(1), "+Inf"},
	} {
		if got := FormatNumber(c.x); got != c.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", c.x, got, c.want)
		}
	}
	if got := FormatSig(3206.71, 3); got != "3,210" {
		t.Errorf("FormatSig = %q", got)
	}
	for _, c := range []struct {
		a, b float64
		want string
	}{{100, 112.5, "+12.5%"}, {100, 97, "-3%"}, {5, 5, "0%"}, {0, 3, "n/a"}, {1, 20, "+1900%"}, {-2, -1, "+50%"}} {
		if got := FormatChange(c.a, c.b); got != c.want {
			t.Errorf("FormatChange(%v, %v) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
	if got := ShellCommand("dchat-sim", "run", "x.yaml", "--set", "outputs=[summary, csv]", "--set", "a='b'"); got != `dchat-sim run x.yaml --set 'outputs=[summary, csv]' --set 'a='\''b'\'''` {
		t.Errorf("ShellCommand: %s", got)
	}
}

func TestCompareRuns(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	fakeRun(t, a, 1, 0.5, 1)
	sb := fakeRun(t, b, 2, 0.7, 1.4)
	sb.Gossip.DeliveryRatio = 0.5
	sb.Gossip.Drops = nil // a metric only A has
	if err := sb.WriteFile(b); err != nil {
		t.Fatal(err)
	}
	c, err := CompareRuns(a, b)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cmp")
	if err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(out, ReportFile))
	checkSelfContained(t, page)
	if c.Page.Plots() != 4 {
		t.Errorf("%d plots, want 4 (propagation, two latency CDFs, ping RTT)", c.Page.Plots())
	}
	for _, want := range []string{
		`<tr class="marked"><td>gossip.delivery_ratio</td><td class="n">1</td><td class="n">0.5</td><td class="n">-0.5</td><td class="n">-50%</td></tr>`,
		`<tr><td>gossip.messages</td><td class="n">20</td><td class="n">20</td><td class="n">0</td><td class="n">0%</td></tr>`,
		`<td>gossip.drops.rate-limit</td><td class="n">4</td><td class="n"></td>`,
		"- seed: 1\n&#43; seed: 2", "Same scenario, different seeds", `<section id="cost" class="cost">`,
		`id="plot-gossip_propagation"`, `id="plot-ping_rtt_cdf"`,
	} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("compare report lacks %q", want)
		}
	}
	csvb, _ := os.ReadFile(filepath.Join(out, CompareCSV))
	for _, want := range []string{"metric,a,b,diff,rel_change\n", "gossip.delivery_ratio,1,0.5,-0.5,-0.5\n", "gossip.drops.rate-limit,4,,,\n"} {
		if !bytes.Contains(csvb, []byte(want)) {
			t.Errorf("compare.csv lacks %q:\n%s", want, csvb)
		}
	}
	if bytes.Contains(csvb, []byte("wall_s")) {
		t.Error("wall-clock field among the compared metrics")
	}
	// A folder without a summary: the error names the path.
	empty := t.TempDir()
	if _, err := CompareRuns(a, empty); err == nil || !strings.Contains(err.Error(), filepath.Join(empty, "summary.json")) {
		t.Errorf("missing summary: %v", err)
	}
}

func TestLineDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\n"
	b := "a\nb\nC\nd\ne\nf\ng\nh\n"
	want := "  b\n- c\n+ C\n  d\n…\n  g\n+ h\n"
	if got := LineDiff(a, b); got != want {
		t.Errorf("LineDiff:\n%s\nwant\n%s", got, want)
	}
	if LineDiff(a, a) != "" {
		t.Error("identical texts differ")
	}
	if got := LineDiff("", "x\n"); got != "+ x\n" {
		t.Errorf("from empty: %q", got)
	}
}

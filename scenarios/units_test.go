package scenarios

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"
)

// wantErr checks that err is an ErrInvalid error whose text contains every
// one of words.
func wantErr(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one containing %q", what, words)
		return
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("%s: error %q does not wrap ErrInvalid", what, err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not contain %q", what, err, w)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := []struct {
		in    string
		want  time.Duration
		canon string
	}{
		{"250ms", 250 * time.Millisecond, "250ms"},
		{"2m", 2 * time.Minute, "2m"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"1h 30m", 90 * time.Minute, "1h30m"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
		{"0s", 0, "0s"},
		{"90s", 90 * time.Second, "1m30s"},
		{"1h", time.Hour, "1h"},
		{"24h", 24 * time.Hour, "24h"},
		{"1h0m5s", time.Hour + 5*time.Second, "1h0m5s"},
		{"-5s", -5 * time.Second, "-5s"},
		{"-1h30m", -90 * time.Minute, "-1h30m"},
		{"100us", 100 * time.Microsecond, "100µs"},
		{"1ns", 1, "1ns"},
	}
	for _, c := range good {
		d, err := ParseDuration(c.in)
		if err != nil || d.Std() != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, d, err, c.want)
			continue
		}
		if d.String() != c.canon {
			t.Errorf("Duration(%v).String() = %q, want %q", c.want, d.String(), c.canon)
		}
		if back, err := ParseDuration(d.String()); err != nil || back != d {
			t.Errorf("round trip of %q: %v, %v", d.String(), back, err)
		}
	}
	bad := []struct{ in, words string }{
		{"", "empty duration"},
		{"5", `duration "5" has no unit; add a unit, e.g. 250ms`},
		{"0", "has no unit"},
		{"1.5", "has no unit"},
		{"1d", "days and weeks are not units here; write hours, e.g. 24h"},
		{"2w", "days and weeks"},
		{"5 parsecs", `bad duration "5 parsecs": unknown unit; units are ns, us, ms, s, m and h`},
		{"2min", "write minutes as m"},
		{"10sec", "seconds as s"},
		{"1h30", "a number has no unit"},
		{"abc", `bad duration "abc"`},
		{"9999999999h", "out of range"},
	}
	for _, c := range bad {
		_, err := ParseDuration(c.in)
		wantErr(t, "ParseDuration("+c.in+")", err, c.words)
	}
}

func TestParseSize(t *testing.T) {
	good := []struct {
		in    string
		want  int64
		canon string
	}{
		{"512B", 512, "512B"},
		{"10kB", 10_000, "10kB"},
		{"10KB", 10_000, "10kB"},
		{"1MB", 1_000_000, "1MB"},
		{"1GB", 1e9, "1GB"},
		{"2TB", 2e12, "2TB"},
		{"1KiB", 1024, "1KiB"},
		{"1MiB", 1 << 20, "1MiB"},
		{"3GiB", 3 << 30, "3GiB"},
		{"1TiB", 1 << 40, "1TiB"},
		{"1.5kB", 1500, "1500B"},
		{"1536B", 1536, "1536B"},
		{"1.5KiB", 1536, "1536B"},
		{"0B", 0, "0B"},
		{"1 MB", 1e6, "1MB"},
		{"1_000B", 1000, "1kB"},
		{"1024kB", 1_024_000, "1000KiB"},
	}
	for _, c := range good {
		z, err := ParseSize(c.in)
		if err != nil || int64(z) != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, z, err, c.want)
			continue
		}
		if z.String() != c.canon {
			t.Errorf("Size(%d).String() = %q, want %q", c.want, z.String(), c.canon)
		}
		if back, err := ParseSize(z.String()); err != nil || back != z {
			t.Errorf("round trip of %q: %v, %v", z.String(), back, err)
		}
	}
	bad := []struct{ in, words string }{
		{"", "empty size"},
		{"512", `size "512" has no unit; add a unit, e.g. 512B`},
		{"10 Mbit", `unknown unit "Mbit" (sizes are bytes, B; b or bit would be bits)`},
		{"10mb", `unknown unit "mb"`},
		{"10Kb", "b or bit would be bits"},
		{"5 parsecs", `bad size "5 parsecs": unknown unit "parsecs"`},
		{"-1kB", "must not be negative"},
		{"1.5B", "not a whole number"},
		{"1.0001kB", "not a whole number"},
		{"99999999999TB", "too large"},
		{"MB", "want a number and a unit"},
		{"1.2.3MB", "bad number"},
	}
	for _, c := range bad {
		_, err := ParseSize(c.in)
		wantErr(t, "ParseSize("+c.in+")", err, c.words)
	}
}

func TestParseBandwidth(t *testing.T) {
	good := []struct {
		in    string
		want  int64
		canon string
	}{
		{"10Mbps", 10e6, "10Mbps"},
		{"1Gbps", 1e9, "1Gbps"},
		{"500kbps", 500e3, "500kbps"},
		{"500Kbps", 500e3, "500kbps"},
		{"100bps", 100, "100bps"},
		{"10Mbit/s", 10e6, "10Mbps"},
		{"2 Kbit/s", 2000, "2kbps"},
		{"1.5Mbps", 1_500_000, "1500kbps"},
		{"1Tbps", 1e12, "1Tbps"},
		{"0bps", 0, "0bps"},
		{"1234bit/s", 1234, "1234bps"},
	}
	for _, c := range good {
		b, err := ParseBandwidth(c.in)
		if err != nil || int64(b) != c.want {
			t.Errorf("ParseBandwidth(%q) = %d, %v; want %d", c.in, b, err, c.want)
			continue
		}
		if b.String() != c.canon {
			t.Errorf("Bandwidth(%d).String() = %q, want %q", c.want, b.String(), c.canon)
		}
		if back, err := ParseBandwidth(b.String()); err != nil || back != b {
			t.Errorf("round trip of %q: %v, %v", b.String(), back, err)
		}
	}
	bad := []struct{ in, words string }{
		{"", "empty bandwidth"},
		{"10", `bandwidth "10" has no unit; add a unit, e.g. 10Mbps`},
		{"10MBps", "that is bytes per second; bandwidth is in bits per second: write 80Mbps"},
		{"1GB/s", "write 8Gbps"},
		{"10 Mbit", `unknown unit "Mbit"`},
		{"10mbps", `unknown unit "mbps" (did you mean "Mbps"?)`},
		{"10gbit/s", `did you mean "Gbit/s"?`},
		{"5 parsecs", `unknown unit "parsecs"`},
		{"-1Mbps", "must not be negative"},
		{"0.5bps", "not a whole number"},
	}
	for _, c := range bad {
		_, err := ParseBandwidth(c.in)
		wantErr(t, "ParseBandwidth("+c.in+")", err, c.words)
	}
}

func TestParseRate(t *testing.T) {
	good := []struct {
		in    string
		want  float64
		canon string
	}{
		{"10/s", 10, "10/s"},
		{"600/m", 10, "10/s"},
		{"3600/h", 1, "1/s"},
		{"1/m", 1.0 / 60, "1/m"},
		{"10/min", 10.0 / 60, "10/m"},
		{"1/h", 1.0 / 3600, "1/h"},
		{"0.5/s", 0.5, "30/m"}, {"0.25/s", 0.25, "15/m"}, {"1.5/h", 1.5 / 3600, "1.5/h"},
		{"7/sec", 7, "7/s"},
		{"0/s", 0, "0/s"},
		{"1e3/s", 1000, "1000/s"},
	}
	for _, c := range good {
		r, err := ParseRate(c.in)
		if err != nil || r.PerSecond() != c.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", c.in, float64(r), err, c.want)
			continue
		}
		if r.String() != c.canon {
			t.Errorf("Rate(%v).String() = %q, want %q", c.want, r.String(), c.canon)
		}
		if back, err := ParseRate(r.String()); err != nil || back != r {
			t.Errorf("round trip of %q: %v, %v", r.String(), back, err)
		}
	}
	if got := Rate(4).Interval(); got != 250*time.Millisecond {
		t.Errorf("Rate(4).Interval() = %v", got)
	}
	bad := []struct{ in, words string }{
		{"", "empty rate"},
		{"10", `rate "10" has no unit; add a unit, e.g. 10/s`},
		{"10/d", `unknown time unit "d"`},
		{"ten/s", `"ten" is not a number`},
		{"-1/s", "must not be negative"},
		{"fast", "write a count per unit of time"},
	}
	for _, c := range bad {
		_, err := ParseRate(c.in)
		wantErr(t, "ParseRate("+c.in+")", err, c.words)
	}
}

func TestParseFraction(t *testing.T) {
	good := []struct {
		in    string
		want  float64
		canon string
	}{
		{"30%", 0.3, "30%"},
		{"0.5%", 0.005, "0.5%"},
		{"0.3", 0.3, "30%"},
		{"0", 0, "0%"},
		{"1", 1, "100%"},
		{"100%", 1, "100%"},
		{"0%", 0, "0%"},
		{"12.5 %", 0.125, "12.5%"},
		{"0.001", 0.001, "0.1%"},
		{"1e-3", 0.001, "0.1%"},
		{"33.33%", 0.3333, "33.33%"},
	}
	for _, c := range good {
		f, err := ParseFraction(c.in)
		if err != nil || float64(f) != c.want {
			t.Errorf("ParseFraction(%q) = %v, %v; want %v", c.in, float64(f), err, c.want)
			continue
		}
		if f.String() != c.canon {
			t.Errorf("Fraction(%v).String() = %q, want %q", c.want, f.String(), c.canon)
		}
	}
	// Any value in [0, 1] prints in a form that parses back exactly.
	for _, v := range []float64{0.1 + 0.2, 1.0 / 3, 1e-300, math.Nextafter(1, 0), 5e-324, 0.123456789012345678} {
		f := Fraction(v)
		if back, err := ParseFraction(f.String()); err != nil || back != f {
			t.Errorf("round trip of %v via %q: %v, %v", v, f.String(), float64(back), err)
		}
	}
	bad := []struct{ in, words string }{
		{"", "empty fraction"},
		{"150%", "150% is above 100%"},
		{"30", "fraction 30 is above 1; write a percentage, e.g. 30%"},
		{"1.5", "above 1"},
		{"-10%", "negative"},
		{"-0.1", "negative"},
		{"half", `bad fraction "half"`},
		{"x%", `bad percentage "x%"`},
	}
	for _, c := range bad {
		_, err := ParseFraction(c.in)
		wantErr(t, "ParseFraction("+c.in+")", err, c.words)
	}
}

// yamlNode parses src into a node, for the UnmarshalYAML tests.
func yamlNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Load([]byte(src), &doc); err != nil {
		t.Fatalf("yaml %q: %v", src, err)
	}
	return doc.Content[0]
}

func TestNodeSet(t *testing.T) {
	good := []struct {
		src    string
		want   NodeSet
		canon  string
		n      int
		expand []int
	}{
		{"[0, 1, 2]", NodeSet{Ranges: [][2]int{{0, 0}, {1, 1}, {2, 2}}}, "[0, 1, 2]", 3, []int{0, 1, 2}},
		{"[0-4]", NodeSet{Ranges: [][2]int{{0, 4}}}, "[0-4]", 5, []int{0, 1, 2, 3, 4}},
		{`["10-12", 3]`, NodeSet{Ranges: [][2]int{{10, 12}, {3, 3}}}, "[10-12, 3]", 13, []int{3, 10, 11, 12}},
		{"all", AllNodes(), "all", 3, []int{0, 1, 2}},
		{"[all]", AllNodes(), "all", 2, []int{0, 1}},
		{"0-2", NodeSet{Ranges: [][2]int{{0, 2}}}, "[0-2]", 3, []int{0, 1, 2}},
		{"7", NodeSet{Ranges: [][2]int{{7, 7}}}, "[7]", 8, []int{7}},
		{"[5-9, 0-6, 3, 3]", NodeSet{Ranges: [][2]int{{5, 9}, {0, 6}, {3, 3}, {3, 3}}}, "[5-9, 0-6, 3, 3]", 10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"[2 - 3]", NodeSet{Ranges: [][2]int{{2, 3}}}, "[2-3]", 4, []int{2, 3}},
		{"[]", NodeSet{}, "[]", 1, nil},
	}
	for _, c := range good {
		var ns NodeSet
		if err := ns.UnmarshalYAML(yamlNode(t, c.src)); err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if !reflect.DeepEqual(ns, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.src, ns, c.want)
		}
		if ns.String() != c.canon {
			t.Errorf("%s: String() = %q, want %q", c.src, ns.String(), c.canon)
		}
		got, err := ns.Resolve(c.n)
		if err != nil || !slices.Equal(got, c.expand) {
			t.Errorf("%s: Resolve(%d) = %v, %v; want %v", c.src, c.n, got, err, c.expand)
		}
		for i := -1; i <= c.n; i++ {
			if i < c.n && ns.Contains(i, c.n) != slices.Contains(c.expand, i) {
				t.Errorf("%s: Contains(%d) = %v", c.src, i, ns.Contains(i, c.n))
			}
		}
		// The canonical form parses back to the same set.
		back, err := ParseNodeSet(ns.String())
		if err != nil || back.String() != ns.String() {
			t.Errorf("%s: ParseNodeSet(%q) = %v, %v", c.src, ns.String(), back, err)
		}
		var viaMarshal NodeSet
		if err := viaMarshal.UnmarshalYAML(nodeSetNode(ns)); err != nil || viaMarshal.String() != ns.String() {
			t.Errorf("%s: node round trip = %v, %v", c.src, viaMarshal, err)
		}
	}

	bad := []struct{ src, words string }{
		{"[0, x]", `bad node index "x"`},
		{"[5-2]", "node range 5-2 is reversed; write 2-5"},
		{"[-1]", "node index -1 is negative"},
		{"[1000000]", "too large"},
		{"[[0]]", "expected a node index or range such as 0-99, got a list"},
		{"{a: 1}", "expected a node set"},
		{"[0, all]", `"all" cannot be combined`},
		{"~", "got nothing"},
		{"[1-]", "bad node index"},
	}
	for _, c := range bad {
		var ns NodeSet
		wantErr(t, c.src, ns.UnmarshalYAML(yamlNode(t, c.src)), c.words)
	}

	ns := NodeSet{Ranges: [][2]int{{0, 4}, {8, 12}}}
	if _, err := ns.Resolve(10); err == nil || !strings.Contains(err.Error(), "node range 8-12 out of range: there are 10 nodes (0-9)") {
		t.Errorf("Resolve(10) of %v: %v", ns, err)
	}
	if k, err := ns.Check(13); k != -1 || err != nil {
		t.Errorf("Check(13) = %d, %v", k, err)
	}
	if k, _ := ns.Check(12); k != 1 {
		t.Errorf("Check(12) = %d, want 1", k)
	}
	if ns.Contains(5, 20) || !ns.Contains(8, 20) || !ns.Contains(12, 20) || ns.Contains(13, 20) {
		t.Error("Contains is wrong")
	}
	if !(NodeSet{}).Empty() || AllNodes().Empty() || ns.Empty() {
		t.Error("Empty is wrong")
	}
	if got, err := ParseNodeSet("[0, 5, 10-12]"); err != nil || got.String() != "[0, 5, 10-12]" {
		t.Errorf("ParseNodeSet = %v, %v", got, err)
	}
	if _, err := ParseNodeSet("[0, 5"); err == nil {
		t.Error("ParseNodeSet accepted a missing ]")
	}
}

// The unit types work with yaml.Load directly too.
func TestUnitsWithYAMLLoad(t *testing.T) {
	var v struct {
		D Duration  `yaml:"d"`
		S Size      `yaml:"s"`
		B Bandwidth `yaml:"b"`
		R Rate      `yaml:"r"`
		F Fraction  `yaml:"f"`
		N NodeSet   `yaml:"nodes"`
	}
	src := "d: 1h30m\ns: 1MiB\nb: 10Mbps\nr: 600/m\nf: 30%\nnodes: [0-9, 20]\n"
	if err := yaml.Load([]byte(src), &v); err != nil {
		t.Fatal(err)
	}
	if v.D.Std() != 90*time.Minute || v.S != 1<<20 || v.B != 10e6 || v.R != 10 || v.F != 0.3 || v.N.String() != "[0-9, 20]" {
		t.Errorf("decoded %+v", v)
	}
	out, err := yaml.Dump(&v)
	if err != nil {
		t.Fatal(err)
	}
	want := "d: 1h30m\ns: 1MiB\nb: 10Mbps\nr: 10/s\nf: 30%\nnodes: [0-9, 20]\n"
	if string(out) != want {
		t.Errorf("Dump = %q, want %q", out, want)
	}
	if err := yaml.Load([]byte("d: 30\n"), &v); err == nil || !strings.Contains(err.Error(), "has no unit") {
		t.Errorf("yaml.Load of a bare duration: %v", err)
	}
}

func TestNodeSetShares(t *testing.T) {
	ns, err := ParseNodeSet("[0%-50%, 999]")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ns.Resolve(1000)
	if err != nil || len(got) != 501 || got[0] != 0 || got[499] != 499 || got[500] != 999 {
		t.Fatalf("Resolve(1000) = %d items, %v", len(got), err)
	}
	lo, _ := ParseNodeSet("0%-50%")
	hi, _ := ParseNodeSet("50%-100%")
	for _, n := range []int{1, 2, 7, 120, 1001} {
		a, _ := lo.Resolve(n)
		b, _ := hi.Resolve(n)
		if len(a)+len(b) != n || (len(a) > 0 && len(b) > 0 && a[len(a)-1]+1 != b[0]) {
			t.Errorf("n=%d: halves %v / %v do not split the nodes", n, a, b)
		}
		if lo.Contains(n-1, n) == hi.Contains(n-1, n) {
			t.Errorf("n=%d: last node in both or neither half", n)
		}
	}
	if ns.String() != "[999, 0%-50%]" {
		t.Errorf("String() = %q", ns.String())
	}
	for _, bad := range []string{"50%-10%", "0%-150%", "0-50%", "x%-5%", "10%-10%"} {
		if _, err := ParseNodeSet(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

package sim

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRegionTable(t *testing.T) {
	rs := Regions()
	if !slices.IsSortedFunc(rs, func(a, b Region) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Regions() is not sorted by name")
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].Name == rs[i-1].Name {
			t.Errorf("duplicate region %q", rs[i].Name)
		}
	}
	for _, r := range rs {
		if r.City == "" || math.Abs(r.Lat) > 90 || math.Abs(r.Lon) > 180 {
			t.Errorf("bad entry %+v", r)
		}
		got, ok := LookupRegion(r.Name)
		if !ok || got != r {
			t.Errorf("LookupRegion(%q) = %+v, %v", r.Name, got, ok)
		}
	}
	// The regions the brief and the scenario sketch name must exist.
	for _, name := range []string{
		"eu-west", "eu-central", "eu-south", "eu-north", "eu-east", "ru", "ch", "uk",
		"us-east", "us-central", "us-west", "ca-central", "sa-east", "af-south", "me",
		"ap-south", "ap-southeast", "ap-east", "ap-northeast", "au-southeast",
	} {
		if _, ok := LookupRegion(name); !ok {
			t.Errorf("region %q missing", name)
		}
	}
	for _, name := range []string{"", "EU-WEST", "eu-west ", "mars"} {
		if _, ok := LookupRegion(name); ok {
			t.Errorf("LookupRegion(%q) found something", name)
		}
	}
	// Regions returns a copy.
	rs[0].Name = "changed"
	if Regions()[0].Name == "changed" {
		t.Error("Regions() exposes the table")
	}
}

func TestRegionGreatCircle(t *testing.T) {
	r := func(name string) Region {
		t.Helper()
		x, ok := LookupRegion(name)
		if !ok {
			t.Fatalf("no region %q", name)
		}
		return x
	}
	// Reference distances from a separate haversine script (R = 6371 km),
	// rounded to the km; they agree with published city distances to ~1%.
	for _, tc := range []struct {
		a, b string
		km   float64
	}{
		{"eu-west", "eu-south", 640},       // Paris-Milan
		{"eu-west", "ru", 2486},            // Paris-Moscow
		{"us-west", "au-southeast", 11968}, // Fremont-Sydney
		{"uk", "us-east", 5917},            // London-Ashburn
	} {
		got := GreatCircleKM(r(tc.a), r(tc.b))
		if math.Abs(got-tc.km) > 2 {
			t.Errorf("%s-%s: %.1f km, want %.0f", tc.a, tc.b, got, tc.km)
		}
		if back := GreatCircleKM(r(tc.b), r(tc.a)); math.Abs(back-got) > 1e-9 {
			t.Errorf("%s-%s not symmetric: %v vs %v", tc.a, tc.b, got, back)
		}
	}
	if d := GreatCircleKM(r("ch"), r("ch")); d != 0 {
		t.Errorf("distance to self = %v", d)
	}
	// Antipodes: half the circumference, no NaN from rounding.
	if d := GreatCircleKM(Region{Lat: 0, Lon: 0}, Region{Lat: 0, Lon: 180}); math.Abs(d-math.Pi*EarthRadiusKM) > 1e-6 {
		t.Errorf("antipodal distance = %v", d)
	}
}

// TestRegionCalibration checks the default model against the public
// WonderNetwork RTTs cited in DefaultRegionConfig: each pair within ±25%
// with every node at the median access delay.
func TestRegionCalibration(t *testing.T) {
	cfg := DefaultRegionConfig()
	cfg.AccessSigma = 0 // every node at the median
	pairs := []struct {
		a, b  string // regions
		label string
		rttMS float64
	}{
		{"eu-west", "eu-south", "Paris-Milan", 21.3},
		{"eu-south", "ch", "Milan-Zurich", 11.2},
		{"eu-west", "ru", "Paris-Moscow", 56.4},
		{"eu-south", "ru", "Milan-Moscow", 67.1},
		{"us-central", "us-west", "Dallas-Fremont", 44.3},
		{"us-west", "au-southeast", "Fremont-Sydney", 188},
	}
	var nodes []string
	for _, p := range pairs {
		nodes = append(nodes, p.a, p.b)
	}
	m, err := NewRegionModel(nodes, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Stretch %.2f, access median %v", cfg.Stretch, cfg.AccessMedian)
	t.Logf("%-16s %9s %9s %7s", "pair", "published", "model", "error")
	worst := 0.0
	for i, p := range pairs {
		a, b := 2*i, 2*i+1
		if m.Access(a) != cfg.AccessMedian {
			t.Fatalf("access = %v, want the median %v", m.Access(a), cfg.AccessMedian)
		}
		rtt := float64(m.OneWay(a, b)+m.OneWay(b, a)) / float64(time.Millisecond)
		rel := (rtt - p.rttMS) / p.rttMS
		worst = max(worst, math.Abs(rel))
		t.Logf("%-16s %7.1fms %7.1fms %+6.1f%%", p.label, p.rttMS, rtt, 100*rel)
		if math.Abs(rel) > 0.25 {
			t.Errorf("%s: model RTT %.1f ms vs published %.1f ms: %+.1f%%, outside ±25%%", p.label, rtt, p.rttMS, 100*rel)
		}
	}
	t.Logf("worst |error| %.1f%%", 100*worst)
}

func TestRegionModel(t *testing.T) {
	nodes := []string{"eu-west", "eu-west", "ap-northeast", "sa-east", "eu-west"}
	cfg := DefaultRegionConfig()
	m, err := NewRegionModel(nodes, cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "regions" || m.Nodes() != len(nodes) {
		t.Errorf("Name() = %q, Nodes() = %d", m.Name(), m.Nodes())
	}
	if m.Region(2).City != "Tokyo" {
		t.Errorf("Region(2) = %+v", m.Region(2))
	}
	for i := range nodes {
		if a := m.Access(i); a <= 0 || a > 20*cfg.AccessMedian {
			t.Errorf("Access(%d) = %v, implausible", i, a)
		}
	}
	// Same region: metro delay plus both access delays, never 0.
	if got, want := m.OneWay(0, 1), RegionMetroDelay+m.Access(0)+m.Access(1); got != want {
		t.Errorf("same-region OneWay = %v, want %v", got, want)
	}
	// Symmetric (same path both ways), and the formula holds.
	paris, tokyo := m.Region(0), m.Region(2)
	prop := time.Duration(math.Round(cfg.Stretch * GreatCircleKM(paris, tokyo) / FibreKMPerMS * float64(time.Millisecond)))
	if got, want := m.OneWay(0, 2), prop+m.Access(0)+m.Access(2); got != want {
		t.Errorf("OneWay(Paris, Tokyo) = %v, want %v", got, want)
	}
	if m.OneWay(0, 2) != m.OneWay(2, 0) {
		t.Errorf("asymmetric: %v vs %v", m.OneWay(0, 2), m.OneWay(2, 0))
	}
	// The triangle inequality holds for the propagation part, so a direct
	// path is never beaten by a relay when access delays are equal.
	cfg0 := cfg
	cfg0.AccessSigma = 0
	flat, err := NewRegionModel(nodes, cfg0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if direct, via := flat.OneWay(0, 2), flat.OneWay(0, 3)+flat.OneWay(3, 2); direct > via {
		t.Errorf("direct %v > relayed %v", direct, via)
	}
}

func TestRegionAccessDeterministic(t *testing.T) {
	nodes := make([]string, 200)
	for i := range nodes {
		nodes[i] = Regions()[i%len(Regions())].Name
	}
	build := func(seed uint64) *RegionModel {
		m, err := NewRegionModel(nodes, DefaultRegionConfig(), rand.New(rand.NewPCG(seed, 7)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b, c := build(1), build(1), build(2)
	same, differ := true, false
	var acc []time.Duration
	for i := range nodes {
		same = same && a.Access(i) == b.Access(i)
		differ = differ || a.Access(i) != c.Access(i)
		acc = append(acc, a.Access(i))
	}
	if !same {
		t.Error("same seed gave different access delays")
	}
	if !differ {
		t.Error("different seeds gave identical access delays")
	}
	// Lognormal around the median: about half below it.
	slices.Sort(acc)
	med := acc[len(acc)/2]
	if lo, hi := DefaultRegionConfig().AccessMedian*3/4, DefaultRegionConfig().AccessMedian*4/3; med < lo || med > hi {
		t.Errorf("sample median access %v, want near %v", med, DefaultRegionConfig().AccessMedian)
	}
}

func TestRegionConfigErrors(t *testing.T) {
	good := DefaultRegionConfig()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		name  string
		nodes []string
		cfg   RegionConfig
		rng   *rand.Rand
		want  string
	}{
		{"zero config", []string{"eu-west"}, RegionConfig{}, rng, "Stretch 0"},
		{"stretch below 1", []string{"eu-west"}, RegionConfig{Stretch: 0.9}, rng, "Stretch 0.9"},
		{"NaN stretch", []string{"eu-west"}, RegionConfig{Stretch: math.NaN()}, rng, "Stretch NaN"},
		{"negative access", []string{"eu-west"}, RegionConfig{Stretch: 1.5, AccessMedian: -1}, rng, "AccessMedian"},
		{"negative sigma", []string{"eu-west"}, RegionConfig{Stretch: 1.5, AccessSigma: -1}, rng, "AccessSigma"},
		{"unknown region", []string{"eu-west", "atlantis"}, good, rng, `node 1: unknown region "atlantis"`},
		{"nil rng", []string{"eu-west"}, good, nil, "nil rng"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRegionModel(tc.nodes, tc.cfg, tc.rng)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrRegionConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q: want ErrRegionConfig containing %q", err, tc.want)
			}
		})
	}
}

package chaos

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const goodConfig = `# a chaos file
seed = 7

[[link]]
to = ["127.0.0.1:4002", "10.0.0.0/8"]
drop = "5%"
duplicate = 0.01
corrupt = "0.1%"
reorder = "2%"
reorder_delay = "30ms"
delay = "50ms"
jitter = {distribution = "weibull", shape = 2, scale = "4ms"}
start = "10s"
duration = "1m"

[[link]]
delay = "1ms"
jitter = {distribution = "exponential", mean = "5ms"}

[skew]
offset = "-1.5s"
drift = "50ppm"
`

func TestParse(t *testing.T) {
	cfg, err := Parse("chaos.toml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Seed: 7,
		Links: []Rule{{
			Link: Link{Drop: 0.05, Duplicate: 0.01, Corrupt: 0.001, Reorder: 0.02, ReorderDelay: 30 * time.Millisecond,
				Delay: 50 * time.Millisecond, Jitter: Dist{Kind: Weibull, Shape: 2, Scale: 4 * time.Millisecond}},
			To: []Dest{
				{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 4002},
				{Prefix: netip.MustParsePrefix("10.0.0.0/8")},
			},
			Start: 10 * time.Second, Duration: time.Minute,
		}, {
			Link: Link{Delay: time.Millisecond, Jitter: Dist{Kind: Exponential, Scale: 5 * time.Millisecond}},
		}},
		Skew: Skew{Offset: -1500 * time.Millisecond, Drift: 50e-6},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg, want)
	}
	empty, err := Parse("e.toml", nil)
	if err != nil || empty.Seed != 1 || empty.Links != nil || !empty.Skew.Zero() {
		t.Errorf("empty file: %+v, %v", empty, err)
	}
	if cfg.Rand().Uint64() != cfg.Rand().Uint64() {
		t.Error("Rand is not reproducible")
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte(goodConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p + ".missing"); err == nil {
		t.Error("missing file loaded")
	}
}

// Every error names the file, the line and column, and the key.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"syntax", "seed = = 1\n", "c.toml:1:"},
		{"unknown top key", "speed = 1\n", "c.toml:1:1: speed: unknown key"},
		{"unknown table", "[links]\n", "c.toml:1:2: links: unknown table"},
		{"link as table", "[link]\n", "c.toml:1:2: link: link faults are an array of tables"},
		{"skew twice", "[skew]\n[skew]\n", "c.toml:2:2: skew: table defined twice"},
		{"skew as array", "[[skew]]\n", "c.toml:1:3: skew: the skew is one table"},
		{"dotted key", "[[link]]\njitter.mean = \"1s\"\n", "c.toml:2:1: jitter.mean: dotted keys"},
		{"bad seed", "seed = \"x\"\n", "c.toml:1:1: seed: expected an integer"},
		{"negative seed", "seed = -1\n", "c.toml:1:1: seed: expected a non-negative integer"},
		{"unknown link key", "[[link]]\ndrop = \"1%\"\n\n[[link]]\ndorp = \"1%\"\n", "c.toml:5:1: link[2].dorp: unknown key"},
		{"duplicate key", "[[link]]\ndrop = \"1%\"\ndrop = \"2%\"\n", "c.toml:3:1: link[1].drop: duplicate key (first at line 2)"},
		{"bad percentage", "[[link]]\ndrop = \"5 percent\"\n", "c.toml:2:1: link[1].drop: expected a percentage"},
		{"percentage range", "[[link]]\ncorrupt = \"120%\"\n", "c.toml:2:1: link[1].corrupt: must be from 0% to 100%"},
		{"drop everything", "[[link]]\ndrop = 1\n", "c.toml:2:1: link[1].drop: must be below 100%"},
		{"probability type", "[[link]]\nreorder = true\n", "c.toml:2:1: link[1].reorder: expected a percentage"},
		{"bad duration", "[[link]]\ndelay = \"50\"\n", "c.toml:2:1: link[1].delay: expected a duration"},
		{"integer duration", "[[link]]\ndelay = 50\n", "c.toml:2:1: link[1].delay: expected a duration string"},
		{"negative delay", "[[link]]\ndelay = \"-5ms\"\n", "c.toml:2:1: link[1].delay: must not be negative"},
		{"huge delay", "[[link]]\ndelay = \"2h\"\n", "c.toml:2:1: link[1].delay: at most 1h0m0s"},
		{"to not a list", "[[link]]\ndrop = \"1%\"\nto = \"10.0.0.1\"\n", "c.toml:3:1: link[1].to: expected an array"},
		{"bad destination", "[[link]]\ndrop = \"1%\"\nto = [\"10.0.0.1\", \"example.com\"]\n", "c.toml:3:1: link[1].to: entry 2: destination \"example.com\""},
		{"empty to", "[[link]]\ndrop = \"1%\"\nto = []\n", "c.toml:3:1: link[1].to: empty"},
		{"no-op link", "[[link]]\nto = [\"10.0.0.1\"]\n", "c.toml:1:3: link[1]: the link fault does nothing"},
		{"jitter not a table", "[[link]]\njitter = \"5ms\"\n", "c.toml:2:1: link[1].jitter: expected a table"},
		{"jitter no distribution", "[[link]]\njitter = {mean = \"5ms\"}\n", "c.toml:2:1: link[1].jitter: missing distribution"},
		{"jitter unknown distribution", "[[link]]\njitter = {distribution = \"gauss\", mean = \"5ms\"}\n", "c.toml:2:11: link[1].jitter.distribution: unknown distribution \"gauss\""},
		{"jitter unknown key", "[[link]]\njitter = {distribution = \"normal\", sigma = \"5ms\"}\n", "c.toml:2:36: link[1].jitter.sigma: unknown key"},
		{"jitter shape on exponential", "[[link]]\njitter = {distribution = \"exponential\", shape = 2, mean = \"5ms\"}\n", "link[1].jitter.shape: only weibull and pareto"},
		{"jitter missing shape", "[[link]]\njitter = {distribution = \"weibull\", mean = \"5ms\"}\n", "link[1].jitter: weibull needs a shape"},
		{"jitter two params", "[[link]]\njitter = {distribution = \"uniform\", mean = \"5ms\", scale = \"1ms\"}\n", "link[1].jitter: give exactly one of mean, scale"},
		{"jitter stddev on uniform", "[[link]]\njitter = {distribution = \"uniform\", stddev = \"5ms\"}\n", "link[1].jitter.stddev: normal takes stddev"},
		{"jitter pareto mean", "[[link]]\njitter = {distribution = \"pareto\", shape = 1, mean = \"5ms\"}\n", "link[1].jitter.mean: pareto shape 1: a mean exists only for shape > 1"},
		{"jitter shape range", "[[link]]\njitter = {distribution = \"weibull\", shape = 0.001, scale = \"5ms\"}\n", "link[1].jitter: weibull shape 0.001"},
		{"skew unknown key", "[skew]\nrate = \"1ppm\"\n", "c.toml:2:1: skew.rate: unknown key"},
		{"skew bad drift", "[skew]\ndrift = 50\n", "c.toml:2:1: skew.drift: expected a rate error"},
		{"skew big drift", "[skew]\ndrift = \"20000ppm\"\n", "c.toml:2:1: skew.drift: must be within ±10000ppm"},
		{"skew big offset", "[skew]\noffset = \"48h\"\n", "c.toml:2:1: skew.offset: must be within ±24h0m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(c.doc))
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
				t.Errorf("%v is not a *ConfigError wrapping ErrConfig", err)
			}
		})
	}
}

package chaos

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"
)

// Config is a chaos configuration file for a real node:
//
//	seed = 7                      # the fault draws' stream (default 1)
//
//	[[link]]                      # one link fault; repeat for more
//	to = ["127.0.0.1:4002", "10.0.0.0/8"]   # destinations (default: all)
//	drop = "5%"                   # probabilities: "5%" or 0.05
//	duplicate = "1%"
//	corrupt = "0.1%"
//	reorder = "2%"
//	reorder_delay = "20ms"        # how long a reordered packet is held back
//	delay = "50ms"                # added to every packet
//	jitter = {distribution = "exponential", mean = "5ms"}
//	start = "10s"                 # after the node starts (default 0)
//	duration = "1m"               # how long it lasts (default: to the end)
//
//	[skew]                        # the node's clock
//	offset = "2s"                 # may be negative: "-500ms"
//	drift = "50ppm"
//
// A jitter table takes distribution (exponential, weibull, pareto, uniform
// or normal) and its parameters: mean (any but normal; sets the scale),
// scale (exponential: the mean; weibull: λ; pareto: xm; uniform: the
// maximum), stddev (normal) and shape (weibull, pareto). Durations are Go
// duration strings.
type Config struct {
	Seed  uint64
	Links []Rule
	Skew  Skew
}

// Rand returns the stream the Transport's draws should come from.
func (c *Config) Rand() *rand.Rand { return rand.New(rand.NewPCG(c.Seed, 0x63686173)) }

// ConfigError is a problem in a chaos configuration file. Its text is
// "FILE:LINE:COLUMN: KEY: MESSAGE". It unwraps to ErrConfig.
type ConfigError struct {
	File         string
	Line, Column int    // 1-based; 0 if unknown
	Key          string // e.g. "link[2].drop" (entries count from 1, as in the file)
	Msg          string
}

// Error implements error.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// Load reads and parses the chaos configuration file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	return Parse(path, b)
}

// tval is a TOML value copied out of the parser's arena (which is reused
// from one expression to the next).
type tval struct {
	kind      unstable.Kind
	text      string
	items     []tval
	table     []tkv
	line, col int
}

// tkv is one key = value pair of a table.
type tkv struct {
	key       string
	line, col int
	val       tval
}

// ttable is a table of the document: its pairs in file order.
type ttable struct {
	name      string // for messages: "", "link[1]", "skew"
	line, col int
	kvs       []tkv
}

// Parse decodes a chaos configuration from doc, strictly: unknown or
// duplicate keys, wrong types and out-of-range values are *ConfigError
// naming file, line and key. file names the source in messages.
func Parse(file string, doc []byte) (*Config, error) {
	d := &tomlDecoder{file: file}
	root, links, skew, err := d.tables(doc)
	if err != nil {
		return nil, err
	}
	cfg := &Config{Seed: 1}
	m, err := d.keys(root, []string{"seed"})
	if err != nil {
		return nil, err
	}
	if kv, ok := m["seed"]; ok {
		if kv.val.kind != unstable.Integer {
			return nil, d.errAt(root, kv, "expected an integer, got %s", describeTOML(kv.val))
		}
		v, err := parseTOMLInt(kv.val.text)
		if err != nil || v < 0 {
			return nil, d.errAt(root, kv, "expected a non-negative integer, got %s", kv.val.text)
		}
		cfg.Seed = uint64(v)
	}
	for _, t := range links {
		r, err := d.rule(t)
		if err != nil {
			return nil, err
		}
		cfg.Links = append(cfg.Links, r)
	}
	if skew != nil {
		if cfg.Skew, err = d.skew(skew); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

type tomlDecoder struct {
	file string
	p    unstable.Parser
}

func (d *tomlDecoder) pos(r unstable.Range) (line, col int) {
	s := d.p.Shape(r)
	return s.Start.Line, s.Start.Column
}

// errAt locates an error at kv of table t (kv may be nil: the table).
func (d *tomlDecoder) errAt(t *ttable, kv *tkv, format string, args ...any) *ConfigError {
	e := &ConfigError{File: d.file, Key: t.name, Line: t.line, Column: t.col, Msg: fmt.Sprintf(format, args...)}
	if kv != nil {
		e.Line, e.Column = kv.line, kv.col
		if t.name == "" {
			e.Key = kv.key
		} else {
			e.Key = t.name + "." + kv.key
		}
	}
	return e
}

// tables splits doc into the root table, the [[link]] entries and the
// [skew] table (nil if absent).
func (d *tomlDecoder) tables(doc []byte) (root *ttable, links []*ttable, skew *ttable, err error) {
	root = &ttable{line: 1, col: 1}
	cur := root
	d.p.Reset(doc)
	for d.p.NextExpression() {
		e := d.p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			kv, err := d.keyValue(e)
			if err != nil {
				return nil, nil, nil, err
			}
			if i := slices.IndexFunc(cur.kvs, func(x tkv) bool { return x.key == kv.key }); i >= 0 {
				return nil, nil, nil, d.errAt(cur, &kv, "duplicate key (first at line %d)", cur.kvs[i].line)
			}
			cur.kvs = append(cur.kvs, kv)
		case unstable.Table, unstable.ArrayTable:
			name, line, col := d.keyOf(e)
			switch {
			case e.Kind == unstable.ArrayTable && name == "link":
				cur = &ttable{name: fmt.Sprintf("link[%d]", len(links)+1), line: line, col: col}
				links = append(links, cur)
			case e.Kind == unstable.Table && name == "skew":
				if skew != nil {
					return nil, nil, nil, &ConfigError{File: d.file, Line: line, Column: col, Key: "skew", Msg: fmt.Sprintf("table defined twice (first at line %d)", skew.line)}
				}
				skew = &ttable{name: "skew", line: line, col: col}
				cur = skew
			case name == "link":
				return nil, nil, nil, &ConfigError{File: d.file, Line: line, Column: col, Key: name, Msg: "link faults are an array of tables: write [[link]]"}
			case name == "skew":
				return nil, nil, nil, &ConfigError{File: d.file, Line: line, Column: col, Key: name, Msg: "the skew is one table: write [skew]"}
			default:
				return nil, nil, nil, &ConfigError{File: d.file, Line: line, Column: col, Key: name, Msg: "unknown table (want [[link]] or [skew])"}
			}
		}
	}
	if err := d.p.Error(); err != nil {
		e := &ConfigError{File: d.file, Msg: "toml: " + err.Error()}
		var pe *unstable.ParserError
		if errors.As(err, &pe) && pe.Highlight != nil {
			func() {
				defer func() { _ = recover() }() // a highlight outside the document: no position
				e.Line, e.Column = d.pos(d.p.Range(pe.Highlight))
			}()
		}
		return nil, nil, nil, e
	}
	return root, links, skew, nil
}

// keyOf returns a table header's key, joined with dots, and its position.
func (d *tomlDecoder) keyOf(e *unstable.Node) (string, int, int) {
	var parts []string
	line, col := 0, 0
	it := e.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line, col = d.pos(k.Raw)
		}
		parts = append(parts, string(k.Data))
	}
	return strings.Join(parts, "."), line, col
}

// keyValue copies a key = value expression; dotted keys are refused.
func (d *tomlDecoder) keyValue(e *unstable.Node) (tkv, error) {
	key, line, col := d.keyOf(e)
	kv := tkv{key: key, line: line, col: col}
	if strings.Contains(key, ".") {
		return kv, &ConfigError{File: d.file, Line: line, Column: col, Key: key, Msg: "dotted keys are not supported; write the table out"}
	}
	kv.val = d.value(e.Value(), line, col)
	return kv, nil
}

// value copies a value node; line and col locate it when the node has no
// range of its own.
func (d *tomlDecoder) value(n *unstable.Node, line, col int) tval {
	v := tval{kind: n.Kind, text: string(n.Data), line: line, col: col}
	if n.Raw.Length > 0 {
		v.line, v.col = d.pos(n.Raw)
	}
	switch n.Kind {
	case unstable.Array:
		it := n.Children()
		for it.Next() {
			v.items = append(v.items, d.value(it.Node(), v.line, v.col))
		}
	case unstable.InlineTable:
		it := n.Children()
		for it.Next() {
			c := it.Node()
			key, kl, kc := d.keyOf(c)
			v.table = append(v.table, tkv{key: key, line: kl, col: kc, val: d.value(c.Value(), kl, kc)})
		}
	}
	return v
}

// keys checks t's keys against known (no duplicates: tables did that) and
// returns them by name.
func (d *tomlDecoder) keys(t *ttable, known []string) (map[string]*tkv, error) {
	m := map[string]*tkv{}
	for i := range t.kvs {
		kv := &t.kvs[i]
		if !slices.Contains(known, kv.key) {
			return nil, d.errAt(t, kv, "unknown key (want one of %s)", strings.Join(known, ", "))
		}
		m[kv.key] = kv
	}
	return m, nil
}

func describeTOML(v tval) string {
	switch v.kind {
	case unstable.String:
		return strconv.Quote(v.text)
	case unstable.Integer, unstable.Float:
		return "the number " + v.text
	case unstable.Bool:
		return v.text
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "a table"
	}
	return "a " + v.kind.String()
}

func parseTOMLInt(s string) (int64, error) {
	return strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, 64)
}

// probability decodes "5%" or a number in [0, 1].
func (d *tomlDecoder) probability(t *ttable, kv *tkv) (float64, error) {
	var p float64
	switch kv.val.kind {
	case unstable.String:
		num, ok := strings.CutSuffix(strings.TrimSpace(kv.val.text), "%")
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !ok || err != nil {
			return 0, d.errAt(t, kv, "expected a percentage such as \"5%%\", got %s", describeTOML(kv.val))
		}
		p = f / 100
	case unstable.Integer, unstable.Float:
		f, err := strconv.ParseFloat(strings.ReplaceAll(kv.val.text, "_", ""), 64)
		if err != nil {
			return 0, d.errAt(t, kv, "expected a probability, got %s", kv.val.text)
		}
		p = f
	default:
		return 0, d.errAt(t, kv, "expected a percentage such as \"5%%\" or a probability in [0, 1], got %s", describeTOML(kv.val))
	}
	if !(p >= 0 && p <= 1) {
		return 0, d.errAt(t, kv, "must be from 0%% to 100%%, got %s", kv.val.text)
	}
	return p, nil
}

// duration decodes a Go duration string; negative values only if signed.
func (d *tomlDecoder) duration(t *ttable, kv *tkv, signed bool) (time.Duration, error) {
	if kv.val.kind != unstable.String {
		return 0, d.errAt(t, kv, "expected a duration string such as \"50ms\", got %s", describeTOML(kv.val))
	}
	v, err := time.ParseDuration(strings.TrimSpace(kv.val.text))
	if err != nil {
		return 0, d.errAt(t, kv, "expected a duration such as \"50ms\", got %q", kv.val.text)
	}
	if v < 0 && !signed {
		return 0, d.errAt(t, kv, "must not be negative, got %v", v)
	}
	return v, nil
}

var linkKeys = []string{"to", "drop", "duplicate", "corrupt", "reorder", "reorder_delay", "delay", "jitter", "start", "duration"}

func (d *tomlDecoder) rule(t *ttable) (Rule, error) {
	var r Rule
	m, err := d.keys(t, linkKeys)
	if err != nil {
		return r, err
	}
	for _, key := range t.kvs {
		kv := m[key.key]
		switch kv.key {
		case "to":
			if kv.val.kind != unstable.Array {
				return r, d.errAt(t, kv, "expected an array of destinations such as [\"127.0.0.1:4002\", \"10.0.0.0/8\"], got %s", describeTOML(kv.val))
			}
			for i, it := range kv.val.items {
				if it.kind != unstable.String {
					return r, d.errAt(t, kv, "entry %d: expected a destination string, got %s", i+1, describeTOML(it))
				}
				dst, err := ParseDest(it.text)
				if err != nil {
					return r, d.errAt(t, kv, "entry %d: %v", i+1, strings.TrimPrefix(err.Error(), ErrConfig.Error()+": "))
				}
				r.To = append(r.To, dst)
			}
			if len(r.To) == 0 {
				return r, d.errAt(t, kv, "empty (omit to for every destination)")
			}
		case "drop", "duplicate", "corrupt", "reorder":
			p, err := d.probability(t, kv)
			if err != nil {
				return r, err
			}
			switch kv.key {
			case "drop":
				if p >= 1 {
					return r, d.errAt(t, kv, "must be below 100%%")
				}
				r.Drop = p
			case "duplicate":
				r.Duplicate = p
			case "corrupt":
				r.Corrupt = p
			case "reorder":
				r.Reorder = p
			}
		case "reorder_delay", "delay", "start", "duration":
			v, err := d.duration(t, kv, false)
			if err != nil {
				return r, err
			}
			if (kv.key == "delay" || kv.key == "reorder_delay") && v > MaxDelay {
				return r, d.errAt(t, kv, "at most %v, got %v", MaxDelay, v)
			}
			switch kv.key {
			case "reorder_delay":
				r.ReorderDelay = v
			case "delay":
				r.Delay = v
			case "start":
				r.Start = v
			case "duration":
				r.Duration = v
			}
		case "jitter":
			if r.Jitter, err = d.dist(t, kv); err != nil {
				return r, err
			}
		}
	}
	if r.Link.Empty() {
		return r, d.errAt(t, nil, "the link fault does nothing: give drop, duplicate, corrupt, reorder, delay or jitter")
	}
	if err := r.Validate(); err != nil {
		return r, d.errAt(t, nil, "%v", err)
	}
	return r, nil
}

// dist decodes an inline distribution table.
func (d *tomlDecoder) dist(t *ttable, kv *tkv) (Dist, error) {
	var out Dist
	if kv.val.kind != unstable.InlineTable {
		return out, d.errAt(t, kv, "expected a table such as {distribution = \"exponential\", mean = \"5ms\"}, got %s", describeTOML(kv.val))
	}
	sub := &ttable{name: join(t.name, kv.key), line: kv.line, col: kv.col, kvs: kv.val.table}
	for i, a := range sub.kvs {
		for _, b := range sub.kvs[:i] {
			if a.key == b.key {
				return out, d.errAt(sub, &sub.kvs[i], "duplicate key")
			}
		}
	}
	m, err := d.keys(sub, []string{"distribution", "mean", "scale", "stddev", "shape"})
	if err != nil {
		return out, err
	}
	dk, ok := m["distribution"]
	if !ok {
		return out, d.errAt(sub, nil, "missing distribution (exponential, weibull, pareto, uniform or normal)")
	}
	if dk.val.kind != unstable.String {
		return out, d.errAt(sub, dk, "expected a distribution name, got %s", describeTOML(dk.val))
	}
	if out.Kind, err = ParseDistKind(dk.val.text); err != nil || out.Kind == None {
		return out, d.errAt(sub, dk, "unknown distribution %q (want exponential, weibull, pareto, uniform or normal)", dk.val.text)
	}
	if s, ok := m["shape"]; ok {
		if !out.Kind.HasShape() {
			return out, d.errAt(sub, s, "only weibull and pareto take a shape")
		}
		if s.val.kind != unstable.Float && s.val.kind != unstable.Integer {
			return out, d.errAt(sub, s, "expected a number, got %s", describeTOML(s.val))
		}
		out.Shape, _ = strconv.ParseFloat(strings.ReplaceAll(s.val.text, "_", ""), 64)
	} else if out.Kind.HasShape() {
		return out, d.errAt(sub, nil, "%v needs a shape", out.Kind)
	}
	var given []*tkv
	for _, k := range []string{"mean", "scale", "stddev"} {
		if v, ok := m[k]; ok {
			given = append(given, v)
		}
	}
	if len(given) != 1 {
		return out, d.errAt(sub, nil, "give exactly one of mean, scale (or stddev for normal)")
	}
	p := given[0]
	v, err := d.duration(sub, p, false)
	if err != nil {
		return out, err
	}
	switch {
	case p.key == "stddev" && out.Kind != Normal, p.key != "stddev" && out.Kind == Normal:
		return out, d.errAt(sub, p, "normal takes stddev; the others take mean or scale")
	case p.key == "mean":
		if out.Scale, err = ScaleForMean(out.Kind, out.Shape, v); err != nil {
			return out, d.errAt(sub, p, "%s", strings.TrimPrefix(err.Error(), ErrConfig.Error()+": "))
		}
	default:
		out.Scale = v
	}
	if err := out.Validate(); err != nil {
		return out, d.errAt(sub, nil, "%s", strings.TrimPrefix(err.Error(), ErrConfig.Error()+": "))
	}
	return out, nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func (d *tomlDecoder) skew(t *ttable) (Skew, error) {
	var s Skew
	m, err := d.keys(t, []string{"offset", "drift"})
	if err != nil {
		return s, err
	}
	if kv, ok := m["offset"]; ok {
		if s.Offset, err = d.duration(t, kv, true); err != nil {
			return s, err
		}
		if s.Offset < -MaxOffset || s.Offset > MaxOffset {
			return s, d.errAt(t, kv, "must be within ±%v, got %v", MaxOffset, s.Offset)
		}
	}
	if kv, ok := m["drift"]; ok {
		if s.Drift, err = ParsePPM(kv.val.text); err != nil || kv.val.kind != unstable.String {
			return s, d.errAt(t, kv, "expected a rate error such as \"50ppm\" or \"-20ppm\", got %s", describeTOML(kv.val))
		}
		if math.Abs(s.Drift) > MaxDrift {
			return s, d.errAt(t, kv, "must be within ±%gppm, got %s", MaxDrift*1e6, kv.val.text)
		}
	}
	return s, nil
}

// ParsePPM parses a rate error in parts per million, "50ppm" or
// "-12.5ppm", and returns it as a fraction (5e-5).
func ParsePPM(s string) (float64, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "ppm")
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%w: %q: want a number of ppm such as \"50ppm\"", ErrConfig, s)
	}
	return f / 1e6, nil
}

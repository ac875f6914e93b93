package scenarios

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// The unit types below are plain values, safe to copy and to use from any
// goroutine. Each one parses from a YAML scalar (UnmarshalYAML), prints in a
// canonical form (String) that parses back to the same value, and marshals
// to that form (MarshalYAML). Their Parse functions return errors that wrap
// ErrInvalid and carry no position: the loader adds file, line and column.

// valueError is a bad value with no position; it wraps ErrInvalid.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }
func (e *valueError) Unwrap() error { return ErrInvalid }

func invalidf(format string, args ...any) error {
	return &valueError{fmt.Sprintf(format, args...)}
}

// scalarText returns the text of a scalar node, or an error naming what the
// node is instead. what describes the expected value ("a duration").
func scalarText(n *yaml.Node, what string) (string, error) {
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", invalidf("expected %s, got %s", what, describe(n))
	}
	return n.Value, nil
}

// splitNumber splits s into a leading decimal number (sign, digits, '.',
// '_') and the rest, with spaces between them removed.
func splitNumber(s string) (num, unit string) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == '_') {
		i++
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// isBareNumber reports whether s is a number with no unit.
func isBareNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), "_", ""), 64)
	return err == nil
}

// decimalRE matches a plain decimal number with an optional, short exponent
// ("10", "-1.5", ".5", "1e-3"); underscores are removed first.
var decimalRE = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$`)

// parseDecimal parses a plain decimal number ("10", "1.5", "1_000", "1e-3")
// exactly.
func parseDecimal(num string) (*big.Rat, bool) {
	num = strings.ReplaceAll(num, "_", "")
	if !decimalRE.MatchString(num) {
		return nil, false
	}
	return new(big.Rat).SetString(num)
}

// ---------------------------------------------------------------------------
// Duration

// Duration is a span of virtual time, written with a unit: "250ms", "1.5s",
// "2m", "1h30m", "0s". The units are those of time.ParseDuration (ns, us,
// µs, ms, s, m, h); a bare number is rejected because "5" could mean
// seconds or milliseconds. Spaces are ignored ("1h 30m"). Whether a negative
// or zero duration is allowed is up to the field.
type Duration time.Duration

// ParseDuration parses a duration with a unit, e.g. "250ms" or "1h30m".
func ParseDuration(s string) (Duration, error) {
	t := strings.Join(strings.Fields(s), "")
	if t == "" {
		return 0, invalidf("empty duration; write e.g. 250ms, 1.5s, 2m or 1h30m")
	}
	if isBareNumber(t) {
		return 0, invalidf("duration %q has no unit; add a unit, e.g. 250ms, 1.5s or 2m", s)
	}
	d, err := time.ParseDuration(t)
	if err == nil {
		return Duration(d), nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unknown unit"):
		_, u := splitNumber(t)
		if u = strings.TrimLeft(u, "0123456789._"); strings.HasPrefix(u, "d") || strings.HasPrefix(u, "w") {
			return 0, invalidf("bad duration %q: days and weeks are not units here; write hours, e.g. 24h", s)
		}
		if strings.HasPrefix(u, "min") || strings.HasPrefix(u, "sec") {
			return 0, invalidf("bad duration %q: write minutes as m and seconds as s, e.g. 2m30s", s)
		}
		return 0, invalidf("bad duration %q: unknown unit; units are ns, us, ms, s, m and h (e.g. 250ms, 1.5s, 1h30m)", s)
	case strings.Contains(msg, "missing unit"):
		return 0, invalidf("bad duration %q: a number has no unit; units are ns, us, ms, s, m and h (e.g. 1h30m)", s)
	}
	return 0, invalidf("bad duration %q: not a duration, or out of range (at most about 2562047h); write e.g. 250ms, 1.5s or 1h30m", s)
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns the canonical form: time.Duration's, without trailing zero
// units ("1h30m", "2m", "1.5s", "250ms", "0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	return s
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n, "a duration such as 250ms")
	if err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ---------------------------------------------------------------------------
// Size

// Size is a number of bytes, written with a unit: "512B", "10kB" (10,000),
// "1MB" (10^6), "1GB", "1TB", "1KiB" (1,024), "1MiB", "1GiB", "1TiB". "KB"
// is taken as "kB" (1,000). Decimal fractions are allowed when the result is
// a whole number of bytes ("1.5kB"). A bare number is rejected, and so is a
// lowercase b, which would mean bits. Sizes are never negative.
type Size int64

type unit struct {
	name string
	mult int64
}

var sizeUnits = []unit{
	{"B", 1},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
}

// sizeCanon are the units String chooses from.
var sizeCanon = []unit{
	{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9},
	{"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"kB", 1e3},
}

// lookupUnit finds name in units.
func lookupUnit(units []unit, name string) (int64, bool) {
	for _, u := range units {
		if u.name == name {
			return u.mult, true
		}
	}
	return 0, false
}

// scaleExact returns num * mult if it is a whole number in [0, MaxInt64].
func scaleExact(num string, mult int64) (int64, error) {
	r, ok := parseDecimal(num)
	if !ok {
		return 0, invalidf("bad number %q", num)
	}
	if r.Sign() < 0 {
		return 0, invalidf("must not be negative")
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, invalidf("not a whole number")
	}
	if !r.Num().IsInt64() {
		return 0, invalidf("too large")
	}
	return r.Num().Int64(), nil
}

// ParseSize parses a byte size with a unit, e.g. "512B", "10kB" or "1MiB".
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	num, u := splitNumber(t)
	switch {
	case t == "":
		return 0, invalidf("empty size; write e.g. 512B, 10kB or 1MiB")
	case num == "" || strings.Trim(num, "+-_.") == "":
		return 0, invalidf("bad size %q: want a number and a unit, e.g. 512B, 10kB or 1MiB", s)
	case u == "":
		return 0, invalidf("size %q has no unit; add a unit, e.g. %sB (bytes), %skB or %sKiB", s, num, num, num)
	}
	mult, ok := lookupUnit(sizeUnits, u)
	if !ok {
		hint := ""
		if strings.HasSuffix(u, "b") || strings.Contains(strings.ToLower(u), "bit") {
			hint = " (sizes are bytes, B; b or bit would be bits)"
		}
		return 0, invalidf("bad size %q: unknown unit %q%s; use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB", s, u, hint)
	}
	v, err := scaleExact(num, mult)
	if err != nil {
		return 0, invalidf("bad size %q: %v", s, err)
	}
	return Size(v), nil
}

// formatUnits writes v as a whole number of the largest unit that divides
// it exactly, or of base.
func formatUnits(v int64, units []unit, base string) string {
	best := unit{base, 1}
	for _, u := range units {
		if v != 0 && v%u.mult == 0 && u.mult > best.mult {
			best = u
		}
	}
	return strconv.FormatInt(v/best.mult, 10) + best.name
}

// String returns the canonical form: the whole number of the largest exact
// unit, e.g. "512B", "10kB", "1MiB".
func (z Size) String() string { return formatUnits(int64(z), sizeCanon, "B") }

// UnmarshalYAML implements yaml.Unmarshaler.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n, "a size such as 512B or 1MiB")
	if err != nil {
		return err
	}
	v, err := ParseSize(s)
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (z Size) MarshalYAML() (any, error) { return z.String(), nil }

// ---------------------------------------------------------------------------
// Bandwidth

// Bandwidth is a link rate in bits per second, written with a unit: "100bps",
// "500kbps" (or "500Kbps"), "10Mbps", "1Gbps", "1Tbps", or the same as
// "10Mbit/s". Decimal fractions are allowed when the result is a whole
// number of bits per second. Byte rates ("10MBps", "10MB/s") are rejected
// with the equivalent in bits, so that a capital B is never silently
// mistaken for b. A lowercase m or g ("10mbps") is rejected too. Rates are
// never negative.
type Bandwidth int64

var bandwidthUnits = []unit{
	{"bps", 1}, {"kbps", 1e3}, {"Kbps", 1e3}, {"Mbps", 1e6}, {"Gbps", 1e9}, {"Tbps", 1e12},
	{"bit/s", 1}, {"kbit/s", 1e3}, {"Kbit/s", 1e3}, {"Mbit/s", 1e6}, {"Gbit/s", 1e9}, {"Tbit/s", 1e12},
}

var bandwidthCanon = []unit{{"Tbps", 1e12}, {"Gbps", 1e9}, {"Mbps", 1e6}, {"kbps", 1e3}}

// byteRateUnits are byte-per-second spellings, rejected with a hint.
var byteRateUnits = []unit{
	{"Bps", 1}, {"kBps", 1e3}, {"KBps", 1e3}, {"MBps", 1e6}, {"GBps", 1e9}, {"TBps", 1e12},
	{"B/s", 1}, {"kB/s", 1e3}, {"KB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9}, {"TB/s", 1e12},
}

// ParseBandwidth parses a rate in bits per second, e.g. "10Mbps".
func ParseBandwidth(s string) (Bandwidth, error) {
	t := strings.TrimSpace(s)
	num, u := splitNumber(t)
	switch {
	case t == "":
		return 0, invalidf("empty bandwidth; write e.g. 10Mbps or 1Gbps")
	case num == "" || strings.Trim(num, "+-_.") == "":
		return 0, invalidf("bad bandwidth %q: want a number and a unit, e.g. 10Mbps or 1Gbps", s)
	case u == "":
		return 0, invalidf("bandwidth %q has no unit; add a unit, e.g. %sMbps (bits per second)", s, num)
	}
	if mult, ok := lookupUnit(byteRateUnits, u); ok {
		if v, err := scaleExact(num, mult); err == nil && v <= math.MaxInt64/8 {
			return 0, invalidf("bad bandwidth %q: that is bytes per second; bandwidth is in bits per second: write %v", s, Bandwidth(v*8))
		}
		return 0, invalidf("bad bandwidth %q: that is bytes per second; bandwidth is in bits per second (bps, kbps, Mbps, Gbps)", s)
	}
	mult, ok := lookupUnit(bandwidthUnits, u)
	if !ok {
		hint := ""
		for _, c := range bandwidthUnits {
			if strings.EqualFold(c.name, u) {
				hint = fmt.Sprintf(" (did you mean %q?)", c.name)
				break
			}
		}
		return 0, invalidf("bad bandwidth %q: unknown unit %q%s; use bps, kbps, Mbps, Gbps or Tbps (or bit/s, kbit/s, Mbit/s, ...)", s, u, hint)
	}
	v, err := scaleExact(num, mult)
	if err != nil {
		return 0, invalidf("bad bandwidth %q: %v", s, err)
	}
	return Bandwidth(v), nil
}

// String returns the canonical form, e.g. "100bps", "20Mbps", "1500kbps".
func (b Bandwidth) String() string { return formatUnits(int64(b), bandwidthCanon, "bps") }

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *Bandwidth) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n, "a bandwidth such as 10Mbps")
	if err != nil {
		return err
	}
	v, err := ParseBandwidth(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (b Bandwidth) MarshalYAML() (any, error) { return b.String(), nil }

// ---------------------------------------------------------------------------
// Rate

// Rate is a frequency in events per second, written as a count per unit of
// time: "10/s", "600/m" (= 10/s), "3600/h" (= 1/s); the units may also be
// spelled sec, min, hour. A bare number is rejected. Rates are never
// negative.
type Rate float64

var rateUnits = []struct {
	names []string
	secs  float64
}{
	{[]string{"s", "sec", "second"}, 1},
	{[]string{"m", "min", "minute"}, 60},
	{[]string{"h", "hr", "hour"}, 3600},
}

// ParseRate parses a rate such as "10/s", "600/m" or "3600/h".
func ParseRate(s string) (Rate, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, invalidf("empty rate; write e.g. 10/s, 600/m or 3600/h")
	}
	num, per, ok := strings.Cut(t, "/")
	if !ok {
		if isBareNumber(t) {
			return 0, invalidf("rate %q has no unit; add a unit, e.g. %s/s", s, t)
		}
		return 0, invalidf("bad rate %q: write a count per unit of time, e.g. 10/s, 600/m or 3600/h", s)
	}
	num, per = strings.TrimSpace(num), strings.TrimSpace(per)
	r, okNum := parseDecimal(num)
	if !okNum {
		return 0, invalidf("bad rate %q: %q is not a number", s, num)
	}
	if r.Sign() < 0 {
		return 0, invalidf("bad rate %q: must not be negative", s)
	}
	v, _ := r.Float64()
	if math.IsInf(v, 0) {
		return 0, invalidf("bad rate %q: too large", s)
	}
	for _, u := range rateUnits {
		if slices.Contains(u.names, per) {
			return Rate(v / u.secs), nil
		}
	}
	return 0, invalidf("bad rate %q: unknown time unit %q; use s, m or h (e.g. 10/s)", s, per)
}

// PerSecond returns r in events per second.
func (r Rate) PerSecond() float64 { return float64(r) }

// Interval returns the mean time between events (0 for a zero rate).
func (r Rate) Interval() time.Duration {
	if r <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / float64(r))
}

// String returns the canonical form: the shortest count per second, minute
// or hour that parses back to r ("10/s", "1/m", "1.5/h"), else a decimal
// count per second.
func (r Rate) String() string {
	v := float64(r)
	for prec := 0; prec <= 6; prec++ {
		for _, u := range rateUnits {
			s := strconv.FormatFloat(v*u.secs, 'f', prec, 64) + "/" + u.names[0]
			if back, err := ParseRate(s); err == nil && back == r {
				return s
			}
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + "/s"
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n, "a rate such as 10/s")
	if err != nil {
		return err
	}
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (r Rate) MarshalYAML() (any, error) { return r.String(), nil }

// ---------------------------------------------------------------------------
// Fraction

// Fraction is a share or probability in [0, 1], written as a percentage
// ("30%", "0.5%") or as a plain number between 0 and 1 ("0.3"). A plain
// number above 1 is rejected with a hint (30 is not 30%).
type Fraction float64

// ParseFraction parses "30%", "0.5%" or a plain number in [0, 1].
func ParseFraction(s string) (Fraction, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, invalidf("empty fraction; write e.g. 30%% or 0.3")
	}
	if p, ok := strings.CutSuffix(t, "%"); ok {
		p = strings.TrimSpace(p)
		r, ok := parseDecimal(p)
		if !ok {
			return 0, invalidf("bad percentage %q: want e.g. 30%% or 0.5%%", s)
		}
		v, _ := r.Float64()
		switch {
		case v < 0:
			return 0, invalidf("%s is negative; want 0%% to 100%%", t)
		case v > 100:
			return 0, invalidf("%s is above 100%%", t)
		}
		return Fraction(v / 100), nil
	}
	r, ok := parseDecimal(t)
	if !ok {
		return 0, invalidf("bad fraction %q: write a percentage (30%%) or a number between 0 and 1 (0.3)", s)
	}
	v, _ := r.Float64()
	switch {
	case v < 0:
		return 0, invalidf("fraction %s is negative; want 0 to 1 (or 0%% to 100%%)", t)
	case v > 1:
		return 0, invalidf("fraction %s is above 1; write a percentage, e.g. %s%%, or a number between 0 and 1", t, t)
	}
	return Fraction(v), nil
}

// String returns the canonical form: the shortest percentage that parses
// back to the same value ("30%", "0.5%", "100%").
func (f Fraction) String() string {
	v := float64(f)
	for prec := 0; prec <= 20; prec++ {
		s := strconv.FormatFloat(v*100, 'f', prec, 64)
		if back, err := ParseFraction(s + "%"); err == nil && back == f {
			return s + "%"
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (f *Fraction) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalarText(n, "a fraction such as 30% or 0.3")
	if err != nil {
		return err
	}
	v, err := ParseFraction(s)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (f Fraction) MarshalYAML() (any, error) { return f.String(), nil }

// ---------------------------------------------------------------------------
// NodeSet

// MaxNodes is the largest node count a scenario may ask for.
const MaxNodes = 1_000_000

// NodeSet is a set of node indices. In YAML it is either the word "all", a
// single index or inclusive range ("7", "0-99"), a relative range of the
// node count ("0%-50%"), or a list mixing them: [0, 1, 2], [0-499],
// ["10-19", 42], [0%-10%, 999]. Ranges keep the order
// written; overlaps are allowed. The zero value is the empty set. Whether
// the indices exist depends on the node count: see Resolve and Check.
type NodeSet struct {
	// All selects every node; Ranges and Shares are then empty.
	All bool
	// Ranges are inclusive [lo, hi] pairs, 0 <= lo <= hi, as written.
	Ranges [][2]int
	// Shares are relative ranges written "0%-50%": fractions [lo, hi) of
	// the node count, 0 <= lo < hi <= 1. Among n nodes the share [lo, hi)
	// holds indices floor(lo*n) .. floor(hi*n)-1, so "0%-50%" and
	// "50%-100%" split any count into two disjoint halves. They scale with a
	// node-count override.
	Shares [][2]float64
}

// AllNodes is the NodeSet of every node.
func AllNodes() NodeSet { return NodeSet{All: true} }

// Empty reports whether s selects no node at all, whatever the node count.
func (s NodeSet) Empty() bool { return !s.All && len(s.Ranges) == 0 && len(s.Shares) == 0 }

// Contains reports whether node i is in s among n nodes.
func (s NodeSet) Contains(i, n int) bool {
	if i < 0 || i >= n {
		return false
	}
	if s.All {
		return true
	}
	for _, r := range s.Spans(n) {
		if r[0] <= i && i <= r[1] {
			return true
		}
	}
	return false
}

// Spans returns s among n nodes as inclusive index ranges: Ranges as
// written, then each share resolved (shares that hold no node among n are
// left out). It does not check that Ranges fit in n.
func (s NodeSet) Spans(n int) [][2]int {
	if s.All {
		if n == 0 {
			return nil
		}
		return [][2]int{{0, n - 1}}
	}
	out := slices.Clone(s.Ranges)
	for _, f := range s.Shares {
		if lo, hi := shareBounds(f, n); lo <= hi {
			out = append(out, [2]int{lo, hi})
		}
	}
	return out
}

// shareBounds resolves a relative range among n nodes to inclusive bounds;
// lo > hi when it holds no node.
func shareBounds(f [2]float64, n int) (lo, hi int) {
	return int(math.Floor(f[0] * float64(n))), int(math.Floor(f[1]*float64(n))) - 1
}

// Check reports the first range of s that does not fit in n nodes: its
// index in Ranges and an error; it returns -1, nil when all fit.
func (s NodeSet) Check(n int) (int, error) {
	for k, r := range s.Ranges {
		if r[1] >= n {
			if r[0] == r[1] {
				return k, invalidf("node %d out of range: there are %d nodes (0-%d)", r[0], n, n-1)
			}
			return k, invalidf("node range %d-%d out of range: there are %d nodes (0-%d)", r[0], r[1], n, n-1)
		}
	}
	return -1, nil
}

// Resolve returns the indices of s among n nodes, sorted and without
// duplicates, or an error if a range lies outside 0..n-1.
func (s NodeSet) Resolve(n int) ([]int, error) {
	if n < 0 {
		return nil, invalidf("negative node count %d", n)
	}
	if s.All {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	if _, err := s.Check(n); err != nil {
		return nil, err
	}
	rs := s.Spans(n)
	slices.SortFunc(rs, func(a, b [2]int) int { return a[0] - b[0] })
	var out []int
	next := 0 // smallest index not yet emitted
	for _, r := range rs {
		for i := max(r[0], next); i <= r[1]; i++ {
			out = append(out, i)
		}
		next = max(next, r[1]+1)
	}
	return out, nil
}

// String returns the canonical form: "all" or a flow list such as
// "[0-499, 7]".
func (s NodeSet) String() string {
	if s.All {
		return "all"
	}
	parts := make([]string, 0, len(s.Ranges)+len(s.Shares))
	for _, r := range s.Ranges {
		parts = append(parts, formatRange(r))
	}
	for _, f := range s.Shares {
		parts = append(parts, formatShare(f))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func formatShare(f [2]float64) string {
	pct := func(x float64) string { return strconv.FormatFloat(x*100, 'f', -1, 64) + "%" }
	return pct(f[0]) + "-" + pct(f[1])
}

// parseShareRange parses "lo%-hi%" into fractions [lo, hi).
func parseShareRange(s string) ([2]float64, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok || !strings.HasSuffix(strings.TrimSpace(lo), "%") || !strings.HasSuffix(strings.TrimSpace(hi), "%") {
		return [2]float64{}, invalidf("bad relative node range %q: write it as lo%%-hi%%, e.g. 0%%-50%%", s)
	}
	parse := func(t string) (float64, error) {
		t = strings.TrimSuffix(strings.TrimSpace(t), "%")
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
			return 0, invalidf("bad relative node range %q: percentages must be numbers from 0%% to 100%%", s)
		}
		return v / 100, nil
	}
	a, err := parse(lo)
	if err != nil {
		return [2]float64{}, err
	}
	b, err := parse(hi)
	if err != nil {
		return [2]float64{}, err
	}
	if a >= b {
		return [2]float64{}, invalidf("relative node range %q is empty or reversed", s)
	}
	return [2]float64{a, b}, nil
}

func formatRange(r [2]int) string {
	if r[0] == r[1] {
		return strconv.Itoa(r[0])
	}
	return strconv.Itoa(r[0]) + "-" + strconv.Itoa(r[1])
}

// ParseNodeSet parses the text form: "all", or comma-separated indices and
// ranges, optionally in brackets ("0-99", "[0, 5, 10-19]").
func ParseNodeSet(s string) (NodeSet, error) {
	t := strings.TrimSpace(s)
	if t == "all" {
		return AllNodes(), nil
	}
	if inner, ok := strings.CutPrefix(t, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok {
			return NodeSet{}, invalidf("bad node set %q: missing ]", s)
		}
		t = strings.TrimSpace(inner)
	}
	var ns NodeSet
	if t == "" {
		return ns, nil
	}
	for _, item := range strings.Split(t, ",") {
		if item = strings.TrimSpace(item); strings.Contains(item, "%") {
			f, err := parseShareRange(item)
			if err != nil {
				return NodeSet{}, err
			}
			ns.Shares = append(ns.Shares, f)
			continue
		}
		r, all, err := parseNodeItem(item)
		if err != nil {
			return NodeSet{}, err
		}
		if all {
			return NodeSet{}, invalidf("bad node set %q: \"all\" cannot be combined with other nodes", s)
		}
		ns.Ranges = append(ns.Ranges, r)
	}
	return ns, nil
}

// parseNodeIndex parses a non-negative node index.
func parseNodeIndex(s string) (int, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		if strings.HasPrefix(t, "-") {
			return 0, invalidf("node index %s is negative", s)
		}
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, invalidf("node index %s is too large (at most %d nodes)", s, MaxNodes)
		}
		return 0, invalidf("bad node index %q: want a number, a range such as 0-99, or all", s)
	}
	switch {
	case v < 0:
		return 0, invalidf("node index %s is negative", s)
	case v >= MaxNodes:
		return 0, invalidf("node index %s is too large (at most %d nodes)", s, MaxNodes)
	}
	return int(v), nil
}

// parseNodeItem parses one item: an index, an inclusive range "lo-hi", or
// "all".
func parseNodeItem(s string) (r [2]int, all bool, err error) {
	if s == "all" {
		return r, true, nil
	}
	if s == "" {
		return r, false, invalidf("empty node index")
	}
	if lo, hi, ok := strings.Cut(s[1:], "-"); ok { // s[1:]: a leading '-' is a sign
		lo = s[:1] + lo
		a, err := parseNodeIndex(lo)
		if err != nil {
			return r, false, err
		}
		b, err := parseNodeIndex(hi)
		if err != nil {
			return r, false, err
		}
		if a > b {
			return r, false, invalidf("node range %s is reversed; write %d-%d", s, b, a)
		}
		return [2]int{a, b}, false, nil
	}
	v, err := parseNodeIndex(s)
	if err != nil {
		return r, false, err
	}
	return [2]int{v, v}, false, nil
}

// decodeNodeSet reads a node set from n. On error it also returns the node
// at fault (an item of a list, or n). On success items holds, for each
// range, the node it came from.
func decodeNodeSet(n *yaml.Node) (ns NodeSet, items []*yaml.Node, bad *yaml.Node, err error) {
	switch {
	case n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return ns, nil, n, invalidf("expected a node set (all, 0-99 or a list such as [0, 5, 10-19]), got nothing")
	case n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "%"):
		f, err := parseShareRange(strings.TrimSpace(n.Value))
		if err != nil {
			return ns, nil, n, err
		}
		return NodeSet{Shares: [][2]float64{f}}, nil, nil, nil
	case n.Kind == yaml.ScalarNode:
		r, all, err := parseNodeItem(strings.TrimSpace(n.Value))
		if err != nil {
			return ns, nil, n, err
		}
		if all {
			return AllNodes(), nil, nil, nil
		}
		return NodeSet{Ranges: [][2]int{r}}, []*yaml.Node{n}, nil, nil
	case n.Kind == yaml.SequenceNode:
		ns.Ranges = make([][2]int, 0, len(n.Content))
		for _, it := range n.Content {
			if it.Kind != yaml.ScalarNode || it.ShortTag() == "!!null" {
				return NodeSet{}, nil, it, invalidf("expected a node index or range such as 0-99, got %s", describe(it))
			}
			if strings.Contains(it.Value, "%") {
				f, err := parseShareRange(strings.TrimSpace(it.Value))
				if err != nil {
					return NodeSet{}, nil, it, err
				}
				ns.Shares = append(ns.Shares, f)
				continue
			}
			r, all, err := parseNodeItem(strings.TrimSpace(it.Value))
			if err != nil {
				return NodeSet{}, nil, it, err
			}
			if all {
				if len(n.Content) > 1 {
					return NodeSet{}, nil, it, invalidf("\"all\" cannot be combined with other nodes")
				}
				return AllNodes(), nil, nil, nil
			}
			ns.Ranges = append(ns.Ranges, r)
			items = append(items, it)
		}
		if len(ns.Ranges) == 0 {
			ns.Ranges = nil // as from a scalar: one value, one representation
		}
		return ns, items, nil, nil
	}
	return ns, nil, n, invalidf("expected a node set (all, 0-99 or a list such as [0, 5, 10-19]), got %s", describe(n))
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *NodeSet) UnmarshalYAML(n *yaml.Node) error {
	v, _, _, err := decodeNodeSet(n)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalYAML implements yaml.Marshaler: "all" or a flow list.
func (s NodeSet) MarshalYAML() (any, error) { return nodeSetNode(s), nil }

// nodeSetNode encodes s as a YAML node.
func nodeSetNode(s NodeSet) *yaml.Node {
	if s.All {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "all"}
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, r := range s.Ranges {
		tag := "!!int"
		if r[0] != r[1] {
			tag = "!!str"
		}
		seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: formatRange(r)})
	}
	for _, f := range s.Shares {
		seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: formatShare(f)})
	}
	return seq
}

package scenarios

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/dchat/network/core"
	"github.com/dchat/network/sim"
)

// ErrInvalid is wrapped by every error about a scenario's content: bad
// YAML, an unknown key, a bad value, a bad --set override.
var ErrInvalid = errors.New("invalid scenario")

// ErrUnsupported is wrapped (besides ErrInvalid) by errors about sections
// the simulator does not support yet (adversaries, churn, nodes.nat,
// publish and lookups workloads).
var ErrUnsupported = errors.New("not supported yet")

// Error is a problem with a scenario, located in its file or in a --set
// override. Its text is "FILE:LINE:COLUMN: PATH: MESSAGE", or
// "--set KEY=VALUE: PATH: MESSAGE" when the offending value came from an
// override. It unwraps to ErrInvalid and, if set, to Err.
type Error struct {
	File   string // the scenario's file name or "builtin:NAME"
	Line   int    // 1-based; 0 if unknown or in a --set override
	Column int    // 1-based; 0 if unknown
	Set    string // the override "KEY=VALUE" the value came from, if any
	Path   string // the offending key, e.g. "nodes.count" or "faults[1].crash"
	Msg    string
	Err    error // a more specific cause: ErrUnsupported, a core.ErrConfig error, ...
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Set != "":
		b.WriteString("--set " + e.Set)
	case e.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d", e.File, e.Line, e.Column)
	default:
		b.WriteString(e.File)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrInvalid and the specific cause, if any.
func (e *Error) Unwrap() []error {
	if e.Err == nil || e.Err == ErrInvalid {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}

// Load reads and parses the scenario file at path, applying the --set
// overrides sets ("key=value") in order. See Parse.
func Load(path string, sets ...string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenarios: %w", err)
	}
	return Parse(path, data, sets...)
}

// Parse decodes a scenario from data, strictly: unknown or duplicate keys,
// wrong types, bad units, out-of-range values, node indices beyond the node
// count and unsupported sections are errors (*Error) naming file, line and
// column. file names the source in messages; a relative latency matrix path
// is resolved against its directory (or the working directory when file
// starts with "builtin:"). The overrides sets ("key=value", see the package
// documentation) are applied to the YAML tree before decoding, so they are
// checked like the file itself. Defaults are filled in.
//
// Parse is deterministic and safe for concurrent use.
func Parse(file string, data []byte, sets ...string) (*Scenario, error) {
	d := &decoder{file: file, origin: map[*yaml.Node]string{}}
	if !strings.HasPrefix(file, "builtin:") {
		d.dir = filepath.Dir(file)
	}
	root, err := d.parseYAML(data)
	if err != nil {
		return nil, err
	}
	if err := d.applySets(root, sets); err != nil {
		return nil, err
	}
	return d.scenario(root)
}

// decoder holds the state of one Parse call.
type decoder struct {
	file   string
	dir    string                // base of relative paths from the file; "" = working directory
	origin map[*yaml.Node]string // nodes that came from a --set, to the override's text

	count        int        // nodes.count, once decoded
	countNode    *yaml.Node // where it was given
	duration     Duration   // duration, once decoded
	durNode      *yaml.Node // where it was given
	hasBootstrap bool       // nodes.bootstrap is non-empty
	seed         uint64     // seed, once decoded (default 1)
	relays       int        // the number of relays, once nodes.relays is resolved
	nat          bool       // nodes.nat is given
	bootstrap    NodeSet    // nodes.bootstrap
	private      int        // the number of private nodes, likewise
	maxHops      int        // protocol.max_relay_hops, once decoded
}

// parseYAML parses data into a node tree and returns its root.
func (d *decoder) parseYAML(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Load(data, &doc); err != nil {
		e := &Error{File: d.file, Msg: "yaml: " + err.Error()}
		var le *yaml.LoadError
		if errors.As(err, &le) {
			e.Msg = le.Message
			switch {
			case strings.Contains(le.Message, "no documents"):
				e.Msg = "empty scenario: the file holds no YAML document"
			case strings.Contains(le.Message, "single document"):
				e.Msg = "the file holds several YAML documents (---); a scenario is one document"
			default:
				e.Msg = "yaml: " + strings.TrimPrefix(le.Message, "yaml: ")
				if le.ContextMsg != "" {
					e.Msg += " (" + le.ContextMsg + ")"
				}
			}
			e.Line, e.Column = le.Mark.Line, le.Mark.Column
		}
		return nil, e
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	if err := d.checkTree(root, ""); err != nil {
		return nil, err
	}
	return root, nil
}

// checkTree rejects aliases and merge keys anywhere under n: they would let
// one node appear in several places, which --set could not tell apart.
func (d *decoder) checkTree(n *yaml.Node, set string) error {
	if n == nil {
		return nil
	}
	if set != "" {
		d.origin[n] = set
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return d.errAt(n, "", "aliases (*%s) are not supported; repeat the value instead", n.Value)
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!merge":
		return d.errAt(n, "", "merge keys (<<) are not supported; repeat the keys instead")
	}
	for _, c := range n.Content {
		if err := d.checkTree(c, set); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Errors with positions

// errAt returns an *Error located at n.
func (d *decoder) errAt(n *yaml.Node, path, format string, args ...any) *Error {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
	if n != nil {
		if s, ok := d.origin[n]; ok {
			e.Set = s
		} else {
			e.Line, e.Column = n.Line, n.Column
		}
	}
	return e
}

// wrap locates err (from a unit parser, say) at n.
func (d *decoder) wrap(n *yaml.Node, path string, err error) *Error {
	e := d.errAt(n, path, "%s", err.Error())
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnsupported) {
		e.Err = err
	}
	return e
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing (null)"
	case "!!int", "!!float":
		return "the number " + v
	case "!!bool":
		return v
	}
	return strconv.Quote(v)
}

// countNote explains where the node count came from when a --set changed it.
func (d *decoder) countNote() string {
	if s, ok := d.origin[d.countNode]; ok {
		return fmt.Sprintf(" (nodes.count is %d, from --set %s)", d.count, s)
	}
	return ""
}

// endNote names the end of the run, and where it came from when a --set
// changed it.
func (d *decoder) endNote() string {
	if s, ok := d.origin[d.durNode]; ok {
		return fmt.Sprintf("(duration %v, from --set %s)", d.duration, s)
	}
	return fmt.Sprintf("(duration %v)", d.duration)
}

// ---------------------------------------------------------------------------
// Mappings

// mapping is a decoded YAML mapping: its keys checked against a list of
// known keys, duplicates rejected.
type mapping struct {
	node *yaml.Node // the mapping, or the null node / nil it replaces
	path string
	idx  map[string]int // key -> index of its key node in node.Content
	keys []string       // in file order
}

// join appends key to path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping checks that n is a mapping (or null, or nil: an empty one) with
// scalar, unique keys. If known is non-nil, every key must be in it.
func (d *decoder) mapping(n *yaml.Node, path string, known []string) (*mapping, error) {
	m := &mapping{node: n, path: path, idx: map[string]int{}}
	if n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return m, nil
	}
	if n.Kind != yaml.MappingNode {
		if path == "" {
			return nil, d.errAt(n, path, "a scenario must be a mapping (name:, duration:, nodes:, ...), got %s", describe(n))
		}
		return nil, d.errAt(n, path, "expected a mapping (key: value lines), got %s", describe(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			return nil, d.errAt(k, path, "keys must be plain names, got %s", describe(k))
		}
		if j, dup := m.idx[k.Value]; dup {
			return nil, d.errAt(k, path, "duplicate key %q (first at line %d)", k.Value, n.Content[j].Line)
		}
		if known != nil && !slices.Contains(known, k.Value) {
			return nil, d.errAt(k, path, "unknown key %q%s", k.Value, suggest(k.Value, known))
		}
		m.idx[k.Value] = i
		m.keys = append(m.keys, k.Value)
	}
	return m, nil
}

// val returns the value of key, or nil if the key is absent or null.
func (m *mapping) val(key string) *yaml.Node {
	i, ok := m.idx[key]
	if !ok {
		return nil
	}
	v := m.node.Content[i+1]
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
		return nil
	}
	return v
}

// key returns the key node of key, or nil.
func (m *mapping) key(key string) *yaml.Node {
	if i, ok := m.idx[key]; ok {
		return m.node.Content[i]
	}
	return nil
}

// at is where to report a problem with the mapping as a whole.
func (m *mapping) at() *yaml.Node { return m.node }

// suggest returns ` (did you mean "x"?)` for the known key closest to key,
// or "" if none is close.
func suggest(key string, known []string) string {
	if len(key) > 64 {
		return ""
	}
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	best, bestD := "", 3
	for _, k := range known {
		if norm(k) == norm(key) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
		if dist := levenshtein(key, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	if best == "" || bestD > len(key)/2 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// levenshtein is the edit distance between a and b, in bytes.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ---------------------------------------------------------------------------
// Scalars

// scalar checks that n is a non-null scalar.
func (d *decoder) scalar(n *yaml.Node, path, what string) error {
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return d.errAt(n, path, "expected %s, got %s", what, describe(n))
	}
	return nil
}

func (d *decoder) str(n *yaml.Node, path string) (string, error) {
	if err := d.scalar(n, path, "a string"); err != nil {
		return "", err
	}
	return n.Value, nil
}

// parseInt parses the text of a YAML integer: decimal (leading zeros are
// decimal, not octal), or 0x, 0o, 0b prefixed; underscores allowed.
func parseInt(s string) (int64, error) {
	t := strings.ReplaceAll(s, "_", "")
	u := strings.TrimLeft(t, "+-")
	if len(u) > 2 && u[0] == '0' && strings.ContainsRune("xXoObB", rune(u[1])) {
		return strconv.ParseInt(t, 0, 64)
	}
	return strconv.ParseInt(t, 10, 64)
}

// parseUint is parseInt for unsigned values.
func parseUint(s string) (uint64, error) {
	t := strings.TrimPrefix(strings.ReplaceAll(s, "_", ""), "+")
	if len(t) > 2 && t[0] == '0' && strings.ContainsRune("xXoObB", rune(t[1])) {
		return strconv.ParseUint(t, 0, 64)
	}
	return strconv.ParseUint(t, 10, 64)
}

func (d *decoder) integer(n *yaml.Node, path string) (int64, error) {
	if err := d.scalar(n, path, "an integer"); err != nil {
		return 0, err
	}
	switch n.ShortTag() {
	case "!!int":
		v, err := parseInt(n.Value)
		if err != nil {
			return 0, d.errAt(n, path, "integer %s is out of range", n.Value)
		}
		return v, nil
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return int64(f), nil
		}
	case "!!str":
		if strings.Contains(n.Value, ",") && strings.Trim(n.Value, "0123456789,") == "" {
			return 0, d.errAt(n, path, "expected an integer, got %q; write it without commas, e.g. %s or with underscores",
				n.Value, strings.ReplaceAll(n.Value, ",", ""))
		}
	}
	return 0, d.errAt(n, path, "expected an integer, got %s", describe(n))
}

func (d *decoder) float(n *yaml.Node, path string) (float64, error) {
	if err := d.scalar(n, path, "a number"); err != nil {
		return 0, err
	}
	if t := n.ShortTag(); t == "!!int" || t == "!!float" {
		if t == "!!int" {
			if v, err := parseInt(n.Value); err == nil {
				return float64(v), nil
			}
		}
		v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
			return v, nil
		}
		return 0, d.errAt(n, path, "expected a finite number, got %s", n.Value)
	}
	return 0, d.errAt(n, path, "expected a number, got %s", describe(n))
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, error) {
	if err := d.scalar(n, path, "true or false"); err != nil {
		return false, err
	}
	if n.ShortTag() == "!!bool" {
		switch strings.ToLower(n.Value) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, d.errAt(n, path, "expected true or false, got %s", describe(n))
}

// unit decodes a unit type from n, locating its error.
func (d *decoder) unit(n *yaml.Node, path string, u yaml.Unmarshaler) error {
	if err := u.UnmarshalYAML(n); err != nil {
		return d.wrap(n, path, err)
	}
	return nil
}

// optDuration decodes an optional duration (absent = 0) that must be >= 0.
func (d *decoder) optDuration(m *mapping, key string) (Duration, error) {
	n := m.val(key)
	if n == nil {
		return 0, nil
	}
	var v Duration
	if err := d.unit(n, join(m.path, key), &v); err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, d.errAt(n, join(m.path, key), "must not be negative, got %v", v)
	}
	return v, nil
}

// nodeSet decodes a node set and checks it against the node count.
func (d *decoder) nodeSet(n *yaml.Node, path string) (NodeSet, error) {
	ns, items, bad, err := decodeNodeSet(n)
	if err != nil {
		return ns, d.wrap(bad, path, err)
	}
	if k, err := ns.Check(d.count); err != nil {
		return ns, d.errAt(items[k], path, "%v%s", err, d.countNote())
	}
	return ns, nil
}

// ---------------------------------------------------------------------------
// The scenario

var topKeys = []string{
	"name", "description", "seed", "duration", "nodes", "network", "topology", "protocol",
	"workload", "faults", "outputs", "trace_gzip", "adversaries", "churn",
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

func (d *decoder) scenario(root *yaml.Node) (*Scenario, error) {
	top, err := d.mapping(root, "", topKeys)
	if err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, d.errAt(root, "", "a scenario must be a mapping (name:, duration:, nodes:, ...), got %s", describe(root))
	}
	// Sections for later protocols come first, so that a file using them
	// is told so rather than about some other detail.

	s := &Scenario{File: d.file, Seed: 1, Protocol: core.DefaultConfig()}

	n := top.val("name")
	if n == nil {
		return nil, d.errAt(top.at(), "name", "missing required field (a short identifier, e.g. name: ping-1000)")
	}
	if s.Name, err = d.str(n, "name"); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(s.Name) {
		return nil, d.errAt(n, "name", "must be a short identifier (letters, digits, '.', '_', '-'; at most 100), got %q", s.Name)
	}
	if n := top.val("description"); n != nil {
		if s.Description, err = d.str(n, "description"); err != nil {
			return nil, err
		}
	}
	if n := top.val("seed"); n != nil {
		if err := d.scalar(n, "seed", "an integer"); err != nil {
			return nil, err
		}
		v, perr := parseUint(n.Value)
		if n.ShortTag() != "!!int" || perr != nil {
			if strings.HasPrefix(n.Value, "-") && n.ShortTag() == "!!int" {
				return nil, d.errAt(n, "seed", "must not be negative, got %s", n.Value)
			}
			return nil, d.errAt(n, "seed", "expected an integer from 0 to %d, got %s", uint64(math.MaxUint64), describe(n))
		}
		s.Seed = v
	}
	d.seed = s.Seed
	n = top.val("duration")
	if n == nil {
		return nil, d.errAt(top.at(), "duration", "missing required field (how long the run lasts in virtual time, e.g. duration: 30s)")
	}
	if err := d.unit(n, "duration", &s.Duration); err != nil {
		return nil, err
	}
	if s.Duration <= 0 {
		return nil, d.errAt(n, "duration", "must be positive, got %v", s.Duration)
	}
	d.duration, d.durNode = s.Duration, n

	if top.val("nodes") == nil {
		return nil, d.errAt(top.at(), "nodes", "missing required section (at least nodes: {count: N})")
	}
	if err := d.nodes(top.val("nodes"), &s.Nodes); err != nil {
		return nil, err
	}
	if err := d.network(top.val("network"), &s.Network); err != nil {
		return nil, err
	}
	if s.Network.Latency.Model == LatencyRegions && len(s.Nodes.Regions) == 0 {
		return nil, d.errAt(top.val("nodes"), "nodes.regions",
			"missing: the regions latency model (network.latency.model, the default) needs nodes placed in regions, e.g. regions: {eu-west: 50%%, us-east: 50%%}")
	}
	if err := d.topology(top.val("topology"), &s.Topology); err != nil {
		return nil, err
	}
	if err := d.protocol(top.val("protocol"), top, &s.Protocol); err != nil {
		return nil, err
	}
	if s.Protocol.EnableRelay {
		pm, _ := d.mapping(top.val("protocol"), "protocol", nil)
		return nil, d.errAt(pm.val("enable_relay"), "protocol.enable_relay",
			"the simulator sets enable_relay per node: say which nodes relay with nodes.relays (e.g. relays: 5%%)")
	}
	d.maxHops = s.Protocol.MaxRelayHops
	if s.Workload, err = d.workloads(top.val("workload")); err != nil {
		return nil, err
	}
	if s.Faults, err = d.faults(top.val("faults")); err != nil {
		return nil, err
	}
	if s.Churn, err = d.churn(top.val("churn"), top.key("churn")); err != nil {
		return nil, err
	}
	if s.Adversaries, err = d.adversaries(top.val("adversaries")); err != nil {
		return nil, err
	}
	if s.Outputs, err = d.outputs(top, "outputs"); err != nil {
		return nil, err
	}
	if n := top.val("trace_gzip"); n != nil {
		if s.TraceGzip, err = d.boolean(n, "trace_gzip"); err != nil {
			return nil, err
		}
		if s.TraceGzip && !slices.Contains(s.Outputs, "trace") {
			return nil, d.errAt(n, "trace_gzip", "needs trace in outputs (outputs are %v)", s.Outputs)
		}
	}
	return s, nil
}

// sumTolerance is how far shares may sum from 100%: ±0.01%.
const sumTolerance = 0.0001

func (d *decoder) checkSum(n *yaml.Node, path string, sum float64) error {
	if math.Abs(sum-1) > sumTolerance {
		return d.errAt(n, path, "shares sum to %.6g%%, want 100%% (±0.01%%)", sum*100)
	}
	return nil
}

func (d *decoder) nodes(n *yaml.Node, out *Nodes) error {
	m, err := d.mapping(n, "nodes", []string{"count", "regions", "bandwidth", "bootstrap", "join_over", "relays", "private", "nat"})
	if err != nil {
		return err
	}
	c := m.val("count")
	if c == nil {
		return d.errAt(m.at(), "nodes.count", "missing required field (the number of nodes, e.g. count: 1000)")
	}
	v, err := d.integer(c, "nodes.count")
	if err != nil {
		return err
	}
	switch {
	case v <= 0:
		return d.errAt(c, "nodes.count", "must be positive, got %d", v)
	case v > MaxNodes:
		return d.errAt(c, "nodes.count", "at most %d nodes, got %d", MaxNodes, v)
	}
	out.Count, d.count, d.countNode = int(v), int(v), c

	if r := m.val("regions"); r != nil {
		rm, err := d.mapping(r, "nodes.regions", nil)
		if err != nil {
			return err
		}
		if len(rm.keys) == 0 {
			return d.errAt(r, "nodes.regions", "empty; give region: share pairs, e.g. {eu-west: 50%%, us-east: 50%%}")
		}
		var names []string
		for _, reg := range sim.Regions() {
			names = append(names, reg.Name)
		}
		sum := 0.0
		for _, name := range rm.keys {
			path := "nodes.regions." + name
			if _, ok := sim.LookupRegion(name); !ok {
				return d.errAt(rm.key(name), "nodes.regions", "unknown region %q%s; regions are %s",
					name, suggest(name, names), strings.Join(names, ", "))
			}
			var f Fraction
			if err := d.unit(rm.node.Content[rm.idx[name]+1], path, &f); err != nil {
				return err
			}
			out.Regions = append(out.Regions, RegionShare{Region: name, Share: float64(f)})
			sum += float64(f)
		}
		if err := d.checkSum(r, "nodes.regions", sum); err != nil {
			return err
		}
	}

	if b := m.val("bandwidth"); b != nil {
		if b.Kind != yaml.SequenceNode {
			return d.errAt(b, "nodes.bandwidth", "expected a list of {share, up, down} classes, got %s", describe(b))
		}
		sum := 0.0
		for i, item := range b.Content {
			path := fmt.Sprintf("nodes.bandwidth[%d]", i)
			cm, err := d.mapping(item, path, []string{"share", "up", "down"})
			if err != nil {
				return err
			}
			if item.Kind != yaml.MappingNode {
				return d.errAt(item, path, "expected a {share, up, down} mapping, got %s", describe(item))
			}
			var c BandwidthClass
			for _, f := range []struct {
				key string
				u   yaml.Unmarshaler
			}{{"share", &c.Share}, {"up", &c.Up}, {"down", &c.Down}} {
				v := cm.val(f.key)
				if v == nil {
					return d.errAt(item, join(path, f.key), "missing required field")
				}
				if err := d.unit(v, join(path, f.key), f.u); err != nil {
					return err
				}
			}
			if c.Up <= 0 {
				return d.errAt(cm.val("up"), join(path, "up"), "must be positive, got %v (omit nodes.bandwidth for unlimited links)", c.Up)
			}
			if c.Down <= 0 {
				return d.errAt(cm.val("down"), join(path, "down"), "must be positive, got %v (omit nodes.bandwidth for unlimited links)", c.Down)
			}
			out.Bandwidth = append(out.Bandwidth, c)
			sum += float64(c.Share)
		}
		if len(out.Bandwidth) > 0 {
			if err := d.checkSum(b, "nodes.bandwidth", sum); err != nil {
				return err
			}
		}
	}

	if b := m.val("bootstrap"); b != nil {
		if out.Bootstrap, err = d.nodeSet(b, "nodes.bootstrap"); err != nil {
			return err
		}
		d.hasBootstrap = !out.Bootstrap.Empty()
		d.bootstrap = out.Bootstrap
	}
	if j := m.val("join_over"); j != nil {
		if err := d.unit(j, "nodes.join_over", &out.JoinOver); err != nil {
			return err
		}
		if out.JoinOver < 0 {
			return d.errAt(j, "nodes.join_over", "must not be negative, got %v", out.JoinOver)
		}
		if d.duration > 0 && out.JoinOver >= d.duration {
			return d.errAt(j, "nodes.join_over", "must be shorter than the run %s", d.endNote())
		}
	}
	if err := d.roles(m, out); err != nil {
		return err
	}
	return d.natShares(m, out)
}

// natShares decodes nodes.nat: {TYPE: SHARE, ...} over NATTypes, summing
// to 100%. The NAT model replaces the filter-only private nodes and does
// not mix with relays yet.
func (d *decoder) natShares(m *mapping, out *Nodes) error {
	n := m.val("nat")
	if n == nil {
		return nil
	}
	nm, err := d.mapping(n, "nodes.nat", NATTypes)
	if err != nil {
		return err
	}
	if len(nm.keys) == 0 {
		return d.errAt(n, "nodes.nat", "empty; give type: share pairs, e.g. {none: 40%%, port-restricted: 40%%, symmetric: 20%%}")
	}
	switch {
	case !out.Private.Empty():
		return d.errAt(m.key("nat"), "nodes.nat", "nodes.private is the filter-only model; with nodes.nat, give the private nodes a NAT type instead")
	case !out.Relays.Empty():
		return d.errAt(m.key("nat"), "nodes.nat", "relays (nodes.relays) do not run behind the NAT model yet; NATed nodes reach each other by TURN (network.nat.turn)")
	case !d.hasBootstrap:
		return d.errAt(m.key("nat"), "nodes.nat", "NAT traversal needs rendezvous nodes: add nodes.bootstrap")
	}
	sum := 0.0
	for _, t := range NATTypes {
		i, ok := nm.idx[t]
		if !ok {
			continue
		}
		var f Fraction
		if err := d.unit(nm.node.Content[i+1], "nodes.nat."+t, &f); err != nil {
			return err
		}
		out.NAT = append(out.NAT, NATShare{Type: t, Share: f})
		sum += float64(f)
	}
	if err := d.checkSum(n, "nodes.nat", sum); err != nil {
		return err
	}
	d.nat = true
	return nil
}

// natSpec decodes network.nat: {binding_timeout, upnp, stun, turn}. It is
// filled with its defaults when nodes.nat is given, and may be given only
// then.
func (d *decoder) natSpec(m *mapping, out *NATSpec) error {
	n := m.val("nat")
	if n == nil && !d.nat {
		return nil
	}
	if !d.nat {
		return d.errAt(m.key("nat"), "network.nat", "the NAT model's servers need NATed nodes: add nodes.nat (e.g. nat: {none: 50%%, symmetric: 50%%})")
	}
	*out = NATSpec{BindingTimeout: Duration(2 * time.Minute), STUN: d.bootstrap}
	var at *yaml.Node = m.at()
	if n != nil {
		at = n
		nm, err := d.mapping(n, "network.nat", []string{"binding_timeout", "upnp", "stun", "turn"})
		if err != nil {
			return err
		}
		if v := nm.val("binding_timeout"); v != nil {
			if err := d.unit(v, "network.nat.binding_timeout", &out.BindingTimeout); err != nil {
				return err
			}
			if out.BindingTimeout <= 0 || out.BindingTimeout > Duration(24*time.Hour) {
				return d.errAt(v, "network.nat.binding_timeout", "must be positive and at most 24h, got %v", out.BindingTimeout)
			}
		}
		if v := nm.val("upnp"); v != nil {
			if err := d.unit(v, "network.nat.upnp", &out.UPnP); err != nil {
				return err
			}
		}
		for _, f := range []struct {
			key string
			dst *NodeSet
		}{{"stun", &out.STUN}, {"turn", &out.TURN}} {
			if v := nm.val(f.key); v != nil {
				if *f.dst, err = d.nodeSet(v, "network.nat."+f.key); err != nil {
					return err
				}
			}
		}
		if out.STUN.Empty() {
			at := nm.val("stun")
			if at == nil {
				at = n
			}
			return d.errAt(at, "network.nat.stun", "no STUN server: name the public nodes that answer STUN (default: nodes.bootstrap)")
		}
	}
	servers, err := natServers(d.count, d.bootstrap, *out)
	if err != nil {
		return d.errAt(at, "network.nat", "%v", err)
	}
	if len(servers) >= d.count {
		return d.errAt(at, "network.nat", "every node is a bootstrap, STUN or TURN server; no client is left to put behind a NAT%s", d.countNote())
	}
	return nil
}

// nodeChoice decodes nodes.relays or nodes.private: a single percentage
// is a share, anything else a node set; neither may be empty.
func (d *decoder) nodeChoice(n *yaml.Node, path string) (NodeChoice, error) {
	var c NodeChoice
	if n.Kind == yaml.ScalarNode {
		v := strings.TrimSpace(n.Value)
		if strings.HasSuffix(v, "%") && strings.Count(v, "%") == 1 {
			if err := d.unit(n, path, &c.Share); err != nil {
				return c, err
			}
			if c.Share <= 0 {
				return c, d.errAt(n, path, "must be positive, got %v (omit %s for none)", c.Share, path)
			}
			return c, nil
		}
		if t := n.ShortTag(); t == "!!int" || t == "!!float" {
			return c, d.errAt(n, path, "a bare number is ambiguous here: write a share as a percentage (30%%) or nodes as a list ([%s])", v)
		}
	}
	ns, err := d.nodeSet(n, path)
	if err != nil {
		return c, err
	}
	if ns.Empty() {
		return c, d.errAt(n, path, "empty node set (omit %s for none)", path)
	}
	c.Nodes = ns
	return c, nil
}

// roles decodes nodes.relays and nodes.private and checks that they
// resolve (see resolveRoles).
func (d *decoder) roles(m *mapping, out *Nodes) error {
	var err error
	for _, f := range []struct {
		key string
		dst *NodeChoice
	}{{"relays", &out.Relays}, {"private", &out.Private}} {
		if v := m.val(f.key); v != nil {
			if *f.dst, err = d.nodeChoice(v, "nodes."+f.key); err != nil {
				return err
			}
		}
	}
	relays, private, key, err := resolveRoles(d.seed, *out)
	if err != nil {
		at := m.val(key)
		if at == nil {
			at = m.at()
		}
		msg := err.Error()
		if key == "private" && out.Private.Share == 0 || key == "relays" && out.Relays.Share == 0 {
			msg += d.countNote()
		}
		return d.errAt(at, "nodes."+key, "%s", msg)
	}
	d.relays, d.private = len(relays), len(private)
	return nil
}

// maxDelay bounds latency and jitter parameters (sim's limit for jitter).
const maxDelay = Duration(time.Hour)

func (d *decoder) network(n *yaml.Node, out *Network) error {
	m, err := d.mapping(n, "network", []string{"latency", "jitter", "loss", "mtu", "reorder", "filter", "nat"})
	if err != nil {
		return err
	}
	if err := d.filter(m, &out.Filter); err != nil {
		return err
	}
	if err := d.natSpec(m, &out.NAT); err != nil {
		return err
	}

	// Latency.
	lm, err := d.mapping(m.val("latency"), "network.latency", []string{"model", "value", "file", "stretch", "access"})
	if err != nil {
		return err
	}
	l := &out.Latency
	l.Model = LatencyRegions
	if v := lm.val("model"); v != nil {
		if l.Model, err = d.str(v, "network.latency.model"); err != nil {
			return err
		}
	}
	models := []string{LatencyRegions, LatencyConstant, LatencyMatrix}
	if !slices.Contains(models, l.Model) {
		return d.errAt(lm.val("model"), "network.latency.model", "unknown latency model %q%s (want regions, constant or matrix)",
			l.Model, suggest(l.Model, models))
	}
	only := map[string]string{"value": LatencyConstant, "file": LatencyMatrix, "stretch": LatencyRegions, "access": LatencyRegions}
	for _, k := range lm.keys {
		if want, ok := only[k]; ok && want != l.Model && lm.val(k) != nil {
			return d.errAt(lm.key(k), "network.latency."+k, "only for model %s (the model is %s)", want, l.Model)
		}
	}
	switch l.Model {
	case LatencyConstant:
		v := lm.val("value")
		if v == nil {
			return d.errAt(lm.at(), "network.latency.value", "missing: the constant model needs a one-way delay, e.g. value: 20ms")
		}
		if err := d.unit(v, "network.latency.value", &l.Value); err != nil {
			return err
		}
		if l.Value <= 0 || l.Value > maxDelay {
			return d.errAt(v, "network.latency.value", "must be positive and at most %v, got %v", maxDelay, l.Value)
		}
	case LatencyMatrix:
		v := lm.val("file")
		if v == nil {
			return d.errAt(lm.at(), "network.latency.file", "missing: the matrix model needs a CSV file, e.g. file: latency.csv")
		}
		f, err := d.str(v, "network.latency.file")
		if err != nil {
			return err
		}
		if f == "" {
			return d.errAt(v, "network.latency.file", "empty file name")
		}
		l.File = d.resolvePath(v, f)
	case LatencyRegions:
		if v := lm.val("stretch"); v != nil {
			if l.Stretch, err = d.float(v, "network.latency.stretch"); err != nil {
				return err
			}
			if l.Stretch != 0 && (l.Stretch < 1 || l.Stretch > 10) {
				return d.errAt(v, "network.latency.stretch", "must be between 1 and 10 (0 = model default), got %g", l.Stretch)
			}
		}
		if l.Access, err = d.optDuration(lm, "access"); err != nil {
			return err
		}
		if l.Access > maxDelay {
			return d.errAt(lm.val("access"), "network.latency.access", "at most %v, got %v", maxDelay, l.Access)
		}
	}

	// Jitter.
	jm, err := d.mapping(m.val("jitter"), "network.jitter", []string{"distribution", "stddev", "max", "mean"})
	if err != nil {
		return err
	}
	j := &out.Jitter
	j.Distribution = JitterNone
	if v := jm.val("distribution"); v != nil {
		if j.Distribution, err = d.str(v, "network.jitter.distribution"); err != nil {
			return err
		}
	}
	params := map[string]string{JitterNone: "", JitterUniform: "max", JitterNormal: "stddev", JitterExponential: "mean"}
	want, ok := params[j.Distribution]
	if !ok {
		dists := []string{JitterNone, JitterUniform, JitterNormal, JitterExponential}
		return d.errAt(jm.val("distribution"), "network.jitter.distribution", "unknown distribution %q%s (want none, uniform, normal or exponential)",
			j.Distribution, suggest(j.Distribution, dists))
	}
	for _, k := range jm.keys {
		if k != "distribution" && k != want && jm.val(k) != nil {
			if want == "" {
				return d.errAt(jm.key(k), "network.jitter."+k, "distribution none takes no parameter")
			}
			return d.errAt(jm.key(k), "network.jitter."+k, "not a parameter of distribution %s (it takes %s)", j.Distribution, want)
		}
	}
	if want != "" {
		v := jm.val(want)
		if v == nil {
			return d.errAt(jm.at(), "network.jitter."+want, "missing: distribution %s needs %s, e.g. %s: 2ms", j.Distribution, want, want)
		}
		var p Duration
		if err := d.unit(v, "network.jitter."+want, &p); err != nil {
			return err
		}
		if p <= 0 || p > maxDelay {
			return d.errAt(v, "network.jitter."+want, "must be positive and at most %v, got %v", maxDelay, p)
		}
		switch want {
		case "max":
			j.Max = p
		case "stddev":
			j.Stddev = p
		case "mean":
			j.Mean = p
		}
	}

	if v := m.val("loss"); v != nil {
		if err := d.unit(v, "network.loss", &out.Loss); err != nil {
			return err
		}
		if out.Loss >= 1 {
			return d.errAt(v, "network.loss", "must be below 100%%, got %v", out.Loss)
		}
	}
	if v := m.val("mtu"); v != nil {
		if err := d.unit(v, "network.mtu", &out.MTU); err != nil {
			return err
		}
		if out.MTU != 0 && (out.MTU < 68 || out.MTU > 65535) {
			return d.errAt(v, "network.mtu", "must be 0 (unlimited) or from 68B (RFC 791's minimum) to 65535B, got %v", out.MTU)
		}
	}
	if v := m.val("reorder"); v != nil {
		if out.Reorder, err = d.boolean(v, "network.reorder"); err != nil {
			return err
		}
	}
	return nil
}

// filter decodes network.filter: {behavior, binding_timeout}. It is filled
// with its defaults when there are private nodes, and may be given only
// then.
func (d *decoder) filter(m *mapping, out *FilterSpec) error {
	n := m.val("filter")
	if n == nil {
		if d.private > 0 {
			*out = FilterSpec{Behavior: FilterAddressPortDependent, BindingTimeout: Duration(2 * time.Minute)}
		}
		return nil
	}
	if d.private == 0 {
		return d.errAt(m.key("filter"), "network.filter", "the filter is the private nodes': add nodes.private (e.g. private: 30%%)")
	}
	fm, err := d.mapping(n, "network.filter", []string{"behavior", "binding_timeout"})
	if err != nil {
		return err
	}
	*out = FilterSpec{Behavior: FilterAddressPortDependent, BindingTimeout: Duration(2 * time.Minute)}
	if v := fm.val("behavior"); v != nil {
		if out.Behavior, err = d.str(v, "network.filter.behavior"); err != nil {
			return err
		}
		kinds := []string{FilterAddressPortDependent, FilterAddressDependent, FilterEndpointIndependent}
		if !slices.Contains(kinds, out.Behavior) {
			return d.errAt(v, "network.filter.behavior", "unknown filtering behaviour %q%s (want %s)",
				out.Behavior, suggest(out.Behavior, kinds), strings.Join(kinds, ", "))
		}
	}
	if v := fm.val("binding_timeout"); v != nil {
		if err := d.unit(v, "network.filter.binding_timeout", &out.BindingTimeout); err != nil {
			return err
		}
		if out.BindingTimeout <= 0 || out.BindingTimeout > Duration(24*time.Hour) {
			return d.errAt(v, "network.filter.binding_timeout", "must be positive and at most 24h, got %v", out.BindingTimeout)
		}
	}
	return nil
}

// resolvePath makes p absolute: relative to the scenario file's directory,
// or to the working directory if it came from a --set or a built-in.
func (d *decoder) resolvePath(n *yaml.Node, p string) string {
	if !filepath.IsAbs(p) {
		if _, fromSet := d.origin[n]; !fromSet && d.dir != "" {
			p = filepath.Join(d.dir, p)
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
	}
	return filepath.Clean(p)
}

// Protocol fields, from core.Config's yaml tags.

type protoKind int

const (
	protoInt protoKind = iota
	protoFloat
	protoBool
	protoDuration
	protoString
	protoUnsupported // a core.Config field type the loader does not know
)

type protoField struct {
	key   string
	index int
	kind  protoKind
}

// protocolFields lists core.Config's fields in order; computed once.
var protocolFields = func() []protoField {
	var out []protoField
	t := reflect.TypeFor[core.Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		var k protoKind
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			k = protoDuration
		case f.Type.Kind() == reflect.Int:
			k = protoInt
		case f.Type.Kind() == reflect.Float64:
			k = protoFloat
		case f.Type.Kind() == reflect.Bool:
			k = protoBool
		case f.Type.Kind() == reflect.String:
			k = protoString
		default:
			k = protoUnsupported // rejected when used; TestProtocolFields fails
		}
		out = append(out, protoField{key: key, index: i, kind: k})
	}
	return out
}()

// protocolKeys are the yaml tags of core.Config.
var protocolKeys = func() []string {
	keys := make([]string, len(protocolFields))
	for i, f := range protocolFields {
		keys[i] = f.key
	}
	return keys
}()

func (d *decoder) protocol(n *yaml.Node, top *mapping, cfg *core.Config) error {
	m, err := d.mapping(n, "protocol", protocolKeys)
	if err != nil {
		return err
	}
	v := reflect.ValueOf(cfg).Elem()
	for _, f := range protocolFields {
		n := m.val(f.key)
		if n == nil {
			continue
		}
		path := "protocol." + f.key
		fv := v.Field(f.index)
		switch f.kind {
		case protoInt:
			x, err := d.integer(n, path)
			if err != nil {
				return err
			}
			if x < math.MinInt || x > math.MaxInt {
				return d.errAt(n, path, "integer %d is out of range", x)
			}
			fv.SetInt(x)
		case protoFloat:
			x, err := d.float(n, path)
			if err != nil {
				return err
			}
			fv.SetFloat(x)
		case protoBool:
			x, err := d.boolean(n, path)
			if err != nil {
				return err
			}
			fv.SetBool(x)
		case protoDuration:
			var x Duration
			if err := d.unit(n, path, &x); err != nil {
				return err
			}
			fv.SetInt(int64(x))
		case protoString:
			x, err := d.str(n, path)
			if err != nil {
				return err
			}
			fv.SetString(x)
		default:
			return d.errAt(n, path, "the loader cannot decode this key's type (%v)", fv.Type())
		}
	}
	if err := cfg.Validate(); err != nil {
		// core's errors read "invalid configuration: KEY: message".
		msg := strings.TrimPrefix(err.Error(), core.ErrConfig.Error()+": ")
		key, rest, _ := strings.Cut(msg, ": ")
		at := m.val(key)
		if at == nil {
			at = m.at()
		}
		if at == nil {
			at = top.at()
		}
		e := d.errAt(at, "protocol."+key, "%s", rest)
		if !slices.Contains(protocolKeys, key) {
			e.Path, e.Msg = "protocol", msg
		}
		e.Err = err
		return e
	}
	return nil
}

// ---------------------------------------------------------------------------
// Timeline

// checkTime reports an error if t is not within [0, duration).
func (d *decoder) checkTime(n *yaml.Node, path string, t Duration) error {
	if t >= d.duration {
		return d.errAt(n, path, "%v is not before the end of the run %s", t, d.endNote())
	}
	return nil
}

func (d *decoder) sequence(n *yaml.Node, path, what string) ([]*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, d.errAt(n, path, "expected a list of %s (lines starting with -), got %s", what, describe(n))
	}
	return n.Content, nil
}

// repetition decodes the every and count keys of a timeline entry that
// starts at at: count >= 1 (default 1), every > 0 when count > 1, and the
// last repetition, at + (count-1)*every, before the end of the run.
func (d *decoder) repetition(m *mapping, path string, at Duration) (Duration, int, error) {
	every, err := d.optDuration(m, "every")
	if err != nil {
		return 0, 0, err
	}
	c := m.val("count")
	if c == nil {
		return every, 1, nil
	}
	v, err := d.integer(c, join(path, "count"))
	if err != nil {
		return 0, 0, err
	}
	switch {
	case v < 1:
		return 0, 0, d.errAt(c, join(path, "count"), "must be at least 1, got %d", v)
	case v > 1 && every == 0:
		return 0, 0, d.errAt(c, join(path, "count"), "%d repetitions need an interval: add every (e.g. every: 1s)", v)
	case v > math.MaxInt32:
		return 0, 0, d.errAt(c, join(path, "count"), "at most %d repetitions, got %d", math.MaxInt32, v)
	}
	// The last repetition, at + (count-1)*every, must come before the
	// end: (count-1)*every <= duration-1ns-at, without overflow.
	if steps := v - 1; steps > 0 && steps > int64(d.duration-1-at)/int64(every) {
		last := "far beyond"
		if steps <= math.MaxInt64/int64(every) {
			last = "at " + Duration(int64(at)+min(steps*int64(every), math.MaxInt64-int64(at))).String() + ","
		}
		return 0, 0, d.errAt(c, join(path, "count"), "the last of %d repetitions (%v + %d × %v) falls %s not before the end of the run %s",
			v, at, steps, every, last, d.endNote())
	}
	return every, int(v), nil
}

func (d *decoder) workloads(n *yaml.Node) ([]Workload, error) {
	items, err := d.sequence(n, "workload", "workload entries")
	if err != nil {
		return nil, err
	}
	var out []Workload
	for i, item := range items {
		path := fmt.Sprintf("workload[%d]", i)
		m, err := d.mapping(item, path, []string{"at", "every", "count", "ping", "publish", "lookups", "relay", "connect"})
		if err != nil {
			return nil, err
		}
		if item.Kind != yaml.MappingNode {
			return nil, d.errAt(item, path, "expected a mapping such as {at: 1s, ping: {}}, got %s", describe(item))
		}

		w := Workload{Count: 1}
		if w.At, err = d.optDuration(m, "at"); err != nil {
			return nil, err
		}
		if err := d.checkTime(m.val("at"), join(path, "at"), w.At); err != nil {
			return nil, err
		}
		if w.Every, w.Count, err = d.repetition(m, path, w.At); err != nil {
			return nil, err
		}
		_, hasPing := m.idx["ping"]
		_, hasPublish := m.idx["publish"]
		_, hasLookups := m.idx["lookups"]
		_, hasRelay := m.idx["relay"]
		_, hasConnect := m.idx["connect"]
		switch {
		case boolCount(hasPing, hasPublish, hasLookups, hasRelay, hasConnect) > 1:
			return nil, d.errAt(item, path, "one kind of work per entry: ping, publish, lookups, relay or connect")
		case hasConnect:
			if !d.nat {
				return nil, d.errAt(m.key("connect"), join(path, "connect"), "connect runs NAT traversal, which needs nodes.nat")
			}
			if w.Connect, err = d.connect(m.val("connect"), join(path, "connect")); err != nil {
				return nil, err
			}
			out = append(out, w)
			continue
		case hasRelay:
			if w.Relay, err = d.relayWork(m, path, w); err != nil {
				return nil, err
			}
			out = append(out, w)
			continue
		case hasLookups:
			if !d.hasBootstrap {
				return nil, d.errAt(m.key("lookups"), join(path, "lookups"), "lookups need the DHT, which needs nodes.bootstrap")
			}
			if w.Lookups, err = d.lookups(m.val("lookups"), join(path, "lookups")); err != nil {
				return nil, err
			}
			out = append(out, w)
			continue
		case hasPublish:
			if w.Publish, err = d.publish(m.val("publish"), join(path, "publish")); err != nil {
				return nil, err
			}
			out = append(out, w)
			continue
		case !hasPing:
			return nil, d.errAt(item, path, "missing the kind of work: add ping: {...}, publish: {...}, lookups: {...}, relay: {...} or connect: {...}")
		}
		pn := m.val("ping")
		pm, err := d.mapping(pn, join(path, "ping"), []string{"from", "target"})
		if err != nil {
			return nil, err
		}
		ping := &PingWork{From: AllNodes(), Target: TargetRandomPeer}
		if f := pm.val("from"); f != nil {
			if ping.From, err = d.nodeSet(f, join(path, "ping.from")); err != nil {
				return nil, err
			}
			if ping.From.Empty() {
				return nil, d.errAt(f, join(path, "ping.from"), "empty node set (omit from for all nodes)")
			}
		}
		if t := pm.val("target"); t != nil {
			if ping.Target, err = d.str(t, join(path, "ping.target")); err != nil {
				return nil, err
			}
			targets := []string{TargetRandomPeer, TargetBootstrap}
			if !slices.Contains(targets, ping.Target) {
				return nil, d.errAt(t, join(path, "ping.target"), "unknown target %q%s (want random-peer or bootstrap)",
					ping.Target, suggest(ping.Target, targets))
			}
			if ping.Target == TargetBootstrap && !d.hasBootstrap {
				return nil, d.errAt(t, join(path, "ping.target"), "target bootstrap needs nodes.bootstrap")
			}
		}
		w.Ping = ping
		out = append(out, w)
	}
	return out, nil
}

func (d *decoder) faults(n *yaml.Node) ([]Fault, error) {
	items, err := d.sequence(n, "faults", "faults")
	if err != nil {
		return nil, err
	}
	var out []Fault
	for i, item := range items {
		path := fmt.Sprintf("faults[%d]", i)
		m, err := d.mapping(item, path, []string{"at", "every", "count", "partition", "heal_after", "crash", "link", "skew"})
		if err != nil {
			return nil, err
		}
		if item.Kind != yaml.MappingNode {
			return nil, d.errAt(item, path, "expected a mapping such as {at: 10s, crash: {share: 5%%}}, got %s", describe(item))
		}
		if f, ok, err := d.chaosFault(m, path); ok || err != nil {
			if err != nil {
				return nil, err
			}
			out = append(out, f)
			continue
		}
		var f Fault
		if f.At, err = d.optDuration(m, "at"); err != nil {
			return nil, err
		}
		if err := d.checkTime(m.val("at"), join(path, "at"), f.At); err != nil {
			return nil, err
		}
		_, hasP := m.idx["partition"]
		_, hasC := m.idx["crash"]
		switch {
		case hasP && hasC:
			return nil, d.errAt(m.key("crash"), path, "one fault per entry: partition and crash need separate entries")
		case !hasP && !hasC:
			return nil, d.errAt(item, path, "missing the kind of fault: add partition: {...}, crash: {...}, link: {...} or skew: {...}")
		}
		if f.HealAfter, err = d.optDuration(m, "heal_after"); err != nil {
			return nil, err
		}
		if hasC && m.val("heal_after") != nil {
			return nil, d.errAt(m.key("heal_after"), join(path, "heal_after"), "only for partitions (a crash uses crash.restart_after)")
		}
		if hasP {
			if f.Partition, err = d.partition(m.node.Content[m.idx["partition"]+1], join(path, "partition")); err != nil {
				return nil, err
			}
		} else {
			if f.Crash, err = d.crash(m.node.Content[m.idx["crash"]+1], join(path, "crash")); err != nil {
				return nil, err
			}
		}
		if f.Every, f.Count, err = d.repetition(m, path, f.At); err != nil {
			return nil, err
		}
		if f.Count > 1 {
			// Repetitions must not overlap: each one ends (heals, or
			// restarts its nodes) before the next strikes.
			switch {
			case hasP && (f.HealAfter == 0 || f.HealAfter >= f.Every):
				return nil, d.errAt(m.key("count"), join(path, "heal_after"),
					"a repeated partition must heal before the next: need 0 < heal_after < every (%v), got %v", f.Every, f.HealAfter)
			case hasC && f.Crash.RestartAfter >= f.Every:
				return nil, d.errAt(m.key("count"), join(path, "crash.restart_after"),
					"a repeated crash must restart its nodes before the next: need restart_after < every (%v), got %v", f.Every, f.Crash.RestartAfter)
			}
		} else if v := m.val("every"); v != nil {
			return nil, d.errAt(v, join(path, "every"), "every needs count (the number of repetitions, at least 2)")
		}
		out = append(out, f)
	}
	return out, nil
}

func (d *decoder) partition(n *yaml.Node, path string) (*Partition, error) {
	m, err := d.mapping(n, path, []string{"groups", "oneway", "share"})
	if err != nil {
		return nil, err
	}
	g := m.val("groups")
	if g == nil {
		return nil, d.errAt(n, join(path, "groups"), "missing required field, e.g. groups: [[0-499], [500-999]]")
	}
	items, err := d.sequence(g, join(path, "groups"), "node sets")
	if err != nil {
		return nil, err
	}
	if len(items) < 2 {
		return nil, d.errAt(g, join(path, "groups"), "a partition needs at least 2 groups, got %d", len(items))
	}
	p := &Partition{}
	type span struct{ lo, hi, group int }
	var spans []span
	for k, it := range items {
		gp := fmt.Sprintf("%s.groups[%d]", path, k)
		ns, err := d.nodeSet(it, gp)
		if err != nil {
			return nil, err
		}
		if ns.Empty() {
			return nil, d.errAt(it, gp, "empty group")
		}
		for _, r := range ns.Spans(d.count) {
			spans = append(spans, span{r[0], r[1], k})
		}
		p.Groups = append(p.Groups, ns)
	}
	// Groups must be disjoint: sweep the spans by start, remembering the
	// furthest end seen and whose it is. A span starting at or before that
	// end overlaps it; if it is another group's, that is an error (the
	// first such overlap is always found: see the package tests).
	slices.SortStableFunc(spans, func(a, b span) int {
		if a.lo != b.lo {
			return a.lo - b.lo
		}
		return a.hi - b.hi
	})
	far := span{-1, -1, -1}
	for _, s := range spans {
		if s.lo <= far.hi && s.group != far.group {
			a, b := min(s.group, far.group), max(s.group, far.group)
			return nil, d.errAt(g, join(path, "groups"), "groups %d and %d overlap (both hold node %d); groups must be disjoint", a, b, s.lo)
		}
		if s.hi > far.hi {
			far = s
		}
	}
	return p, d.partitionChaos(m, path, p)
}

func (d *decoder) crash(n *yaml.Node, path string) (*Crash, error) {
	m, err := d.mapping(n, path, []string{"nodes", "share", "restart_after", "keep_state"})
	if err != nil {
		return nil, err
	}
	c := &Crash{}
	nodes, share := m.val("nodes"), m.val("share")
	switch {
	case nodes != nil && share != nil:
		return nil, d.errAt(m.key("share"), path, "give nodes or share, not both")
	case nodes == nil && share == nil:
		return nil, d.errAt(n, path, "missing which nodes crash: add nodes: [...] or share: 5%%")
	case nodes != nil:
		if c.Nodes, err = d.nodeSet(nodes, join(path, "nodes")); err != nil {
			return nil, err
		}
		if c.Nodes.Empty() {
			return nil, d.errAt(nodes, join(path, "nodes"), "empty node set")
		}
	default:
		if err := d.unit(share, join(path, "share"), &c.Share); err != nil {
			return nil, err
		}
		if c.Share <= 0 {
			return nil, d.errAt(share, join(path, "share"), "must be positive, got %v", c.Share)
		}
	}
	if c.RestartAfter, err = d.optDuration(m, "restart_after"); err != nil {
		return nil, err
	}
	if v := m.val("keep_state"); v != nil {
		if c.KeepState, err = d.boolean(v, join(path, "keep_state")); err != nil {
			return nil, err
		}
		if c.KeepState && c.RestartAfter == 0 {
			return nil, d.errAt(v, join(path, "keep_state"), "needs restart_after (nodes that never restart keep nothing)")
		}
	}
	return c, nil
}

func (d *decoder) outputs(top *mapping, key string) ([]string, error) {
	if _, ok := top.idx[key]; !ok || top.val(key) == nil {
		return slices.Clone(defaultOutputs), nil
	}
	items, err := d.sequence(top.val(key), key, "outputs")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", key, i)
		s, err := d.str(it, p)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(outputKinds, s) {
			return nil, d.errAt(it, p, "unknown output %q%s (want summary, trace, csv, plots or report)", s, suggest(s, outputKinds))
		}
		if seen[s] {
			return nil, d.errAt(it, p, "%s is listed twice", s)
		}
		seen[s] = true
	}
	out := []string{}
	for _, k := range outputKinds {
		if seen[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// publish decodes a publish workload: {from: random | NODESET, size: SIZE}.
func (d *decoder) publish(n *yaml.Node, path string) (*PublishWork, error) {
	m, err := d.mapping(n, path, []string{"from", "size"})
	if err != nil {
		return nil, err
	}
	p := &PublishWork{From: AllNodes(), Size: 512}
	if f := m.val("from"); f != nil {
		if !(f.Kind == yaml.ScalarNode && f.Value == "random") {
			if p.From, err = d.nodeSet(f, join(path, "from")); err != nil {
				return nil, err
			}
			if p.From.Empty() {
				return nil, d.errAt(f, join(path, "from"), "empty node set (omit from, or write random, for all nodes)")
			}
		}
	}
	if sz := m.val("size"); sz != nil {
		if err := d.unit(sz, join(path, "size"), &p.Size); err != nil {
			return nil, err
		}
		if p.Size < 1 || p.Size > MaxPublishSize {
			return nil, d.errAt(sz, join(path, "size"), "must be from 1B to %v, got %v", Size(MaxPublishSize), p.Size)
		}
	}
	return p, nil
}

// topology decodes the starting overlay: {model: random, degree: N}.
func (d *decoder) topology(n *yaml.Node, out *Topology) error {
	*out = Topology{Model: TopologyRandom, Degree: 8}
	if n == nil {
		return nil
	}
	m, err := d.mapping(n, "topology", []string{"model", "degree"})
	if err != nil {
		return err
	}
	if v := m.val("model"); v != nil {
		if out.Model, err = d.str(v, "topology.model"); err != nil {
			return err
		}
		if out.Model != TopologyRandom && out.Model != TopologyDHT {
			return d.errAt(v, "topology.model", "unknown model %q (want random or dht)", out.Model)
		}
		if out.Model == TopologyDHT && !d.hasBootstrap {
			return d.errAt(v, "topology.model", "model dht needs nodes.bootstrap (the nodes everyone joins through)")
		}
	}
	if v := m.val("degree"); v != nil {
		deg, err := d.integer(v, "topology.degree")
		if err != nil {
			return err
		}
		if deg < 1 || deg > 1000 {
			return d.errAt(v, "topology.degree", "must be from 1 to 1000, got %d", deg)
		}
		out.Degree = int(deg)
	}
	return nil
}

func boolCount(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// lookups decodes a lookups workload: {count: N, target: random-peer,
// from: NODESET, over: DURATION}.
func (d *decoder) lookups(n *yaml.Node, path string) (*LookupWork, error) {
	m, err := d.mapping(n, path, []string{"count", "target", "from", "over"})
	if err != nil {
		return nil, err
	}
	l := &LookupWork{Count: 1, Target: TargetRandomPeer, From: AllNodes()}
	if err := d.batchCount(m, path, &l.Count); err != nil {
		return nil, err
	}
	if t := m.val("target"); t != nil {
		if l.Target, err = d.str(t, join(path, "target")); err != nil {
			return nil, err
		}
		if l.Target != TargetRandomPeer {
			return nil, d.errAt(t, join(path, "target"), "unknown target %q (want random-peer)", l.Target)
		}
	}
	if f := m.val("from"); f != nil {
		if l.From, err = d.nodeSet(f, join(path, "from")); err != nil {
			return nil, err
		}
		if l.From.Empty() {
			return nil, d.errAt(f, join(path, "from"), "empty node set (omit from for all nodes)")
		}
	}
	if l.Over, err = d.optDuration(m, "over"); err != nil {
		return nil, err
	}
	return l, nil
}

// batchCount decodes the count of a batch workload (lookups, relay,
// connect) into dst, if given: 1 to 10,000,000.
func (d *decoder) batchCount(m *mapping, path string, dst *int) error {
	c := m.val("count")
	if c == nil {
		return nil
	}
	v, err := d.integer(c, join(path, "count"))
	if err != nil {
		return err
	}
	if v < 1 || v > 10_000_000 {
		return d.errAt(c, join(path, "count"), "must be from 1 to 10000000, got %d", v)
	}
	*dst = int(v)
	return nil
}

// connect decodes a connect workload: {count: N, from: NODESET, to:
// NODESET, over: DURATION}.
func (d *decoder) connect(n *yaml.Node, path string) (*ConnectWork, error) {
	m, err := d.mapping(n, path, []string{"count", "from", "to", "over"})
	if err != nil {
		return nil, err
	}
	c := &ConnectWork{Count: 1}
	if err := d.batchCount(m, path, &c.Count); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key string
		dst *NodeSet
	}{{"from", &c.From}, {"to", &c.To}} {
		if v := m.val(f.key); v != nil {
			if *f.dst, err = d.nodeSet(v, join(path, f.key)); err != nil {
				return nil, err
			}
			if f.dst.Empty() {
				return nil, d.errAt(v, join(path, f.key), "empty node set (omit %s for the clients)", f.key)
			}
		}
	}
	if c.Over, err = d.optDuration(m, "over"); err != nil {
		return nil, err
	}
	return c, nil
}

// relayWork decodes a relay workload: {count: N, from: NODESET, to:
// private | NODESET, hops: LO-HI, size: SIZE, over: DURATION}. It needs
// relays, and private nodes for to: private.
func (d *decoder) relayWork(entry *mapping, wpath string, w Workload) (*RelayWork, error) {
	path := join(wpath, "relay")
	n := entry.val("relay")
	if d.relays == 0 {
		return nil, d.errAt(entry.key("relay"), path, "relayed messages need relays: add nodes.relays (e.g. relays: 5%%)")
	}
	m, err := d.mapping(n, path, []string{"count", "from", "to", "hops", "size", "over"})
	if err != nil {
		return nil, err
	}
	rw := &RelayWork{Count: 1, From: AllNodes(), ToPrivate: true, MinHops: 1, MaxHops: d.maxHops, Size: 512}
	if err := d.batchCount(m, path, &rw.Count); err != nil {
		return nil, err
	}
	if f := m.val("from"); f != nil {
		if rw.From, err = d.nodeSet(f, join(path, "from")); err != nil {
			return nil, err
		}
		if rw.From.Empty() {
			return nil, d.errAt(f, join(path, "from"), "empty node set (omit from for all nodes)")
		}
	}
	to := m.val("to")
	switch {
	case to == nil || to.Kind == yaml.ScalarNode && to.Value == "private":
		if d.private == 0 {
			at := to
			if at == nil {
				at = entry.key("relay")
			}
			return nil, d.errAt(at, join(path, "to"), "to: private (the default) needs private nodes: add nodes.private (e.g. private: 30%%), or give to a node set")
		}
	default:
		if rw.To, err = d.nodeSet(to, join(path, "to")); err != nil {
			return nil, err
		}
		if rw.To.Empty() {
			return nil, d.errAt(to, join(path, "to"), "empty node set (omit to for the private nodes)")
		}
		rw.ToPrivate = false
	}
	if h := m.val("hops"); h != nil {
		if rw.MinHops, rw.MaxHops, err = d.hops(h, join(path, "hops")); err != nil {
			return nil, err
		}
	}
	if rw.MaxHops > d.relays {
		at := m.val("hops")
		if at == nil {
			at = entry.key("relay")
		}
		return nil, d.errAt(at, join(path, "hops"), "paths of %d relays need at least %d relays, there are %d (nodes.relays)",
			rw.MaxHops, rw.MaxHops, d.relays)
	}
	if sz := m.val("size"); sz != nil {
		if err := d.unit(sz, join(path, "size"), &rw.Size); err != nil {
			return nil, err
		}
		if rw.Size < 1 || rw.Size > MaxRelaySize {
			return nil, d.errAt(sz, join(path, "size"), "must be from 1B to %v, got %v", Size(MaxRelaySize), rw.Size)
		}
	}
	if rw.Over, err = d.optDuration(m, "over"); err != nil {
		return nil, err
	}
	// The last message: the last repetition's start plus over, before the
	// end (repetition has checked the start; no overflow below).
	last := w.At + Duration(int64(w.Count-1)*int64(w.Every))
	if rw.Over > 0 && rw.Over >= d.duration-last {
		return nil, d.errAt(m.val("over"), join(path, "over"), "the last message (%v + %v) would be sent after the end of the run %s",
			last, rw.Over, d.endNote())
	}
	return rw, nil
}

// hops decodes a hop range: "LO-HI" or a single number, within 1 and
// protocol.max_relay_hops.
func (d *decoder) hops(n *yaml.Node, path string) (lo, hi int, err error) {
	if err := d.scalar(n, path, "a hop count or range such as 1-3"); err != nil {
		return 0, 0, err
	}
	v := strings.TrimSpace(n.Value)
	a, b, isRange := strings.Cut(v, "-")
	x, err1 := strconv.Atoi(strings.TrimSpace(a))
	y, err2 := x, error(nil)
	if isRange {
		y, err2 = strconv.Atoi(strings.TrimSpace(b))
	}
	switch {
	case err1 != nil || err2 != nil || a == "":
		return 0, 0, d.errAt(n, path, "expected a hop count or range such as 1-3, got %s", describe(n))
	case x < 1 || x > y:
		return 0, 0, d.errAt(n, path, "want 1 <= lo <= hi, got %s", v)
	case y > d.maxHops:
		return 0, 0, d.errAt(n, path, "at most protocol.max_relay_hops (%d) relays, got %s", d.maxHops, v)
	}
	return x, y, nil
}

package reports

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ConnectionsSection summarises the connection managers of a run: how many
// sessions nodes held over time, why sessions opened, closed, were pruned
// or refused, and whether the final connection graph holds together.
// Counts over time are of connected sessions (not dials) at live nodes.
type ConnectionsSection struct {
	// MaxConnections and Target are the configured cap and target.
	MaxConnections int `json:"max_connections"`
	Target         int `json:"target_connections"`
	// PerNode is the number of connected sessions per live node at the
	// end of the run.
	PerNode Percentiles `json:"per_node"`
	// OverTime samples every second, across live nodes, the mean, min and
	// max number of connected sessions (also in connections_over_time.csv).
	OverTime []ConnSample `json:"over_time,omitempty"`
	// MaxEver is the most connected sessions any node held at any moment
	// of the run: the largest count a session opening reached (every
	// increase of a node's count is an opening), so it includes the
	// moments right before and after every trim. It never exceeds
	// MaxConnections, which the manager enforces as a hard cap.
	MaxEver int `json:"max_ever"`
	// Opens counts sessions established, by direction (inbound,
	// outbound), at either end: one session is two openings.
	Opens map[string]uint64 `json:"opens,omitempty"`
	// Closes counts established sessions that ended, by reason (pruned,
	// unhealthy, closed-by-peer, reset, replaced, shutdown...), at
	// either end.
	Closes map[string]uint64 `json:"closes,omitempty"`
	// DialFailures counts dials that never became sessions, by reason
	// (timeout, rejected...).
	DialFailures map[string]uint64 `json:"dial_failures,omitempty"`
	// Prunes counts sessions chosen by trims, by reason (make-room,
	// high-water).
	Prunes map[string]uint64 `json:"prunes,omitempty"`
	// Rejects counts inbound CONNECTs refused, by reason (full, ...).
	Rejects map[string]uint64 `json:"rejects,omitempty"`
	// Reconnects counts redials of protected peers (bootstrap, ...);
	// Reopened counts sessions a node opened with a peer it had held a
	// session with before (by redial, candidate or the peer's dial).
	Reconnects uint64 `json:"reconnects"`
	Reopened   uint64 `json:"reopened"`
	// HalfOpen counts, at the end, sessions a live node holds with a live
	// peer that does not hold it (frames in flight, or a lost CLOSE not
	// yet detected by a probe). They do not count as links below.
	HalfOpen int `json:"half_open"`
	// Components is the number of connected components of the final
	// connection graph over live nodes (a link is a session both ends
	// hold); PairsWithoutPath is the share of pairs of live nodes in
	// different components: pairs with no path of sessions between them.
	Components       int     `json:"components"`
	LargestComponent int     `json:"largest_component"`
	PairsWithoutPath float64 `json:"pairs_without_path"`
}

// ConnSample is the number of connected sessions across live nodes at one
// moment.
type ConnSample struct {
	TimeS float64 `json:"t_s"`
	Mean  float64 `json:"mean"`
	Min   int     `json:"min"`
	Max   int     `json:"max"`
}

// Line is the section's one-line form for a run's console summary.
func (c *ConnectionsSection) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "conns    per node mean %.1f min %d max %d  max ever %d (cap %d, target %d)  opens %d  closes %d",
		c.PerNode.Mean, int(c.PerNode.Min), int(c.PerNode.Max), c.MaxEver, c.MaxConnections, c.Target,
		sumCounts(c.Opens), sumCounts(c.Closes))
	for _, m := range []struct {
		name string
		v    map[string]uint64
	}{{"prunes", c.Prunes}, {"rejects", c.Rejects}, {"dial failures", c.DialFailures}} {
		if len(m.v) > 0 {
			fmt.Fprintf(&b, "  %s %d", m.name, sumCounts(m.v))
		}
	}
	fmt.Fprintf(&b, "  reconnects %d  reopened %d  pairs without path %.4f", c.Reconnects, c.Reopened, c.PairsWithoutPath)
	return b.String()
}

func sumCounts(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// PairsWithoutPath takes the sizes of a graph's connected components and
// returns their number, the size of the largest, and the share of node
// pairs in different components, rounded up to six decimals (0 with fewer
// than two nodes).
func PairsWithoutPath(sizes []int) (components, largest int, share float64) {
	total, same := 0, 0.0
	for _, s := range sizes {
		if s <= 0 {
			continue
		}
		components++
		largest = max(largest, s)
		total += s
		same += float64(s) * float64(s-1)
	}
	if total < 2 {
		return components, largest, 0
	}
	pairs := float64(total) * float64(total-1)
	// Six decimals, rounded up: a share of 1e-7 must not print as 0.
	return components, largest, ceil6((pairs - same) / pairs)
}

func ceil6(x float64) float64 { return math.Ceil(x*1e6) / 1e6 }

// connHeader is the header of connections_over_time.csv.
var connHeader = []string{"t_s", "mean", "min", "max"}

// ConnectionsCSV is the file the connection counts over time are written
// to, in a run's output folder.
const ConnectionsCSV = "connections_over_time.csv"

// WriteConnectionsCSV writes samples to dir/connections_over_time.csv
// (t_s, mean, min, max).
func WriteConnectionsCSV(dir string, samples []ConnSample) error {
	rows := make([][]string, len(samples))
	for i, s := range samples {
		rows[i] = []string{formatFloat3(s.TimeS), formatFloat3(s.Mean), strconv.Itoa(s.Min), strconv.Itoa(s.Max)}
	}
	return WriteCSV(dir, ConnectionsCSV, connHeader, rows)
}

// ReadConnectionsCSV reads a table WriteConnectionsCSV wrote. Errors name
// the file and line.
func ReadConnectionsCSV(path string) ([]ConnSample, error) {
	var out []ConnSample
	err := readFloatCSV(path, connHeader, func(line int, v []float64) error {
		if v[2] != float64(int(v[2])) || v[3] != float64(int(v[3])) || v[2] > v[3] {
			return fmt.Errorf("%s:%d: min %g and max %g must be whole numbers, min <= max: %w", path, line, v[2], v[3], ErrBadCSV)
		}
		out = append(out, ConnSample{TimeS: v[0], Mean: v[1], Min: int(v[2]), Max: int(v[3])})
		return nil
	})
	if err == nil && !slices.IsSortedFunc(out, func(a, b ConnSample) int {
		switch {
		case a.TimeS < b.TimeS:
			return -1
		case a.TimeS > b.TimeS:
			return 1
		}
		return 0
	}) {
		err = fmt.Errorf("%s: times are not in order: %w", path, ErrBadCSV)
	}
	return out, err
}

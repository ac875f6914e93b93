package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// LatencyModel gives the base one-way propagation delay between two nodes,
// named by their index in the simulation. It is the fixed part of a packet's
// trip; [Network] adds serialization, queueing and jitter on top.
//
// Implementations in this package are immutable after construction and safe
// for concurrent use by readers; OneWay is a pure function of its arguments.
type LatencyModel interface {
	// OneWay returns the one-way delay from node from to node to.
	OneWay(from, to int) time.Duration
	// Name returns the model's name as a scenario spells it:
	// "constant", "matrix" or "regions".
	Name() string
}

// ErrLatencyMatrix is wrapped by every error LoadLatencyMatrix returns for
// malformed input.
var ErrLatencyMatrix = errors.New("sim: bad latency matrix")

// constantLatency is the same one-way delay between every pair of nodes.
type constantLatency time.Duration

// NewConstantLatency returns a model in which every one-way delay is d,
// including between a node and itself.
func NewConstantLatency(d time.Duration) LatencyModel { return constantLatency(d) }

// OneWay implements LatencyModel.
func (c constantLatency) OneWay(from, to int) time.Duration { return time.Duration(c) }

// Name implements LatencyModel.
func (c constantLatency) Name() string { return "constant" }

// Matrix is a latency model read from a square table of one-way delays
// between S sites. Node i sits at site i % S, so a matrix of any size serves
// any number of nodes; two nodes at the same site see the diagonal entry.
//
// A Matrix is immutable after LoadLatencyMatrix returns and safe for
// concurrent use.
type Matrix struct {
	sites  int
	labels []string        // nil when the file had no header
	delay  []time.Duration // row-major, sites*sites
}

// maxMatrixMillis bounds a matrix entry so that it converts to a
// time.Duration without overflow: one day is far beyond any real path.
const maxMatrixMillis = 24 * 60 * 60 * 1000

// LoadLatencyMatrix reads a matrix of one-way delays from r; name is the
// file name used in error messages.
//
// The format is CSV. Values are decimal milliseconds (>= 0). The first row
// is a header of site labels if its first cell is not a number; the header
// has one label per site, optionally preceded by a corner cell that is
// empty or "from\to". With a header, every data row starts with its site's
// label, which must match the header's label in the same position. Without a
// header every cell is a value. The matrix must be square: S rows of S
// values. Blank lines and lines starting with '#' are skipped; spaces around
// cells are ignored.
//
// Errors wrap ErrLatencyMatrix and name the file and line, for example
// `latency.csv:4: column 3: bad number "x"`.
func LoadLatencyMatrix(r io.Reader, name string) (*Matrix, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below, with better messages
	cr.Comment = '#'
	cr.TrimLeadingSpace = true

	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrLatencyMatrix, name, line, fmt.Sprintf(format, args...))
	}

	var (
		m        Matrix
		started  bool // the first row has been seen and fixed the layout
		header   bool
		rows     int
		lastLine int
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// pe.Column counts bytes, not cells: use the file:line:col form.
				return nil, fmt.Errorf("%w: %s:%d:%d: %v", ErrLatencyMatrix, name, pe.Line, pe.Column, pe.Err)
			}
			return nil, fmt.Errorf("%w: %s: %w", ErrLatencyMatrix, name, err)
		}
		line, _ := cr.FieldPos(0)
		lastLine = line
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}

		if !started {
			// The first row decides the layout.
			started = true
			if _, err := strconv.ParseFloat(rec[0], 64); err != nil {
				header = true
				labels := rec
				if rec[0] == "" || strings.EqualFold(rec[0], `from\to`) {
					labels = rec[1:]
				}
				if len(labels) == 0 {
					return nil, fail(line, "header has no site labels")
				}
				for i, l := range labels {
					if l == "" {
						return nil, fail(line, "column %d: empty site label", len(rec)-len(labels)+i+1)
					}
				}
				m.labels = append([]string(nil), labels...)
				m.sites = len(labels)
				continue
			}
			m.sites = len(rec)
		}

		first := 0 // index of the first value cell
		if header {
			first = 1
		}
		if rows == m.sites {
			return nil, fail(line, "extra row: the matrix must be square, %d by %d", m.sites, m.sites)
		}
		if got := len(rec) - first; got != m.sites {
			return nil, fail(line, "%d values, want %d: the matrix must be square", got, m.sites)
		}
		if header && rec[0] != m.labels[rows] {
			return nil, fail(line, "column 1: row label %q, want %q (rows must follow the header's order)", rec[0], m.labels[rows])
		}
		for i := first; i < len(rec); i++ {
			v, err := strconv.ParseFloat(rec[i], 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fail(line, "column %d: bad number %q", i+1, rec[i])
			}
			if v < 0 {
				return nil, fail(line, "column %d: negative delay %q", i+1, rec[i])
			}
			if v > maxMatrixMillis {
				return nil, fail(line, "column %d: delay %q ms is out of range (max %d)", i+1, rec[i], maxMatrixMillis)
			}
			m.delay = append(m.delay, time.Duration(math.Round(v*float64(time.Millisecond))))
		}
		rows++
	}
	if rows == 0 {
		return nil, fail(lastLine+1, "no data rows: the matrix is empty")
	}
	if rows != m.sites {
		return nil, fail(lastLine+1, "%d rows of %d values: the matrix must be square", rows, m.sites)
	}
	return &m, nil
}

// Sites returns the number of sites S; node i sits at site i % S.
func (m *Matrix) Sites() int { return m.sites }

// Labels returns a copy of the site labels from the header, or nil if the
// file had none.
func (m *Matrix) Labels() []string { return append([]string(nil), m.labels...) }

// OneWay implements LatencyModel: the entry in row from%S, column to%S.
func (m *Matrix) OneWay(from, to int) time.Duration {
	return m.delay[(from%m.sites)*m.sites+to%m.sites]
}

// Name implements LatencyModel.
func (m *Matrix) Name() string { return "matrix" }

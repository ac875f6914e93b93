package sim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLatencyConstant(t *testing.T) {
	m := NewConstantLatency(42 * time.Millisecond)
	if m.Name() != "constant" {
		t.Errorf("Name() = %q, want constant", m.Name())
	}
	for _, p := range [][2]int{{0, 1}, {1, 0}, {5, 5}, {999, 3}} {
		if got := m.OneWay(p[0], p[1]); got != 42*time.Millisecond {
			t.Errorf("OneWay(%d, %d) = %v, want 42ms", p[0], p[1], got)
		}
	}
}

// latMatrixNoHeader is a 3-site matrix without labels; it is deliberately
// asymmetric so that a transposed read would be caught.
const latMatrixNoHeader = `1, 10, 20
11, 2, 30.5
21, 31, 0.25
`

const latMatrixHeader = `from\to,paris,milan,tokyo
# comment lines and blank lines are skipped

paris,1,10,20
milan,11,2,30.5
tokyo,21,31,0.25
`

// latMatrixHeaderNoCorner has labels in the header but no corner cell.
const latMatrixHeaderNoCorner = `paris,milan,tokyo
paris,1,10,20
milan,11,2,30.5
tokyo,21,31,0.25
`

func TestMatrixLoad(t *testing.T) {
	want := [3][3]time.Duration{
		{1 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond},
		{11 * time.Millisecond, 2 * time.Millisecond, 30500 * time.Microsecond},
		{21 * time.Millisecond, 31 * time.Millisecond, 250 * time.Microsecond},
	}
	for _, tc := range []struct {
		name, text string
		labels     []string
	}{
		{"no header", latMatrixNoHeader, nil},
		{"header", latMatrixHeader, []string{"paris", "milan", "tokyo"}},
		{"header without corner", latMatrixHeaderNoCorner, []string{"paris", "milan", "tokyo"}},
		{"empty corner", ",paris,milan,tokyo\n" + latMatrixHeaderNoCorner[len("paris,milan,tokyo\n"):], []string{"paris", "milan", "tokyo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := LoadLatencyMatrix(strings.NewReader(tc.text), "lat.csv")
			if err != nil {
				t.Fatal(err)
			}
			if m.Sites() != 3 {
				t.Fatalf("Sites() = %d, want 3", m.Sites())
			}
			if m.Name() != "matrix" {
				t.Errorf("Name() = %q", m.Name())
			}
			if got := m.Labels(); strings.Join(got, ",") != strings.Join(tc.labels, ",") || (got == nil) != (tc.labels == nil) {
				t.Errorf("Labels() = %q, want %q", got, tc.labels)
			}
			// Node i sits at site i % 3; check 7 nodes both ways.
			for a := range 7 {
				for b := range 7 {
					if got, w := m.OneWay(a, b), want[a%3][b%3]; got != w {
						t.Errorf("OneWay(%d, %d) = %v, want %v (sites %d->%d)", a, b, got, w, a%3, b%3)
					}
				}
			}
		})
	}
}

func TestMatrixErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "lat.csv:1: no data rows"},
		{"only comments", "# nothing\n", "lat.csv:1: no data rows"},
		{"header only", ",a,b\n", "lat.csv:2: no data rows"},
		{"bad number", "1,2,3\n4,5,6\n7,x,9\n", `lat.csv:3: column 2: bad number "x"`},
		{"bad number with header", ",a,b\na,0,1\nb,1,zz\n", `lat.csv:3: column 3: bad number "zz"`},
		{"NaN", "1,NaN\n1,1\n", `lat.csv:1: column 2: bad number "NaN"`},
		{"negative", "1,2\n-3,4\n", `lat.csv:2: column 1: negative delay "-3"`},
		{"short row", "1,2,3\n4,5\n7,8,9\n", "lat.csv:2: 2 values, want 3"},
		{"long row", "1,2\n3,4,5\n", "lat.csv:2: 3 values, want 2"},
		{"too few rows", "1,2,3\n4,5,6\n", "lat.csv:3: 2 rows of 3 values: the matrix must be square"},
		{"too many rows", "1,2\n3,4\n5,6\n", "lat.csv:3: extra row"},
		{"header rows missing", ",a,b,c\na,1,2,3\nb,1,2,3\n", "lat.csv:4: 2 rows of 3 values"},
		{"label mismatch", ",a,b\nb,0,1\na,1,0\n", `lat.csv:2: column 1: row label "b", want "a"`},
		{"empty label", ",a,,c\n", "lat.csv:1: column 3: empty site label"},
		{"huge", "1e300\n", "lat.csv:1: column 1: delay \"1e300\" ms is out of range"},
		{"csv quote", "1,\"2\n", "lat.csv:1:6: extraneous"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := LoadLatencyMatrix(strings.NewReader(tc.text), "lat.csv")
			if err == nil {
				t.Fatalf("no error; got a %d-site matrix", m.Sites())
			}
			if !errors.Is(err, ErrLatencyMatrix) {
				t.Errorf("error %v does not wrap ErrLatencyMatrix", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\n  does not contain %q", err, tc.want)
			}
		})
	}
}

func TestMatrixSingleSite(t *testing.T) {
	m, err := LoadLatencyMatrix(strings.NewReader("3.5\n"), "one.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.OneWay(17, 4); got != 3500*time.Microsecond {
		t.Errorf("OneWay = %v, want 3.5ms", got)
	}
}

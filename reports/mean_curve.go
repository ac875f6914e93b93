package reports

import (
	"fmt"
	"slices"
)

// MeanCurve averages propagation curves point by point (say, the curves of
// one parameter group's runs, one per seed): at each time, each series of
// the result is the mean of the curves' series. Curves are step functions
// of time: before its first point a curve counts as 0 (nothing reached
// yet), after its last point it keeps its last value (its plateau; a
// curve's grid runs past its last delivery). The result's grid is the
// longest curve's grid when every other grid is a prefix of it, as for
// curves written on the same step; else the union of all grid times,
// thinned to at most 100,000 points. Messages is the sum of the curves'.
//
// No curves is ErrNoData; a curve that cannot be drawn is an error naming
// its index.
func MeanCurve(curves []Curve) (Curve, error) {
	if len(curves) == 0 {
		return Curve{}, fmt.Errorf("mean curve: %w: no curves", ErrNoData)
	}
	longest := 0
	for i, c := range curves {
		if err := c.check(); err != nil {
			return Curve{}, fmt.Errorf("mean curve: curve %d: %w", i, err)
		}
		if c.Len() > curves[longest].Len() {
			longest = i
		}
	}
	grid := curves[longest].TimeMs
	for _, c := range curves {
		if !slices.Equal(c.TimeMs, grid[:c.Len()]) {
			grid = unionGrid(curves)
			break
		}
	}
	out := Curve{
		TimeMs: slices.Clone(grid),
		P5:     make([]float64, len(grid)),
		P50:    make([]float64, len(grid)),
		P95:    make([]float64, len(grid)),
	}
	n := float64(len(curves))
	for _, c := range curves {
		out.Messages += c.Messages
		k := -1 // the last point of c at or before grid time t
		for i, t := range grid {
			for k+1 < c.Len() && c.TimeMs[k+1] <= t {
				k++
			}
			if k < 0 {
				continue
			}
			out.P5[i] += c.P5[k] / n
			out.P50[i] += c.P50[k] / n
			out.P95[i] += c.P95[k] / n
		}
	}
	return out, nil
}

// unionGrid returns every grid time of the curves, sorted and distinct,
// thinned evenly (keeping the last) to at most maxGridPoints.
func unionGrid(curves []Curve) []float64 {
	var ts []float64
	for _, c := range curves {
		ts = append(ts, c.TimeMs...)
	}
	slices.Sort(ts)
	ts = slices.Compact(ts)
	if len(ts) <= maxGridPoints {
		return ts
	}
	out := make([]float64, 0, maxGridPoints)
	for i := range maxGridPoints - 1 {
		out = append(out, ts[i*(len(ts)-1)/(maxGridPoints-1)])
	}
	return append(out, ts[len(ts)-1])
}

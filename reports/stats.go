package reports

import (
	"math"
	"slices"
)

// Percentiles summarises a sample. Values are rounded to microsecond-ish
// precision (3 decimals) so summaries stay readable and byte-stable.
type Percentiles struct {
	N    int     `json:"n"`
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// Summarize computes percentiles of xs (nearest-rank on the sorted sample).
// It sorts xs in place.
func Summarize(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	slices.Sort(xs)
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return Percentiles{
		N:    len(xs),
		Min:  Round3(xs[0]),
		Mean: Round3(sum / float64(len(xs))),
		P50:  Round3(Quantile(xs, 0.50)),
		P90:  Round3(Quantile(xs, 0.90)),
		P95:  Round3(Quantile(xs, 0.95)),
		P99:  Round3(Quantile(xs, 0.99)),
		Max:  Round3(xs[len(xs)-1]),
	}
}

// Quantile returns the nearest-rank q-quantile of a sorted sample: the
// smallest value such that at least q of the sample is at or below it.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Round3 rounds to 3 decimal places.
func Round3(x float64) float64 { return math.Round(x*1000) / 1000 }

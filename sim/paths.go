package sim

import (
	"math"
	"time"
)

// Metric is implemented by latency models whose delays obey the triangle
// inequality, so that the direct one-way delay between two nodes is also the
// shortest path through any other nodes.
type Metric interface {
	// IsMetric reports whether OneWay(a, c) <= OneWay(a, b) + OneWay(b, c)
	// holds for all nodes.
	IsMetric() bool
}

// IsMetric implements Metric: a constant delay d satisfies d <= 2d.
func (c constantLatency) IsMetric() bool { return c >= 0 }

// IsMetric implements Metric. One-way delay is stretch x great-circle
// distance / speed + access(a) + access(b) (+ the metro constant); a detour
// through c adds 2 x access(c) and, by the triangle inequality of
// great-circle distance, no less distance, so the direct path is shortest.
func (m *RegionModel) IsMetric() bool { return true }

// ShortestFrom returns, for every node, the smallest total one-way delay
// from src through any sequence of nodes under the latency model: the
// physical limit on how fast anything sent by src can reach each node. For
// metric models it is the direct delay (O(n)); otherwise Dijkstra over the
// complete graph (O(n^2)).
func ShortestFrom(m LatencyModel, n, src int) []time.Duration {
	dist := make([]time.Duration, n)
	if mt, ok := m.(Metric); ok && mt.IsMetric() {
		for i := range dist {
			if i != src {
				dist[i] = m.OneWay(src, i)
			}
		}
		return dist
	}
	done := make([]bool, n)
	for i := range dist {
		dist[i] = math.MaxInt64
	}
	dist[src] = 0
	for range n {
		u, best := -1, time.Duration(math.MaxInt64)
		for i, d := range dist {
			if !done[i] && d < best {
				u, best = i, d
			}
		}
		if u < 0 {
			break
		}
		done[u] = true
		for v := range dist {
			if !done[v] {
				if d := best + m.OneWay(u, v); d < dist[v] {
					dist[v] = d
				}
			}
		}
	}
	return dist
}

package sim

import "slices"

// RandomGraph returns an undirected random overlay on n nodes: node i draws
// degree distinct others from its own stream (seed, i, "topology"), and every
// link is made symmetric, so each node ends with at least min(degree, n-1)
// neighbours. The adjacency lists are sorted. Node i's draws depend only on
// the seed, i and n.
func RandomGraph(seed uint64, n, degree int) [][]int32 {
	adj := make([][]int32, n)
	if n < 2 {
		return adj
	}
	degree = min(degree, n-1)
	seen := make(map[int64]bool, n*degree)
	link := func(a, b int) {
		key := int64(min(a, b))*int64(n) + int64(max(a, b))
		if seen[key] {
			return
		}
		seen[key] = true
		adj[a] = append(adj[a], int32(b))
		adj[b] = append(adj[b], int32(a))
	}
	for i := range n {
		rng := StreamRand(seed, i, "topology")
		picked := 0
		// Draw distinct others; duplicates of existing links still count as
		// one of this node's draws, which keeps degrees near 2 x degree.
		chosen := make(map[int]bool, degree)
		for picked < degree {
			j := rng.IntN(n - 1)
			if j >= i {
				j++
			}
			if chosen[j] {
				continue
			}
			chosen[j] = true
			picked++
			link(i, j)
		}
	}
	for i := range adj {
		slices.Sort(adj[i])
	}
	return adj
}

package sim

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRandomGraph(t *testing.T) {
	g := RandomGraph(7, 500, 8)
	for i, nb := range g {
		if len(nb) < 8 {
			t.Fatalf("node %d has %d neighbours", i, len(nb))
		}
		if !slices.IsSorted(nb) {
			t.Fatalf("node %d: unsorted", i)
		}
		for k, j := range nb {
			if int(j) == i || (k > 0 && nb[k-1] == j) {
				t.Fatalf("node %d: self link or duplicate %d", i, j)
			}
			if _, ok := slices.BinarySearch(g[j], int32(i)); !ok {
				t.Fatalf("link %d-%d not symmetric", i, j)
			}
		}
	}
	// Connected (BFS from 0).
	seen := make([]bool, len(g))
	queue := []int32{0}
	seen[0] = true
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, v := range g[u] {
			if !seen[v] {
				seen[v] = true
				queue = append(queue, v)
			}
		}
	}
	if slices.Contains(seen, false) {
		t.Fatal("random 8-graph on 500 nodes not connected")
	}
	if !slices.EqualFunc(g, RandomGraph(7, 500, 8), slices.Equal) {
		t.Fatal("not deterministic")
	}
	if slices.EqualFunc(g, RandomGraph(8, 500, 8), slices.Equal) {
		t.Fatal("seed ignored")
	}
	small := RandomGraph(1, 3, 8)
	if len(small[0]) != 2 {
		t.Fatalf("3 nodes, degree 8: %v", small)
	}
}

func TestShortestFrom(t *testing.T) {
	// A matrix violating the triangle inequality: 0->2 direct is 100 ms,
	// via 1 it is 10+10.
	m, err := LoadLatencyMatrix(strings.NewReader("0,10,100\n10,0,10\n100,10,0\n"), "tri.csv")
	if err != nil {
		t.Fatal(err)
	}
	d := ShortestFrom(m, 3, 0)
	if d[0] != 0 || d[1] != 10*time.Millisecond || d[2] != 20*time.Millisecond {
		t.Fatalf("dijkstra: %v", d)
	}
	c := ShortestFrom(NewConstantLatency(30*time.Millisecond), 4, 2)
	if c[2] != 0 || c[0] != 30*time.Millisecond {
		t.Fatalf("constant: %v", c)
	}
}

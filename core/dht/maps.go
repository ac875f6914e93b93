package dht

// A Go map keeps the room of its largest size. The DHT's maps of work under
// way (requests in flight, admissions, probes, lookups) are large only in a
// burst (bootstrap) and empty most of the time after, so an idle node lets
// go of them: put makes a map when needed, and drop sets it to nil once it
// is empty after having held more than smallMap entries (below that, a map
// is one group of slots, and dropping it would only cost a new one at the
// next request; Stop only clears them). Neither iterates, so no map order
// can reach an outcome.

// smallMap is the size up to which a Go map holds one group of slots.
const smallMap = 8

// mapPeaks holds the largest size of each of the DHT's maps of work under
// way since the map was made.
type mapPeaks struct {
	pending, admitting, probing, lookups int
}

// put sets (*m)[k] = v, making the map if it is nil, and records its peak.
func put[K comparable, V any](m *map[K]V, peak *int, k K, v V) {
	if *m == nil {
		*m = make(map[K]V)
	}
	(*m)[k] = v
	*peak = max(*peak, len(*m))
}

// drop deletes k from *m; an emptied map that grew past smallMap entries
// becomes nil.
func drop[K comparable, V any](m *map[K]V, peak *int, k K) {
	delete(*m, k)
	if len(*m) == 0 && *peak > smallMap {
		*m, *peak = nil, 0
	}
}

package gossip

// Bodies interns message payloads by ID for the nodes of one process. A
// message's ID commits to its payload (accept recomputes it before anything
// is stored), so every node that accepts ID x holds the same bytes and one
// copy can serve them all: a simulation of 100,000 nodes then keeps each
// payload once instead of once per node. Payloads held here are never
// modified. A component that is discarded without stopping (a crash that
// loses state) keeps its references, so those bodies stay until the store
// itself goes.
//
// Concurrency: not safe for concurrent use; share a store only among nodes
// driven by one goroutine (the simulator's).
type Bodies struct {
	m map[ID]*body
}

type body struct {
	b    []byte
	refs int
}

// NewBodies returns an empty store.
func NewBodies() *Bodies { return &Bodies{m: make(map[ID]*body)} }

// Len returns the number of distinct payloads held.
func (s *Bodies) Len() int { return len(s.m) }

// intern returns the shared copy of id's payload, storing a copy of p on
// first use.
func (s *Bodies) intern(id ID, p []byte) []byte {
	if b, ok := s.m[id]; ok {
		b.refs++
		return b.b
	}
	b := &body{b: append([]byte(nil), p...), refs: 1}
	s.m[id] = b
	return b.b
}

// release drops one reference to id's payload.
func (s *Bodies) release(id ID) {
	if b, ok := s.m[id]; ok {
		if b.refs--; b.refs <= 0 {
			delete(s.m, id)
		}
	}
}

package gossip

import (
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Bodies interns accepted messages by ID for the nodes of one process: the
// immutable part of each (ID, sender, sequence number, timestamp,
// signature and payload, a record) is kept once and shared by every node
// that holds the message, each node keeping only its own few mutable bytes
// (TTL, hops, arrival time, holders) beside it. A message's ID commits to
// sender, sequence number, timestamp and payload (accept recomputes it
// before anything is stored), so every node that accepts ID x holds the
// same content; the signature is not part of the ID, so a copy that
// carries another valid signature than the shared record gets a record of
// its own and forwards its own signature, as it would without the store.
// A simulation of 100,000 nodes then keeps each message once instead of
// once per node. Records held here are never modified. A component that is
// discarded without stopping (a crash that loses state) keeps its
// references, so those records stay until the store itself goes.
//
// Concurrency: not safe for concurrent use; share a store only among nodes
// driven by one goroutine (the simulator's).
type Bodies struct {
	m map[ID]*record
}

// record is the immutable part of an accepted message. It is shared
// through Bodies (refs counts the histories holding it) or private to one
// node (refs 0).
type record struct {
	id      ID
	sender  [wire.GossipKeyLen]byte // Ed25519 public key
	seq     uint64
	time    int64 // Unix nanoseconds
	sig     [wire.GossipSigLen]byte
	payload []byte
	refs    int
}

// newRecord returns a private record of m with a copy of its payload.
func newRecord(m *wire.Gossip) *record {
	return &record{
		id: ID(m.ID), sender: m.Sender, seq: m.Seq, time: m.Time, sig: m.Sig,
		payload: append([]byte(nil), m.Payload...),
	}
}

// origin returns the message's original sender.
func (r *record) origin() identity.PeerID { return identity.PeerIDFromPublicKey(r.sender[:]) }

// NewBodies returns an empty store.
func NewBodies() *Bodies { return &Bodies{m: make(map[ID]*record)} }

// Len returns the number of distinct messages held.
func (s *Bodies) Len() int { return len(s.m) }

// intern returns the shared record of m (its ID checked against its
// content), storing a copy on first use. A copy signed otherwise than the
// shared record gets a private record.
func (s *Bodies) intern(m *wire.Gossip) *record {
	if r, ok := s.m[ID(m.ID)]; ok {
		if r.sig != m.Sig {
			return newRecord(m)
		}
		r.refs++
		return r
	}
	r := newRecord(m)
	r.refs = 1
	s.m[r.id] = r
	return r
}

// release drops one reference to r; a private record is left to the GC.
func (s *Bodies) release(r *record) {
	if r.refs == 0 {
		return
	}
	if r.refs--; r.refs == 0 && s.m[r.id] == r {
		delete(s.m, r.id)
	}
}

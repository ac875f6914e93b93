package gossip

import (
	"testing"

	"github.com/dchat/network/core/wire"
)

// TestBodiesRecords checks the store's sharing rules against what each
// node would hold alone: copies with the same ID and signature share one
// record (and its payload), a copy with another signature gets a record of
// its own carrying that signature, and the shared record stays until its
// last holder releases it, whatever private records come and go.
func TestBodiesRecords(t *testing.T) {
	s := NewBodies()
	m := wire.Gossip{ID: idOf(1), Seq: 7, Time: 42, Payload: []byte("hello")}
	m.Sig[0] = 1
	other := m
	other.Sig[0] = 2

	a, b := s.intern(&m), s.intern(&m)
	if a != b || s.Len() != 1 {
		t.Fatalf("equal copies: records %p %p, %d in store; want one shared", a, b, s.Len())
	}
	m.Payload[0] = 'j' // the store keeps its own copy
	if string(a.payload) != "hello" || a.seq != 7 || a.time != 42 || a.id != idOf(1) {
		t.Fatalf("record %+v does not match the message", a)
	}
	p := s.intern(&other)
	if p == a || p.sig != other.Sig || s.Len() != 1 {
		t.Fatalf("another signature: got the shared record or a wrong one (%d in store)", s.Len())
	}
	if !checkShared(t, s, a, 2) {
		return
	}
	s.release(p) // private: no effect on the store
	s.release(a)
	if s.Len() != 1 {
		t.Fatalf("released once of two: %d in store, want 1", s.Len())
	}
	s.release(b)
	if s.Len() != 0 {
		t.Fatalf("released by every holder: %d in store, want 0", s.Len())
	}
	// A new copy after that starts a new shared record.
	if c := s.intern(&other); c == a || c.sig != other.Sig || s.Len() != 1 {
		t.Fatal("re-interned message not stored afresh")
	}
}

func checkShared(t *testing.T, s *Bodies, r *record, refs int) bool {
	t.Helper()
	if got := s.m[r.id]; got != r || r.refs != refs {
		t.Errorf("store holds %p with %d refs, want %p with %d", got, r.refs, r, refs)
		return false
	}
	return true
}

package transport

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/dchat/network/core/identity"
)

// seeded returns a deterministic entropy stream for tests.
func seeded(i uint64) io.Reader {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], i+1)
	copy(seed[8:], "transport-test-entropy")
	return rand.NewChaCha8(seed)
}

// testIdentity returns the i-th test identity.
func testIdentity(t testing.TB, i int) *identity.Identity {
	t.Helper()
	return fixedIdentity(i)
}

func fixedIdentity(i int) *identity.Identity {
	seed := bytes.Repeat([]byte{0x7a}, 32)
	binary.LittleEndian.PutUint64(seed, uint64(i+1))
	id, err := identity.FromSeed(seed)
	if err != nil {
		panic(err)
	}
	return id
}

// testKeys returns the i-th identity's handshake credentials, made from a
// seeded stream.
func testKeys(t testing.TB, i int) *localKeys {
	t.Helper()
	k, err := newLocalKeys(testIdentity(t, i), seeded(uint64(1000+i)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// handshakePair runs a full XX handshake in memory between initiator keys a
// and responder keys b, with the given entropy, and returns the frames and
// both sessions.
type transcript struct {
	init, resp, finish []byte
	a, b               *session
}

func runHandshake(t testing.TB, a, b *localKeys, ea, eb io.Reader, ia, ib uint32) transcript {
	t.Helper()
	var tr transcript
	ha, err := newNoise(a, true, ea)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := newNoise(b, false, eb)
	if err != nil {
		t.Fatal(err)
	}
	msg1, _, _, err := ha.WriteMessage(nil, msg1Padding)
	if err != nil {
		t.Fatal(err)
	}
	var zero [cookieSize]byte
	tr.init = appendInit(nil, ia, &zero, msg1)
	f, err := parseFrame(tr.init)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := hb.ReadMessage(nil, f.body); err != nil {
		t.Fatal(err)
	}
	msg2, _, _, err := hb.WriteMessage(nil, b.payload)
	if err != nil {
		t.Fatal(err)
	}
	tr.resp = appendResp(nil, ib, f.sender, msg2)
	if f, err = parseFrame(tr.resp); err != nil {
		t.Fatal(err)
	}
	p2, _, _, err := ha.ReadMessage(nil, f.body)
	if err != nil {
		t.Fatal(err)
	}
	idB, err := verifyPayload(p2, ha.PeerStatic())
	if err != nil || idB != b.id {
		t.Fatalf("responder identity: %v %v", idB, err)
	}
	msg3, c1, c2, err := ha.WriteMessage(nil, a.payload)
	if err != nil {
		t.Fatal(err)
	}
	tr.finish = appendFinish(nil, f.sender, msg3)
	if f, err = parseFrame(tr.finish); err != nil {
		t.Fatal(err)
	}
	p3, d1, d2, err := hb.ReadMessage(nil, f.body)
	if err != nil {
		t.Fatal(err)
	}
	idA, err := verifyPayload(p3, hb.PeerStatic())
	if err != nil || idA != a.id {
		t.Fatalf("initiator identity: %v %v", idA, err)
	}
	tr.a = &session{index: ia, remote: ib, peer: idB, initiator: true, send: c1.Cipher(), recv: c2.Cipher()}
	tr.b = &session{index: ib, remote: ia, peer: idA, send: d2.Cipher(), recv: d1.Cipher(), confirmed: true}
	return tr
}

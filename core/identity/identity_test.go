package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The key is RFC 8032 §7.1 TEST 1; the binary form is the libp2p peer-ids
// spec's layout: identity multihash (0x00, 0x24) of the protobuf PublicKey
// (0x08 0x01 = Ed25519, 0x12 0x20 = 32 data bytes).
func TestPeerIDGolden(t *testing.T) {
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	id, err := FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	wantPub := "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	if got := hex.EncodeToString(id.PublicKey()); got != wantPub {
		t.Fatalf("public key %s, want %s", got, wantPub)
	}
	wantBin := "002408011220" + wantPub
	if got := hex.EncodeToString(id.ID().Bytes()); got != wantBin {
		t.Fatalf("binary %s, want %s", got, wantBin)
	}
	s := id.ID().String()
	if !strings.HasPrefix(s, "12D3KooW") {
		t.Fatalf("text form %q does not start with 12D3KooW", s)
	}
	p, err := ParsePeerID(s)
	if err != nil || p != id.ID() {
		t.Fatalf("ParsePeerID(%q) = %v, %v", s, p, err)
	}
}

func TestPeerIDRoundTripAndErrors(t *testing.T) {
	for i := range 50 {
		id, err := Generate(bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		s := id.ID().String()
		if !strings.HasPrefix(s, "12D3KooW") {
			t.Fatalf("%q lacks prefix", s)
		}
		back, err := ParsePeerID(s)
		if err != nil || back != id.ID() {
			t.Fatalf("round trip %q: %v %v", s, back, err)
		}
		var tm PeerID
		if err := tm.UnmarshalText([]byte(s)); err != nil || tm != id.ID() {
			t.Fatalf("UnmarshalText: %v", err)
		}
	}
	bad := []string{"", "0OIl", "12D3KooW", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", strings.Repeat("1", 70)}
	for _, s := range bad {
		if _, err := ParsePeerID(s); !errors.Is(err, ErrBadPeerID) {
			t.Errorf("ParsePeerID(%q) err = %v, want ErrBadPeerID", s, err)
		}
	}
	if _, err := FromSeed([]byte{1, 2}); !errors.Is(err, ErrBadKey) {
		t.Errorf("short seed: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	id, _ := Generate(bytes.NewReader(make([]byte, 32)))
	sig := id.Sign([]byte("hello"))
	if !id.ID().Verify([]byte("hello"), sig) {
		t.Fatal("valid signature rejected")
	}
	if id.ID().Verify([]byte("hellO"), sig) {
		t.Fatal("signature over other message accepted")
	}
	if id.ID().Verify([]byte("hello"), sig[:10]) {
		t.Fatal("short signature accepted")
	}
	if len(sig) != ed25519.SignatureSize {
		t.Fatal("signature size")
	}
}

func TestXorDistance(t *testing.T) {
	var a, b Key
	if d := Xor(a, b); d.CommonPrefixLen() != 256 || d.Cmp(Distance{}) != 0 {
		t.Fatal("identical keys must be at distance 0")
	}
	b[0] = 0x80
	if got := Xor(a, b).CommonPrefixLen(); got != 0 {
		t.Fatalf("cpl %d want 0", got)
	}
	b[0] = 0
	b[31] = 1
	if got := Xor(a, b).CommonPrefixLen(); got != 255 {
		t.Fatalf("cpl %d want 255", got)
	}
	c := a
	c[1] = 0x10
	// d(a,b) < d(a,c) since b differs only in the last bit.
	if Xor(a, b).Cmp(Xor(a, c)) != -1 || Xor(a, c).Cmp(Xor(a, b)) != 1 {
		t.Fatal("Cmp order wrong")
	}
	// Symmetry and triangle-like XOR property: d(a,b) xor d(b,c) = d(a,c).
	x, y := KeyOf([]byte("x")), KeyOf([]byte("y"))
	if Xor(x, y) != Xor(y, x) {
		t.Fatal("xor not symmetric")
	}
}

func BenchmarkPeerIDKey(b *testing.B) {
	id, _ := Generate(bytes.NewReader(make([]byte, 32)))
	pid := id.ID()
	b.ReportAllocs()
	for b.Loop() {
		_ = pid.Key()
	}
}

func TestKeyCache(t *testing.T) {
	c := NewKeyCache(3)
	var ids []PeerID
	for i := range 10 {
		id, err := Generate(bytes.NewReader(bytes.Repeat([]byte{byte(i + 1)}, 32)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id.ID())
	}
	for round := range 3 {
		for _, id := range ids {
			if c.Key(id) != id.Key() {
				t.Fatalf("round %d: cached key differs from the hash", round)
			}
			if c.n > 3 {
				t.Fatalf("cache holds %d IDs, limit 3", c.n)
			}
		}
	}
}

// TestKeyCacheTable runs the cache through growth, crowded probe runs and
// being forgotten when full, against the hash itself.
func TestKeyCacheTable(t *testing.T) {
	c := NewKeyCache(500)
	ids := make([]PeerID, 1200)
	for i := range ids {
		ids[i].pub[0], ids[i].pub[1], ids[i].pub[31] = byte(i), byte(i>>8), 7
		if i%3 == 0 {
			ids[i].pub[0], ids[i].pub[9] = 0, byte(i) // same home slot, other IDs
		}
	}
	for round := range 3 {
		for _, id := range append(ids, PeerID{}) {
			if c.Key(id) != id.Key() {
				t.Fatalf("round %d: cached key of %x differs from the hash", round, id.pub[:10])
			}
			if c.n > 500 || 2*c.n > len(c.slots) {
				t.Fatalf("cache holds %d IDs in %d slots, limit 500", c.n, len(c.slots))
			}
		}
	}
}

// BenchmarkKeyCacheHit measures a hit among 2,000 cached IDs (the DHT
// scenarios' working set), visited in a scattered order.
func BenchmarkKeyCacheHit(b *testing.B) {
	c := NewKeyCache(4000)
	ids := make([]PeerID, 2000)
	for i := range ids {
		k := KeyOf([]byte{byte(i), byte(i >> 8)})
		ids[i] = PeerIDFromPublicKey(k[:])
		c.Key(ids[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = c.Key(ids[i*769%len(ids)])
		i++
	}
}

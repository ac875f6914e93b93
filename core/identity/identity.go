package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/mr-tron/base58"
)

// Errors returned when parsing identities.
var (
	ErrBadPeerID = errors.New("identity: malformed peer ID")
	ErrBadKey    = errors.New("identity: malformed key")
)

// Sizes of the encodings.
const (
	// PeerIDLen is the length of an Ed25519 peer ID multihash in bytes:
	// 0x00 (identity), 0x24 (length 36), then the protobuf public key.
	PeerIDLen = 2 + pubProtoLen
	// KeyLen is the length of a DHT key in bytes.
	KeyLen = sha256.Size

	pubProtoLen = 4 + ed25519.PublicKeySize
)

// protobuf prefix of a libp2p PublicKey message with Type = Ed25519 (1) and a
// 32-byte Data field: field 1 varint 1, field 2 bytes len 32.
var pubProtoPrefix = [4]byte{0x08, 0x01, 0x12, 0x20}

// Identity is a node's Ed25519 key pair with its derived names.
type Identity struct {
	priv ed25519.PrivateKey
	id   PeerID
}

// Generate creates an identity from 32 bytes of entropy (crypto/rand in the
// real node, a seeded stream in simulation).
func Generate(entropy io.Reader) (*Identity, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(entropy, seed); err != nil {
		return nil, fmt.Errorf("identity: reading entropy: %w", err)
	}
	return FromSeed(seed)
}

// FromSeed derives the identity for an Ed25519 seed (RFC 8032 §5.1.5).
func FromSeed(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: seed is %d bytes, want %d", ErrBadKey, len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &Identity{priv: priv, id: PeerIDFromPublicKey(priv.Public().(ed25519.PublicKey))}, nil
}

// Seed returns the private seed, for persisting the identity.
func (i *Identity) Seed() []byte { return i.priv.Seed() }

// PublicKey returns the Ed25519 public key.
func (i *Identity) PublicKey() ed25519.PublicKey { return i.priv.Public().(ed25519.PublicKey) }

// ID returns the identity's peer ID.
func (i *Identity) ID() PeerID { return i.id }

// Sign signs msg with the identity's private key.
func (i *Identity) Sign(msg []byte) []byte { return ed25519.Sign(i.priv, msg) }

// PeerID is a libp2p-style peer ID for an Ed25519 key. The zero value is not
// a valid ID. PeerIDs are comparable and usable as map keys.
type PeerID struct {
	pub [ed25519.PublicKeySize]byte
}

// PeerIDFromPublicKey returns the peer ID of an Ed25519 public key.
func PeerIDFromPublicKey(pub ed25519.PublicKey) PeerID {
	var id PeerID
	copy(id.pub[:], pub)
	return id
}

// IsZero reports whether id is the zero value.
func (id PeerID) IsZero() bool { return id == PeerID{} }

// Compare orders peer IDs by their binary form: -1 if id sorts before o,
// 0 if they are equal, +1 otherwise. The binary form is a fixed prefix and
// the public key, so this is the order of the keys' bytes.
func (id PeerID) Compare(o PeerID) int { return bytes.Compare(id.pub[:], o.pub[:]) }

// PublicKey returns the Ed25519 public key the ID embeds.
func (id PeerID) PublicKey() ed25519.PublicKey { return ed25519.PublicKey(id.pub[:]) }

// Verify reports whether sig is id's valid signature of msg.
func (id PeerID) Verify(msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(id.pub[:], msg, sig)
}

// Bytes returns the binary multihash form (PeerIDLen bytes).
func (id PeerID) Bytes() []byte { return id.AppendBinary(make([]byte, 0, PeerIDLen)) }

// AppendBinary appends the binary multihash form to b.
func (id PeerID) AppendBinary(b []byte) []byte {
	b = append(b, 0x00, pubProtoLen)
	b = append(b, pubProtoPrefix[:]...)
	return append(b, id.pub[:]...)
}

// String returns the base58btc text form, "12D3KooW...".
func (id PeerID) String() string { return base58.Encode(id.Bytes()) }

// Short returns an abbreviated form for logs: the last 6 characters.
func (id PeerID) Short() string {
	s := id.String()
	return s[len(s)-6:]
}

// MarshalText implements encoding.TextMarshaler.
func (id PeerID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *PeerID) UnmarshalText(b []byte) error {
	p, err := ParsePeerID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParsePeerID parses the base58btc text form of an Ed25519 peer ID.
func ParsePeerID(s string) (PeerID, error) {
	if len(s) == 0 || len(s) > 64 {
		return PeerID{}, fmt.Errorf("%w: length %d", ErrBadPeerID, len(s))
	}
	b, err := base58.Decode(s)
	if err != nil {
		return PeerID{}, fmt.Errorf("%w: %v", ErrBadPeerID, err)
	}
	return PeerIDFromBytes(b)
}

// PeerIDFromBytes parses the binary multihash form. Only identity-hashed
// Ed25519 keys are accepted: other key types are not used by dchat.
func PeerIDFromBytes(b []byte) (PeerID, error) {
	if len(b) != PeerIDLen {
		return PeerID{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadPeerID, len(b), PeerIDLen)
	}
	if b[0] != 0x00 || b[1] != pubProtoLen {
		return PeerID{}, fmt.Errorf("%w: not an identity multihash of an Ed25519 key", ErrBadPeerID)
	}
	if [4]byte(b[2:6]) != pubProtoPrefix {
		return PeerID{}, fmt.Errorf("%w: not an Ed25519 public key", ErrBadPeerID)
	}
	var id PeerID
	copy(id.pub[:], b[6:])
	return id, nil
}

// Key returns the ID's 256-bit DHT key: SHA-256 of the binary peer ID.
func (id PeerID) Key() Key {
	var buf [PeerIDLen]byte
	return Key(sha256.Sum256(id.AppendBinary(buf[:0])))
}

// Key is a 256-bit position in the DHT key space.
type Key [KeyLen]byte

// KeyOf returns the DHT key for arbitrary content (SHA-256).
func KeyOf(b []byte) Key { return Key(sha256.Sum256(b)) }

// Distance is the XOR distance between two keys (Kademlia §2.1), compared
// as a 256-bit unsigned big-endian integer.
type Distance [KeyLen]byte

// Xor returns the distance between a and b.
func Xor(a, b Key) Distance {
	var d Distance
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// Cmp compares two distances: -1 if d < o, 0 if equal, +1 if d > o.
func (d Distance) Cmp(o Distance) int {
	for i := range d {
		if d[i] != o[i] {
			if d[i] < o[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// CommonPrefixLen returns the number of leading zero bits of the distance,
// i.e. the length of the common prefix of the two keys (0..256). A routing
// table puts a peer at distance d in bucket CommonPrefixLen(d).
func (d Distance) CommonPrefixLen() int {
	for i, b := range d {
		if b != 0 {
			return i*8 + bits.LeadingZeros8(b)
		}
	}
	return KeyLen * 8
}

// KeyCache memoizes PeerID.Key, one SHA-256 per call otherwise, for
// callers that see the same peers again and again (DHT answers name the
// same popular peers). It holds at most a set number of IDs and forgets them all when
// full. It is a pure memo: a hit and a miss give the same key.
//
// The IDs and their keys sit side by side in one open-addressing table
// (linear probing, at most half full), so a hit reads one or two
// adjacent 64-byte slots where a map would load its directory, control
// word and slot. An ID's home slot comes from the first 8 bytes of its
// public key; those are uniform for honest keys, and a peer that grinds
// its key to crowd a slot only slows the memo, never changes its answer.
//
// Concurrency: not safe for concurrent use; the nodes of a simulation (one
// goroutine) may share one.
type KeyCache struct {
	slots []keySlot // a power of two long, or empty; a zero id is free
	n     int
	max   int
}

type keySlot struct {
	id  PeerID
	key Key
}

// keyCacheMin is the slot count of a cache's first allocation.
const keyCacheMin = 64

// NewKeyCache returns a cache of at most size IDs (at least 1).
func NewKeyCache(size int) *KeyCache {
	return &KeyCache{max: max(1, size)}
}

// Key returns id.Key().
func (c *KeyCache) Key(id PeerID) Key {
	if id.IsZero() {
		return id.Key() // the zero ID marks free slots: never cached
	}
	i, hit := c.find(id)
	if hit {
		return c.slots[i].key
	}
	k := id.Key()
	switch {
	case c.n >= c.max:
		clear(c.slots)
		c.n = 0
		i, _ = c.find(id)
	case 2*(c.n+1) > len(c.slots):
		c.grow()
		i, _ = c.find(id)
	}
	c.slots[i] = keySlot{id: id, key: k}
	c.n++
	return k
}

// find returns the slot holding id and true, or the free slot that ends
// its probe run and false (-1 in a table not yet allocated).
func (c *KeyCache) find(id PeerID) (int, bool) {
	if len(c.slots) == 0 {
		return -1, false
	}
	mask := len(c.slots) - 1
	h := binary.LittleEndian.Uint64(id.pub[:8]) * 0x9e3779b97f4a7c15
	for i := int((h ^ h>>32) & uint64(mask)); ; i = (i + 1) & mask {
		switch s := &c.slots[i]; {
		case s.id == id:
			return i, true
		case s.id.IsZero():
			return i, false
		}
	}
}

// grow doubles the table (or makes its first slots) and reinserts every
// entry.
func (c *KeyCache) grow() {
	old := c.slots
	c.slots = make([]keySlot, max(keyCacheMin, 2*len(old)))
	for i := range old {
		if s := &old[i]; !s.id.IsZero() {
			j, _ := c.find(s.id)
			c.slots[j] = *s
		}
	}
}

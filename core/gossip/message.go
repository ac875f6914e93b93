package gossip

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// ID identifies a gossip message: SHA-256 of its content (ComputeID). IDs
// are comparable and usable as map keys.
type ID [wire.GossipIDLen]byte

// String returns the first 8 bytes in hex, for logs.
func (id ID) String() string { return hex.EncodeToString(id[:8]) }

// MarshalText implements encoding.TextMarshaler: the full ID in hex, so
// traces name messages uniquely.
func (id ID) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, id[:]), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(id) {
		return fmt.Errorf("gossip: ID of %d hex digits, want %d", len(b), 2*len(id))
	}
	_, err := hex.Decode(id[:], b)
	return err
}

// Domain separators: an ID or a signature made for gossip can never be
// mistaken for one made for another protocol.
const (
	idDomain  = "dchat/gossip/id/v1\x00"
	sigDomain = "dchat/gossip/sig/v1\x00"
)

// ComputeID returns a message's ID: SHA-256 over a domain separator, the
// sender's Ed25519 public key, the sequence number and the timestamp (Unix
// nanoseconds, both big-endian) and the payload. The per-hop TTL and hop
// count and the signature are not part of it.
func ComputeID(sender identity.PeerID, seq uint64, unixNano int64, payload []byte) ID {
	return computeID(nil, sender, seq, unixNano, payload)
}

// computeID is ComputeID with a scratch buffer, so the hot path does not
// allocate. It returns the ID; the grown buffer is not kept.
func computeID(scratch *[]byte, sender identity.PeerID, seq uint64, unixNano int64, payload []byte) ID {
	var buf []byte
	if scratch != nil {
		buf = (*scratch)[:0]
	}
	buf = append(buf, idDomain...)
	buf = append(buf, sender.PublicKey()...)
	buf = binary.BigEndian.AppendUint64(buf, seq)
	buf = binary.BigEndian.AppendUint64(buf, uint64(unixNano))
	buf = append(buf, payload...)
	id := ID(sha256.Sum256(buf))
	if scratch != nil {
		*scratch = buf
	}
	return id
}

// sigLen is the length of the signed bytes.
const sigLen = len(sigDomain) + wire.GossipIDLen

// SigningBytes returns what a message's signature signs: a domain
// separator followed by the ID.
func SigningBytes(id ID) []byte {
	b := signingBytes(id)
	return b[:]
}

func signingBytes(id ID) [sigLen]byte {
	var b [sigLen]byte
	copy(b[:], sigDomain)
	copy(b[len(sigDomain):], id[:])
	return b
}

// Seal builds a signed message from the sender's identity, ready to send:
// ID computed, signature made, TTL set and Hops 1 (the first hop). Payload
// is referenced, not copied.
func Seal(sender *identity.Identity, seq uint64, t time.Time, ttl uint8, payload []byte) wire.Gossip {
	m := wire.Gossip{TTL: ttl, Hops: 1, Seq: seq, Time: t.UnixNano(), Payload: payload}
	copy(m.Sender[:], sender.PublicKey())
	m.ID = ComputeID(sender.ID(), seq, m.Time, payload)
	copy(m.Sig[:], sender.Sign(SigningBytes(m.ID)))
	return m
}

// Message is a delivered gossip message as the application sees it.
type Message struct {
	ID      ID
	Sender  identity.PeerID
	Seq     uint64
	Time    time.Time
	Payload []byte
}

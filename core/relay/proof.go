package relay

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// MessageID identifies a relayed message: SHA-256 over a domain separator,
// the sender's public key, the nonce and the payload hash (ComputeID). IDs
// are comparable and usable as map keys.
type MessageID [wire.RelayIDLen]byte

// String returns the first 8 bytes in hex, for logs.
func (id MessageID) String() string { return hex.EncodeToString(id[:8]) }

// MarshalText implements encoding.TextMarshaler: the full ID in hex.
func (id MessageID) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, id[:]), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *MessageID) UnmarshalText(b []byte) error { return unhex(id[:], b) }

// Hash is a SHA-256 digest: a payload hash, a Merkle leaf, node or root.
type Hash [sha256.Size]byte

// String returns the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler: the hash in hex.
func (h Hash) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, h[:]), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error { return unhex(h[:], b) }

func unhex(dst, b []byte) error {
	if hex.DecodedLen(len(b)) != len(dst) {
		return fmt.Errorf("relay: %d hex digits, want %d", len(b), 2*len(dst))
	}
	_, err := hex.Decode(dst, b)
	return err
}

// Domain separators: nothing signed or hashed for one purpose can be
// replayed as another, nor as another protocol's (gossip, DHT).
const (
	idDomain      = "dchat/relay/id/v1\x00"
	routeDomain   = "dchat/relay/route/v1\x00"
	handoffDomain = "dchat/relay/handoff/v1\x00"
	chainDomain   = "dchat/relay/chain/v1\x00"
	ackDomain     = "dchat/relay/ack/v1\x00"
	batchDomain   = "dchat/relay/batch/v1\x00"
)

// PayloadHash returns the payload's SHA-256 (no domain separator, so that
// anyone holding the payload can check it with any SHA-256 tool).
func PayloadHash(payload []byte) Hash { return sha256.Sum256(payload) }

// ComputeID returns a message's ID: SHA-256 over idDomain, the sender's
// Ed25519 public key (32), the nonce (8, big-endian) and the payload hash
// (32).
func ComputeID(sender identity.PeerID, nonce uint64, payloadHash Hash) MessageID {
	var b [len(idDomain) + 32 + 8 + 32]byte
	n := copy(b[:], idDomain)
	n += copy(b[n:], sender.PublicKey())
	binary.BigEndian.PutUint64(b[n:], nonce)
	copy(b[n+8:], payloadHash[:])
	return sha256.Sum256(b[:])
}

// RouteBytes returns what the sender signs: routeDomain, the message ID,
// the send time (Unix ns), the recipient's key, the hop count (1 byte) and
// the relays' keys in path order. The signature commits the sender to the
// path, so a proof's path cannot be changed after the fact.
func RouteBytes(id MessageID, sent int64, recipient identity.PeerID, path []identity.PeerID) []byte {
	b := make([]byte, 0, len(routeDomain)+32+8+32+1+32*len(path))
	b = append(b, routeDomain...)
	b = append(b, id[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(sent))
	b = append(b, recipient.PublicKey()...)
	b = append(b, byte(len(path)))
	for _, p := range path {
		b = append(b, p.PublicKey()...)
	}
	return b
}

// HandoffBytes returns what a hop signs when it hands a message off:
// handoffDomain, the message ID, its hop index (1 byte, 0 for the first
// relay), its own key, the next peer's key (the next relay, or the
// recipient after the last relay), and the receive and hand-off times (Unix
// ns, big-endian). The signature proves only the hand-off, not delivery.
func HandoffBytes(id MessageID, hop int, self, next identity.PeerID, received, handedOff int64) []byte {
	var b [len(handoffDomain) + 32 + 1 + 32 + 32 + 8 + 8]byte
	n := copy(b[:], handoffDomain)
	n += copy(b[n:], id[:])
	b[n] = byte(hop)
	n++
	n += copy(b[n:], self.PublicKey())
	n += copy(b[n:], next.PublicKey())
	binary.BigEndian.PutUint64(b[n:], uint64(received))
	binary.BigEndian.PutUint64(b[n+8:], uint64(handedOff))
	return b[:]
}

// ChainHash returns the hash of a hop chain, which the recipient's
// acknowledgement signs: SHA-256 over chainDomain, the record count (1 byte)
// and, per hop, its key (32), receive and hand-off times (8 + 8) and
// signature (64).
func ChainHash(path []identity.PeerID, hops []HopRecord) Hash {
	h := sha256.New()
	var b [32 + 8 + 8 + 64]byte
	h.Write([]byte(chainDomain))
	h.Write([]byte{byte(len(hops))})
	for i := range hops {
		clear(b[:32])
		if i < len(path) {
			copy(b[:32], path[i].PublicKey())
		}
		binary.BigEndian.PutUint64(b[32:], uint64(hops[i].Received))
		binary.BigEndian.PutUint64(b[40:], uint64(hops[i].HandedOff))
		copy(b[48:], hops[i].Sig[:])
		h.Write(b[:])
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

// AckBytes returns what the recipient signs: ackDomain, the message ID,
// its own key, its receive time (Unix ns) and the hash of the hop chain the
// message arrived with (ChainHash).
func AckBytes(id MessageID, recipient identity.PeerID, received int64, chain Hash) []byte {
	var b [len(ackDomain) + 32 + 32 + 8 + 32]byte
	n := copy(b[:], ackDomain)
	n += copy(b[n:], id[:])
	n += copy(b[n:], recipient.PublicKey())
	binary.BigEndian.PutUint64(b[n:], uint64(received))
	copy(b[n+8:], chain[:])
	return b[:]
}

// HopRecord is one relay's signed hand-off: when it received the message,
// when it handed it off (Unix ns) and its signature over HandoffBytes.
type HopRecord struct {
	Received  int64
	HandedOff int64
	Sig       [wire.RelaySigLen]byte
}

// AckRecord is the recipient's signed acknowledgement: its receive time
// (Unix ns) and its signature over AckBytes.
type AckRecord struct {
	Received int64
	Sig      [wire.RelaySigLen]byte
}

// Present reports whether the acknowledgement is there (its signature is
// not all zero).
func (a AckRecord) Present() bool { return a.Sig != [wire.RelaySigLen]byte{} }

// Proof is the plan's ProofOfDelivery: everything needed to check, without
// the payload, that a message went from Sender through Path to Recipient.
// The sender's signature commits to the route, each relay's record to its
// hand-off, and only the recipient's acknowledgement to delivery.
//
// A partial proof (fewer Hops than Path, or no Ack) is what a sender holds
// for an undelivered message: the route and the hand-offs confirmed by
// receipts. Verify rejects it; Audit explains it.
//
// Times are Unix nanoseconds from each signer's clock.
type Proof struct {
	ID          MessageID
	PayloadHash Hash
	Nonce       uint64
	Sender      identity.PeerID
	Sent        int64
	RouteSig    [wire.RelaySigLen]byte
	Recipient   identity.PeerID
	Path        []identity.PeerID
	Hops        []HopRecord
	Ack         AckRecord
}

// Clone returns a deep copy of p.
func (p *Proof) Clone() *Proof {
	c := *p
	c.Path = slices.Clone(p.Path)
	c.Hops = slices.Clone(p.Hops)
	return &c
}

// Complete reports whether p has a record for every hop and an
// acknowledgement (it may still fail to verify).
func (p *Proof) Complete() bool { return len(p.Hops) == len(p.Path) && p.Ack.Present() }

// party returns the i-th participant counted from the sender: -1 is the
// sender, 0..len(Path)-1 the relays, len(Path) the recipient.
func (p *Proof) party(i int) identity.PeerID {
	switch {
	case i < 0:
		return p.Sender
	case i < len(p.Path):
		return p.Path[i]
	}
	return p.Recipient
}

// Verification errors. Each failure of Verify wraps exactly one.
var (
	// ErrPathLength: no relay, or more than the maximum.
	ErrPathLength = errors.New("relay: path length out of range")
	// ErrRepeatedPeer: a peer appears twice among sender, relays and recipient.
	ErrRepeatedPeer = errors.New("relay: peer repeated on the route")
	// ErrMessageID: the ID is not ComputeID(sender, nonce, payload hash);
	// the ID, sender, nonce or payload hash was altered.
	ErrMessageID = errors.New("relay: message ID does not match sender, nonce and payload hash")
	// ErrRouteSig: the sender's route signature does not verify (the send
	// time, recipient or path was altered, or the signature forged).
	ErrRouteSig = errors.New("relay: bad sender route signature")
	// ErrHopCount: more hop records than relays.
	ErrHopCount = errors.New("relay: more hop records than relays")
	// ErrTimestamps: a time is earlier than the one before it along the
	// path (sent, then each hop's receipt and hand-off, then the ack).
	ErrTimestamps = errors.New("relay: timestamps decrease along the path")
	// ErrHopSig: a relay's hand-off signature does not verify.
	ErrHopSig = errors.New("relay: bad hand-off signature")
	// ErrIncomplete: hop records are missing (the chain stops early).
	ErrIncomplete = errors.New("relay: hop chain incomplete")
	// ErrNoAck: there is no recipient acknowledgement.
	ErrNoAck = errors.New("relay: no recipient acknowledgement")
	// ErrAckSig: the recipient's signature does not verify.
	ErrAckSig = errors.New("relay: bad acknowledgement signature")
	// ErrPayloadHash: a payload does not hash to the proof's payload hash.
	ErrPayloadHash = errors.New("relay: payload does not match the payload hash")
)

// Verifier checks signatures. gossip.VerifyCache satisfies it, so the
// simulator can share one content-addressed cache across protocols.
type Verifier interface {
	// Verify reports whether sig is id's valid Ed25519 signature of msg.
	Verify(id identity.PeerID, msg, sig []byte) bool
}

// Ed25519Verifier verifies every signature directly (RFC 8032 §5.1.7).
// It is stateless and safe for concurrent use.
type Ed25519Verifier struct{}

// Verify implements Verifier.
func (Ed25519Verifier) Verify(id identity.PeerID, msg, sig []byte) bool { return id.Verify(msg, sig) }

// Verify checks a complete proof against the protocol's largest path
// (wire.MaxRelayPath); see VerifyWith.
func Verify(p *Proof) error { return VerifyWith(p, wire.MaxRelayPath, nil) }

// VerifyWith checks a complete proof, in this order, returning an error
// wrapping the first failure's sentinel:
//
//  1. 1 <= len(Path) <= maxHops [ErrPathLength];
//  2. sender, relays and recipient all distinct [ErrRepeatedPeer];
//  3. ID == ComputeID(Sender, Nonce, PayloadHash) [ErrMessageID];
//  4. the sender's route signature over ID, Sent, Recipient, Path [ErrRouteSig];
//  5. no more records than relays [ErrHopCount]; then for each hop i:
//     Sent (or hop i-1's hand-off) <= Received_i <= HandedOff_i
//     [ErrTimestamps], and hop i's signature over its hand-off to hop i+1
//     (the recipient after the last) [ErrHopSig];
//  6. a record for every relay [ErrIncomplete];
//  7. an acknowledgement [ErrNoAck], received no earlier than the last
//     hand-off [ErrTimestamps], signed by Recipient over ID, its key, the
//     receive time and ChainHash(Path, Hops) [ErrAckSig].
//
// Errors for a hop name its index. v nil verifies directly.
func VerifyWith(p *Proof, maxHops int, v Verifier) error {
	if v == nil {
		v = Ed25519Verifier{}
	}
	if _, err := verifyPrefix(p, maxHops, v); err != nil {
		return err
	}
	return verifyAck(p, v)
}

// VerifyPayload checks that payload is the one the proof names.
func (p *Proof) VerifyPayload(payload []byte) error {
	if PayloadHash(payload) != p.PayloadHash {
		return ErrPayloadHash
	}
	return nil
}

// verifyPrefix checks the route and every hop record present; it returns
// the number of leading records that verify, and the first failure.
func verifyPrefix(p *Proof, maxHops int, v Verifier) (int, error) {
	if err := verifyRoute(p, maxHops, v); err != nil {
		return 0, err
	}
	if len(p.Hops) > len(p.Path) {
		return 0, fmt.Errorf("%w: %d records for %d relays", ErrHopCount, len(p.Hops), len(p.Path))
	}
	prev := p.Sent
	for i := range p.Hops {
		if err := verifyHop(p, i, prev, v); err != nil {
			return i, err
		}
		prev = p.Hops[i].HandedOff
	}
	return len(p.Hops), nil
}

func verifyRoute(p *Proof, maxHops int, v Verifier) error {
	if len(p.Path) == 0 || len(p.Path) > maxHops || len(p.Path) > wire.MaxRelayPath {
		return fmt.Errorf("%w: %d relays, at most %d", ErrPathLength, len(p.Path), min(maxHops, wire.MaxRelayPath))
	}
	if err := distinct(p.Sender, p.Recipient, p.Path); err != nil {
		return err
	}
	if ComputeID(p.Sender, p.Nonce, p.PayloadHash) != p.ID {
		return ErrMessageID
	}
	if !v.Verify(p.Sender, RouteBytes(p.ID, p.Sent, p.Recipient, p.Path), p.RouteSig[:]) {
		return ErrRouteSig
	}
	return nil
}

// distinct checks that no peer appears twice on the route.
func distinct(sender, recipient identity.PeerID, path []identity.PeerID) error {
	if sender == recipient {
		return fmt.Errorf("%w: sender is the recipient", ErrRepeatedPeer)
	}
	for i, a := range path {
		if a == sender || a == recipient {
			return fmt.Errorf("%w: relay %d is the sender or the recipient", ErrRepeatedPeer, i)
		}
		for j := range i {
			if path[j] == a {
				return fmt.Errorf("%w: relays %d and %d", ErrRepeatedPeer, j, i)
			}
		}
	}
	return nil
}

// verifyHop checks hop i's record given the previous hand-off time.
func verifyHop(p *Proof, i int, prev int64, v Verifier) error {
	h := &p.Hops[i]
	if h.Received < prev || h.HandedOff < h.Received {
		return fmt.Errorf("%w: hop %d", ErrTimestamps, i)
	}
	msg := HandoffBytes(p.ID, i, p.Path[i], p.party(i+1), h.Received, h.HandedOff)
	if !v.Verify(p.Path[i], msg, h.Sig[:]) {
		return fmt.Errorf("%w: hop %d", ErrHopSig, i)
	}
	return nil
}

func verifyAck(p *Proof, v Verifier) error {
	if len(p.Hops) < len(p.Path) {
		return fmt.Errorf("%w: %d of %d hand-offs", ErrIncomplete, len(p.Hops), len(p.Path))
	}
	if !p.Ack.Present() {
		return ErrNoAck
	}
	if p.Ack.Received < p.Hops[len(p.Hops)-1].HandedOff {
		return fmt.Errorf("%w: acknowledgement", ErrTimestamps)
	}
	msg := AckBytes(p.ID, p.Recipient, p.Ack.Received, ChainHash(p.Path, p.Hops))
	if !v.Verify(p.Recipient, msg, p.Ack.Sig[:]) {
		return ErrAckSig
	}
	return nil
}

// AppendHandoff signs self's hand-off record for m and appends it to
// m.Records: self must be the next relay on m's path (index
// len(m.Records)). Times are Unix nanoseconds. The relay component uses it;
// it is exported so tests and tools can build relays that behave otherwise.
func AppendHandoff(self *identity.Identity, m *wire.RelayData, received, handedOff int64) error {
	i := len(m.Records)
	if i >= len(m.Path) {
		return fmt.Errorf("%w: %d records for %d relays", ErrHopCount, i+1, len(m.Path))
	}
	me := self.ID()
	if peerOf(m.Path[i].Key) != me {
		return fmt.Errorf("relay: hop %d is not this node", i)
	}
	next := peerOf(m.Recipient.Key)
	if i+1 < len(m.Path) {
		next = peerOf(m.Path[i+1].Key)
	}
	rec := wire.RelayRecord{Received: received, HandedOff: handedOff}
	copy(rec.Sig[:], self.Sign(HandoffBytes(MessageID(m.ID), i, me, next, received, handedOff)))
	m.Records = append(m.Records, rec)
	return nil
}

func peerOf(key [wire.RelayKeyLen]byte) identity.PeerID {
	return identity.PeerIDFromPublicKey(ed25519.PublicKey(key[:]))
}

func keyOf(id identity.PeerID) (k [wire.RelayKeyLen]byte) {
	copy(k[:], id.PublicKey())
	return k
}

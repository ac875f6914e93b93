package relay

import (
	"errors"
	"fmt"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// The on-chain formats (docs/relay-proofs.md has the byte-level tables).
// Every record starts with the format version and a record type, uses
// fixed-width big-endian fields and raw 32-byte Ed25519 keys, and has
// exactly one encoding, so a contract can parse it by offsets.
const (
	// ChainVersion is the version byte of every on-chain record.
	ChainVersion = 1

	// Record types, the second byte.
	ChainTypeProof     = 0x01
	ChainTypeBatch     = 0x02
	ChainTypeInclusion = 0x03

	// proofFixedLen is a serialized proof less its hops: header (2), ID,
	// payload hash, nonce, sender, sent, route signature, recipient, hop
	// count (1), ack time and ack signature.
	proofFixedLen = 2 + 32 + 32 + 8 + 32 + 8 + 64 + 32 + 1 + 8 + 64
	// proofHopLen is one serialized hop: key, received, handed off, signature.
	proofHopLen = 32 + 8 + 8 + 64

	// BatchChainLen is the length of a serialized batch.
	BatchChainLen = 2 + 32 + 8 + 32 + 4 + 8 + 8 + 64
	// batchSignedLen is the prefix of a serialized batch that its
	// signature covers (after batchDomain).
	batchSignedLen = BatchChainLen - 64

	// MaxInclusionPath bounds an inclusion proof's hashes (a tree of up to
	// 2^64 leaves).
	MaxInclusionPath = 64
)

// ProofChainLen returns the length of a serialized proof with hops relays:
// 283 + 112 * hops bytes.
func ProofChainLen(hops int) int { return proofFixedLen + proofHopLen*hops }

// ErrEncoding is wrapped by every error parsing an on-chain record.
var ErrEncoding = errors.New("relay: bad on-chain encoding")

// SerializeForChain returns the proof's on-chain form (the plan's
// serialize_for_chain), version 1:
//
//	version (1) = 1 | type (1) = 1 | message ID (32) | payload hash (32) |
//	nonce (8) | sender key (32) | sent (8) | route signature (64) |
//	recipient key (32) | hop count n (1, 1..8) |
//	n × [relay key (32) | received (8) | handed off (8) | signature (64)] |
//	ack received (8) | ack signature (64)
//
// Integers are big-endian, times Unix nanoseconds (signed). It fails for a
// partial proof. The result is also the proof's Merkle leaf data.
func (p *Proof) SerializeForChain() ([]byte, error) {
	return p.AppendForChain(make([]byte, 0, ProofChainLen(len(p.Path))))
}

// AppendForChain appends the on-chain form to b (see SerializeForChain).
func (p *Proof) AppendForChain(b []byte) ([]byte, error) {
	switch {
	case len(p.Path) == 0 || len(p.Path) > wire.MaxRelayPath:
		return b, fmt.Errorf("%w: %d relays", ErrPathLength, len(p.Path))
	case len(p.Hops) != len(p.Path):
		return b, fmt.Errorf("%w: %d of %d hand-offs", ErrIncomplete, len(p.Hops), len(p.Path))
	case !p.Ack.Present():
		return b, ErrNoAck
	}
	b = append(b, ChainVersion, ChainTypeProof)
	b = append(b, p.ID[:]...)
	b = append(b, p.PayloadHash[:]...)
	b = wire.AppendU64(b, p.Nonce)
	b = append(b, p.Sender.PublicKey()...)
	b = wire.AppendU64(b, uint64(p.Sent))
	b = append(b, p.RouteSig[:]...)
	b = append(b, p.Recipient.PublicKey()...)
	b = append(b, byte(len(p.Path)))
	for i, h := range p.Hops {
		b = append(b, p.Path[i].PublicKey()...)
		b = wire.AppendU64(b, uint64(h.Received))
		b = wire.AppendU64(b, uint64(h.HandedOff))
		b = append(b, h.Sig[:]...)
	}
	b = wire.AppendU64(b, uint64(p.Ack.Received))
	return append(b, p.Ack.Sig[:]...), nil
}

// ParseProof decodes a proof's on-chain form. It checks the encoding only
// (version, type, hop count, exact length); Verify checks the content.
func ParseProof(b []byte) (*Proof, error) {
	if err := chainHeader(b, ChainTypeProof); err != nil {
		return nil, err
	}
	if len(b) < proofFixedLen {
		return nil, fmt.Errorf("%w: proof of %d bytes", ErrEncoding, len(b))
	}
	n := int(b[210])
	if n == 0 || n > wire.MaxRelayPath {
		return nil, fmt.Errorf("%w: hop count %d", ErrEncoding, n)
	}
	if len(b) != ProofChainLen(n) {
		return nil, fmt.Errorf("%w: proof of %d bytes, want %d for %d hops", ErrEncoding, len(b), ProofChainLen(n), n)
	}
	r := wire.NewReader(b[2:])
	q := &Proof{}
	copy(q.ID[:], r.Fixed("id", 32))
	copy(q.PayloadHash[:], r.Fixed("payload hash", 32))
	q.Nonce = r.U64("nonce")
	q.Sender = peerOf([32]byte(r.Fixed("sender", 32)))
	q.Sent = int64(r.U64("sent"))
	copy(q.RouteSig[:], r.Fixed("route sig", 64))
	q.Recipient = peerOf([32]byte(r.Fixed("recipient", 32)))
	r.U8("hop count")
	q.Path = make([]identity.PeerID, n)
	q.Hops = make([]HopRecord, n)
	for i := range n {
		q.Path[i] = peerOf([32]byte(r.Fixed("relay", 32)))
		q.Hops[i].Received = int64(r.U64("received"))
		q.Hops[i].HandedOff = int64(r.U64("handed off"))
		copy(q.Hops[i].Sig[:], r.Fixed("hop sig", 64))
	}
	q.Ack.Received = int64(r.U64("ack received"))
	copy(q.Ack.Sig[:], r.Fixed("ack sig", 64))
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	return q, nil
}

func chainHeader(b []byte, typ byte) error {
	switch {
	case len(b) < 2:
		return fmt.Errorf("%w: %d bytes", ErrEncoding, len(b))
	case b[0] != ChainVersion:
		return fmt.Errorf("%w: version %d", ErrEncoding, b[0])
	case b[1] != typ:
		return fmt.Errorf("%w: record type %d, want %d", ErrEncoding, b[1], typ)
	}
	return nil
}

// Inclusion is a Merkle inclusion proof (RFC 6962 §2.1.1 audit path): it
// shows that a leaf is at Index in a tree of Size leaves with a given root,
// and verifies with nothing else (VerifyInclusion).
type Inclusion struct {
	Index uint64
	Size  uint64
	Path  []Hash
}

// Verify checks that leaf (the leaf's data, e.g. a serialized proof) is at
// in.Index of the tree of in.Size leaves whose root is root.
func (in Inclusion) Verify(root Hash, leaf []byte) error {
	return VerifyInclusion(root, LeafHash(leaf), in.Index, in.Size, in.Path)
}

// SerializeForChain returns the inclusion proof's on-chain form:
//
//	version (1) = 1 | type (1) = 3 | index (8) | tree size (8) |
//	hash count n (1, at most 64) | n × hash (32)
func (in Inclusion) SerializeForChain() []byte {
	b := make([]byte, 0, 2+8+8+1+32*len(in.Path))
	b = append(b, ChainVersion, ChainTypeInclusion)
	b = wire.AppendU64(b, in.Index)
	b = wire.AppendU64(b, in.Size)
	b = append(b, byte(len(in.Path)))
	for _, h := range in.Path {
		b = append(b, h[:]...)
	}
	return b
}

// ParseInclusion decodes an inclusion proof's on-chain form.
func ParseInclusion(b []byte) (Inclusion, error) {
	if err := chainHeader(b, ChainTypeInclusion); err != nil {
		return Inclusion{}, err
	}
	r := wire.NewReader(b[2:])
	in := Inclusion{Index: r.U64("index"), Size: r.U64("size")}
	n := int(r.U8("hash count"))
	if r.Err() == nil && (n > MaxInclusionPath || r.Len() != 32*n) {
		return Inclusion{}, fmt.Errorf("%w: %d hashes in %d bytes", ErrEncoding, n, r.Len())
	}
	if n > 0 {
		in.Path = make([]Hash, n)
	}
	for i := range in.Path {
		copy(in.Path[i][:], r.Fixed("hash", 32))
	}
	if err := r.Done(); err != nil {
		return Inclusion{}, fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	return in, nil
}

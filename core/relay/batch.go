package relay

import (
	"errors"
	"fmt"
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Batch errors.
var (
	// ErrBatchSig: the batching node's signature does not verify.
	ErrBatchSig = errors.New("relay: bad batch signature")
	// ErrBatchContents: the batch's leaves or proofs do not give its root,
	// count or time range.
	ErrBatchContents = errors.New("relay: batch contents do not match its header")
)

// Batch commits to a set of proofs with one Merkle root (RFC 6962 hashing;
// each leaf is a proof's SerializeForChain bytes), signed by the node that
// batched them. Only the header is serialized for the chain; Leaves and
// Proofs stay with the batching node, which hands out Inclusion proofs.
type Batch struct {
	// Relay is the batching node (a relay, or the sender of the messages).
	Relay identity.PeerID
	// Seq numbers the node's batches from 1.
	Seq uint64
	// Root is the Merkle root over the leaf hashes.
	Root Hash
	// Count is the number of proofs (leaves), at least 1.
	Count uint32
	// First and Last bound the proofs' acknowledgement times (Unix ns).
	First, Last int64
	// Sig is Relay's signature over batchDomain and the serialized header
	// up to the signature.
	Sig [wire.RelaySigLen]byte

	// Leaves are the leaf hashes in tree order (not serialized).
	Leaves []Hash
	// Proofs are the batched proofs in tree order (not serialized).
	Proofs []*Proof
}

// NewBatch builds and signs a batch over proofs, in the given order. Every
// proof must be complete (it is serialized for its leaf).
func NewBatch(signer *identity.Identity, seq uint64, proofs []*Proof) (*Batch, error) {
	if len(proofs) == 0 {
		return nil, errors.New("relay: empty batch")
	}
	b := &Batch{Relay: signer.ID(), Seq: seq, Proofs: proofs, Leaves: make([]Hash, len(proofs))}
	var buf []byte
	for i, p := range proofs {
		var err error
		if buf, err = p.AppendForChain(buf[:0]); err != nil {
			return nil, fmt.Errorf("relay: batch proof %d: %w", i, err)
		}
		b.Leaves[i] = LeafHash(buf)
		if i == 0 || p.Ack.Received < b.First {
			b.First = p.Ack.Received
		}
		if i == 0 || p.Ack.Received > b.Last {
			b.Last = p.Ack.Received
		}
	}
	b.Root = MerkleRoot(b.Leaves)
	b.Count = uint32(len(proofs))
	copy(b.Sig[:], signer.Sign(b.signingBytes()))
	return b, nil
}

// FirstTime and LastTime return First and Last as times.
func (b *Batch) FirstTime() time.Time { return time.Unix(0, b.First).UTC() }

// LastTime returns Last as a time.
func (b *Batch) LastTime() time.Time { return time.Unix(0, b.Last).UTC() }

// SerializeForChain returns the batch header's on-chain form, version 1,
// BatchChainLen (158) bytes:
//
//	version (1) = 1 | type (1) = 2 | batching node key (32) | sequence (8) |
//	Merkle root (32) | proof count (4) | first ack time (8) |
//	last ack time (8) | signature (64)
//
// The signature covers batchDomain followed by the first 94 bytes.
func (b *Batch) SerializeForChain() []byte {
	out := b.appendHeader(make([]byte, 0, BatchChainLen))
	return append(out, b.Sig[:]...)
}

func (b *Batch) appendHeader(out []byte) []byte {
	out = append(out, ChainVersion, ChainTypeBatch)
	out = append(out, b.Relay.PublicKey()...)
	out = wire.AppendU64(out, b.Seq)
	out = append(out, b.Root[:]...)
	out = wire.AppendU32(out, b.Count)
	out = wire.AppendU64(out, uint64(b.First))
	return wire.AppendU64(out, uint64(b.Last))
}

func (b *Batch) signingBytes() []byte {
	return b.appendHeader(append(make([]byte, 0, len(batchDomain)+batchSignedLen), batchDomain...))
}

// ParseBatch decodes a batch header's on-chain form (encoding only; Verify
// checks the signature).
func ParseBatch(data []byte) (*Batch, error) {
	if err := chainHeader(data, ChainTypeBatch); err != nil {
		return nil, err
	}
	if len(data) != BatchChainLen {
		return nil, fmt.Errorf("%w: batch of %d bytes, want %d", ErrEncoding, len(data), BatchChainLen)
	}
	r := wire.NewReader(data[2:])
	b := &Batch{}
	b.Relay = peerOf([32]byte(r.Fixed("relay", 32)))
	b.Seq = r.U64("seq")
	copy(b.Root[:], r.Fixed("root", 32))
	b.Count = r.U32("count")
	b.First = int64(r.U64("first"))
	b.Last = int64(r.U64("last"))
	copy(b.Sig[:], r.Fixed("sig", 64))
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	return b, nil
}

// Verify checks the header (count at least 1, First <= Last) and the
// batching node's signature [ErrBatchSig]; and, when the batch carries its
// leaves or proofs, that they give its count, root and time range
// [ErrBatchContents].
func (b *Batch) Verify() error {
	if b.Count == 0 || b.First > b.Last {
		return fmt.Errorf("%w: count %d, times %d..%d", ErrBatchContents, b.Count, b.First, b.Last)
	}
	if !b.Relay.Verify(b.signingBytes(), b.Sig[:]) {
		return ErrBatchSig
	}
	if b.Leaves != nil && (len(b.Leaves) != int(b.Count) || MerkleRoot(b.Leaves) != b.Root) {
		return fmt.Errorf("%w: leaves", ErrBatchContents)
	}
	if b.Proofs != nil {
		if len(b.Proofs) != int(b.Count) {
			return fmt.Errorf("%w: %d proofs", ErrBatchContents, len(b.Proofs))
		}
		leaves := make([]Hash, len(b.Proofs))
		first, last := b.Proofs[0].Ack.Received, b.Proofs[0].Ack.Received
		for i, p := range b.Proofs {
			data, err := p.SerializeForChain()
			if err != nil {
				return fmt.Errorf("%w: proof %d: %v", ErrBatchContents, i, err)
			}
			leaves[i] = LeafHash(data)
			first, last = min(first, p.Ack.Received), max(last, p.Ack.Received)
		}
		if MerkleRoot(leaves) != b.Root || first != b.First || last != b.Last {
			return fmt.Errorf("%w: proofs", ErrBatchContents)
		}
	}
	return nil
}

// Inclusion returns the inclusion proof of the i-th leaf.
func (b *Batch) Inclusion(i int) (Inclusion, error) { return InclusionProof(b.Leaves, i) }

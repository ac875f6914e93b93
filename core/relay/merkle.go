package relay

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// Merkle trees as in RFC 6962 §2.1 (Certificate Transparency; RFC 9162
// §2.1.1 keeps the same hashing): leaves are hashed with a 0x00 prefix and
// inner nodes with a 0x01 prefix, so a leaf can never be passed off as an
// inner node (the second-preimage trick on plain Merkle trees), and a tree
// of n leaves splits at the largest power of two below n.

// Hash prefixes (RFC 6962 §2.1).
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// ErrInclusion is returned when an inclusion proof does not verify.
var ErrInclusion = errors.New("relay: inclusion proof does not verify")

// LeafHash returns the Merkle leaf hash of data: SHA-256(0x00 || data).
func LeafHash(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{leafPrefix})
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// nodeHash returns SHA-256(0x01 || left || right).
func nodeHash(left, right Hash) Hash {
	var b [1 + 2*sha256.Size]byte
	b[0] = nodePrefix
	copy(b[1:], left[:])
	copy(b[1+sha256.Size:], right[:])
	return sha256.Sum256(b[:])
}

// splitPoint returns the largest power of two smaller than n (n >= 2).
func splitPoint(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// MerkleRoot returns the root of the tree over the given leaf hashes
// (RFC 6962 MTH). The root of no leaves is SHA-256 of the empty string.
func MerkleRoot(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := splitPoint(len(leaves))
	return nodeHash(MerkleRoot(leaves[:k]), MerkleRoot(leaves[k:]))
}

// InclusionProof returns the audit path of the leaf at index (RFC 6962
// §2.1.1 PATH(m, D[n])), ordered from the leaf's sibling up to the root's
// child.
func InclusionProof(leaves []Hash, index int) (Inclusion, error) {
	if index < 0 || index >= len(leaves) {
		return Inclusion{}, fmt.Errorf("relay: leaf %d of %d", index, len(leaves))
	}
	return Inclusion{Index: uint64(index), Size: uint64(len(leaves)), Path: auditPath(nil, leaves, index)}, nil
}

func auditPath(path []Hash, leaves []Hash, m int) []Hash {
	if len(leaves) <= 1 {
		return path
	}
	k := splitPoint(len(leaves))
	if m < k {
		return append(auditPath(path, leaves[:k], m), MerkleRoot(leaves[k:]))
	}
	return append(auditPath(path, leaves[k:], m-k), MerkleRoot(leaves[:k]))
}

// VerifyInclusion checks that the leaf hash is at index in the tree of size
// leaves whose root is root, given its audit path: the algorithm of
// RFC 9162 §2.1.3.2. It needs nothing else. The size must come from a
// trusted place (a batch's signed Count), as RFC 9162's comes from a signed
// tree head: along the tree's left edge two sizes can hash alike (leaf 0 of
// 3 and of 4 leaves), so the path alone does not fix the size.
func VerifyInclusion(root, leaf Hash, index, size uint64, path []Hash) error {
	if index >= size {
		return fmt.Errorf("%w: index %d, size %d", ErrInclusion, index, size)
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range path {
		if sn == 0 {
			return fmt.Errorf("%w: path too long", ErrInclusion)
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return fmt.Errorf("%w: path too short", ErrInclusion)
	}
	if r != root {
		return fmt.Errorf("%w: root mismatch", ErrInclusion)
	}
	return nil
}

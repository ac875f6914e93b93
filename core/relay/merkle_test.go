package relay_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/dchat/network/core/relay"
)

func hx(t testing.TB, s string) relay.Hash {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad hash %q", s)
	}
	return relay.Hash(b)
}

// RFC 6962 reference vectors, as published with Certificate Transparency
// (transparency-dev/merkle, testonly/constants.go: LeafInputs, RootHashes
// and the audit path of leaf 0 in the 8-leaf tree).
func TestMerkleReferenceVectors(t *testing.T) {
	inputs := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	roots := []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	var leaves []relay.Hash
	var data [][]byte
	for i, in := range inputs {
		b, _ := hex.DecodeString(in)
		data = append(data, b)
		leaves = append(leaves, relay.LeafHash(b))
		if got := relay.MerkleRoot(leaves); got != hx(t, roots[i]) {
			t.Errorf("root of %d leaves = %s, want %s", i+1, got, roots[i])
		}
	}
	if relay.MerkleRoot(nil) != sha256.Sum256(nil) {
		t.Error("empty root")
	}
	in, err := relay.InclusionProof(leaves, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []relay.Hash{
		hx(t, "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
		hx(t, "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
		hx(t, "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
	}
	if len(in.Path) != 3 || in.Path[0] != want[0] || in.Path[1] != want[1] || in.Path[2] != want[2] {
		t.Errorf("path of leaf 0 of 8: %v", in.Path)
	}
	if err := in.Verify(hx(t, roots[7]), data[0]); err != nil {
		t.Error(err)
	}
}

// naiveRoot builds the tree level by level, promoting a lone last node
// unchanged: an independent construction that must equal RFC 6962's.
func naiveRoot(leaves []relay.Hash) relay.Hash {
	level := append([]relay.Hash(nil), leaves...)
	for len(level) > 1 {
		var next []relay.Hash
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			var b [65]byte
			b[0] = 1
			copy(b[1:], level[i][:])
			copy(b[33:], level[i+1][:])
			next = append(next, sha256.Sum256(b[:]))
		}
		level = next
	}
	return level[0]
}

// Inclusion proofs verify for every index of every tree of 1 to 130
// leaves, alone, and fail for a wrong index, leaf, root or path. (A wrong
// size is not always caught: leaf 0 of 3 and of 4 leaves hash the same
// way. The size comes from the signed batch header, as in RFC 9162 where
// it comes from the signed tree head.)
func TestInclusionAllSizes(t *testing.T) {
	var all []relay.Hash
	for i := range 131 {
		all = append(all, relay.LeafHash([]byte{byte(i), byte(i >> 8), 0xab}))
	}
	verified := 0
	for n := 1; n <= 130; n++ {
		leaves := all[:n]
		root := relay.MerkleRoot(leaves)
		if root != naiveRoot(leaves) {
			t.Fatalf("size %d: root differs from the level-by-level construction", n)
		}
		other := relay.MerkleRoot(all[:n+1])
		for i := range n {
			in, err := relay.InclusionProof(leaves, i)
			if err != nil {
				t.Fatal(err)
			}
			// Round trip through the on-chain form first.
			in, err = relay.ParseInclusion(in.SerializeForChain())
			if err != nil {
				t.Fatal(err)
			}
			size, idx := uint64(n), uint64(i)
			if err := relay.VerifyInclusion(root, leaves[i], idx, size, in.Path); err != nil {
				t.Fatalf("size %d index %d: %v", n, i, err)
			}
			verified++
			bad := []struct {
				name        string
				root, leaf  relay.Hash
				index, size uint64
				path        []relay.Hash
			}{
				{"leaf", root, all[(i+1)%n+boolInt(n == 1)], idx, size, in.Path},
				{"root", other, leaves[i], idx, size, in.Path},
				{"index+1", root, leaves[i], idx + 1, size, in.Path},
				{"index-1", root, leaves[i], idx - 1, size, in.Path},
				{"index 0", root, leaves[i], 0, size, in.Path},
				{"index last", root, leaves[i], size - 1, size, in.Path},
				{"path longer", root, leaves[i], idx, size, append(append([]relay.Hash(nil), in.Path...), root)},
			}
			if len(in.Path) > 0 {
				flipped := append([]relay.Hash(nil), in.Path...)
				flipped[len(flipped)/2][7] ^= 1
				bad = append(bad,
					struct {
						name        string
						root, leaf  relay.Hash
						index, size uint64
						path        []relay.Hash
					}{"path shorter", root, leaves[i], idx, size, in.Path[:len(in.Path)-1]},
					struct {
						name        string
						root, leaf  relay.Hash
						index, size uint64
						path        []relay.Hash
					}{"path hash", root, leaves[i], idx, size, flipped})
			}
			for _, b := range bad {
				if b.index == idx && b.size == size && b.root == root && b.leaf == leaves[i] && len(b.path) == len(in.Path) && b.name != "path hash" {
					continue // the variant coincides with the genuine proof
				}
				if err := relay.VerifyInclusion(b.root, b.leaf, b.index, b.size, b.path); !errors.Is(err, relay.ErrInclusion) {
					t.Fatalf("size %d index %d: wrong %s verifies (%v)", n, i, b.name, err)
				}
			}
		}
	}
	t.Logf("%d inclusion proofs verified", verified)
	if _, err := relay.InclusionProof(all[:3], 3); err == nil {
		t.Error("proof for an index beyond the tree")
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A leaf can never pose as an inner node: the 0x00/0x01 prefixes keep the
// two-leaf root from being the leaf hash of the two leaf hashes.
func TestLeafNodeDomainSeparation(t *testing.T) {
	a, b := relay.LeafHash([]byte("a")), relay.LeafHash([]byte("b"))
	root := relay.MerkleRoot([]relay.Hash{a, b})
	if relay.LeafHash(append(a[:], b[:]...)) == root {
		t.Fatal("inner node equals a leaf over the same bytes")
	}
	// The 64 bytes of an inner node presented as a one-leaf tree do not
	// verify as that leaf at index 0 of the two-leaf tree.
	if err := relay.VerifyInclusion(root, relay.LeafHash(append(a[:], b[:]...)), 0, 1, nil); err == nil {
		t.Fatal("second preimage accepted")
	}
}

func TestParseInclusionErrors(t *testing.T) {
	good := relay.Inclusion{Index: 1, Size: 2, Path: []relay.Hash{{1}}}.SerializeForChain()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"type":      append([]byte{1, relay.ChainTypeProof}, good[2:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte(nil), good...), 0),
		"count 65":  append(append(append([]byte(nil), good[:18]...), 65), make([]byte, 65*32)...),
	} {
		if _, err := relay.ParseInclusion(b); !errors.Is(err, relay.ErrEncoding) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

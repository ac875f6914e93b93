// Package identity holds node identities: Ed25519 key pairs, peer IDs in
// libp2p's text form ("12D3KooW..."), 256-bit DHT keys and the Kademlia XOR
// metric.
//
// A peer ID is the identity multihash of the protobuf-encoded public key, as
// in the libp2p peer-ids specification: for an Ed25519 key the protobuf
// PublicKey{Type: Ed25519, Data: key} is 36 bytes, small enough to be inlined
// with the identity hash (code 0x00) instead of SHA-256. Its text form is the
// base58btc encoding of that multihash, which always starts with "12D3KooW".
//
// Concurrency: all types are immutable values and safe for concurrent use.
package identity

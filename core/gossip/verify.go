package gossip

import (
	"crypto/sha256"
	"fmt"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
)

// Verifier checks signatures. Gossip verifies every new message through
// one, so the simulator can share a cache of results across nodes.
type Verifier interface {
	// Verify reports whether sig is id's valid Ed25519 signature of msg.
	Verify(id identity.PeerID, msg, sig []byte) bool
}

// Ed25519Verifier verifies every signature directly (RFC 8032 §5.1.7).
// It is stateless and safe for concurrent use.
type Ed25519Verifier struct{}

// Verify implements Verifier.
func (Ed25519Verifier) Verify(id identity.PeerID, msg, sig []byte) bool { return id.Verify(msg, sig) }

// VerifyCache is a content-addressed cache of verification results in
// front of another Verifier: the key is SHA-256 over public key, message and
// signature, the value the result. Equal inputs always give equal results,
// so the cache changes no outcome, only the time spent: the simulator shares
// one across all its nodes, and a message that reaches 1,000 nodes is
// verified once. Both valid and invalid results are cached.
//
// Concurrency: not safe for concurrent use; in the simulator one goroutine
// drives every node. Give each real node its own, or none.
type VerifyCache struct {
	lru     *simplelru.LRU[[sha256.Size]byte, bool]
	next    Verifier
	scratch []byte
	hits    uint64
	misses  uint64
}

// NewVerifyCache returns a cache of at most size results in front of next
// (Ed25519Verifier if nil). Least recently used results are evicted.
func NewVerifyCache(size int, next Verifier) (*VerifyCache, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%w: gossip: verify cache size must be positive, got %d", core.ErrConfig, size)
	}
	if next == nil {
		next = Ed25519Verifier{}
	}
	lru, err := simplelru.NewLRU[[sha256.Size]byte, bool](size, nil)
	if err != nil {
		return nil, err
	}
	return &VerifyCache{lru: lru, next: next}, nil
}

// Verify implements Verifier.
func (c *VerifyCache) Verify(id identity.PeerID, msg, sig []byte) bool {
	b := append(c.scratch[:0], id.PublicKey()...)
	b = append(b, msg...)
	b = append(b, sig...)
	c.scratch = b
	key := sha256.Sum256(b)
	if ok, found := c.lru.Get(key); found {
		c.hits++
		return ok
	}
	c.misses++
	ok := c.next.Verify(id, msg, sig)
	c.lru.Add(key, ok)
	return ok
}

// Stats returns the number of lookups answered from the cache and passed on.
func (c *VerifyCache) Stats() (hits, misses uint64) { return c.hits, c.misses }

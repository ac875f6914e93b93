package gossip

import (
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// bloomGens is the number of bloom filter generations that together cover
// the exact cache; one more is kept filling. More generations mean less
// memory up front and more hashing per miss.
const bloomGens = 2

// seenCache is the dedup decision: an exact, size- and time-bounded cache
// of accepted IDs (simplelru with a virtual expiry beside each value, read
// with Peek only so it evicts in insertion order), behind bloom filters
// that answer "certainly not seen" quickly.
//
// Invariant: every ID in the exact cache is in one of the filters. The
// exact cache holds at most the last size insertions; the filters rotate
// every genCap insertions and keep bloomGens full generations (bloomGens x
// genCap >= size) plus the one filling, so a bloom miss is a certain miss.
// A bloom hit is only a "maybe" and is always confirmed by the exact cache:
// a false positive never drops a message.
//
// Concurrency: not safe for concurrent use.
type seenCache struct {
	exact  *simplelru.LRU[ID, time.Time]
	ttl    time.Duration
	fp     float64
	genCap int
	gens   [bloomGens + 1]*bloom.BloomFilter // ring; cur is filling
	cur    int
	inCur  int
	// falsePositives counts bloom hits the exact cache refuted (including
	// expired entries).
	falsePositives uint64
}

func newSeenCache(size int, ttl time.Duration, fp float64) (*seenCache, error) {
	exact, err := simplelru.NewLRU[ID, time.Time](size, nil)
	if err != nil {
		return nil, err
	}
	c := &seenCache{exact: exact, ttl: ttl, fp: fp, genCap: (size + bloomGens - 1) / bloomGens}
	c.gens[0] = bloom.NewWithEstimates(uint(c.genCap), fp)
	return c, nil
}

// has reports whether id was accepted and has not expired at now.
func (c *seenCache) has(id ID, now time.Time) bool {
	if !c.maybe(id) {
		return false
	}
	exp, ok := c.exact.Peek(id)
	if ok && now.Before(exp) {
		return true
	}
	c.falsePositives++
	return false
}

// maybe is the bloom pre-check: false means certainly not in the cache.
func (c *seenCache) maybe(id ID) bool {
	for _, f := range c.gens {
		if f != nil && f.Test(id[:]) {
			return true
		}
	}
	return false
}

// add records id as seen until now + ttl.
func (c *seenCache) add(id ID, now time.Time) {
	if c.exact.Contains(id) {
		// An expired entry being refreshed: move it to the newest end so
		// that eviction order stays insertion order.
		c.exact.Remove(id)
	}
	c.exact.Add(id, now.Add(c.ttl))
	if c.inCur == c.genCap {
		c.cur = (c.cur + 1) % len(c.gens)
		if f := c.gens[c.cur]; f != nil {
			f.ClearAll()
		} else {
			c.gens[c.cur] = bloom.NewWithEstimates(uint(c.genCap), c.fp)
		}
		c.inCur = 0
	}
	c.gens[c.cur].Add(id[:])
	c.inCur++
}

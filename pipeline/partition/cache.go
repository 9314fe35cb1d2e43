package partition

import (
	"unsafe"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/window"
)

// The processor's caches of what it resolved in the catalog and the
// windows. They are keyed by the identity of the decoder's strings (data
// pointer and length): the decoder interns tenant, meter and model, so
// every event of a series arrives with the same strings. A string that is
// equal but not identical (once the decoder's intern table is full) gets an
// entry of its own, which is correct, only slower. Identity implies
// equality because every entry keeps its strings alive.
//
// Two levels keep the entries small: pairs resolves (meter, model) to the
// meter's check and the rates, series resolves (tenant, pair) to the
// tenant's start and the window series.

// pair is a resolved (meter, model) whose meter is in the catalog.
type pair struct {
	meter, model string
	pricing      catalog.Pricing
}

// series is a resolved (tenant, pair) whose tenant is in the catalog.
type series struct {
	tenant  string        // "" marks an empty slot (tenants are never empty)
	startNs int64         // the tenant's start, as clampedNanos
	win     window.Series // resolved on the first counted event
	pair    int32         // index in seriesCache.pairs
}

// Bounds of the caches: when either would exceed its bound, both are
// emptied first. Tenants and meters are bounded by the catalog, but models
// are any string.
const (
	maxPairs  = 1 << 12
	maxSeries = 1 << 17
)

// seriesCache holds the pairs (append-only, indexed by pairIndex) and the
// series (an open-addressing table, linear probing, load ≤ 3/4).
type seriesCache struct {
	pairs     []pair
	pairIndex []int32 // open addressing over pairs: index+1, 0 = empty; load ≤ 1/2
	slots     []series
	n         int
}

// id returns the identity of s: its data pointer, or 0 when empty.
func id(s string) uintptr {
	if len(s) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(unsafe.StringData(s)))
}

func same(a, b string) bool { return len(a) == len(b) && id(a) == id(b) }

// mix finishes a hash of pointer identities, whose low bits are alignment.
func mix(h uint64) uint64 {
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

func pairHash(meter, model string) uint64 {
	return mix(uint64(id(meter))*0x9e3779b97f4a7c15 ^ uint64(id(model))*0xc2b2ae3d27d4eb4f)
}

func seriesHash(tenant string, pair int32) uint64 {
	return mix(uint64(id(tenant))*0x9e3779b97f4a7c15 ^ uint64(pair)*0xc2b2ae3d27d4eb4f)
}

// findPair returns the index of (meter, model), or -1.
func (c *seriesCache) findPair(meter, model string) int32 {
	if len(c.pairIndex) == 0 {
		return -1
	}
	mask := len(c.pairIndex) - 1
	for i := int(pairHash(meter, model)) & mask; ; i = (i + 1) & mask {
		x := c.pairIndex[i]
		if x == 0 {
			return -1
		}
		if p := &c.pairs[x-1]; same(p.meter, meter) && same(p.model, model) {
			return x - 1
		}
	}
}

// addPair adds p, which must not be present, and returns its index. It may
// empty the cache first.
func (c *seriesCache) addPair(p pair) int32 {
	if len(c.pairs) >= maxPairs {
		c.reset()
	}
	c.pairs = append(c.pairs, p)
	if len(c.pairs)*2 > len(c.pairIndex) {
		c.pairIndex = make([]int32, max(64, 2*len(c.pairIndex)))
		for k := range c.pairs {
			c.indexPair(int32(k))
		}
	} else {
		c.indexPair(int32(len(c.pairs) - 1))
	}
	return int32(len(c.pairs) - 1)
}

func (c *seriesCache) indexPair(k int32) {
	mask := len(c.pairIndex) - 1
	i := int(pairHash(c.pairs[k].meter, c.pairs[k].model)) & mask
	for c.pairIndex[i] != 0 {
		i = (i + 1) & mask
	}
	c.pairIndex[i] = k + 1
}

// find returns the entry of (tenant, pair), or nil.
func (c *seriesCache) find(tenant string, pair int32) *series {
	if len(c.slots) == 0 {
		return nil
	}
	mask := len(c.slots) - 1
	for i := int(seriesHash(tenant, pair)) & mask; ; i = (i + 1) & mask {
		s := &c.slots[i]
		if s.pair == pair && same(s.tenant, tenant) {
			return s
		}
		if s.tenant == "" {
			return nil
		}
	}
}

// insert adds s, which must not be present, and returns its entry, valid
// until the next insert. s.pair must be valid: an insert never empties the
// cache (addPair does, before the pair is added).
func (c *seriesCache) insert(s series) *series {
	if (c.n+1)*4 > len(c.slots)*3 {
		c.grow()
	}
	mask := len(c.slots) - 1
	i := int(seriesHash(s.tenant, s.pair)) & mask
	for c.slots[i].tenant != "" {
		i = (i + 1) & mask
	}
	c.slots[i] = s
	c.n++
	return &c.slots[i]
}

func (c *seriesCache) grow() {
	old := c.slots
	c.slots = make([]series, max(1024, 2*len(old)))
	mask := len(c.slots) - 1
	for k := range old {
		if old[k].tenant == "" {
			continue
		}
		i := int(seriesHash(old[k].tenant, old[k].pair)) & mask
		for c.slots[i].tenant != "" {
			i = (i + 1) & mask
		}
		c.slots[i] = old[k]
	}
}

// full reports whether the series table is at its bound.
func (c *seriesCache) full() bool { return c.n >= maxSeries }

// reset empties the cache.
func (c *seriesCache) reset() {
	clear(c.pairs)
	c.pairs = c.pairs[:0]
	clear(c.pairIndex)
	clear(c.slots)
	c.n = 0
}

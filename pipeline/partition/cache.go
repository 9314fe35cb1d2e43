package partition

import (
	"unsafe"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/hugemem"
	"github.com/creditflow/creditflow/pipeline/window"
	"github.com/creditflow/creditflow/schemas"
)

// The processor's caches of what it resolved in the catalog and the
// windows. They are keyed by the identity of the decoder's strings (data
// pointer and length): the decoder interns tenant, meter and model, so
// every event of a series arrives with the same strings. A string that is
// equal but not identical (once the decoder's intern table is full) gets an
// entry of its own, which is correct, only slower. Identity implies
// equality because every entry keeps its strings alive.
//
// Two levels keep the entries small: a pair holds what depends on (meter,
// model) only: the meter's check, the rates and the digest's prefix; a
// series, keyed by (tenant, meter, model), holds the tenant's start, the
// window series and the index of its pair, whose strings complete its key.

// pair is a resolved (meter, model) whose meter is in the catalog.
type pair struct {
	meter, model string
	pricing      catalog.Pricing
	digest       uint64 // digestPrefix(meter, model)

	// The answer of pricing at the latest event time asked about, which
	// holds for the event times in [from, until) (see SpanUnixNano).
	rate        schemas.Decimal
	rateOK      bool
	from, until int64
}

// rateAt returns the credits per unit at ns, as pricing.AtUnixNano.
func (p *pair) rateAt(ns int64) (schemas.Decimal, bool) {
	if ns < p.from || ns >= p.until {
		p.rate, p.rateOK, p.from, p.until = p.pricing.SpanUnixNano(ns)
	}
	return p.rate, p.rateOK
}

func newPair(meter, model string, pricing catalog.Pricing) pair {
	// The empty interval [0, 0) makes the first rateAt ask pricing.
	return pair{meter: meter, model: model, pricing: pricing, digest: digestPrefix(meter, model)}
}

// series is a resolved (tenant, meter, model) whose meter and tenant are in
// the catalog: 32 bytes, so that an entry never straddles two cache lines.
// The tenant is held as the address of its data and its length; the entry
// holds no pointer, so that the table can live outside the Go heap in huge
// pages (see hugemem), and seriesCache.keep holds the tenant strings alive
// (so that an address never names two strings while its entry exists).
type series struct {
	tenant  uintptr       // 0 marks an empty slot (tenants are never empty)
	tlen    int32         // len(tenant), ≤ MaxKeyLen
	pair    int32         // index in seriesCache.pairs: meter and model
	startNs int64         // the tenant's start, as clampedNanos
	win     window.Series // resolved on the first counted event
}

func newSeries(tenant string, pair int32, startNs int64) series {
	return series{tenant: id(tenant), tlen: int32(len(tenant)), pair: pair, startNs: startNs}
}

// is reports whether s is the entry of tenant (given that it is not empty).
func (s *series) is(tenant string) bool {
	return s.tenant == id(tenant) && s.tlen == int32(len(tenant))
}

// Bounds of the caches: when either would exceed its bound, both are
// emptied first. Tenants and meters are bounded by the catalog, but models
// are any string.
const (
	maxPairs  = 1 << 12
	maxSeries = 1 << 17
)

// seriesCache holds the pairs (append-only, indexed by pairIndex), the
// series (an open-addressing table, linear probing, load ≤ 3/4) and the
// tenants' starts (likewise), which spare a catalog lookup when a tenant's
// next series is resolved.
type seriesCache struct {
	pairs     []pair
	pairIndex []int32 // open addressing over pairs: index+1, 0 = empty; load ≤ 1/2
	slots     []series
	mem       *hugemem.Tables[series] // owns slots' memory
	keep      []string                // the tenants of the series in slots, alive
	n         int
	tenants   []tenantStart
	nTenants  int
	// moves counts the times series entries moved (grow) or went (reset):
	// a *series found while it had a value stays valid while it keeps it.
	moves uint32
}

// tenantStart is a catalog tenant's start, as clampedNanos, keyed by the
// identity of the tenant string.
type tenantStart struct {
	tenant  unsafe.Pointer // nil marks an empty slot
	tlen    int32
	startNs int64
}

// id returns the identity of s: its data pointer. Empty strings need no
// special case: the decoder makes them nil (0), and two empty strings of
// different pointers are still equal, so at worst they get an entry each.
// There is no branch either way (whether an event names a model is as
// good as random, and a branch on it would be mispredicted that often).
func id(s string) uintptr { return uintptr(unsafe.Pointer(unsafe.StringData(s))) }

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

func seriesHash(tenant uintptr, meter, model string) uint64 {
	return mix(uint64(tenant)*0x9e3779b97f4a7c15 ^ uint64(id(meter))*0xc2b2ae3d27d4eb4f ^
		uint64(id(model))*0x165667b19e3779f9)
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

// prefetch asks the CPU to start loading the slot where findHashed(…, h)
// starts probing.
func (c *seriesCache) prefetch(h uint64) {
	if len(c.slots) != 0 {
		schemas.Prefetch(uintptr(unsafe.Pointer(&c.slots[int(h)&(len(c.slots)-1)])))
	}
}

// find returns the entry of (tenant, meter, model), or nil.
func (c *seriesCache) find(tenant, meter, model string) *series {
	return c.findHashed(tenant, meter, model, seriesHash(id(tenant), meter, model))
}

// findHashed is find given h, the seriesHash of (tenant, meter, model).
func (c *seriesCache) findHashed(tenant, meter, model string, h uint64) *series {
	if len(c.slots) == 0 {
		return nil
	}
	mask := len(c.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &c.slots[i]
		if s.is(tenant) {
			if p := &c.pairs[s.pair]; same(p.meter, meter) && same(p.model, model) {
				return s
			}
		}
		if s.tenant == 0 {
			return nil
		}
	}
}

// hash returns the hash of entry s.
func (c *seriesCache) hash(s *series) uint64 {
	p := &c.pairs[s.pair]
	return seriesHash(s.tenant, p.meter, p.model)
}

// insert adds the series s of tenant, which must not be present, and
// returns its entry, valid until the next insert. s.pair must be valid: an
// insert never empties the cache (addPair does, before the pair is added).
func (c *seriesCache) insert(tenant string, s series) *series {
	c.keep = append(c.keep, tenant)
	if (c.n+1)*4 > len(c.slots)*3 {
		c.grow()
	}
	mask := len(c.slots) - 1
	i := int(c.hash(&s)) & mask
	for c.slots[i].tenant != 0 {
		i = (i + 1) & mask
	}
	c.slots[i] = s
	c.n++
	return &c.slots[i]
}

func (c *seriesCache) grow() {
	c.moves++
	old := c.slots
	if c.mem == nil {
		c.mem = hugemem.New[series]()
	}
	defer c.mem.Free(old)
	c.slots = c.mem.Make(max(1024, 2*len(old)))
	mask := len(c.slots) - 1
	for k := range old {
		if old[k].tenant == 0 {
			continue
		}
		i := int(c.hash(&old[k])) & mask
		for c.slots[i].tenant != 0 {
			i = (i + 1) & mask
		}
		c.slots[i] = old[k]
	}
}

// full reports whether the series table is at its bound (the tenant table
// holds no more entries than it).
func (c *seriesCache) full() bool { return c.n >= maxSeries }

func tenantHash(tenant unsafe.Pointer) uint64 {
	return mix(uint64(uintptr(tenant)) * 0x9e3779b97f4a7c15)
}

// tenantStart returns the start of tenant, if known.
func (c *seriesCache) tenantStart(tenant string) (int64, bool) {
	if len(c.tenants) == 0 {
		return 0, false
	}
	p := unsafe.Pointer(unsafe.StringData(tenant))
	mask := len(c.tenants) - 1
	for i := int(tenantHash(p)) & mask; ; i = (i + 1) & mask {
		t := &c.tenants[i]
		if t.tenant == p && t.tlen == int32(len(tenant)) {
			return t.startNs, true
		}
		if t.tenant == nil {
			return 0, false
		}
	}
}

// addTenant records the start of tenant, which must not be present.
func (c *seriesCache) addTenant(tenant string, startNs int64) {
	if (c.nTenants+1)*4 > len(c.tenants)*3 {
		old := c.tenants
		c.tenants = make([]tenantStart, max(1024, 2*len(old)))
		c.nTenants = 0
		for _, t := range old {
			if t.tenant != nil {
				c.placeTenant(t)
			}
		}
	}
	c.placeTenant(tenantStart{unsafe.Pointer(unsafe.StringData(tenant)), int32(len(tenant)), startNs})
}

func (c *seriesCache) placeTenant(t tenantStart) {
	mask := len(c.tenants) - 1
	i := int(tenantHash(t.tenant)) & mask
	for c.tenants[i].tenant != nil {
		i = (i + 1) & mask
	}
	c.tenants[i] = t
	c.nTenants++
}

// reset empties the cache.
func (c *seriesCache) reset() {
	c.moves++
	clear(c.pairs)
	c.pairs = c.pairs[:0]
	clear(c.pairIndex)
	clear(c.slots)
	clear(c.keep)
	c.keep = c.keep[:0]
	c.n = 0
	clear(c.tenants)
	c.nTenants = 0
}

package partition

import (
	"unsafe"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/window"
	"github.com/creditflow/creditflow/schemas"
)

// series is what a Processor resolved for one (tenant, meter, model): the
// meter and tenant are in the catalog (checked once, when resolved).
type series struct {
	key     schemas.WindowKey // the decoder's strings; Tenant == "" marks an empty slot
	startNs int64             // the tenant's start, as clampedNanos
	pricing catalog.Pricing   // the rates of (meter, model)
	win     window.Series     // resolved on the first counted event
}

// maxSeriesCache bounds the series cache: when it holds this many entries,
// the next insert empties it first. Tenants and meters are bounded by the
// catalog, but models are any string, hence the bound.
const maxSeriesCache = 1 << 17

// seriesCache is an open-addressing table (linear probing, load ≤ 1/2)
// of series keyed by the identity of their strings: the data pointers and
// lengths of tenant, meter and model. The decoder interns those strings, so
// one series arrives with the same pointers every time; a string that is
// equal but not identical (once the decoder's intern table is full) gets an
// entry of its own, which is correct, only slower. Identity implies
// equality because each entry keeps its strings alive.
type seriesCache struct {
	slots []series // power-of-two length, or nil
	n     int
}

// ptr returns the identity of s: its data pointer, or 0 when empty.
func ptr(s string) uintptr {
	if len(s) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(unsafe.StringData(s)))
}

func same(a, b string) bool { return len(a) == len(b) && ptr(a) == ptr(b) }

func cacheHash(ev *schemas.UsageEvent) uint64 {
	h := uint64(ptr(ev.Tenant))*0x9e3779b97f4a7c15 ^ uint64(ptr(ev.Meter))*0xc2b2ae3d27d4eb4f ^
		uint64(ptr(ev.Model))*0x165667b19e3779f9
	return h ^ h>>29
}

// find returns ev's entry, or nil.
func (c *seriesCache) find(ev *schemas.UsageEvent) *series {
	if c.n == 0 {
		return nil
	}
	mask := len(c.slots) - 1
	for i := int(cacheHash(ev)) & mask; ; i = (i + 1) & mask {
		s := &c.slots[i]
		if same(s.key.Tenant, ev.Tenant) && same(s.key.Meter, ev.Meter) && same(s.key.Model, ev.Model) {
			return s
		}
		if s.key.Tenant == "" {
			return nil
		}
	}
}

// insert adds s, which must not be present, and returns its entry, valid
// until the next insert.
func (c *seriesCache) insert(s series) *series {
	if c.n >= maxSeriesCache {
		clear(c.slots)
		c.n = 0
	}
	if (c.n+1)*2 > len(c.slots) {
		c.grow()
	}
	ev := schemas.UsageEvent{Tenant: s.key.Tenant, Meter: s.key.Meter, Model: s.key.Model}
	mask := len(c.slots) - 1
	i := int(cacheHash(&ev)) & mask
	for c.slots[i].key.Tenant != "" {
		i = (i + 1) & mask
	}
	c.slots[i] = s
	c.n++
	return &c.slots[i]
}

func (c *seriesCache) grow() {
	old := c.slots
	c.slots = make([]series, max(256, 2*len(old)))
	mask := len(c.slots) - 1
	for k := range old {
		if old[k].key.Tenant == "" {
			continue
		}
		ev := schemas.UsageEvent{Tenant: old[k].key.Tenant, Meter: old[k].key.Meter, Model: old[k].key.Model}
		i := int(cacheHash(&ev)) & mask
		for c.slots[i].key.Tenant != "" {
			i = (i + 1) & mask
		}
		c.slots[i] = old[k]
	}
}

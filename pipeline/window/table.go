package window

import (
	"hash/maphash"
	"math"
	"math/rand/v2"

	"github.com/creditflow/creditflow/pipeline/hugemem"
	"github.com/creditflow/creditflow/schemas"
)

// slotKey identifies one window of one series: the series by its id in the
// Windows' registry (never 0), the window by its start.
type slotKey struct {
	sid   int32 // series id, ≥ 1
	start int64 // unix ns
}

// entry is one window's running total, stored inline in the table so that
// an Add touches one place in memory: 32 bytes without pointers (the
// garbage collector never scans the table, and an entry never straddles
// two cache lines), the key first. Its hash is recomputed when needed.
type entry struct {
	sid     int32  // series id; 0 marks an empty slot
	events  uint32 // at most maxEntryEvents; then the total is set aside (see Add)
	start   int64  // unix ns
	qty     schemas.Micros
	credits schemas.Micros
}

// maxEntryEvents is the most events an entry counts before its total is set
// aside as a row of its own, like a sum that would overflow.
const maxEntryEvents = math.MaxUint32

func (e *entry) key() slotKey { return slotKey{e.sid, e.start} }

// table is an open-addressing hash table of entries with linear probing.
// A Go map[slotKey]… would cost three dependent memory accesses per Add
// (control word, key slot, value); here the probe lands on the entry
// itself.
type table struct {
	slots []entry // power-of-two length
	mem   *hugemem.Tables[entry]
	n     int
	hash  hasher
	// used lists the occupied slots when track is set; such a table is
	// only ever emptied whole (reset), never by delete.
	used  []int32
	track bool
}

const minSlots = 64

func newTable(h hasher, track bool, mem *hugemem.Tables[entry]) table {
	return table{slots: mem.Make(minSlots), hash: h, track: track, mem: mem}
}

// hasher hashes slot keys with a per-process seed: the table is never
// persisted, so the hash need not be stable.
type hasher struct{ seed uint64 }

func newHasher() hasher { return hasher{rand.Uint64()} }

func (s hasher) hash(k slotKey) uint64 {
	h := (uint64(k.start) ^ s.seed) * 0x9e3779b97f4a7c15
	h ^= uint64(uint32(k.sid)) * 0xc2b2ae3d27d4eb4f
	h ^= h >> 32
	h *= 0xd6e8feb86659fd93
	return h ^ h>>29
}

// home returns the slot where the probe for k starts.
func (t *table) home(k slotKey) int { return int(t.hash.hash(k)) & (len(t.slots) - 1) }

// get returns the entry for k, inserting an empty one if absent.
func (t *table) get(k slotKey) *entry {
	for {
		mask := len(t.slots) - 1
		i := t.home(k)
		for {
			e := &t.slots[i]
			if e.sid == k.sid && e.start == k.start {
				return e
			}
			if e.sid == 0 {
				break
			}
			i = (i + 1) & mask
		}
		if (t.n+1)*4 <= len(t.slots)*3 { // load ≤ 3/4
			e := &t.slots[i]
			e.sid, e.start = k.sid, k.start
			t.n++
			if t.track {
				t.used = append(t.used, int32(i))
			}
			return e
		}
		t.resize(2 * len(t.slots))
	}
}

// resize moves every entry into a table of size slots.
func (t *table) resize(size int) {
	old := t.slots
	defer t.mem.Free(old)
	t.slots = t.mem.Make(size)
	t.used = t.used[:0]
	mask := size - 1
	for k := range old {
		if old[k].sid == 0 {
			continue
		}
		i := t.home(old[k].key())
		for t.slots[i].sid != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = old[k]
		if t.track {
			t.used = append(t.used, int32(i))
		}
	}
}

// rehash puts every entry back at the first free slot from its home, as
// if inserted anew: after slots were emptied without shifting the runs
// that followed them. scratch is reused space for the entries, which have
// no pointers. The table must not be tracked.
func (t *table) rehash(scratch *[]entry) {
	keep := (*scratch)[:0]
	for i := range t.slots {
		if t.slots[i].sid != 0 {
			keep = append(keep, t.slots[i])
			t.slots[i] = entry{}
		}
	}
	mask := len(t.slots) - 1
	for k := range keep {
		i := t.home(keep[k].key())
		for t.slots[i].sid != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = keep[k]
	}
	*scratch = keep[:0]
}

// reset empties a tracked table in time proportional to its entries.
func (t *table) reset() {
	for _, i := range t.used {
		t.slots[i] = entry{}
	}
	t.used = t.used[:0]
	t.n = 0
}

// mark sets live[sid] for every series that has an entry in t.
func (t *table) mark(live []bool) {
	if t.track {
		for _, i := range t.used {
			live[t.slots[i].sid] = true
		}
		return
	}
	for i := range t.slots {
		live[t.slots[i].sid] = true // slot 0 (empty) is never a series
	}
}

// seriesIndex finds series ids by key: an open-addressing table (linear
// probing, load ≤ 1/2) of ids into the registry with the low 32 bits of
// their key's hash, 8 bytes a slot and no pointers; the hash spares reading
// the keys of other series on the way. It is used when a key is registered
// or resolved, not per event.
type seriesIndex struct {
	slots []indexSlot // power-of-two length
	n     int
	seed  maphash.Seed
}

type indexSlot struct {
	id int32  // 0 marks an empty slot
	h  uint32 // low bits of the key's hash
}

func newSeriesIndex() seriesIndex {
	return seriesIndex{slots: make([]indexSlot, minSlots), seed: maphash.MakeSeed()}
}

func (x *seriesIndex) hash(k *schemas.WindowKey) uint32 {
	h := maphash.String(x.seed, k.Tenant)
	h = (h ^ maphash.String(x.seed, k.Meter)) * 0x9e3779b97f4a7c15
	h = (h ^ maphash.String(x.seed, k.Model)) * 0xc2b2ae3d27d4eb4f
	return uint32(h ^ h>>32)
}

// find returns the id of key k, whose hash is h, in series, or 0.
func (x *seriesIndex) find(series []schemas.WindowKey, k *schemas.WindowKey, h uint32) int32 {
	mask := len(x.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s.id == 0 || (s.h == h && series[s.id] == *k) {
			return s.id
		}
	}
}

// insert adds id, whose key has hash h and must not be present.
func (x *seriesIndex) insert(id int32, h uint32) {
	if (x.n+1)*2 > len(x.slots) {
		old := x.slots
		x.slots = make([]indexSlot, 2*len(old))
		x.n = 0
		for _, o := range old {
			if o.id != 0 {
				x.insert(o.id, o.h)
			}
		}
	}
	mask := len(x.slots) - 1
	i := int(h) & mask
	for x.slots[i].id != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = indexSlot{id, h}
	x.n++
}

// rebuild indexes the ids whose live flag is set, n of them.
func (x *seriesIndex) rebuild(series []schemas.WindowKey, live []bool, n int) {
	size := minSlots
	for (n+1)*2 > size {
		size *= 2
	}
	if size != len(x.slots) {
		x.slots = make([]indexSlot, size)
	} else {
		clear(x.slots)
	}
	x.n = 0
	for id, ok := range live {
		if ok {
			x.insert(int32(id), x.hash(&series[id]))
		}
	}
}

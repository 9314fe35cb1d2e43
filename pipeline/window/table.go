package window

import (
	"hash/maphash"
	"math/rand/v2"

	"github.com/creditflow/creditflow/schemas"
)

// slotKey identifies one window of one series: the series by its id in the
// Windows' registry (never 0), the window by its start.
type slotKey struct {
	sid   int32 // series id, ≥ 1
	start int64 // unix ns
}

// entry is one window's running total, stored inline in the table so that
// an Add touches one place in memory: 48 bytes without pointers (the
// garbage collector never scans the table), the hash and the key first.
type entry struct {
	hash    uint64 // of key; 0 marks an empty slot
	key     slotKey
	events  int64
	qty     schemas.Micros
	credits schemas.Micros
}

// table is an open-addressing hash table of entries with linear probing.
// A Go map[slotKey]… would cost three dependent memory accesses per Add
// (control word, key slot, value); here the probe lands on the entry
// itself.
type table struct {
	slots []entry // power-of-two length
	n     int
	// used lists the occupied slots when track is set; such a table is
	// only ever emptied whole (reset), never by delete.
	used  []int32
	track bool
}

const minSlots = 64

func newTable(track bool) table {
	return table{slots: make([]entry, minSlots), track: track}
}

// hasher hashes slot keys with a per-process seed: the table is never
// persisted, so the hash need not be stable.
type hasher struct{ seed uint64 }

func newHasher() hasher { return hasher{rand.Uint64()} }

func (s *hasher) hash(k *slotKey) uint64 {
	h := (uint64(k.start) ^ s.seed) * 0x9e3779b97f4a7c15
	h ^= uint64(uint32(k.sid)) * 0xc2b2ae3d27d4eb4f
	h ^= h >> 32
	h *= 0xd6e8feb86659fd93
	h ^= h >> 29
	return h | 1 // never 0, which marks an empty slot
}

// get returns the entry for k (hash h), inserting an empty one if absent.
func (t *table) get(k *slotKey, h uint64) *entry {
	for {
		mask := len(t.slots) - 1
		i := int(h) & mask
		for {
			e := &t.slots[i]
			if e.hash == h && e.key == *k {
				return e
			}
			if e.hash == 0 {
				break
			}
			i = (i + 1) & mask
		}
		if (t.n+1)*4 <= len(t.slots)*3 { // load ≤ 3/4
			e := &t.slots[i]
			e.hash, e.key = h, *k
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
	t.slots = make([]entry, size)
	t.used = t.used[:0]
	mask := size - 1
	for k := range old {
		if old[k].hash == 0 {
			continue
		}
		i := int(old[k].hash) & mask
		for t.slots[i].hash != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = old[k]
		if t.track {
			t.used = append(t.used, int32(i))
		}
	}
}

// deleteAt empties slot i and shifts the entries after it back so that
// every entry stays reachable from its home slot (no tombstones). Entries
// only move into slots between i and their old slot, cyclically.
func (t *table) deleteAt(i int) {
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j].hash != 0; j = (j + 1) & mask {
		h := int(t.slots[j].hash) & mask
		// The entry at j may fill the hole at i unless its home lies in
		// the cyclic interval (i, j].
		if i <= j {
			if i < h && h <= j {
				continue
			}
		} else if i < h || h <= j {
			continue
		}
		t.slots[i] = t.slots[j]
		i = j
	}
	t.slots[i] = entry{}
	t.n--
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
			live[t.slots[i].key.sid] = true
		}
		return
	}
	for i := range t.slots {
		if t.slots[i].hash != 0 {
			live[t.slots[i].key.sid] = true
		}
	}
}

// seriesIndex finds series ids by key: an open-addressing table (linear
// probing, load ≤ 1/2) of ids into the registry, 4 bytes a slot and no
// pointers. It is used when a key is registered or resolved, not per event.
type seriesIndex struct {
	slots []int32 // power-of-two length; 0 marks an empty slot
	n     int
	seed  maphash.Seed
}

func newSeriesIndex() seriesIndex {
	return seriesIndex{slots: make([]int32, minSlots), seed: maphash.MakeSeed()}
}

func (x *seriesIndex) hash(k *schemas.WindowKey) uint64 {
	return maphash.Comparable(x.seed, *k)
}

// find returns the id of key k in series, or 0.
func (x *seriesIndex) find(series []schemas.WindowKey, k *schemas.WindowKey) int32 {
	mask := len(x.slots) - 1
	for i := int(x.hash(k)) & mask; ; i = (i + 1) & mask {
		id := x.slots[i]
		if id == 0 || series[id] == *k {
			return id
		}
	}
}

// insert adds id, whose key series[id] must not be present.
func (x *seriesIndex) insert(series []schemas.WindowKey, id int32) {
	if (x.n+1)*2 > len(x.slots) {
		old := x.slots
		x.slots = make([]int32, 2*len(old))
		x.n = 0
		for _, o := range old {
			if o != 0 {
				x.insert(series, o)
			}
		}
	}
	mask := len(x.slots) - 1
	i := int(x.hash(&series[id])) & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = id
	x.n++
}

// rebuild indexes the ids whose live flag is set, n of them.
func (x *seriesIndex) rebuild(series []schemas.WindowKey, live []bool, n int) {
	size := minSlots
	for (n+1)*2 > size {
		size *= 2
	}
	if size != len(x.slots) {
		x.slots = make([]int32, size)
	} else {
		clear(x.slots)
	}
	x.n = 0
	for id, ok := range live {
		if ok {
			x.insert(series, int32(id))
		}
	}
}

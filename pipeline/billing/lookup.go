package billing

import (
	"math/bits"
	"unsafe"
)

// accountIndex finds accounts by the address of their tenant name's bytes,
// in front of the map by name. The decoder interns tenant names, so the
// events of one tenant come with the very same string data, and a lookup
// by address costs a multiplication and usually one memory access, where
// the map hashes and compares the name.
//
// Two live strings with the same data address and length are equal (strings
// are immutable), and each slot holds a pointer to the bytes it was filled
// from, so the address cannot be reused while the slot is in the table. A
// name whose address is not in the table is looked up by name and entered.
// The table holds at most half as many entries as slots; when names come
// with fresh bytes every time (not interned) it fills up and is cleared,
// which costs a clear per len(slots)/2 lookups and keeps results exact.
type accountIndex struct {
	slots []indexSlot // a power of two
	shift uint        // 64 − log2(len(slots))
	n     int         // slots in use
}

type indexSlot struct {
	data *byte // unsafe.StringData of the name; nil when the slot is free
	a    *account
}

// init sizes the index for about n names.
func (x *accountIndex) init(n int) {
	size := 64
	for size < 2*n {
		size <<= 1
	}
	x.slots = make([]indexSlot, size)
	x.shift = uint(64 - bits.TrailingZeros(uint(size)))
	x.n = 0
}

func (x *accountIndex) home(p *byte) uint {
	return uint((uint64(uintptr(unsafe.Pointer(p))) * 0x9E3779B97F4A7C15) >> x.shift)
}

// find returns the account entered for name's bytes, or nil.
func (x *accountIndex) find(name string) *account {
	if len(name) == 0 {
		return nil // its data address may be nil, as free slots' are
	}
	p := unsafe.StringData(name)
	mask := uint(len(x.slots) - 1)
	for i := x.home(p); ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.data == p && len(s.a.id) == len(name) {
			return s.a
		}
		if s.data == nil {
			return nil
		}
	}
}

// home returns the account in name's home slot, or nil: a lookup that
// costs one load and no comparison of names, for prefetching.
func (x *accountIndex) homeAccount(name string) *account {
	if len(name) == 0 {
		return nil
	}
	p := unsafe.StringData(name)
	if s := &x.slots[x.home(p)]; s.data == p {
		return s.a
	}
	return nil
}

// add enters a as the account of name's bytes.
func (x *accountIndex) add(name string, a *account) {
	if len(name) == 0 {
		return
	}
	if 2*(x.n+1) > len(x.slots) {
		clear(x.slots)
		x.n = 0
	}
	p := unsafe.StringData(name)
	mask := uint(len(x.slots) - 1)
	i := x.home(p)
	for x.slots[i].data != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = indexSlot{data: p, a: a}
	x.n++
}

package dedup

import (
	"runtime"
	"syscall"
	"unsafe"
)

// hugeTable is the smallest table (bytes) mapped outside the Go heap.
const hugeTable = 4 << 20

// tables owns the memory of a Set's large tables. They are mapped outside
// the Go heap (entries hold no pointers) and advised to use transparent
// huge pages: the set is probed at random over up to hundreds of
// megabytes, and with 4 KiB pages nearly every probe would also miss the
// TLB. Go's own heap is not backed by huge pages (the kernel's usual
// "madvise" mode needs the advice before the first touch). A mapping is
// released when the table is replaced and, through a cleanup, when the Set
// is collected.
type tables struct{ live map[*entry][]byte }

func newTables(s *Set) *tables {
	t := &tables{live: map[*entry][]byte{}}
	runtime.AddCleanup(s, func(t *tables) {
		for _, m := range t.live {
			_ = syscall.Munmap(m)
		}
	}, t)
	return t
}

// make returns a zeroed table of n entries.
func (t *tables) make(n int) []entry {
	size := n * entrySize
	if size < hugeTable {
		return make([]entry, n)
	}
	m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]entry, n)
	}
	_ = syscall.Madvise(m, syscall.MADV_HUGEPAGE)
	tab := unsafe.Slice((*entry)(unsafe.Pointer(&m[0])), n)
	t.live[&tab[0]] = m
	return tab
}

// free releases a table made by make; it must not be used afterwards.
func (t *tables) free(tab []entry) {
	if len(tab) == 0 {
		return
	}
	if m, ok := t.live[&tab[0]]; ok {
		delete(t.live, &tab[0])
		_ = syscall.Munmap(m)
	}
}

// mapped is the memory mapped outside the heap, in bytes.
func (t *tables) mapped() int {
	n := 0
	for _, m := range t.live {
		n += len(m)
	}
	return n
}

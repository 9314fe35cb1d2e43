// Package hugemem allocates the large tables that the pipeline probes at
// random (dedup sets, open windows) outside the Go heap, backed by
// transparent huge pages where the platform has them.
//
// Why: such a table is touched at random over tens or hundreds of
// megabytes, and with 4 KiB pages nearly every probe also misses the TLB
// (a page walk before the cache miss, and software prefetches that stall
// on it). Go's own heap is not backed by huge pages (the kernel's usual
// "madvise" mode needs the advice before the first touch), so tables of
// MinBytes and more are mapped with mmap and advised MADV_HUGEPAGE
// (Linux); smaller ones, and every table elsewhere, are ordinary slices.
// The element type must hold no pointers: the garbage collector does not
// see mapped memory.
package hugemem

import "unsafe"

// MinBytes is the smallest table mapped outside the heap. A mapping is
// rounded up to whole 2 MiB huge pages, so a table of MinBytes wastes at
// most as much again; smaller tables mostly stay in the caches anyway.
const MinBytes = 1 << 20

// Tables owns the mapped tables of one owner (a dedup Set, a Windows). A
// table is released by Free when it is replaced, and the rest by FreeAll,
// which the owner arranges to run when it is collected (runtime.AddCleanup).
// A Tables is not safe for concurrent use.
type Tables[T any] struct {
	live map[*T]mapping
}

// mapping is one mapped table: the bytes the table uses, and the whole
// mapping they lie in, which unmap releases.
type mapping struct{ table, whole []byte }

// New returns an empty Tables.
func New[T any]() *Tables[T] { return &Tables[T]{live: map[*T]mapping{}} }

// Make returns a zeroed table of n elements.
func (t *Tables[T]) Make(n int) []T {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	if size < MinBytes {
		return make([]T, n)
	}
	table, whole := mapHuge(size)
	if table == nil {
		return make([]T, n)
	}
	tab := unsafe.Slice((*T)(unsafe.Pointer(&table[0])), n)
	t.live[&tab[0]] = mapping{table, whole}
	return tab
}

// Free releases a table made by Make; it must not be used afterwards. A
// heap table is left to the garbage collector. Free, FreeAll and Mapped
// accept a nil Tables, which owns nothing.
func (t *Tables[T]) Free(tab []T) {
	if t == nil || len(tab) == 0 {
		return
	}
	if m, ok := t.live[&tab[0]]; ok {
		delete(t.live, &tab[0])
		unmap(m.whole)
	}
}

// FreeAll releases every mapped table.
func (t *Tables[T]) FreeAll() {
	if t == nil {
		return
	}
	for k, m := range t.live {
		delete(t.live, k)
		unmap(m.whole)
	}
}

// Mapped returns the bytes of the tables mapped outside the heap, rounded up
// to whole huge pages (the unused address space around them not counted).
func (t *Tables[T]) Mapped() int {
	if t == nil {
		return 0
	}
	n := 0
	for _, m := range t.live {
		n += len(m.table)
	}
	return n
}

package hugemem

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page on the platforms that
// matter (x86-64, arm64 with 4 KiB base pages).
const hugePage = 2 << 20

// mapHuge maps at least size zeroed bytes, advised to use transparent huge
// pages, and returns them as table, or nil. The kernel only backs an
// aligned 2 MiB range that lies wholly inside an advised mapping with a
// huge page, so table starts on a huge-page boundary and is rounded up to
// whole huge pages: the mapping, whole, is one huge page longer, and that
// slack is address space only (never touched, so never backed). unmap
// takes whole.
func mapHuge(size int) (table, whole []byte) {
	n := (size + hugePage - 1) &^ (hugePage - 1)
	whole, err := syscall.Mmap(-1, 0, n+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	head := int(-uintptr(unsafe.Pointer(&whole[0])) & (hugePage - 1))
	table = whole[head : head+n : head+n]
	_ = syscall.Madvise(table, syscall.MADV_HUGEPAGE)
	return table, whole
}

func unmap(whole []byte) { _ = syscall.Munmap(whole) }

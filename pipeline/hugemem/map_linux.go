package hugemem

import "syscall"

// mapHuge maps size zeroed bytes advised to use transparent huge pages, or
// returns nil.
func mapHuge(size int) []byte {
	m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(m, syscall.MADV_HUGEPAGE)
	return m
}

func unmap(m []byte) { _ = syscall.Munmap(m) }

//go:build !linux

package hugemem

// mapHuge has no huge pages to offer here: tables stay on the heap.
func mapHuge(int) []byte { return nil }

func unmap([]byte) {}

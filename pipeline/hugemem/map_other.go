//go:build !linux

package hugemem

// mapHuge has no huge pages to offer here: tables stay on the heap.
func mapHuge(int) (table, whole []byte) { return nil, nil }

func unmap([]byte) {}

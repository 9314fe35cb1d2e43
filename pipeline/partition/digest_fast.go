//go:build amd64 || arm64

package partition

import "unsafe"

// absorbBytes is absorb for a byte slice. On these little-endian platforms,
// which load unaligned words, it reads the words in place, without absorb's
// bounds checks; absorb stays the definition (TestAbsorbBytes).
func absorbBytes(h uint64, b []byte) uint64 {
	n := len(b)
	p := unsafe.Pointer(unsafe.SliceData(b))
	h = step(h, uint64(n))
	i := 0
	for ; i+8 <= n; i += 8 {
		h = step(h, *(*uint64)(unsafe.Add(p, i)))
	}
	if i < n {
		var w uint64
		if n >= 8 {
			// The last 8 bytes, shifted so that only the unread ones remain.
			w = *(*uint64)(unsafe.Add(p, n-8)) >> (64 - 8*(n-i))
		} else {
			for j := n - 1; j >= i; j-- {
				w = w<<8 | uint64(*(*byte)(unsafe.Add(p, j)))
			}
		}
		h = step(h, w)
	}
	return h
}

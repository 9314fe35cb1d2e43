//go:build amd64 || arm64

package dedup

import (
	"math/bits"
	"unsafe"
)

// keyHash returns the 128-bit key (hi, lo) of (tenant, id). On these
// little-endian platforms, which load unaligned words, absorbPtr reads the
// words in place, without absorb's bounds checks; absorb stays the
// definition (TestKeyHashMatchesAbsorb).
func keyHash(tenant string, id []byte) (hi, lo uint64) {
	a, b := absorbPtr(uint64(seedA), uint64(seedB), unsafe.Pointer(unsafe.StringData(tenant)), len(tenant))
	return absorbPtr(a, b, unsafe.Pointer(unsafe.SliceData(id)), len(id))
}

// absorbPtr is absorb for the n bytes at p.
func absorbPtr(a, b uint64, p unsafe.Pointer, n int) (uint64, uint64) {
	ln := uint64(n)
	a ^= ln * mulA
	b ^= ln * mulB
	i := 0
	for ; i+8 <= n; i += 8 {
		w := *(*uint64)(unsafe.Add(p, i))
		a = (a ^ w) * mulA
		a ^= a >> 32
		b = (b ^ w) * mulB
		b ^= b >> 29
	}
	if r := n - i; r > 0 {
		var w uint64
		if n >= 8 {
			// The last 8 bytes, shifted so that only the r unread ones remain.
			w = *(*uint64)(unsafe.Add(p, n-8)) >> (64 - 8*r)
		} else {
			for k := range r {
				w |= uint64(*(*byte)(unsafe.Add(p, k))) << (8 * k)
			}
		}
		a = (a ^ w) * mulA
		a ^= a >> 32
		b = (b ^ w) * mulB
		b ^= b >> 29
	}
	return finishA(a ^ ln), finishB(b ^ bits.RotateLeft64(ln, 32))
}

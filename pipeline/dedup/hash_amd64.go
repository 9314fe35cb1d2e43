package dedup

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasAES reports whether keyHash can use the AES instructions (and the
// SSE4.1 insert it loads blocks with); without them it computes
// keyHashRef in Go, to the same keys.
var hasAES = cpu.X86.HasAES && cpu.X86.HasSSE41

// keyHash returns the 128-bit key (hi, lo) of (tenant, id): keyHashRef,
// with one AESENC per block.
func keyHash(tenant string, id []byte) (hi, lo uint64) {
	if !hasAES {
		return keyHashRef(tenant, id)
	}
	return keyHashAES(unsafe.StringData(tenant), len(tenant), unsafe.SliceData(id), len(id))
}

// keyHashAES is keyHashRef over the tn bytes at t and the idn bytes at id.
// Assembly.
//
//go:noescape
func keyHashAES(t *byte, tn int, id *byte, idn int) (hi, lo uint64)

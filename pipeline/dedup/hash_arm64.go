package dedup

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasAES reports whether keyHash can use the AES instructions; without
// them it computes keyHashRef in Go, to the same keys.
var hasAES = cpu.ARM64.HasAES

// keyHash returns the 128-bit key (hi, lo) of (tenant, id): keyHashRef,
// with AESE and AESMC per block.
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

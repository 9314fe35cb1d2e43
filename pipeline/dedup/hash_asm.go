//go:build amd64 || arm64

package dedup

import "unsafe"

// keyHash returns the 128-bit key (hi, lo) of (tenant, id): keyHashRef,
// on the CPU's AES instructions when it has them (hasAES: AESENC on amd64,
// AESE and AESMC on arm64), else in Go, to the same keys.
func keyHash(tenant string, id []byte) (hi, lo uint64) {
	if !hasAES {
		return keyHashRef(tenant, id)
	}
	return keyHashAES(unsafe.StringData(tenant), len(tenant), unsafe.SliceData(id), len(id))
}

// keyHashAES is keyHashRef over the tn bytes at t and the idn bytes at id.
// Assembly (hash_amd64.s, hash_arm64.s).
//
//go:noescape
func keyHashAES(t *byte, tn int, id *byte, idn int) (hi, lo uint64)

//go:build !amd64 && !arm64

package dedup

// keyHash returns the 128-bit key (hi, lo) of (tenant, id).
func keyHash(tenant string, id []byte) (hi, lo uint64) { return keyHashRef(tenant, id) }

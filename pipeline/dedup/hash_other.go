//go:build !amd64 && !arm64

package dedup

// hasAES is false: on this architecture keyHash is keyHashRef in Go.
const hasAES = false

// keyHash returns the 128-bit key (hi, lo) of (tenant, id).
func keyHash(tenant string, id []byte) (hi, lo uint64) { return keyHashRef(tenant, id) }

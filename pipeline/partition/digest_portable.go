//go:build !amd64 && !arm64

package partition

// absorbBytes is absorb for a byte slice.
func absorbBytes(h uint64, b []byte) uint64 { return absorb(h, b) }

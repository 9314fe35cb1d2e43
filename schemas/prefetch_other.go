//go:build !amd64 && !arm64

package schemas

// Prefetch is a no-op where no prefetch instruction is wired up.
func Prefetch(addr uintptr) {}

// Prefetch4 is a no-op where no prefetch instruction is wired up.
func Prefetch4(addr uintptr) {}

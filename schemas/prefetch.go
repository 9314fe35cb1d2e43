//go:build amd64 || arm64

package schemas

// Prefetch asks the CPU to start loading the cache line at addr, without
// waiting for it (PREFETCHT0 on amd64, PRFM PLDL1KEEP on arm64). Any
// address is safe: a prefetch never faults. The hot paths of the decoder,
// dedup, the series cache and the window table use it to overlap the cache
// misses of one event's lookups; it lives here, the one package they all
// import, so that the assembly exists once.
//
//go:noescape
func Prefetch(addr uintptr)

// Prefetch4 is Prefetch of the four consecutive cache lines from addr (256
// bytes), in one call.
//
//go:noescape
func Prefetch4(addr uintptr)

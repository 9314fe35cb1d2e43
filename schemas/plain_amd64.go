package schemas

// plainString scans string content starting at b[i] (just past the opening
// quote) and returns the offset of the closing quote, or -1 when the string
// has a byte other than printable ASCII before it (an escape, a control
// character, UTF-8) or is unterminated: then str must judge it. Assembly,
// 16 bytes per step; plainStringWords is the portable version.
//
//go:noescape
func plainString(b []byte, i int) int

// stringMasks returns, for 16 ≤ len(b) ≤ 64, the bit masks of the bytes
// of b that are '"' (quotes) and of those that need attention inside a
// string (special: '\\', control characters, bytes ≥ 0x80), bit k for
// b[k]. Assembly; stringMasksBytes is the portable version.
//
//go:noescape
func stringMasks(b []byte) (quotes, special uint64)

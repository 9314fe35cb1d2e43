package schemas

// plainString scans string content starting at b[i] (just past the opening
// quote) and returns the offset of the closing quote, or -1 when the string
// has a byte other than printable ASCII before it (an escape, a control
// character, UTF-8) or is unterminated: then str must judge it. Assembly,
// 16 bytes per step; plainStringWords is the portable version.
//
//go:noescape
func plainString(b []byte, i int) int

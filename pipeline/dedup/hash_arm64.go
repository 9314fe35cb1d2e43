package dedup

import "golang.org/x/sys/cpu"

// hasAES reports whether keyHash can use the AES instructions.
var hasAES = cpu.ARM64.HasAES

package dedup

import "golang.org/x/sys/cpu"

// hasAES reports whether keyHash can use the AES instructions (and the
// SSE4.1 insert that hash_amd64.s loads blocks with).
var hasAES = cpu.X86.HasAES && cpu.X86.HasSSE41

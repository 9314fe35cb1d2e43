//go:build !linux

package dedup

// tables allocates a Set's tables on the Go heap (see the Linux version
// for huge pages).
type tables struct{}

func newTables(*Set) *tables { return &tables{} }

func (*tables) make(n int) []entry { return make([]entry, n) }

func (*tables) free([]entry) {}

func (*tables) mapped() int { return 0 }

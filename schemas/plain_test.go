package schemas

import (
	"math/rand/v2"
	"testing"
)

// TestPlainString checks plainString (assembly on amd64) against the
// portable plainStringWords and a byte-by-byte definition: every length up
// to 80 from every start up to 20, every position of the first special
// byte, every kind of special byte, and slices that end just before a
// quote (which must not be seen).
func TestPlainString(t *testing.T) {
	special := []byte{'"', '\\', 0x00, 0x1f, 0x80, 0xc3, 0xff}
	plain := []byte{' ', '!', '#', 'a', 'Z', '0', '[', ']', '~', 0x7f}
	byByte := func(b []byte, i int) int {
		for ; i < len(b); i++ {
			switch c := b[i]; {
			case c == '"':
				return i
			case c == '\\' || c < 0x20 || c >= 0x80:
				return -1
			}
		}
		return -1
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 128)
	check := func(b []byte, i int) {
		t.Helper()
		want := byByte(b, i)
		if got := plainString(b, i); got != want {
			t.Fatalf("plainString(%q, %d) = %d, want %d", b, i, got, want)
		}
		if got := plainStringWords(b, i); got != want {
			t.Fatalf("plainStringWords(%q, %d) = %d, want %d", b, i, got, want)
		}
	}
	for n := 0; n <= 80; n++ {
		for off := 0; off < 3; off++ { // unaligned slices
			for k := range buf {
				buf[k] = plain[rng.IntN(len(plain))]
			}
			b := buf[off : off+n]
			buf[off+n] = '"' // just past the end: not part of b
			for i := 0; i <= min(n, 20); i++ {
				check(b, i)
				for pos := i; pos < n; pos++ {
					for _, c := range special {
						old := b[pos]
						b[pos] = c
						check(b, i)
						if pos+1 < n { // a later special byte changes nothing
							old2 := b[n-1]
							b[n-1] = special[rng.IntN(len(special))]
							check(b, i)
							b[n-1] = old2
						}
						b[pos] = old
					}
				}
			}
		}
	}
}

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

// TestStringMasks checks stringMasks (assembly on amd64) against the
// byte-by-byte stringMasksBytes for every length from 16 to 64, with
// quotes and special bytes at every position.
func TestStringMasks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'"', '\\', 0x00, 0x1f, 0x80, 0xc3, 0xff, ' ', 'a', '{', ':', '0', 0x7f}
	buf := make([]byte, 80)
	for n := 16; n <= 64; n++ {
		for range 200 {
			for k := range buf {
				buf[k] = alphabet[rng.IntN(len(alphabet))]
				if rng.IntN(3) > 0 {
					buf[k] = 'a' + byte(rng.IntN(26))
				}
			}
			off := rng.IntN(8)
			b := buf[off : off+n]
			q, s := stringMasks(b)
			wq, ws := stringMasksBytes(b)
			if q != wq || s != ws {
				t.Fatalf("stringMasks(%q) = %#x, %#x; want %#x, %#x", b, q, s, wq, ws)
			}
		}
	}
}

// TestFlatObjectMasked: flatObject (masks for objects that end within 64
// bytes) and flatObjectScan (a string at a time) accept the same objects
// and find the same end, on property objects of every shape and length,
// truncated, followed by more bytes, and mutated.
func TestFlatObjectMasked(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	keys := []string{"region", "feature", "stream", "priority", "request_id", "", "k", "a-much-longer-key-name-here"}
	vals := []string{`"us-east-1"`, `"chat"`, `true`, `false`, `null`, `0`, `-1.5e3`, `42`, `0.25`, `""`, `"r-0f3a9c1b"`, `1E+2`, `[1,2]`, `{"a":1}`, `"a\"b"`, `"é"`}
	var inputs, accepted, masked int
	check := func(b []byte) {
		t.Helper()
		inputs++
		got, want := flatObject(b, 0), flatObjectScan(b, 0)
		if got != want {
			t.Fatalf("flatObject(%q) = %d, flatObjectScan = %d", b, got, want)
		}
		if got >= 0 {
			accepted++
			if len(b) >= 16 {
				if _, ok := flatObjectMasked(b, 0, min(len(b), 64)); ok {
					masked++
				}
			}
		}
	}
	for range 20000 {
		obj := []byte{'{'}
		for p := range rng.IntN(5) {
			if p > 0 {
				obj = append(obj, ',')
			}
			obj = append(obj, '"')
			obj = append(obj, keys[rng.IntN(len(keys))]...)
			obj = append(obj, '"', ':')
			obj = append(obj, vals[rng.IntN(len(vals))]...)
		}
		obj = append(obj, '}')
		for _, tail := range []string{"", "}", "}\n", `,"x":1}`, "                "} {
			b := append(append([]byte(nil), obj...), tail...)
			check(b)
			check(b[:rng.IntN(len(b)+1)])
			check(mutate(rng, b))
		}
	}
	t.Logf("%d inputs, %d accepted, %d of them by the masks", inputs, accepted, masked)
	if masked < accepted/4 {
		t.Errorf("the masks settled %d of %d accepted objects; the test is too weak", masked, accepted)
	}
}

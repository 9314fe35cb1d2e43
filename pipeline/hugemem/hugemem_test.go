package hugemem

import (
	"runtime"
	"testing"
	"unsafe"
)

// TestTables: small tables are heap slices, large ones mapped (on Linux),
// all zeroed and usable; Free and FreeAll release the mappings.
func TestTables(t *testing.T) {
	type entry struct{ a, b uint64 }
	tabs := New[entry]()
	small := tabs.Make(100)
	big := tabs.Make(MinBytes / 16 * 3)
	for _, tab := range [][]entry{small, big} {
		for i := range tab {
			if tab[i] != (entry{}) {
				t.Fatalf("element %d of a new table of %d is not zero", i, len(tab))
			}
			tab[i] = entry{uint64(i), uint64(i) * 2}
		}
		if last := tab[len(tab)-1]; last.b != 2*uint64(len(tab)-1) {
			t.Fatalf("table of %d: last element %v", len(tab), last)
		}
	}
	want := 0
	if runtime.GOOS == "linux" {
		// Rounded up to whole huge pages, and aligned to one.
		want = (MinBytes*3 + 2<<20 - 1) &^ (2<<20 - 1)
		if at := uintptr(unsafe.Pointer(&big[0])); at%(2<<20) != 0 {
			t.Fatalf("mapped table at %#x: not aligned to a huge page", at)
		}
	}
	if got := tabs.Mapped(); got != want {
		t.Fatalf("Mapped = %d, want %d", got, want)
	}
	tabs.Free(small) // a heap table: nothing to release
	tabs.Free(big)
	if got := tabs.Mapped(); got != 0 {
		t.Fatalf("after Free: Mapped = %d", got)
	}
	tabs.Make(MinBytes / 16 * 2)
	tabs.FreeAll()
	if got := tabs.Mapped(); got != 0 {
		t.Fatalf("after FreeAll: Mapped = %d", got)
	}
}

package files

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSorterStable(t *testing.T) {
	t.Parallel()
	type rec struct{ key, line string }
	r := rand.New(rand.NewPCG(3, 4))
	var recs []rec
	for i := range 800 {
		// Few distinct keys, so that most records tie; the line records the
		// insertion order.
		k := fmt.Sprintf("k%02d", r.IntN(12))
		recs = append(recs, rec{k, fmt.Sprintf(`{"key":%q,"seq":%d}`, k, i)})
	}
	recs = append(recs, rec{"", `{"empty key":true}` + "\n"}, rec{"k05", ""})
	want := slices.Clone(recs)
	slices.SortStableFunc(want, func(a, b rec) int { return strings.Compare(a.key, b.key) })
	var wantOut strings.Builder
	for _, r := range want {
		wantOut.WriteString(strings.TrimSuffix(r.line, "\n") + "\n")
	}

	// 100 bytes hold one or two records: hundreds of runs, several passes.
	for _, maxBytes := range []int{0, 100, 1000, 1 << 16} {
		t.Run(fmt.Sprint("maxBytes=", maxBytes), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "out.jsonl")
			s, err := NewSorter(path, "", maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if err := s.Add([]byte(r.key), []byte(r.line)); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.Close()
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(recs)) {
				t.Errorf("lines = %d, want %d", n, len(recs))
			}
			if got := readFile(t, path); !bytes.Equal(got, []byte(wantOut.String())) {
				t.Errorf("output differs from a stable in-memory sort")
			}
			if got := dirEntries(t, dir); len(got) != 1 {
				t.Errorf("files left: %q", got)
			}
		})
	}
}

func TestSorterEmptyAndErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewSorter("", "", -1); err == nil || !strings.Contains(err.Error(), "path is required") || !strings.Contains(err.Error(), "max bytes") {
		t.Errorf("NewSorter error = %v, want both problems", err)
	}
	path := filepath.Join(t.TempDir(), "empty.jsonl")
	s, err := NewSorter(path, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Close(); n != 0 || err != nil {
		t.Errorf("Close = %d, %v", n, err)
	}
	if got := readFile(t, path); len(got) != 0 {
		t.Errorf("empty sorter wrote %q", got)
	}
	if err := s.Add(nil, nil); err == nil {
		t.Error("Add after Close succeeded")
	}
	if _, err := s.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

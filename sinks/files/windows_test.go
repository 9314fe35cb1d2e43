package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

func window(tenant, meter, model string, start time.Time, events int64, qty, credits string) schemas.WindowTotal {
	return schemas.WindowTotal{
		WindowKey: schemas.WindowKey{Tenant: tenant, Meter: meter, Model: model},
		Start:     start, End: start.Add(time.Minute),
		Events: events, Quantity: micros(qty), Credits: micros(credits),
	}
}

// writeWindows writes rows in batches of batch through a WindowsWriter with
// maxRows and returns the file.
func writeWindows(t testing.TB, dir string, maxRows, batch int, rows []schemas.WindowTotal) ([]byte, int64) {
	t.Helper()
	path := filepath.Join(dir, "windows.csv")
	w, err := NewWindowsWriter(WindowsWriterConfig{Path: path, MaxRows: maxRows})
	if err != nil {
		t.Fatal(err)
	}
	for len(rows) > 0 {
		n := min(batch, len(rows))
		if err := w.Write(context.Background(), rows[:n]); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	written, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, dir); len(got) != 1 || got[0] != "windows.csv" {
		t.Fatalf("files left in %s: %q, want only windows.csv", dir, got)
	}
	return readFile(t, path), written
}

func TestWindowsWriterSumsDeltas(t *testing.T) {
	t.Parallel()
	m0 := ts("2026-01-01T00:00:00Z")
	m1 := m0.Add(time.Minute)
	late := func(w schemas.WindowTotal) schemas.WindowTotal { w.Late = true; return w }
	rows := []schemas.WindowTotal{
		window("t2", "tokens", "gpt", m0, 3, "30", "0.030000"),
		late(window("t1", "tokens", "gpt", m1, 1, "0.5", "0.000001")),
		window("t1", "tokens", "", m0, 2, "7", "7"),
		window("t1", "tokens", "gpt", m1, 4, "40", "0.04"),
		window("t1", "tokens", "gpt", m0, 1, "1", "0.001"),
		late(window("t1", "tokens", "gpt", m1, 2, "2.25", "0.002250")),
		window("t1", "calls", "a,\"b\"", m1, 1, "1", "2"),
	}
	for _, maxRows := range []int{1, 2, 3, 100} {
		t.Run(fmt.Sprint("maxRows=", maxRows), func(t *testing.T) {
			t.Parallel()
			got, n := writeWindows(t, t.TempDir(), maxRows, 2, rows)
			if n != 5 {
				t.Errorf("rows written = %d, want 5", n)
			}
			checkGolden(t, "windows.csv.golden", got)
		})
	}
}

// randomWindows returns n delta rows over few tenants, meters and models,
// with many deltas per window, shuffled.
func randomWindows(n int, seed uint64) []schemas.WindowTotal {
	r := rand.New(rand.NewPCG(seed, 1))
	base := ts("2026-01-01T00:00:00Z")
	rows := make([]schemas.WindowTotal, n)
	for i := range rows {
		rows[i] = window(
			fmt.Sprintf("tenant-%d", r.IntN(7)),
			[]string{"tokens", "calls", "seconds"}[r.IntN(3)],
			[]string{"", "gpt-x", "small"}[r.IntN(3)],
			base.Add(time.Duration(r.IntN(40))*time.Minute),
			1, "0", "0")
		rows[i].Quantity = schemas.Micros(r.Int64N(1e12))
		rows[i].Credits = schemas.Micros(r.Int64N(1e12) - 1e11)
		rows[i].Late = r.IntN(4) == 0
	}
	return rows
}

func TestWindowsWriterSpillsGiveSameFile(t *testing.T) {
	t.Parallel()
	rows := randomWindows(1200, 42)

	// Expected totals, computed naively.
	type key struct {
		schemas.WindowKey
		start int64
	}
	want := map[key][3]int64{}
	for _, r := range rows {
		k := key{r.WindowKey, r.Start.Unix()}
		s := want[k]
		want[k] = [3]int64{s[0] + r.Events, s[1] + int64(r.Quantity), s[2] + int64(r.Credits)}
	}

	big, n := writeWindows(t, t.TempDir(), 1<<20, 1000, rows)
	if int(n) != len(want) {
		t.Errorf("rows written = %d, want %d windows", n, len(want))
	}
	lines := strings.Split(strings.TrimSuffix(string(big), "\n"), "\n")[1:]
	if len(lines) != len(want) {
		t.Fatalf("%d data lines, want %d", len(lines), len(want))
	}
	for _, line := range lines {
		f := strings.Split(line, ",")
		k := key{schemas.WindowKey{Tenant: f[0], Meter: f[1], Model: f[2]}, ts(f[3]).Unix()}
		s := want[k]
		wantLine := strings.Join([]string{f[0], f[1], f[2], f[3], f[4],
			fmt.Sprint(s[0]), schemas.Micros(s[1]).String(), schemas.Micros(s[2]).String()}, ",")
		if line != wantLine {
			t.Errorf("line %q, want %q", line, wantLine)
		}
	}

	// 1200 rows with MaxRows 3 make about 400 runs: several merge passes.
	for _, tc := range []struct{ maxRows, batch int }{{3, 1}, {3, 7}, {10, 1000}, {64, 5}} {
		small, n := writeWindows(t, t.TempDir(), tc.maxRows, tc.batch, rows)
		if int(n) != len(want) {
			t.Errorf("maxRows %d: rows written = %d, want %d", tc.maxRows, n, len(want))
		}
		if !bytes.Equal(small, big) {
			t.Errorf("maxRows %d, batch %d: file differs from the in-memory one", tc.maxRows, tc.batch)
		}
	}
}

func TestWindowsWriterEmpty(t *testing.T) {
	t.Parallel()
	got, n := writeWindows(t, t.TempDir(), 0, 1, nil)
	if n != 0 || string(got) != strings.Join(WindowsHeader, ",")+"\n" {
		t.Errorf("got %d rows, %q; want a header only", n, got)
	}
}

func TestWindowsWriterErrors(t *testing.T) {
	t.Parallel()
	_, err := NewWindowsWriter(WindowsWriterConfig{MaxRows: -1})
	if err == nil || !strings.Contains(err.Error(), "path is required") || !strings.Contains(err.Error(), "max rows -1") {
		t.Errorf("config error = %v, want both problems", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "windows.csv")
	w, err := NewWindowsWriter(WindowsWriterConfig{Path: path, MaxRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	a := window("t", "m", "", jan, 1, "1", "1")
	b := a
	b.End = b.End.Add(time.Minute)
	for _, r := range []schemas.WindowTotal{a, window("t", "m", "x", jan, 1, "1", "1"), b} {
		if err := w.Write(context.Background(), []schemas.WindowTotal{r}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err == nil || !strings.Contains(err.Error(), "disagree on the end") {
		t.Errorf("close error = %v, want a disagreement on the end", err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("files left after a failed close: %q", got)
	}
	if _, err := w.Close(); err == nil {
		t.Error("second close succeeded")
	}
	if err := w.Write(context.Background(), []schemas.WindowTotal{a}); err == nil {
		t.Error("write after close succeeded")
	}

	w, err = NewWindowsWriter(WindowsWriterConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Write(ctx, []schemas.WindowTotal{a}); !errors.Is(err, context.Canceled) {
		t.Errorf("write with a cancelled context = %v", err)
	}
	over := a
	over.Quantity = schemas.MaxMicros
	if err := w.Write(context.Background(), []schemas.WindowTotal{over, over}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); !errors.Is(err, schemas.ErrOverflow) {
		t.Errorf("close with an overflowing sum = %v, want ErrOverflow", err)
	}
}

func TestWindowFormatRoundTrip(t *testing.T) {
	t.Parallel()
	rows := randomWindows(50, 7)
	for i := range rows { // distinct windows, so that none are summed
		rows[i].Start = jan.Add(time.Duration(i) * time.Minute)
		rows[i].End = rows[i].Start.Add(time.Minute)
	}
	rows[3].Start = ts("1969-12-31T23:59:59.5Z")
	rows[3].End = ts("2262-01-01T00:00:00.000000001Z")
	rows[4].Events, rows[4].Quantity, rows[4].Credits = -1, -schemas.MaxMicros, schemas.MaxMicros
	sort.Sort(windowSlice(rows))
	s := runSet[schemas.WindowTotal]{f: windowFormat, dir: t.TempDir()}
	defer s.removeAll()
	if err := s.spill(rows); err != nil {
		t.Fatal(err)
	}
	var got []schemas.WindowTotal
	if err := s.merge(nil, func(r *schemas.WindowTotal) error { got = append(got, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].Late = false
	}
	if diff := cmp.Diff(rows, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// BenchmarkWindowsWriter writes 100,000 delta rows: "summed" has about 16
// deltas per window (output ≈ 6,300 rows), "distinct" one window per row.
func BenchmarkWindowsWriter(b *testing.B) {
	summed := randomWindows(100_000, 1)
	distinct := randomWindows(100_000, 2)
	for i := range distinct {
		distinct[i].Start = jan.Add(time.Duration(i) * time.Minute)
		distinct[i].End = distinct[i].Start.Add(time.Minute)
	}
	for _, bc := range []struct {
		name    string
		rows    []schemas.WindowTotal
		maxRows int
	}{
		{"summed/maxRows=4096", summed, 1 << 12},
		{"summed/maxRows=1Mi", summed, 1 << 20},
		{"distinct/maxRows=4096", distinct, 1 << 12},
		{"distinct/maxRows=1Mi", distinct, 1 << 20},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rows, maxRows := bc.rows, bc.maxRows
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				dir := b.TempDir()
				writeWindows(b, dir, maxRows, 500, rows)
			}
			b.ReportMetric(float64(b.N)*float64(len(rows))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

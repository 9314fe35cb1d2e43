package files

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

func TestAppendMoney(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
		err  error
	}{
		{"49", 2, "49.00", nil},
		{"49", 0, "49", nil},
		{"0", 2, "0.00", nil},
		{"-0.5", 2, "-0.50", nil},
		{"1.2300", 2, "1.23", nil},
		{"1.230000000000000000", 0, "", schemas.ErrPrecision},
		{"1.000000000000000000", 0, "1", nil},
		{"1.005", 2, "", schemas.ErrPrecision},
		{"9223372036854775807", 18, "9223372036854775807.000000000000000000", nil},
		{"-9.223372036854775807", 3, "", schemas.ErrPrecision},
		{"0.000000000000000001", 18, "0.000000000000000001", nil},
	} {
		got, err := formatMoney(dec(tc.in), tc.n)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("formatMoney(%s, %d) = %q, %v; want %q, %v", tc.in, tc.n, got, err, tc.want, tc.err)
		}
	}
}

func TestWriteLineItemsCSV(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	items := sampleLineItems()
	orig := slices.Clone(items)
	path := filepath.Join(dir, "line_items.csv")
	if err := WriteLineItemsCSV(path, items, 2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(orig, items); diff != "" {
		t.Errorf("input modified:\n%s", diff)
	}
	got := readFile(t, path)
	checkGolden(t, "line_items.csv.golden", got)

	// RFC 4180: a reader gets the descriptions back, commas, quotes and
	// newlines included.
	recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(LineItemsHeader, recs[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	var descs []string
	for _, r := range recs[1:] {
		descs = append(descs, r[4])
	}
	want := []string{"overage", "bundle b-1", "bundle b-2\nsecond line", "included credits", `plan "pro"`, "late usage for 2026-01, crédits", "overage, 1,250 credits"}
	if diff := cmp.Diff(want, descs); diff != "" {
		t.Errorf("descriptions in row order (-want +got):\n%s", diff)
	}

	// Any input order gives the same file.
	slices.Reverse(items)
	if err := WriteLineItemsCSV(path, items, 2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, path), got) {
		t.Error("reversed input gives another file")
	}
}

func TestWriteLineItemsCSVRefusesUnroundedMoney(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	items := sampleLineItems()
	items[2].Amount = dec("0.001")
	path := filepath.Join(dir, "line_items.csv")
	if err := WriteLineItemsCSV(path, items, 2); !errors.Is(err, schemas.ErrPrecision) {
		t.Errorf("error = %v, want ErrPrecision", err)
	}
	if err := WriteLineItemsCSV(path, nil, 19); err == nil {
		t.Error("19 currency decimals accepted")
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("files left after failures: %q", got)
	}
}

func TestWriteClosesCSV(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "period_closes.csv")
	if err := WriteClosesCSV(path, sampleCloses(), 2); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "period_closes.csv.golden", readFile(t, path))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestWriteRecommendationsCSV(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "recommendations.csv")
	rows := [][]string{{"t2", "pro"}, {"t1", "team, plus"}, {"t1", "basic"}}
	if err := WriteRecommendationsCSV(path, []string{"tenant", "plan"}, rows); err != nil {
		t.Fatal(err)
	}
	want := "tenant,plan\nt1,basic\nt1,\"team, plus\"\nt2,pro\n"
	if got := string(readFile(t, path)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if rows[0][0] != "t2" {
		t.Error("input reordered")
	}
	if err := WriteRecommendationsCSV(path, []string{"tenant"}, rows); err == nil {
		t.Error("rows wider than the header accepted")
	}
}

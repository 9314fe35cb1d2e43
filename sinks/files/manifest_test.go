package files

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteManifest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	items, closes := sampleLineItems(), sampleCloses()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(WriteLineItemsCSV(filepath.Join(dir, "line_items.csv"), items, 2))
	must(WriteLineItemsParquet(filepath.Join(dir, "line_items.parquet"), items, 2))
	must(WriteClosesCSV(filepath.Join(dir, "period_closes.csv"), closes, 2))
	must(WriteClosesParquet(filepath.Join(dir, "period_closes.parquet"), closes, 2))
	must(os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "sub", "alerts.jsonl"), []byte("{}\n{}\n{}"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "empty.jsonl"), nil, 0o644))

	totals, err := ManifestTotals(closes, items, 2)
	must(err)
	files := []string{"period_closes.parquet", "line_items.csv", "sub/alerts.jsonl", "period_closes.csv", "line_items.parquet", "empty.jsonl"}
	must(WriteManifest(dir, files, totals))
	first := readFile(t, filepath.Join(dir, ManifestName))
	must(WriteManifest(dir, files, totals))
	if got := readFile(t, filepath.Join(dir, ManifestName)); string(got) != string(first) {
		t.Error("manifest differs when written twice")
	}

	var m Manifest
	must(json.Unmarshal(first, &m))
	rows := map[string]int64{}
	for _, f := range m.Files {
		rows[f.Name] = f.Rows
		data := readFile(t, filepath.Join(dir, filepath.FromSlash(f.Name)))
		sum := sha256.Sum256(data)
		if f.SHA256 != hex.EncodeToString(sum[:]) || f.Bytes != int64(len(data)) {
			t.Errorf("%s: sha256 %s, bytes %d; want %x, %d", f.Name, f.SHA256, f.Bytes, sum, len(data))
		}
	}
	wantRows := map[string]int64{
		"empty.jsonl": 0, "line_items.csv": 7, "line_items.parquet": 7,
		"period_closes.csv": 3, "period_closes.parquet": 3, "sub/alerts.jsonl": 3,
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if m.Files[0].Name != "empty.jsonl" || m.Files[5].Name != "sub/alerts.jsonl" {
		t.Errorf("files not sorted by name: %v", m.Files)
	}
	wantTotals := map[string]string{
		"closes":                                      "3",
		"closes.consumed":                             "20500.250000",
		"closes.deferred_revenue_end.EUR":             "32.25",
		"closes.overage_amount.EUR":                   "0.75",
		"closes.recognized_revenue.EUR":               "86.50",
		"line_items":                                  "7",
		"line_items.amount.EUR":                       "9223372107.23",
		"line_items.amount.EUR.credit_purchase":       "20.00",
		"line_items.amount.EUR.included_usage":        "0.00",
		"line_items.amount.EUR.late_usage_adjustment": "-0.50",
		"line_items.amount.EUR.overage":               "9223372038.73",
		"line_items.amount.EUR.subscription_fee":      "49.00",
		"line_items.quantity.credit_purchase":         "10000.500000",
		"line_items.quantity.included_usage":          "10000.000000",
		"line_items.quantity.late_usage_adjustment":   "0.000001",
		"line_items.quantity.overage":                 "9223373286.854775",
		"line_items.quantity.subscription_fee":        "1.000000",
	}
	if diff := cmp.Diff(wantTotals, m.Totals); diff != "" {
		t.Errorf("totals (-want +got):\n%s", diff)
	}
}

func TestWriteManifestRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.csv"), []byte("h\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteManifest(dir, []string{"a.csv", "./a.csv", "../b.csv", "/etc/passwd", "x.txt", "missing.csv", ManifestName}, nil)
	if err == nil {
		t.Fatal("bad file list accepted")
	}
	for _, want := range []string{"listed twice", `"../b.csv": not a local path`, `"/etc/passwd": not a local path`, `cannot count rows of a ".txt"`, "missing.csv", "cannot list itself"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestName)); !os.IsNotExist(err) {
		t.Errorf("manifest written despite errors: %v", err)
	}
}

func TestFormatScaled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v     int64
		scale int
		want  string
	}{{0, 2, "0.00"}, {5, 2, "0.05"}, {-5, 2, "-0.05"}, {12345, 2, "123.45"}, {7, 0, "7"}, {-1, 6, "-0.000001"}} {
		if got := formatScaled(big.NewInt(tc.v), tc.scale); got != tc.want {
			t.Errorf("formatScaled(%d, %d) = %s, want %s", tc.v, tc.scale, got, tc.want)
		}
	}
}

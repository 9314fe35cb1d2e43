package files

import (
	"bytes"
	"context"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

func readParquet(t *testing.T, path string) arrow.Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// sameFields compares the names, types and nullability of the fields of
// two schemas, ignoring metadata.
func sameFields(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.NumFields() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Nullable != fb.Nullable || !arrow.TypeEqual(fa.Type, fb.Type) {
			return false
		}
	}
	return true
}

// parquetStrings renders column col of tbl as strings: decimals at their
// scale, instants as by formatTime, booleans as true/false.
func parquetStrings(t *testing.T, tbl arrow.Table, col int) []string {
	t.Helper()
	var out []string
	for _, chunk := range tbl.Column(col).Data().Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			switch a := chunk.(type) {
			case *array.String:
				out = append(out, a.Value(i))
			case *array.Timestamp:
				out = append(out, formatTime(time.UnixMicro(int64(a.Value(i)))))
			case *array.Decimal128:
				out = append(out, a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale))
			case *array.Boolean:
				out = append(out, formatBool(a.Value(i)))
			default:
				t.Fatalf("column %d: unexpected array %T", col, chunk)
			}
		}
	}
	return out
}

func TestWriteLineItemsParquet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	items := sampleLineItems()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	if err := WriteLineItemsParquet(a, items, 2); err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(items)
	slices.Reverse(rev)
	if err := WriteLineItemsParquet(b, rev, 2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, a), readFile(t, b)) {
		t.Error("the same rows give different bytes")
	}

	tbl := readParquet(t, a)
	if !sameFields(tbl.Schema(), LineItemsArrowSchema(2)) {
		t.Errorf("schema read back:\n%s\nwant\n%s", tbl.Schema(), LineItemsArrowSchema(2))
	}

	// Every column but unit_price reads back as the CSV prints it;
	// unit_price is equal as a number.
	csvPath := filepath.Join(dir, "line_items.csv")
	if err := WriteLineItemsCSV(csvPath, items, 2); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, csvPath)[1:]
	for col := range LineItemsHeader {
		got := parquetStrings(t, tbl, col)
		var want []string
		for _, r := range recs {
			want = append(want, r[col])
		}
		if LineItemsHeader[col] == "unit_price" {
			for i := range got {
				g, _ := new(big.Rat).SetString(got[i])
				w, _ := new(big.Rat).SetString(want[i])
				if g.Cmp(w) != 0 {
					t.Errorf("row %d unit_price %s, want %s", i, got[i], want[i])
				}
			}
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("column %s (-csv +parquet):\n%s", LineItemsHeader[col], diff)
		}
	}

	pf, err := file.OpenParquetFile(a, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if got := pf.MetaData().GetCreatedBy(); got != ParquetCreatedBy {
		t.Errorf("created_by %q, want %q", got, ParquetCreatedBy)
	}
}

func TestWriteParquetRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	items := sampleLineItems()
	items[0].PeriodStart = items[0].PeriodStart.Add(time.Nanosecond)
	if err := WriteLineItemsParquet(filepath.Join(dir, "li.parquet"), items, 2); err == nil || !strings.Contains(err.Error(), "finer than a microsecond") {
		t.Errorf("error = %v, want a refused instant", err)
	}
	closes := sampleCloses()
	closes[1].RecognizedRevenue = dec("0.005")
	if err := WriteClosesParquet(filepath.Join(dir, "pc.parquet"), closes, 2); err == nil {
		t.Error("unrounded revenue accepted")
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("files left after failures: %q", got)
	}
}

func TestWriteClosesParquet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "period_closes.parquet")
	if err := WriteClosesParquet(path, sampleCloses(), 2); err != nil {
		t.Fatal(err)
	}
	tbl := readParquet(t, path)
	if !sameFields(tbl.Schema(), ClosesArrowSchema(2)) {
		t.Errorf("schema read back:\n%s", tbl.Schema())
	}
	csvPath := filepath.Join(dir, "period_closes.csv")
	if err := WriteClosesCSV(csvPath, sampleCloses(), 2); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, csvPath)[1:]
	for col := range ClosesHeader {
		var want []string
		for _, r := range recs {
			want = append(want, r[col])
		}
		if diff := cmp.Diff(want, parquetStrings(t, tbl, col)); diff != "" {
			t.Errorf("column %s (-csv +parquet):\n%s", ClosesHeader[col], diff)
		}
	}
}

// TestParquetWithPyarrow checks the Parquet files with an independent
// reader: testdata/verify_parquet.py (pyarrow).
func TestParquetWithPyarrow(t *testing.T) {
	t.Parallel()
	// find_spec does not import pyarrow, which takes seconds.
	const probe = "import importlib.util, sys; sys.exit('pyarrow not installed' if importlib.util.find_spec('pyarrow') is None else 0)"
	if out, err := exec.Command("python3", "-c", probe).CombinedOutput(); err != nil {
		msg := "python3 with pyarrow is needed for the independent Parquet check (install: pip install pyarrow): " + strings.TrimSpace(string(out)) + " " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Log(msg + "; not checked")
		return
	}
	dir := t.TempDir()
	items := sampleLineItems()
	li := filepath.Join(dir, "line_items.parquet")
	if err := WriteLineItemsParquet(li, items, 2); err != nil {
		t.Fatal(err)
	}
	amount, quantity := new(big.Int), new(big.Int)
	for _, it := range items {
		coef, pad, err := moneyDigits(it.Amount, 2)
		if err != nil {
			t.Fatal(err)
		}
		amount.Add(amount, new(big.Int).Mul(big.NewInt(coef), new(big.Int).SetUint64(schemas.Pow10(pad))))
		quantity.Add(quantity, big.NewInt(int64(it.Quantity)))
	}
	pc := filepath.Join(dir, "period_closes.parquet")
	if err := WriteClosesParquet(pc, sampleCloses(), 3); err != nil {
		t.Fatal(err)
	}
	got := runVerify(t, li, pc)

	want := strings.Join([]string{
		"file " + li,
		"rows 7",
		"column tenant string",
		"column period_start timestamp[us, tz=UTC]",
		"column period_end timestamp[us, tz=UTC]",
		"column kind string",
		"column description string",
		"column quantity decimal128(24, 6)",
		"column unit_price decimal128(38, 18)",
		"column amount decimal128(38, 2)",
		"column currency string",
		"column charged_at_purchase bool",
		"sum amount " + formatScaled(amount, 2),
		"sum quantity " + formatScaled(quantity, 6),
		"file " + pc,
	}, "\n")
	gotLi, gotPc, _ := strings.Cut(got, "\nfile "+pc+"\n")
	if diff := cmp.Diff(want, gotLi+"\nfile "+pc); diff != "" {
		t.Errorf("verify_parquet.py line_items (-want +got):\n%s", diff)
	}
	if got, wantSum := formatScaled(amount, 2), "9223372107.23"; got != wantSum {
		t.Errorf("Go amount sum %s, want %s", got, wantSum)
	}
	for _, line := range []string{"rows 3", "column rollover_in decimal128(24, 6)", "column recognized_revenue decimal128(38, 3)", "column period_end timestamp[us, tz=UTC]"} {
		if !strings.Contains(gotPc+"\n", line+"\n") {
			t.Errorf("verify_parquet.py period_closes: no line %q in\n%s", line, gotPc)
		}
	}
}

func runVerify(t *testing.T, paths ...string) string {
	t.Helper()
	args := append([]string{filepath.Join("testdata", "verify_parquet.py")}, paths...)
	out, err := exec.Command("python3", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("verify_parquet.py: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

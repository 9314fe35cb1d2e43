package clickhouse

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// TestPresize: presize reaches the buffers of clickhouse-go's String and
// integer columns, so that appending the values it was given to a fresh
// column allocates them once instead of growing step by step, and the
// values still arrive intact. Should a new clickhouse-go version rename
// its fields, this fails (the inserts would still work, only slower).
func TestPresize(t *testing.T) {
	strs := make([]string, 5000)
	ints := make([]int64, 5000)
	for i := range strs {
		strs[i] = string(rune('a'+i%26)) + "-value"
		ints[i] = int64(i) * 3
	}
	for _, tc := range []struct {
		typ  column.Type
		vals any
	}{{"String", strs}, {"Int64", ints}} {
		var col column.Interface
		fill := func(sized bool) func() {
			return func() {
				var err error
				if col, err = tc.typ.Column("c", nil); err != nil {
					t.Fatal(err)
				}
				if sized && !presize(col, tc.vals, nil) {
					t.Fatalf("%s: presize found no buffer to size", tc.typ)
				}
				if _, err := col.Append(tc.vals); err != nil {
					t.Fatal(err)
				}
			}
		}
		plain, sized := testing.AllocsPerRun(5, fill(false)), testing.AllocsPerRun(5, fill(true))
		t.Logf("%s: %v allocations without presize, %v with", tc.typ, plain, sized)
		if sized > plain-8 {
			t.Errorf("%s: %v allocations with presize, %v without; want far fewer", tc.typ, sized, plain)
		}
		if col.Rows() != 5000 || col.Row(4999, false) != map[column.Type]any{"String": strs[4999], "Int64": ints[4999]}[tc.typ] {
			t.Errorf("%s: %d rows, last %v", tc.typ, col.Rows(), col.Row(4999, false))
		}
	}
	// A column kind presize does not know is left alone.
	col, err := column.Type("Array(String)").Column("c", nil)
	if err != nil {
		t.Fatal(err)
	}
	if presize(col, [][]string{{"a"}}, nil) {
		t.Error("presize claims to have sized an Array(String) column")
	}
}

// TestBuffersReuse: the buffers of a column given back after an insert are
// what the next insert of that column appends into, so it allocates no
// column buffer; the values are still the new ones.
func TestBuffersReuse(t *testing.T) {
	strs, ints := make([]string, 5000), make([]int64, 5000)
	for i := range strs {
		strs[i], ints[i] = fmt.Sprint("value-", i), int64(i)
	}
	var bufs buffers
	for _, tc := range []struct {
		typ  column.Type
		vals any
		last any
	}{{"String", strs, strs[4999]}, {"Int64", ints, ints[4999]}} {
		insert := func(reuse bool) column.Interface {
			col, err := tc.typ.Column("c", nil)
			if err != nil {
				t.Fatal(err)
			}
			var sp any
			if reuse {
				sp = bufs.take("t", "c")
			}
			presize(col, tc.vals, sp)
			if _, err := col.Append(tc.vals); err != nil {
				t.Fatal(err)
			}
			if reuse {
				bufs.give("t", "c", col)
			}
			return col
		}
		insert(true)
		fresh, reused := allocated(func() { insert(false) }), allocated(func() { insert(true) })
		t.Logf("%s: %d bytes allocated with fresh buffers, %d reusing them", tc.typ, fresh, reused)
		if reused*3 > fresh {
			t.Errorf("%s: %d bytes allocated reusing buffers, %d without; want far fewer", tc.typ, reused, fresh)
		}
		if col := insert(true); col.Rows() != 5000 || col.Row(4999, false) != tc.last {
			t.Errorf("%s: %d rows, last %v", tc.typ, col.Rows(), col.Row(4999, false))
		}
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

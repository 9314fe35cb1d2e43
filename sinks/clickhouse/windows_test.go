package clickhouse

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

func TestWriteWindowDeltasCommittedOffset(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	if _, _, ok, err := c.CommittedOffset(ctx, "usage", 0); err != nil || ok {
		t.Fatalf("CommittedOffset before any write = ok %v, %v", ok, err)
	}
	wm := ts("2024-03-01T10:05:00.123456789Z")
	r1 := Range{Topic: "usage", Partition: 0, First: 0, Last: 41, Watermark: wm}
	if err := c.WriteWindowDeltas(ctx, r1, []schemas.WindowTotal{
		wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, 3, "0.000001", "0.000001", false),
	}); err != nil {
		t.Fatal(err)
	}
	last, gotWM, ok, err := c.CommittedOffset(ctx, "usage", 0)
	if err != nil || !ok || last != 41 || !gotWM.Equal(wm) {
		t.Fatalf("CommittedOffset = %d, %s, %v, %v; want 41, %s", last, gotWM, ok, err, wm)
	}
	// A range with no counted event still advances the offset.
	wm2 := wm.Add(time.Second)
	if err := c.WriteWindowDeltas(ctx, Range{Topic: "usage", Partition: 0, First: 42, Last: 50, Watermark: wm2}, nil); err != nil {
		t.Fatal(err)
	}
	if last, gotWM, ok, err = c.CommittedOffset(ctx, "usage", 0); err != nil || !ok || last != 50 || !gotWM.Equal(wm2) {
		t.Fatalf("CommittedOffset after a marker-only range = %d, %s, %v, %v; want 50", last, gotWM, ok, err)
	}
	// Other partitions and topics are independent.
	if _, _, ok, _ := c.CommittedOffset(ctx, "usage", 1); ok {
		t.Error("partition 1 has an offset")
	}
	if _, _, ok, _ := c.CommittedOffset(ctx, "other", 0); ok {
		t.Error("topic other has an offset")
	}
	// A gap (offsets removed by compaction or transaction markers) is fine.
	if err := c.WriteWindowDeltas(ctx, Range{Topic: "usage", Partition: 0, First: 60, Last: 60}, []schemas.WindowTotal{
		wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, 1, "1", "1", true),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := c.WindowTotals(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.WindowTotal{wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, 4, "1.000001", "1.000001", false)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("WindowTotals (-want +got):\n%s", d)
	}
	// UsageSince through the Client.
	type usage struct {
		tenant  string
		bucket  time.Time
		credits schemas.Micros
	}
	var us []usage
	if err := c.UsageSince(ctx, nil, time.Time{}, func(tenant string, bucket time.Time, credits schemas.Micros) error {
		us = append(us, usage{tenant, bucket, credits})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]usage{{"t1", ts("2024-03-01T10:00:00Z"), m("1.000001")}}, us, cmp.AllowUnexported(usage{})); d != "" {
		t.Errorf("UsageSince (-want +got):\n%s", d)
	}
	if err := c.UsageSince(ctx, []string{}, time.Time{}, func(string, time.Time, schemas.Micros) error {
		t.Error("UsageSince with no tenants called fn")
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestSameRangeTwice shows what happens if an offset range is written again.
// The consumer never does this (it seeks to CommittedOffset+1), but a stale
// consumer might.
func TestSameRangeTwice(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	r := Range{Topic: "usage", Partition: 3, First: 100, Last: 199, Watermark: ts("2024-03-01T10:05:00Z")}
	deltas := []schemas.WindowTotal{
		wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, 2, "2", "0.000002", false),
		wt("t2", "tokens", "gpt", "2024-03-01T10:01:00Z", time.Minute, 1, "1", "1", false),
	}
	if err := c.WriteWindowDeltas(ctx, r, deltas); err != nil {
		t.Fatal(err)
	}
	want, err := c.WindowTotals(ctx, "")
	if err != nil {
		t.Fatal(err)
	}

	// 1. Through the API: refused, nothing written. An overlapping range
	// is refused the same way.
	for _, again := range []Range{r, {Topic: "usage", Partition: 3, First: 150, Last: 250}} {
		err := c.WriteWindowDeltas(ctx, again, deltas)
		if !errors.Is(err, ErrRangeCommitted) {
			t.Errorf("WriteWindowDeltas(%s) again = %v, want ErrRangeCommitted", again, err)
		}
	}

	// 2. Two writers racing past that check (two consumers owning the
	// partition at once): both inserts land, and the identical copies
	// collapse, because a range holds one row per window and the views
	// read with FINAL. Totals count the range once, before and after merges.
	in, err := windowInsert([]RangeDeltas{{Range: r, Deltas: deltas}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.send(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"before merge", "after OPTIMIZE FINAL"} {
		got, err := c.WindowTotals(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: totals after a duplicate range (-want +got):\n%s", stage, d)
		}
		if last, _, _, _ := c.CommittedOffset(ctx, "usage", 3); last != 199 {
			t.Errorf("%s: CommittedOffset = %d, want 199", stage, last)
		}
		if err := c.conn.Exec(ctx, "OPTIMIZE TABLE "+c.db+".window_deltas FINAL"); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := nativeText{c.conn}.text(ctx, "SELECT count() FROM "+c.db+".window_deltas")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "3" {
		t.Errorf("after merge window_deltas holds %s rows, want 3 (2 windows + marker)", rows[0][0])
	}
}

func TestWriteWindowDeltasRefuses(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	ok := wt("t1", "m", "", "2024-03-01T10:00:00Z", time.Minute, 1, "1", "1", false)
	frac := ok
	frac.Start = frac.Start.Add(time.Millisecond)
	noTenant := ok
	noTenant.Tenant = ""
	backwards := ok
	backwards.End = backwards.Start
	old := ok
	old.Start, old.End = ts("1969-12-31T23:59:00Z"), ts("1970-01-01T00:00:00Z")
	good := Range{Topic: "usage", Partition: 0, First: 0, Last: 0}
	tests := []struct {
		name   string
		r      Range
		deltas []schemas.WindowTotal
		want   string
	}{
		{"empty topic", Range{Partition: 0, First: 0, Last: 1}, nil, "empty topic"},
		{"negative partition", Range{Topic: "u", Partition: -1}, nil, "negative partition"},
		{"backwards range", Range{Topic: "u", First: 5, Last: 4}, nil, "not a range"},
		{"fractional window", good, []schemas.WindowTotal{frac}, "fraction of a second"},
		{"empty tenant", good, []schemas.WindowTotal{noTenant}, "empty tenant"},
		{"empty window", good, []schemas.WindowTotal{backwards}, "not after its start"},
		{"before 1970", good, []schemas.WindowTotal{old}, "range of DateTime"},
	}
	for _, tt := range tests {
		err := c.WriteWindowDeltas(ctx, tt.r, tt.deltas)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
	if _, _, stored, err := c.CommittedOffset(ctx, "usage", 0); err != nil || stored {
		t.Errorf("a refused write stored something: %v %v", stored, err)
	}
	many := make([]schemas.WindowTotal, MaxRangeRows)
	for i := range many {
		many[i] = ok
		many[i].Start = ok.Start.Add(time.Duration(i) * time.Minute)
		many[i].End = many[i].Start.Add(time.Minute)
	}
	if err := c.WriteWindowDeltas(ctx, good, many); !errors.Is(err, ErrTooManyRows) {
		t.Errorf("%d windows: err = %v, want ErrTooManyRows", len(many), err)
	}
}

// TestWriteRanges: ranges of several partitions in one atomic insert, the
// committed offsets read back in one query, and an overlap refused whole.
func TestWriteRanges(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	wm := ts("2024-03-01T10:05:00Z")
	d := func(tenant string, n int64) []schemas.WindowTotal {
		return []schemas.WindowTotal{wt(tenant, "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, n, "1", "0.5", false)}
	}
	if err := c.WriteRanges(ctx, []RangeDeltas{
		{Range{Topic: "usage", Partition: 0, First: 0, Last: 9, Watermark: wm}, d("t1", 2)},
		{Range{Topic: "usage", Partition: 0, First: 10, Last: 19, Watermark: wm}, append(d("t1", 1), d("t2", 1)...)},
		{Range{Topic: "usage", Partition: 3, First: 100, Last: 104, Watermark: wm}, nil},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CommittedOffsets(ctx, "usage")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[int32]int64{0: 19, 3: 104}, got); d != "" {
		t.Errorf("CommittedOffsets (-want +got):\n%s", d)
	}
	// Partition 3 is fine, partition 0 overlaps: nothing is written.
	err = c.WriteRanges(ctx, []RangeDeltas{
		{Range{Topic: "usage", Partition: 3, First: 105, Last: 110, Watermark: wm}, d("t3", 1)},
		{Range{Topic: "usage", Partition: 0, First: 15, Last: 30, Watermark: wm}, d("t1", 5)},
	})
	if !errors.Is(err, ErrRangeCommitted) {
		t.Fatalf("overlapping WriteRanges = %v, want ErrRangeCommitted", err)
	}
	// Ranges out of order within one call are refused too.
	if err := c.WriteRanges(ctx, []RangeDeltas{
		{Range{Topic: "usage", Partition: 5, First: 10, Last: 19, Watermark: wm}, nil},
		{Range{Topic: "usage", Partition: 5, First: 0, Last: 9, Watermark: wm}, nil},
	}); !errors.Is(err, ErrRangeCommitted) {
		t.Fatalf("out-of-order WriteRanges = %v, want ErrRangeCommitted", err)
	}
	totals, err := c.WindowTotals(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.WindowTotal{
		wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, 3, "2", "1", false),
		wt("t2", "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, 1, "1", "0.5", false),
	}
	if d := cmp.Diff(want, totals); d != "" {
		t.Errorf("window totals (-want +got):\n%s", d)
	}
}

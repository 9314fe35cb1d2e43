package clickhouse

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

type eventID struct {
	Tenant, ID string
	Time       time.Time
	Digest     uint64
}

func TestRawEventsRewriteAndEventIDs(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	if err := c.WriteRawEvents(ctx, fixtureEvents); err != nil {
		t.Fatal(err)
	}
	// The consumer crashed after writing raw events but before the
	// deltas; after restart it writes the same events again.
	if err := c.WriteRawEvents(ctx, fixtureEvents[:3]); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteRawEvents(ctx, nil); err != nil {
		t.Errorf("WriteRawEvents(nil) = %v", err)
	}
	ids := func(partition int32, maxOffset int64, since time.Time) []eventID {
		t.Helper()
		var out []eventID
		if err := c.EventIDs(ctx, "usage", partition, maxOffset, since, func(tenant, id string, at time.Time, digest uint64) error {
			out = append(out, eventID{tenant, id, at, digest})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	e := func(i int) eventID {
		ev := fixtureEvents[i]
		return eventID{ev.Tenant, ev.ID, ev.Time, ev.Digest}
	}
	tests := []struct {
		name      string
		partition int32
		maxOffset int64
		since     time.Time
		want      []eventID
	}{
		{"everything, once, full precision", 0, 100, time.Time{}, []eventID{e(0), e(1), e(2), e(3)}},
		{"up to the committed offset", 0, 1, time.Time{}, []eventID{e(0), e(1)}},
		{"nothing committed yet", 0, -1, time.Time{}, nil},
		{"since, to the nanosecond", 0, 100, ts("2024-03-01T10:00:01.123456789Z"), []eventID{e(0), e(1), e(2)}},
		{"since one nanosecond after an event excludes it", 0, 100, ts("2024-03-01T10:00:01.12345679Z"), []eventID{e(1), e(2)}},
		{"other partition", 1, 100, time.Time{}, []eventID{e(4)}},
	}
	for _, tt := range tests {
		if d := cmp.Diff(tt.want, ids(tt.partition, tt.maxOffset, tt.since)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
	// The copies also collapse in storage once merged.
	if err := c.conn.Exec(ctx, "OPTIMIZE TABLE "+c.db+".raw_events FINAL"); err != nil {
		t.Fatal(err)
	}
	rows, err := nativeText{c.conn}.text(ctx, "SELECT count(), sum(quantity_micros) FROM "+c.db+".raw_events")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([][]string{{"5", "5000000"}}, rows); d != "" {
		t.Errorf("raw_events after merge (-want +got):\n%s", d)
	}

	bad := fixtureEvents[0]
	bad.Time = time.Time{}
	if err := c.WriteRawEvents(ctx, []RawEvent{bad}); err == nil || !strings.Contains(err.Error(), "zero time") {
		t.Errorf("WriteRawEvents with a zero time = %v", err)
	}
}

// TestRawEventsRange: RawEvents reads an offset range of one partition in
// offset order, once per event even when it was written twice.
func TestRawEventsRange(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	var rows []RawEvent
	for o := int64(0); o < 12; o++ {
		rows = append(rows, RawEvent{Topic: "usage", Partition: int32(o % 2), Offset: o, Tenant: "t", ID: "e" + itoa(o),
			Meter: "tokens", Quantity: schemas.Micros(o), Credits: schemas.Micros(2 * o), Time: ts("2026-03-02T10:00:00.25Z"), Digest: uint64(o)})
	}
	for range 2 {
		if err := c.WriteRawEvents(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := c.RawEvents(ctx, "usage", 0, 2, 8, func(e RawEvent) error {
		got = append(got, fmt.Sprintf("%d %s %s %s %s", e.Offset, e.ID, e.Quantity, e.Credits, e.Time.Format(time.RFC3339Nano)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"4 e4 0.000004 0.000008 2026-03-02T10:00:00.25Z",
		"6 e6 0.000006 0.000012 2026-03-02T10:00:00.25Z",
		"8 e8 0.000008 0.000016 2026-03-02T10:00:00.25Z",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("RawEvents(0, (2, 8]) (-want +got):\n%s", d)
	}
}

package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

const benchRows = 10_000

// BenchmarkWriteWindowDeltas measures the atomic flush: each op is one
// offset range with 10,000 distinct windows (plus the marker row), including
// the committed-offset check that precedes the insert.
func BenchmarkWriteWindowDeltas(b *testing.B) {
	c := migrated(b)
	if c == nil {
		return
	}
	ctx := context.Background()
	base := ts("2024-03-01T00:00:00Z")
	deltas := make([]schemas.WindowTotal, benchRows)
	for i := range deltas {
		start := base.Add(time.Duration(i%1440) * time.Minute)
		deltas[i] = schemas.WindowTotal{
			WindowKey: schemas.WindowKey{Tenant: fmt.Sprintf("tenant-%03d", i/1440), Meter: "tokens", Model: "gpt"},
			Start:     start, End: start.Add(time.Minute), Events: 3, Quantity: 1_500_000, Credits: 1_234_567,
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var next int64
	for b.Loop() {
		r := Range{Topic: "usage", Partition: 0, First: next, Last: next + 999, Watermark: base}
		next += 1000
		if err := c.WriteWindowDeltas(ctx, r, deltas); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchRows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWriteRawEvents measures raw event inserts of 10,000 rows each.
func BenchmarkWriteRawEvents(b *testing.B) {
	c := migrated(b)
	if c == nil {
		return
	}
	ctx := context.Background()
	base := ts("2024-03-01T10:00:00.123456789Z")
	events := make([]RawEvent, benchRows)
	for i := range events {
		events[i] = RawEvent{
			Topic: "usage", Partition: 0, Tenant: fmt.Sprintf("tenant-%03d", i%100), ID: fmt.Sprintf("evt-%08d", i),
			Meter: "tokens", Model: "gpt", Quantity: 1_500_000, Credits: 1_234_567,
			Time: base.Add(time.Duration(i) * time.Millisecond), Properties: `{"region":"eu","feature":"chat"}`, Digest: uint64(i) * 0x9e3779b97f4a7c15,
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var offset int64
	for b.Loop() {
		for i := range events {
			events[i].Offset = offset
			offset++
		}
		if err := c.WriteRawEvents(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchRows)/b.Elapsed().Seconds(), "rows/s")
}

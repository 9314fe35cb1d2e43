package billing

import (
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/alert"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/loadgen"
	"github.com/creditflow/creditflow/pipeline/partition"
)

// coreMix is BenchmarkCore's mix: the catalog and the records of 200k
// events over 10k tenants, 2 % duplicates, 5 % out of order.
func coreMix(b *testing.B) (*catalog.Catalog, [][]byte) {
	b.Helper()
	cfg := loadgen.Config{Seed: 11, Events: 200_000, Tenants: 10000, Duplicates: 0.02, OutOfOrder: 0.05, Rate: 20000}
	cat, err := catalog.Parse("generated.yaml", loadgen.CatalogYAML(cfg))
	if err != nil {
		b.Fatal(err)
	}
	g, err := loadgen.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var recs [][]byte
	for {
		r, ok := g.Next(nil)
		if !ok {
			return cat, recs
		}
		recs = append(recs, r)
	}
}

// benchBook returns a fresh book over cat, with runaway detection in mode
// "runaway" only.
func benchBook(b *testing.B, cat *catalog.Catalog, mode string) *Book {
	b.Helper()
	book, err := New(Config{NoRunaway: mode != "runaway"}, cat)
	if err != nil {
		b.Fatal(err)
	}
	return book
}

// BenchmarkCoreWithAlerts runs the core mix of BenchmarkCore (10k tenants,
// 2 % duplicates, 5 % out of order) through the partition processor and
// then, per counted event, through the book: ledger, thresholds, caps and
// entitlements ("thresholds"), plus runaway detection ("runaway"). Compare
// with "core" to see what live alerting costs per event.
func BenchmarkCoreWithAlerts(b *testing.B) {
	cat, recs := coreMix(b)
	var err error
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, mode := range []string{"core", "thresholds", "runaway"} {
		b.Run(mode, func(b *testing.B) {
			var p *partition.Processor
			var book *Book
			var out Output
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if i%len(recs) == 0 {
					b.StopTimer()
					if p, err = partition.New(partition.Config{WatermarkClock: true}, cat); err != nil {
						b.Fatal(err)
					}
					book = benchBook(b, cat, mode)
					b.StartTimer()
				}
				r := p.Process(recs[i%len(recs)], now)
				if r.Outcome != partition.Counted || mode == "core" {
					continue
				}
				ev := r.Event
				if err := book.Count(alert.Usage{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model, Time: ev.Time, Credits: r.Credits}, &out); err != nil {
					b.Fatal(err)
				}
				out.Reset()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkCount measures the book alone: the core mix of
// BenchmarkCoreWithAlerts is decoded, rated and deduplicated once up front,
// and only its counted events go through Book.Count (ledger, thresholds,
// caps and entitlements; plus runaway detection in "runaway"). A fresh book
// is built, off the clock, after each pass over the events, so every pass
// also meets each tenant for the first time.
func BenchmarkCount(b *testing.B) {
	cat, recs := coreMix(b)
	p, err := partition.New(partition.Config{WatermarkClock: true}, cat)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	var usage []alert.Usage
	for _, rec := range recs {
		r := p.Process(rec, now)
		if r.Outcome != partition.Counted {
			continue
		}
		ev := r.Event
		usage = append(usage, alert.Usage{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model, Time: ev.Time, Credits: r.Credits})
	}
	if len(usage) == 0 {
		b.Fatal("no counted events")
	}
	for _, mode := range []string{"thresholds", "runaway"} {
		b.Run(mode, func(b *testing.B) {
			var book *Book
			var out Output
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if i%len(usage) == 0 {
					b.StopTimer()
					book = benchBook(b, cat, mode)
					b.StartTimer()
				}
				if err := book.Count(usage[i%len(usage)], &out); err != nil {
					b.Fatal(err)
				}
				out.Reset()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

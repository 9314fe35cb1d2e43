package partition

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/loadgen"
	"github.com/creditflow/creditflow/schemas"
)

// coreMix is the realistic in-memory mix of the core benchmark: 10k tenants
// with Zipf sizes, ~200-byte events, 2 % duplicates, 5 % out of order.
func coreMix(tb testing.TB, n int) (*catalog.Catalog, [][]byte) {
	tb.Helper()
	cfg := loadgen.Config{Seed: 11, Events: int64(n), Tenants: 10000, Duplicates: 0.02, OutOfOrder: 0.05, Rate: 20000}
	cat, err := catalog.Parse("generated.yaml", loadgen.CatalogYAML(cfg))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := loadgen.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	var recs [][]byte
	for {
		b, ok := g.Next(nil)
		if !ok {
			break
		}
		recs = append(recs, b)
	}
	return cat, recs
}

// BenchmarkCore measures decode → validate → dedup → rate → window on one
// core, the way replay drives it (Advance whenever the watermark moves).
func BenchmarkCore(b *testing.B) {
	cat, recs := coreMix(b, 200_000)
	var bytes int
	for _, r := range recs {
		bytes += len(r)
	}
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC) // after the mix, so nothing is too_far_future
	b.SetBytes(int64(bytes / len(recs)))
	b.ReportAllocs()
	var out []schemas.WindowTotal
	var p *Processor
	var counted int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(recs) == 0 {
			b.StopTimer()
			var err error
			if p, err = New(Config{WatermarkClock: true}, cat); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		r := p.Process(recs[i%len(recs)], now)
		if r.Outcome == Counted {
			counted++
			if i&1023 == 0 {
				out = p.Advance(out[:0])
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if counted == 0 {
		b.Fatal("nothing counted")
	}
}

// BenchmarkCoreStdlibDecode decodes the same records with plain
// encoding/json into an equivalent struct, so the ratio to BenchmarkCore
// (which does far more than decode) is visible.
func BenchmarkCoreStdlibDecode(b *testing.B) {
	_, recs := coreMix(b, 200_000)
	type event struct {
		ID         string          `json:"id"`
		Tenant     string          `json:"tenant"`
		Meter      string          `json:"meter"`
		Model      string          `json:"model"`
		Quantity   json.Number     `json:"quantity"`
		Time       time.Time       `json:"time"`
		Properties json.RawMessage `json:"properties"`
	}
	b.ReportAllocs()
	var ev event
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev = event{}
		_ = json.Unmarshal(recs[i%len(recs)], &ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

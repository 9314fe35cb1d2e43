package window

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// BenchmarkAdd feeds 10k tenants × 3 meters × 2 models (60k series) with
// event times advancing by step per event, 5% of them out of order by up to
// 30s (so some land beyond the 10s out-of-orderness and become
// corrections), and calls Advance every 4096 events, as the partition
// processor does. With a step of 10µs a series gets about 100 events per
// 1-minute window; with 1ms, about 1, so nearly every event opens a window.
func BenchmarkAdd(b *testing.B) {
	for _, step := range []time.Duration{10 * time.Microsecond, time.Millisecond} {
		b.Run("step="+step.String(), func(b *testing.B) { benchAdd(b, step) })
	}
}

func benchAdd(b *testing.B, step time.Duration) {
	// As from the decoder: interned strings, the headers at hand.
	tenants := make([]string, 10_000)
	for t := range tenants {
		tenants[t] = "tenant-" + strconv.Itoa(t)
	}
	meters := []string{"tokens_in", "tokens_out", "calls"}
	models := []string{"large", "small"}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1 << 20
	type pick struct{ tenant, meter, model int32 }
	picks := make([]pick, n)
	delays := make([]time.Duration, n)
	for i := range picks {
		picks[i] = pick{int32(rng.IntN(len(tenants))), int32(rng.IntN(len(meters))), int32(rng.IntN(len(models)))}
		if rng.IntN(100) < 5 {
			delays[i] = time.Duration(rng.Int64N(int64(30 * time.Second)))
		}
	}
	series := len(tenants) * len(meters) * len(models)
	w := mustNew(b, Config{})
	out := make([]schemas.WindowTotal, 0, 1<<16)
	at, maxT := t0, t0
	var rows int
	runN := func(count int) {
		for i := range count {
			j := i & (n - 1)
			at = at.Add(step)
			et := at.Add(-delays[j])
			p := picks[j]
			w.Add(schemas.WindowKey{Tenant: tenants[p.tenant], Meter: meters[p.meter], Model: models[p.model]}, et, 1_500_000, 2_250_000)
			if et.After(maxT) {
				maxT = et
			}
			if i&4095 == 4095 {
				out = w.Advance(Watermark(maxT, w.OutOfOrder()), out[:0])
				rows += len(out)
			}
		}
	}
	// Warm up through two window emissions, so that tables and scratch
	// space have reached their steady size.
	runN(max(2*series, int(2*time.Minute/step)))
	rows = 0
	b.ReportAllocs()
	b.ResetTimer()
	runN(b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/event")
	b.ReportMetric(float64(w.Open()), "open")
}

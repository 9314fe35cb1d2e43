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
//
// The handles variant calls AddSeries with a Series handle kept per key, as
// the partition processor does, instead of Add.
func BenchmarkAdd(b *testing.B) {
	for _, handles := range []bool{false, true} {
		for _, step := range []time.Duration{10 * time.Microsecond, time.Millisecond} {
			name := "step=" + step.String()
			if handles {
				name = "handles/" + name
			}
			b.Run(name, func(b *testing.B) { benchAdd(b, step, handles) })
		}
	}
}

func benchAdd(b *testing.B, step time.Duration, handles bool) {
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
	keys := make([]schemas.WindowKey, series)
	for t := range tenants {
		for m := range meters {
			for o := range models {
				keys[(t*len(meters)+m)*len(models)+o] = schemas.WindowKey{Tenant: tenants[t], Meter: meters[m], Model: models[o]}
			}
		}
	}
	hs := make([]Series, series)
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
			if k := (int(p.tenant)*len(meters)+int(p.meter))*len(models) + int(p.model); handles {
				w.AddSeries(&hs[k], &keys[k], et.UnixNano(), 1_500_000, 2_250_000)
			} else {
				w.Add(keys[k], et, 1_500_000, 2_250_000)
			}
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

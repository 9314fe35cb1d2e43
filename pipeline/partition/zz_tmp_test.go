package partition

import (
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/dedup"
	"github.com/creditflow/creditflow/schemas"
)

func BenchmarkZZDecode(b *testing.B) {
	_, recs := coreMix(b, 200_000)
	d := schemas.NewDecoder()
	var ev schemas.UsageEvent
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(recs) == 0 {
			d = schemas.NewDecoder()
		}
		_ = d.DecodeUsage(recs[i%len(recs)], &ev)
	}
}

func BenchmarkZZTouch(b *testing.B) {
	_, recs := coreMix(b, 200_000)
	var s byte
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[i%len(recs)]
		for j := 0; j < len(r); j += 64 {
			s += r[j]
		}
		s += r[len(r)-1]
	}
	_ = s
}

func BenchmarkZZDedup(b *testing.B) {
	_, recs := coreMix(b, 200_000)
	d := schemas.NewDecoder()
	evs := make([]schemas.UsageEvent, len(recs))
	for i, r := range recs {
		_ = d.DecodeUsage(r, &evs[i])
		evs[i] = evs[i].Clone()
	}
	var seen *dedup.Set
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(recs) == 0 {
			seen, _ = dedup.New(dedup.Config{})
		}
		ev := &evs[i%len(recs)]
		seen.Check(ev.Tenant, ev.ID, ev.Time, uint64(i))
	}
}

func BenchmarkZZProcessNoDedupWindow(b *testing.B) {
	cat, recs := coreMix(b, 200_000)
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	var p *Processor
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(recs) == 0 {
			p, _ = New(Config{WatermarkClock: true}, cat)
		}
		p.Process(recs[i%len(recs)], now)
	}
}

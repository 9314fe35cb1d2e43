package catalog

import (
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	t.Parallel()
	c := loadDemo(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		meter, model string
		at           time.Time
		want         string // "" = not found
	}{
		{"model rate before the change", "tokens_in", "large-v2", ts("2026-06-30T23:59:59.999999999Z"), "0.003"},
		{"exactly at effective_from", "tokens_in", "large-v2", ts("2026-07-01T00:00:00Z"), "0.0025"},
		{"same instant in another zone", "tokens_in", "large-v2", ts("2026-07-01T00:00:00Z").In(berlin), "0.0025"},
		{"first rate exactly at its start", "tokens_in", "small-v1", ts("2025-01-01T00:00:00Z"), "0.0002"},
		{"model not yet in force falls back to *", "tokens_in", "large-v3", ts("2026-06-15T12:00:00Z"), "0.001"},
		{"model in force", "tokens_in", "large-v3", ts("2026-07-01T00:00:00Z"), "0.004"},
		{"unknown model uses *", "tokens_in", "mystery", ts("2026-08-01T00:00:00Z"), "0.0008"},
		{"no model uses *", "tokens_in", "", ts("2026-03-01T00:00:00Z"), "0.001"},
		{"explicit * model", "tokens_in", "*", ts("2026-07-01T00:00:00Z"), "0.0008"},
		{"nothing in force yet", "tokens_in", "large-v2", ts("2024-12-31T23:59:59Z"), ""},
		{"* only from 2025", "tokens_in", "", ts("2024-06-01T00:00:00Z"), ""},
		{"far future keeps the latest", "tokens_out", "large-v2", ts("3000-01-01T00:00:00Z"), "0.01"},
		{"far past", "tokens_out", "large-v2", ts("0001-01-01T00:00:00Z"), ""},
		{"no * rate: known model", "compute_seconds", "gpu-a100", ts("2026-01-01T00:00:00Z"), "2.5"},
		{"no * rate: model not yet in force", "compute_seconds", "gpu-h100", ts("2026-02-28T23:59:59Z"), ""},
		{"no * rate: model in force", "compute_seconds", "gpu-h100", ts("2026-03-01T00:00:00Z"), "4.25"},
		{"no * rate: unknown model", "compute_seconds", "tpu", ts("2026-03-01T00:00:00Z"), ""},
		{"no * rate: no model", "compute_seconds", "", ts("2026-03-01T00:00:00Z"), ""},
		{"YAML number stays exact", "api_calls", "", ts("2026-03-01T00:00:00Z"), "0.1"},
		{"unknown meter", "videos", "", ts("2026-03-01T00:00:00Z"), ""},
	} {
		got, ok := c.Rate(tc.meter, tc.model, tc.at)
		switch {
		case tc.want == "" && ok:
			t.Errorf("%s: Rate(%s, %s, %s) = %s, want not found", tc.name, tc.meter, tc.model, tc.at, got)
		case tc.want != "" && (!ok || got != dec(tc.want)):
			t.Errorf("%s: Rate(%s, %s, %s) = %v, %v, want %s", tc.name, tc.meter, tc.model, tc.at, got, ok, tc.want)
		}
	}
}

func TestRateDoesNotAllocate(t *testing.T) {
	c := loadDemo(t)
	at := ts("2026-07-15T10:00:00Z")
	allocs := testing.AllocsPerRun(100, func() {
		c.Rate("tokens_in", "large-v3", at)
		c.Rate("tokens_in", "mystery", at)
		c.Rate("compute_seconds", "", at)
	})
	if allocs != 0 {
		t.Errorf("Rate allocates %.1f times per call", allocs)
	}
}

func BenchmarkRate(b *testing.B) {
	c := loadDemo(b)
	models := []string{"large-v2", "large-v3", "small-v1", "", "mystery"}
	base := ts("2026-01-01T00:00:00Z")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		at := base.Add(time.Duration(n%400) * 24 * time.Hour)
		if _, ok := c.Rate("tokens_in", models[n%len(models)], at); !ok {
			b.Fatal("no rate")
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

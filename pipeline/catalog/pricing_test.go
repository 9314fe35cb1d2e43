package catalog

import (
	"math"
	"testing"
	"time"
)

// TestPricingMatchesRate checks that a resolved Pricing prices every
// (meter, model, time) exactly as Rate does, in nanoseconds as in time.
func TestPricingMatchesRate(t *testing.T) {
	t.Parallel()
	c := loadDemo(t)
	meters := []string{"tokens_in", "tokens_out", "compute_seconds", "api_calls", "videos", ""}
	models := []string{"", AnyModel, "large-v2", "large-v3", "small-v1", "gpu-a100", "gpu-h100", "mystery"}
	times := []time.Time{
		{}, ts("0001-01-01T00:00:00Z"), ts("1600-01-01T00:00:00Z"), ts("2024-12-31T23:59:59Z"),
		ts("2025-01-01T00:00:00Z"), ts("2026-02-28T23:59:59Z"), ts("2026-03-01T00:00:00Z"),
		ts("2026-06-30T23:59:59.999999999Z"), ts("2026-07-01T00:00:00Z"), ts("3000-01-01T00:00:00Z"),
	}
	for _, meter := range meters {
		for _, model := range models {
			p := c.Pricing(meter, model)
			for _, at := range times {
				want, wantOK := c.Rate(meter, model, at)
				if got, ok := p.At(at); ok != wantOK || got != want {
					t.Errorf("Pricing(%q, %q).At(%s) = %v, %v; Rate says %v, %v", meter, model, at, got, ok, want, wantOK)
				}
				if at.Before(ts("1700-01-01T00:00:00Z")) || at.After(ts("2200-01-01T00:00:00Z")) {
					continue
				}
				if got, ok := p.AtUnixNano(at.UnixNano()); ok != wantOK || got != want {
					t.Errorf("Pricing(%q, %q).AtUnixNano(%d) = %v, %v; Rate says %v, %v", meter, model, at.UnixNano(), got, ok, want, wantOK)
				}
			}
			// The clamped ends of the nanosecond range.
			if got, ok := p.AtUnixNano(math.MinInt64); ok {
				t.Errorf("Pricing(%q, %q).AtUnixNano(MinInt64) = %v, want none", meter, model, got)
			}
			want, wantOK := c.Rate(meter, model, ts("9999-01-01T00:00:00Z"))
			if got, ok := p.AtUnixNano(math.MaxInt64); ok != wantOK || got != want {
				t.Errorf("Pricing(%q, %q).AtUnixNano(MaxInt64) = %v, %v; Rate in 9999 says %v, %v", meter, model, got, ok, want, wantOK)
			}
		}
	}
	if p := (Pricing{}); p != c.Pricing("videos", "") {
		t.Errorf("Pricing of an unknown meter is not the zero Pricing")
	}
}

// TestSpanUnixNano checks that SpanUnixNano answers as AtUnixNano and that
// the answer holds over the whole interval it returns, at its ends and
// inside.
func TestSpanUnixNano(t *testing.T) {
	t.Parallel()
	c := loadDemo(t)
	var points []int64
	for _, r := range c.Rates {
		ns := r.EffectiveFrom.UnixNano()
		points = append(points, ns-1, ns, ns+1)
	}
	points = append(points, math.MinInt64, math.MinInt64+1, 0, math.MaxInt64-1)
	for _, meter := range []string{"tokens_in", "tokens_out", "compute_seconds", "api_calls", "videos"} {
		for _, model := range []string{"", AnyModel, "large-v2", "large-v3", "small-v1", "gpu-a100", "gpu-h100", "mystery"} {
			p := c.Pricing(meter, model)
			for _, ns := range points {
				want, wantOK := p.AtUnixNano(ns)
				got, ok, from, until := p.SpanUnixNano(ns)
				if got != want || ok != wantOK {
					t.Fatalf("Pricing(%q, %q).SpanUnixNano(%d) = %v, %v; AtUnixNano says %v, %v", meter, model, ns, got, ok, want, wantOK)
				}
				if from > ns || ns >= until {
					t.Fatalf("Pricing(%q, %q).SpanUnixNano(%d): interval [%d, %d) misses it", meter, model, ns, from, until)
				}
				step := max(1, uint64(until-from)/7)
				for x := from; ; {
					if d, ok := p.AtUnixNano(x); d != got || ok != wantOK {
						t.Fatalf("Pricing(%q, %q): [%d, %d) from %d, but AtUnixNano(%d) = %v, %v", meter, model, from, until, ns, x, d, ok)
					}
					if uint64(until-1-x) < step {
						if x == until-1 {
							break
						}
						x = until - 1
						continue
					}
					x += int64(step)
				}
			}
		}
	}
}

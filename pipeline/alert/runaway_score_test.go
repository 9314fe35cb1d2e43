package alert

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/loadgen"
	"github.com/creditflow/creditflow/schemas"
)

// TestRunawayScore runs the detector with its default config over the labeled
// runaway corpus of pipeline/loadgen (default corpus config, two seeds) and
// scores it: every step must be flagged within 3 minutes of its onset, and
// steady, cycle, blip and new tenants must raise no alert at all. Ramps are
// only reported. It logs the detection delay percentiles and the false
// alerts per tenant-month.
func TestRunawayScore(t *testing.T) {
	if testing.Short() {
		t.Log("short mode: one seed")
	}
	seeds := []uint64{1, 2}
	if testing.Short() {
		seeds = seeds[:1]
	}
	var delays []time.Duration
	var falseAlerts, ramps, rampFlagged int
	var tenantTime time.Duration
	for _, seed := range seeds {
		d, err := NewDetector(RunawayConfig{})
		if err != nil {
			t.Fatal(err)
		}
		alerts := map[string][]schemas.Alert{}
		var last time.Time
		labels, err := loadgen.Corpus(loadgen.CorpusConfig{Seed: seed}, func(ev *schemas.UsageEvent) error {
			if a, ok := d.Observe(Usage{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model, Time: ev.Time, Credits: ev.Quantity}); ok {
				alerts[a.Tenant] = append(alerts[a.Tenant], a)
			}
			last = ev.Time
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		end := last.Truncate(time.Minute).Add(time.Minute)
		for _, a := range d.Advance(end) {
			alerts[a.Tenant] = append(alerts[a.Tenant], a)
		}
		for _, l := range labels {
			got := alerts[l.Tenant]
			tenantTime += end.Sub(l.First)
			switch l.Pattern {
			case loadgen.PatternStep:
				var hit *schemas.Alert
				for i := range got {
					a := &got[i]
					switch {
					case a.Time.Before(l.Onset):
						falseAlerts++
						t.Errorf("seed %d: step tenant %s (onset %v): alert %s at %v before the onset", seed, l.Tenant, l.Onset, a.ID, a.Time)
					case hit == nil:
						hit = a
					default:
						falseAlerts++ // a second episode of the same step
						t.Logf("seed %d: step tenant %s: repeat alert %s", seed, l.Tenant, a.ID)
					}
				}
				if hit == nil {
					t.Errorf("seed %d: step tenant %s (onset %v, baseline %.2f/min): not flagged", seed, l.Tenant, l.Onset, l.Baseline)
					continue
				}
				delay := hit.Time.Sub(l.Onset)
				delays = append(delays, delay)
				if delay > 3*time.Minute {
					t.Errorf("seed %d: step tenant %s: flagged %v after the onset, want ≤ 3m", seed, l.Tenant, delay)
				}
				if len(hit.Drivers) == 0 || hit.Drivers[0].Meter != l.Meter || hit.Drivers[0].Model != l.Model {
					t.Errorf("seed %d: step tenant %s: drivers %+v, want %s/%s first", seed, l.Tenant, hit.Drivers, l.Meter, l.Model)
				}
				ratio := float64(hit.RatePerMinute) / float64(hit.BaselinePerMinute)
				base := float64(hit.BaselinePerMinute) / schemas.MicrosPerUnit
				if ratio < 7 || ratio > 14 || math.Abs(base/l.Baseline-1) > 0.25 {
					t.Errorf("seed %d: step tenant %s: rate %v, baseline %v per minute; want about 10× a baseline of %.2f", seed, l.Tenant, hit.RatePerMinute, hit.BaselinePerMinute, l.Baseline)
				}
			case loadgen.PatternRamp:
				ramps++
				if len(got) > 0 {
					rampFlagged++
				}
			default:
				falseAlerts += len(got)
				for _, a := range got {
					t.Errorf("seed %d: %s tenant %s: false alert %s (rate %v, baseline %v)", seed, l.Pattern, l.Tenant, a.ID, a.RatePerMinute, a.BaselinePerMinute)
				}
			}
		}
	}
	slices.Sort(delays)
	pct := func(p float64) time.Duration {
		if len(delays) == 0 {
			return 0
		}
		return delays[min(len(delays)-1, int(math.Ceil(p*float64(len(delays))))-1)]
	}
	months := tenantTime.Hours() / (30 * 24)
	t.Logf("steps flagged: %d; detection delay p50 %v, p90 %v, max %v", len(delays), pct(0.5), pct(0.9), pct(1))
	t.Logf("false alerts: %d over %.2f tenant-months = %.3f per tenant-month", falseAlerts, months, float64(falseAlerts)/months)
	t.Logf("ramps flagged (report only): %d of %d", rampFlagged, ramps)
}

package alert

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// TestRunawayQuietOnSparseTenants: tenants with Poisson arrivals of a few
// events per hour to a couple per minute (each event ±20 %) must not be
// flagged; the same tenants stepping up 10× are.
func TestRunawayQuietOnSparseTenants(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, lambda := range []float64{0.05, 0.2, 0.5, 1, 2} {
		for _, step := range []bool{false, true} {
			d, err := NewDetector(RunawayConfig{})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(lambda*1000), 7))
			var alerts []schemas.Alert
			onset := 36 * 60 // minutes
			for m := 0; m < 48*60; m++ {
				rate := lambda
				if step && m >= onset {
					rate *= 10
				}
				// Poisson count by inversion.
				k, p, l := 0, 1.0, math.Exp(-rate)
				for {
					p *= rng.Float64()
					if p < l {
						break
					}
					k++
				}
				for i := 0; i < k; i++ {
					at := start.Add(time.Duration(m)*time.Minute + time.Duration(i+1)*time.Second)
					credits := schemas.Micros(float64(10*schemas.MicrosPerUnit) * (0.8 + 0.4*rng.Float64()))
					if a, ok := d.Observe(Usage{Tenant: "sparse", Meter: "calls", Time: at, Credits: credits}); ok {
						alerts = append(alerts, a)
					}
				}
			}
			alerts = append(alerts, d.Advance(start.Add(48*time.Hour))...)
			switch {
			case !step && len(alerts) > 0:
				t.Errorf("λ=%v/min steady: %d false alerts, first at %s", lambda, len(alerts), alerts[0].Time)
			case step && lambda >= 0.5 && len(alerts) == 0:
				t.Errorf("λ=%v/min stepping 10×: not flagged", lambda)
			case step && len(alerts) > 0 && alerts[0].Time.Before(start.Add(time.Duration(onset)*time.Minute)):
				t.Errorf("λ=%v/min: false alert before the step, at %s", lambda, alerts[0].Time)
			case step && lambda >= 0.5 && alerts[0].Time.Sub(start.Add(time.Duration(onset)*time.Minute)) > 5*time.Minute:
				// Below one event every two minutes a step takes longer
				// to tell from chance; only quiet before it is required.
				t.Errorf("λ=%v/min stepping 10×: flagged late, at %s", lambda, alerts[0].Time)
			}
		}
	}
}

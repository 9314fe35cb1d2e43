package alert

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

var (
	jan = period.Period{Start: date(2026, 1, 1), End: date(2026, 2, 1)}
	feb = period.Period{Start: date(2026, 2, 1), End: date(2026, 3, 1)}
	mar = period.Period{Start: date(2026, 3, 1), End: date(2026, 4, 1)}
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// at returns 2026-01-05 plus the given minutes.
func at(minutes float64) time.Time {
	return date(2026, 1, 5).Add(time.Duration(minutes * float64(time.Minute)))
}

func cr(s string) schemas.Micros {
	m, err := schemas.ParseMicros(s)
	if err != nil {
		panic(err)
	}
	return m
}

func pct(ss ...string) []schemas.Decimal {
	var ds []schemas.Decimal
	for _, s := range ss {
		ds = append(ds, schemas.MustDecimal(s))
	}
	return ds
}

var std = pct("50", "80", "100")

func newEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// step is one call of a scripted scenario.
type step struct {
	name      string
	grant     bool // call Granted instead of Observe
	time      time.Time
	credits   string // the event's credits (Observe)
	consumed  string
	available string
	period    period.Period // zero means jan
	th        []schemas.Decimal
	mode      OverageMode
	cap       string // "" = no cap
	wantIDs   []string
	wantEnt   schemas.Entitlement // "" = no change reported
}

func (s step) balance() Balance {
	b := Balance{Tenant: "acme", Period: s.period, Consumed: cr(s.consumed), Available: cr(s.available), Thresholds: s.th, Mode: s.mode}
	if b.Period == (period.Period{}) {
		b.Period = jan
	}
	if s.th == nil {
		b.Thresholds = std
	}
	if s.cap != "" {
		c := cr(s.cap)
		b.CapCredits = &c
	}
	return b
}

// run plays steps on e and checks every call's alerts and entitlement.
func run(t *testing.T, e *Engine, steps []step) {
	t.Helper()
	for _, s := range steps {
		var ids []string
		var ent *Entitlement
		if s.grant {
			ent = e.Granted(s.balance())
		} else {
			credits := "1"
			if s.credits != "" {
				credits = s.credits
			}
			var out []schemas.Alert
			out, ent = e.Observe(Usage{Tenant: "acme", Meter: "m", Time: s.time, Credits: cr(credits)}, s.balance(), nil)
			for _, a := range out {
				ids = append(ids, a.ID)
				if !a.Time.Equal(s.time) || a.Tenant != "acme" || !a.PeriodStart.Equal(s.balance().Period.Start) {
					t.Errorf("%s: alert %s: time %v tenant %q period %v", s.name, a.ID, a.Time, a.Tenant, a.PeriodStart)
				}
			}
		}
		if diff := cmp.Diff(s.wantIDs, ids); diff != "" {
			t.Errorf("%s: alert ids (-want +got):\n%s", s.name, diff)
		}
		var got schemas.Entitlement
		if ent != nil {
			got = ent.State
			if ent.Tenant != "acme" || ent.Period != s.balance().Period {
				t.Errorf("%s: entitlement %+v", s.name, *ent)
			}
		}
		if got != s.wantEnt {
			t.Errorf("%s: entitlement change %q, want %q", s.name, got, s.wantEnt)
		}
	}
}

const janKey = "acme/2026-01-01T00:00:00Z/"

func TestThresholdCrossings(t *testing.T) {
	t.Parallel()
	run(t, newEngine(t), []step{
		{name: "first event, 10%", time: at(0), consumed: "100", available: "1000", wantEnt: schemas.EntitlementActive},
		{name: "just below 50%", time: at(1), consumed: "499.999999", available: "1000"},
		{name: "exactly 50%", time: at(2), consumed: "500", available: "1000", wantIDs: []string{janKey + "threshold/50/1"}},
		{name: "60%, 50 already fired", time: at(3), consumed: "600", available: "1000"},
		{name: "80.5%", time: at(4), consumed: "805", available: "1000", wantIDs: []string{janKey + "threshold/80/1"}},
		{name: "100%", time: at(5), consumed: "1000", available: "1000", wantIDs: []string{janKey + "threshold/100/1"}},
		{name: "120%, nothing new", time: at(6), consumed: "1200", available: "1000", wantEnt: schemas.EntitlementOverage},
	})
}

func TestThresholdOverride(t *testing.T) {
	t.Parallel()
	th := pct("25", "87.50")
	run(t, newEngine(t), []step{
		{name: "24.9%", time: at(0), consumed: "249", available: "1000", th: th, wantEnt: schemas.EntitlementActive},
		{name: "25%", time: at(1), consumed: "250", available: "1000", th: th, wantIDs: []string{janKey + "threshold/25/1"}},
		{name: "87.4999%", time: at(2), consumed: "874.999", available: "1000", th: th},
		{name: "87.5%", time: at(3), consumed: "875", available: "1000", th: th, wantIDs: []string{janKey + "threshold/87.5/1"}},
		{name: "plan thresholds come back, 50 and 80 reached", time: at(4), consumed: "880", available: "1000", wantIDs: []string{janKey + "threshold/50/1", janKey + "threshold/80/1"}},
	})
}

func TestThresholdBigEventFiresAllInOrder(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	u := Usage{Tenant: "acme", Meter: "m", Time: at(7), Credits: cr("1500")}
	b := Balance{Tenant: "acme", Period: jan, Consumed: cr("1500"), Available: cr("1000"), Thresholds: std, Mode: ModeBill}
	out, ent := e.Observe(u, b, nil)
	want := []schemas.Alert{
		{ID: janKey + "threshold/50/1", Type: schemas.AlertThreshold, Tenant: "acme", PeriodStart: jan.Start, Time: at(7), Threshold: schemas.MustDecimal("50"), Consumed: cr("1500"), Available: cr("1000"), Entitlement: schemas.EntitlementOverage},
		{ID: janKey + "threshold/80/1", Type: schemas.AlertThreshold, Tenant: "acme", PeriodStart: jan.Start, Time: at(7), Threshold: schemas.MustDecimal("80"), Consumed: cr("1500"), Available: cr("1000"), Entitlement: schemas.EntitlementOverage},
		{ID: janKey + "threshold/100/1", Type: schemas.AlertThreshold, Tenant: "acme", PeriodStart: jan.Start, Time: at(7), Threshold: schemas.MustDecimal("100"), Consumed: cr("1500"), Available: cr("1000"), Entitlement: schemas.EntitlementOverage},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	if ent == nil || *ent != (Entitlement{Tenant: "acme", State: schemas.EntitlementOverage, Period: jan, Time: at(7)}) {
		t.Errorf("entitlement %+v", ent)
	}
}

func TestThresholdZeroAvailable(t *testing.T) {
	t.Parallel()
	run(t, newEngine(t), []step{
		{name: "nothing consumed, nothing available", time: at(0), consumed: "0", credits: "0", available: "0", wantEnt: schemas.EntitlementActive},
		{name: "any consumption reaches every threshold", time: at(1), consumed: "0.000001", credits: "0.000001", available: "0",
			wantIDs: []string{janKey + "threshold/50/1", janKey + "threshold/80/1", janKey + "threshold/100/1"}, wantEnt: schemas.EntitlementOverage},
	})
}

func TestThresholdRearmAfterGrant(t *testing.T) {
	t.Parallel()
	run(t, newEngine(t), []step{
		{name: "85%", time: at(0), consumed: "850", available: "1000", wantIDs: []string{janKey + "threshold/50/1", janKey + "threshold/80/1"}, wantEnt: schemas.EntitlementActive},
		{name: "grant to 1500: 56.7%, re-arms 80 only", grant: true, consumed: "850", available: "1500"},
		{name: "79%: nothing", time: at(1), consumed: "1185", available: "1500"},
		{name: "80% again: second firing", time: at(2), consumed: "1200", available: "1500", wantIDs: []string{janKey + "threshold/80/2"}},
		{name: "grant to 3000: 40%, re-arms 50 and 80", grant: true, consumed: "1200", available: "3000"},
		{name: "a grant without re-crossing changes nothing", grant: true, consumed: "1200", available: "3100"},
		{name: "100% at once", time: at(3), consumed: "3100", available: "3100",
			wantIDs: []string{janKey + "threshold/50/2", janKey + "threshold/80/3", janKey + "threshold/100/1"}},
	})
}

func TestEntitlementBillMode(t *testing.T) {
	t.Parallel()
	run(t, newEngine(t), []step{
		{name: "active", time: at(0), consumed: "10", available: "100", mode: ModeBill, cap: "50", wantEnt: schemas.EntitlementActive},
		{name: "exactly A is still active", time: at(1), consumed: "100", available: "100", mode: ModeBill, cap: "50",
			wantIDs: []string{janKey + "threshold/50/1", janKey + "threshold/80/1", janKey + "threshold/100/1"}},
		{name: "past A: overage", time: at(2), consumed: "100.000001", available: "100", mode: ModeBill, cap: "50", wantEnt: schemas.EntitlementOverage},
		{name: "overage below cap", time: at(3), consumed: "149.999999", available: "100", mode: ModeBill, cap: "50"},
		{name: "overage reaches cap: capped", time: at(4), consumed: "150", available: "100", mode: ModeBill, cap: "50",
			wantIDs: []string{janKey + "cap_reached/capped/1"}, wantEnt: schemas.EntitlementCapped},
		{name: "still capped", time: at(5), consumed: "151", available: "100", mode: ModeBill, cap: "50"},
		{name: "grant: back to overage", grant: true, consumed: "151", available: "120", mode: ModeBill, cap: "50", wantEnt: schemas.EntitlementOverage},
		{name: "capped again", time: at(6), consumed: "170", available: "120", mode: ModeBill, cap: "50",
			wantIDs: []string{janKey + "cap_reached/capped/2"}, wantEnt: schemas.EntitlementCapped},
		{name: "grant: back to active", grant: true, consumed: "170", available: "1000", mode: ModeBill, cap: "50", wantEnt: schemas.EntitlementActive},
	})
}

func TestEntitlementBillNoCapAndZeroCap(t *testing.T) {
	t.Parallel()
	run(t, newEngine(t), []step{
		{name: "no cap: far past A is overage", time: at(0), consumed: "1000000", available: "1", th: []schemas.Decimal{}, wantEnt: schemas.EntitlementOverage},
	})
	run(t, newEngine(t), []step{
		{name: "cap 0: at A still active", time: at(0), consumed: "1", available: "1", th: []schemas.Decimal{}, cap: "0", wantEnt: schemas.EntitlementActive},
		{name: "cap 0: past A is capped at once", time: at(1), consumed: "1.000001", available: "1", th: []schemas.Decimal{}, cap: "0",
			wantIDs: []string{janKey + "cap_reached/capped/1"}, wantEnt: schemas.EntitlementCapped},
	})
}

func TestEntitlementBlockMode(t *testing.T) {
	t.Parallel()
	run(t, newEngine(t), []step{
		{name: "active", time: at(0), consumed: "10", available: "100", mode: ModeBlock, th: pct("90"), wantEnt: schemas.EntitlementActive},
		{name: "exactly A: active", time: at(1), consumed: "100", available: "100", mode: ModeBlock, th: pct("90"), wantIDs: []string{janKey + "threshold/90/1"}},
		{name: "past A: blocked", time: at(2), consumed: "100.5", available: "100", mode: ModeBlock, th: pct("90"),
			wantIDs: []string{janKey + "cap_reached/blocked/1"}, wantEnt: schemas.EntitlementBlocked},
		{name: "cap is ignored in block mode", time: at(3), consumed: "500", available: "100", mode: ModeBlock, th: pct("90"), cap: "1"},
		{name: "grant: active again and 90 re-armed", grant: true, consumed: "500", available: "1000", mode: ModeBlock, th: pct("90"), wantEnt: schemas.EntitlementActive},
		{name: "blocked again", time: at(4), consumed: "1000.000001", available: "1000", mode: ModeBlock, th: pct("90"),
			wantIDs: []string{janKey + "threshold/90/2", janKey + "cap_reached/blocked/2"}, wantEnt: schemas.EntitlementBlocked},
	})
}

func TestPeriods(t *testing.T) {
	t.Parallel()
	const febKey = "acme/2026-02-01T00:00:00Z/"
	run(t, newEngine(t), []step{
		{name: "jan: blocked", time: date(2026, 1, 31), consumed: "101", available: "100", mode: ModeBlock,
			wantIDs: []string{janKey + "threshold/50/1", janKey + "threshold/80/1", janKey + "threshold/100/1", janKey + "cap_reached/blocked/1"}, wantEnt: schemas.EntitlementBlocked},
		{name: "feb: a new period is active, its thresholds fire anew", period: feb, time: date(2026, 2, 1), consumed: "60", available: "100", mode: ModeBlock,
			wantIDs: []string{febKey + "threshold/50/1"}, wantEnt: schemas.EntitlementActive},
		{name: "late jan event: no repeat, no entitlement change", time: date(2026, 1, 31).Add(time.Hour), consumed: "102", available: "100", mode: ModeBlock},
		{name: "late jan grant re-arms jan, no entitlement change", grant: true, consumed: "102", available: "1000", mode: ModeBlock},
		{name: "late jan event fires jan's 50 again", time: date(2026, 1, 31).Add(2 * time.Hour), consumed: "600", available: "1000", mode: ModeBlock,
			wantIDs: []string{janKey + "threshold/50/2"}},
		{name: "mar", period: mar, time: date(2026, 3, 1), consumed: "1", available: "100", mode: ModeBlock},
		{name: "jan is forgotten: nothing fires", time: date(2026, 1, 31).Add(3 * time.Hour), consumed: "2000", available: "1000", mode: ModeBlock},
		{name: "feb still known", period: feb, time: date(2026, 2, 27), consumed: "80", available: "100", mode: ModeBlock,
			wantIDs: []string{febKey + "threshold/80/1"}},
	})
}

func TestProjectedExhaustion(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	b := Balance{Tenant: "acme", Period: jan, Available: cr("1000"), Thresholds: pct("50")}
	// 10 credits every minute from minute 0 to 49: 500 credits by minute 49.
	var out []schemas.Alert
	for m := range 50 {
		b.Consumed += cr("10")
		out, _ = e.Observe(Usage{Tenant: "acme", Time: at(float64(m)), Credits: cr("10")}, b, out[:0])
	}
	if len(out) != 1 {
		t.Fatalf("alerts %v, want the 50%% one", out)
	}
	// 500 credits over the 49 minutes between the first and the last event:
	// the remaining 500 last another 49 minutes.
	if want := at(49 + 49); !out[0].ProjectedExhaustion.Equal(want) {
		t.Errorf("projected exhaustion %v, want %v", out[0].ProjectedExhaustion, want)
	}

	// 5 credits a minute for two hours, then 2 a minute: 80 % of 900 is
	// reached at minute 179. The window (60 buckets of 1 minute) holds
	// minutes 120…179: 120 credits over the 59 minutes from its first bucket
	// to the last event, so the remaining 180 last 180 × 59 ÷ 120 = 88.5
	// minutes.
	e = newEngine(t)
	b = Balance{Tenant: "acme", Period: jan, Available: cr("900"), Thresholds: pct("80")}
	for m := range 180 {
		c := cr("5")
		if m >= 120 {
			c = cr("2")
		}
		b.Consumed += c
		out, _ = e.Observe(Usage{Tenant: "acme", Time: at(float64(m)), Credits: c}, b, out[:0])
		if len(out) > 0 && m != 179 {
			t.Fatalf("minute %d: %v", m, out)
		}
	}
	if len(out) != 1 {
		t.Fatalf("alerts %v, want the 80%% one", out)
	}
	if want := at(179 + 88.5); !out[0].ProjectedExhaustion.Equal(want) {
		t.Errorf("projected exhaustion %v, want %v", out[0].ProjectedExhaustion, want)
	}

	// Already exhausted or nothing burnt: zero.
	e = newEngine(t)
	out, _ = e.Observe(Usage{Tenant: "acme", Time: at(0), Credits: cr("100")}, Balance{Tenant: "acme", Period: jan, Consumed: cr("100"), Available: cr("100"), Thresholds: pct("100")}, nil)
	if len(out) != 1 || !out[0].ProjectedExhaustion.IsZero() {
		t.Errorf("exhausted: %+v", out)
	}
	e = newEngine(t)
	out, _ = e.Observe(Usage{Tenant: "acme", Time: at(0), Credits: 0}, Balance{Tenant: "acme", Period: jan, Consumed: cr("60"), Available: cr("100"), Thresholds: pct("50")}, nil)
	if len(out) != 1 || !out[0].ProjectedExhaustion.IsZero() {
		t.Errorf("no burn: %+v", out)
	}
}

func TestCrossedExact(t *testing.T) {
	t.Parallel()
	big := schemas.MaxMicros
	for _, tc := range []struct {
		th   string
		c, a schemas.Micros
		want bool
	}{
		{"50", 1, 2, true},
		{"50", 1, 3, false},
		{"33.333333", 1, 3, true},
		{"33.333334", 1, 3, false},
		{"100", big, big, true},
		{"100", big - 1, big, false},
		{"99.9999999999999999", big - 1, big, true}, // 16 fractional digits: 128-bit path
		{"0.00000000000000001", 1, big, true},       // 17 fractional digits: big.Int path; 1/(2^63−1) ≈ 1.08e-19
		{"0.00000000000000002", 1, big, false},      // (2e-17 % = 2e-19)
		{"0", 1, 100, true},
		{"0", 0, 100, false},
		{"1000", 10, 1, true},
		{"1000", 9, 1, false},
	} {
		if got := crossed(schemas.MustDecimal(tc.th), tc.c, tc.a); got != tc.want {
			t.Errorf("crossed(%s%%, %d, %d) = %v, want %v", tc.th, tc.c, tc.a, got, tc.want)
		}
	}
	// Cross-check the 128-bit path against exact rationals.
	for _, tc := range []struct{ c, a int64 }{{math.MaxInt64 / 3, math.MaxInt64 / 2}, {7, 11}, {123456789, 987654321}} {
		for _, th := range []string{"33.3", "66.666666666", "50", "12.5"} {
			d := schemas.MustDecimal(th)
			l := schemas.Micros(tc.c).Rat()
			l.Mul(l, schemas.MustDecimal("100").Rat())
			r := d.Rat()
			r.Mul(r, schemas.Micros(tc.a).Rat())
			if want := l.Cmp(r) >= 0; crossed(d, schemas.Micros(tc.c), schemas.Micros(tc.a)) != want {
				t.Errorf("crossed(%s, %d, %d) != %v", th, tc.c, tc.a, want)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := New(Config{BurnWindow: time.Second, Runaway: RunawayConfig{Sustain: 11, Baseline: 90 * time.Second, Z: -1, MaxLogRatio: 0.1}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"burn window 1s", "sustain 11", "baseline 1m30s", "z -1", "max log ratio 0.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := NewDetector(RunawayConfig{MinHistory: 3 * time.Hour}); err == nil || !strings.Contains(err.Error(), "min history 3h0m0s") {
		t.Errorf("min history above baseline: %v", err)
	}
}

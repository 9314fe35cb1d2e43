package partition

import (
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/schemas"
)

const testCatalog = `
currency: USD
meters:
  - {name: tokens, unit: token}
  - {name: calls, unit: call}
rates:
  - {meter: tokens, model: "*", credits_per_unit: "0.001", effective_from: "2026-01-01T00:00:00Z"}
  - {meter: tokens, model: big, credits_per_unit: "0.01", effective_from: "2026-01-01T00:00:00Z"}
  - {meter: calls, model: fast, credits_per_unit: "1", effective_from: "2026-01-01T00:00:00Z"}
plans:
  - {id: p, fee: "10", included_credits: "1000"}
tenants:
  - {id: acme, plan: p, start: "2026-01-01T00:00:00Z"}
  - {id: late, plan: p, start: "2026-02-01T00:00:00Z"}
`

func newProc(t *testing.T, cfg Config) *Processor {
	t.Helper()
	cat, err := catalog.Parse("test.yaml", []byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, cat)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOutcomes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	p := newProc(t, Config{})
	tests := []struct {
		rec     string
		outcome Outcome
		reason  schemas.Reason
		credits string
	}{
		{`{"id":"1","tenant":"acme","meter":"tokens","quantity":1000,"time":"2026-01-09T00:00:00Z"}`, Counted, "", "1.000000"},
		{`{"id":"2","tenant":"acme","meter":"tokens","model":"big","quantity":"100","time":"2026-01-09T00:00:01Z"}`, Counted, "", "1.000000"},
		{`{"id":"1","tenant":"acme","meter":"tokens","quantity":1000,"time":"2026-01-09T00:00:00Z"}`, Duplicate, "", ""},
		{`{"id":"1","tenant":"acme","meter":"tokens","quantity":5,"time":"2026-01-09T00:00:00Z"}`, Duplicate, "", ""},
		{`{"id":"3","tenant":"nobody","meter":"tokens","quantity":1,"time":"2026-01-09T00:00:00Z"}`, DeadLetter, schemas.ReasonUnknownTenant, ""},
		{`{"id":"4","tenant":"late","meter":"tokens","quantity":1,"time":"2026-01-09T00:00:00Z"}`, DeadLetter, schemas.ReasonUnknownTenant, ""},
		{`{"id":"5","tenant":"nobody","meter":"gpu","quantity":1,"time":"2026-01-09T00:00:00Z"}`, DeadLetter, schemas.ReasonUnknownMeter, ""},
		{`{"id":"6","tenant":"acme","meter":"calls","model":"slow","quantity":1,"time":"2026-01-09T00:00:00Z"}`, DeadLetter, schemas.ReasonNoRate, ""},
		{`{"id":"7","tenant":"acme","meter":"tokens","quantity":1,"time":"2026-01-10T00:05:01Z"}`, DeadLetter, schemas.ReasonTooFarFuture, ""},
		{`{"id":"8","tenant":"acme","meter":"tokens","quantity":1,"time":"2026-01-10T00:05:00Z"}`, Counted, "", "0.001000"},
		{`{"id":"9","tenant":"acme","meter":"tokens","quantity":1,"time":"2025-12-05T23:59:59Z"}`, DeadLetter, schemas.ReasonTooOld, ""},
		{`{"id":"10","tenant":"acme","meter":"tokens","quantity":-1,"time":"2026-01-09T00:00:00Z"}`, DeadLetter, schemas.ReasonBadQuantity, ""},
		{`{"id":"11","tenant":"acme","meter":"tokens","quantity":1,"time":"yesterday"}`, DeadLetter, schemas.ReasonBadTime, ""},
		{`{"id":"12","tenant":"acme","meter":"tokens"`, DeadLetter, schemas.ReasonMalformedJSON, ""},
		{`{"tenant":"acme","meter":"tokens","quantity":1,"time":"2026-01-09T00:00:00Z"}`, DeadLetter, schemas.ReasonMissingField, ""},
		{`{"id":"13","tenant":"ac me","meter":"tokens","quantity":1,"time":"2026-01-09T00:00:00Z"}`, DeadLetter, schemas.ReasonBadField, ""},
		// A refused first copy never hides a good later one.
		{`{"id":"6","tenant":"acme","meter":"calls","model":"fast","quantity":1,"time":"2026-01-09T00:00:00Z"}`, Counted, "", "1.000000"},
	}
	for i, tt := range tests {
		r := p.Process([]byte(tt.rec), now)
		if r.Outcome != tt.outcome {
			t.Errorf("record %d: outcome %v (%v), want %v", i, r.Outcome, r.Err, tt.outcome)
			continue
		}
		if tt.reason != "" && r.Err.Reason != tt.reason {
			t.Errorf("record %d: reason %s (%v), want %s", i, r.Err.Reason, r.Err, tt.reason)
		}
		if tt.credits != "" && r.Credits.String() != tt.credits {
			t.Errorf("record %d: credits %s, want %s", i, r.Credits, tt.credits)
		}
	}
	st := p.Stats()
	if st.Records != int64(len(tests)) || st.Counted != 4 || st.Duplicates != 2 || st.Conflicts != 1 || st.DeadLetters != 11 {
		t.Errorf("stats = %+v", st)
	}
	if st.Records != st.Counted+st.Duplicates+st.DeadLetters {
		t.Error("every record must end in exactly one outcome")
	}
}

// With the watermark as the processing clock (replay), too_old is judged
// against the highest counted event time minus the out-of-orderness.
func TestTooOldAgainstWatermark(t *testing.T) {
	t.Parallel()
	p := newProc(t, Config{WatermarkClock: true, MaxEventAge: time.Hour})
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	first := p.Process([]byte(`{"id":"a","tenant":"acme","meter":"tokens","quantity":1,"time":"2026-01-09T12:00:10Z"}`), now)
	if first.Outcome != Counted {
		t.Fatalf("first: %v %v", first.Outcome, first.Err)
	}
	// Watermark 12:00:00; limit 11:00:00.
	if r := p.Process([]byte(`{"id":"b","tenant":"acme","meter":"tokens","quantity":1,"time":"2026-01-09T11:00:00Z"}`), now); r.Outcome != Counted {
		t.Errorf("exactly at the limit: %v %v", r.Outcome, r.Err)
	}
	if r := p.Process([]byte(`{"id":"c","tenant":"acme","meter":"tokens","quantity":1,"time":"2026-01-09T10:59:59.999Z"}`), now); r.Outcome != DeadLetter || r.Err.Reason != schemas.ReasonTooOld {
		t.Errorf("beyond the limit: %v %v", r.Outcome, r.Err)
	}
}

func TestWindowsAndLateCorrections(t *testing.T) {
	t.Parallel()
	p := newProc(t, Config{WatermarkClock: true})
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var out []schemas.WindowTotal
	for _, rec := range []string{
		`{"id":"1","tenant":"acme","meter":"tokens","quantity":1000,"time":"2026-01-09T00:00:30Z"}`,
		`{"id":"2","tenant":"acme","meter":"tokens","quantity":1000,"time":"2026-01-09T00:01:00Z"}`, // boundary: the later window
		`{"id":"3","tenant":"acme","meter":"tokens","quantity":1000,"time":"2026-01-09T00:03:00Z"}`, // watermark passes 00:02
		`{"id":"4","tenant":"acme","meter":"tokens","quantity":500,"time":"2026-01-09T00:00:59Z"}`,  // late: correction
	} {
		if r := p.Process([]byte(rec), now); r.Outcome != Counted {
			t.Fatalf("%s: %v %v", rec, r.Outcome, r.Err)
		}
		if rec[7] == '3' {
			if out = p.Advance(out); len(out) != 2 {
				t.Fatalf("after the watermark passed 00:02, %d windows emitted, want 2: %+v", len(out), out)
			}
		}
	}
	out = p.Flush(p.Advance(out))
	sums := map[string]string{}
	late := 0
	for _, w := range out {
		k := w.Start.Format("15:04")
		prev, _ := schemas.ParseMicros(orZero(sums[k]))
		sums[k] = (prev + w.Credits).String()
		if w.Late {
			late++
		}
	}
	if late != 1 || sums["00:00"] != "1.500000" || sums["00:01"] != "1.000000" || sums["00:03"] != "1.000000" {
		t.Errorf("late rows %d, sums %v", late, sums)
	}
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

package alert

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

// scenario is a burst of usage for a few tenants over two periods, with
// grants, top-ups and a runaway step, processed the way the billing book
// does: Observe, then Topup until false, with Granted after every grant.
type scenario struct {
	events []Usage
	grants map[int]schemas.Micros // event index → grant credits added before it
}

func newScenario(seed uint64) scenario {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := scenario{grants: map[int]schemas.Micros{}}
	tenants := []string{"acme", "bolt", "cora"}
	start := date(2026, 1, 31).Add(20 * time.Hour) // 4 h before feb
	pairs := [][2]string{{"tokens_in", "gpt-large"}, {"tokens_out", "gpt-large"}, {"api_calls", ""}}
	for m := range 8 * 60 {
		for _, tn := range tenants {
			rate := 5.0
			if tn == "bolt" && m >= 3*60 && m < 3*60+40 {
				rate = 60 // a runaway straddling the restarts
			}
			for k := range 3 {
				p := pairs[rng.IntN(len(pairs))]
				s.events = append(s.events, Usage{
					Tenant: tn, Meter: p[0], Model: p[1],
					Time:    start.Add(time.Duration(m)*time.Minute + time.Duration(k*20)*time.Second),
					Credits: schemas.Micros(rate / 3 * (0.8 + 0.4*rng.Float64()) * schemas.MicrosPerUnit),
				})
			}
		}
		if m%97 == 50 {
			s.grants[len(s.events)] = cr("300")
		}
	}
	return s
}

// books is the test's stand-in for the ledger: consumed and available per
// tenant-period.
type books map[string]*Balance

func (bk books) balance(tenant string, t time.Time) *Balance {
	p := jan
	if !t.Before(feb.Start) {
		p = feb
	}
	k := tenant + p.Start.String()
	b := bk[k]
	if b == nil {
		b = &Balance{Tenant: tenant, Period: p, Available: cr("1000"), Thresholds: std, Mode: ModeBill, CapCredits: ptr(cr("200"))}
		if tenant == "cora" {
			b.Mode = ModeBlock
		}
		bk[k] = b
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// output is everything a run produced, in order.
type output struct {
	Alerts       []schemas.Alert
	Entitlements []Entitlement
	Grants       []schemas.Grant
}

// process runs events [from, to) of s through e and d.
func (s scenario) process(e *Engine, d *Detector, bk books, from, to int, out *output) {
	policy := TopupPolicy{BelowCredits: cr("50"), BundleCredits: cr("100"), BundlePrice: schemas.MustDecimal("10"), MaxPerPeriod: 3}
	for i := from; i < to; i++ {
		u := s.events[i]
		b := bk.balance(u.Tenant, u.Time)
		if g, ok := s.grants[i]; ok {
			b.Available += g
			if ent := e.Granted(*b); ent != nil {
				out.Entitlements = append(out.Entitlements, *ent)
			}
		}
		b.Consumed += u.Credits
		if a, ok := d.Observe(u); ok {
			out.Alerts = append(out.Alerts, a)
		}
		var ent *Entitlement
		out.Alerts, ent = e.Observe(u, *b, out.Alerts)
		if ent != nil {
			out.Entitlements = append(out.Entitlements, *ent)
		}
		for u.Tenant != "cora" { // cora has no auto top-up
			g, ok := e.Topup(u, *b, policy)
			if !ok {
				break
			}
			out.Grants = append(out.Grants, g)
			out.Alerts = append(out.Alerts, TopupAlert(g, *b))
			b.Available += g.Credits
			if ent := e.Granted(*b); ent != nil {
				out.Entitlements = append(out.Entitlements, *ent)
			}
		}
	}
}

// restart round-trips e and d through JSON, as a restart would.
func restart(t *testing.T, e *Engine, d *Detector) (*Engine, *Detector) {
	t.Helper()
	es, err := json.Marshal(e.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	ds, err := json.Marshal(d.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var s State
	var r DetectorState
	if err := json.Unmarshal(es, &s); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ds, &r); err != nil {
		t.Fatal(err)
	}
	e2, err := Restore(Config{}, s)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := RestoreDetector(RunawayConfig{}, r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e.Snapshot(), e2.Snapshot()); diff != "" {
		t.Fatalf("engine state changed by a round trip (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(d.Snapshot(), d2.Snapshot()); diff != "" {
		t.Fatalf("detector state changed by a round trip (-before +after):\n%s", diff)
	}
	return e2, d2
}

func newPair(t *testing.T) (*Engine, *Detector) {
	t.Helper()
	d, err := NewDetector(RunawayConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return newEngine(t), d
}

func TestSnapshotRestoreExactlyOnce(t *testing.T) {
	t.Parallel()
	s := newScenario(1)
	e, d := newPair(t)
	var want output
	s.process(e, d, books{}, 0, len(s.events), &want)

	// The scenario exercises every kind of output.
	kinds := map[schemas.AlertType]int{}
	for _, a := range want.Alerts {
		kinds[a.Type]++
	}
	states := map[schemas.Entitlement]int{}
	for _, en := range want.Entitlements {
		states[en.State]++
	}
	t.Logf("alerts by type %v, entitlement changes %v, top-ups %d", kinds, states, len(want.Grants))
	for _, k := range []schemas.AlertType{schemas.AlertThreshold, schemas.AlertCapReached, schemas.AlertTopup, schemas.AlertRunaway} {
		if kinds[k] == 0 {
			t.Errorf("scenario raised no %s alert", k)
		}
	}
	seen := map[string]bool{}
	for _, a := range want.Alerts {
		if seen[a.ID] {
			t.Errorf("id %s repeated in one run", a.ID)
		}
		seen[a.ID] = true
	}

	// Restarting every few events, mid-burst, changes nothing.
	for _, every := range []int{1, 7, 500} {
		t.Run(fmt.Sprintf("every %d", every), func(t *testing.T) {
			e, d := newPair(t)
			bk := books{}
			var got output
			for i := 0; i < len(s.events); i += every {
				s.process(e, d, bk, i, min(i+every, len(s.events)), &got)
				if every > 1 || i%50 == 0 { // every event would take long
					e, d = restart(t, e, d)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("output with restarts (-want +got):\n%s", diff)
			}
		})
	}

	// A crash after the state was stored replays the events since: the
	// replayed alerts carry the ids already sent, so sinks drop them.
	t.Run("replay after crash", func(t *testing.T) {
		e, d := newPair(t)
		bk := books{}
		var first output
		cut := len(s.events) / 2
		s.process(e, d, bk, 0, cut, &first)
		saved := cloneBooks(bk)
		e2, d2 := restart(t, e, d)
		s.process(e, d, bk, cut, cut+900, &first) // then crash
		var replay output
		s.process(e2, d2, saved, cut, len(s.events), &replay)
		all := map[string]bool{}
		for _, a := range first.Alerts {
			all[a.ID] = true
		}
		for _, a := range replay.Alerts {
			all[a.ID] = true
		}
		if len(all) != len(want.Alerts) {
			t.Errorf("distinct ids over crash and replay: %d, want %d", len(all), len(want.Alerts))
		}
		for _, a := range want.Alerts {
			if !all[a.ID] {
				t.Errorf("id %s lost", a.ID)
			}
		}
	})
}

func cloneBooks(bk books) books {
	c := books{}
	for k, b := range bk {
		v := *b
		c[k] = &v
	}
	return c
}

func TestRestoreErrors(t *testing.T) {
	t.Parallel()
	if _, err := Restore(Config{}, State{Version: 9}); err == nil {
		t.Error("version 9 accepted")
	}
	_, err := Restore(Config{}, State{Version: StateVersion, Tenants: []TenantState{
		{Tenant: ""},
		{Tenant: "a", Periods: []PeriodState{{Start: jan.Start, End: jan.End, Thresholds: []ThresholdState{{Threshold: "x"}}}}},
		{Tenant: "b", Periods: []PeriodState{{Start: jan.Start}, {Start: feb.Start}}},
	}})
	if err == nil {
		t.Fatal("bad state accepted")
	}
	t.Log(err)
	if _, err := RestoreDetector(RunawayConfig{}, DetectorState{Version: StateVersion, Tenants: []RunawayState{{Tenant: "a"}, {Tenant: "a"}}}); err == nil {
		t.Error("repeated tenant accepted")
	}
}

// A restore with another burn window drops the burn history rather than
// misreading it.
func TestRestoreOtherBurnWindow(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	e.Observe(Usage{Tenant: "acme", Time: at(0), Credits: cr("5")}, Balance{Tenant: "acme", Period: jan, Consumed: cr("5"), Available: cr("100")}, nil)
	e2, err := Restore(Config{BurnWindow: 2 * time.Hour}, e.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if e2.tenants["acme"].burn.started {
		t.Error("burn history of another bucket width kept")
	}
}

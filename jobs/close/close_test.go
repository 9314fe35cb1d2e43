package close

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/ledger"
	"github.com/creditflow/creditflow/schemas"
)

const testCatalog = `
currency: USD
meters: [{name: tokens, unit: token}]
rates: [{meter: tokens, model: "*", credits_per_unit: "1", effective_from: "2026-01-01T00:00:00Z"}]
plans:
  - id: starter
    fee: "100.00"
    included_credits: "1000"
    rollover: {max_percent: 50}
    overage: {mode: bill, price_per_credit: "0.10"}
tenants:
  - {id: acme, plan: starter, start: "2026-01-01T00:00:00Z"}
  - {id: idle, plan: starter, start: "2026-01-01T00:00:00Z"}
`

// memStore is an in-memory Source and Sink, keyed like the ClickHouse
// tables: a repeated close or line replaces the earlier row.
type memStore struct {
	usage  []usageRow
	grants []schemas.Grant
	closes map[string]schemas.PeriodClose
	lines  map[string]schemas.LineItem
	states map[string][]byte
	writes int
}

type usageRow struct {
	tenant  string
	bucket  time.Time
	credits schemas.Micros
}

func newMem() *memStore {
	return &memStore{closes: map[string]schemas.PeriodClose{}, lines: map[string]schemas.LineItem{}, states: map[string][]byte{}}
}

func (m *memStore) LedgerStates(context.Context) (map[string]ledger.State, error) {
	out := map[string]ledger.State{}
	for t, b := range m.states {
		var s ledger.State
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		out[t] = s
	}
	return out, nil
}

func (m *memStore) Usage(_ context.Context, fn func(string, time.Time, schemas.Micros) error) error {
	for _, u := range m.usage {
		if err := fn(u.tenant, u.bucket, u.credits); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Grants(context.Context) ([]schemas.Grant, error) { return m.grants, nil }

func (m *memStore) WriteCloses(_ context.Context, cs []schemas.PeriodClose, ls []schemas.LineItem) error {
	m.writes++
	for _, c := range cs {
		m.closes[c.Tenant+"|"+c.PeriodStart.String()] = c
	}
	for _, l := range ls {
		m.lines[l.Tenant+"|"+l.PeriodStart.String()+"|"+string(l.Kind)+"|"+l.Description] = l
	}
	return nil
}

func (m *memStore) WriteLedgerStates(_ context.Context, _ int64, states []ledger.State) error {
	for _, s := range states {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		m.states[s.Tenant] = b
	}
	return nil
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func micros(s string) schemas.Micros {
	m, err := schemas.ParseMicros(s)
	if err != nil {
		panic(err)
	}
	return m
}

func newJob(t *testing.T, m *memStore) *Job {
	t.Helper()
	cat, err := catalog.Parse("test.yaml", []byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	j, err := New(Config{}, cat, m, m)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func sortedLines(m *memStore) []schemas.LineItem {
	var ls []schemas.LineItem
	for _, l := range m.lines {
		ls = append(ls, l)
	}
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if !a.PeriodStart.Equal(b.PeriodStart) {
			return a.PeriodStart.Before(b.PeriodStart)
		}
		return a.Kind+schemas.LineItemKind(a.Description) < b.Kind+schemas.LineItemKind(b.Description)
	})
	return ls
}

// TestCloseIsIdempotentAndBillsLateUsage: closing January twice writes the
// same rows once; late January usage is billed in February's close as an
// adjustment, January's written close is unchanged, and February's
// rollover_in shrinks.
func TestCloseIsIdempotentAndBillsLateUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMem()
	m.usage = []usageRow{{"acme", ts("2026-01-10T10:00:00Z"), micros("800")}}
	j := newJob(t, m)

	if res, err := j.RunOnce(ctx, ts("2026-02-01T00:30:00Z")); err != nil || res.Closes != 0 {
		t.Fatalf("before end+grace: %+v, %v; want nothing closed", res, err)
	}
	res, err := j.RunOnce(ctx, ts("2026-02-01T01:00:00Z"))
	if err != nil || res.Closes != 2 {
		t.Fatalf("January close: %+v, %v; want 2 closes (acme and idle)", res, err)
	}
	jan := m.closes["acme|"+ts("2026-01-01T00:00:00Z").String()]
	if jan.Consumed != micros("800") || jan.RolloverOut != micros("200") || jan.OverageAmount.String() != "0.00" {
		t.Fatalf("January close of acme = %+v", jan)
	}
	firstLines := sortedLines(m)

	// A second run at the same or a later clock changes nothing.
	if res, err := j.RunOnce(ctx, ts("2026-02-01T02:00:00Z")); err != nil || res.Closes != 0 {
		t.Fatalf("rerun: %+v, %v", res, err)
	}
	if diff := cmp.Diff(firstLines, sortedLines(m)); diff != "" {
		t.Fatalf("rerun changed lines (-first +now):\n%s", diff)
	}

	// Late January usage, then February's close.
	m.usage = append(m.usage, usageRow{"acme", ts("2026-01-31T23:45:00Z"), micros("1100")},
		usageRow{"acme", ts("2026-02-05T00:00:00Z"), micros("100")})
	if _, err := j.RunOnce(ctx, ts("2026-03-01T01:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if got := m.closes["acme|"+ts("2026-01-01T00:00:00Z").String()]; got != jan {
		t.Errorf("January's written close changed:\n%+v\n%+v", got, jan)
	}
	feb := m.closes["acme|"+ts("2026-02-01T00:00:00Z").String()]
	// Re-evaluated January: 1900 consumed of 1000 → overage 900 × 0.10 =
	// 90.00 and no rollover, so February starts with rollover_in 0.
	if feb.RolloverIn != 0 {
		t.Errorf("February rollover_in = %s, want 0 after the late usage", feb.RolloverIn)
	}
	var adj *schemas.LineItem
	for _, l := range sortedLines(m) {
		if l.Tenant == "acme" && l.Kind == schemas.LineLateUsageAdjustment {
			adj = &l
		}
	}
	if adj == nil || adj.Quantity != micros("1100") || adj.Amount.String() != "90.00" || !adj.PeriodStart.Equal(ts("2026-02-01T00:00:00Z")) {
		t.Errorf("late usage adjustment = %+v, want 1100 credits, 90.00, on February's close", adj)
	}
}

// TestCrashBeforeStatesIsRedone: a run that wrote its closes but died before
// storing the ledger states is simply done again, writing the same rows.
func TestCrashBeforeStatesIsRedone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newMem()
	m.usage = []usageRow{{"acme", ts("2026-01-10T10:00:00Z"), micros("1500")}}
	j := newJob(t, m)
	if _, err := j.RunOnce(ctx, ts("2026-02-01T01:00:00Z")); err != nil {
		t.Fatal(err)
	}
	want := sortedLines(m)
	m.states = map[string][]byte{} // as if the states were never stored
	if _, err := j.RunOnce(ctx, ts("2026-02-01T01:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, sortedLines(m)); diff != "" {
		t.Errorf("redone run differs (-first +redone):\n%s", diff)
	}
	if len(m.closes) != 2 {
		t.Errorf("%d closes stored, want 2", len(m.closes))
	}
}

func TestScheduleValidated(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Parse("test.yaml", []byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Schedule: "every tuesday"}, cat, newMem(), newMem()); err == nil {
		t.Error("a bad cron schedule was accepted")
	}
}

// TestRunTriggersOnSchedule runs the cron loop briefly with a fake clock
// past the period end and checks that it closed.
func TestRunTriggersOnSchedule(t *testing.T) {
	t.Parallel()
	m := newMem()
	cat, err := catalog.Parse("test.yaml", []byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	j, err := New(Config{Schedule: "@every 1s", Now: func() time.Time { return ts("2026-02-01T02:00:00Z") }}, cat, m, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if err := j.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(m.closes) != 2 {
		t.Errorf("after the cron ran, %d closes stored, want 2", len(m.closes))
	}
}

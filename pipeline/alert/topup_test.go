package alert

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

func TestTopup(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	policy := TopupPolicy{BelowCredits: cr("100"), BundleCredits: cr("500"), BundlePrice: schemas.MustDecimal("45.00"), MaxPerPeriod: 2}
	type call struct {
		name                string
		minute              float64
		p                   period.Period
		consumed, available string
		wantID              string // "" = no top-up
	}
	for _, c := range []call{
		{name: "balance 100 is not below 100", minute: 0, p: jan, consumed: "900", available: "1000"},
		{name: "balance 50: first top-up", minute: 1, p: jan, consumed: "950", available: "1000", wantID: "topup/acme/2026-01-01T00:00:00Z/1"},
		{name: "same event, after the grant: enough", minute: 1, p: jan, consumed: "950", available: "1500"},
		{name: "balance 99.999999: second", minute: 2, p: jan, consumed: "1400.000001", available: "1500", wantID: "topup/acme/2026-01-01T00:00:00Z/2"},
		{name: "the period's limit is reached", minute: 3, p: jan, consumed: "2000", available: "2000"},
		{name: "still", minute: 4, p: jan, consumed: "3000", available: "2000"},
		{name: "a new period starts over", minute: 60 * 24 * 30, p: feb, consumed: "10", available: "0", wantID: "topup/acme/2026-02-01T00:00:00Z/1"},
		{name: "one per call even when one bundle is not enough", minute: 60 * 24 * 30, p: feb, consumed: "1000", available: "500", wantID: "topup/acme/2026-02-01T00:00:00Z/2"},
		{name: "feb's limit", minute: 60 * 24 * 30, p: feb, consumed: "1000", available: "1000"},
	} {
		u := Usage{Tenant: "acme", Meter: "m", Time: at(c.minute), Credits: cr("1")}
		b := Balance{Tenant: "acme", Period: c.p, Consumed: cr(c.consumed), Available: cr(c.available), Thresholds: std}
		g, ok := e.Topup(u, b, policy)
		if !ok {
			if c.wantID != "" {
				t.Errorf("%s: no top-up, want %s", c.name, c.wantID)
			}
			continue
		}
		want := schemas.Grant{ID: c.wantID, Tenant: "acme", Credits: cr("500"), Price: schemas.MustDecimal("45.00"), Kind: schemas.GrantTopup, Time: at(c.minute)}
		if diff := cmp.Diff(want, g); diff != "" {
			t.Errorf("%s: grant (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestTopupDisabled(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	u := Usage{Tenant: "acme", Time: at(0), Credits: cr("1")}
	b := Balance{Tenant: "acme", Period: jan, Consumed: cr("10"), Available: cr("0")}
	for _, p := range []TopupPolicy{
		{BelowCredits: cr("100"), BundleCredits: cr("500"), MaxPerPeriod: 0},
		{BelowCredits: cr("100"), BundleCredits: 0, MaxPerPeriod: 3},
	} {
		if g, ok := e.Topup(u, b, p); ok {
			t.Errorf("policy %+v: top-up %+v", p, g)
		}
	}
}

func TestTopupAlert(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	u := Usage{Tenant: "acme", Time: at(3), Credits: cr("1")}
	b := Balance{Tenant: "acme", Period: jan, Consumed: cr("10"), Available: cr("0")}
	g, ok := e.Topup(u, b, TopupPolicy{BelowCredits: cr("1"), BundleCredits: cr("100"), BundlePrice: schemas.MustDecimal("9.99"), MaxPerPeriod: 1})
	if !ok {
		t.Fatal("no top-up")
	}
	want := schemas.Alert{
		ID: "acme/2026-01-01T00:00:00Z/topup/1", Type: schemas.AlertTopup, Tenant: "acme", PeriodStart: jan.Start, Time: at(3),
		GrantID: "topup/acme/2026-01-01T00:00:00Z/1", Credits: cr("100"), Price: schemas.MustDecimal("9.99"), Consumed: cr("10"),
	}
	if diff := cmp.Diff(want, TopupAlert(g, b)); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
}

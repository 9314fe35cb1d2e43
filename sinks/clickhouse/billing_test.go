package clickhouse

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/creditflow/creditflow/schemas"
)

func TestClosesWrittenTwice(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	for range 2 { // the close job ran twice
		if err := c.WriteCloses(ctx, fixtureCloses, fixtureLines); err != nil {
			t.Fatal(err)
		}
	}
	closes, lines, err := c.Closes(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fixtureCloses, closes); d != "" {
		t.Errorf("Closes: closes (-want +got):\n%s", d)
	}
	// Sorted by tenant, period, kind, description; the two equal purchases
	// both survive.
	wantLines := []schemas.LineItem{fixtureLines[1], fixtureLines[2], fixtureLines[3], fixtureLines[0]}
	if d := cmp.Diff(wantLines, lines); d != "" {
		t.Errorf("Closes: lines (-want +got):\n%s", d)
	}
	if closes, lines, err := c.Closes(ctx, "nobody"); err != nil || len(closes)+len(lines) != 0 {
		t.Errorf("Closes(nobody) = %v, %v, %v", closes, lines, err)
	}
	// The analyst views show each row once, with exact decimals.
	for _, chk := range fixtureChecks(c.db) {
		if chk.name != "period_closes rows" && chk.name != "line_items rows" {
			continue
		}
		got, err := nativeText{c.conn}.text(ctx, chk.query)
		if err != nil {
			t.Fatal(err)
		}
		diffRows(t, chk.name, got, chk.want)
	}
}

func TestGrantsAlertsLedgerRoundTrip(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	for range 2 { // repeats collapse
		if err := c.WriteGrants(ctx, fixtureGrants); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteAlerts(ctx, fixtureAlerts); err != nil {
			t.Fatal(err)
		}
	}
	grants, err := c.Grants(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]schemas.Grant{fixtureGrants[1], fixtureGrants[0]}, grants); d != "" {
		t.Errorf("Grants (-want +got):\n%s", d)
	}
	alerts, err := c.Alerts(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fixtureAlerts, alerts, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Alerts (-want +got):\n%s", d)
	}
	later, err := c.Alerts(ctx, ts("2024-03-01T10:14:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(later) != 2 || later[0].ID != "run-t1-1" {
		t.Errorf("Alerts since 10:14 = %d alerts, want run-t1-1 and top-t1-1", len(later))
	}

	for _, l := range fixtureLedger {
		if err := c.WriteLedgerState(ctx, l.tenant, l.version, []byte(l.state)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	if err := c.LedgerStates(ctx, func(tenant string, state []byte) error {
		got[tenant] = string(state)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"t1": "new", "t2": "only"}, got); d != "" {
		t.Errorf("LedgerStates (-want +got):\n%s", d)
	}
}

package clickhouse

import (
	"context"
	"testing"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// The fixture is one small data set written through the production insert
// builders, and the exact rows every analyst view and every reader query
// must return for it. TestFixture runs it on the server at CLICKHOUSE_ADDR
// (18.16 here) and TestChdbFixture (build tag chdb) on chDB (26.x): the same
// expectations on both prove the views mean the same on both.

const (
	usd = "USD"
	// The zero DateTime: never-closed tenants in current_balance.
	epoch = "1970-01-01 00:00:00"
)

func m(s string) schemas.Micros {
	v, err := schemas.ParseMicros(s)
	if err != nil {
		panic(err)
	}
	return v
}

func wt(tenant, meter, model, start string, width time.Duration, events int64, qty, credits string, late bool) schemas.WindowTotal {
	s := ts(start)
	return schemas.WindowTotal{
		WindowKey: schemas.WindowKey{Tenant: tenant, Meter: meter, Model: model},
		Start:     s, End: s.Add(width), Events: events, Quantity: m(qty), Credits: m(credits), Late: late,
	}
}

type rangeDeltas struct {
	r      Range
	deltas []schemas.WindowTotal
}

var fixtureRanges = []rangeDeltas{
	{Range{Topic: "usage", Partition: 0, First: 0, Last: 9, Watermark: ts("2024-03-01T10:05:00.5Z")}, []schemas.WindowTotal{
		wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, 2, "1.5", "0.000001", false),
		wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, 1, "0.5", "0.000002", false),
		wt("t2", "calls", "", "2024-03-01T10:00:00Z", time.Minute, 1, "1", "2.5", false),
	}},
	{Range{Topic: "usage", Partition: 0, First: 10, Last: 19, Watermark: ts("2024-03-02T00:10:00Z")}, []schemas.WindowTotal{
		wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", time.Minute, 1, "1", "1", true),
		wt("t1", "tokens", "gpt", "2024-03-01T10:14:00Z", time.Minute, 1, "2", "3", false),
		wt("t1", "tokens", "gpt", "2024-03-02T00:00:00Z", time.Minute, 1, "1", "0.5", false),
	}},
	// A range with no counted event: only the marker row.
	{Range{Topic: "usage", Partition: 1, First: 0, Last: 4}, nil},
}

var fixtureEvents = []RawEvent{
	{Topic: "usage", Partition: 0, Offset: 0, Tenant: "t1", ID: "e0", Meter: "tokens", Model: "gpt", Quantity: m("1.5"), Credits: m("0.000001"), Time: ts("2024-03-01T10:00:01.123456789Z"), Properties: `{"k":"v"}`, Digest: 11},
	{Topic: "usage", Partition: 0, Offset: 1, Tenant: "t1", ID: "e1", Meter: "tokens", Model: "gpt", Quantity: m("0.5"), Credits: m("0.000002"), Time: ts("2024-03-01T10:00:02Z"), Digest: 12},
	{Topic: "usage", Partition: 0, Offset: 2, Tenant: "t2", ID: "e2", Meter: "calls", Quantity: m("1"), Credits: m("2.5"), Time: ts("2024-03-01T10:00:03Z"), Digest: 13},
	{Topic: "usage", Partition: 0, Offset: 3, Tenant: "t1", ID: "e3", Meter: "tokens", Model: "gpt", Quantity: m("1"), Credits: m("1"), Time: ts("2024-02-29T23:00:00Z"), Digest: 14},
	{Topic: "usage", Partition: 1, Offset: 0, Tenant: "t1", ID: "e9", Meter: "tokens", Model: "gpt", Quantity: m("1"), Credits: m("1"), Time: ts("2024-03-01T10:00:05Z"), Digest: 19},
}

var fixtureGrants = []schemas.Grant{
	{ID: "g1", Tenant: "t1", Credits: m("100"), Price: schemas.MustDecimal("9.99"), Kind: schemas.GrantBundle, Time: ts("2024-03-01T09:00:00.123456789Z")},
	{ID: "g0", Tenant: "t1", Credits: m("10"), Price: schemas.MustDecimal("0"), Kind: schemas.GrantPromo, Time: ts("2024-01-15T00:00:00Z"), ExpiresAfterPeriods: 2},
	{ID: "g2", Tenant: "t3", Credits: m("5"), Price: schemas.MustDecimal("1.50"), Kind: schemas.GrantTopup, Time: ts("2024-02-10T12:00:00Z")},
}

var fixtureCloses = []schemas.PeriodClose{
	{
		Tenant: "t1", PeriodStart: ts("2024-01-01T00:00:00Z"), PeriodEnd: ts("2024-02-01T00:00:00Z"), Plan: "pro",
		Included: m("1000"), Available: m("1000"), Consumed: m("2000"), Overage: m("1000"), BillableOverage: m("1000"),
		OverageAmount: schemas.MustDecimal("15.00"), RecognizedRevenue: schemas.MustDecimal("64.00"),
		DeferredRevenueEnd: schemas.MustDecimal("0.00"), Currency: usd,
	},
	{
		Tenant: "t1", PeriodStart: ts("2024-02-01T00:00:00Z"), PeriodEnd: ts("2024-03-01T00:00:00Z"), Plan: "pro",
		Included: m("1000"), GrantCreditsAvailable: m("10"), Available: m("1010"), Consumed: m("12.345678"),
		OverageAmount: schemas.MustDecimal("0.00"), RolloverOut: m("250"), ExpiredCredits: m("747.654322"),
		RecognizedRevenue: schemas.MustDecimal("12.35"), DeferredRevenueEnd: schemas.MustDecimal("0.5"), Currency: usd,
	},
}

func line(kind schemas.LineItemKind, descr, qty, unit, amount string, charged bool) schemas.LineItem {
	return schemas.LineItem{
		Tenant: "t1", PeriodStart: ts("2024-02-01T00:00:00Z"), PeriodEnd: ts("2024-03-01T00:00:00Z"),
		Kind: kind, Description: descr, Quantity: m(qty), UnitPrice: schemas.MustDecimal(unit),
		Amount: schemas.MustDecimal(amount), Currency: usd, ChargedAtPurchase: charged,
	}
}

// Two purchases of the same bundle share every key field but stay two lines.
var fixtureLines = []schemas.LineItem{
	line(schemas.LineSubscriptionFee, "pro plan", "1", "49", "49.00", false),
	line(schemas.LineCreditPurchase, "bundle small", "100", "0.0999", "9.99", true),
	line(schemas.LineCreditPurchase, "bundle small", "100", "0.0999", "9.99", true),
	line(schemas.LineIncludedUsage, "included", "12.345678", "0", "0.00", false),
}

var fixtureAlerts = []schemas.Alert{
	{
		ID: "thr-t1-80", Type: schemas.AlertThreshold, Tenant: "t1", PeriodStart: ts("2024-03-01T00:00:00Z"),
		Time: ts("2024-03-01T10:00:30.000000001Z"), Threshold: schemas.MustDecimal("80"), Consumed: m("800"),
		Available: m("1000"), ProjectedExhaustion: ts("2024-03-05T12:00:00Z"), Entitlement: schemas.EntitlementActive,
	},
	{
		ID: "run-t1-1", Type: schemas.AlertRunaway, Tenant: "t1", PeriodStart: ts("2024-03-01T00:00:00Z"),
		Time: ts("2024-03-01T10:14:00Z"), RatePerMinute: m("30"), BaselinePerMinute: m("2.5"),
		Drivers: []schemas.Driver{{Meter: "tokens", Model: "gpt", Credits: m("25")}, {Meter: "tokens", Credits: m("5")}},
	},
	{
		ID: "top-t1-1", Type: schemas.AlertTopup, Tenant: "t1", PeriodStart: ts("2024-03-01T00:00:00Z"),
		Time: ts("2024-03-01T10:15:00Z"), GrantID: "topup-1", Credits: m("50"), Price: schemas.MustDecimal("5.00"),
	},
}

type ledgerRow struct {
	tenant  string
	version int64
	state   string
}

var fixtureLedger = []ledgerRow{{"t1", 1, "old"}, {"t1", 2, "new"}, {"t2", 5, "only"}}

// fixtureInserts returns the fixture as the inserts the Client would send.
// The raw event at offset 1 is written twice, as after a crash.
func fixtureInserts(tb testing.TB) []*insert {
	tb.Helper()
	var ins []*insert
	add := func(in *insert, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		ins = append(ins, in)
	}
	add(rawEventsInsert(fixtureEvents))
	add(rawEventsInsert(fixtureEvents[1:2]))
	add(partitionStatesInsert([]Checkpoint{
		{Topic: "usage", Partition: 0, Offset: 9, Prev: -1, States: []PartitionState{{Tenant: "t1", State: []byte(`{"n":1}`)}, {Tenant: "t2", State: []byte(`{"n":2}`)}}},
		{Topic: "usage", Partition: 1, Offset: 4, Prev: -1},
	}))
	add(partitionStatesInsert([]Checkpoint{{Topic: "usage", Partition: 0, Offset: 19, Prev: 9, States: []PartitionState{{Tenant: "t1", State: []byte(`{"n":3}`)}}}}))
	for _, rd := range fixtureRanges {
		add(windowInsert([]RangeDeltas{{Range: rd.r, Deltas: rd.deltas}}))
	}
	add(grantsInsert(fixtureGrants))
	add(lineItemsInsert(fixtureLines))
	add(closesInsert(fixtureCloses))
	add(alertsInsert(fixtureAlerts))
	for _, l := range fixtureLedger {
		add(ledgerStateInsert(l.tenant, l.version, []byte(l.state)), nil)
	}
	return ins
}

type check struct {
	name  string
	query string
	want  [][]string
	cols  int // compare only the first cols cells of each row (0: all)
}

func ns(s string) string { return itoa(ts(s).UnixNano()) }

// describe is the expected DESCRIBE of a view: names and types.
func describe(cols ...string) [][]string {
	var out [][]string
	for i := 0; i < len(cols); i += 2 {
		out = append(out, []string{cols[i], cols[i+1]})
	}
	return out
}

const (
	dt  = "DateTime('UTC')"
	c6  = "Decimal(38, 6)"
	c18 = "Decimal(38, 18)"
)

// fixtureChecks lists, for database db (quoted), the analyst views' columns
// and rows and every reader query's rows for the fixture.
func fixtureChecks(db string) []check {
	return []check{
		{name: "window_totals columns", query: "DESCRIBE TABLE " + db + ".window_totals", cols: 2, want: describe(
			"tenant", "String", "meter", "String", "model", "String", "window_start", dt, "window_end", dt,
			"events", "Int64", "quantity", c6, "credits", c6)},
		{name: "window_totals rows", query: "SELECT * FROM " + db + ".window_totals ORDER BY tenant, meter, model, window_start", want: [][]string{
			{"t1", "tokens", "gpt", "2024-03-01 10:00:00", "2024-03-01 10:01:00", "4", "3", "1.000003"},
			{"t1", "tokens", "gpt", "2024-03-01 10:14:00", "2024-03-01 10:15:00", "1", "2", "3"},
			{"t1", "tokens", "gpt", "2024-03-02 00:00:00", "2024-03-02 00:01:00", "1", "1", "0.5"},
			{"t2", "calls", "", "2024-03-01 10:00:00", "2024-03-01 10:01:00", "1", "1", "2.5"},
		}},
		{name: "daily_usage columns", query: "DESCRIBE TABLE " + db + ".daily_usage", cols: 2, want: describe(
			"tenant", "String", "day", "Date", "meter", "String", "model", "String",
			"events", "Int64", "quantity", c6, "credits", c6)},
		{name: "daily_usage rows", query: "SELECT * FROM " + db + ".daily_usage ORDER BY tenant, day, meter, model", want: [][]string{
			{"t1", "2024-03-01", "tokens", "gpt", "5", "5", "4.000003"},
			{"t1", "2024-03-02", "tokens", "gpt", "1", "1", "0.5"},
			{"t2", "2024-03-01", "calls", "", "1", "1", "2.5"},
		}},
		{name: "period_closes columns", query: "DESCRIBE TABLE " + db + ".period_closes", cols: 2, want: describe(
			"tenant", "String", "period_start", dt, "period_end", dt, "plan", "String",
			"rollover_in", c6, "included", c6, "grant_credits_available", c6, "available", c6, "consumed", c6,
			"overage", c6, "billable_overage", c6, "uncollected_overage", c6, "overage_amount", c18,
			"rollover_out", c6, "expired_credits", c6, "recognized_revenue", c18, "deferred_revenue_end", c18,
			"currency", "String")},
		{name: "period_closes rows", query: "SELECT * FROM " + db + ".period_closes ORDER BY tenant, period_start", want: [][]string{
			{"t1", "2024-01-01 00:00:00", "2024-02-01 00:00:00", "pro", "0", "1000", "0", "1000", "2000", "1000", "1000", "0", "15", "0", "0", "64", "0", usd},
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "pro", "0", "1000", "10", "1010", "12.345678", "0", "0", "0", "0", "250", "747.654322", "12.35", "0.5", usd},
		}},
		{name: "line_items columns", query: "DESCRIBE TABLE " + db + ".line_items", cols: 2, want: describe(
			"tenant", "String", "period_start", dt, "period_end", dt, "kind", "String", "description", "String",
			"quantity", c6, "unit_price", c18, "amount", c18, "currency", "String", "charged_at_purchase", "UInt8")},
		{name: "line_items rows", query: "SELECT * FROM " + db + ".line_items ORDER BY tenant, period_start, kind, description", want: [][]string{
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "credit_purchase", "bundle small", "100", "0.0999", "9.99", usd, "1"},
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "credit_purchase", "bundle small", "100", "0.0999", "9.99", usd, "1"},
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "included_usage", "included", "12.345678", "0", "0", usd, "0"},
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "subscription_fee", "pro plan", "1", "49", "49", usd, "0"},
		}},
		{name: "current_balance columns", query: "DESCRIBE TABLE " + db + ".current_balance", cols: 2, want: describe(
			"tenant", "String", "period_start", dt, "consumed", c6, "rollover_in", c6, "included", c6,
			"granted", c6, "available", c6, "balance", c6, "last_close_consumed", c6, "last_close_available", c6)},
		{name: "current_balance rows", query: "SELECT * FROM " + db + ".current_balance ORDER BY tenant", want: [][]string{
			{"t1", "2024-03-01 00:00:00", "4.500003", "250", "1000", "100", "1350", "1345.499997", "12.345678", "1010"},
			{"t2", epoch, "2.5", "0", "0", "0", "0", "-2.5", "0", "0"},
			{"t3", epoch, "0", "0", "0", "5", "5", "5", "0", "0"},
		}},

		// Reader queries, as the Client sends them.
		{name: "CommittedOffset p0", query: committedOffsetSQL(db, "usage", 0), want: [][]string{{"19", ns("2024-03-02T00:10:00Z")}}},
		{name: "CommittedOffset p1", query: committedOffsetSQL(db, "usage", 1), want: [][]string{{"4", "0"}}},
		{name: "CommittedOffset none", query: committedOffsetSQL(db, "usage", 7), want: nil},
		{name: "CommittedOffsets", query: committedOffsetsSQL(db, "usage"), want: [][]string{{"0", "19"}, {"1", "4"}}},
		{name: "UsageSince all", query: usageSinceSQL(db, nil, ts("2024-03-01T10:00:00Z")), want: [][]string{
			{"t1", "2024-03-01 10:00:00", "4000003"},
			{"t1", "2024-03-02 00:00:00", "500000"},
			{"t2", "2024-03-01 10:00:00", "2500000"},
		}},
		{name: "UsageSince t2", query: usageSinceSQL(db, []string{"t2", "nobody"}, ts("2024-03-01T09:59:59.5Z")), want: [][]string{
			{"t2", "2024-03-01 10:00:00", "2500000"},
		}},
		{name: "UsageSince late", query: usageSinceSQL(db, nil, ts("2024-03-01T10:00:00.1Z")), want: [][]string{
			{"t1", "2024-03-01 10:00:00", "3000000"},
			{"t1", "2024-03-02 00:00:00", "500000"},
		}},
		{name: "WindowTotals all", query: windowTotalsSQL(db, ""), want: [][]string{
			{"t1", "tokens", "gpt", "2024-03-01 10:00:00", "2024-03-01 10:01:00", "4", "3", "1.000003"},
			{"t1", "tokens", "gpt", "2024-03-01 10:14:00", "2024-03-01 10:15:00", "1", "2", "3"},
			{"t1", "tokens", "gpt", "2024-03-02 00:00:00", "2024-03-02 00:01:00", "1", "1", "0.5"},
			{"t2", "calls", "", "2024-03-01 10:00:00", "2024-03-01 10:01:00", "1", "1", "2.5"},
		}},
		{name: "WindowTotals t2", query: windowTotalsSQL(db, "t2"), want: [][]string{
			{"t2", "calls", "", "2024-03-01 10:00:00", "2024-03-01 10:01:00", "1", "1", "2.5"},
		}},
		{name: "EventIDs max 2", query: eventIDsSQL(db, "usage", 0, 2, ts("2024-03-01T00:00:00Z")), want: [][]string{
			{"t1", "e0", ns("2024-03-01T10:00:01.123456789Z"), "11"},
			{"t1", "e1", ns("2024-03-01T10:00:02Z"), "12"},
			{"t2", "e2", ns("2024-03-01T10:00:03Z"), "13"},
		}},
		{name: "EventIDs since", query: eventIDsSQL(db, "usage", 0, 3, ts("2024-03-01T10:00:01.5Z")), want: [][]string{
			{"t1", "e1", ns("2024-03-01T10:00:02Z"), "12"},
			{"t2", "e2", ns("2024-03-01T10:00:03Z"), "13"},
		}},
		{name: "EventIDs all", query: eventIDsSQL(db, "usage", 1, 100, time.Time{}), want: [][]string{
			{"t1", "e9", ns("2024-03-01T10:00:05Z"), "19"},
		}},
		{name: "RawEvents (0, 3]", query: rawEventsSQL(db, "usage", 0, 0, 3), want: [][]string{
			{"1", "t1", "e1", "tokens", "gpt", "500000", "2", ns("2024-03-01T10:00:02Z"), "12"},
			{"2", "t2", "e2", "calls", "", "1000000", "2500000", ns("2024-03-01T10:00:03Z"), "13"},
			{"3", "t1", "e3", "tokens", "gpt", "1000000", "1000000", ns("2024-02-29T23:00:00Z"), "14"},
		}},
		{name: "Checkpoint markers p0", query: checkpointMarkersSQL(db, "usage", 0, 100) + " ORDER BY version", want: [][]string{{"9", "-1"}, {"19", "9"}}},
		{name: "Checkpoint markers p0 ≤ 18", query: checkpointMarkersSQL(db, "usage", 0, 18), want: [][]string{{"9", "-1"}}},
		{name: "PartitionStates chain", query: partitionStatesSQL(db, "usage", 0, []int64{19, 9}), want: [][]string{{"t1", `{"n":3}`}, {"t2", `{"n":2}`}}},
		{name: "PartitionStates full", query: partitionStatesSQL(db, "usage", 0, []int64{9}), want: [][]string{{"t1", `{"n":1}`}, {"t2", `{"n":2}`}}},
		{name: "PartitionStates empty", query: partitionStatesSQL(db, "usage", 1, []int64{4}), want: nil},
		{name: "Grants", query: grantsSQL(db, ""), want: [][]string{
			{"t1", "g0", "10000000", "0", "0", "promo", ns("2024-01-15T00:00:00Z"), "2"},
			{"t1", "g1", "100000000", "999", "2", "bundle", ns("2024-03-01T09:00:00.123456789Z"), "0"},
			{"t3", "g2", "5000000", "150", "2", "topup", ns("2024-02-10T12:00:00Z"), "0"},
		}},
		{name: "Alerts", query: alertsSQL(db, ts("2024-03-01T10:00:30.000000001Z")), want: [][]string{
			{"thr-t1-80", "threshold", "t1", "2024-03-01 00:00:00", ns("2024-03-01T10:00:30.000000001Z"), "80", "0",
				"800000000", "1000000000", "2024-03-05T12:00:00Z", "active", "", "0", "0", "0", "0", "0", "[]", "[]", "[]"},
			{"run-t1-1", "runaway", "t1", "2024-03-01 00:00:00", ns("2024-03-01T10:14:00Z"), "0", "0",
				"0", "0", "", "", "", "0", "0", "0", "30000000", "2500000", "['tokens','tokens']", "['gpt','']", "[25000000,5000000]"},
			{"top-t1-1", "topup", "t1", "2024-03-01 00:00:00", ns("2024-03-01T10:15:00Z"), "0", "0",
				"0", "0", "", "", "topup-1", "50000000", "500", "2", "0", "0", "[]", "[]", "[]"},
		}},
		{name: "Closes", query: closesSQL(db, "t1"), want: [][]string{
			{"t1", "2024-01-01 00:00:00", "2024-02-01 00:00:00", "pro", "0", "1000000000", "0", "1000000000", "2000000000",
				"1000000000", "1000000000", "0", "1500", "2", "0", "0", "6400", "2", "0", "2", usd},
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "pro", "0", "1000000000", "10000000", "1010000000", "12345678",
				"0", "0", "0", "0", "2", "250000000", "747654322", "1235", "2", "5", "1", usd},
		}},
		{name: "LineItems", query: lineItemsSQL(db, ""), want: [][]string{
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "credit_purchase", "bundle small", "100000000", "999", "4", "999", "2", usd, "1"},
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "credit_purchase", "bundle small", "100000000", "999", "4", "999", "2", usd, "1"},
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "included_usage", "included", "12345678", "0", "0", "0", "2", usd, "0"},
			{"t1", "2024-02-01 00:00:00", "2024-03-01 00:00:00", "subscription_fee", "pro plan", "1000000", "49", "0", "4900", "2", usd, "0"},
		}},
		{name: "LedgerStates", query: ledgerStatesSQL(db), want: [][]string{{"t1", "new"}, {"t2", "only"}}},
	}
}

// runChecks runs every check through r.
func runChecks(t *testing.T, ctx context.Context, r textRunner, db string) {
	t.Helper()
	for _, c := range fixtureChecks(db) {
		got, err := r.text(ctx, c.query)
		if err != nil {
			t.Errorf("%s: %v\nquery: %s", c.name, err, c.query)
			continue
		}
		if c.cols > 0 {
			for i := range got {
				got[i] = got[i][:min(c.cols, len(got[i]))]
			}
		}
		diffRows(t, c.name, got, c.want)
	}
}

// TestFixture runs the fixture on the server at CLICKHOUSE_ADDR; see
// TestChdbFixture for 26.x.
func TestFixture(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	for _, in := range fixtureInserts(t) {
		if err := c.send(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	runChecks(t, ctx, nativeText{c.conn}, c.db)
}

package clickhouse

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// WriteGrants stores grants in one INSERT. A grant written again (same
// tenant and id) collapses into one row; readers use FINAL. Grant times
// must lie in 1970…2106; they are stored exactly.
func (c *Client) WriteGrants(ctx context.Context, gs []schemas.Grant) error {
	if len(gs) == 0 {
		return nil
	}
	in, err := grantsInsert(gs)
	if err != nil {
		return fmt.Errorf("write grants: %w", err)
	}
	if err := c.send(ctx, in); err != nil {
		return fmt.Errorf("write %d grants: %w", len(gs), err)
	}
	return nil
}

func grantsInsert(gs []schemas.Grant) (*insert, error) {
	n := len(gs)
	var (
		tenant, id, kind = make([]string, n), make([]string, n), make([]string, n)
		credits          = make([]int64, n)
		coef             = make([]int64, n)
		scale            = make([]uint8, n)
		sec, ns          = make([]int64, n), make([]int64, n)
		expires          = make([]int32, n)
	)
	for i, g := range gs {
		s, t, err := instant(g.Time)
		if err != nil {
			return nil, fmt.Errorf("grant %q: %w", g.ID, err)
		}
		if g.ExpiresAfterPeriods < 0 || g.ExpiresAfterPeriods > math.MaxInt32 {
			return nil, fmt.Errorf("grant %q: expires_after_periods %d out of range", g.ID, g.ExpiresAfterPeriods)
		}
		tenant[i], id[i], kind[i] = g.Tenant, g.ID, string(g.Kind)
		credits[i] = int64(g.Credits)
		coef[i], scale[i] = g.Price.Coef, g.Price.Scale
		sec[i], ns[i] = s, t
		expires[i] = int32(g.ExpiresAfterPeriods)
	}
	in := &insert{table: "grants"}
	in.col("tenant", tenant)
	in.col("id", id)
	in.col("credits_micros", credits)
	in.col("price_coef", coef)
	in.col("price_scale", scale)
	in.col("kind", kind)
	in.col("time", sec)
	in.col("time_ns", ns)
	in.col("expires_after_periods", expires)
	return in, nil
}

// Grants returns the grants of tenant ("" = all tenants), once each, sorted
// by tenant, time and id.
func (c *Client) Grants(ctx context.Context, tenant string) ([]schemas.Grant, error) {
	rows, err := c.conn.Query(ctx, grantsSQL(c.db, tenant))
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	defer rows.Close()
	var out []schemas.Grant
	for rows.Next() {
		var (
			g       schemas.Grant
			credits int64
			kind    string
			ns      int64
			expires int32
		)
		if err := rows.Scan(&g.Tenant, &g.ID, &credits, &g.Price.Coef, &g.Price.Scale, &kind, &ns, &expires); err != nil {
			return nil, fmt.Errorf("scan grants: %w", err)
		}
		g.Credits, g.Kind, g.Time, g.ExpiresAfterPeriods = schemas.Micros(credits), schemas.GrantKind(kind), fromNS(ns), int(expires)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	return out, nil
}

func grantsSQL(db, tenant string) string {
	q := "SELECT tenant, id, credits_micros, price_coef, price_scale, kind, time_ns, expires_after_periods" +
		" FROM " + db + ".grants FINAL"
	if tenant != "" {
		q += " WHERE tenant = " + quoteString(tenant)
	}
	return q + " ORDER BY tenant, time_ns, id"
}

// WriteAlerts stores alerts in one INSERT. Alert ids are deterministic, so
// an alert written again collapses into one row (readers use FINAL).
// PeriodStart must be a whole second; Time must lie in 1970…2106.
func (c *Client) WriteAlerts(ctx context.Context, as []schemas.Alert) error {
	if len(as) == 0 {
		return nil
	}
	in, err := alertsInsert(as)
	if err != nil {
		return fmt.Errorf("write alerts: %w", err)
	}
	if err := c.send(ctx, in); err != nil {
		return fmt.Errorf("write %d alerts: %w", len(as), err)
	}
	return nil
}

func alertsInsert(as []schemas.Alert) (*insert, error) {
	n := len(as)
	var (
		id, typ, tenant          = make([]string, n), make([]string, n), make([]string, n)
		period, sec, ns          = make([]int64, n), make([]int64, n), make([]int64, n)
		thrCoef, consumed, avail = make([]int64, n), make([]int64, n), make([]int64, n)
		thrScale, priceScale     = make([]uint8, n), make([]uint8, n)
		exhaustion, ent, grantID = make([]string, n), make([]string, n), make([]string, n)
		credits, priceCoef       = make([]int64, n), make([]int64, n)
		rate, baseline           = make([]int64, n), make([]int64, n)
		dMeters, dModels         = make([][]string, n), make([][]string, n)
		dCredits                 = make([][]int64, n)
	)
	for i, a := range as {
		p, err := wholeSeconds(a.PeriodStart)
		if err != nil {
			return nil, fmt.Errorf("alert %q: period start: %w", a.ID, err)
		}
		s, t, err := instant(a.Time)
		if err != nil {
			return nil, fmt.Errorf("alert %q: %w", a.ID, err)
		}
		id[i], typ[i], tenant[i] = a.ID, string(a.Type), a.Tenant
		period[i], sec[i], ns[i] = p, s, t
		thrCoef[i], thrScale[i] = a.Threshold.Coef, a.Threshold.Scale
		consumed[i], avail[i] = int64(a.Consumed), int64(a.Available)
		if !a.ProjectedExhaustion.IsZero() {
			exhaustion[i] = a.ProjectedExhaustion.UTC().Format(time.RFC3339Nano)
		}
		ent[i], grantID[i] = string(a.Entitlement), a.GrantID
		credits[i], priceCoef[i], priceScale[i] = int64(a.Credits), a.Price.Coef, a.Price.Scale
		rate[i], baseline[i] = int64(a.RatePerMinute), int64(a.BaselinePerMinute)
		dMeters[i], dModels[i], dCredits[i] = make([]string, len(a.Drivers)), make([]string, len(a.Drivers)), make([]int64, len(a.Drivers))
		for j, d := range a.Drivers {
			dMeters[i][j], dModels[i][j], dCredits[i][j] = d.Meter, d.Model, int64(d.Credits)
		}
	}
	in := &insert{table: "alerts"}
	in.col("id", id)
	in.col("type", typ)
	in.col("tenant", tenant)
	in.col("period_start", period)
	in.col("time", sec)
	in.col("time_ns", ns)
	in.col("threshold_coef", thrCoef)
	in.col("threshold_scale", thrScale)
	in.col("consumed_micros", consumed)
	in.col("available_micros", avail)
	in.col("projected_exhaustion", exhaustion)
	in.col("entitlement", ent)
	in.col("grant_id", grantID)
	in.col("credits_micros", credits)
	in.col("price_coef", priceCoef)
	in.col("price_scale", priceScale)
	in.col("rate_per_minute_micros", rate)
	in.col("baseline_per_minute_micros", baseline)
	in.col("driver_meters", dMeters)
	in.col("driver_models", dModels)
	in.col("driver_credits_micros", dCredits)
	return in, nil
}

// Alerts returns the alerts whose Time is at or after since (zero: all),
// once each, sorted by time and id.
func (c *Client) Alerts(ctx context.Context, since time.Time) ([]schemas.Alert, error) {
	rows, err := c.conn.Query(ctx, alertsSQL(c.db, since))
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []schemas.Alert
	for rows.Next() {
		var (
			a                                       schemas.Alert
			typ, exhaustion, ent                    string
			period                                  time.Time
			ns, consumed, avail, credits, rate, bas int64
			meters, models                          []string
			dcredits                                []int64
		)
		if err := rows.Scan(&a.ID, &typ, &a.Tenant, &period, &ns, &a.Threshold.Coef, &a.Threshold.Scale,
			&consumed, &avail, &exhaustion, &ent, &a.GrantID, &credits, &a.Price.Coef, &a.Price.Scale,
			&rate, &bas, &meters, &models, &dcredits); err != nil {
			return nil, fmt.Errorf("scan alerts: %w", err)
		}
		a.Type, a.Entitlement = schemas.AlertType(typ), schemas.Entitlement(ent)
		a.PeriodStart, a.Time = fromDateTime(period), fromNS(ns)
		a.Consumed, a.Available, a.Credits = schemas.Micros(consumed), schemas.Micros(avail), schemas.Micros(credits)
		a.RatePerMinute, a.BaselinePerMinute = schemas.Micros(rate), schemas.Micros(bas)
		if exhaustion != "" {
			if a.ProjectedExhaustion, err = time.Parse(time.RFC3339Nano, exhaustion); err != nil {
				return nil, fmt.Errorf("alert %q: projected exhaustion %q: %w", a.ID, exhaustion, err)
			}
		}
		if len(meters) != len(models) || len(meters) != len(dcredits) {
			return nil, fmt.Errorf("alert %q: driver arrays differ in length", a.ID)
		}
		for j := range meters {
			a.Drivers = append(a.Drivers, schemas.Driver{Meter: meters[j], Model: models[j], Credits: schemas.Micros(dcredits[j])})
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

func alertsSQL(db string, since time.Time) string {
	return "SELECT id, type, tenant, period_start, time_ns, threshold_coef, threshold_scale," +
		" consumed_micros, available_micros, projected_exhaustion, entitlement, grant_id, credits_micros," +
		" price_coef, price_scale, rate_per_minute_micros, baseline_per_minute_micros," +
		" driver_meters, driver_models, driver_credits_micros" +
		" FROM " + db + ".alerts FINAL" +
		" WHERE time_ns >= " + itoa(sinceNanos(since)) +
		" ORDER BY time_ns, id"
}

type lineKey struct {
	tenant      string
	start       int64
	kind, descr string
}

// WriteCloses stores period closes and their line items, idempotently:
// writing the same close again yields the same rows once (readers and the
// period_closes and line_items views use FINAL). Lines are written first,
// so a stored close always has its lines. Pass all lines of a close in one
// call: lines that share (tenant, period_start, kind, description) are told
// apart by their order in lines, and a repeated close must list them in the
// same order. Period bounds must be whole seconds.
func (c *Client) WriteCloses(ctx context.Context, closes []schemas.PeriodClose, lines []schemas.LineItem) error {
	if len(lines) > 0 {
		in, err := lineItemsInsert(lines)
		if err != nil {
			return fmt.Errorf("write line items: %w", err)
		}
		if err := c.send(ctx, in); err != nil {
			return fmt.Errorf("write %d line items: %w", len(lines), err)
		}
	}
	if len(closes) > 0 {
		in, err := closesInsert(closes)
		if err != nil {
			return fmt.Errorf("write period closes: %w", err)
		}
		if err := c.send(ctx, in); err != nil {
			return fmt.Errorf("write %d period closes: %w", len(closes), err)
		}
	}
	return nil
}

func lineItemsInsert(lines []schemas.LineItem) (*insert, error) {
	n := len(lines)
	var (
		tenant, kind, descr, cur = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		start, end               = make([]int64, n), make([]int64, n)
		occurrence               = make([]uint32, n)
		qty, upCoef, amCoef      = make([]int64, n), make([]int64, n), make([]int64, n)
		upScale, amScale, charge = make([]uint8, n), make([]uint8, n), make([]uint8, n)
		seen                     = make(map[lineKey]uint32, n)
	)
	for i, l := range lines {
		s, err := wholeSeconds(l.PeriodStart)
		if err != nil {
			return nil, fmt.Errorf("line %d (%s %s): period start: %w", i, l.Tenant, l.Kind, err)
		}
		e, err := wholeSeconds(l.PeriodEnd)
		if err != nil {
			return nil, fmt.Errorf("line %d (%s %s): period end: %w", i, l.Tenant, l.Kind, err)
		}
		k := lineKey{l.Tenant, s, string(l.Kind), l.Description}
		occurrence[i] = seen[k]
		seen[k]++
		tenant[i], kind[i], descr[i], cur[i] = l.Tenant, string(l.Kind), l.Description, l.Currency
		start[i], end[i] = s, e
		qty[i] = int64(l.Quantity)
		upCoef[i], upScale[i] = l.UnitPrice.Coef, l.UnitPrice.Scale
		amCoef[i], amScale[i] = l.Amount.Coef, l.Amount.Scale
		if l.ChargedAtPurchase {
			charge[i] = 1
		}
	}
	in := &insert{table: "line_items_store"}
	in.col("tenant", tenant)
	in.col("period_start", start)
	in.col("period_end", end)
	in.col("kind", kind)
	in.col("description", descr)
	in.col("occurrence", occurrence)
	in.col("quantity_micros", qty)
	in.col("unit_price_coef", upCoef)
	in.col("unit_price_scale", upScale)
	in.col("amount_coef", amCoef)
	in.col("amount_scale", amScale)
	in.col("currency", cur)
	in.col("charged_at_purchase", charge)
	return in, nil
}

func closesInsert(closes []schemas.PeriodClose) (*insert, error) {
	n := len(closes)
	micros := func() []int64 { return make([]int64, n) }
	var (
		tenant, plan, cur                = make([]string, n), make([]string, n), make([]string, n)
		start, end                       = make([]int64, n), make([]int64, n)
		rin, incl, gca, avail, cons      = micros(), micros(), micros(), micros(), micros()
		over, bill, uncol, rout, expired = micros(), micros(), micros(), micros(), micros()
		oaCoef, rrCoef, drCoef           = micros(), micros(), micros()
		oaScale, rrScale, drScale        = make([]uint8, n), make([]uint8, n), make([]uint8, n)
	)
	for i, p := range closes {
		s, err := wholeSeconds(p.PeriodStart)
		if err != nil {
			return nil, fmt.Errorf("close %d (%s): period start: %w", i, p.Tenant, err)
		}
		e, err := wholeSeconds(p.PeriodEnd)
		if err != nil {
			return nil, fmt.Errorf("close %d (%s): period end: %w", i, p.Tenant, err)
		}
		tenant[i], plan[i], cur[i] = p.Tenant, p.Plan, p.Currency
		start[i], end[i] = s, e
		rin[i], incl[i], gca[i] = int64(p.RolloverIn), int64(p.Included), int64(p.GrantCreditsAvailable)
		avail[i], cons[i], over[i] = int64(p.Available), int64(p.Consumed), int64(p.Overage)
		bill[i], uncol[i] = int64(p.BillableOverage), int64(p.UncollectedOverage)
		rout[i], expired[i] = int64(p.RolloverOut), int64(p.ExpiredCredits)
		oaCoef[i], oaScale[i] = p.OverageAmount.Coef, p.OverageAmount.Scale
		rrCoef[i], rrScale[i] = p.RecognizedRevenue.Coef, p.RecognizedRevenue.Scale
		drCoef[i], drScale[i] = p.DeferredRevenueEnd.Coef, p.DeferredRevenueEnd.Scale
	}
	in := &insert{table: "period_closes_store"}
	in.col("tenant", tenant)
	in.col("period_start", start)
	in.col("period_end", end)
	in.col("plan", plan)
	in.col("rollover_in_micros", rin)
	in.col("included_micros", incl)
	in.col("grant_credits_available_micros", gca)
	in.col("available_micros", avail)
	in.col("consumed_micros", cons)
	in.col("overage_micros", over)
	in.col("billable_overage_micros", bill)
	in.col("uncollected_overage_micros", uncol)
	in.col("overage_amount_coef", oaCoef)
	in.col("overage_amount_scale", oaScale)
	in.col("rollover_out_micros", rout)
	in.col("expired_credits_micros", expired)
	in.col("recognized_revenue_coef", rrCoef)
	in.col("recognized_revenue_scale", rrScale)
	in.col("deferred_revenue_end_coef", drCoef)
	in.col("deferred_revenue_end_scale", drScale)
	in.col("currency", cur)
	return in, nil
}

// Closes returns the period closes and line items of tenant ("" = all
// tenants), once each, exactly as written (money keeps its scale), sorted
// like period_closes.csv and line_items.csv.
func (c *Client) Closes(ctx context.Context, tenant string) ([]schemas.PeriodClose, []schemas.LineItem, error) {
	closes, err := c.readCloses(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	lines, err := c.readLineItems(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	return closes, lines, nil
}

func closesSQL(db, tenant string) string {
	q := "SELECT tenant, period_start, period_end, plan, rollover_in_micros, included_micros," +
		" grant_credits_available_micros, available_micros, consumed_micros, overage_micros," +
		" billable_overage_micros, uncollected_overage_micros, overage_amount_coef, overage_amount_scale," +
		" rollover_out_micros, expired_credits_micros, recognized_revenue_coef, recognized_revenue_scale," +
		" deferred_revenue_end_coef, deferred_revenue_end_scale, currency" +
		" FROM " + db + ".period_closes_store FINAL"
	if tenant != "" {
		q += " WHERE tenant = " + quoteString(tenant)
	}
	return q + " ORDER BY tenant, period_start, period_end"
}

func (c *Client) readCloses(ctx context.Context, tenant string) ([]schemas.PeriodClose, error) {
	rows, err := c.conn.Query(ctx, closesSQL(c.db, tenant))
	if err != nil {
		return nil, fmt.Errorf("read period closes: %w", err)
	}
	defer rows.Close()
	var out []schemas.PeriodClose
	for rows.Next() {
		var (
			p                                 schemas.PeriodClose
			start, end                        time.Time
			rin, incl, gca, avail, cons, over int64
			bill, uncol, rout, expired        int64
		)
		if err := rows.Scan(&p.Tenant, &start, &end, &p.Plan, &rin, &incl, &gca, &avail, &cons, &over,
			&bill, &uncol, &p.OverageAmount.Coef, &p.OverageAmount.Scale, &rout, &expired,
			&p.RecognizedRevenue.Coef, &p.RecognizedRevenue.Scale,
			&p.DeferredRevenueEnd.Coef, &p.DeferredRevenueEnd.Scale, &p.Currency); err != nil {
			return nil, fmt.Errorf("scan period closes: %w", err)
		}
		p.PeriodStart, p.PeriodEnd = fromDateTime(start), fromDateTime(end)
		p.RolloverIn, p.Included, p.GrantCreditsAvailable = schemas.Micros(rin), schemas.Micros(incl), schemas.Micros(gca)
		p.Available, p.Consumed, p.Overage = schemas.Micros(avail), schemas.Micros(cons), schemas.Micros(over)
		p.BillableOverage, p.UncollectedOverage = schemas.Micros(bill), schemas.Micros(uncol)
		p.RolloverOut, p.ExpiredCredits = schemas.Micros(rout), schemas.Micros(expired)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read period closes: %w", err)
	}
	return out, nil
}

func lineItemsSQL(db, tenant string) string {
	q := "SELECT tenant, period_start, period_end, kind, description, quantity_micros," +
		" unit_price_coef, unit_price_scale, amount_coef, amount_scale, currency, charged_at_purchase" +
		" FROM " + db + ".line_items_store FINAL"
	if tenant != "" {
		q += " WHERE tenant = " + quoteString(tenant)
	}
	return q + " ORDER BY tenant, period_start, period_end, kind, description, occurrence"
}

func (c *Client) readLineItems(ctx context.Context, tenant string) ([]schemas.LineItem, error) {
	rows, err := c.conn.Query(ctx, lineItemsSQL(c.db, tenant))
	if err != nil {
		return nil, fmt.Errorf("read line items: %w", err)
	}
	defer rows.Close()
	var out []schemas.LineItem
	for rows.Next() {
		var (
			l          schemas.LineItem
			start, end time.Time
			kind       string
			qty        int64
			charged    uint8
		)
		if err := rows.Scan(&l.Tenant, &start, &end, &kind, &l.Description, &qty,
			&l.UnitPrice.Coef, &l.UnitPrice.Scale, &l.Amount.Coef, &l.Amount.Scale, &l.Currency, &charged); err != nil {
			return nil, fmt.Errorf("scan line items: %w", err)
		}
		l.PeriodStart, l.PeriodEnd = fromDateTime(start), fromDateTime(end)
		l.Kind, l.Quantity, l.ChargedAtPurchase = schemas.LineItemKind(kind), schemas.Micros(qty), charged == 1
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read line items: %w", err)
	}
	return out, nil
}

// WriteLedgerState stores an opaque snapshot of a tenant's ledger. The
// highest version of a tenant wins; versions must increase, and writing a
// version again must write the same state (a crash-and-retry does).
func (c *Client) WriteLedgerState(ctx context.Context, tenant string, version int64, state []byte) error {
	if tenant == "" {
		return fmt.Errorf("write ledger state: empty tenant")
	}
	if err := c.send(ctx, ledgerStateInsert(tenant, version, state)); err != nil {
		return fmt.Errorf("write ledger state of %s version %d: %w", tenant, version, err)
	}
	return nil
}

func ledgerStateInsert(tenant string, version int64, state []byte) *insert {
	in := &insert{table: "ledger_state"}
	in.col("tenant", []string{tenant})
	in.col("version", []int64{version})
	in.col("state", []string{string(state)})
	return in
}

// LedgerStates calls fn with the latest snapshot of every tenant, in tenant
// order. state is fn's to keep.
func (c *Client) LedgerStates(ctx context.Context, fn func(tenant string, state []byte) error) error {
	rows, err := c.conn.Query(ctx, ledgerStatesSQL(c.db))
	if err != nil {
		return fmt.Errorf("read ledger states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant, state string
		if err := rows.Scan(&tenant, &state); err != nil {
			return fmt.Errorf("scan ledger states: %w", err)
		}
		if err := fn(tenant, []byte(state)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read ledger states: %w", err)
	}
	return nil
}

func ledgerStatesSQL(db string) string {
	// argMax, not FINAL: correct whether or not a merge has run.
	return "SELECT tenant, argMax(state, version) AS latest FROM " + db + ".ledger_state" +
		" GROUP BY tenant ORDER BY tenant"
}

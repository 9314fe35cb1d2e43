package files

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/creditflow/creditflow/schemas"
)

// ClosesHeader is the header row of period_closes.csv (SPEC 5). Callers must not modify it.
var ClosesHeader = []string{
	"tenant", "period_start", "period_end", "plan", "rollover_in", "included",
	"grant_credits_available", "available", "consumed", "overage", "billable_overage",
	"uncollected_overage", "overage_amount", "rollover_out", "expired_credits",
	"recognized_revenue", "deferred_revenue_end", "currency",
}

// LineItemsHeader is the header row of line_items.csv (SPEC 5). Callers must not modify it.
var LineItemsHeader = []string{
	"tenant", "period_start", "period_end", "kind", "description", "quantity",
	"unit_price", "amount", "currency", "charged_at_purchase",
}

// WriteClosesCSV writes period_closes.csv (SPEC 5) to path: the columns of
// ClosesHeader, credits with 6 decimals, money (overage_amount,
// recognized_revenue, deferred_revenue_end) with exactly currencyDecimals
// decimals. Rows are sorted by tenant, period_start, period_end, plan and
// currency; rows equal in all of these keep their order. rows is not
// modified. Money with more significant decimals than currencyDecimals is an
// error (wrapping schemas.ErrPrecision), and then no file is written.
func WriteClosesCSV(path string, rows []schemas.PeriodClose, currencyDecimals int) error {
	if err := checkDecimals(currencyDecimals); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	sorted := sortedCloses(rows)
	rec := make([]string, len(ClosesHeader))
	return writeCSV(path, ClosesHeader, len(sorted), func(i int) ([]string, error) {
		c := sorted[i]
		var errs [3]error
		rec[0], rec[1], rec[2], rec[3] = c.Tenant, formatTime(c.PeriodStart), formatTime(c.PeriodEnd), c.Plan
		rec[4], rec[5], rec[6], rec[7] = c.RolloverIn.String(), c.Included.String(), c.GrantCreditsAvailable.String(), c.Available.String()
		rec[8], rec[9], rec[10], rec[11] = c.Consumed.String(), c.Overage.String(), c.BillableOverage.String(), c.UncollectedOverage.String()
		rec[12], errs[0] = formatMoney(c.OverageAmount, currencyDecimals)
		rec[13], rec[14] = c.RolloverOut.String(), c.ExpiredCredits.String()
		rec[15], errs[1] = formatMoney(c.RecognizedRevenue, currencyDecimals)
		rec[16], errs[2] = formatMoney(c.DeferredRevenueEnd, currencyDecimals)
		rec[17] = c.Currency
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("close of %s at %s: %w", c.Tenant, rec[1], err)
		}
		return rec, nil
	})
}

// WriteLineItemsCSV writes line_items.csv (SPEC 5) to path: the columns of
// LineItemsHeader; quantity with 6 decimals, unit_price exact with at least
// currencyDecimals decimals, amount with exactly currencyDecimals decimals,
// charged_at_purchase as true or false. Rows are sorted by tenant,
// period_start, period_end, kind, description, then by the remaining
// columns. rows is not modified. An amount with more significant decimals
// than currencyDecimals is an error (wrapping schemas.ErrPrecision), and then
// no file is written.
func WriteLineItemsCSV(path string, rows []schemas.LineItem, currencyDecimals int) error {
	if err := checkDecimals(currencyDecimals); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	sorted := sortedLineItems(rows)
	rec := make([]string, len(LineItemsHeader))
	return writeCSV(path, LineItemsHeader, len(sorted), func(i int) ([]string, error) {
		li := sorted[i]
		var err error
		rec[0], rec[1], rec[2] = li.Tenant, formatTime(li.PeriodStart), formatTime(li.PeriodEnd)
		rec[3], rec[4], rec[5] = string(li.Kind), li.Description, li.Quantity.String()
		rec[6] = li.UnitPrice.StringFixed(currencyDecimals)
		if rec[7], err = formatMoney(li.Amount, currencyDecimals); err != nil {
			return nil, fmt.Errorf("line item %s %s of %s at %s: %w", li.Kind, li.Description, li.Tenant, rec[1], err)
		}
		rec[8], rec[9] = li.Currency, formatBool(li.ChargedAtPurchase)
		return rec, nil
	})
}

// WriteRecommendationsCSV writes a CSV file with the given header and rows,
// sorted by their columns left to right (byte-wise string order); it serves
// the upgrade recommendations of the close job and any other small table.
// Every row must have as many fields as header. rows is not modified.
func WriteRecommendationsCSV(path string, header []string, rows [][]string) error {
	for i, r := range rows {
		if len(r) != len(header) {
			return fmt.Errorf("write %s: row %d has %d fields, header has %d", path, i, len(r), len(header))
		}
	}
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b []string) int { return slices.Compare(a, b) })
	return writeCSV(path, header, len(sorted), func(i int) ([]string, error) { return sorted[i], nil })
}

// writeCSV writes header and n records produced by row to path, atomically.
func writeCSV(path string, header []string, n int, row func(i int) ([]string, error)) error {
	f, err := createAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	bw := bufio.NewWriterSize(f, 1<<16)
	cw := csv.NewWriter(bw)
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	for i := range n {
		rec, err := row(i)
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	cw.Flush()
	if err := errors.Join(cw.Error(), bw.Flush()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// sortedCloses returns a sorted copy of rows.
func sortedCloses(rows []schemas.PeriodClose) []schemas.PeriodClose {
	s := slices.Clone(rows)
	slices.SortStableFunc(s, func(a, b schemas.PeriodClose) int {
		return cmp.Or(
			strings.Compare(a.Tenant, b.Tenant),
			a.PeriodStart.Compare(b.PeriodStart),
			a.PeriodEnd.Compare(b.PeriodEnd),
			strings.Compare(a.Plan, b.Plan),
			strings.Compare(a.Currency, b.Currency),
		)
	})
	return s
}

// sortedLineItems returns a sorted copy of rows.
func sortedLineItems(rows []schemas.LineItem) []schemas.LineItem {
	s := slices.Clone(rows)
	slices.SortStableFunc(s, cmpLineItem)
	return s
}

// cmpLineItem orders line items by every column, left to right; the
// decimals are compared only when everything before them is equal.
func cmpLineItem(a, b schemas.LineItem) int {
	if c := cmp.Or(
		strings.Compare(a.Tenant, b.Tenant),
		a.PeriodStart.Compare(b.PeriodStart),
		a.PeriodEnd.Compare(b.PeriodEnd),
		strings.Compare(string(a.Kind), string(b.Kind)),
		strings.Compare(a.Description, b.Description),
		cmp.Compare(a.Quantity, b.Quantity),
	); c != 0 {
		return c
	}
	if c := cmp.Or(a.UnitPrice.Cmp(b.UnitPrice), cmpDecimalExact(a.UnitPrice, b.UnitPrice)); c != 0 {
		return c
	}
	if c := cmp.Or(a.Amount.Cmp(b.Amount), cmpDecimalExact(a.Amount, b.Amount)); c != 0 {
		return c
	}
	return cmp.Or(strings.Compare(a.Currency, b.Currency), cmpBool(a.ChargedAtPurchase, b.ChargedAtPurchase))
}

// cmpDecimalExact orders numerically equal decimals by scale, so that
// "1.5" and "1.50" (which print differently as unit prices) have a fixed
// order.
func cmpDecimalExact(a, b schemas.Decimal) int { return cmp.Compare(a.Scale, b.Scale) }

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// runClose closes one billing period over event files. The period is named
// by month: for each tenant it is the period whose start falls in that month
// in the tenant's own time zone (a tenant anchored on the 15th closes
// 15 January – 15 February for --period 2026-01). Earlier periods that are
// still open are closed first, oldest first, as the close job would have;
// later periods stay open. The named period is closed even if its end plus
// the close grace has not passed yet, so that billing ops can close by hand.
func runClose(ctx context.Context, args []string, e *env) error {
	fs := newFlags("close", e)
	var (
		catalogPath = fs.String("catalog", "", "pricing catalog, YAML or JSON (required)")
		eventsPath  = fs.String("events", "", "usage events, one JSON object per line (required)")
		grantsPath  = fs.String("grants", "", "grants, one JSON object per line (optional)")
		outDir      = fs.String("out", "", "directory for the close files (required unless --dry-run)")
		periodFlag  = fs.String("period", "", "the period to close, YYYY-MM (required)")
		tenantFlag  = fs.String("tenant", "", "close only this tenant (comma-separated list allowed)")
		dryRun      = fs.Bool("dry-run", false, "preview: print the closes, write no files")
		now         timeFlag
		pf          pipelineFlags
	)
	fs.Var(&now, "now", "wall clock, RFC 3339, for too_far_future (default: the current time)")
	pf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: creditflow close --period YYYY-MM --catalog FILE --events FILE.jsonl [--grants FILE] [--tenant ID] [--dry-run | --out DIR]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var errs []error
	month, err := time.Parse("2006-01", *periodFlag)
	if err != nil {
		errs = append(errs, usagef("--period %q: want YYYY-MM", *periodFlag))
	}
	if *catalogPath == "" {
		errs = append(errs, usagef("--catalog is required"))
	}
	if *eventsPath == "" {
		errs = append(errs, usagef("--events is required"))
	}
	if *outDir == "" && !*dryRun {
		errs = append(errs, usagef("--out is required unless --dry-run"))
	}
	errs = append(errs, pf.validate())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	cat, err := catalog.Load(*catalogPath)
	if err != nil {
		return fmt.Errorf("invalid catalog:\n%w", err)
	}
	var tenants map[string]bool
	if *tenantFlag != "" {
		tenants = map[string]bool{}
		for _, id := range strings.Split(*tenantFlag, ",") {
			if cat.Tenant(id) == nil {
				return usagef("--tenant %q is not in the catalog", id)
			}
			tenants[id] = true
		}
	}
	if now.t.IsZero() {
		now.t = e.now().UTC()
	}
	target := func(t *catalog.Tenant) (period.Period, bool) {
		cal := t.Calendar()
		loc := cal.Location
		if loc == nil {
			loc = time.UTC
		}
		// The period that starts in the month: the anchor day, or the
		// tenant's start when its first period begins mid-month.
		at := time.Date(month.Year(), month.Month(), cal.AnchorDay, 0, 0, 0, 0, loc)
		if p, ok := cal.At(at); ok && sameMonth(p.Start, month, loc) {
			return p, true
		}
		if sameMonth(cal.Start, month, loc) {
			return cal.First(), true
		}
		return period.Period{}, false
	}
	pf.closable = func(t *catalog.Tenant, p period.Period) bool {
		if tenants != nil && !tenants[t.ID] {
			return false
		}
		tp, ok := target(t)
		if !ok {
			// The tenant has no period starting in that month (it
			// starts later): nothing of it is closed.
			return false
		}
		return !p.Start.After(tp.Start)
	}
	// Clock at end of input: past every target period's end plus grace.
	closeAt := now.t
	for _, t := range cat.Tenants {
		if tp, ok := target(t); ok {
			if c := tp.End.Add(pf.grace); c.After(closeAt) {
				closeAt = c
			}
		}
	}
	dir := *outDir
	if *dryRun {
		if dir, err = os.MkdirTemp("", "creditflow-close-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	sink, err := replayToFiles(ctx, e, replayJob{
		cat: cat, events: *eventsPath, grants: *grantsPath, now: now.t, closeAt: closeAt, out: dir,
		flags: pf, progress: "none", dryRun: *dryRun,
	})
	if err != nil {
		return err
	}
	return printCloses(e, cat, sink, func(c schemas.PeriodClose) bool {
		t := cat.Tenant(c.Tenant)
		tp, ok := target(t)
		return ok && tp.Start.Equal(c.PeriodStart) && (tenants == nil || tenants[t.ID])
	})
}

func sameMonth(t, month time.Time, loc *time.Location) bool {
	l := t.In(loc)
	return l.Year() == month.Year() && l.Month() == month.Month()
}

// printCloses writes a readable table per tenant of the selected closes.
func printCloses(e *env, cat *catalog.Catalog, sink *fileSink, keep func(schemas.PeriodClose) bool) error {
	d := cat.CurrencyDecimals
	lines := map[string][]schemas.LineItem{}
	for _, l := range sink.lines {
		k := l.Tenant + "|" + l.PeriodStart.String()
		lines[k] = append(lines[k], l)
	}
	closes := append([]schemas.PeriodClose(nil), sink.closes...)
	sort.Slice(closes, func(i, j int) bool {
		if closes[i].Tenant != closes[j].Tenant {
			return closes[i].Tenant < closes[j].Tenant
		}
		return closes[i].PeriodStart.Before(closes[j].PeriodStart)
	})
	shown := 0
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, c := range closes {
		if !keep(c) {
			continue
		}
		shown++
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "\ntenant %s  plan %s  period %s – %s  (%s)\n", c.Tenant, c.Plan,
			c.PeriodStart.Format(time.RFC3339), c.PeriodEnd.Format(time.RFC3339), c.Currency)
		fmt.Fprintf(w, "  rollover in\t%s\t  included\t%s\t  grants\t%s\t  available\t%s\t\n",
			c.RolloverIn, c.Included, c.GrantCreditsAvailable, c.Available)
		fmt.Fprintf(w, "  consumed\t%s\t  overage\t%s\t  billable\t%s\t  uncollected\t%s\t\n",
			c.Consumed, c.Overage, c.BillableOverage, c.UncollectedOverage)
		fmt.Fprintf(w, "  rollover out\t%s\t  expired\t%s\t  recognized\t%s\t  deferred\t%s\t\n",
			c.RolloverOut, c.ExpiredCredits, c.RecognizedRevenue.StringFixed(d), c.DeferredRevenueEnd.StringFixed(d))
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "  kind\tquantity\tunit price\tamount\tdescription\t\n")
		for _, l := range lines[c.Tenant+"|"+c.PeriodStart.String()] {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t\n", l.Kind, l.Quantity, l.UnitPrice.StringFixed(d), l.Amount.StringFixed(d), l.Description)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if shown == 0 {
		fmt.Fprintln(e.stdout, "no period of the selected tenants starts in that month")
	}
	return nil
}

// Package close is the period close job of the streaming pipeline: on a
// cron schedule (robfig/cron only triggers it) it rebuilds every tenant's
// ledger from the Source (ClickHouse: usage in 15-minute buckets, grants,
// and the ledger states its previous run stored), closes every period whose
// end plus the close grace has passed, and writes the closes and line items
// to the Sink, to the closes topic and to Parquet/CSV files for billing ops.
//
// A run is idempotent: the closes it writes are keyed by (tenant, period)
// and line items by (tenant, period, kind, description), so running it twice,
// or again after a crash half way, writes the same rows once. The ledger
// states are stored last: a run that crashed before storing them is simply
// done again by the next run.
//
// Late usage: the stored states keep every closed period's figures as last
// evaluated; usage that arrived since for a closed period makes the next
// close carry a late_usage_adjustment line (see pipeline/ledger).
//
// Usage is bucketed by 15 minutes, which every UTC offset in use is a
// multiple of, so each bucket falls into exactly one local-midnight period.
package close

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/creditflow/creditflow/pipeline/billing"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/ledger"
	"github.com/creditflow/creditflow/schemas"
)

// Source reads what the close needs.
type Source interface {
	// LedgerStates returns the states stored by the previous run, by tenant.
	LedgerStates(ctx context.Context) (map[string]ledger.State, error)
	// Usage calls fn for every tenant's credits per 15-minute bucket.
	Usage(ctx context.Context, fn func(tenant string, bucket time.Time, credits schemas.Micros) error) error
	// Grants returns every grant.
	Grants(ctx context.Context) ([]schemas.Grant, error)
}

// Sink stores closes and ledger states.
type Sink interface {
	WriteCloses(ctx context.Context, closes []schemas.PeriodClose, lines []schemas.LineItem) error
	WriteLedgerStates(ctx context.Context, version int64, states []ledger.State) error
}

// Output receives each run's closes besides the Sink: the closes topic and
// the billing-ops files. Either may be nil.
type Output func(ctx context.Context, run time.Time, closed []ledger.Closed) error

// Config configures a Job.
type Config struct {
	Schedule   string           // robfig/cron spec; empty means "@every 1m"
	CloseGrace time.Duration    // zero means 1h
	Now        func() time.Time // nil means time.Now
	Log        zerolog.Logger
}

// Job closes periods.
type Job struct {
	cfg     Config
	cat     *catalog.Catalog
	src     Source
	sink    Sink
	outputs []Output
	mu      sync.Mutex // one run at a time
}

// New returns a Job.
func New(cfg Config, cat *catalog.Catalog, src Source, sink Sink, outputs ...Output) (*Job, error) {
	if cfg.Schedule == "" {
		cfg.Schedule = "@every 1m"
	}
	if cfg.CloseGrace == 0 {
		cfg.CloseGrace = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var errs []error
	if _, err := cron.ParseStandard(cfg.Schedule); err != nil {
		errs = append(errs, fmt.Errorf("schedule %q: %w", cfg.Schedule, err))
	}
	if cat == nil || src == nil || sink == nil {
		errs = append(errs, errors.New("catalog, source and sink: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.Log = cfg.Log.With().Str("component", "close").Logger()
	return &Job{cfg: cfg, cat: cat, src: src, sink: sink, outputs: outputs}, nil
}

// Result summarises a run.
type Result struct {
	Closes, Lines int
}

// RunOnce closes every period whose end plus the grace is at or before clock.
func (j *Job) RunOnce(ctx context.Context, clock time.Time) (Result, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	book, err := j.rebuild(ctx)
	if err != nil {
		return Result{}, err
	}
	var out billing.Output
	if err := book.CloseDue(clock, &out); err != nil {
		return Result{}, err
	}
	res := Result{Closes: len(out.Closes)}
	if len(out.Closes) == 0 {
		return res, nil
	}
	var closes []schemas.PeriodClose
	var lines []schemas.LineItem
	for _, c := range out.Closes {
		closes = append(closes, c.Close)
		lines = append(lines, c.Lines...)
	}
	res.Lines = len(lines)
	if err := j.sink.WriteCloses(ctx, closes, lines); err != nil {
		return res, fmt.Errorf("write closes: %w", err)
	}
	for _, o := range j.outputs {
		if o == nil {
			continue
		}
		if err := o(ctx, clock, out.Closes); err != nil {
			return res, err
		}
	}
	var states []ledger.State
	for _, ts := range book.Snapshot(tenantIDs(j.cat)) {
		states = append(states, ts.Ledger)
	}
	if err := j.sink.WriteLedgerStates(ctx, clock.UnixNano(), states); err != nil {
		return res, fmt.Errorf("write ledger states: %w", err)
	}
	return res, nil
}

// rebuild builds a book from the stored states, all usage and all grants.
func (j *Job) rebuild(ctx context.Context) (*billing.Book, error) {
	book, err := billing.New(billing.Config{CloseGrace: j.cfg.CloseGrace, NoRunaway: true}, j.cat)
	if err != nil {
		return nil, err
	}
	stored, err := j.src.LedgerStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("read ledger states: %w", err)
	}
	var states []billing.TenantState
	for id, st := range stored {
		if j.cat.Tenant(id) == nil {
			continue
		}
		st.Usage = nil // recounted from the source below
		states = append(states, billing.TenantState{Tenant: id, Ledger: st})
	}
	slices.SortFunc(states, func(a, b billing.TenantState) int {
		if a.Tenant < b.Tenant {
			return -1
		}
		return 1
	})
	if err := book.Restore(states); err != nil {
		return nil, err
	}
	var out billing.Output
	err = j.src.Usage(ctx, func(tenant string, bucket time.Time, credits schemas.Micros) error {
		if j.cat.Tenant(tenant) == nil {
			return nil
		}
		return book.AddUsage(tenant, bucket, credits)
	})
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	grants, err := j.src.Grants(ctx)
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	for _, g := range grants {
		if j.cat.Tenant(g.Tenant) == nil {
			continue
		}
		if err := book.Grant(g, &out); err != nil {
			return nil, err
		}
	}
	return book, nil
}

func tenantIDs(cat *catalog.Catalog) []string {
	ids := make([]string, len(cat.Tenants))
	for i, t := range cat.Tenants {
		ids[i] = t.ID
	}
	return ids
}

// Run triggers RunOnce on the schedule until ctx is done. A failed run is
// logged and tried again at the next trigger.
func (j *Job) Run(ctx context.Context) error {
	c := cron.New(cron.WithLocation(time.UTC))
	_, err := c.AddFunc(j.cfg.Schedule, func() {
		clock := j.cfg.Now().UTC()
		res, err := j.RunOnce(ctx, clock)
		if err != nil {
			j.cfg.Log.Error().Err(err).Time("clock", clock).Msg("close run failed; retried at the next trigger")
			return
		}
		if res.Closes > 0 {
			j.cfg.Log.Info().Time("clock", clock).Int("closes", res.Closes).Int("line_items", res.Lines).Msg("periods closed")
		}
	})
	if err != nil {
		return err
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

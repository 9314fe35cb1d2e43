package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/creditflow/creditflow/pipeline/billing"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/dedup"
	"github.com/creditflow/creditflow/pipeline/partition"
	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/pipeline/replay"
	"github.com/creditflow/creditflow/pipeline/window"
)

// pipelineFlags are the processing settings shared by replay, close and run.
type pipelineFlags struct {
	width, outOfOrder, maxAge, maxFuture, horizon, grace time.Duration
	noRunaway                                            bool
	closable                                             func(*catalog.Tenant, period.Period) bool
}

func (p *pipelineFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&p.width, "window", time.Minute, "tumbling window width")
	fs.DurationVar(&p.outOfOrder, "out-of-order", 10*time.Second, "allowed out-of-orderness behind the highest event time")
	fs.DurationVar(&p.maxAge, "max-event-age", 35*24*time.Hour, "events further behind the processing clock are dead-lettered as too_old")
	fs.DurationVar(&p.maxFuture, "max-future", 5*time.Minute, "events further ahead of the wall clock (--now) are dead-lettered as too_far_future")
	fs.DurationVar(&p.horizon, "dedup-horizon", 24*time.Hour, "copies of an event id whose event times lie within this span count once")
	fs.DurationVar(&p.grace, "close-grace", time.Hour, "a period is closed once its end plus this grace has passed")
	fs.BoolVar(&p.noRunaway, "no-runaway", false, "switch runaway-usage detection off")
}

func (p *pipelineFlags) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"window", p.width}, {"max-event-age", p.maxAge}, {"dedup-horizon", p.horizon}} {
		if d.v <= 0 {
			errs = append(errs, usagef("--%s %v: must be positive", d.name, d.v))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"out-of-order", p.outOfOrder}, {"max-future", p.maxFuture}, {"close-grace", p.grace}} {
		if d.v < 0 {
			errs = append(errs, usagef("--%s %v: must not be negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

func (p *pipelineFlags) partition() partition.Config {
	ooo := p.outOfOrder
	if ooo == 0 {
		ooo = window.NoOutOfOrder
	}
	return partition.Config{
		Window:      window.Config{Width: p.width, OutOfOrder: ooo},
		Dedup:       dedup.Config{Horizon: p.horizon},
		MaxEventAge: p.maxAge,
		MaxFuture:   p.maxFuture,
	}
}

func (p *pipelineFlags) billing() billing.Config {
	return billing.Config{CloseGrace: p.grace, NoRunaway: p.noRunaway, Closable: p.closable}
}

func runReplay(ctx context.Context, args []string, e *env) error {
	fs := newFlags("replay", e)
	var (
		catalogPath = fs.String("catalog", "", "pricing catalog, YAML or JSON (required)")
		eventsPath  = fs.String("events", "", "usage events, one JSON object per line (required)")
		grantsPath  = fs.String("grants", "", "grants, one JSON object per line (optional)")
		outDir      = fs.String("out", "", "directory for the output files (required; created if missing)")
		progress    = fs.String("progress", "auto", "progress display: auto (a bar on a terminal, log lines otherwise), bar, log or none")
		now         timeFlag
		pf          pipelineFlags
	)
	fs.Var(&now, "now", "wall clock of the run, RFC 3339 (required): judges too_far_future and closes every period that ended (plus --close-grace) before it")
	pf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: creditflow replay --catalog FILE --events FILE.jsonl [--grants FILE.jsonl] --now RFC3339 --out DIR [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var errs []error
	for _, r := range []struct{ name, v string }{{"catalog", *catalogPath}, {"events", *eventsPath}, {"out", *outDir}} {
		if r.v == "" {
			errs = append(errs, usagef("--%s is required", r.name))
		}
	}
	if now.t.IsZero() {
		errs = append(errs, usagef("--now is required"))
	}
	errs = append(errs, pf.validate())
	switch *progress {
	case "auto", "bar", "log", "none":
	default:
		errs = append(errs, usagef("--progress %q: want auto, bar, log or none", *progress))
	}
	for _, f := range []struct{ flag, path string }{{"events", *eventsPath}, {"grants", *grantsPath}, {"catalog", *catalogPath}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			errs = append(errs, usagef("--%s %s: %v", f.flag, f.path, errors.Unwrap(err)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	cat, err := catalog.Load(*catalogPath)
	if err != nil {
		return fmt.Errorf("invalid catalog:\n%w", err)
	}
	for _, w := range cat.Warnings {
		e.log.Warn().Str("component", "catalog").Msg(w.Error())
	}
	_, err = replayToFiles(ctx, e, replayJob{
		cat: cat, events: *eventsPath, grants: *grantsPath, now: now.t, out: *outDir,
		flags: pf, progress: *progress,
	})
	return err
}

type replayJob struct {
	cat            *catalog.Catalog
	events, grants string
	now, closeAt   time.Time
	out            string
	flags          pipelineFlags
	progress       string
	dryRun         bool
}

// replayToFiles runs a replay into the output directory and logs a summary.
func replayToFiles(ctx context.Context, e *env, job replayJob) (*fileSink, error) {
	if err := os.MkdirAll(job.out, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	sink, err := newFileSink(job.out, job.cat, job.dryRun)
	if err != nil {
		return nil, err
	}
	log := e.log.With().Str("component", "replay").Logger()
	start := time.Now()
	prog := newProgress(e, job.progress, filepath.Base(job.events))
	res, err := replay.Run(ctx, replay.Config{
		Catalog: job.cat, Events: job.events, Grants: job.grants, Now: job.now, CloseAt: job.closeAt,
		Partition: job.flags.partition(), Billing: job.flags.billing(), Progress: prog.update, TempDir: job.out,
	}, sink)
	prog.done()
	if err != nil {
		sink.abort()
		return nil, err
	}
	if err := sink.Close(); err != nil {
		return nil, err
	}
	st := res.Stats
	elapsed := time.Since(start)
	ev := log.Info().
		Int64("records", st.Records).Int64("counted", st.Counted).Int64("duplicates", st.Duplicates).
		Int64("conflicting_duplicates", st.Conflicts).Int64("dead_letters", st.DeadLetters).
		Int64("grants", res.Grants).Int64("closes", res.Closes).Int64("alerts", res.Alerts).
		Dur("elapsed", elapsed).Float64("events_per_s", float64(st.Records)/elapsed.Seconds())
	for reason, n := range st.ByReason {
		ev = ev.Int64("dead_"+string(reason), n)
	}
	ev.Str("out", job.out).Msg("replay complete")
	return sink, nil
}

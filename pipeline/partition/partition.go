// Package partition processes the records of one input partition: decode →
// validate → dedup → rate → window. Every record ends in exactly one outcome:
// counted, duplicate (counted before) or dead-lettered with a reason (SPEC
// 3.2). The streaming pipeline runs one Processor per Kafka partition; replay
// runs one over a file. The package is pure: clocks are arguments.
//
// Checks run in this order, and the first failing one names the reason:
//
//	decode (malformed_json, missing_field, bad_field, bad_quantity, bad_time)
//	→ meter in catalog (unknown_meter) → tenant in catalog (unknown_tenant)
//	→ not ahead of the wall clock by more than MaxFuture (too_far_future)
//	→ not behind the processing clock by more than MaxEventAge (too_old)
//	→ not before the tenant's catalog start (unknown_tenant)
//	→ a rate in force at the event time (no_rate)
//	→ dedup (duplicate) → counted
//
// Only counted events are remembered by dedup, so a refused first copy never
// hides a good later one. An event before its tenant's catalog start has no
// billing period and is dead-lettered as unknown_tenant.
package partition

import (
	"errors"
	"fmt"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/dedup"
	"github.com/creditflow/creditflow/pipeline/window"
	"github.com/creditflow/creditflow/schemas"
)

// Config configures a Processor.
type Config struct {
	Window      window.Config
	Dedup       dedup.Config
	MaxEventAge time.Duration // events further behind the processing clock are too_old; zero means 35 days
	MaxFuture   time.Duration // events further ahead of the wall clock are too_far_future; zero means 5m
	// WatermarkClock makes the processing clock the watermark (replay)
	// instead of the wall clock passed to Process (streaming).
	WatermarkClock bool
}

// Outcome is what became of a record.
type Outcome uint8

// Outcomes.
const (
	Counted Outcome = iota + 1
	Duplicate
	DeadLetter
)

func (o Outcome) String() string {
	switch o {
	case Counted:
		return "counted"
	case Duplicate:
		return "duplicate"
	case DeadLetter:
		return "dead_letter"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Result is the outcome of one record. Event aliases the Processor's scratch
// and is valid until the next call to Process.
type Result struct {
	Outcome  Outcome
	Err      *schemas.RecordError // set for DeadLetter
	Conflict bool                 // a Duplicate whose content differs from the counted copy
	Event    *schemas.UsageEvent  // set for Counted and Duplicate
	Credits  schemas.Micros       // set for Counted
	Digest   uint64               // content digest, set for Counted and Duplicate
}

// Stats counts outcomes.
type Stats struct {
	Records, Counted, Duplicates, Conflicts, DeadLetters int64
	ByReason                                             map[schemas.Reason]int64
}

// Processor processes one partition's records in order. It is not safe for
// concurrent use.
type Processor struct {
	cfg     Config
	cat     *catalog.Catalog
	dec     *schemas.Decoder
	seen    *dedup.Set
	windows *window.Windows
	ev      schemas.UsageEvent
	maxTime time.Time // highest counted event time
	stats   Stats
	sinceGC int
}

// New returns a Processor over the catalog cat.
func New(cfg Config, cat *catalog.Catalog) (*Processor, error) {
	var errs []error
	if cfg.MaxEventAge == 0 {
		cfg.MaxEventAge = 35 * 24 * time.Hour
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = 5 * time.Minute
	}
	if cfg.MaxEventAge < 0 {
		errs = append(errs, fmt.Errorf("max event age %v: must be positive", cfg.MaxEventAge))
	}
	if cfg.MaxFuture < 0 {
		errs = append(errs, fmt.Errorf("max future %v: must be positive", cfg.MaxFuture))
	}
	if cat == nil {
		errs = append(errs, errors.New("catalog: required"))
	}
	seen, err := dedup.New(cfg.Dedup)
	if err != nil {
		errs = append(errs, fmt.Errorf("dedup: %w", err))
	}
	win, err := window.New(cfg.Window)
	if err != nil {
		errs = append(errs, fmt.Errorf("window: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Processor{
		cfg: cfg, cat: cat, dec: schemas.NewDecoder(), seen: seen, windows: win,
		stats: Stats{ByReason: make(map[schemas.Reason]int64, len(schemas.Reasons))},
	}, nil
}

// Process handles one record. now is the wall clock (replay passes --now).
func (p *Processor) Process(rec []byte, now time.Time) Result {
	p.stats.Records++
	ev := &p.ev
	if err := p.dec.DecodeUsage(rec, ev); err != nil {
		var re *schemas.RecordError
		if !errors.As(err, &re) {
			re = &schemas.RecordError{Reason: schemas.ReasonMalformedJSON, Detail: err.Error()}
		}
		return p.dead(re)
	}
	if p.cat.Meter(ev.Meter) == nil {
		return p.dead(&schemas.RecordError{Field: "meter", Reason: schemas.ReasonUnknownMeter, Detail: fmt.Sprintf("meter %q is not in the catalog", ev.Meter)})
	}
	tenant := p.cat.Tenant(ev.Tenant)
	if tenant == nil {
		return p.dead(&schemas.RecordError{Field: "tenant", Reason: schemas.ReasonUnknownTenant, Detail: fmt.Sprintf("tenant %q is not in the catalog", ev.Tenant)})
	}
	if limit := now.Add(p.cfg.MaxFuture); ev.Time.After(limit) {
		return p.dead(&schemas.RecordError{Field: "time", Reason: schemas.ReasonTooFarFuture, Detail: fmt.Sprintf("event time %s is more than %v ahead of %s", ev.Time.Format(time.RFC3339Nano), p.cfg.MaxFuture, now.UTC().Format(time.RFC3339Nano))})
	}
	if clock := p.Clock(now); !clock.IsZero() && ev.Time.Before(clock.Add(-p.cfg.MaxEventAge)) {
		return p.dead(&schemas.RecordError{Field: "time", Reason: schemas.ReasonTooOld, Detail: fmt.Sprintf("event time %s is more than %v behind the processing clock %s", ev.Time.Format(time.RFC3339Nano), p.cfg.MaxEventAge, clock.Format(time.RFC3339Nano))})
	}
	if ev.Time.Before(tenant.Start) {
		return p.dead(&schemas.RecordError{Field: "time", Reason: schemas.ReasonUnknownTenant, Detail: fmt.Sprintf("event time %s is before tenant %q starts (%s)", ev.Time.Format(time.RFC3339Nano), ev.Tenant, tenant.Start.UTC().Format(time.RFC3339))})
	}
	rate, ok := p.cat.Rate(ev.Meter, ev.Model, ev.Time)
	if !ok {
		return p.dead(&schemas.RecordError{Field: "model", Reason: schemas.ReasonNoRate, Detail: fmt.Sprintf("no rate for meter %q model %q in force at %s", ev.Meter, ev.Model, ev.Time.Format(time.RFC3339Nano))})
	}
	credits, err := schemas.MulMicros(ev.Quantity, rate)
	if err != nil {
		return p.dead(&schemas.RecordError{Field: "quantity", Reason: schemas.ReasonBadQuantity, Detail: fmt.Sprintf("quantity %s × rate %s: credits out of range", ev.Quantity, rate)})
	}
	d := digest(ev)
	switch p.seen.Check(ev.Tenant, ev.ID, ev.Time, d) {
	case dedup.Duplicate:
		p.stats.Duplicates++
		return Result{Outcome: Duplicate, Event: ev, Digest: d}
	case dedup.Conflict:
		p.stats.Duplicates++
		p.stats.Conflicts++
		return Result{Outcome: Duplicate, Conflict: true, Event: ev, Digest: d}
	}
	p.stats.Counted++
	if ev.Time.After(p.maxTime) {
		p.maxTime = ev.Time
	}
	p.windows.Add(schemas.WindowKey{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model}, ev.Time, ev.Quantity, credits)
	return Result{Outcome: Counted, Event: ev, Credits: credits, Digest: d}
}

// Remember records a counted event without counting it again: how the
// streaming pipeline rebuilds dedup state from stored raw events when it
// takes over a partition.
func (p *Processor) Remember(tenant string, id []byte, t time.Time, digest uint64) {
	p.seen.Check(tenant, id, t, digest)
}

// Resume sets the highest counted event time after a restart, so that the
// watermark continues where the stored state left it.
func (p *Processor) Resume(maxEventTime time.Time) {
	if maxEventTime.After(p.maxTime) {
		p.maxTime = maxEventTime
	}
}

// MaxEventTime is the highest counted event time; zero before the first.
func (p *Processor) MaxEventTime() time.Time { return p.maxTime }

func (p *Processor) dead(re *schemas.RecordError) Result {
	p.stats.DeadLetters++
	p.stats.ByReason[re.Reason]++
	return Result{Outcome: DeadLetter, Err: re}
}

// Watermark is the highest counted event time minus the allowed
// out-of-orderness; zero before the first counted event.
func (p *Processor) Watermark() time.Time {
	if p.maxTime.IsZero() {
		return time.Time{}
	}
	return window.Watermark(p.maxTime, p.windowOutOfOrder())
}

func (p *Processor) windowOutOfOrder() time.Duration {
	if p.cfg.Window.OutOfOrder == 0 {
		return 10 * time.Second
	}
	return p.cfg.Window.OutOfOrder
}

// Clock is the processing clock: the watermark when Config.WatermarkClock is
// set, else now.
func (p *Processor) Clock(now time.Time) time.Time {
	if p.cfg.WatermarkClock {
		return p.Watermark()
	}
	return now
}

// Advance appends the windows (and late corrections) that the watermark has
// passed, and lets dedup forget what can no longer match.
func (p *Processor) Advance(out []schemas.WindowTotal) []schemas.WindowTotal {
	wm := p.Watermark()
	if wm.IsZero() {
		return out
	}
	p.seen.Expire(wm)
	return p.windows.Advance(wm, out)
}

// Flush appends every window still open (end of input).
func (p *Processor) Flush(out []schemas.WindowTotal) []schemas.WindowTotal {
	return p.windows.Flush(out)
}

// Stats returns the outcome counts so far.
func (p *Processor) Stats() Stats { return p.stats }

// digest is a 64-bit FNV-1a over the content that decides a conflicting
// duplicate: meter, model, quantity, event time and properties.
func digest(ev *schemas.UsageEvent) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint64(c)
			h *= prime
		}
		h ^= 0xff // field separator
		h *= prime
	}
	mixString := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime
		}
		h ^= 0xff
		h *= prime
	}
	mixInt := func(v int64) {
		for i := 0; i < 8; i++ {
			h ^= uint64(byte(v >> (8 * i)))
			h *= prime
		}
	}
	mixString(ev.Meter)
	mixString(ev.Model)
	mixInt(int64(ev.Quantity))
	mixInt(ev.Time.UnixNano())
	mix(ev.Properties)
	return h
}

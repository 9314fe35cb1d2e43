package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/pipeline/alert"
	"github.com/creditflow/creditflow/pipeline/billing"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/partition"
	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// ErrFenced is returned by Store.Commit when the stored range of the
// partition does not end right before the batch's first offset: another
// owner wrote in between.
var ErrFenced = errors.New("partition range fenced: stored offsets moved")

// RawEvent is a counted event as stored in the raw events table.
type RawEvent struct {
	Partition  int32
	Offset     int64
	Tenant     string
	ID         string
	Meter      string
	Model      string
	Quantity   schemas.Micros
	Credits    schemas.Micros
	Time       time.Time
	Properties string
	Digest     uint64
}

// Batch is one flush of one partition's offset range [First, Last].
type Batch struct {
	Topic        string
	Partition    int32
	First, Last  int64
	Watermark    time.Time
	Raw          []RawEvent
	Deltas       []schemas.WindowTotal
	DeadLetters  []schemas.DeadLetter
	Alerts       []schemas.Alert
	Entitlements []schemas.EntitlementChange
	Grants       []schemas.Grant // auto top-ups
	States       []billing.TenantState
	records      int
	opened       time.Time
}

func (b *Batch) reset(first int64) {
	*b = Batch{
		Topic: b.Topic, Partition: b.Partition, First: first, Last: first - 1,
		Raw: b.Raw[:0], Deltas: b.Deltas[:0], DeadLetters: b.DeadLetters[:0], Alerts: b.Alerts[:0],
		Entitlements: b.Entitlements[:0], Grants: b.Grants[:0], States: b.States[:0],
	}
}

// Empty reports whether the batch covers no offset.
func (b *Batch) Empty() bool { return b.Last < b.First }

// Position is a partition's stored commit point.
type Position struct {
	Last      int64     // last committed offset
	Watermark time.Time // the partition's watermark at that offset
}

// Store keeps totals, state and the commit point (ClickHouse).
type Store interface {
	// Committed returns the partition's commit point; ok is false when
	// nothing was ever committed.
	Committed(ctx context.Context, topic string, partition int32) (pos Position, ok bool, err error)
	// EventIDs calls fn for each stored raw event of the partition with
	// offset ≤ maxOffset and event time ≥ since.
	EventIDs(ctx context.Context, topic string, partition int32, maxOffset int64, since time.Time, fn func(tenant, id string, t time.Time, digest uint64) error) error
	// States returns the latest stored state of every tenant of the
	// partition written with offsets ≤ maxOffset.
	States(ctx context.Context, topic string, partition int32, maxOffset int64) ([]billing.TenantState, error)
	// Write stores the batch's raw events, alerts, grants and states;
	// writing the same batch again must not change the stored result.
	Write(ctx context.Context, b *Batch) error
	// Commit stores the batch's deltas and range as one atomic insert, or
	// returns ErrFenced.
	Commit(ctx context.Context, b *Batch) error
	// WriteGrants stores grants read from the grants topic; a repeat
	// collapses.
	WriteGrants(ctx context.Context, gs []schemas.Grant) error
	// Grants returns every stored grant.
	Grants(ctx context.Context) ([]schemas.Grant, error)
}

// Publisher sends a batch's dead letters, alerts, entitlement changes and
// top-up grants to Kafka.
type Publisher interface {
	Publish(ctx context.Context, b *Batch) error
}

// Config configures a Runner.
type Config struct {
	Topic         string        // usage events topic; empty means "usage.events"
	Group         string        // consumer group; empty means "creditflow"
	FlushInterval time.Duration // most time a partition's records wait for a flush; zero means 500ms
	FlushRecords  int           // most records per flush (bounds memory per partition); zero means 100000
	MaxPoll       int           // most records taken per poll; zero means 10000
	Partition     partition.Config
	Billing       billing.Config
	RetryMin      time.Duration    // first retry delay of a failed flush; zero means 200ms
	RetryMax      time.Duration    // longest retry delay; zero means 10s
	Now           func() time.Time // wall clock; nil means time.Now
	Log           zerolog.Logger
	// AlertsNow, when set, receives the alerts a counted event raised right
	// away, before its range is flushed, so that an alert reaches the
	// product within milliseconds rather than at the next flush. It must
	// not block for long. The alerts are also in the batch: the Publisher
	// must skip those AlertsNow already delivered (the cmd publisher keeps
	// the set of ids on the topic), which is also what keeps a crash
	// between the two from publishing an alert twice.
	AlertsNow func(ctx context.Context, alerts []schemas.Alert)
	// Fault, when set, is called at each named point of a flush
	// ("before_write", "after_write", "after_publish", "after_commit") and
	// after each record ("record"); the crash tests kill the process there.
	Fault func(point string)
}

func (c *Config) defaults() {
	if c.Topic == "" {
		c.Topic = "usage.events"
	}
	if c.Group == "" {
		c.Group = "creditflow"
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 500 * time.Millisecond
	}
	if c.FlushRecords == 0 {
		c.FlushRecords = 100000
	}
	if c.MaxPoll == 0 {
		c.MaxPoll = 10000
	}
	if c.RetryMin == 0 {
		c.RetryMin = 200 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	// Streaming never closes periods in the partitions: the close job does.
	c.Billing.Closable = func(*catalog.Tenant, period.Period) bool { return false }
}

// Runner consumes the usage events topic. Create it with New; Run it once.
type Runner struct {
	cfg   Config
	cat   *catalog.Catalog
	store Store
	pub   Publisher
	log   zerolog.Logger
	cl    *kgo.Client

	mu    sync.Mutex // guards parts between the poll loop and rebalance callbacks
	parts map[int32]*part
	stats Stats
}

// Stats counts what the runner did.
type Stats struct {
	Records, Counted, Duplicates, DeadLetters, Flushes, FlushRetries, Fenced int64
}

type part struct {
	id      int32
	proc    *partition.Processor
	book    *billing.Book
	batch   Batch
	out     billing.Output
	touched map[string]struct{}
}

// New returns a Runner. opts are the franz-go client options for brokers,
// TLS and SASL; the runner adds its group options.
func New(cfg Config, cat *catalog.Catalog, store Store, pub Publisher, opts ...kgo.Opt) (*Runner, error) {
	cfg.defaults()
	var errs []error
	if cat == nil {
		errs = append(errs, errors.New("catalog: required"))
	}
	if store == nil {
		errs = append(errs, errors.New("store: required"))
	}
	if pub == nil {
		errs = append(errs, errors.New("publisher: required"))
	}
	if cfg.FlushInterval < 0 || cfg.FlushRecords < 0 {
		errs = append(errs, errors.New("flush interval and records: must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, cat: cat, store: store, pub: pub, log: cfg.Log.With().Str("component", "stream").Logger(), parts: map[int32]*part{}}
	opts = append(opts,
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	r.cl = cl
	return r, nil
}

// Stats returns counters so far.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Run consumes until ctx is done, then flushes every partition and leaves
// the group. It returns nil on a clean stop.
func (r *Runner) Run(ctx context.Context) error {
	defer func() {
		// With BlockRebalanceOnPoll, leaving the group waits for an
		// allowed rebalance: allow it on every way out.
		r.cl.AllowRebalance()
		r.cl.Close()
	}()
	tick := time.NewTicker(r.cfg.FlushInterval / 2)
	defer tick.Stop()
	for {
		pollCtx, cancel := context.WithTimeout(ctx, r.cfg.FlushInterval)
		fetches := r.cl.PollRecords(pollCtx, r.cfg.MaxPoll)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			r.cl.AllowRebalance()
			return r.flushAll(context.WithoutCancel(ctx), true)
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				r.log.Warn().Err(err).Str("topic", t).Int32("partition", p).Msg("fetch error")
			}
		})
		r.mu.Lock()
		var ferr error
		fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if ferr != nil {
				return
			}
			p := r.parts[ftp.Partition]
			if p == nil {
				return // not ours (any more)
			}
			for _, rec := range ftp.Records {
				if err := r.process(ctx, p, rec); err != nil {
					ferr = err
					return
				}
			}
		})
		r.mu.Unlock()
		if ferr != nil {
			if ctx.Err() != nil {
				return nil
			}
			return ferr
		}
		if err := r.flushAll(ctx, false); err != nil {
			if ctx.Err() != nil {
				r.cl.AllowRebalance()
				return nil
			}
			return err
		}
		r.cl.AllowRebalance()
	}
}

// process runs one record through its partition. A full batch is flushed
// before the record is added.
func (r *Runner) process(ctx context.Context, p *part, rec *kgo.Record) error {
	b := &p.batch
	if b.records >= r.cfg.FlushRecords {
		if err := r.flush(ctx, p); err != nil {
			return err
		}
	}
	if b.Empty() {
		pending := b.Entitlements // from grants applied between batches
		b.reset(rec.Offset)
		b.Entitlements = append(b.Entitlements, pending...)
		b.opened = r.cfg.Now()
	}
	now := r.cfg.Now()
	r.stats.Records++
	b.records++
	b.Last = rec.Offset
	r.fault("record")
	res := p.proc.Process(rec.Value, now)
	switch res.Outcome {
	case partition.DeadLetter:
		r.stats.DeadLetters++
		b.DeadLetters = append(b.DeadLetters, schemas.DeadLetter{
			Reason: res.Err.Reason, Detail: res.Err.Error(), Record: rec.Value, Key: rec.Key,
			Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		})
	case partition.Duplicate:
		r.stats.Duplicates++
	case partition.Counted:
		r.stats.Counted++
		ev := res.Event
		b.Raw = append(b.Raw, RawEvent{
			Partition: rec.Partition, Offset: rec.Offset, Tenant: ev.Tenant, ID: string(ev.ID),
			Meter: ev.Meter, Model: ev.Model, Quantity: ev.Quantity, Credits: res.Credits,
			Time: ev.Time, Properties: string(ev.Properties), Digest: res.Digest,
		})
		u := alert.Usage{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model, Time: ev.Time, Credits: res.Credits}
		if err := p.book.Count(u, &p.out); err != nil {
			return err
		}
		p.touched[ev.Tenant] = struct{}{}
		if len(p.out.Alerts) > 0 && r.cfg.AlertsNow != nil {
			r.cfg.AlertsNow(ctx, p.out.Alerts)
		}
		b.Alerts = append(b.Alerts, p.out.Alerts...)
		b.Grants = append(b.Grants, p.out.Grants...)
		for _, e := range p.out.Entitlements {
			b.Entitlements = append(b.Entitlements, schemas.EntitlementChange{
				Tenant: e.Tenant, State: e.State, PeriodStart: e.Period.Start, PeriodEnd: e.Period.End, Time: e.Time,
			})
		}
		p.out.Reset()
	}
	return nil
}

// flushAll flushes every partition whose batch is due (or every non-empty
// one when all is set).
func (r *Runner) flushAll(ctx context.Context, all bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	for _, p := range r.parts {
		b := &p.batch
		if b.Empty() {
			continue
		}
		if all || b.records >= r.cfg.FlushRecords || now.Sub(b.opened) >= r.cfg.FlushInterval {
			if err := r.flush(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes one partition's batch, retrying with backoff until it lands
// or ctx is done. The caller holds r.mu.
func (r *Runner) flush(ctx context.Context, p *part) error {
	b := &p.batch
	if b.Empty() {
		return nil
	}
	// Append: a failed earlier attempt already drained part of the deltas
	// into the batch, which keeps them until a flush succeeds.
	b.Deltas = p.proc.Flush(b.Deltas)
	b.Watermark = p.proc.MaxEventTime()
	tenants := make([]string, 0, len(p.touched))
	for t := range p.touched {
		tenants = append(tenants, t)
	}
	b.States = p.book.Snapshot(tenants)
	delay := r.cfg.RetryMin
	for attempt := 0; ; attempt++ {
		err := r.write(ctx, b)
		if err == nil {
			break
		}
		if errors.Is(err, ErrFenced) {
			r.stats.Fenced++
			r.log.Error().Err(err).Int32("partition", p.id).Int64("first", b.First).Msg("flush fenced: rebuilding the partition")
			return r.rebuild(ctx, p)
		}
		r.stats.FlushRetries++
		r.log.Warn().Err(err).Int32("partition", p.id).Int64("first", b.First).Int64("last", b.Last).
			Int("attempt", attempt+1).Dur("retry_in", delay).Msg("flush failed; consumption paused")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, r.cfg.RetryMax)
	}
	r.stats.Flushes++
	r.cl.CommitOffsets(ctx, map[string]map[int32]kgo.EpochOffset{
		b.Topic: {b.Partition: {Epoch: -1, Offset: b.Last + 1}},
	}, nil)
	clear(p.touched)
	b.reset(b.Last + 1)
	return nil
}

func (r *Runner) write(ctx context.Context, b *Batch) error {
	r.fault("before_write")
	if err := r.store.Write(ctx, b); err != nil {
		return fmt.Errorf("store batch: %w", err)
	}
	r.fault("after_write")
	if err := r.pub.Publish(ctx, b); err != nil {
		return fmt.Errorf("publish batch: %w", err)
	}
	r.fault("after_publish")
	if err := r.store.Commit(ctx, b); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	r.fault("after_commit")
	return nil
}

func (r *Runner) fault(point string) {
	if r.cfg.Fault != nil {
		r.cfg.Fault(point)
	}
}

// adjustOffsets runs when partitions are assigned: it builds each
// partition's state from the Store and seeks to the stored commit point.
func (r *Runner) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, parts := range offsets {
		if topic != r.cfg.Topic {
			continue
		}
		for id := range parts {
			p, next, err := r.load(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("assign partition %d: %w", id, err)
			}
			r.parts[id] = p
			parts[id] = kgo.NewOffset().At(next).WithEpoch(-1)
		}
	}
	return offsets, nil
}

// load rebuilds a partition's state as of its stored commit point and
// returns the offset to resume from.
func (r *Runner) load(ctx context.Context, id int32) (*part, int64, error) {
	proc, err := partition.New(r.cfg.Partition, r.cat)
	if err != nil {
		return nil, 0, err
	}
	book, err := billing.New(r.cfg.Billing, r.cat)
	if err != nil {
		return nil, 0, err
	}
	p := &part{id: id, proc: proc, book: book, touched: map[string]struct{}{}}
	p.batch.Topic, p.batch.Partition = r.cfg.Topic, id
	pos, ok, err := r.store.Committed(ctx, r.cfg.Topic, id)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		if err := r.applyStoredGrants(ctx, book); err != nil {
			return nil, 0, err
		}
		p.batch.reset(0)
		r.log.Info().Int32("partition", id).Msg("assigned: nothing stored, starting at the beginning")
		return p, 0, nil
	}
	start := r.cfg.Now()
	proc.Resume(pos.Watermark)
	horizon := r.cfg.Partition.Dedup.Horizon
	if horizon == 0 {
		horizon = 24 * time.Hour
	}
	var ids int
	err = r.store.EventIDs(ctx, r.cfg.Topic, id, pos.Last, pos.Watermark.Add(-2*horizon), func(tenant, eid string, t time.Time, digest uint64) error {
		proc.Remember(tenant, []byte(eid), t, digest)
		ids++
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("rebuild dedup: %w", err)
	}
	states, err := r.store.States(ctx, r.cfg.Topic, id, pos.Last)
	if err != nil {
		return nil, 0, fmt.Errorf("load tenant states: %w", err)
	}
	if err := book.Restore(states); err != nil {
		return nil, 0, fmt.Errorf("restore tenant states: %w", err)
	}
	if err := r.applyStoredGrants(ctx, book); err != nil {
		return nil, 0, err
	}
	p.batch.reset(pos.Last + 1)
	r.log.Info().Int32("partition", id).Int64("resume_at", pos.Last+1).Time("watermark", pos.Watermark).
		Int("event_ids", ids).Int("tenants", len(states)).Dur("took", r.cfg.Now().Sub(start)).Msg("assigned: state rebuilt")
	return p, pos.Last + 1, nil
}

// rebuild drops a fenced partition's state, reloads it and seeks there.
func (r *Runner) rebuild(ctx context.Context, p *part) error {
	np, next, err := r.load(ctx, p.id)
	if err != nil {
		return err
	}
	r.parts[p.id] = np
	r.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{r.cfg.Topic: {p.id: {Epoch: -1, Offset: next}}})
	return nil
}

func (r *Runner) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range revoked[r.cfg.Topic] {
		if p := r.parts[id]; p != nil {
			if err := r.flush(ctx, p); err != nil {
				r.log.Error().Err(err).Int32("partition", id).Msg("flush on revoke failed; the next owner re-reads the range")
			}
			delete(r.parts, id)
		}
	}
}

func (r *Runner) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range lost[r.cfg.Topic] {
		delete(r.parts, id)
		r.log.Warn().Int32("partition", id).Msg("partition lost: dropped unflushed state; the next owner re-reads it")
	}
}

// applyStoredGrants books every stored grant; the ledger ignores repeats.
func (r *Runner) applyStoredGrants(ctx context.Context, book *billing.Book) error {
	gs, err := r.store.Grants(ctx)
	if err != nil {
		return fmt.Errorf("load grants: %w", err)
	}
	var out billing.Output
	for _, g := range gs {
		if r.cat.Tenant(g.Tenant) == nil {
			continue
		}
		if err := book.Grant(g, &out); err != nil {
			return err
		}
	}
	return nil
}

// ApplyGrant books a grant read from the grants topic in every assigned
// partition (the tenant's events may be in any of them) and marks the tenant
// touched there, so that its state is stored with the next flush. The
// grant must already be stored (Store.WriteGrants), so that a partition
// assigned later books it too. Entitlement changes it causes are published
// with the partition's next flush.
func (r *Runner) ApplyGrant(g schemas.Grant) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.parts {
		if err := p.book.Grant(g, &p.out); err != nil {
			return err
		}
		p.touched[g.Tenant] = struct{}{}
		for _, e := range p.out.Entitlements {
			p.batch.Entitlements = append(p.batch.Entitlements, schemas.EntitlementChange{
				Tenant: e.Tenant, State: e.State, PeriodStart: e.Period.Start, PeriodEnd: e.Period.End, Time: e.Time,
			})
		}
		p.out.Reset()
	}
	return nil
}

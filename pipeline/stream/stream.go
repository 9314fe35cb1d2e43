package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/pipeline/alert"
	"github.com/creditflow/creditflow/pipeline/billing"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/partition"
	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

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
	// Checkpoint marks a batch that carries a state checkpoint as of Last:
	// States holds every tenant of the partition that has a state (a full
	// checkpoint, CheckpointPrev < 0) or the tenants whose state changed
	// since checkpoint CheckpointPrev (an incremental one). The Store must
	// store the states and the checkpoint's marker in one atomic insert.
	Checkpoint     bool
	CheckpointPrev int64
	States         []billing.TenantState
	records        int
	opened         time.Time
	text           arena // backs the Raw events' ID and Properties
}

func newBatch(topic string, partition int32, first int64, like *Batch, spare []RawEvent) *Batch {
	b := &Batch{Topic: topic, Partition: partition, First: first, Last: first - 1}
	if like != nil {
		// Size for the same load as the previous batch of the partition,
		// in the raw events of a batch already written when there is one.
		if cap(spare) >= len(like.Raw) {
			b.Raw = spare[:0]
		} else {
			b.Raw = make([]RawEvent, 0, len(like.Raw))
		}
		b.Deltas = make([]schemas.WindowTotal, 0, len(like.Deltas))
	}
	return b
}

// arena hands out strings copied into large shared chunks: one allocation
// per chunk instead of two per event (id and properties). A chunk is never
// written again once a string points into it, and lives as long as any
// such string does.
type arena struct{ buf []byte }

const arenaChunk = 256 << 10

func (a *arena) copy(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaChunk/4 {
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, arenaChunk)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[n], len(b))
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
	// Events calls fn for each stored raw event of the partition with an
	// offset in (after, upTo], in offset order.
	Events(ctx context.Context, topic string, partition int32, after, upTo int64, fn func(RawEvent) error) error
	// Checkpoint returns the partition's latest complete state checkpoint
	// at or below maxOffset followed by the checkpoints it builds on, newest
	// first, ending with a full one; empty when there is none.
	Checkpoint(ctx context.Context, topic string, partition int32, maxOffset int64) ([]int64, error)
	// States returns, per tenant of the partition, its state in the newest
	// checkpoint of chain that holds one.
	States(ctx context.Context, topic string, partition int32, chain []int64) ([]billing.TenantState, error)
	// Write stores the batches' raw events, alerts, grants and checkpoints
	// (several partitions' batches at once, so that they share inserts);
	// writing the same batches again must not change the stored result.
	// It must not keep the batches' slices: once committed, a batch's room
	// is reused.
	Write(ctx context.Context, bs []*Batch) error
	// Commit stores the deltas and ranges of the batches (one or more per
	// partition, in offset order) as ONE atomic insert: the commit point.
	// A partition whose stored range ends neither right before its first
	// batch nor at the end of one of its batches (an earlier attempt that
	// landed) is fenced: its batches are left out and it is returned.
	Commit(ctx context.Context, bs []*Batch) (fenced []int32, err error)
	// WriteGrants stores grants read from the grants topic; a repeat
	// collapses.
	WriteGrants(ctx context.Context, gs []schemas.Grant) error
	// Grants returns every stored grant.
	Grants(ctx context.Context) ([]schemas.Grant, error)
}

// SplitCommit decides, for Store implementations, which batches a Commit
// writes, given each partition's stored last offset (absent: nothing
// stored yet) and the batches, one or more per partition in offset order:
// a partition whose stored offset is right before its first batch, or that
// has none, writes all of them; one whose stored offset is the last offset
// of one of its batches writes only those after it (the others landed in
// an earlier attempt whose answer was lost); any other is fenced.
func SplitCommit(stored map[int32]int64, bs []*Batch) (write []*Batch, fenced []int32) {
	var order []int32
	byPart := map[int32][]*Batch{}
	for _, b := range bs {
		if _, ok := byPart[b.Partition]; !ok {
			order = append(order, b.Partition)
		}
		byPart[b.Partition] = append(byPart[b.Partition], b)
	}
	for _, p := range order {
		pbs := byPart[p]
		last, ok := stored[p]
		if !ok || last == pbs[0].First-1 {
			write = append(write, pbs...)
			continue
		}
		landed := -1
		for i, b := range pbs {
			if b.Last == last {
				landed = i
			}
		}
		if landed < 0 {
			fenced = append(fenced, p)
			continue
		}
		write = append(write, pbs[landed+1:]...)
	}
	return write, fenced
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
	FlushRecords  int           // most records per partition and flush (bounds memory per partition); zero means 100000
	// MaxPoll is the most records taken per poll; zero means 1000000.
	// franz-go fetches the next batch from a broker only once the buffered
	// one is drained, so a poll that takes a whole fetch lets the next
	// fetch overlap with processing (a fetch of 8 MiB per partition holds
	// about 60k records per partition; the records are in memory already,
	// taking them costs nothing more).
	MaxPoll int
	// FetchPartitionBytes is the most bytes fetched per partition and
	// request; zero means 8 MiB (the Kafka default of 1 MiB makes small
	// fetches: more round trips per event).
	FetchPartitionBytes int32
	// CheckpointInterval is how often each partition's tenant states are
	// stored; zero means 10s, negative means with every flush. A partition
	// taken over resumes from its latest checkpoint and replays the stored
	// raw events after it, so this bounds that replay, while storing states
	// with every flush would cost more than the rest of the flush.
	CheckpointInterval time.Duration
	// FullCheckpointEvery makes every n-th checkpoint a full one (all
	// tenants with a state) and the others incremental (tenants changed
	// since the previous one); zero means 30. It bounds the chain a
	// take-over reads.
	FullCheckpointEvery int
	Partition           partition.Config
	Billing             billing.Config
	RetryMin            time.Duration    // first retry delay of a failed flush; zero means 200ms
	RetryMax            time.Duration    // longest retry delay; zero means 10s
	Now                 func() time.Time // wall clock; nil means time.Now
	Log                 zerolog.Logger
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
		c.MaxPoll = 1000000
	}
	if c.FetchPartitionBytes == 0 {
		c.FetchPartitionBytes = 8 << 20
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 10 * time.Second
	}
	if c.FullCheckpointEvery <= 0 {
		c.FullCheckpointEvery = 30
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
//
// The poll loop processes records into each partition's open batch. When a
// flush is due it seals every non-empty batch and hands them to one writer
// goroutine, then goes on processing into fresh batches while they are
// written: on a 2-core machine the pipeline, Kafka and ClickHouse then
// work at the same time instead of in turns. At most one set of sealed
// batches is in flight; while it is, open batches keep growing (so inserts
// get larger under load) until one reaches FlushRecords: then it is sealed
// and set aside for the next writer, and the loop waits for the writer only
// when a partition's second batch is full too. Per partition, batches are
// written and committed in offset order.
type Runner struct {
	cfg   Config
	cat   *catalog.Catalog
	store Store
	pub   Publisher
	log   zerolog.Logger
	cl    *kgo.Client

	// abandon (tests only) makes a stop behave like a crash: nothing more
	// is written after ctx ends.
	abandon bool

	mu       sync.Mutex // guards parts and inflight between the poll loop, rebalance callbacks and ApplyGrant
	parts    map[int32]*part
	inflight chan flushResult // receives the writer's result; nil when no writer runs

	records, counted, duplicates, deadLetters, flushes, flushRetries, fenced, replayed, checkpoints atomic.Int64
	writerWait, pollWait                                                                            atomic.Int64 // ns
	setAside                                                                                        atomic.Int64
}

// Stats counts what the runner did.
type Stats struct {
	Records, Counted, Duplicates, DeadLetters, Flushes, FlushRetries, Fenced int64
	Checkpoints                                                              int64 // state checkpoints sealed
	Replayed                                                                 int64 // stored events booked again on take-over (those after the checkpoint)
	// WriterWait is how long processing stood still waiting for the writer
	// (an open batch full while the previous flush was being written).
	WriterWait time.Duration
	// SetAside counts the full batches sealed while the writer was busy
	// (processing went on into fresh ones).
	SetAside int64
	// PollWait is how long the poll loop waited for records from Kafka
	// (at the tail of a backlog, or when idle, most of the time).
	PollWait time.Duration
}

type part struct {
	id    int32
	proc  *partition.Processor
	book  *billing.Book
	batch *Batch
	// pending holds fetched records not processed yet (the batch was full).
	pending []*kgo.Record
	values  [][]byte // scratch: the values of the pending records being processed
	// spareRaw is the room of a written batch's raw events, for the next batch.
	spareRaw []RawEvent
	// unsent holds sealed batches not written yet: set aside while the
	// writer was busy (see setAsideFull), or given up on by a writer (the run is
	// stopping); they are written before any later batch of the partition.
	unsent []*Batch
	out    billing.Output
	// changed holds the tenants whose state changed since the last
	// checkpoint, known every tenant that has a state.
	changed, known map[string]struct{}
	checkpoint     int64 // offset of the latest checkpoint (restored or sealed); -1 none
	chain          int   // checkpoints since the last full one
	checkpointAt   time.Time
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
		kgo.FetchMaxPartitionBytes(cfg.FetchPartitionBytes),
		kgo.FetchMaxBytes(max(64<<20, 4*cfg.FetchPartitionBytes)),
		kgo.WithPools(new(fetchPools)),
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
	return Stats{
		Records: r.records.Load(), Counted: r.counted.Load(), Duplicates: r.duplicates.Load(),
		DeadLetters: r.deadLetters.Load(), Flushes: r.flushes.Load(), FlushRetries: r.flushRetries.Load(),
		Fenced: r.fenced.Load(), Checkpoints: r.checkpoints.Load(), Replayed: r.replayed.Load(),
		WriterWait: time.Duration(r.writerWait.Load()), PollWait: time.Duration(r.pollWait.Load()),
		SetAside: r.setAside.Load(),
	}
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
	for {
		pollCtx, cancel := context.WithTimeout(ctx, r.cfg.FlushInterval)
		polled := r.cfg.Now()
		fetches := r.cl.PollRecords(pollCtx, r.cfg.MaxPoll)
		r.pollWait.Add(int64(r.cfg.Now().Sub(polled)))
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			r.cl.AllowRebalance()
			return r.stop(context.WithoutCancel(ctx))
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				r.log.Warn().Err(err).Str("topic", t).Int32("partition", p).Msg("fetch error")
			}
		})
		r.mu.Lock()
		fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if p := r.parts[ftp.Partition]; p != nil { // else not ours (any more)
				p.pending = append(p.pending, ftp.Records...)
			}
		})
		ferr := r.drain(ctx)
		if ferr == nil {
			ferr = r.cycle(ctx, false)
		}
		r.mu.Unlock()
		if ferr != nil {
			if ctx.Err() != nil {
				r.cl.AllowRebalance()
				return r.stop(context.WithoutCancel(ctx))
			}
			return ferr
		}
		r.cl.AllowRebalance()
	}
}

// stop waits for the writer and writes every partition's remaining
// batches, so that a clean stop leaves nothing to re-read.
func (r *Runner) stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.abandon {
		if r.inflight != nil {
			<-r.inflight
			r.inflight = nil
		}
		clear(r.parts) // nothing left for the revoke callback to write
		return nil
	}
	return r.cycle(ctx, true)
}

// drain processes every partition's pending records, the partitions in
// parallel (each has its own processor, book and batch; the catalog is
// read-only), so that processing can use more than one core. A partition
// stops when its open batch is full; then the writer is waited for, the
// batches sealed, and draining goes on. The caller holds r.mu.
func (r *Runner) drain(ctx context.Context) error {
	for {
		var busy []*part
		for _, p := range r.parts {
			if len(p.pending) > 0 {
				busy = append(busy, p)
			}
		}
		switch len(busy) {
		case 0:
			return nil
		case 1:
			if err := r.processPending(ctx, busy[0]); err != nil {
				return err
			}
		default:
			// At most one worker per CPU: more runnable goroutines than
			// CPUs only adds preemption and cache misses.
			errs := make([]error, len(busy))
			var next atomic.Int64
			var wg sync.WaitGroup
			for range min(len(busy), runtime.GOMAXPROCS(0)) {
				wg.Go(func() {
					for i := int(next.Add(1)) - 1; i < len(busy); i = int(next.Add(1)) - 1 {
						errs[i] = r.processPending(ctx, busy[i])
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return err
			}
		}
		for _, p := range r.parts {
			if len(p.pending) > 0 { // a full batch: make room
				if err := r.cycle(ctx, false); err != nil {
					return err
				}
				break
			}
		}
	}
}

// processPending runs the partition's pending records until none is left
// or its open batch is full. The records go to the Processor in batches
// (ProcessBatch), which overlaps the memory accesses of neighbouring
// records.
func (r *Runner) processPending(ctx context.Context, p *part) error {
	var n counts
	defer n.addTo(r)
	// One clock reading per drained fetch, not per record: the records
	// were fetched together and are processed within milliseconds.
	now := r.cfg.Now()
	take := min(len(p.pending), r.cfg.FlushRecords-p.batch.records)
	if take <= 0 {
		return nil
	}
	recs := p.pending[:take]
	values := p.values[:0]
	for _, rec := range recs {
		values = append(values, rec.Value)
	}
	p.values = values
	done := 0 // records taken from pending, the failing one included
	err := p.proc.ProcessBatch(values, now, func(i int, res partition.Result) error {
		done = i + 1
		err := r.process(ctx, p, recs[i], now, res, &n)
		recs[i].Recycle() // nothing refers to its memory any more (see fetchPools)
		return err
	})
	clear(values)
	clear(recs[:done])
	if p.pending = p.pending[done:]; len(p.pending) == 0 {
		p.pending = nil
	}
	return err
}

// bookAhead lets the Processor request a partition's billing accounts for
// the events it decoded ahead (see partition.Ahead).
type bookAhead struct{ b *billing.Book }

func (x bookAhead) Decoded(ev *schemas.UsageEvent) { x.b.PrefetchAccount(ev.Tenant) }
func (x bookAhead) Near(ev *schemas.UsageEvent)    { x.b.PrefetchState(ev.Tenant) }

// counts are a partition's share of the Stats, added up once per drain
// rather than per record.
type counts struct{ records, counted, duplicates, deadLetters int64 }

func (n *counts) addTo(r *Runner) {
	r.records.Add(n.records)
	r.counted.Add(n.counted)
	r.duplicates.Add(n.duplicates)
	r.deadLetters.Add(n.deadLetters)
}

// process puts one record, with res what the Processor made of it, into
// its partition's open batch, which must not be full.
func (r *Runner) process(ctx context.Context, p *part, rec *kgo.Record, now time.Time, res partition.Result, n *counts) error {
	b := p.batch
	if b.Empty() {
		b.opened = now
	}
	n.records++
	b.records++
	b.Last = rec.Offset
	r.fault("record")
	switch res.Outcome {
	case partition.DeadLetter:
		n.deadLetters++
		b.DeadLetters = append(b.DeadLetters, schemas.DeadLetter{ // the record goes back to the client's pool
			Reason: res.Err.Reason, Detail: res.Err.Error(), Record: bytes.Clone(rec.Value), Key: bytes.Clone(rec.Key),
			Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		})
	case partition.Duplicate:
		n.duplicates++
	case partition.Counted:
		n.counted++
		ev := res.Event
		b.Raw = append(b.Raw, RawEvent{
			Partition: rec.Partition, Offset: rec.Offset, Tenant: ev.Tenant, ID: b.text.copy(ev.ID),
			Meter: ev.Meter, Model: ev.Model, Quantity: ev.Quantity, Credits: res.Credits,
			Time: ev.Time, Properties: b.text.copy(ev.Properties), Digest: res.Digest,
		})
		// The book lists the tenants it counted for (see collect).
		if err := p.book.Count(alert.Usage{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model, Time: ev.Time, Credits: res.Credits}, &p.out); err != nil {
			return err
		}
		if len(p.out.Alerts) > 0 && r.cfg.AlertsNow != nil {
			r.cfg.AlertsNow(ctx, p.out.Alerts)
		}
		b.Alerts = append(b.Alerts, p.out.Alerts...)
		b.Grants = append(b.Grants, p.out.Grants...)
		r.entitlements(p)
		p.out.Reset()
	}
	return nil
}

// changedSince reports whether some tenant's state changed since the last
// checkpoint.
func (p *part) changedSince() bool { return len(p.changed) > 0 || len(p.book.Counted()) > 0 }

// collect moves the tenants the book counted for into changed and known.
func (p *part) collect() {
	for _, t := range p.book.Counted() {
		p.touch(t)
	}
	p.book.ClearCounted()
}

// touch records that the tenant's state changed since the last checkpoint.
func (p *part) touch(tenant string) {
	if _, ok := p.changed[tenant]; !ok {
		p.changed[tenant] = struct{}{}
		p.known[tenant] = struct{}{}
	}
}

// entitlements moves the entitlement changes of p.out into the open batch.
func (r *Runner) entitlements(p *part) {
	for _, e := range p.out.Entitlements {
		p.batch.Entitlements = append(p.batch.Entitlements, schemas.EntitlementChange{
			Tenant: e.Tenant, State: e.State, PeriodStart: e.Period.Start, PeriodEnd: e.Period.End, Time: e.Time,
		})
	}
}

// cycle collects a finished writer, and when a flush is due (or all is
// set) seals every non-empty batch and starts a writer on them. With all
// set it waits until everything sealed is written. The caller holds r.mu.
func (r *Runner) cycle(ctx context.Context, all bool) error {
	full := false
	for _, p := range r.parts {
		full = full || p.batch.records >= r.cfg.FlushRecords
	}
	if r.inflight != nil {
		var res flushResult
		select {
		case res = <-r.inflight:
		default:
			if !all && !full {
				return nil // keep filling the open batches meanwhile
			}
			if !all && r.setAsideFull(r.cfg.Now()) {
				return nil // full batches sealed for the next writer; go on
			}
			start := r.cfg.Now()
			res = <-r.inflight
			r.writerWait.Add(int64(r.cfg.Now().Sub(start)))
		}
		r.inflight = nil
		if err := r.finish(ctx, res); err != nil {
			return err
		}
	}
	now := r.cfg.Now()
	due := false
	for _, p := range r.parts {
		b := p.batch
		due = due || len(p.unsent) > 0 || all && p.changedSince() ||
			!b.Empty() && (all || b.records >= r.cfg.FlushRecords || now.Sub(b.opened) >= r.cfg.FlushInterval)
	}
	if !due {
		return nil
	}
	var sealed []*Batch
	for _, p := range r.parts {
		sealed = append(sealed, p.unsent...)
		p.unsent = nil
		// On the way out, an empty batch still carries a checkpoint of the
		// states changed since the last one (as of the offset before it),
		// so that the next owner has nothing to replay.
		if !p.batch.Empty() || all && p.changedSince() {
			sealed = append(sealed, r.seal(p, now, all))
		}
	}
	ch := make(chan flushResult, 1)
	r.inflight = ch
	go func() { ch <- r.writeAll(ctx, sealed) }()
	if !all {
		return nil
	}
	res := <-ch
	r.inflight = nil
	return r.finish(ctx, res)
}

// setAsideFull seals every full open batch while the writer works, so that
// processing goes on into a fresh batch instead of waiting: the sealed one
// waits in unsent for the next writer (ahead of the partition's later
// batches). A partition sets aside one batch at a time; it reports false,
// setting nothing aside, when a full partition already has one waiting
// (then the caller waits for the writer). So a partition holds at most
// three batches: one being written, one set aside, one open.
func (r *Runner) setAsideFull(now time.Time) bool {
	for _, p := range r.parts {
		if p.batch.records >= r.cfg.FlushRecords && len(p.unsent) > 0 {
			return false
		}
	}
	for _, p := range r.parts {
		if p.batch.records >= r.cfg.FlushRecords {
			p.unsent = append(p.unsent, r.seal(p, now, false))
			r.setAside.Add(1)
		}
	}
	return true
}

// seal closes the partition's open batch: its window deltas, watermark and,
// when one is due, a state checkpoint; a fresh batch takes its place.
func (r *Runner) seal(p *part, now time.Time, final bool) *Batch {
	b := p.batch
	b.Deltas = p.proc.Flush(b.Deltas)
	b.Watermark = p.proc.MaxEventTime()
	if final || r.cfg.CheckpointInterval < 0 || now.Sub(p.checkpointAt) >= r.cfg.CheckpointInterval {
		b.Checkpoint = true
		r.checkpoints.Add(1)
		p.collect()
		var tenants []string
		if p.checkpoint < 0 || p.chain+1 >= r.cfg.FullCheckpointEvery {
			b.CheckpointPrev = -1
			tenants = keys(p.known)
			p.chain = 0
		} else {
			b.CheckpointPrev = p.checkpoint
			tenants = keys(p.changed)
			p.chain++
		}
		b.States = p.book.Snapshot(tenants)
		clear(p.changed)
		p.checkpoint, p.checkpointAt = b.Last, now
	}
	p.batch = newBatch(b.Topic, b.Partition, b.Last+1, b, p.spareRaw)
	p.spareRaw = nil
	return b
}

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// flushResult is what a writer reports back to the loop.
type flushResult struct {
	fenced    map[int32]bool // partitions whose commit was refused
	unsent    []*Batch       // batches not committed because ctx ended
	committed map[int32]int64
	done      []*Batch // batches committed
}

// writeAll writes sealed batches: Write for all of them (shared inserts),
// then per batch, in offset order per partition, Publish and Commit; then
// the advisory Kafka commit. It retries with backoff until everything
// landed, a partition is fenced (its later batches are dropped: the loop
// rebuilds it) or ctx is done (the rest is reported unsent). It runs
// without r.mu.
func (r *Runner) writeAll(ctx context.Context, bs []*Batch) flushResult {
	res := flushResult{fenced: map[int32]bool{}, committed: map[int32]int64{}}
	if e := r.log.Debug(); e.Enabled() {
		var records, raw int
		for _, b := range bs {
			records, raw = records+b.records, raw+len(b.Raw)
		}
		start := time.Now() // for the log line only; not a processing clock
		defer func() {
			e.Int("batches", len(bs)).Int("records", records).Int("raw_events", raw).
				Dur("took", time.Since(start)).Msg("flush written")
		}()
	}
	delay := r.cfg.RetryMin
	for attempt := 0; len(bs) > 0; attempt++ {
		err := r.write(ctx, bs, &res)
		var rest []*Batch
		for _, b := range bs {
			if !b.Empty() && !res.fenced[b.Partition] {
				rest = append(rest, b)
			}
		}
		bs = rest
		if err == nil {
			break
		}
		r.flushRetries.Add(1)
		r.log.Warn().Err(err).Int("batches", len(bs)).Int("attempt", attempt+1).Dur("retry_in", delay).
			Msg("flush failed; retrying (consumption pauses once the open batches are full)")
		select {
		case <-ctx.Done():
			res.unsent = bs
			bs = nil
		case <-time.After(delay):
		}
		delay = min(delay*2, r.cfg.RetryMax)
	}
	return res
}

// write makes one attempt at the batches: a committed batch is emptied
// (Last < First) and recorded in res.committed, a fenced partition in
// res.fenced.
func (r *Runner) write(ctx context.Context, bs []*Batch, res *flushResult) error {
	r.fault("before_write")
	if err := r.store.Write(ctx, bs); err != nil {
		return fmt.Errorf("store %d batches: %w", len(bs), err)
	}
	r.fault("after_write")
	var commit []*Batch
	for _, b := range bs {
		if res.fenced[b.Partition] || b.Empty() {
			continue // an empty batch only carries a checkpoint: Write stored it
		}
		if err := r.pub.Publish(ctx, b); err != nil {
			return fmt.Errorf("publish batch of %d/[%d, %d]: %w", b.Partition, b.First, b.Last, err)
		}
		r.fault("after_publish")
		commit = append(commit, b)
	}
	if len(commit) == 0 {
		return nil
	}
	fenced, err := r.store.Commit(ctx, commit)
	if err != nil {
		return fmt.Errorf("commit %d batches: %w", len(commit), err)
	}
	for _, id := range fenced {
		r.fenced.Add(1)
		r.log.Error().Int32("partition", id).Msg("flush fenced: another owner stored this partition's offsets; rebuilding it")
		res.fenced[id] = true
	}
	r.fault("after_commit")
	for _, b := range commit {
		if res.fenced[b.Partition] {
			continue
		}
		r.flushes.Add(1)
		res.committed[b.Partition] = b.Last
		res.done = append(res.done, b)
		b.First = b.Last + 1 // done: Empty from now on
	}
	return nil
}

// finish applies a writer's result: the advisory Kafka commit of what
// landed, fenced partitions rebuilt, batches left unsent back to their
// partition. The caller holds r.mu.
func (r *Runner) finish(ctx context.Context, res flushResult) error {
	if len(res.committed) > 0 {
		offsets := make(map[int32]kgo.EpochOffset, len(res.committed))
		for id, last := range res.committed {
			offsets[id] = kgo.EpochOffset{Epoch: -1, Offset: last + 1}
		}
		r.cl.CommitOffsets(ctx, map[string]map[int32]kgo.EpochOffset{r.cfg.Topic: offsets}, nil)
	}
	// Batches the writer gave up on go back ahead of any set aside since
	// (see setAsideFull): per partition, batches are written in order.
	back := map[*part][]*Batch{}
	for _, b := range res.unsent {
		if p := r.parts[b.Partition]; p != nil && !res.fenced[b.Partition] {
			back[p] = append(back[p], b)
		}
	}
	for p, bs := range back {
		p.unsent = append(bs, p.unsent...)
	}
	// The raw events of a written batch are not needed any more: their
	// room holds the partition's next batch (Store.Write keeps nothing).
	for _, b := range res.done {
		if p := r.parts[b.Partition]; p != nil && cap(b.Raw) > cap(p.spareRaw) {
			clear(b.Raw)
			p.spareRaw, b.Raw = b.Raw[:0], nil
		}
	}
	for id := range res.fenced {
		if p := r.parts[id]; p != nil {
			if err := r.rebuild(ctx, p); err != nil {
				return err
			}
		}
	}
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
	parts := offsets[r.cfg.Topic]
	// The partitions load in parallel: each reads its own state from the
	// Store and builds its own processor and book.
	type loaded struct {
		p    *part
		next int64
		err  error
	}
	ids := slices.Collect(maps.Keys(parts))
	res := make([]loaded, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			p, next, err := r.load(ctx, id)
			res[i] = loaded{p, next, err}
		})
	}
	wg.Wait()
	for i, id := range ids {
		if err := res[i].err; err != nil {
			return nil, fmt.Errorf("assign partition %d: %w", id, err)
		}
		r.parts[id] = res[i].p
		parts[id] = kgo.NewOffset().At(res[i].next).WithEpoch(-1)
	}
	return offsets, nil
}

// load rebuilds a partition's state as of its stored commit point and
// returns the offset to resume from: dedup from the stored raw events,
// the tenants' accounts from the latest checkpoint plus the stored raw
// events after it.
func (r *Runner) load(ctx context.Context, id int32) (*part, int64, error) {
	proc, err := partition.New(r.cfg.Partition, r.cat)
	if err != nil {
		return nil, 0, err
	}
	book, err := billing.New(r.cfg.Billing, r.cat)
	if err != nil {
		return nil, 0, err
	}
	p := &part{id: id, proc: proc, book: book, changed: map[string]struct{}{}, known: map[string]struct{}{}, checkpoint: -1, checkpointAt: r.cfg.Now()}
	proc.SetAhead(bookAhead{book})
	pos, ok, err := r.store.Committed(ctx, r.cfg.Topic, id)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		if err := r.applyStoredGrants(ctx, p); err != nil {
			return nil, 0, err
		}
		p.batch = newBatch(r.cfg.Topic, id, 0, nil, nil)
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
	chain, err := r.store.Checkpoint(ctx, r.cfg.Topic, id, pos.Last)
	if err != nil {
		return nil, 0, fmt.Errorf("find state checkpoint: %w", err)
	}
	after := int64(-1)
	var states []billing.TenantState
	if len(chain) > 0 {
		after = chain[0]
		if states, err = r.store.States(ctx, r.cfg.Topic, id, chain); err != nil {
			return nil, 0, fmt.Errorf("load tenant states: %w", err)
		}
		if err := book.Restore(states); err != nil {
			return nil, 0, fmt.Errorf("restore tenant states: %w", err)
		}
		for _, s := range states {
			p.known[s.Tenant] = struct{}{}
		}
		p.checkpoint, p.chain = after, len(chain)-1
	}
	// Events counted after the checkpoint: book them again (their alerts,
	// entitlement changes and top-ups were published with their ranges).
	var replayed int
	err = r.store.Events(ctx, r.cfg.Topic, id, after, pos.Last, func(e RawEvent) error {
		replayed++
		err := p.book.Count(alert.Usage{Tenant: e.Tenant, Meter: e.Meter, Model: e.Model, Time: e.Time, Credits: e.Credits}, &p.out)
		p.out.Reset()
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("replay events after checkpoint %d: %w", after, err)
	}
	r.replayed.Add(int64(replayed))
	if err := r.applyStoredGrants(ctx, p); err != nil {
		return nil, 0, err
	}
	p.batch = newBatch(r.cfg.Topic, id, pos.Last+1, nil, nil)
	r.log.Info().Int32("partition", id).Int64("resume_at", pos.Last+1).Time("watermark", pos.Watermark).
		Int("event_ids", ids).Int64("checkpoint", after).Int("tenants", len(states)).Int("replayed", replayed).
		Dur("took", r.cfg.Now().Sub(start)).Msg("assigned: state rebuilt")
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

// revoked writes the revoked partitions' batches before they are released.
func (r *Runner) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.cycle(ctx, true); err != nil {
		r.log.Error().Err(err).Msg("flush on revoke failed; the next owner re-reads the range")
	}
	for _, id := range revoked[r.cfg.Topic] {
		delete(r.parts, id)
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
func (r *Runner) applyStoredGrants(ctx context.Context, p *part) error {
	gs, err := r.store.Grants(ctx)
	if err != nil {
		return fmt.Errorf("load grants: %w", err)
	}
	var out billing.Output
	for _, g := range gs {
		if r.cat.Tenant(g.Tenant) == nil {
			continue
		}
		if err := p.book.Grant(g, &out); err != nil {
			return err
		}
		p.touch(g.Tenant)
	}
	return nil
}

// ApplyGrant books a grant read from the grants topic in every assigned
// partition (the tenant's events may be in any of them) and marks the tenant
// changed there, so that its state is in the next checkpoint. The grant
// must already be stored (Store.WriteGrants), so that a partition assigned
// later books it too. Entitlement changes it causes are published with the
// partition's next flush.
func (r *Runner) ApplyGrant(g schemas.Grant) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.parts {
		if err := p.book.Grant(g, &p.out); err != nil {
			return err
		}
		p.touch(g.Tenant)
		r.entitlements(p)
		p.out.Reset()
	}
	return nil
}

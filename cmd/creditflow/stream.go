package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/creditflow/creditflow/jobs/close"
	"github.com/creditflow/creditflow/pipeline/billing"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/dedup"
	"github.com/creditflow/creditflow/pipeline/ledger"
	"github.com/creditflow/creditflow/pipeline/partition"
	"github.com/creditflow/creditflow/pipeline/stream"
	"github.com/creditflow/creditflow/pipeline/window"
	"github.com/creditflow/creditflow/schemas"
	"github.com/creditflow/creditflow/sinks/clickhouse"
	"github.com/creditflow/creditflow/sinks/kafka"
	"github.com/creditflow/creditflow/sinks/webhook"
)

// runMigrate applies the ClickHouse migrations.
func runMigrate(ctx context.Context, args []string, e *env) error {
	cfg, err := loadRunConfig(newFlags("migrate", e), args, os.Getenv)
	if err != nil {
		return err
	}
	chCfg, err := cfg.clickhouse()
	if err != nil {
		return err
	}
	ch, err := clickhouse.Open(ctx, chCfg)
	if err != nil {
		return err
	}
	defer ch.Close()
	applied, err := ch.Migrate(ctx)
	if err != nil {
		return err
	}
	e.log.Info().Str("component", "migrate").Str("database", ch.Database()).Strs("applied", applied).Msg("migrations up to date")
	return nil
}

// runStream runs the streaming pipeline, the grants consumer and the close
// job until interrupted.
func runStream(ctx context.Context, args []string, e *env) error {
	err := runStreamInner(ctx, args, e)
	if err != nil && ctx.Err() != nil && !errors.As(err, new(usageError)) {
		return nil // interrupted while starting or stopping: a clean stop
	}
	return err
}

func runStreamInner(ctx context.Context, args []string, e *env) error {
	// The pipeline's live heap is small next to what it allocates per
	// flush: collect less often (GOGC still overrides this).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	cfg, err := loadRunConfig(newFlags("run", e), args, os.Getenv)
	if err != nil {
		return err
	}
	if cfg.Catalog == "" {
		return usagef("a catalog is required (--catalog or catalog: in the config)")
	}
	cat, err := catalog.Load(cfg.Catalog)
	if err != nil {
		return fmt.Errorf("invalid catalog:\n%w", err)
	}
	kcfg, err := cfg.kafka()
	if err != nil {
		return err
	}
	chCfg, err := cfg.clickhouse()
	if err != nil {
		return err
	}
	lvl := zerolog.InfoLevel
	if cfg.Log.Level != "" {
		if lvl, err = zerolog.ParseLevel(cfg.Log.Level); err != nil {
			return usagef("log.level %q: want debug, info, warn or error", cfg.Log.Level)
		}
	}
	log := e.log.Level(lvl)
	log.Info().Str("component", "run").Object("kafka", kcfg).Strs("clickhouse", chCfg.Addr).
		Str("database", chCfg.Database).Str("catalog", cfg.Catalog).Msg("starting")

	ch, err := clickhouse.Open(ctx, chCfg)
	if err != nil {
		return err
	}
	defer ch.Close()
	if _, err := ch.Migrate(ctx); err != nil {
		return err
	}
	opts, err := kcfg.ClientOptions()
	if err != nil {
		return err
	}
	var groupOpts []kgo.Opt
	if d := cfg.Kafka.SessionTimeout.or(0); d > 0 {
		groupOpts = append(groupOpts, kgo.SessionTimeout(d))
	}
	if cfg.Kafka.InstanceID != "" {
		groupOpts = append(groupOpts, kgo.InstanceID(cfg.Kafka.InstanceID))
	}
	// franz-go is chatty at info level; its warnings and errors are enough
	// unless debug logging is asked for.
	klog := log.With().Str("component", "kafka").Logger().Level(max(lvl, zerolog.WarnLevel))
	if lvl <= zerolog.DebugLevel {
		klog = klog.Level(lvl)
	}
	opts = append(opts, kgo.WithLogger(kafka.NewLogger(klog)))
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	err = kafka.EnsureTopics(ctx, kadm.NewClient(adm), kcfg)
	adm.Close()
	if err != nil {
		return err
	}
	prod, err := kafka.NewProducer(kcfg, opts...)
	if err != nil {
		return err
	}
	defer prod.Close()
	// A topic EnsureTopics just created may not be known to every broker
	// yet: retry the read-back briefly.
	var seen map[string]bool
	for attempt := 1; ; attempt++ {
		seen, err = kafka.ReadAlertIDs(ctx, kcfg, e.now().Add(-35*24*time.Hour), opts...)
		if err == nil || attempt == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("read back published alerts: %w", err)
	}
	store := &chStore{ch: ch}
	pub := &publisher{p: prod, seen: seen}
	var hook *webhook.Sender
	if w := cfg.Alerts.Webhook; w.URL != "" {
		hook, err = webhook.New(webhook.Config{URL: w.URL, Secret: []byte(w.Secret), AllowHTTP: w.AllowHTTP, Log: log})
		if err != nil {
			return fmt.Errorf("alerts webhook: %w", err)
		}
		pub.hook = hook
	}
	p := cfg.Pipeline
	ooo := p.OutOfOrder.or(10 * time.Second)
	runner, err := stream.New(stream.Config{
		Topic: kcfg.Topics.Events, Group: orString(cfg.Kafka.Group, "creditflow"),
		FlushInterval: p.FlushInterval.or(500 * time.Millisecond), FlushRecords: p.FlushRecords,
		CheckpointInterval: p.CheckpointInterval.or(10 * time.Second),
		Partition: partition.Config{
			Window:      window.Config{Width: p.Window.or(time.Minute), OutOfOrder: ooo},
			Dedup:       dedup.Config{Horizon: p.DedupHorizon.or(24 * time.Hour)},
			MaxEventAge: p.MaxEventAge.or(35 * 24 * time.Hour), MaxFuture: p.MaxFuture.or(5 * time.Minute),
		},
		Billing: billing.Config{NoRunaway: p.NoRunaway},
		Now:     e.now, Log: log, Fault: faultFromEnv(os.Getenv("CREDITFLOW_TEST_CRASH")),
		AlertsNow: pub.alertsNow,
	}, cat, store, pub, append(slices.Clone(opts), groupOpts...)...)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runner.Run(gctx) })
	if hook != nil {
		g.Go(func() error { return hook.Run(gctx) })
	}
	g.Go(func() error { return consumeGrants(gctx, kcfg, opts, store, prod, runner, e) })
	if !cfg.Close.Disabled {
		outputs := []close.Output{func(ctx context.Context, _ time.Time, closed []ledger.Closed) error {
			cs, ls := flatten(closed)
			return prod.Closes(ctx, cs, ls)
		}}
		if cfg.Close.FilesDir != "" {
			outputs = append(outputs, closeFiles(cfg.Close.FilesDir, cat))
		}
		job, err := close.New(close.Config{
			Schedule: cfg.Close.Schedule, CloseGrace: cfg.Close.Grace.or(time.Hour), Now: e.now, Log: log,
		}, cat, closeStore{ch}, closeStore{ch}, outputs...)
		if err != nil {
			return err
		}
		g.Go(func() error { return job.Run(gctx) })
	}
	err = g.Wait()
	st := runner.Stats()
	log.Info().Str("component", "run").Int64("records", st.Records).Int64("counted", st.Counted).
		Int64("duplicates", st.Duplicates).Int64("dead_letters", st.DeadLetters).Int64("flushes", st.Flushes).
		Int64("flush_retries", st.FlushRetries).Int64("set_aside", st.SetAside).Dur("writer_wait", st.WriterWait).Dur("poll_wait", st.PollWait).Msg("stopped")
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func flatten(closed []ledger.Closed) ([]schemas.PeriodClose, []schemas.LineItem) {
	var cs []schemas.PeriodClose
	var ls []schemas.LineItem
	for _, c := range closed {
		cs = append(cs, c.Close)
		ls = append(ls, c.Lines...)
	}
	return cs, ls
}

// closeFiles writes each close run's line items and closes as Parquet and
// CSV, with a manifest, into dir/<run time>/.
func closeFiles(dir string, cat *catalog.Catalog) close.Output {
	return func(ctx context.Context, run time.Time, closed []ledger.Closed) error {
		out := filepath.Join(dir, run.UTC().Format("20060102T150405Z"))
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		s := &fileSink{dir: out, cat: cat}
		cs, ls := flatten(closed)
		s.closes, s.lines = cs, ls
		for _, c := range closed {
			if c.Recommendation != nil {
				s.recs = append(s.recs, *c.Recommendation)
			}
		}
		return s.writeCloseFiles(nil)
	}
}

// consumeGrants reads the grants topic from the start (it is small), stores
// every valid grant and books it into the running partitions; invalid
// grants go to the dead-letter topic.
func consumeGrants(ctx context.Context, kcfg kafka.Config, opts []kgo.Opt, store *chStore, prod *kafka.Producer, runner *stream.Runner, e *env) error {
	log := e.log.With().Str("component", "grants").Logger()
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(kcfg.Topics.Grants), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var grants []schemas.Grant
		var dead []schemas.DeadLetter
		fetches.EachRecord(func(rec *kgo.Record) {
			g, err := schemas.DecodeGrant(rec.Value)
			if err != nil {
				var re *schemas.RecordError
				reason := schemas.ReasonMalformedJSON
				if errors.As(err, &re) {
					reason = re.Reason
				}
				dead = append(dead, schemas.DeadLetter{Reason: reason, Detail: err.Error(), Record: rec.Value, Key: rec.Key, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset})
				return
			}
			grants = append(grants, g)
		})
		for len(grants) > 0 || len(dead) > 0 {
			err := prod.DeadLetters(ctx, dead)
			if err == nil {
				err = store.WriteGrants(ctx, grants)
			}
			if err == nil {
				break
			}
			log.Warn().Err(err).Msg("storing grants failed; retrying")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
		for _, g := range grants {
			if err := runner.ApplyGrant(g); err != nil {
				log.Error().Err(err).Str("grant", g.ID).Msg("grant not booked")
			}
		}
	}
}

// chStore adapts the ClickHouse client to stream.Store.
type chStore struct{ ch *clickhouse.Client }

func (s *chStore) Committed(ctx context.Context, topic string, partition int32) (stream.Position, bool, error) {
	last, wm, ok, err := s.ch.CommittedOffset(ctx, topic, partition)
	return stream.Position{Last: last, Watermark: wm}, ok, err
}

func (s *chStore) EventIDs(ctx context.Context, topic string, partition int32, maxOffset int64, since time.Time, fn func(tenant, id string, t time.Time, digest uint64) error) error {
	return s.ch.EventIDs(ctx, topic, partition, maxOffset, since, fn)
}

func (s *chStore) Events(ctx context.Context, topic string, partition int32, after, upTo int64, fn func(stream.RawEvent) error) error {
	return s.ch.RawEvents(ctx, topic, partition, after, upTo, func(e clickhouse.RawEvent) error {
		return fn(stream.RawEvent{
			Partition: e.Partition, Offset: e.Offset, Tenant: e.Tenant, ID: e.ID, Meter: e.Meter, Model: e.Model,
			Quantity: e.Quantity, Credits: e.Credits, Time: e.Time, Digest: e.Digest,
		})
	})
}

func (s *chStore) Checkpoint(ctx context.Context, topic string, partition int32, maxOffset int64) ([]int64, error) {
	return s.ch.CheckpointChain(ctx, topic, partition, maxOffset)
}

func (s *chStore) States(ctx context.Context, topic string, partition int32, chain []int64) ([]billing.TenantState, error) {
	var out []billing.TenantState
	err := s.ch.PartitionStates(ctx, topic, partition, chain, func(tenant string, state []byte) error {
		var ts billing.TenantState
		if err := json.Unmarshal(state, &ts); err != nil {
			return fmt.Errorf("state of tenant %q: %w", tenant, err)
		}
		out = append(out, ts)
		return nil
	})
	return out, err
}

// Write stores the batches of several partitions with one insert per
// table: fewer, larger inserts make fewer parts for ClickHouse to merge.
// rawColumns holds the raw-event columns of the last flush for the next
// one: every flush has about as many events.
var rawColumns sync.Pool

func (s *chStore) Write(ctx context.Context, bs []*stream.Batch) error {
	n := 0
	var alerts []schemas.Alert
	var grants []schemas.Grant
	var cps []clickhouse.Checkpoint
	for _, b := range bs {
		n += len(b.Raw)
		alerts = append(alerts, b.Alerts...)
		grants = append(grants, b.Grants...)
		if !b.Checkpoint {
			continue
		}
		cp := clickhouse.Checkpoint{Topic: b.Topic, Partition: b.Partition, Offset: b.Last, Prev: b.CheckpointPrev,
			States: make([]clickhouse.PartitionState, 0, len(b.States))}
		for _, st := range b.States {
			js, err := json.Marshal(st)
			if err != nil {
				return fmt.Errorf("encode state of tenant %q: %w", st.Tenant, err)
			}
			cp.States = append(cp.States, clickhouse.PartitionState{Tenant: st.Tenant, State: js})
		}
		cps = append(cps, cp)
	}
	raw, _ := rawColumns.Get().(*clickhouse.RawEventColumns)
	if raw == nil {
		raw = new(clickhouse.RawEventColumns)
	}
	defer func() { raw.Reset(); rawColumns.Put(raw) }()
	raw.Grow(n)
	for _, b := range bs {
		for _, r := range b.Raw {
			if err := raw.Add(clickhouse.RawEvent{
				Topic: b.Topic, Partition: r.Partition, Offset: r.Offset, Tenant: r.Tenant, ID: r.ID,
				Meter: r.Meter, Model: r.Model, Quantity: r.Quantity, Credits: r.Credits, Time: r.Time,
				Properties: r.Properties, Digest: r.Digest,
			}); err != nil {
				return fmt.Errorf("raw events of partition %d: %w", b.Partition, err)
			}
		}
	}
	if err := s.ch.WriteRawEventColumns(ctx, raw); err != nil {
		return err
	}
	if err := s.ch.WriteAlerts(ctx, alerts); err != nil {
		return err
	}
	if err := s.ch.WriteGrants(ctx, grants); err != nil {
		return err
	}
	return s.ch.WritePartitionStates(ctx, cps...)
}

// Commit stores all batches' window deltas and ranges in one insert
// (ClickHouse makes a part per insert, and parts are what costs it most).
func (s *chStore) Commit(ctx context.Context, bs []*stream.Batch) ([]int32, error) {
	if len(bs) == 0 {
		return nil, nil
	}
	stored, err := s.ch.CommittedOffsets(ctx, bs[0].Topic)
	if err != nil {
		return nil, err
	}
	write, fenced := stream.SplitCommit(stored, bs)
	rs := make([]clickhouse.RangeDeltas, 0, len(write))
	rows := 0
	flush := func() error {
		err := s.ch.WriteRanges(ctx, rs)
		if errors.Is(err, clickhouse.ErrRangeCommitted) {
			// Another writer got in between the read and the write: the
			// next attempt finds out who is fenced.
			return fmt.Errorf("commit raced with another writer: %w", err)
		}
		rs, rows = rs[:0], 0
		return err
	}
	for _, b := range write {
		n := len(b.Deltas) + 1
		if rows > 0 && rows+n > clickhouse.MaxRangeRows {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		rs = append(rs, clickhouse.RangeDeltas{Range: clickhouse.Range{
			Topic: b.Topic, Partition: b.Partition, First: b.First, Last: b.Last, Watermark: b.Watermark,
		}, Deltas: b.Deltas})
		rows += n
	}
	if len(rs) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return fenced, nil
}

func (s *chStore) WriteGrants(ctx context.Context, gs []schemas.Grant) error {
	return s.ch.WriteGrants(ctx, gs)
}

func (s *chStore) Grants(ctx context.Context) ([]schemas.Grant, error) {
	return closeStore{s.ch}.Grants(ctx)
}

// closeStore adapts the ClickHouse client to the close job's Source and Sink.
type closeStore struct{ ch *clickhouse.Client }

func (s closeStore) LedgerStates(ctx context.Context) (map[string]ledger.State, error) {
	out := map[string]ledger.State{}
	err := s.ch.LedgerStates(ctx, func(tenant string, state []byte) error {
		var st ledger.State
		if err := json.Unmarshal(state, &st); err != nil {
			return fmt.Errorf("ledger state of %q: %w", tenant, err)
		}
		out[tenant] = st
		return nil
	})
	return out, err
}

func (s closeStore) Usage(ctx context.Context, fn func(tenant string, bucket time.Time, credits schemas.Micros) error) error {
	return s.ch.UsageSince(ctx, nil, time.Time{}, fn)
}

func (s closeStore) Grants(ctx context.Context) ([]schemas.Grant, error) { return s.ch.Grants(ctx, "") }

func (s closeStore) WriteCloses(ctx context.Context, cs []schemas.PeriodClose, ls []schemas.LineItem) error {
	return s.ch.WriteCloses(ctx, cs, ls)
}

func (s closeStore) WriteLedgerStates(ctx context.Context, version int64, states []ledger.State) error {
	for _, st := range states {
		js, err := json.Marshal(st)
		if err != nil {
			return err
		}
		if err := s.ch.WriteLedgerState(ctx, st.Tenant, version, js); err != nil {
			return err
		}
	}
	return nil
}

// publisher adapts the Kafka producer to stream.Publisher, skipping alerts
// already on the topic (read back at start-up), so that an alert re-derived
// after a crash is not published twice.
type publisher struct {
	p    *kafka.Producer
	hook *webhook.Sender // optional; never blocks
	mu   sync.Mutex
	seen map[string]bool
}

func (p *publisher) Publish(ctx context.Context, b *stream.Batch) error {
	if err := p.p.DeadLetters(ctx, b.DeadLetters); err != nil {
		return err
	}
	if err := p.alerts(ctx, b.Alerts); err != nil {
		return err
	}
	if err := p.p.Grants(ctx, b.Grants); err != nil {
		return err
	}
	return p.p.Entitlements(ctx, b.Entitlements)
}

// alertsNow publishes alerts as soon as they are raised; a failure is left
// to the flush, which publishes whatever is not on the topic yet.
func (p *publisher) alertsNow(ctx context.Context, as []schemas.Alert) {
	_ = p.alerts(ctx, as)
}

// alerts publishes the alerts not yet on the topic.
func (p *publisher) alerts(ctx context.Context, as []schemas.Alert) error {
	p.mu.Lock()
	var fresh []schemas.Alert
	for _, a := range as {
		if !p.seen[a.ID] {
			fresh = append(fresh, a)
		}
	}
	p.mu.Unlock()
	if err := p.p.Alerts(ctx, fresh); err != nil {
		return err
	}
	p.mu.Lock()
	for _, a := range fresh {
		p.seen[a.ID] = true
	}
	p.mu.Unlock()
	if p.hook != nil {
		p.hook.Enqueue(fresh...)
	}
	return nil
}

// faultFromEnv builds the crash-test hook from CREDITFLOW_TEST_CRASH,
// "POINT:N": the process kills itself with SIGKILL the N-th time it reaches
// POINT (see stream.Config.Fault). Empty means no hook. For the end-to-end
// crash tests only.
func faultFromEnv(spec string) func(string) {
	point, nStr, ok := strings.Cut(spec, ":")
	if spec == "" || !ok {
		return nil
	}
	n, err := strconv.Atoi(nStr)
	if err != nil || n < 1 {
		return nil
	}
	var mu sync.Mutex
	seen := 0
	return func(p string) {
		if p != point {
			return
		}
		mu.Lock()
		seen++
		hit := seen == n
		mu.Unlock()
		if hit {
			fmt.Fprintf(os.Stderr, "CREDITFLOW_TEST_CRASH: killing myself at %s #%d\n", p, n)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}

package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/pipeline/billing"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/schemas"
)

const testCatalog = `
currency: USD
meters: [{name: tokens, unit: token}, {name: calls, unit: call}]
rates:
  - {meter: tokens, model: "*", credits_per_unit: "0.001", effective_from: "2026-01-01T00:00:00Z"}
  - {meter: calls, model: "*", credits_per_unit: "1", effective_from: "2026-01-01T00:00:00Z"}
plans: [{id: p, fee: "10", included_credits: "100"}]
tenants:
` // tenants appended by the test

// memStore is an in-memory Store with ClickHouse's semantics: Write is
// idempotent, Commit is the atomic commit point and fences overlaps.
type memStore struct {
	mu         sync.Mutex
	committed  map[int32]Position
	deltas     map[string]*schemas.WindowTotal
	raw        map[string]RawEvent         // by partition/offset
	states     map[string]map[int64][]byte // partition/tenant → checkpoint offset → state
	markers    map[int32]map[int64]int64   // partition → checkpoint offset → previous checkpoint (-1: full)
	grants     []schemas.Grant
	failWrite  int           // fail this many Write calls (backpressure test)
	writeDelay time.Duration // sleep in each Write (a slow database)
	ctxErr     bool
}

func newMemStore() *memStore {
	return &memStore{committed: map[int32]Position{}, deltas: map[string]*schemas.WindowTotal{}, raw: map[string]RawEvent{}, states: map[string]map[int64][]byte{}, markers: map[int32]map[int64]int64{}}
}

func (m *memStore) Committed(_ context.Context, _ string, p int32) (Position, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pos, ok := m.committed[p]
	return pos, ok, nil
}

func (m *memStore) EventIDs(_ context.Context, _ string, p int32, maxOffset int64, since time.Time, fn func(string, string, time.Time, uint64) error) error {
	m.mu.Lock()
	var rows []RawEvent
	for _, r := range m.raw {
		if r.Partition == p && r.Offset <= maxOffset && !r.Time.Before(since) {
			rows = append(rows, r)
		}
	}
	m.mu.Unlock()
	for _, r := range rows {
		if err := fn(r.Tenant, r.ID, r.Time, r.Digest); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Events(_ context.Context, _ string, p int32, after, upTo int64, fn func(RawEvent) error) error {
	m.mu.Lock()
	var rows []RawEvent
	for _, r := range m.raw {
		if r.Partition == p && r.Offset > after && r.Offset <= upTo {
			rows = append(rows, r)
		}
	}
	m.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].Offset < rows[j].Offset })
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Checkpoint(_ context.Context, _ string, p int32, maxOffset int64) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	latest := int64(-1)
	for v := range m.markers[p] {
		if v <= maxOffset && v > latest {
			latest = v
		}
	}
	var chain []int64
	for v := latest; v >= 0; v = m.markers[p][v] {
		chain = append(chain, v)
	}
	return chain, nil
}

func (m *memStore) States(_ context.Context, _ string, p int32, chain []int64) ([]billing.TenantState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []billing.TenantState
	prefix := fmt.Sprintf("%d/", p)
	for key, versions := range m.states {
		if len(key) <= len(prefix) || key[:len(prefix)] != prefix {
			continue
		}
		for _, v := range chain { // newest first
			if js, ok := versions[v]; ok {
				var ts billing.TenantState
				if err := jsonUnmarshal(js, &ts); err != nil {
					return nil, err
				}
				out = append(out, ts)
				break
			}
		}
	}
	return out, nil
}

func (m *memStore) Write(ctx context.Context, bs []*Batch) error {
	if m.writeDelay > 0 {
		time.Sleep(m.writeDelay) // a slow database: the loop goes on meanwhile
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failWrite > 0 {
		m.failWrite--
		return errors.New("store unavailable")
	}
	for _, b := range bs {
		for _, r := range b.Raw {
			m.raw[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = r
		}
		if !b.Checkpoint {
			continue
		}
		for _, s := range b.States {
			key := fmt.Sprintf("%d/%s", b.Partition, s.Tenant)
			if m.states[key] == nil {
				m.states[key] = map[int64][]byte{}
			}
			js, err := jsonMarshal(s)
			if err != nil {
				return err
			}
			m.states[key][b.Last] = js
		}
		if m.markers[b.Partition] == nil {
			m.markers[b.Partition] = map[int64]int64{}
		}
		m.markers[b.Partition][b.Last] = max(b.CheckpointPrev, -1)
	}
	return nil
}

func (m *memStore) Commit(ctx context.Context, bs []*Batch) ([]int32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	stored := map[int32]int64{}
	for p, pos := range m.committed {
		stored[p] = pos.Last
	}
	write, fenced := SplitCommit(stored, bs)
	for _, b := range write {
		for _, d := range b.Deltas {
			k := fmt.Sprintf("%s|%s|%s|%d", d.Tenant, d.Meter, d.Model, d.Start.Unix())
			if m.deltas[k] == nil {
				c := d
				c.Events, c.Quantity, c.Credits, c.Late = 0, 0, 0, false
				m.deltas[k] = &c
			}
			m.deltas[k].Events += d.Events
			m.deltas[k].Quantity += d.Quantity
			m.deltas[k].Credits += d.Credits
		}
		m.committed[b.Partition] = Position{Last: b.Last, Watermark: b.Watermark}
	}
	return fenced, nil
}

func (m *memStore) WriteGrants(context.Context, []schemas.Grant) error { return nil }
func (m *memStore) Grants(context.Context) ([]schemas.Grant, error)    { return m.grants, nil }

func (m *memStore) totals() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for k, d := range m.deltas {
		out[k] = fmt.Sprintf("%d %s %s", d.Events, d.Quantity, d.Credits)
	}
	return out
}

func (m *memStore) committedCount() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, p := range m.committed {
		n += p.Last + 1
	}
	return n
}

type memPub struct {
	mu     sync.Mutex
	alerts []schemas.Alert
	dead   int
}

func (p *memPub) Publish(_ context.Context, b *Batch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alerts = append(p.alerts, b.Alerts...)
	p.dead += len(b.DeadLetters)
	return nil
}

// fixture produces events to a kfake cluster and knows the expected totals.
type fixture struct {
	cluster *kfake.Cluster
	cat     *catalog.Catalog
	records int64
	want    map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "usage.events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	src := testCatalog
	for i := 0; i < 20; i++ {
		src += fmt.Sprintf("  - {id: t%02d, plan: p, start: \"2026-01-01T00:00:00Z\"}\n", i)
	}
	cat, err := catalog.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{cluster: c, cat: cat, want: map[string]string{}}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Second)
	type sum struct {
		n    int64
		q, c schemas.Micros
	}
	sums := map[string]*sum{}
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		tenant := fmt.Sprintf("t%02d", rng.IntN(20))
		meter, rate := "tokens", schemas.MustDecimal("0.001")
		if rng.IntN(3) == 0 {
			meter, rate = "calls", schemas.MustDecimal("1")
		}
		q := schemas.Micros(rng.Int64N(5000) * 1000)
		at := now.Add(time.Duration(i) * 500 * time.Millisecond)
		rec := fmt.Sprintf(`{"id":"e%d","tenant":%q,"meter":%q,"quantity":"%s","time":%q}`, i, tenant, meter, q, at.Format(time.RFC3339Nano))
		recs = append(recs, &kgo.Record{Key: []byte(tenant), Value: []byte(rec)})
		credits, _ := schemas.MulMicros(q, rate)
		k := fmt.Sprintf("%s|%s||%d", tenant, meter, at.Truncate(time.Minute).Unix())
		if sums[k] == nil {
			sums[k] = &sum{}
		}
		sums[k].n++
		sums[k].q += q
		sums[k].c += credits
	}
	// Producer resends under new offsets, and a malformed record.
	for i := 0; i < 150; i++ {
		r := recs[rng.IntN(len(recs))]
		recs = append(recs, &kgo.Record{Key: r.Key, Value: r.Value})
	}
	recs = append(recs, &kgo.Record{Key: []byte("t00"), Value: []byte(`{"id":`)})
	for k, s := range sums {
		f.want[k] = fmt.Sprintf("%d %s %s", s.n, s.q, s.c)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("usage.events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	f.records = int64(len(recs))
	return f
}

func (f *fixture) runner(t *testing.T, store Store, pub Publisher, fault func(string)) *Runner {
	t.Helper()
	return f.runnerWith(t, Config{Fault: fault}, store, pub)
}

func (f *fixture) runnerWith(t *testing.T, cfg Config, store Store, pub Publisher) *Runner {
	t.Helper()
	cfg.FlushInterval, cfg.MaxPoll = 50*time.Millisecond, 300
	if cfg.FlushRecords == 0 {
		cfg.FlushRecords = 400
	}
	cfg.RetryMin, cfg.RetryMax, cfg.Log = 5*time.Millisecond, 20*time.Millisecond, zerolog.Nop()
	r, err := New(cfg, f.cat, store, pub, kgo.SeedBrokers(f.cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runUntil runs r until every record is committed or stop says so.
func runUntil(t *testing.T, r *Runner, store *memStore, want int64, ctx context.Context, cancel context.CancelFunc) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-done:
			return err
		case <-deadline:
			cancel()
			t.Fatalf("timed out: %d of %d committed (stats %+v)", store.committedCount(), want, r.Stats())
		case <-time.After(20 * time.Millisecond):
			if store.committedCount() >= want {
				cancel()
				return <-done
			}
		}
	}
}

func diffTotals(t *testing.T, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		if got[k] != want[k] {
			if bad < 5 {
				t.Errorf("window %s: got %q, want %q", k, got[k], want[k])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d windows differ", bad, len(keys))
	}
}

func TestExactlyOnceAcrossCrashes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	store, pub := newMemStore(), &memPub{}
	// Each run "crashes" (its context is cancelled abruptly) at a different
	// point of a flush; the next run resumes from the store.
	for i, point := range []string{"before_write", "after_write", "after_publish", "after_commit", "record"} {
		ctx, cancel := context.WithCancel(context.Background())
		var n atomic.Int64
		crash := func(p string) {
			if p == point && n.Add(1) == int64(3+i) {
				cancel()
			}
		}
		r := f.runner(t, store, pub, crash)
		t.Logf("run %d crashes at %s", i, point)
		err := runUntil(t, r, store, f.records, ctx, cancel)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("run crashing at %s: %v", point, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := runUntil(t, f.runner(t, store, pub, nil), store, f.records, ctx, cancel); err != nil {
		t.Fatal(err)
	}
	diffTotals(t, store.totals(), f.want)
}

func TestBackpressureResumesByItself(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	store, pub := newMemStore(), &memPub{}
	store.failWrite = 12
	ctx, cancel := context.WithCancel(context.Background())
	r := f.runner(t, store, pub, nil)
	if err := runUntil(t, r, store, f.records, ctx, cancel); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.FlushRetries < 12 {
		t.Errorf("flush retries = %d, want ≥ 12", st.FlushRetries)
	}
	diffTotals(t, store.totals(), f.want)
	if pub.dead != 1 {
		t.Errorf("dead letters published = %d, want 1", pub.dead)
	}
}

// TestSetAsideWhileWriting: with a slow store, full batches are sealed and
// set aside while the writer works, and processing goes on; every range is
// still committed in order (nothing fenced) and the totals are exact.
func TestSetAsideWhileWriting(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	store, pub := newMemStore(), &memPub{}
	store.writeDelay = 40 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	r := f.runner(t, store, pub, nil)
	if err := runUntil(t, r, store, f.records, ctx, cancel); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	t.Logf("stats %+v", st)
	if st.SetAside == 0 || st.Fenced != 0 {
		t.Errorf("set aside %d batches, fenced %d; want some set aside and none fenced", st.SetAside, st.Fenced)
	}
	diffTotals(t, store.totals(), f.want)
}

// states returns every tenant's latest stored state (JSON), per the
// partitions' latest checkpoint chains.
func (m *memStore) latestStates(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p := range int32(3) {
		chain, err := m.Checkpoint(context.Background(), "", p, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		states, err := m.States(context.Background(), "", p, chain)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			js, err := jsonMarshal(s)
			if err != nil {
				t.Fatal(err)
			}
			out[s.Tenant] = string(js)
		}
	}
	return out
}

func alertIDs(p *memPub) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for _, a := range p.alerts {
		out[a.ID] = a.Tenant
	}
	return out
}

// TestCheckpointsAcrossCrashes: with state checkpoints only every few
// flushes (incremental, a full one every third), runs that crash at every
// flush point resume from a checkpoint, replay the stored events after it,
// and end with the same tenant states (ledger, alert and runaway state) and
// the same alerts as one uninterrupted run.
func TestCheckpointsAcrossCrashes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A clock that moves 2s per reading (read about once per fetch and
	// flush) makes checkpoints (every 15 s of it) fall on every few flushes
	// whatever the machine's speed.
	var ticks atomic.Int64
	base := time.Now()
	clock := func() time.Time { return base.Add(time.Duration(ticks.Add(1)) * 2 * time.Second) }
	// Flushes of 100 records: a full batch is set aside while the writer
	// works, so with larger ones a run could commit the whole fixture before
	// its crash point, leaving the later runs nothing to crash in or take
	// over.
	cfg := Config{CheckpointInterval: 15 * time.Second, FullCheckpointEvery: 3, Now: clock, FlushRecords: 100}

	clean, cleanPub := newMemStore(), &memPub{}
	ctx, cancel := context.WithCancel(context.Background())
	if err := runUntil(t, f.runnerWith(t, cfg, clean, cleanPub), clean, f.records, ctx, cancel); err != nil {
		t.Fatal(err)
	}

	store, pub := newMemStore(), &memPub{}
	var replayed, checkpoints int64
	for i, point := range []string{"record", "after_commit", "before_write", "after_write", "after_publish", "record"} {
		ctx, cancel := context.WithCancel(context.Background())
		var n atomic.Int64
		c := cfg
		c.Fault = func(p string) {
			if p == point && n.Add(1) == int64(map[bool]int{true: 400, false: 3}[p == "record"]) {
				cancel()
			}
		}
		r := f.runnerWith(t, c, store, pub)
		r.abandon = true // a crash: what was not committed when ctx ended is lost
		if err := runUntil(t, r, store, f.records, ctx, cancel); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("run crashing at %s: %v", point, err)
		}
		replayed += r.Stats().Replayed
		checkpoints += r.Stats().Checkpoints
		t.Logf("run %d crashing at %s: %+v", i, point, r.Stats())
	}
	ctx, cancel = context.WithCancel(context.Background())
	r := f.runnerWith(t, cfg, store, pub)
	if err := runUntil(t, r, store, f.records, ctx, cancel); err != nil {
		t.Fatal(err)
	}
	replayed += r.Stats().Replayed
	t.Logf("checkpoints %d, events replayed on take-over %d", checkpoints, replayed)
	if replayed == 0 || checkpoints == 0 {
		t.Errorf("checkpoints %d, replayed %d: the test does not exercise checkpoints and the replay after them", checkpoints, replayed)
	}
	diffTotals(t, store.totals(), f.want)
	diffTotals(t, store.latestStates(t), clean.latestStates(t))
	if len(clean.latestStates(t)) == 0 {
		t.Fatal("no tenant states stored")
	}
	diffTotals(t, alertIDs(pub), alertIDs(cleanPub))
	if len(alertIDs(cleanPub)) == 0 {
		t.Fatal("the fixture raised no alerts")
	}
}

func TestSplitCommit(t *testing.T) {
	t.Parallel()
	b := func(p int32, first, last int64) *Batch { return &Batch{Partition: p, First: first, Last: last} }
	name := func(bs []*Batch) []string {
		var out []string
		for _, x := range bs {
			out = append(out, fmt.Sprintf("%d[%d,%d]", x.Partition, x.First, x.Last))
		}
		return out
	}
	for _, tt := range []struct {
		name   string
		stored map[int32]int64
		bs     []*Batch
		write  []string
		fenced []int32
	}{
		{"nothing stored", nil, []*Batch{b(0, 0, 9), b(0, 10, 19), b(1, 5, 7)}, []string{"0[0,9]", "0[10,19]", "1[5,7]"}, nil},
		{"follows the stored range", map[int32]int64{0: 9}, []*Batch{b(0, 10, 19)}, []string{"0[10,19]"}, nil},
		{"first landed earlier", map[int32]int64{0: 19}, []*Batch{b(0, 10, 19), b(0, 20, 29)}, []string{"0[20,29]"}, nil},
		{"all landed earlier", map[int32]int64{0: 29}, []*Batch{b(0, 10, 19), b(0, 20, 29)}, nil, nil},
		{"someone else wrote", map[int32]int64{0: 25, 1: 4}, []*Batch{b(0, 10, 19), b(0, 20, 29), b(1, 5, 9)}, []string{"1[5,9]"}, []int32{0}},
		{"gap behind", map[int32]int64{0: 5}, []*Batch{b(0, 10, 19)}, nil, []int32{0}},
	} {
		write, fenced := SplitCommit(tt.stored, tt.bs)
		if got := name(write); fmt.Sprint(got) != fmt.Sprint(tt.write) {
			t.Errorf("%s: write %v, want %v", tt.name, got, tt.write)
		}
		if fmt.Sprint(fenced) != fmt.Sprint(tt.fenced) {
			t.Errorf("%s: fenced %v, want %v", tt.name, fenced, tt.fenced)
		}
	}
}

package clickhouse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

// windowSink is what the streaming consumer needs of window storage. The
// contract suite below runs the same cases against the memory sink and the
// ClickHouse Client (STYLE 12).
type windowSink interface {
	WriteWindowDeltas(ctx context.Context, r Range, deltas []schemas.WindowTotal) error
	WindowTotals(ctx context.Context, tenant string) ([]schemas.WindowTotal, error)
}

var _ windowSink = (*Client)(nil)

// memorySink keeps window totals in memory with the Client's semantics.
type memorySink struct {
	mu        sync.Mutex
	committed map[string]int64 // "topic/partition" → last offset
	totals    map[windowKey]schemas.WindowTotal
}

func newMemorySink() *memorySink {
	return &memorySink{committed: map[string]int64{}, totals: map[windowKey]schemas.WindowTotal{}}
}

func (s *memorySink) WriteWindowDeltas(_ context.Context, r Range, deltas []schemas.WindowTotal) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("memory sink: range %s: %w", r, err)
	}
	for i, d := range deltas {
		if d.Tenant == "" {
			return fmt.Errorf("memory sink: delta %d: empty tenant", i)
		}
		if !d.End.After(d.Start) {
			return fmt.Errorf("memory sink: delta %d: window end is not after its start", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tp := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
	if last, ok := s.committed[tp]; ok && last >= r.First {
		return fmt.Errorf("memory sink: range %s: %w", r, ErrRangeCommitted)
	}
	next := make(map[windowKey]schemas.WindowTotal, len(deltas))
	for _, d := range deltas {
		k := windowKey{d.Tenant, d.Meter, d.Model, d.Start, d.End}
		t, ok := next[k]
		if !ok {
			t = s.totals[k]
			t.WindowKey, t.Start, t.End = d.WindowKey, d.Start, d.End
		}
		var err1, err2 error
		t.Events += d.Events
		t.Quantity, err1 = schemas.AddMicros(t.Quantity, d.Quantity)
		t.Credits, err2 = schemas.AddMicros(t.Credits, d.Credits)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("memory sink: %w", err)
		}
		next[k] = t
	}
	for k, t := range next { // all or nothing
		s.totals[k] = t
	}
	s.committed[tp] = r.Last
	return nil
}

func (s *memorySink) WindowTotals(_ context.Context, tenant string) ([]schemas.WindowTotal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []schemas.WindowTotal
	for _, t := range s.totals {
		if tenant == "" || t.Tenant == tenant {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b schemas.WindowTotal) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Meter, b.Meter), cmp.Compare(a.Model, b.Model),
			a.Start.Compare(b.Start), a.End.Compare(b.End))
	})
	return out, nil
}

type write struct {
	r       Range
	deltas  []schemas.WindowTotal
	wantErr error // errAny: some error
}

var errAny = errors.New("any error")

func rng(partition int32, first, last int64) Range {
	return Range{Topic: "usage", Partition: partition, First: first, Last: last, Watermark: ts("2024-03-01T12:00:00Z")}
}

const min1 = time.Minute

var contractCases = []struct {
	name   string
	writes []write
	tenant string
	want   []schemas.WindowTotal
}{
	{
		name: "deltas of one window in one range are summed",
		writes: []write{{r: rng(0, 0, 9), deltas: []schemas.WindowTotal{
			wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 2, "1.5", "0.000001", false),
			wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 1, "0.5", "0.000002", false),
		}}},
		want: []schemas.WindowTotal{wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 3, "2", "0.000003", false)},
	},
	{
		name: "deltas of one window apart from each other in one range are summed",
		writes: []write{{r: rng(0, 0, 9), deltas: []schemas.WindowTotal{
			wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 2, "1.5", "0.000001", false),
			wt("t0", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false),
			wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 1, "0.5", "0.000002", true),
		}}},
		want: []schemas.WindowTotal{
			wt("t0", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false),
			wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 3, "2", "0.000003", false),
		},
	},
	{
		name: "a late delta in a later range corrects the window",
		writes: []write{
			{r: rng(0, 0, 9), deltas: []schemas.WindowTotal{wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false)}},
			{r: rng(0, 10, 19), deltas: []schemas.WindowTotal{wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 1, "0.000001", "0.000001", true)}},
		},
		want: []schemas.WindowTotal{wt("t1", "tokens", "gpt", "2024-03-01T10:00:00Z", min1, 2, "1.000001", "1.000001", false)},
	},
	{
		name: "micro precision survives large sums",
		writes: []write{{r: rng(0, 0, 1), deltas: []schemas.WindowTotal{
			wt("t1", "tokens", "", "2024-03-01T10:00:00Z", min1, 1, "999999999999.999999", "4611686018427.387903", false),
			wt("t1", "tokens", "", "2024-03-01T10:00:00Z", min1, 1, "0.000001", "0.000001", false),
		}}},
		want: []schemas.WindowTotal{wt("t1", "tokens", "", "2024-03-01T10:00:00Z", min1, 2, "1000000000000", "4611686018427.387904", false)},
	},
	{
		name: "sorted like windows.csv and filtered by tenant",
		writes: []write{{r: rng(0, 0, 9), deltas: []schemas.WindowTotal{
			wt("t2", "a", "", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false),
			wt("t1", "b", "x", "2024-03-01T10:01:00Z", min1, 1, "1", "1", false),
			wt("t1", "b", "x", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false),
			wt("t1", "b", "", "2024-03-01T10:05:00Z", min1, 1, "1", "1", false),
			wt("t1", "a", "z", "2024-03-01T10:09:00Z", min1, 1, "1", "1", false),
		}}},
		tenant: "t1",
		want: []schemas.WindowTotal{
			wt("t1", "a", "z", "2024-03-01T10:09:00Z", min1, 1, "1", "1", false),
			wt("t1", "b", "", "2024-03-01T10:05:00Z", min1, 1, "1", "1", false),
			wt("t1", "b", "x", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false),
			wt("t1", "b", "x", "2024-03-01T10:01:00Z", min1, 1, "1", "1", false),
		},
	},
	{
		name: "a range already stored is refused and changes nothing",
		writes: []write{
			{r: rng(0, 0, 9), deltas: []schemas.WindowTotal{wt("t1", "m", "", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false)}},
			{r: rng(0, 0, 9), deltas: []schemas.WindowTotal{wt("t1", "m", "", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false)}, wantErr: ErrRangeCommitted},
			{r: rng(0, 9, 12), deltas: []schemas.WindowTotal{wt("t1", "m", "", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false)}, wantErr: ErrRangeCommitted},
		},
		want: []schemas.WindowTotal{wt("t1", "m", "", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false)},
	},
	{
		name: "a marker-only range stores no window but advances the offset",
		writes: []write{
			{r: rng(0, 0, 4)},
			{r: rng(0, 3, 9), deltas: []schemas.WindowTotal{wt("t1", "m", "", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false)}, wantErr: ErrRangeCommitted},
		},
		want: nil,
	},
	{
		name: "partitions are independent",
		writes: []write{
			{r: rng(0, 0, 9), deltas: []schemas.WindowTotal{wt("t1", "m", "", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false)}},
			{r: rng(1, 0, 9), deltas: []schemas.WindowTotal{wt("t1", "m", "", "2024-03-01T10:00:00Z", min1, 2, "2", "2", false)}},
		},
		want: []schemas.WindowTotal{wt("t1", "m", "", "2024-03-01T10:00:00Z", min1, 3, "3", "3", false)},
	},
	{
		name: "invalid input is refused whole",
		writes: []write{
			{r: Range{Topic: "usage", First: 5, Last: 4}, wantErr: errAny},
			{r: rng(0, 0, 1), deltas: []schemas.WindowTotal{
				wt("t1", "m", "", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false),
				wt("", "m", "", "2024-03-01T10:00:00Z", min1, 1, "1", "1", false),
			}, wantErr: errAny},
		},
		want: nil,
	},
}

func runContract(t *testing.T, newSink func(t *testing.T) windowSink) {
	for _, tc := range contractCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSink(t)
			if s == nil {
				return
			}
			ctx := ctxT(t)
			for i, w := range tc.writes {
				err := s.WriteWindowDeltas(ctx, w.r, w.deltas)
				switch {
				case w.wantErr == nil && err != nil:
					t.Fatalf("write %d: %v", i, err)
				case w.wantErr == errAny && err == nil,
					w.wantErr != nil && w.wantErr != errAny && !errors.Is(err, w.wantErr):
					t.Fatalf("write %d: err = %v, want %v", i, err, w.wantErr)
				}
			}
			got, err := s.WindowTotals(ctx, tc.tenant)
			if err != nil {
				t.Fatal(err)
			}
			if d := gocmp.Diff(tc.want, got); d != "" {
				t.Errorf("WindowTotals(%q) (-want +got):\n%s", tc.tenant, d)
			}
		})
	}
}

func TestContractMemory(t *testing.T) {
	t.Parallel()
	runContract(t, func(*testing.T) windowSink { return newMemorySink() })
}

func TestContractClickHouse(t *testing.T) {
	t.Parallel()
	runContract(t, func(t *testing.T) windowSink {
		if c := migrated(t); c != nil {
			return c
		}
		return nil
	})
}

package window

import (
	stdcmp "cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/creditflow/creditflow/schemas"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg Config) *Windows {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var (
	acme  = schemas.WindowKey{Tenant: "acme", Meter: "tokens", Model: "gpt"}
	acme2 = schemas.WindowKey{Tenant: "acme", Meter: "tokens", Model: "mini"}
	beta  = schemas.WindowKey{Tenant: "beta", Meter: "calls"}
)

func row(k schemas.WindowKey, start time.Time, width time.Duration, events int64, qty, credits schemas.Micros, late bool) schemas.WindowTotal {
	return schemas.WindowTotal{WindowKey: k, Start: start, End: start.Add(width), Events: events, Quantity: qty, Credits: credits, Late: late}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        Config
		wantWidth  time.Duration
		wantOOO    time.Duration
		wantErrSub []string
	}{
		{name: "defaults", wantWidth: time.Minute, wantOOO: 10 * time.Second},
		{name: "set", cfg: Config{Width: 5 * time.Minute, OutOfOrder: time.Second}, wantWidth: 5 * time.Minute, wantOOO: time.Second},
		{name: "no out-of-orderness", cfg: Config{OutOfOrder: NoOutOfOrder}, wantWidth: time.Minute, wantOOO: 0},
		{name: "negative", cfg: Config{Width: -time.Minute, OutOfOrder: -time.Second}, wantErrSub: []string{"width -1m0s", "out-of-orderness -1s: must not be negative"}},
		{name: "too wide", cfg: Config{Width: MaxWidth + 1}, wantErrSub: []string{"at most"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, err := New(tc.cfg)
			if len(tc.wantErrSub) > 0 {
				if err == nil {
					t.Fatal("New succeeded, want an error")
				}
				for _, sub := range tc.wantErrSub {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q lacks %q", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.Width() != tc.wantWidth || w.OutOfOrder() != tc.wantOOO {
				t.Errorf("Width, OutOfOrder = %v, %v; want %v, %v", w.Width(), w.OutOfOrder(), tc.wantWidth, tc.wantOOO)
			}
		})
	}
}

func TestWatermark(t *testing.T) {
	t.Parallel()
	if got := Watermark(t0, 10*time.Second); !got.Equal(t0.Add(-10 * time.Second)) {
		t.Errorf("Watermark = %v", got)
	}
	if got := Watermark(t0, NoOutOfOrder); !got.Equal(t0) {
		t.Errorf("Watermark with NoOutOfOrder = %v, want %v", got, t0)
	}
	if got := Watermark(time.Time{}, time.Second); !got.IsZero() {
		t.Errorf("Watermark of zero time = %v, want zero", got)
	}
}

func TestEpochAlignment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		width time.Duration
		at    time.Time
		want  time.Time
	}{
		{time.Minute, t0.Add(59*time.Second + 999999999), t0},
		{time.Minute, t0.Add(time.Minute), t0.Add(time.Minute)}, // on the boundary: the later window
		{7 * time.Minute, time.Unix(7*60*3+5, 0), time.Unix(7*60*3, 0)},
		{7 * time.Minute, time.Unix(7*60*3, 0), time.Unix(7*60*3, 0)},
		{time.Hour, time.Unix(-1, 0), time.Unix(-3600, 0)}, // floor, not truncation, before 1970
		{time.Minute, time.Unix(-60, 0), time.Unix(-60, 0)},
		{time.Hour, t0.In(time.FixedZone("X", 1800)).Add(10 * time.Minute), t0}, // zones do not matter
	}
	for _, tc := range tests {
		w := mustNew(t, Config{Width: tc.width})
		if got := w.Start(tc.at); !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("width %v: Start(%v) = %v, want %v UTC", tc.width, tc.at, got, tc.want)
		}
	}
}

func TestBoundaryEvent(t *testing.T) {
	t.Parallel()
	w := mustNew(t, Config{})
	w.Add(acme, t0.Add(time.Minute-1), 1, 10)
	w.Add(acme, t0.Add(time.Minute), 2, 20) // exactly on the boundary
	got := w.Flush(nil)
	want := []schemas.WindowTotal{
		row(acme, t0, time.Minute, 1, 1, 10, false),
		row(acme, t0.Add(time.Minute), time.Minute, 1, 2, 20, false),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestAdvance(t *testing.T) {
	t.Parallel()
	w := mustNew(t, Config{})
	w.Add(beta, t0.Add(5*time.Second), 1, 1)
	w.Add(acme2, t0.Add(10*time.Second), 0, 0) // zero quantity still counts as an event
	w.Add(acme, t0.Add(20*time.Second), 3, 30)
	w.Add(acme, t0.Add(30*time.Second), 4, 40)
	w.Add(acme, t0.Add(70*time.Second), 5, 50)
	if w.Open() != 4 {
		t.Fatalf("Open = %d, want 4", w.Open())
	}
	// The watermark reaches the end of the first window only at t0+1m.
	if got := w.Advance(t0.Add(time.Minute-1), nil); len(got) != 0 {
		t.Fatalf("Advance before the end emitted %v", got)
	}
	got := w.Advance(t0.Add(time.Minute), nil)
	want := []schemas.WindowTotal{
		row(acme, t0, time.Minute, 2, 7, 70, false),
		row(acme2, t0, time.Minute, 1, 0, 0, false),
		row(beta, t0, time.Minute, 1, 1, 1, false),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if w.Open() != 1 {
		t.Errorf("Open = %d after emitting, want 1", w.Open())
	}
	if got := w.Advance(t0.Add(time.Minute), nil); len(got) != 0 {
		t.Errorf("second Advance re-emitted %v", got)
	}
	// Advance appends to out.
	out := []schemas.WindowTotal{{Events: -1}}
	out = w.Advance(t0.Add(3*time.Minute), out)
	if len(out) != 2 || out[0].Events != -1 || !out[1].Start.Equal(t0.Add(time.Minute)) {
		t.Errorf("Advance did not append: %v", out)
	}
}

func TestLateEvents(t *testing.T) {
	t.Parallel()
	const ooo = 10 * time.Second
	w := mustNew(t, Config{OutOfOrder: ooo})
	var maxT time.Time
	var rows []schemas.WindowTotal
	add := func(k schemas.WindowKey, at time.Time, q schemas.Micros) {
		w.Add(k, at, q, 10*q)
		if at.After(maxT) {
			maxT = at
		}
		rows = w.Advance(Watermark(maxT, ooo), rows)
	}
	add(acme, t0.Add(50*time.Second), 1)
	add(acme, t0.Add(65*time.Second), 2) // watermark t0+55s: [t0, t0+1m) still open
	add(acme, t0.Add(59*time.Second), 4) // late, but within the out-of-orderness: joins the window
	if len(rows) != 0 {
		t.Fatalf("emitted early: %v", rows)
	}
	add(acme, t0.Add(70*time.Second), 8) // watermark t0+1m: the window is emitted
	if want := []schemas.WindowTotal{row(acme, t0, time.Minute, 2, 5, 50, false)}; !cmp.Equal(want, rows) {
		t.Fatalf("rows (-want +got):\n%s", cmp.Diff(want, rows))
	}
	// Late beyond the out-of-orderness: pending corrections, coalesced per
	// window until the next Advance.
	rows = rows[:0]
	w.Add(acme, t0.Add(1*time.Second), 16, 160)
	w.Add(acme, t0.Add(2*time.Second), 32, 320)
	w.Add(beta, t0.Add(-time.Minute), 64, 640) // a window that never had a row
	if w.Open() != 3 {
		t.Errorf("Open = %d, want 3 (one open window, two corrections)", w.Open())
	}
	rows = w.Advance(Watermark(maxT, ooo), rows)
	want := []schemas.WindowTotal{
		row(acme, t0, time.Minute, 2, 48, 480, true),
		row(beta, t0.Add(-time.Minute), time.Minute, 1, 64, 640, true),
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("corrections (-want +got):\n%s", diff)
	}
	// A watermark behind an earlier one still emits pending corrections.
	w.Add(acme, t0, 1, 1)
	if got := w.Advance(t0, nil); len(got) != 1 || !got[0].Late {
		t.Errorf("backward Advance: %v, want one correction", got)
	}
}

func TestFlush(t *testing.T) {
	t.Parallel()
	w := mustNew(t, Config{})
	w.Add(acme, t0, 1, 1)
	w.Add(acme, t0.Add(2*time.Minute), 2, 2)
	w.Advance(t0.Add(time.Minute), nil)
	w.Add(acme, t0.Add(time.Second), 4, 4) // correction
	got := w.Flush(nil)
	want := []schemas.WindowTotal{
		row(acme, t0, time.Minute, 1, 4, 4, true),
		row(acme, t0.Add(2*time.Minute), time.Minute, 1, 2, 2, false),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Flush (-want +got):\n%s", diff)
	}
	if w.Open() != 0 {
		t.Errorf("Open = %d after Flush", w.Open())
	}
	// Flushed windows count as emitted.
	w.Add(acme, t0.Add(2*time.Minute), 8, 8)
	if got := w.Flush(nil); len(got) != 1 || !got[0].Late {
		t.Errorf("event after Flush: %v, want a correction", got)
	}
}

func TestOverflowSplitsRows(t *testing.T) {
	t.Parallel()
	w := mustNew(t, Config{})
	for range 20 {
		w.Add(acme, t0, schemas.MaxQuantity, schemas.MaxQuantity)
	}
	w.Add(beta, t0, 1, 1)
	rows := w.Advance(t0.Add(time.Hour), nil)
	var events int64
	var qty, credits int64
	for i, r := range rows[:len(rows)-1] {
		if r.WindowKey != acme || r.Late || !r.Start.Equal(t0) {
			t.Errorf("row %d: %+v", i, r)
		}
		events += r.Events
		qty += int64(r.Quantity) / schemas.MicrosPerUnit
		credits += int64(r.Credits) / schemas.MicrosPerUnit
	}
	if len(rows) < 3 || events != 20 || qty != 20e12 || credits != 20e12 {
		t.Errorf("%d rows add up to %d events, %d quantity, %d credits; want 20, 2e13, 2e13", len(rows), events, qty, credits)
	}
	if last := rows[len(rows)-1]; last.WindowKey != beta {
		t.Errorf("rows not sorted: last is %+v", last)
	}
	if w.Open() != 0 {
		t.Errorf("Open = %d", w.Open())
	}
}

type event struct {
	key schemas.WindowKey
	at  time.Time
	qty schemas.Micros
}

type winID struct {
	key   schemas.WindowKey
	start int64
}

type total struct{ events, qty, credits int64 }

// run feeds events in the given order as the partition processor does:
// Advance to the watermark after every event, Flush at the end.
func run(t *testing.T, cfg Config, events []event) ([]schemas.WindowTotal, map[winID]total) {
	t.Helper()
	w := mustNew(t, cfg)
	var rows []schemas.WindowTotal
	var maxT time.Time
	for i, e := range events {
		w.Add(e.key, e.at, e.qty, 3*e.qty)
		if e.at.After(maxT) {
			maxT = e.at
		}
		if i%7 == 0 {
			rows = w.Advance(Watermark(maxT, w.OutOfOrder()), rows)
		}
	}
	rows = w.Flush(rows)
	sums := map[winID]total{}
	for _, r := range rows {
		if !r.End.Equal(r.Start.Add(w.Width())) {
			t.Fatalf("row %+v: end is not start + width", r)
		}
		id := winID{r.WindowKey, r.Start.UnixNano()}
		s := sums[id]
		s.events += r.Events
		s.qty += int64(r.Quantity)
		s.credits += int64(r.Credits)
		sums[id] = s
	}
	return rows, sums
}

// TestArrivalOrderDoesNotMatter: for random events, sorted and shuffled
// arrival give the same per-window sums, equal to the sums of the events,
// and no window has more than one row that is not a correction (a window
// whose events all came after the watermark passed it has only
// corrections).
func TestArrivalOrderDoesNotMatter(t *testing.T) {
	t.Parallel()
	keys := []schemas.WindowKey{acme, acme2, beta, {Tenant: "gamma", Meter: "tokens"}}
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 7))
			cfg := Config{Width: time.Duration(1+rng.IntN(90)) * time.Second, OutOfOrder: time.Duration(rng.IntN(20)) * time.Second}
			if cfg.OutOfOrder == 0 {
				cfg.OutOfOrder = NoOutOfOrder
			}
			events := make([]event, 3000)
			want := map[winID]total{}
			w := mustNew(t, cfg)
			for i := range events {
				e := event{
					key: keys[rng.IntN(len(keys))],
					at:  t0.Add(time.Duration(rng.Int64N(int64(30 * time.Minute)))),
					qty: schemas.Micros(rng.IntN(3) * rng.IntN(1_000_000)), // a third are zero
				}
				events[i] = e
				id := winID{e.key, w.Start(e.at).UnixNano()}
				s := want[id]
				s.events++
				s.qty += int64(e.qty)
				s.credits += 3 * int64(e.qty)
				want[id] = s
			}
			slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
			sortedRows, sorted := run(t, cfg, events)
			rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
			shuffledRows, shuffled := run(t, cfg, events)
			if diff := cmp.Diff(want, sorted, cmp.AllowUnexported(winID{}, total{})); diff != "" {
				t.Errorf("sorted arrival (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, shuffled, cmp.AllowUnexported(winID{}, total{})); diff != "" {
				t.Errorf("shuffled arrival (-want +got):\n%s", diff)
			}
			for _, r := range sortedRows {
				if r.Late {
					t.Fatalf("sorted arrival produced a correction: %+v", r)
				}
			}
			final := map[winID]int{}
			lates := 0
			for _, r := range shuffledRows {
				if r.Late {
					lates++
				} else {
					final[winID{r.WindowKey, r.Start.UnixNano()}]++
				}
			}
			for id, n := range final {
				if n != 1 {
					t.Errorf("window %v has %d non-late rows", id, n)
				}
			}
			if lates == 0 {
				t.Errorf("shuffled arrival produced no correction; the test is too easy")
			}
		})
	}
}

func TestAllocs(t *testing.T) {
	w := mustNew(t, Config{})
	keys := make([]schemas.WindowKey, 100)
	for i := range keys {
		keys[i] = schemas.WindowKey{Tenant: fmt.Sprint("t", i), Meter: "tokens"}
		w.Add(keys[i], t0, 1, 1)
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() { w.Add(keys[i%len(keys)], t0.Add(time.Second), 1, 1); i++ }); n != 0 {
		t.Errorf("Add to an existing window allocates %.1f times", n)
	}
	// Steady state: windows come and go, their memory is reused.
	out := make([]schemas.WindowTotal, 0, 200)
	minute := 0
	cycle := func() {
		minute++
		at := t0.Add(time.Duration(minute) * time.Minute)
		for _, k := range keys {
			w.Add(k, at, 1, 1)
		}
		out = w.Advance(at, out[:0])
	}
	for range 10 {
		cycle()
	}
	if n := testing.AllocsPerRun(100, cycle); n > 0.5 {
		t.Errorf("a cycle of 100 new windows and Advance allocates %.1f times", n)
	}
}

// TestSortRows checks the radix sort used for large emissions against a
// plain comparison sort, with tenants that share long prefixes, differ only
// after 16 bytes, are empty, or end in zero bytes.
func TestSortRows(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	tenants := []string{"", "a", "a\x00", "a\x00\x00", "b", "org_", "tenant-1", "tenant-10", "tenant-2", "tenant-100000000000000001", "tenant-100000000000000002", "tenant-1000000000000000", "\xff\xfe"}
	for range 200 {
		tenants = append(tenants, fmt.Sprintf("tenant-%d", rng.IntN(100000)))
	}
	for _, n := range []int{0, 1, 63, 64, 65, 1000, 20000} {
		rows := make([]schemas.WindowTotal, n)
		for i := range rows {
			start := t0.Add(time.Duration(rng.IntN(3)) * time.Minute)
			rows[i] = schemas.WindowTotal{
				WindowKey: schemas.WindowKey{Tenant: tenants[rng.IntN(len(tenants))], Meter: []string{"m1", "m2"}[rng.IntN(2)], Model: []string{"", "x"}[rng.IntN(2)]},
				Start:     start, End: start.Add(time.Minute),
				Late:   rng.IntN(2) == 0,
				Events: int64(rng.IntN(3)),
			}
		}
		want := slices.Clone(rows)
		slices.SortFunc(want, func(a, b schemas.WindowTotal) int { return compareRows(&a, &b) })
		// Half the rows as set-aside rows, half as windows of the tables.
		w := mustNew(t, Config{})
		for _, r := range rows {
			if rng.IntN(2) == 0 {
				w.out = append(w.out, emitted{late: r.Late, row: int32(len(w.rows))})
				w.rows = append(w.rows, r)
				continue
			}
			e := entry{sid: w.Series(r.WindowKey).id, events: uint32(r.Events), start: r.Start.UnixNano(), qty: r.Quantity, credits: r.Credits}
			w.out = append(w.out, emitted{e: e, late: r.Late, row: -1})
		}
		got := w.appendSorted(nil)
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("n=%d: order (-want +got):\n%s", n, diff)
		}
	}
}

// TestSortRanked checks the order of emissions sorted by series rank (see
// ranks): series registered between emissions, reclaims that free some of
// them and reuse their ids for other keys, late corrections spread over
// several starts, and a final Flush. Every emission must come out in
// compareRows order.
func TestSortRanked(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	tenants := []string{"", "a", "a\x00", "b", "tenant-1", "tenant-10", "tenant-2", "tenant-100000000000000001", "tenant-100000000000000002"}
	for range 150 {
		tenants = append(tenants, fmt.Sprintf("tenant-%d", rng.IntN(100000)))
	}
	key := func() schemas.WindowKey {
		return schemas.WindowKey{
			Tenant: tenants[rng.IntN(len(tenants))],
			Meter:  []string{"", "m1", "m2"}[rng.IntN(3)],
			Model:  []string{"", "x", "y"}[rng.IntN(3)],
		}
	}
	w := mustNew(t, Config{Width: time.Minute, OutOfOrder: 2 * time.Minute})
	maxT := t0
	rows, reclaims := 0, 0
	check := func(what string, out []schemas.WindowTotal) {
		t.Helper()
		if !slices.IsSortedFunc(out, func(a, b schemas.WindowTotal) int { return compareRows(&a, &b) }) {
			t.Fatalf("%s: rows out of order:\n%v", what, out)
		}
		rows += len(out)
	}
	for round := range 300 {
		w.reclaim = 60 // reclaim often: ids are freed and reused for other keys
		epoch := w.epoch
		for range 1 + rng.IntN(120) {
			at := maxT.Add(time.Duration(rng.IntN(90)-60) * time.Second)
			if rng.IntN(10) == 0 {
				at = at.Add(-time.Duration(rng.IntN(10)) * time.Minute) // late, behind the watermark
			}
			w.Add(key(), at, 1, 1)
			if at.After(maxT) {
				maxT = at
			}
		}
		if w.epoch != epoch {
			reclaims++
		}
		maxT = maxT.Add(time.Duration(rng.IntN(40)) * time.Second)
		check(fmt.Sprint("round ", round), w.Advance(Watermark(maxT, w.OutOfOrder()), nil))
	}
	check("flush", w.Flush(nil))
	// Starts more than 2³¹ widths apart do not fit the ranked sort key.
	w = mustNew(t, Config{Width: time.Nanosecond, OutOfOrder: NoOutOfOrder})
	for i := range 40 {
		w.Add(key(), t0.Add(time.Duration(i%4)*3*time.Second), 1, 1)
	}
	check("wide", w.Flush(nil))
	if rows < 5000 || reclaims < 20 {
		t.Fatalf("%d rows and %d reclaims: the test does not exercise ranking", rows, reclaims)
	}
}

// TestRankOrder registers series in batches of very different sizes (a
// few new series among many ranked ones, and the other way round), ranks
// after each, and checks that the ranks of all registered series increase
// in key order.
func TestRankOrder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 10))
	w := mustNew(t, Config{})
	w.reclaim = 1 << 30 // no reclaim: every series stays registered
	registered := map[schemas.WindowKey]bool{}
	for batch := range 60 {
		n := 1 + rng.IntN(3)
		if batch%7 == 0 {
			n = 1 + rng.IntN(3000)
		}
		for range n {
			k := schemas.WindowKey{Tenant: fmt.Sprintf("t%d", rng.IntN(20000)), Meter: fmt.Sprint("m", rng.IntN(3))}
			w.Series(k)
			registered[k] = true
		}
		w.rank()
		if len(w.ranks.sorted) != len(registered) || len(w.ranks.pending) != 0 {
			t.Fatalf("batch %d: %d ranked, %d pending, %d registered", batch, len(w.ranks.sorted), len(w.ranks.pending), len(registered))
		}
		for i := 1; i < len(w.ranks.sorted); i++ {
			a, b := w.ranks.sorted[i-1], w.ranks.sorted[i]
			if compareKeys(&w.series[a], &w.series[b]) >= 0 || w.ranks.of[a] >= w.ranks.of[b] {
				t.Fatalf("batch %d: %v (rank %d) before %v (rank %d)", batch, w.series[a], w.ranks.of[a], w.series[b], w.ranks.of[b])
			}
		}
	}
}

// compareRows is the order of emitted rows: (Tenant, Meter, Model, Start,
// Late), then their sums.
func compareRows(a, b *schemas.WindowTotal) int {
	return stdcmp.Or(
		strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Meter, b.Meter), strings.Compare(a.Model, b.Model),
		a.Start.Compare(b.Start), cmpBool(a.Late, b.Late),
		stdcmp.Compare(a.Events, b.Events), stdcmp.Compare(a.Quantity, b.Quantity), stdcmp.Compare(a.Credits, b.Credits))
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// TestTableDeleteWraps drives the open-window table with keys whose home
// slots bunch at the end and the start of the slot array, so that probe
// runs wrap around, removes windows as Advance does, and checks that every
// remaining window is still found.
func TestTableDeleteWraps(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 300 {
		w := mustNew(t, Config{})
		size := len(w.open.slots)
		var items []slotKey
		for i := range 40 + rng.IntN(8) {
			// Homes bunched at the end and the start of the array: search
			// window starts until the key's home is the one wanted.
			home := size - 1 - rng.IntN(6)
			if rng.IntN(3) == 0 {
				home = rng.IntN(4)
			}
			sid := w.Series(schemas.WindowKey{Tenant: fmt.Sprint("t", i)}).id
			k := slotKey{sid, int64(rng.IntN(5)) * int64(time.Minute)}
			for w.open.home(k) != home {
				k.start += 5 * int64(time.Minute)
			}
			e := w.open.get(k)
			e.events = 1
			w.minStart = min(w.minStart, k.start)
			items = append(items, k)
		}
		if len(w.open.slots) != size {
			t.Fatalf("round %d: table grew; keep it at %d slots", round, size)
		}
		limit := int64(rng.IntN(5)) * int64(time.Minute) * 40
		w.emitOpen(limit)
		rows := w.out
		emitted := map[string]bool{}
		for _, r := range rows {
			emitted[w.series[r.e.sid].Tenant+"@"+fmt.Sprint(r.e.start)] = true
		}
		for _, k := range items {
			name := w.series[k.sid].Tenant + "@" + fmt.Sprint(k.start)
			due := k.start <= limit
			if due != emitted[name] {
				t.Fatalf("round %d: %s (limit %d) emitted %v", round, name, limit, emitted[name])
			}
			if due {
				continue
			}
			n := w.open.n
			if e := w.open.get(k); e.events != 1 || w.open.n != n {
				t.Fatalf("round %d: %s lost after deletions", round, name)
			}
		}
		if len(rows)+w.open.n != len(items) {
			t.Fatalf("round %d: %d emitted + %d left != %d", round, len(rows), w.open.n, len(items))
		}
	}
}

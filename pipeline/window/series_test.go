package window

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

// TestAddSeriesMatchesAdd feeds the same random events to one Windows by
// Add and to another by AddSeries, with handles kept per key (some left
// zero until first use), Advance in between, and expects the same rows.
func TestAddSeriesMatchesAdd(t *testing.T) {
	t.Parallel()
	compareWithAdd(t, 9, 50, 17, true, func(w *Windows, h *Series, key *schemas.WindowKey, ns int64, q schemas.Micros) {
		w.AddSeries(h, key, ns, q, 2*q)
	})
}

// TestPrefetchChangesNothing is TestAddSeriesMatchesAdd with every add
// announced by Prefetch (zero and stale handles included) and, for current
// handles, made without the key, as the partition processor does.
func TestPrefetchChangesNothing(t *testing.T) {
	t.Parallel()
	compareWithAdd(t, 11, 40, 13, false, func(w *Windows, h *Series, key *schemas.WindowKey, ns int64, q schemas.Micros) {
		w.Prefetch(*h, ns)
		if w.Current(*h) {
			key = nil
		}
		w.AddSeries(h, key, ns, q, 2*q)
	})
}

// compareWithAdd feeds 20000 random events over n keys (of tenants
// distinct tenants, some late) to one Windows by Add and to another by
// add, with a handle kept per key (every other one resolved up front when
// resolved is set), advances both every 500 events, and expects the same
// rows.
func compareWithAdd(t *testing.T, seed uint64, n, tenants int, resolved bool, add func(w *Windows, h *Series, key *schemas.WindowKey, ns int64, q schemas.Micros)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	keys := make([]schemas.WindowKey, n)
	for i := range keys {
		keys[i] = schemas.WindowKey{Tenant: fmt.Sprint("t", i%tenants), Meter: []string{"a", "b"}[i%2], Model: []string{"", "x", "y"}[i%3]}
	}
	byKey, bySeries := mustNew(t, Config{}), mustNew(t, Config{})
	handles := make([]Series, len(keys))
	for i := range handles {
		if resolved && i%2 == 0 {
			handles[i] = bySeries.Series(keys[i])
		}
	}
	var want, got []schemas.WindowTotal
	at := t0
	for i := range 20000 {
		at = at.Add(time.Duration(rng.IntN(20)) * time.Millisecond)
		tm := at.Add(-time.Duration(rng.IntN(40)) * time.Second) // some late
		k := rng.IntN(len(keys))
		q := schemas.Micros(rng.IntN(1000))
		byKey.Add(keys[k], tm, q, 2*q)
		add(bySeries, &handles[k], &keys[k], tm.UnixNano(), q)
		if i%500 == 0 {
			wm := Watermark(at, byKey.OutOfOrder())
			want = byKey.Advance(wm, want)
			got = bySeries.Advance(wm, got)
		}
	}
	want, got = byKey.Flush(want), bySeries.Flush(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows differ (-Add +AddSeries):\n%s", diff)
	}
	if len(want) < 100 {
		t.Errorf("only %d rows; the test is too easy", len(want))
	}
}

// TestSeriesReclaim registers more series than minReclaim, lets their
// windows be emitted, and checks that the registry is reclaimed, that stale
// handles resolve again, and that series with open windows keep their
// handles and sums.
func TestSeriesReclaim(t *testing.T) {
	t.Parallel()
	w := mustNew(t, Config{})
	keep := schemas.WindowKey{Tenant: "keep", Meter: "m"}
	hKeep := w.Series(keep)
	old := schemas.WindowKey{Tenant: "old", Meter: "m"}
	hOld := w.Series(old)
	w.AddSeries(&hOld, &old, t0.UnixNano(), 1, 1)
	var out []schemas.WindowTotal
	out = w.Advance(t0.Add(time.Hour), out) // emits old's window
	later := t0.Add(2 * time.Hour)
	w.AddSeries(&hKeep, &keep, later.UnixNano(), 5, 5)
	for i := range minReclaim + 10 {
		k := schemas.WindowKey{Tenant: fmt.Sprint("t", i), Meter: "m"}
		w.Add(k, t0.Add(30*time.Minute), 1, 1) // a late correction each, emitted by the next Advance
		if i%1000 == 0 {
			out = w.Advance(t0.Add(time.Hour), out[:0])
		}
	}
	out = w.Advance(t0.Add(time.Hour), out[:0])
	if w.epoch == 1 {
		t.Fatalf("%d series registered, none reclaimed", len(w.series)-1-len(w.free))
	}
	if n := len(w.series) - 1 - len(w.free); n > minReclaim {
		t.Errorf("%d series registered after reclaiming, want at most %d", n, minReclaim)
	}
	if n := w.index.n; n != len(w.series)-1-len(w.free) {
		t.Errorf("registry index has %d keys, %d ids in use", n, len(w.series)-1-len(w.free))
	}
	for id, k := range w.series[1:] {
		if k != (schemas.WindowKey{}) && w.index.find(w.series, &k, w.index.hash(&k)) != int32(id+1) {
			t.Fatalf("series %d (%+v) not found in the index", id+1, k)
		}
	}
	// A stale handle resolves again: the event lands in old's series.
	if hOld.epoch == w.epoch {
		t.Fatal("old's handle should be stale")
	}
	w.AddSeries(&hOld, &old, later.UnixNano(), 7, 7)
	if w.series[hOld.id] != old || hOld.epoch != w.epoch {
		t.Errorf("stale handle not resolved again: %+v names %+v", hOld, w.series[hOld.id])
	}
	// keep's window stayed open across the reclaim.
	w.AddSeries(&hKeep, &keep, later.UnixNano(), 5, 5)
	out = w.Flush(out[:0])
	sums := map[string]schemas.Micros{}
	for _, r := range out {
		sums[r.Tenant] += r.Quantity
	}
	if sums["keep"] != 10 || sums["old"] != 7 {
		t.Errorf("sums after reclaim: keep %v (want 10), old %v (want 7)", sums["keep"], sums["old"])
	}
}

func TestAddSeriesAllocs(t *testing.T) {
	w := mustNew(t, Config{})
	keys := make([]schemas.WindowKey, 100)
	handles := make([]Series, len(keys))
	for i := range keys {
		keys[i] = schemas.WindowKey{Tenant: fmt.Sprint("t", i), Meter: "tokens"}
		w.AddSeries(&handles[i], &keys[i], t0.UnixNano(), 1, 1)
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		w.AddSeries(&handles[i%len(keys)], &keys[i%len(keys)], t0.Add(time.Second).UnixNano(), 1, 1)
		i++
	}); n != 0 {
		t.Errorf("AddSeries to an existing window allocates %.1f times", n)
	}
}

// TestEventCountSetAside: an entry whose event count is at its limit is set
// aside as a row of its own, like a sum that would overflow.
func TestEventCountSetAside(t *testing.T) {
	t.Parallel()
	w := mustNew(t, Config{})
	k := schemas.WindowKey{Tenant: "a", Meter: "m"}
	w.Add(k, t0, 1, 10)
	w.open.get(slotKey{w.Series(k).id, w.startOf(t0)}).events = maxEntryEvents
	w.Add(k, t0.Add(time.Second), 2, 20)
	got := w.Flush(nil)
	want := []schemas.WindowTotal{
		row(k, t0, time.Minute, 1, 2, 20, false),
		row(k, t0, time.Minute, maxEntryEvents, 1, 10, false),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

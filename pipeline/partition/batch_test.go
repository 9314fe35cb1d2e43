package partition

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/loadgen"
	"github.com/creditflow/creditflow/schemas"
)

// batchMix is a loadgen stream with every kind of record (dead letters,
// duplicates, conflicts, late and out-of-order events, CloudEvents), some
// of whose ids are rewritten to start with an escape, so that the decoder
// keeps them in its scratch buffer.
// With manyModels, events use more models than the series cache holds
// pairs, so that it is emptied now and then.
func batchMix(t *testing.T, manyModels bool) (*catalog.Catalog, [][]byte) {
	t.Helper()
	cfg := loadgen.Config{
		Seed: 5, Events: 30000, Tenants: 300, Duplicates: 0.05, Conflicts: 0.01, OutOfOrder: 0.1,
		Late: 0.02, Malformed: 0.03, CloudEvents: 0.1, Rate: 50, UUIDs: true,
	}
	if manyModels {
		for i := range 3 * maxPairs {
			cfg.Models = append(cfg.Models, fmt.Sprint("model-", i))
		}
	}
	cat, err := catalog.Parse("generated.yaml", loadgen.CatalogYAML(cfg))
	if err != nil {
		t.Fatal(err)
	}
	g, err := loadgen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var recs [][]byte
	for {
		b, ok := g.Next(nil)
		if !ok {
			break
		}
		if rng.IntN(20) == 0 {
			b = bytes.Replace(b, []byte(`{"id":"`), []byte(`{"id":"\u00e9`), 1)
		}
		recs = append(recs, b)
	}
	return cat, recs
}

// TestProcessBatchMatchesProcess runs the same records through Process, one
// by one, and through ProcessBatch in chunks of random sizes, advancing the
// windows at the same records (from the callback, as replay does), and
// expects the same result for every record, the same windows and the same
// Stats.
func TestProcessBatchMatchesProcess(t *testing.T) {
	t.Parallel()
	for k, cfg := range []Config{{}, {WatermarkClock: true}, {WatermarkClock: true}} {
		t.Run(fmt.Sprint("config ", k), func(t *testing.T) {
			t.Parallel()
			cat, recs := batchMix(t, k == 2)
			one, err := New(cfg, cat)
			if err != nil {
				t.Fatal(err)
			}
			batch, err := New(cfg, cat)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var want, got []schemas.WindowTotal
			escaped := 0
			for start := 0; start < len(recs); {
				chunk := recs[start:min(len(recs), start+rng.IntN(3*Lookahead))]
				now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
				expect := make([]Result, len(chunk))
				ids := make([]string, len(chunk))
				props := make([]string, len(chunk))
				for i, rec := range chunk {
					r := one.Process(rec, now)
					if r.Event != nil {
						ids[i], props[i] = string(r.Event.ID), string(r.Event.Properties)
						r.Event = nil
					}
					expect[i] = r
					if (start+i)%97 == 0 {
						want = one.Advance(want)
					}
				}
				next := 0
				err := batch.ProcessBatch(chunk, now, func(i int, r Result) error {
					if i != next {
						return fmt.Errorf("record %d handed over after %d", i, next-1)
					}
					next++
					if r.Event != nil {
						if string(r.Event.ID) != ids[i] || string(r.Event.Properties) != props[i] {
							return fmt.Errorf("record %d: id %q properties %q, Process gives %q %q", start+i, r.Event.ID, r.Event.Properties, ids[i], props[i])
						}
						if bytes.HasPrefix(chunk[i], []byte(`{"id":"\u00e9`)) {
							escaped++
						}
						r.Event = nil
					}
					if diff := cmp.Diff(expect[i], r); diff != "" {
						return fmt.Errorf("record %d %s (-Process +ProcessBatch):\n%s", start+i, chunk[i], diff)
					}
					if (start+i)%97 == 0 {
						got = batch.Advance(got)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if next != len(chunk) {
					t.Fatalf("%d of %d records handed over", next, len(chunk))
				}
				start += len(chunk)
			}
			want, got = one.Flush(one.Advance(want)), batch.Flush(batch.Advance(got))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("windows (-Process +ProcessBatch):\n%s", diff)
			}
			if diff := cmp.Diff(one.Stats(), batch.Stats()); diff != "" {
				t.Errorf("stats (-Process +ProcessBatch):\n%s", diff)
			}
			st := batch.Stats()
			t.Logf("stats %+v, %d events with escaped ids, series cache emptied or grown %d times", st, escaped, batch.cache.moves)
			if st.Counted < 10000 || st.Duplicates < 500 || st.Conflicts == 0 || st.DeadLetters < 500 || escaped < 500 {
				t.Errorf("the mix is too one-sided: %+v, %d escaped ids", st, escaped)
			}
		})
	}
}

// TestProcessBatchStops: an error from the callback ends the batch at once;
// the records after it are neither processed nor counted.
func TestProcessBatchStops(t *testing.T) {
	t.Parallel()
	cat, recs := batchMix(t, false)
	p, err := New(Config{WatermarkClock: true}, cat)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	seen := 0
	err = p.ProcessBatch(recs[:100], time.Time{}, func(i int, r Result) error {
		seen++
		if i == 40 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 41 || p.Stats().Records != 41 {
		t.Fatalf("err %v after %d records, Stats.Records %d; want stop after 41", err, seen, p.Stats().Records)
	}
	// The rest goes through as if the batch had been those 41 records.
	q, err := New(Config{WatermarkClock: true}, cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs[:41] {
		q.Process(rec, time.Time{})
	}
	for _, rec := range recs[41:100] {
		if a, b := p.Process(rec, time.Time{}), q.Process(rec, time.Time{}); a.Outcome != b.Outcome || a.Credits != b.Credits {
			t.Fatalf("after the stop: %v %v, want %v %v", a.Outcome, a.Credits, b.Outcome, b.Credits)
		}
	}
}

// aheadLog records what ProcessBatch told it, by event id.
type aheadLog struct{ decoded, near map[string]int }

func (l *aheadLog) Decoded(ev *schemas.UsageEvent) { l.decoded[string(ev.ID)]++ }
func (l *aheadLog) Near(ev *schemas.UsageEvent)    { l.near[string(ev.ID)]++ }

// TestProcessBatchAhead: every record that decodes is announced to the
// Ahead hook before its result is handed over (Decoded, and Near for those
// at least windowAhead records into the batch); the results are those of a
// Processor without a hook.
func TestProcessBatchAhead(t *testing.T) {
	t.Parallel()
	cat, recs := batchMix(t, false)
	recs = recs[:5000]
	now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
	plain, err := New(Config{WatermarkClock: true}, cat)
	if err != nil {
		t.Fatal(err)
	}
	hooked, err := New(Config{WatermarkClock: true}, cat)
	if err != nil {
		t.Fatal(err)
	}
	log := &aheadLog{decoded: map[string]int{}, near: map[string]int{}}
	hooked.SetAhead(log)
	var want []Result
	if err := plain.ProcessBatch(recs, now, func(_ int, r Result) error {
		r.Event = nil
		want = append(want, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	announced := 0
	err = hooked.ProcessBatch(recs, now, func(i int, r Result) error {
		if r.Event != nil {
			id := string(r.Event.ID)
			if log.decoded[id] == 0 || (i >= windowAhead && log.near[id] == 0) {
				return fmt.Errorf("record %d (%s) handed over before it was announced: decoded %d, near %d", i, id, log.decoded[id], log.near[id])
			}
			announced++
			r.Event = nil
		}
		if diff := cmp.Diff(want[i], r); diff != "" {
			return fmt.Errorf("record %d with a hook (-without +with):\n%s", i, diff)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if announced < 4000 {
		t.Fatalf("only %d records announced", announced)
	}
}

// TestFloorMillis: floorMillis agrees with time.Time.UnixMilli, before 1970
// too, which is what dedup's CheckKey is given in its place.
func TestFloorMillis(t *testing.T) {
	for _, ns := range []int64{0, 1, 999_999, 1_000_000, -1, -999_999, -1_000_000, -1_000_001, 1767225600123456789, -62135596800_000_000_1} {
		if got, want := floorMillis(ns), time.Unix(0, ns).UnixMilli(); got != want {
			t.Errorf("floorMillis(%d) = %d, want %d", ns, got, want)
		}
	}
}

// TestAbsorbBytes: absorbBytes, which may read words in place, equals its
// definition absorb for every length from 0 to 80 at every alignment.
func TestAbsorbBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 96)
	for k := range buf {
		buf[k] = byte(rng.Uint32())
	}
	for n := 0; n <= 80; n++ {
		for off := range 8 {
			b := buf[off : off+n]
			h := rng.Uint64()
			if got, want := absorbBytes(h, b), absorb(h, b); got != want {
				t.Fatalf("absorbBytes(%#x, %q) = %#x, absorb %#x", h, b, got, want)
			}
		}
	}
}

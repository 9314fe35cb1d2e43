package dedup

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mapCold is the reference Cold: a map of every entry added.
type mapCold struct {
	m      map[Key][]Entry
	forget int64
}

func newMapCold() *mapCold { return &mapCold{m: map[Key][]Entry{}, forget: math.MinInt64} }

func (c *mapCold) Add(es []Entry) error {
	for _, e := range es {
		if e.Millis >= c.forget {
			e.Digest &= digestMask
			c.m[e.Key] = append(c.m[e.Key], e)
		}
	}
	return nil
}

func (c *mapCold) Lookup(k Key, from, to int64, d uint32) (Result, error) {
	res := NewEvent
	for _, e := range c.m[k] {
		if e.Millis < c.forget || e.Millis < from || e.Millis > to {
			continue
		}
		if e.Digest == d&digestMask {
			return Duplicate, nil
		}
		res = Conflict
	}
	return res, nil
}

func (c *mapCold) Forget(before int64) error {
	c.forget = max(c.forget, before)
	return nil
}

func (c *mapCold) Len() int {
	n := 0
	for _, es := range c.m {
		for _, e := range es {
			if e.Millis >= c.forget {
				n++
			}
		}
	}
	return n
}

// newDisk returns a DiskCold in a test directory, closed at cleanup, with
// blocks of every entries (0 keeps the default).
func newDisk(t testing.TB, cfg DiskConfig, every int) *DiskCold {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	c, err := NewDiskCold(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if every > 0 {
		c.every = every
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// coldImpls are the Cold implementations that the contract tests run
// against. The small DiskCold configurations force many runs, merges,
// multi-block key runs and (with 1 bloom bit) Bloom false positives.
var coldImpls = []struct {
	name string
	make func(t testing.TB) Cold
}{
	{"map", func(testing.TB) Cold { return newMapCold() }},
	{"disk/default", func(t testing.TB) Cold { return newDisk(t, DiskConfig{}, 0) }},
	{"disk/tiny", func(t testing.TB) Cold { return newDisk(t, DiskConfig{MemEntries: 32, RunsPerLevel: 2}, 4) }},
	{"disk/small-bloom", func(t testing.TB) Cold {
		return newDisk(t, DiskConfig{MemEntries: 100, RunsPerLevel: 3, BloomBits: 1}, 8)
	}},
}

// TestColdContract drives each Cold with random batches, single adds,
// forgets and lookups over keys that share hi values (so a key's entries
// straddle blocks and runs), comparing every answer with a plain model.
func TestColdContract(t *testing.T) {
	t.Parallel()
	for _, impl := range coldImpls {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/seed%d", impl.name, seed), func(t *testing.T) {
				t.Parallel()
				rng := rand.New(rand.NewPCG(seed, 7))
				c := impl.make(t)
				model := newMapCold()
				his := make([]uint64, 30)
				for i := range his {
					his[i] = rng.Uint64()
					if i%3 == 0 {
						his[i] = uint64(i) // small hi: first blocks
					}
				}
				key := func() Key { return Key{his[rng.IntN(len(his))], uint64(rng.IntN(4))} }
				clock := int64(1_000_000)
				batch := make([]Entry, 0, 300)
				for op := range 20_000 {
					switch x := rng.IntN(100); {
					case x < 10:
						batch = batch[:0]
						for range rng.IntN(60) {
							batch = append(batch, Entry{key(), clock - rng.Int64N(5000), rng.Uint32()})
						}
						if err := c.Add(batch); err != nil {
							t.Fatal(err)
						}
						model.Add(batch)
					case x < 40:
						e := []Entry{{key(), clock - rng.Int64N(5000), rng.Uint32N(3)}}
						if err := c.Add(e); err != nil {
							t.Fatal(err)
						}
						model.Add(e)
					case x < 42:
						clock += rng.Int64N(2000)
						f := clock - 4000 - rng.Int64N(500)
						if err := c.Forget(f); err != nil {
							t.Fatal(err)
						}
						model.Forget(f)
					default:
						k := key()
						from := clock - rng.Int64N(6000)
						to := from + rng.Int64N(3000)
						d := rng.Uint32N(3)
						got, err := c.Lookup(k, from, to, d)
						if err != nil {
							t.Fatal(err)
						}
						want, _ := model.Lookup(k, from, to, d)
						if got != want {
							t.Fatalf("op %d: Lookup(%x, %d..%d, %d) = %v, want %v", op, k, from, to, d, got, want)
						}
					}
				}
				if dc, ok := c.(*DiskCold); ok {
					st := dc.Stats()
					t.Logf("%+v", st)
					if dc.perLevel == 2 && st.Merges == 0 {
						t.Error("no merges happened")
					}
				}
			})
		}
	}
}

// TestDiskColdBloomFalsePositives: with one bit per key almost every probe
// of an absent key passes the filter, and the answers are still right; with
// the default ten bits about 1% do.
func TestDiskColdBloomFalsePositives(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		bits    int
		minRate float64
		maxRate float64
	}{{1, 0.3, 1}, {10, 0.003, 0.02}} {
		t.Run(strconv.Itoa(tc.bits), func(t *testing.T) {
			t.Parallel()
			c := newDisk(t, DiskConfig{MemEntries: 20_000, BloomBits: tc.bits, RunsPerLevel: 64}, 0)
			rng := rand.New(rand.NewPCG(1, 2))
			present := make([]Key, 100_000)
			es := make([]Entry, len(present))
			for i := range present {
				// Absent keys below share hi with present ones half the
				// time, so a false positive reads the very block that
				// holds a near miss.
				present[i] = Key{rng.Uint64(), rng.Uint64()}
				es[i] = Entry{present[i], 5000 + int64(i%1000), uint32(i)}
			}
			if err := c.Add(es); err != nil {
				t.Fatal(err)
			}
			const probes = 20_000
			for i := range probes {
				k := Key{rng.Uint64(), rng.Uint64()}
				if i%2 == 0 {
					k.Hi = present[i].Hi
				}
				if got, err := c.Lookup(k, 0, math.MaxInt32, 0); err != nil || got != NewEvent {
					t.Fatalf("absent key %x: %v, %v", k, got, err)
				}
			}
			st := c.Stats()
			runs := st.Runs
			rate := float64(st.BloomPasses) / float64(probes*runs)
			t.Logf("%d bits/key: %d runs, false-positive rate %.4f, %d block reads", tc.bits, runs, rate, st.BlockReads)
			if rate < tc.minRate || rate > tc.maxRate {
				t.Errorf("false-positive rate %.4f, want in [%v, %v]", rate, tc.minRate, tc.maxRate)
			}
			for i, k := range present[:1000] {
				if got, err := c.Lookup(k, 0, math.MaxInt32, uint32(i)); err != nil || got != Duplicate {
					t.Fatalf("present key %d: %v, %v", i, got, err)
				}
				if got, _ := c.Lookup(k, 0, math.MaxInt32, uint32(i)+1); got != Conflict {
					t.Fatalf("present key %d, other digest: %v", i, got)
				}
			}
		})
	}
}

// TestDiskColdFiles: run files live in a private directory that Close
// removes; forgotten runs are deleted; a closed DiskCold refuses work.
func TestDiskColdFiles(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	c, err := NewDiskCold(DiskConfig{Dir: parent, MemEntries: 1000, RunsPerLevel: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Dir(), parent) {
		t.Fatalf("Dir %q not under %q", c.Dir(), parent)
	}
	es := make([]Entry, 0, 1000)
	for batch := range 20 {
		es = es[:0]
		for i := range 1000 {
			es = append(es, Entry{Key{uint64(i) * 7919, uint64(batch)}, int64(batch*1000 + i), 1})
		}
		if err := c.Add(es); err != nil {
			t.Fatal(err)
		}
	}
	files := func() int {
		des, err := os.ReadDir(c.Dir())
		if err != nil {
			t.Fatal(err)
		}
		return len(des)
	}
	st := c.Stats()
	if st.Runs != files() || st.Runs == 0 || st.Runs > 3*3 || st.Entries != 20_000 || st.DiskBytes != 24*20_000 {
		t.Fatalf("after 20 flushes: %+v, %d files", st, files())
	}
	// Forget everything but the last flush: the runs holding only older
	// entries go at once.
	if err := c.Forget(19_000); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Lookup(Key{0, 3}, 0, 1<<40, 1); got != NewEvent {
		t.Errorf("forgotten entry found: %v", got)
	}
	if got, _ := c.Lookup(Key{0, 19}, 0, 1<<40, 1); got != Duplicate {
		t.Errorf("kept entry: %v", got)
	}
	if st2 := c.Stats(); st2.DiskBytes >= st.DiskBytes || st2.Runs != files() {
		t.Errorf("after Forget: %+v (before %+v), %d files", st2, st, files())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, %s: %v", c.Dir(), err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Add(es); err == nil {
		t.Error("Add after Close succeeded")
	}
	if _, err := c.Lookup(Key{}, 0, 1, 0); err == nil {
		t.Error("Lookup after Close succeeded")
	}
}

func TestDiskConfig(t *testing.T) {
	t.Parallel()
	_, err := NewDiskCold(DiskConfig{MemEntries: -1, RunsPerLevel: 1, BloomBits: 65})
	for _, want := range []string{"mem entries -1", "runs per level 1", "bloom bits 65"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if _, err := NewDiskCold(DiskConfig{Dir: "/nonexistent/creditflow"}); err == nil {
		t.Error("NewDiskCold in a missing directory succeeded")
	}
}

func TestMaxAgeConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg     Config
		want    time.Duration
		wantErr string
	}{
		{Config{}, DefaultMaxAge, ""},
		{Config{Retention: 40 * 24 * time.Hour}, 40 * 24 * time.Hour, ""},
		{Config{MaxAge: 48 * time.Hour}, 48 * time.Hour, ""},
		{Config{Retention: 48 * time.Hour, MaxAge: 47 * time.Hour}, 48 * time.Hour, ""},
		{Config{MaxAge: -time.Hour}, 0, "max age -1h0m0s: must not be negative"},
	} {
		s, err := New(tc.cfg)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New(%+v) error %v, want %q", tc.cfg, err, tc.wantErr)
			}
			continue
		}
		if err != nil || s.MaxAge() != tc.want {
			t.Errorf("New(%+v): MaxAge %v, error %v; want %v", tc.cfg, s.MaxAge(), err, tc.want)
		}
	}
}

// TestColdModel drives a Set with a Cold tier through random events,
// many of them older than the floor, and random expiry, and compares every
// verdict with a plain model: with Cold, an event matches any recorded
// event within Horizon that is not older than watermark − MaxAge − Horizon,
// and is recorded when new unless it is that old itself.
func TestColdModel(t *testing.T) {
	t.Parallel()
	for _, impl := range coldImpls {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/seed%d", impl.name, seed), func(t *testing.T) {
				t.Parallel()
				rng := rand.New(rand.NewPCG(seed, 43))
				const hms, rms, ams = 1000, 2000, 8000
				cold := impl.make(t)
				s := mustNew(t, Config{Horizon: hms * time.Millisecond, Retention: rms * time.Millisecond, MaxAge: ams * time.Millisecond, Cold: cold})
				his := make([]uint64, 40)
				for i := range his {
					switch i % 4 {
					case 0:
						his[i] = math.MaxUint64 - rng.Uint64N(4)
					case 1:
						his[i] = rng.Uint64N(8)
					default:
						his[i] = rng.Uint64()
					}
				}
				type rec struct {
					ms int64
					d  uint64
				}
				model := map[[2]uint64][]rec{}
				forget := int64(math.MinInt64)
				clock := int64(1_000_000)
				below := 0
				for op := range 60_000 {
					if rng.IntN(300) == 0 {
						clock += rng.Int64N(2 * hms)
						s.Expire(time.UnixMilli(clock))
						forget = max(forget, clock-ams-hms)
						continue
					}
					hi, lo := his[rng.IntN(len(his))], uint64(rng.IntN(5))
					ms := clock - rng.Int64N(ams+hms) + rng.Int64N(hms)
					if ms < s.coldBelow {
						below++
					}
					d := uint64(rng.IntN(3))
					want := NewEvent
					for _, r := range model[[2]uint64{hi, lo}] {
						if r.ms < forget || r.ms-ms > hms || ms-r.ms > hms {
							continue
						}
						if r.d == d {
							want = Duplicate
							break
						}
						want = Conflict
					}
					if want == NewEvent && ms >= forget {
						model[[2]uint64{hi, lo}] = append(model[[2]uint64{hi, lo}], rec{ms, d})
					}
					if got := s.check(hi, lo, ms, d); got != want {
						t.Fatalf("op %d: check(%x, %d, %d, %d) = %v, want %v (floor %d, forget %d)", op, hi, lo, ms, d, got, want, s.coldBelow, forget)
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if below < 10_000 {
					t.Errorf("only %d events below the floor", below)
				}
				checkInvariants(t, s)
			})
		}
	}
}

// TestColdStream60Days: 60 days of events at one per 30s of event time,
// every fifth re-sent 3, 10 and 34 days later with its original event time
// (or an hour later, or other content). With a DiskCold every copy is a
// duplicate or conflict, every original is new, and memory stays bounded;
// without Cold the copies are counted again.
func TestColdStream60Days(t *testing.T) {
	t.Parallel()
	const (
		step = 30 * time.Second
		days = 60
		day  = 24 * time.Hour
	)
	type arrival struct {
		at, t time.Time
		i     int
		copy  int // 0 for the original
		d     uint64
	}
	var stream []arrival
	n := int(days * day / step)
	for i := range n {
		at := t0.Add(time.Duration(i) * step)
		stream = append(stream, arrival{at: at, t: at, i: i, d: uint64(i)})
		if i%5 != 0 {
			continue
		}
		for k, delay := range []time.Duration{3 * day, 10 * day, 34 * day} {
			c := arrival{at: at.Add(delay + time.Duration(i%7)*time.Second), t: at, i: i, copy: k + 1, d: uint64(i)}
			switch i % 25 {
			case 5:
				c.t = at.Add(time.Hour) // within the horizon
			case 10:
				c.d = uint64(i) + 1 // other content
			}
			if c.at.Before(t0.Add(days * day)) {
				stream = append(stream, c)
			}
		}
	}
	slices.SortStableFunc(stream, func(a, b arrival) int { return a.at.Compare(b.at) })

	run := func(t *testing.T, cold Cold, sample func()) (copiesCaught, copies, maxLen int) {
		s := mustNew(t, Config{Cold: cold})
		var maxT time.Time
		id := make([]byte, 0, 32)
		for k, a := range stream {
			id = strconv.AppendInt(append(id[:0], "evt-"...), int64(a.i), 10)
			got := s.Check("tenant-"+strconv.Itoa(a.i%3), id, a.t, a.d)
			if a.copy == 0 {
				if got != NewEvent {
					t.Fatalf("original %d: %v", a.i, got)
				}
				maxT = a.t
			} else {
				copies++
				want := Duplicate
				if a.d != uint64(a.i) {
					want = Conflict
				}
				if got == want {
					copiesCaught++
				} else if cold != nil {
					t.Fatalf("copy %d of %d (arrives %v after, event time %v below the floor): %v, want %v",
						a.copy, a.i, a.at.Sub(a.t), s.Floor().Sub(a.t), got, want)
				}
			}
			if k%100 == 0 {
				s.Expire(maxT.Add(-10 * time.Second))
				if sample != nil {
					sample()
				}
			}
			maxLen = max(maxLen, s.Len())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		return copiesCaught, copies, maxLen
	}
	rate := float64(time.Hour / step) // events per hour
	bound := int(48 * rate * 1.3)     // (Horizon+Retention) × rate, plus a quarter not yet swept

	t.Run("disk", func(t *testing.T) {
		c := newDisk(t, DiskConfig{MemEntries: 4096, RunsPerLevel: 4}, 0)
		var peak DiskStats
		caught, copies, maxLen := run(t, c, func() {
			st := c.Stats()
			peak.Entries = max(peak.Entries, st.Entries)
			peak.DiskBytes = max(peak.DiskBytes, st.DiskBytes)
			peak.IndexBytes = max(peak.IndexBytes, st.IndexBytes)
			peak.Runs = max(peak.Runs, st.Runs)
		})
		st := c.Stats()
		t.Logf("%d of %d copies caught; hot Len max %d (bound %d); cold at the end %+v; peaks: %d entries, %d runs, %d B on disk, %d B of Bloom and index",
			caught, copies, maxLen, bound, st, peak.Entries, peak.Runs, peak.DiskBytes, peak.IndexBytes)
		if maxLen > bound {
			t.Errorf("hot set held up to %d entries, want ≤ %d", maxLen, bound)
		}
		// Cold holds about MaxAge of events, plus what merges have not
		// dropped yet.
		if live := int64(35 * 24 * rate); peak.Entries > 2*live {
			t.Errorf("cold held up to %d entries, want ≤ 2 × %d", peak.Entries, live)
		}
	})
	t.Run("none", func(t *testing.T) {
		caught, copies, _ := run(t, nil, nil)
		if caught != 0 {
			t.Errorf("without Cold, %d of %d copies older than the floor were caught, want 0", caught, copies)
		}
	})
}

// failCold fails every call after the first ok calls.
type failCold struct {
	mapCold
	ok int
}

func (c *failCold) Add(es []Entry) error {
	if c.ok--; c.ok < 0 {
		return errors.New("disk full")
	}
	return c.mapCold.Add(es)
}

func (c *failCold) Lookup(k Key, from, to int64, d uint32) (Result, error) {
	if c.ok--; c.ok < 0 {
		return 0, errors.New("disk gone")
	}
	return c.mapCold.Lookup(k, from, to, d)
}

func TestColdErr(t *testing.T) {
	t.Parallel()
	fc := &failCold{mapCold: *newMapCold(), ok: 2} // a lookup and an add
	s := mustNew(t, Config{Horizon: time.Hour, Cold: fc})
	s.Expire(t0)
	old := t0.Add(-5 * time.Hour)
	if got := s.Check("a", []byte("x"), old, 1); got != NewEvent || s.Err() != nil {
		t.Fatalf("first old event: %v, %v", got, s.Err())
	}
	if got := s.Check("a", []byte("x"), old, 1); got != NewEvent {
		t.Fatalf("old copy with a failing Cold: %v, want new (memory alone)", got)
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("Err = %v, want the lookup failure", err)
	}
	if got := s.Check("a", []byte("y"), t0, 1); got != NewEvent || s.Check("a", []byte("y"), t0, 1) != Duplicate {
		t.Error("in-window events are unaffected by a failing Cold")
	}
}

// TestDiskColdMemoryPerEntry measures the bytes per entry that doc.go
// quotes: on disk, and in memory (Bloom filters and indexes).
func TestDiskColdMemoryPerEntry(t *testing.T) {
	t.Parallel()
	c := newDisk(t, DiskConfig{}, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 2_000_000
	es := make([]Entry, 0, spillBatch)
	for i := range n {
		es = append(es, Entry{Key{rng.Uint64(), rng.Uint64()}, int64(i), uint32(i)})
		if len(es) == cap(es) {
			if err := c.Add(es); err != nil {
				t.Fatal(err)
			}
			es = es[:0]
		}
	}
	st := c.Stats()
	inRuns := st.Entries - int64(len(c.sorted)+len(c.tail))
	mem := float64(st.IndexBytes) / float64(inRuns)
	t.Logf("%d entries, %d runs, %d merges: disk %.1f B/entry, Bloom+index %.2f B/entry, buffers %d B",
		st.Entries, st.Runs, st.Merges, float64(st.DiskBytes)/float64(inRuns), mem, st.BufferBytes)
	if st.DiskBytes != inRuns*entrySize || mem > 1.4 || st.BufferBytes > 3<<20 {
		t.Errorf("stats %+v: want 24 B/entry on disk, ≤ 1.4 B/entry in memory, ≤ 3 MiB of buffers", st)
	}
}

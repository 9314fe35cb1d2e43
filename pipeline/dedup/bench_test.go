package dedup

import (
	"encoding/binary"
	"strconv"
	"testing"
	"time"
)

// eventID writes a 26-byte, ULID-sized id for event number i into buf.
func eventID(buf []byte, i uint64) []byte {
	buf = append(buf[:0], "01JQ8Z3K7M000000000000000000"[:26]...)
	binary.BigEndian.PutUint64(buf[18:], i)
	return buf
}

// benchSteady runs Check over a stream of distinct events whose event
// times advance so that, with the default 24h horizon and retention, live
// entries are needed at any time (the table holds up to a quarter more,
// expired ones not yet swept); Expire runs every 4096 events.
func benchSteady(b *testing.B, live int) {
	s := mustNew(b, Config{})
	tenants := make([]string, 1000)
	for i := range tenants {
		tenants[i] = "tenant-" + strconv.Itoa(i)
	}
	step := (s.Horizon() + s.Retention()) / time.Duration(live)
	buf := make([]byte, 0, 32)
	var i uint64
	at := t0
	run := func(n int) {
		for range n {
			i++
			at = at.Add(step)
			if s.Check(tenants[i%uint64(len(tenants))], eventID(buf, i), at, i) != NewEvent {
				b.Fatal("distinct event not new")
			}
			if i%4096 == 0 {
				s.Expire(at.Add(-10 * time.Second))
			}
		}
	}
	run(live * 3 / 2) // reach steady state: entries expire as fast as they arrive
	b.ReportAllocs()
	b.ResetTimer()
	run(b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(s.Bytes())/float64(s.Len()), "B/entry")
	b.ReportMetric(float64(s.Bytes())/float64(live), "B/needed")
	b.ReportMetric(float64(s.Len()), "entries")
}

func BenchmarkCheckNew(b *testing.B) {
	for _, live := range []int{10_000, 1_000_000} {
		b.Run("live="+strconv.Itoa(live), func(b *testing.B) { benchSteady(b, live) })
	}
}

func BenchmarkCheckDuplicate(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run("live="+strconv.Itoa(n), func(b *testing.B) { benchDuplicate(b, uint64(n)) })
	}
}

// benchDuplicate checks copies of n recorded events in a scattered order.
func benchDuplicate(b *testing.B, n uint64) {
	s := mustNew(b, Config{})
	tenants := make([]string, 1000)
	for i := range tenants {
		tenants[i] = "tenant-" + strconv.Itoa(i)
	}
	buf := make([]byte, 0, 32)
	for i := range n {
		s.Check(tenants[i%1000], eventID(buf, i), t0, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for k := range b.N {
		i := uint64(k) * 7919 % n
		if s.Check(tenants[i%1000], eventID(buf, i), t0, i) != Duplicate {
			b.Fatal("copy not a duplicate")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkKeyHash(b *testing.B) {
	id := eventID(nil, 12345)
	var sink uint64
	b.ReportAllocs()
	for range b.N {
		hi, lo := keyHash("tenant-0042", id)
		sink += hi ^ lo
	}
	_ = sink
}

func BenchmarkSnapshot(b *testing.B) {
	s := mustNew(b, Config{})
	buf := make([]byte, 0, 32)
	for i := range uint64(100_000) {
		s.Check("t", eventID(buf, i), t0, i)
	}
	b.ReportAllocs()
	b.SetBytes(int64(snapshotSize(s.Len())))
	for range b.N {
		if _, err := s.WriteTo(discard{}); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkColdLookup looks up keys in a DiskCold of 2M entries (default
// configuration, 48 MB of runs): keys it holds (old copies, Duplicate) and
// keys it does not (old events seen for the first time, NewEvent).
func BenchmarkColdLookup(b *testing.B) {
	const n = 2_000_000
	c := newDisk(b, DiskConfig{}, 0)
	keys := make([]Key, 0, 100_000)
	es := make([]Entry, 0, spillBatch)
	var x uint64 = 12345
	rnd := func() uint64 { x = x*6364136223846793005 + 1442695040888963407; return x ^ x>>29 }
	for i := range n {
		e := Entry{Key{rnd(), rnd()}, int64(i) * 1000, uint32(i)}
		if i%(n/cap(keys)) == 0 {
			keys = append(keys, e.Key)
		}
		if es = append(es, e); len(es) == cap(es) {
			if err := c.Add(es); err != nil {
				b.Fatal(err)
			}
			es = es[:0]
		}
	}
	if err := c.Add(es); err != nil {
		b.Fatal(err)
	}
	const h = 86_400_000
	for _, tc := range []struct {
		name string
		want Result
	}{{"present", Duplicate}, {"absent", NewEvent}} {
		b.Run(tc.name, func(b *testing.B) {
			before := c.Stats()
			b.ReportAllocs()
			for k := range b.N {
				key := keys[k%len(keys)]
				if tc.want == NewEvent {
					key.Lo++
				}
				i := int64(k%len(keys)) * (n / int64(len(keys)))
				if got, err := c.Lookup(key, i*1000-h, i*1000+h, uint32(i)); err != nil || got != tc.want {
					b.Fatalf("lookup %d: %v, %v; want %v", k, got, err, tc.want)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
			st := c.Stats()
			b.ReportMetric(float64(st.BlockReads-before.BlockReads)/float64(b.N), "reads/op")
			b.ReportMetric(float64(st.Runs), "runs")
		})
	}
}

// BenchmarkCheckOld checks, through a Set with a DiskCold, copies of events
// that left memory days ago: 1M events over 10 days, then copies of them
// below the floor.
func BenchmarkCheckOld(b *testing.B) {
	const n = 1_000_000
	c := newDisk(b, DiskConfig{}, 0)
	s := mustNew(b, Config{Cold: c})
	step := 10 * 24 * time.Hour / n
	buf := make([]byte, 0, 32)
	for i := range uint64(n) {
		s.Check("tenant", eventID(buf, i), t0.Add(time.Duration(i)*step), i)
		if i%4096 == 0 {
			s.Expire(t0.Add(time.Duration(i) * step))
		}
	}
	s.Expire(t0.Add(10 * 24 * time.Hour))
	old := uint64(n * 7 / 10) // older than the floor
	b.ReportAllocs()
	b.ResetTimer()
	for k := range b.N {
		i := uint64(k) * 7919 % old
		if got := s.Check("tenant", eventID(buf, i), t0.Add(time.Duration(i)*step), i); got != Duplicate {
			b.Fatalf("old copy %d: %v", i, got)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if err := s.Err(); err != nil {
		b.Fatal(err)
	}
}

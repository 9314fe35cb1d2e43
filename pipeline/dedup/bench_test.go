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

package partition

import (
	"bytes"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/loadgen"
	"github.com/creditflow/creditflow/schemas"
)

// coreMix is the realistic in-memory mix of the core benchmark: 10k tenants
// with Zipf sizes, 2 % duplicates, 5 % out of order, UUID ids and a
// properties object on every event, which makes records of about 200 bytes
// (205 on average).
func coreMix(tb testing.TB, n int) (*catalog.Catalog, [][]byte) {
	tb.Helper()
	cfg := loadgen.Config{
		Seed: 11, Events: int64(n), Tenants: 10000, Duplicates: 0.02, OutOfOrder: 0.05, Rate: 20000,
		UUIDs: true, Properties: 1,
	}
	cat, err := catalog.Parse("generated.yaml", loadgen.CatalogYAML(cfg))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := loadgen.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	// The records lie back to back in one buffer, as they do in a Kafka
	// fetch or replay's read buffer.
	var buf []byte
	var ends []int
	for {
		var ok bool
		if buf, ok = g.Next(buf); !ok {
			break
		}
		ends = append(ends, len(buf))
	}
	recs := make([][]byte, len(ends))
	for i, start := 0, 0; i < len(ends); i++ {
		recs[i] = buf[start:ends[i]:ends[i]]
		start = ends[i]
	}
	return cat, recs
}

// BenchmarkCore measures decode → validate → dedup → rate → window on one
// core, the way a long-running partition processor runs it (Advance
// whenever the watermark moves, checked every 1024 records), over coreMix:
// 10k tenants, 2 % duplicates, 5 % out of order, records of about 200
// bytes, lying back to back in memory as in a fetch.
//
// One Processor handles every record, as a partition's does for days, so
// its decoder, series cache, window registry and dedup table are warm and
// sized; recreating it per pass of the mix would make each pass pay a cold
// start (tables growing from empty, every series resolved in the catalog,
// the garbage collector reclaiming the last processor) that a running
// partition pays once. So that every pass is still fresh work, pass k
// rewrites the records in place (timer stopped, same lengths): its ids get
// the tag k (so they are new ids, and the mix's duplicates stay duplicates
// of their own pass) and its event times, and the wall clock, move on by
// k × passShift. passShift exceeds the dedup horizon, so the windows of a
// pass are all emitted early in the next one, while the dedup set keeps the
// entries of the last passes for their whole lifetime (Horizon + Retention,
// 48h, plus sweep hysteresis): every check probes a real set of 200k–400k
// entries (the metric dedup-entries reports its size at the end), larger
// than the one a fresh Processor builds. Every record is decoded,
// validated, dedup-checked, rated and windowed as before; only the cold
// start is gone.
//
// The cold start itself runs before the timer starts: warmPasses passes,
// after which the dedup table has met its first expiry and settled at the
// size it keeps (it grows by doubling until then, and each growth maps,
// zeroes and refills a new table). BenchmarkCoreCold measures what those
// first passes cost.
func BenchmarkCore(b *testing.B) {
	cat, recs := coreMix(b, 200_000)
	shifter := newPassShifter(b, recs)
	var size int
	for _, r := range recs {
		size += len(r)
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	p, err := New(Config{WatermarkClock: true}, cat)
	if err != nil {
		b.Fatal(err)
	}
	run := newCoreRun(b, p, recs, shifter)
	run.records(0, warmPasses*len(recs), false)
	warmCounted, warmRows := run.counted, run.rows
	// The setup above leaves garbage (the generator's buffers, the catalog's
	// parse) that would otherwise be collected on this benchmark's one P
	// while the timer runs; the testing package's own collection ran before
	// the setup.
	runtime.GC()
	b.ResetTimer()
	run.records(warmPasses*len(recs), b.N, true)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(p.seen.Len()), "dedup-entries")
	b.ReportMetric(float64(run.rows-warmRows)/float64(b.N), "rows/event")
	if run.counted == warmCounted {
		b.Fatal("nothing counted")
	}
	if st := p.Stats(); st.DeadLetters != 0 {
		b.Fatalf("%d records dead-lettered: %v", st.DeadLetters, st.ByReason)
	}
}

// warmPasses is how many passes of the mix BenchmarkCore runs before its
// timer starts: the dedup table meets its first expiry in the second pass
// and its size settles in the third.
const warmPasses = 3

// BenchmarkCoreCold is BenchmarkCore's cold start: a new Processor for
// every warmPasses passes of the mix, as a partition that has just been
// assigned (or a replay) starts, its tables growing from empty. The
// difference from BenchmarkCore is what a partition pays once.
func BenchmarkCoreCold(b *testing.B) {
	cat, recs := coreMix(b, 200_000)
	shifter := newPassShifter(b, recs)
	b.ReportAllocs()
	var runs []*coreRun
	for done := 0; done < b.N; done += warmPasses * len(recs) {
		p, err := New(Config{WatermarkClock: true}, cat)
		if err != nil {
			b.Fatal(err)
		}
		runs = append(runs, newCoreRun(b, p, recs, shifter))
	}
	runtime.GC()
	b.ResetTimer()
	for k, run := range runs {
		start := k * warmPasses * len(recs)
		run.records(0, min(warmPasses*len(recs), b.N-start), true)
		runs[k] = nil // let the collector have it, as a partition's old processor
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// coreRun feeds a Processor the passes of coreMix as BenchmarkCore does.
type coreRun struct {
	b       *testing.B
	p       *Processor
	recs    [][]byte
	shifter *passShifter
	out     []schemas.WindowTotal
	counted int64
	rows    int
	each    func(int, Result) error
}

func newCoreRun(b *testing.B, p *Processor, recs [][]byte, shifter *passShifter) *coreRun {
	r := &coreRun{b: b, p: p, recs: recs, shifter: shifter}
	r.each = func(_ int, res Result) error {
		if res.Outcome == Counted {
			r.counted++
		}
		return nil
	}
	return r
}

// records hands the Processor n records, the first being record `from` of
// the endless sequence of passes (pass k = record k·len(recs) on), in
// chunks of benchChunk, advancing the windows after each. At the start of
// every pass it rewrites the records for that pass, with the timer stopped
// when timed.
func (r *coreRun) records(from, n int, timed bool) {
	now0 := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC) // after the mix, so nothing is too_far_future
	recs := r.recs
	for i := from; i < from+n; {
		k := i % len(recs)
		pass := i / len(recs)
		if k == 0 {
			if timed {
				r.b.StopTimer()
			}
			r.shifter.shift(pass)
			if timed {
				r.b.StartTimer()
			}
		}
		now := now0.Add(time.Duration(pass) * passShift)
		chunk := recs[k : k+min(benchChunk, len(recs)-k, from+n-i)]
		if err := r.p.ProcessBatch(chunk, now, r.each); err != nil {
			r.b.Fatal(err)
		}
		r.out = r.p.Advance(r.out[:0])
		r.rows += len(r.out)
		i += len(chunk)
	}
}

// benchChunk is how many records BenchmarkCore hands ProcessBatch at once,
// as the streaming pipeline hands it a partition's share of a fetch, and
// how often it advances the windows.
const benchChunk = 1024

// passShift is how far BenchmarkCore moves event times on per pass: more
// than the dedup horizon (24h), so a pass's copies of an id are new events.
const passShift = 25 * time.Hour

// passShifter rewrites coreMix's records in place for pass k of
// BenchmarkCore: the first 4 bytes of every id become k in base 36 and
// every event time moves k × passShift, written back in the generator's
// format.
type passShifter struct {
	recs  [][]byte
	times []int // offset of each record's event time
	orig  []time.Time
}

const idTagOff = len(`{"id":"`)

func newPassShifter(tb testing.TB, recs [][]byte) *passShifter {
	tb.Helper()
	s := &passShifter{recs: recs, times: make([]int, len(recs)), orig: make([]time.Time, len(recs))}
	for i, r := range recs {
		if !bytes.HasPrefix(r, []byte(`{"id":"`)) || len(r) < idTagOff+5 || bytes.IndexByte(r[idTagOff:idTagOff+5], '"') >= 0 {
			tb.Fatalf("record %d: not of the form {\"id\":\"XXXXX…: %s", i, r)
		}
		k := bytes.Index(r, []byte(`,"time":"`))
		if k < 0 {
			tb.Fatalf("record %d: no time: %s", i, r)
		}
		k += len(`,"time":"`)
		e := bytes.IndexByte(r[k:], '"')
		t, err := time.Parse(time.RFC3339Nano, string(r[k:k+e]))
		if err != nil {
			tb.Fatalf("record %d: %v", i, err)
		}
		if got := t.AppendFormat(nil, shiftLayout); !bytes.Equal(got, r[k:k+e]) {
			tb.Fatalf("record %d: time %s rewrites as %s", i, r[k:k+e], got)
		}
		s.times[i], s.orig[i] = k, t
	}
	return s
}

const shiftLayout = "2006-01-02T15:04:05.000Z07:00"

func (s *passShifter) shift(pass int) {
	var tag [4]byte
	for j, n := 3, pass; j >= 0; j-- {
		tag[j] = "0123456789abcdefghijklmnopqrstuvwxyz"[n%36]
		n /= 36
	}
	d := time.Duration(pass) * passShift
	var buf [64]byte
	for i, r := range s.recs {
		copy(r[idTagOff:], tag[:])
		t := s.orig[i].Add(d).AppendFormat(buf[:0], shiftLayout)
		copy(r[s.times[i]:s.times[i]+len(t)], t)
	}
}

// BenchmarkCoreStdlibDecode decodes the same records with plain
// encoding/json into an equivalent struct, so the ratio to BenchmarkCore
// (which does far more than decode) is visible.
func BenchmarkCoreStdlibDecode(b *testing.B) {
	_, recs := coreMix(b, 200_000)
	type event struct {
		ID         string          `json:"id"`
		Tenant     string          `json:"tenant"`
		Meter      string          `json:"meter"`
		Model      string          `json:"model"`
		Quantity   json.Number     `json:"quantity"`
		Time       time.Time       `json:"time"`
		Properties json.RawMessage `json:"properties"`
	}
	b.ReportAllocs()
	var ev event
	runtime.GC() // as BenchmarkCore
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev = event{}
		_ = json.Unmarshal(recs[i%len(recs)], &ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

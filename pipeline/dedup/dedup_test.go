package dedup

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg Config) *Set {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkInvariants verifies the table layout that lookups rely on.
func checkInvariants(t *testing.T, s *Set) {
	t.Helper()
	last := len(s.tab) - 1
	if s.tab[last].meta != 0 {
		t.Fatalf("sentinel slot %d is occupied", last)
	}
	if len(s.tab) != s.cap+s.slack+1 {
		t.Fatalf("table has %d slots, want cap %d + slack %d + 1", len(s.tab), s.cap, s.slack)
	}
	n := 0
	var prev uint64
	for i := range s.tab {
		e := s.tab[i]
		if e.meta == 0 {
			continue
		}
		n++
		if e.hi < prev {
			t.Fatalf("slot %d: hi %x after %x: not sorted", i, e.hi, prev)
		}
		prev = e.hi
		h := s.home(e.hi)
		if h > i {
			t.Fatalf("slot %d: entry before its home %d", i, h)
		}
		for j := h; j < i; j++ {
			if s.tab[j].meta == 0 {
				t.Fatalf("slot %d: empty slot %d between home %d and entry", i, j, h)
			}
		}
		if e.millis() < s.minT {
			t.Fatalf("slot %d: time %d below minT %d", i, e.millis(), s.minT)
		}
	}
	if n != s.n {
		t.Fatalf("table holds %d entries, n = %d", n, s.n)
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		cfg           Config
		wantH, wantR  time.Duration
		wantErrSubstr []string
	}{
		{name: "defaults", wantH: 24 * time.Hour, wantR: 24 * time.Hour},
		{name: "retention defaults to horizon", cfg: Config{Horizon: time.Hour}, wantH: time.Hour, wantR: time.Hour},
		{name: "both set", cfg: Config{Horizon: time.Hour, Retention: 35 * 24 * time.Hour}, wantH: time.Hour, wantR: 35 * 24 * time.Hour},
		{name: "negative", cfg: Config{Horizon: -1, Retention: -time.Hour}, wantErrSubstr: []string{"horizon -1ns: must not be negative", "retention -1h0m0s: must not be negative"}},
		{name: "sub-millisecond", cfg: Config{Horizon: time.Hour + time.Microsecond}, wantErrSubstr: []string{"whole number of milliseconds"}},
		{name: "too long", cfg: Config{Retention: MaxDuration + time.Millisecond}, wantErrSubstr: []string{"must be at most"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg)
			if len(tc.wantErrSubstr) > 0 {
				if err == nil {
					t.Fatal("New succeeded, want an error")
				}
				for _, sub := range tc.wantErrSubstr {
					if !strings.Contains(err.Error(), sub) {
						t.Errorf("error %q lacks %q", err, sub)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Horizon() != tc.wantH || s.Retention() != tc.wantR {
				t.Errorf("horizon, retention = %v, %v; want %v, %v", s.Horizon(), s.Retention(), tc.wantH, tc.wantR)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{})
	steps := []struct {
		tenant, id string
		at         time.Time
		digest     uint64
		want       Result
	}{
		{"acme", "e1", t0, 1, NewEvent},
		{"acme", "e1", t0, 1, Duplicate},
		{"acme", "e1", t0.Add(time.Hour), 1, Duplicate},
		{"acme", "e1", t0, 2, Conflict},
		{"acme", "e2", t0, 1, NewEvent},
		{"globex", "e1", t0, 1, NewEvent},
		{"acm", "ee1", t0, 1, NewEvent}, // the field boundary is part of the key
		{"acme", "", t0, 1, NewEvent},
		{"", "acme", t0, 1, NewEvent},
		{"acme", "", t0, 1, Duplicate},
	}
	for i, st := range steps {
		if got := s.Check(st.tenant, []byte(st.id), st.at, st.digest); got != st.want {
			t.Errorf("step %d Check(%q, %q, %v, %d) = %v, want %v", i, st.tenant, st.id, st.at, st.digest, got, st.want)
		}
	}
	if s.Len() != 6 {
		t.Errorf("Len = %d, want 6", s.Len())
	}
	checkInvariants(t, s)
}

// TestCheckKeyMatchesCheck runs the same random stream through Check and
// through KeyOf, Prefetch and CheckKey on two Sets, and expects the same
// verdicts.
func TestCheckKeyMatchesCheck(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(31, 32))
	a, b := mustNew(t, Config{Horizon: time.Hour}), mustNew(t, Config{Horizon: time.Hour})
	for i := range 50000 {
		tenant := "tenant-" + strconv.Itoa(rng.IntN(50))
		id := []byte("id-" + strconv.Itoa(rng.IntN(5000)))
		at := t0.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
		d := uint64(rng.IntN(3))
		want := a.Check(tenant, id, at, d)
		k := KeyOf(tenant, id)
		if hi, lo := keyHash(tenant, id); k != (Key{hi, lo}) {
			t.Fatalf("KeyOf(%q, %q) = %v, want {%x %x}", tenant, id, k, hi, lo)
		}
		b.Prefetch(k)
		if got := b.CheckKey(k, at.UnixMilli(), d); got != want {
			t.Fatalf("event %d: CheckKey = %v, Check = %v", i, got, want)
		}
	}
	checkInvariants(t, b)
}

func TestHorizonBoundary(t *testing.T) {
	t.Parallel()
	const h = 24 * time.Hour
	tests := []struct {
		name   string
		first  time.Time
		second time.Time
		want   Result
	}{
		{"same time", t0, t0, Duplicate},
		{"exactly horizon later", t0, t0.Add(h), Duplicate},
		{"exactly horizon earlier", t0, t0.Add(-h), Duplicate},
		{"1ms past horizon later", t0, t0.Add(h + time.Millisecond), NewEvent},
		{"1ms past horizon earlier", t0, t0.Add(-h - time.Millisecond), NewEvent},
		// Times are truncated to the millisecond before comparing: 0.1ms and
		// h+0.9ms are h+0.8ms apart, but h apart once truncated.
		{"truncated to the millisecond", t0.Add(100 * time.Microsecond), t0.Add(h + 900*time.Microsecond), Duplicate},
		{"truncation is a floor", t0.Add(999 * time.Microsecond), t0.Add(h + time.Millisecond), NewEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustNew(t, Config{Horizon: h})
			if got := s.Check("acme", []byte("e"), tc.first, 7); got != NewEvent {
				t.Fatalf("first copy: %v, want new", got)
			}
			if got := s.Check("acme", []byte("e"), tc.second, 7); got != tc.want {
				t.Errorf("second copy: %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSeveralEntriesPerKey(t *testing.T) {
	t.Parallel()
	const h = time.Hour
	s := mustNew(t, Config{Horizon: h})
	id := []byte("reused")
	a, b := t0, t0.Add(2*h) // more than h apart: two events
	if s.Check("acme", id, a, 1) != NewEvent || s.Check("acme", id, b, 2) != NewEvent {
		t.Fatal("copies more than the horizon apart must both be new")
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
	// Within h of both a and b: a duplicate of whichever has its digest.
	mid := t0.Add(h)
	for _, tc := range []struct {
		at     time.Time
		digest uint64
		want   Result
	}{
		{mid, 1, Duplicate}, {mid, 2, Duplicate}, {mid, 3, Conflict},
		{a.Add(-h), 1, Duplicate}, {a.Add(-h), 2, Conflict},
		{b.Add(h), 2, Duplicate}, {b.Add(h), 1, Conflict},
	} {
		if got := s.Check("acme", id, tc.at, tc.digest); got != tc.want {
			t.Errorf("Check(at %v, digest %d) = %v, want %v", tc.at.Sub(t0), tc.digest, got, tc.want)
		}
	}
	if s.Len() != 2 {
		t.Errorf("duplicates were recorded: Len = %d, want 2", s.Len())
	}
	checkInvariants(t, s)
}

func TestFirstCopyWins(t *testing.T) {
	t.Parallel()
	const h = time.Hour
	s := mustNew(t, Config{Horizon: h})
	id := []byte("e")
	if got := s.Check("acme", id, t0, 1); got != NewEvent {
		t.Fatalf("first: %v", got)
	}
	// A later copy with other content is a conflict and is not recorded ...
	if got := s.Check("acme", id, t0.Add(h/2), 2); got != Conflict {
		t.Fatalf("second: %v, want conflict", got)
	}
	// ... so a third copy within h of the second but not of the first is new:
	// copies are compared with counted events only.
	if got := s.Check("acme", id, t0.Add(h+h/4), 2); got != NewEvent {
		t.Fatalf("third: %v, want new", got)
	}
}

func TestExpire(t *testing.T) {
	t.Parallel()
	const h, r = time.Hour, 2 * time.Hour
	s := mustNew(t, Config{Horizon: h, Retention: r})
	id := []byte("e")
	if s.Check("acme", id, t0, 1) != NewEvent {
		t.Fatal("first copy not new")
	}
	// Kept while t0 + h ≥ watermark − r, i.e. watermark ≤ t0 + h + r.
	w := t0.Add(h + r)
	if n := s.Expire(w); n != 0 {
		t.Fatalf("Expire(t0+h+r) dropped %d, want 0", n)
	}
	if got, want := s.Floor(), w.Add(-r); !got.Equal(want) {
		t.Errorf("Floor = %v, want %v", got, want)
	}
	if got := s.Check("acme", id, t0.Add(h), 1); got != Duplicate {
		t.Fatalf("copy at the floor: %v, want duplicate", got)
	}
	// One millisecond later the entry can no longer match any copy at or
	// after the floor: Check ignores it at once.
	s.Expire(w.Add(time.Millisecond))
	if got := s.Check("acme", id, t0.Add(h), 1); got != NewEvent {
		t.Fatalf("copy below the floor after expiry: %v, want new (entry forgotten)", got)
	}
	// That copy (t0+h ≥ Floor − Horizon) was recorded; an event older than
	// Floor − Horizon is not.
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (one expired, one recorded)", s.Len())
	}
	before := s.Len()
	if got := s.Check("acme", []byte("old"), t0.Add(-time.Hour), 1); got != NewEvent || s.Len() != before {
		t.Fatalf("event below the cutoff: %v, Len %d; want new and not recorded", got, s.Len())
	}
	// The expired entry leaves memory once the cutoff passed it by a step,
	// (h+r)/sweepPieces.
	if n := s.Expire(w.Add(s.Retention() / 100)); n != 0 {
		t.Fatalf("sweep ran before a step: dropped %d", n)
	}
	if n := s.Expire(w.Add((h + r) / sweepPieces)); n != 1 {
		t.Fatalf("Expire after a step dropped %d, want 1", n)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
	// A watermark going backwards changes nothing.
	if n := s.Expire(t0); n != 0 || !s.Floor().Equal(w.Add((h+r)/sweepPieces).Add(-r)) {
		t.Fatalf("backward watermark: dropped %d, floor %v", n, s.Floor())
	}
	checkInvariants(t, s)
}

func TestExpireShrinks(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Horizon: time.Minute})
	for i := range 100_000 {
		s.Check("acme", []byte(strconv.Itoa(i)), t0.Add(time.Duration(i)*time.Millisecond), 0)
	}
	checkInvariants(t, s)
	big := s.Bytes()
	if n := s.Expire(t0.Add(time.Hour)); n != 100_000 {
		t.Fatalf("Expire dropped %d, want all 100000", n)
	}
	if s.Len() != 0 || s.Bytes() >= big/100 {
		t.Fatalf("after expiring everything: Len %d, Bytes %d (was %d)", s.Len(), s.Bytes(), big)
	}
	checkInvariants(t, s)
	if got := s.Check("acme", []byte("1"), t0.Add(time.Hour), 0); got != NewEvent {
		t.Fatalf("after expiry: %v", got)
	}
}

// TestModel drives the table with colliding keys (equal hi, equal home,
// long runs that spill into the slack) and random expiry, and compares every
// verdict with a plain model of the rules.
func TestModel(t *testing.T) {
	t.Parallel()
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 42))
			const hms = 1000
			s := mustNew(t, Config{Horizon: hms * time.Millisecond, Retention: 3 * hms * time.Millisecond})
			// Few distinct hi values, several near the top of the range so
			// their run hits the end of the table, and several lo per hi.
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
			cut := int64(math.MinInt64)
			clock := int64(1_000_000)
			for op := range 60_000 {
				if rng.IntN(500) == 0 {
					clock += rng.Int64N(3 * hms)
					wm := time.UnixMilli(clock)
					s.Expire(wm)
					if c := clock - 3*hms - hms; c > cut {
						cut = c
					}
					checkInvariants(t, s)
					continue
				}
				hi, lo := his[rng.IntN(len(his))], uint64(rng.IntN(5))
				ms := clock - rng.Int64N(5*hms) + rng.Int64N(hms)
				d := uint64(rng.IntN(3))
				want := NewEvent
				for _, r := range model[[2]uint64{hi, lo}] {
					if r.ms < cut || r.ms-ms > hms || ms-r.ms > hms {
						continue
					}
					if r.d == d {
						want = Duplicate
						break
					}
					want = Conflict
				}
				if want == NewEvent && ms >= cut {
					model[[2]uint64{hi, lo}] = append(model[[2]uint64{hi, lo}], rec{ms, d})
				}
				if got := s.check(hi, lo, ms, d); got != want {
					t.Fatalf("op %d: check(%x, %d, %d, %d) = %v, want %v", op, hi, lo, ms, d, got, want)
				}
			}
			checkInvariants(t, s)
		})
	}
}

// TestLongRunAtEnd fills the last home slot with a run far longer than the
// slack, which must widen rather than lose entries.
func TestLongRunAtEnd(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{})
	const n = 1000
	for i := range n {
		hi := uint64(math.MaxUint64) - uint64(i%10)
		if got := s.check(hi, uint64(i), 5, 0); got != NewEvent {
			t.Fatalf("insert %d: %v", i, got)
		}
	}
	if s.slack <= initSlack {
		t.Errorf("slack %d did not grow", s.slack)
	}
	checkInvariants(t, s)
	for i := range n {
		if got := s.check(uint64(math.MaxUint64)-uint64(i%10), uint64(i), 5, 0); got != Duplicate {
			t.Fatalf("lookup %d: %v", i, got)
		}
	}
}

func TestHashSpread(t *testing.T) {
	t.Parallel()
	// 1M sequential ids: no two share hi or lo (for a random 64-bit
	// function the chance of any repeat is 1M²/2^65 ≈ 3e-8), and the home
	// slots of a 2^16-slot table are evenly used.
	const n = 1 << 20
	his := make(map[uint64]struct{}, n)
	los := make(map[uint64]struct{}, n)
	var counts [1 << 16]int
	id := make([]byte, 0, 32)
	for i := range n {
		id = append(strconv.AppendInt(append(id[:0], "evt-"...), int64(i), 10), "-x"...)
		hi, lo := keyHash("tenant-"+strconv.Itoa(i%7), id)
		his[hi] = struct{}{}
		los[lo] = struct{}{}
		counts[hi>>48]++
	}
	if len(his) != n || len(los) != n {
		t.Fatalf("distinct hi %d, lo %d of %d keys", len(his), len(los), n)
	}
	// Each bucket expects 16 ± 4; a chi-square over 65536 buckets has mean
	// 65535 and standard deviation 362.
	chi := 0.0
	for _, c := range counts {
		d := float64(c) - n/float64(len(counts))
		chi += d * d / (n / float64(len(counts)))
	}
	if chi > 65535+6*362 {
		t.Errorf("chi-square of home slots %.0f, want about 65535", chi)
	}
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Horizon: time.Hour})
	for i := range 20_000 {
		s.Check("t"+strconv.Itoa(i%13), []byte(strconv.Itoa(i)), t0.Add(time.Duration(i)*time.Second), uint64(i))
	}
	s.Expire(t0.Add(3 * time.Hour))
	var buf bytes.Buffer
	n, err := s.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || buf.Len() != snapshotSize(s.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d, want %d", n, buf.Len(), snapshotSize(s.Len()))
	}
	image := bytes.Clone(buf.Bytes())

	r := mustNew(t, Config{Horizon: time.Hour})
	m, err := r.ReadFrom(bytes.NewReader(append(bytes.Clone(image), "trailing"...)))
	if err != nil {
		t.Fatal(err)
	}
	if m != n || r.Len() != s.Len() || !r.Floor().Equal(s.Floor()) {
		t.Fatalf("ReadFrom read %d of %d bytes, Len %d of %d, Floor %v of %v", m, n, r.Len(), s.Len(), r.Floor(), s.Floor())
	}
	checkInvariants(t, r)
	for i := range 20_000 {
		at := t0.Add(time.Duration(i) * time.Second)
		tenant, id := "t"+strconv.Itoa(i%13), []byte(strconv.Itoa(i))
		if a, b := s.Check(tenant, id, at, uint64(i)), r.Check(tenant, id, at, uint64(i)); a != b {
			t.Fatalf("event %d: original %v, restored %v", i, a, b)
		}
	}
	// A second snapshot of the restored set is byte-identical.
	var again bytes.Buffer
	r2 := mustNew(t, Config{Horizon: time.Hour})
	if _, err := r2.ReadFrom(bytes.NewReader(image)); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.WriteTo(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), image) {
		t.Error("snapshot of a restored set differs from the original snapshot")
	}

	damaged := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte("XFDEDUP\x00"), image[8:]...)},
		{"bad version", func() []byte { b := bytes.Clone(image); b[8] = 9; return b }()},
		{"version 1, another key hash, checksum valid", func() []byte {
			b := bytes.Clone(image)
			b[8] = 1
			binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
			return b
		}()},
		{"flipped entry bit", func() []byte { b := bytes.Clone(image); b[headerSize+100] ^= 4; return b }()},
		{"flipped checksum bit", func() []byte { b := bytes.Clone(image); b[len(b)-1] ^= 1; return b }()},
		{"truncated", image[:len(image)-10]},
		{"huge count", func() []byte { b := bytes.Clone(image[:headerSize]); b[47] = 0x0f; return b }()},
	}
	for _, tc := range damaged {
		u := mustNew(t, Config{})
		u.Check("keep", []byte("me"), t0, 0)
		if _, err := u.ReadFrom(bytes.NewReader(tc.data)); !errors.Is(err, ErrSnapshot) {
			t.Errorf("%s: ReadFrom error %v, want ErrSnapshot", tc.name, err)
		}
		if u.Len() != 1 || u.Check("keep", []byte("me"), t0, 0) != Duplicate {
			t.Errorf("%s: failed ReadFrom changed the set", tc.name)
		}
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestSnapshotWriteError(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{})
	for i := range 10_000 {
		s.Check("a", []byte(strconv.Itoa(i)), t0, 0)
	}
	if _, err := s.WriteTo(&failWriter{after: 1}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("WriteTo error %v, want disk full", err)
	}
}

func TestCheckAllocs(t *testing.T) {
	s := mustNew(t, Config{})
	for i := range 1000 {
		s.Check("acme", []byte(strconv.Itoa(i)), t0, 0)
	}
	id := []byte("500")
	if n := testing.AllocsPerRun(1000, func() { s.Check("acme", id, t0, 0) }); n != 0 {
		t.Errorf("Check of a duplicate allocates %.1f times", n)
	}
	i := 0
	ids := make([][]byte, 2000)
	for k := range ids {
		ids[k] = []byte("n" + strconv.Itoa(k))
	}
	s2 := mustNew(t, Config{})
	s2.rebuild(capFor(4000), initSlack) // no growth during the run
	if n := testing.AllocsPerRun(1000, func() { s2.Check("acme", ids[i], t0, 0); i++ }); n != 0 {
		t.Errorf("Check of a new event allocates %.1f times", n)
	}
}

// TestMemoryPerEntry measures the cost per retained event that doc.go
// quotes: the table's own estimate and the Go heap's.
func TestMemoryPerEntry(t *testing.T) {
	const n = 1_000_000
	ids := make([][]byte, n)
	for i := range ids {
		ids[i] = []byte(fmt.Sprintf("01J%023d", i)) // ULID-sized ids
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := mustNew(t, Config{})
	for i, id := range ids {
		s.Check("tenant-"+strconv.Itoa(i%100), id, t0.Add(time.Duration(i)*time.Millisecond), uint64(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEntry := float64(s.Bytes()) / float64(s.Len())
	// Large tables live outside the Go heap (package hugemem): count both.
	heap := float64(int64(after.HeapInuse)-int64(before.HeapInuse)+int64(s.mem.Mapped())) / float64(s.Len())
	t.Logf("%d entries: Bytes()/Len() = %.1f B, (HeapInuse delta + mapped)/Len() = %.1f B (mapped %d B), load %.2f, snapshot %.1f B/entry",
		s.Len(), perEntry, heap, s.mem.Mapped(), float64(s.Len())/float64(s.cap), float64(snapshotSize(s.Len()))/float64(s.Len()))
	if s.Len() != n {
		t.Fatalf("Len = %d, want %d", s.Len(), n)
	}
	// Nothing expired: the table doubles as it grows, so its load lies
	// between 0.4 and 0.8: 30–60 bytes per entry.
	if perEntry > 24/0.4+1 || heap > 24/0.4+4 {
		t.Errorf("memory per entry: estimate %.1f B, heap %.1f B; want ≤ %.0f", perEntry, heap, 24/0.4)
	}
	runtime.KeepAlive(s)
	runtime.KeepAlive(ids)
}

// TestGrowthDoublesUntilFirstSweep: a Set into which events only arrive
// doubles its table; the first sweep that removes entries brings the load
// back to targetLoad, and growth from then on stops at targetLoad.
func TestGrowthDoublesUntilFirstSweep(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Horizon: time.Second, Retention: time.Second})
	add := func(from, n int, at time.Time) {
		for i := from; i < from+n; i++ {
			s.Check("a", []byte(strconv.Itoa(i)), at, 0)
		}
	}
	caps := []int{s.cap}
	for i := 0; len(caps) < 6; i += 100 {
		add(i, 100, t0)
		if s.cap != caps[len(caps)-1] {
			caps = append(caps, s.cap)
		}
	}
	for k := 1; k < len(caps); k++ {
		if caps[k] != 2*caps[k-1] {
			t.Fatalf("table sizes %v: want each twice the last", caps)
		}
	}
	// Half the events expire; the sweep leaves the load below targetLoad,
	// so the table is sized back.
	n := s.Len()
	add(1_000_000, n/2, t0.Add(10*time.Second))
	s.Expire(t0.Add(5 * time.Second)) // expires the events at t0 only
	if s.Len() >= n || !s.swept {
		t.Fatalf("Len %d of %d after the sweep, swept %v", s.Len(), n, s.swept)
	}
	if load := float64(s.Len()) / float64(s.cap); load < targetLoad-0.01 {
		t.Fatalf("load %.2f after the first sweep, want ≥ %.2f", load, targetLoad)
	}
	c := s.cap
	add(2_000_000, s.growAt-s.Len()+1, t0.Add(20*time.Second))
	if s.cap >= 2*c {
		t.Fatalf("after the first sweep the table grew from %d to %d slots, doubling still", c, s.cap)
	}
}

// TestFullTableSweepsBeforeGrowing: when the table fills up with expired
// entries, Check reclaims them instead of growing, and the next Expire
// reports them.
func TestFullTableSweepsBeforeGrowing(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Horizon: time.Second})
	s.Expire(t0) // cutoff t0 − 2s; the sweep step is 0.5s
	c, full := s.cap, s.growAt
	for i := range full {
		s.Check("a", []byte(strconv.Itoa(i)), t0.Add(-2*time.Second), 0)
	}
	s.Expire(t0.Add(100 * time.Millisecond)) // expires them all, less than a step
	if s.Len() != full {
		t.Fatalf("Len = %d, want %d (no sweep yet)", s.Len(), full)
	}
	if got := s.Check("a", []byte("next"), t0, 0); got != NewEvent {
		t.Fatalf("Check = %v", got)
	}
	if s.cap != c || s.Len() != 1 {
		t.Fatalf("cap %d → %d, Len %d; want the table swept, not grown", c, s.cap, s.Len())
	}
	if n := s.Expire(t0.Add(100 * time.Millisecond)); n != full {
		t.Fatalf("Expire reported %d dropped, want %d", n, full)
	}
	checkInvariants(t, s)
}

// TestKeyHashMatchesRef: keyHash, which uses the CPU's AES instructions
// where it has them, equals its definition keyHashRef for every tenant and
// id length from 0 to 70, at every alignment, and it is pinned (snapshots
// store keys).
func TestKeyHashMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 96)
	for k := range buf {
		buf[k] = byte(rng.Uint32())
	}
	for tl := 0; tl <= 70; tl++ {
		for il := 0; il <= 70; il++ {
			off := rng.IntN(8)
			tenant := string(buf[off : off+tl])
			id := buf[7-off : 7-off+il]
			hi, lo := keyHash(tenant, id)
			if whi, wlo := keyHashRef(tenant, id); hi != whi || lo != wlo {
				t.Fatalf("keyHash(%q, %q) = %#x, %#x; keyHashRef %#x, %#x", tenant, id, hi, lo, whi, wlo)
			}
		}
	}
	if hi, lo := keyHash("t-004382", []byte("cf8465a2-6f96-4bb1-bd16-f7caf6b9f2eb")); hi != 0xc20694654c24f819 || lo != 0xa43f3ebc6c7b3161 {
		t.Errorf("key = %#x, %#x; it must not change without a new snapshot version", hi, lo)
	}
	t.Logf("AES instructions: %v", hasAES)
}

// TestKeyHashSeparatesFields: moving bytes between tenant and id, or
// padding a field with zero bytes, changes the key (the lengths are part
// of the start state, and short fields are cut into overlapping pieces).
func TestKeyHashSeparatesFields(t *testing.T) {
	seen := map[Key]string{}
	add := func(tenant, id string) {
		k := KeyOf(tenant, []byte(id))
		if prev, ok := seen[k]; ok {
			t.Fatalf("(%q, %q) and %s have the same key", tenant, id, prev)
		}
		seen[k] = fmt.Sprintf("(%q, %q)", tenant, id)
	}
	const text = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"
	for n := 0; n <= len(text); n++ {
		for cut := 0; cut <= n; cut++ {
			add(text[:cut], text[cut:n])
		}
		add(text[:n], "\x00")
		add(text[:n]+"\x00", "")
	}
}

// TestAESRound: aesRound, in its table form, is the byte-by-byte AES round
// (ShiftRows, SubBytes, MixColumns, xor the round key) on random states,
// and turns the state at the start of round 1 of FIPS-197's cipher example
// (appendix B) into the state at the start of round 2.
func TestAESRound(t *testing.T) {
	word := func(b ...byte) block {
		var k block
		for i := range 8 {
			k.lo |= uint64(b[i]) << (8 * i)
			k.hi |= uint64(b[8+i]) << (8 * i)
		}
		return k
	}
	start := word(0x19, 0x3d, 0xe3, 0xbe, 0xa0, 0xf4, 0xe2, 0x2b, 0x9a, 0xc6, 0x8d, 0x2a, 0xe9, 0xf8, 0x48, 0x08)
	key := word(0xa0, 0xfa, 0xfe, 0x17, 0x88, 0x54, 0x2c, 0xb1, 0x23, 0xa3, 0x39, 0x39, 0x2a, 0x6c, 0x76, 0x05)
	want := word(0xa4, 0x9c, 0x7f, 0xf2, 0x68, 0x9f, 0x35, 0x2b, 0x6b, 0x5b, 0xea, 0x43, 0x02, 0x6a, 0x50, 0x49)
	if got := aesRound(start, key); got != want {
		t.Fatalf("aesRound(FIPS-197 round 1) = %#x, want %#x", got, want)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 1000 {
		s, k := block{rng.Uint64(), rng.Uint64()}, block{rng.Uint64(), rng.Uint64()}
		if got, w := aesRound(s, k), aesRoundBytes(s, k); got != w {
			t.Fatalf("aesRound(%#x, %#x) = %#x; byte by byte %#x", s, k, got, w)
		}
	}
}

// aesRoundBytes is the AES round as FIPS-197 states it, a byte at a time.
func aesRoundBytes(s, k block) block {
	var in, out [16]byte
	for i := range 8 {
		in[i], in[8+i] = byte(s.lo>>(8*i)), byte(s.hi>>(8*i))
	}
	for c := range 4 {
		var col [4]byte
		for r := range 4 {
			col[r] = sbox[in[r+4*((c+r)%4)]] // ShiftRows moves row r left by r
		}
		for r := range 4 {
			out[r+4*c] = gmul(col[r], 2) ^ gmul(col[(r+1)%4], 3) ^ col[(r+2)%4] ^ col[(r+3)%4]
		}
	}
	var o block
	for i := range 8 {
		o.lo |= uint64(out[i]) << (8 * i)
		o.hi |= uint64(out[8+i]) << (8 * i)
	}
	return block{o.lo ^ k.lo, o.hi ^ k.hi}
}

// TestFirstSweepInMakeRoomResizesOnce: when a full table's first sweep
// (run because the table is full) sizes it back to targetLoad, that size
// stands: makeRoom does not build the table a second time, one slot larger.
func TestFirstSweepInMakeRoomResizesOnce(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Horizon: time.Second})
	s.Expire(t0) // cutoff t0 − 2s; the sweep step is 0.5s
	for i := range 3000 {
		at := t0
		if i%2 == 0 {
			at = t0.Add(-2 * time.Second) // at the cutoff: kept, until it moves
		}
		s.Check("a", []byte(strconv.Itoa(i)), at, 0)
	}
	s.Expire(t0.Add(100 * time.Millisecond)) // less than a step: no sweep
	if s.swept || s.Len() != 3000 {
		t.Fatalf("swept %v, Len %d before the table is full", s.swept, s.Len())
	}
	for i := 3000; s.Len() < s.growAt; i++ {
		s.Check("a", []byte(strconv.Itoa(i)), t0, 0)
	}
	s.Check("a", []byte("full"), t0, 0) // makeRoom: the first sweep
	if !s.swept {
		t.Fatal("no sweep")
	}
	if n := s.Len() - 1; s.cap != capFor(n) {
		t.Fatalf("%d entries after the sweep in %d home slots; want capFor = %d", n, s.cap, capFor(n))
	}
	checkInvariants(t, s)
}

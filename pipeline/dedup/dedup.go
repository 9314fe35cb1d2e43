package dedup

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"time"
	"unsafe"

	"github.com/creditflow/creditflow/pipeline/hugemem"
	"github.com/creditflow/creditflow/schemas"
)

// Config configures a Set. The zero value is valid.
type Config struct {
	// Horizon: copies of one (tenant, id) whose event times, truncated to the
	// millisecond, lie at most Horizon apart (inclusive) are one event. Zero
	// means 24h. Must be ≥ 0, a whole number of milliseconds and at most
	// MaxDuration.
	Horizon time.Duration
	// Retention: how far behind the watermark passed to Expire an event time
	// may lie and still be deduplicated. An entry for event time t is dropped
	// once t + Horizon < watermark − Retention (both truncated to the
	// millisecond), that is once no copy with an event time ≥ watermark −
	// Retention can match it. Zero means Horizon. Must be ≥ 0, a whole number
	// of milliseconds and at most MaxDuration.
	Retention time.Duration
	// MaxAge: how far behind the watermark passed to Expire an event time may
	// lie and still be deduplicated when Cold is set. An entry for event time
	// t is dropped from both tiers for good once t + Horizon < watermark −
	// MaxAge (to the millisecond). Set it to the oldest event time the caller
	// accepts behind that watermark: max_event_age in replay, where the
	// processing clock is the watermark; max_event_age + max_future when
	// streaming, where the wall clock may trail the watermark by up to
	// max_future. Zero means DefaultMaxAge; a value below Retention counts
	// as Retention (the memory tier already covers that much). Must be ≥ 0,
	// a whole number of milliseconds and at most MaxDuration. Without Cold
	// it has no effect.
	MaxAge time.Duration
	// Cold, if not nil, is the second tier that makes dedup exact back to
	// watermark − MaxAge: entries that expire from memory are handed to it
	// instead of being dropped, and Check consults it for events older than
	// Floor (see the package documentation, "Cold tier"). Its failures are
	// reported by Err. The caller owns it: the Set never closes it.
	//
	// Nil keeps only the in-memory tier: copies older than Floor are not
	// recognised when their first copy has been forgotten.
	Cold Cold
}

// Defaults applied by New.
const (
	DefaultHorizon = 24 * time.Hour
	// MaxDuration bounds Horizon and Retention (about 100 years).
	MaxDuration = 100 * 365 * 24 * time.Hour
	// DefaultMaxAge is SPEC's default max_event_age.
	DefaultMaxAge = 35 * 24 * time.Hour
)

// Result is the verdict of Check.
type Result uint8

// Results. The zero Result is not a valid verdict. (The first is not called
// New: that name is the constructor's.)
const (
	NewEvent  Result = iota + 1 // not seen within Horizon: count it (Check recorded it)
	Duplicate                   // a copy of a recorded event with the same content digest
	Conflict                    // a copy of a recorded event whose content digest differs; still a duplicate
)

// String returns "new", "duplicate" or "conflict".
func (r Result) String() string {
	switch r {
	case NewEvent:
		return "new"
	case Duplicate:
		return "duplicate"
	case Conflict:
		return "conflict"
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// entry is one recorded event: 24 bytes, no pointers.
type entry struct {
	hi, lo uint64 // 128-bit key of (tenant, id); the table is sorted by hi
	meta   uint64 // (event time in unix ms + 1) << digestBits | folded digest; 0 marks an empty slot
}

const (
	entrySize  = 24
	digestBits = 20
	digestMask = 1<<digestBits - 1
	// maxMillis is the largest storable event time in unix milliseconds
	// (about year 2527); later times are clamped to it, earlier than 1970 to 0.
	maxMillis = 1<<(64-digestBits) - 2

	minCap      = 64   // smallest number of home slots
	initSlack   = 64   // slots past the last home slot for the last cluster to spill into
	growLoad    = 0.80 // grow when entries exceed this fraction of the home slots
	targetLoad  = 0.60 // load right after a grow, shrink or restore
	shrinkLoad  = 0.20 // shrink after a sweep that leaves fewer entries than this
	sweepPieces = 4    // Expire sweeps once the cutoff passed the oldest entry by (Horizon+Retention)/sweepPieces
)

func (e *entry) millis() int64 { return int64(e.meta>>digestBits) - 1 }

// Set remembers recently counted events by (tenant, id) and answers whether a
// new copy is a duplicate. See the package documentation for the model and
// its costs. A Set is not safe for concurrent use.
type Set struct {
	horizon, retention time.Duration
	hms                int64 // Horizon in ms
	step               int64 // sweep hysteresis in ms

	// tab holds cap home slots, then slack overflow slots, then one slot
	// that is always empty and stops every scan. Entries are sorted by hi
	// and each sits at or after its home slot (ordered linear probing).
	tab    []entry
	mem    *hugemem.Tables[entry] // owns tab's memory (tables of hugemem.MinBytes and more are mapped)
	cap    int
	slack  int
	n      int
	growAt int

	cut     int64 // entries with event time (ms) < cut are expired
	minT    int64 // ≤ every stored event time (ms); MaxInt64 when empty
	dropped int   // entries removed by sweeps since the last Expire returned
	// swept is set by the first sweep that removes entries: until then the
	// Set only grows, and doubles its table (see makeRoom).
	swept bool

	// Cold tier; see cold.go. Without Cold, coldBelow stays MinInt64 and
	// check never leaves the in-memory path.
	cold      Cold
	maxAge    time.Duration
	coldBelow int64    // events older than this (ms; the floor) consult cold
	forget    int64    // entries older than this (ms) are gone for good
	spill     []Entry  // expired entries on their way to cold
	one       [1]Entry // the entry of an old event recorded in cold
	err       error    // first failure of cold
}

// New returns an empty Set configured by cfg, or every problem with cfg.
func New(cfg Config) (*Set, error) {
	var errs []error
	check := func(name string, d time.Duration) {
		switch {
		case d < 0:
			errs = append(errs, fmt.Errorf("%s %v: must not be negative", name, d))
		case d > MaxDuration:
			errs = append(errs, fmt.Errorf("%s %v: must be at most %v", name, d, MaxDuration))
		case d%time.Millisecond != 0:
			errs = append(errs, fmt.Errorf("%s %v: must be a whole number of milliseconds", name, d))
		}
	}
	check("horizon", cfg.Horizon)
	check("retention", cfg.Retention)
	check("max age", cfg.MaxAge)
	if cfg.Horizon == 0 {
		cfg.Horizon = DefaultHorizon
	}
	if cfg.Retention == 0 {
		cfg.Retention = cfg.Horizon
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	cfg.MaxAge = max(cfg.MaxAge, cfg.Retention)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Set{
		horizon:   cfg.Horizon,
		retention: cfg.Retention,
		hms:       cfg.Horizon.Milliseconds(),
		step:      max(1, (cfg.Horizon+cfg.Retention).Milliseconds()/sweepPieces),
		cut:       math.MinInt64,
		minT:      math.MaxInt64,
		slack:     initSlack,
		cold:      cfg.Cold,
		maxAge:    cfg.MaxAge,
		coldBelow: math.MinInt64,
		forget:    math.MinInt64,
	}
	s.tab = s.alloc(minCap)
	return s, nil
}

// Horizon returns the configured horizon, defaults applied.
func (s *Set) Horizon() time.Duration { return s.horizon }

// Retention returns the configured retention, defaults applied.
func (s *Set) Retention() time.Duration { return s.retention }

// MaxAge returns the configured maximum age, defaults applied.
func (s *Set) MaxAge() time.Duration { return s.maxAge }

// Check reports whether the event (tenant, id) at event time t with content
// digest digest is a NewEvent, a Duplicate or a Conflict, and records it when
// it is a NewEvent: the first copy processed wins; duplicates and conflicts
// are not recorded.
//
// A copy matches a recorded entry of the same (tenant, id) whose event time
// is within Horizon of t (both truncated to the millisecond, inclusive). It
// is a Duplicate when some matching entry has the same digest (compared on
// 20 folded bits), else a Conflict. Copies at or after Floor are always
// recognised. Without Cold, an older copy may find its first copy
// forgotten, and one older than Floor − Horizon is never recorded. With
// Cold, copies at or after watermark − MaxAge are always recognised: an
// event older than Floor is looked up in both tiers and recorded in one of
// them; if Cold fails, Check answers from memory alone (as without Cold)
// and Err reports the failure.
//
// Check does not allocate except when the table grows (amortised O(1)).
func (s *Set) Check(tenant string, id []byte, t time.Time, digest uint64) Result {
	hi, lo := keyHash(tenant, id)
	return s.check(hi, lo, clampMillis(t.UnixMilli()), foldDigest(digest))
}

// KeyOf returns the key of (tenant, id), the one Check computes.
func KeyOf(tenant string, id []byte) Key {
	hi, lo := keyHash(tenant, id)
	return Key{Hi: hi, Lo: lo}
}

// Prefetch asks the CPU to start loading the part of the table where
// CheckKey(k, …) will look, and returns at once. A caller that knows the key
// a while before it checks it (the partition processor, which validates and
// rates an event in between) hides most of the memory latency of a large
// table that way. It changes nothing observable.
func (s *Set) Prefetch(k Key) {
	// The key's run starts at its home slot and goes on for a few slots at
	// the usual loads, and an insert shifts the cluster after it up to the
	// next free slot, which at loads of 0.6–0.8 lies several slots further:
	// the home slot's cache line and the next three (about 10 slots).
	p := uintptr(unsafe.Pointer(&s.tab[s.home(k.Hi)]))
	schemas.Prefetch4(p)
}

// CheckKey is Check for the (tenant, id) whose key is k = KeyOf(tenant, id)
// and whose event time is ms, t.UnixMilli(): a caller that holds the time in
// Unix units already saves the conversion.
func (s *Set) CheckKey(k Key, ms int64, digest uint64) Result {
	return s.check(k.Hi, k.Lo, clampMillis(ms), foldDigest(digest))
}

func clampMillis(ms int64) int64 {
	if ms < 0 {
		return 0
	}
	if ms > maxMillis {
		return maxMillis
	}
	return ms
}

func (s *Set) home(hi uint64) int {
	h, _ := bits.Mul64(hi, uint64(s.cap))
	return int(h)
}

// match looks the key up among the entries in memory whose time is at or
// after cut: Duplicate when one within the horizon has the same digest,
// else Conflict when one within the horizon differs, else NewEvent. It also
// returns the slot after the key's run, where a new entry would go.
func (s *Set) match(hi, lo uint64, ms int64, d uint64, cut int64) (Result, int) {
	tab := s.tab
	i := s.home(hi)
	for tab[i].meta != 0 && tab[i].hi < hi {
		i++
	}
	res := NewEvent
	for ; tab[i].meta != 0 && tab[i].hi == hi; i++ {
		e := &tab[i]
		if e.lo != lo {
			continue
		}
		et := e.millis()
		if et < cut {
			continue
		}
		if diff := et - ms; diff <= s.hms && -diff <= s.hms {
			if e.meta&digestMask == d {
				return Duplicate, i
			}
			res = Conflict
		}
	}
	return res, i
}

func (s *Set) check(hi, lo uint64, ms int64, d uint64) Result {
	if ms < s.coldBelow {
		return s.checkCold(hi, lo, ms, d)
	}
	res, i := s.match(hi, lo, ms, d, s.cut)
	if res != NewEvent || ms < s.cut {
		return res
	}
	e := entry{hi: hi, lo: lo, meta: uint64(ms+1)<<digestBits | d}
	if s.n >= s.growAt {
		s.makeRoom()
		s.insert(e)
	} else if !s.place(i, e) {
		s.insert(e)
	}
	s.n++
	s.minT = min(s.minT, ms)
	return NewEvent
}

// place puts e at slot p, shifting the run that starts there one slot up.
// It reports false, changing nothing, when the run would reach the final
// sentinel slot.
func (s *Set) place(p int, e entry) bool {
	q := p
	for s.tab[q].meta != 0 {
		q++
	}
	if q >= len(s.tab)-1 {
		return false
	}
	copy(s.tab[p+1:q+1], s.tab[p:q])
	s.tab[p] = e
	return true
}

// insert places e, widening the overflow area if the last run needs it.
func (s *Set) insert(e entry) {
	for {
		p := s.home(e.hi)
		for s.tab[p].meta != 0 && s.tab[p].hi <= e.hi {
			p++
		}
		if s.place(p, e) {
			return
		}
		s.rebuild(s.cap, 2*s.slack)
	}
}

// makeRoom runs when the table is full: it sweeps out expired entries if
// there are any, and grows the table unless that brought the load down to
// targetLoad. Either way the next call is at least (growLoad−targetLoad)·cap
// inserts away, so its cost is amortised over them.
//
// A Set that has never swept anything out (a new partition's, or a
// replay's, for its first Horizon + Retention) only grows: it doubles its
// table instead of growing it to targetLoad, so that filling it moves and
// clears each entry's slot about twice in all rather than four times
// (measured on the streaming benchmark: growth was a tenth of the
// pipeline's CPU, mostly the kernel zeroing the new tables' pages). Its
// first sweep that removes entries sizes it back (see sweep).
func (s *Set) makeRoom() {
	if s.cut > s.minT {
		s.dropped += s.sweep(false)
		// ≤: a sweep that resized the table left it at targetLoad exactly.
		if s.n <= int(float64(s.cap)*targetLoad) {
			return
		}
	}
	c := capFor(s.n + 1)
	if !s.swept {
		c = max(c, 2*s.cap)
	}
	s.rebuild(c, s.slack)
}

// capFor returns the number of home slots for n entries at targetLoad.
func capFor(n int) int { return max(minCap, int(float64(n)/targetLoad)+1) }

func (s *Set) alloc(c int) []entry {
	s.cap = c
	s.growAt = int(float64(c) * growLoad)
	if s.mem == nil {
		s.mem = hugemem.New[entry]()
		runtime.AddCleanup(s, (*hugemem.Tables[entry]).FreeAll, s.mem)
	}
	return s.mem.Make(c + s.slack + 1)
}

// rebuild moves every entry into a table of c home slots and the given
// slack, doubling the slack until the last run fits.
func (s *Set) rebuild(c, slack int) {
	old := s.tab
	for {
		s.slack = slack
		s.tab = s.alloc(c)
		if s.pack(old) {
			s.mem.Free(old)
			return
		}
		s.mem.Free(s.tab)
		slack *= 2
	}
}

// pack lays out the entries of src (sorted by hi) in s.tab, each at the
// first free slot at or after its home. It reports false if they overflow.
func (s *Set) pack(src []entry) bool {
	w, last := 0, len(s.tab)-1
	for i := range src {
		if src[i].meta == 0 {
			continue
		}
		p := max(w, s.home(src[i].hi))
		if p >= last {
			return false
		}
		s.tab[p] = src[i]
		w = p + 1
	}
	return true
}

// Expire lets the Set forget entries that can no longer match a copy whose
// event time is ≥ watermark − Retention: those with event time t (ms) such
// that t + Horizon < watermark − Retention. From then on Check ignores them,
// and events that old are NewEvent without being recorded (see Floor).
// With Cold, such entries move to Cold when they leave memory, those with
// t + Horizon < watermark − MaxAge are dropped for good, and older events
// are looked up and recorded there instead (see Check).
//
// Entries leave memory in sweeps, linear passes over the table. Check
// sweeps when the table is full, before growing it; Expire sweeps when the
// oldest entry has been expired for (Horizon+Retention)/4 of watermark
// progress, and shrinks the table if it is mostly empty. So an expired entry
// is gone from memory at most (Horizon+Retention)/4 after its expiry, and
// between sweeps Expire is O(1): call it as often as convenient (every few
// thousand events). It returns the number of entries removed since the
// previous call, by its own sweep or by Check's. A watermark behind an
// earlier one changes nothing.
func (s *Set) Expire(watermark time.Time) int {
	if c := watermark.Add(-s.retention).UnixMilli() - s.hms; c > s.cut {
		s.cut = c
		if s.cold != nil {
			s.advanceCold(watermark)
		}
	}
	if s.n > 0 && s.cut > s.minT && s.cut-s.minT >= s.step {
		s.dropped += s.sweep(true)
	}
	n := s.dropped
	s.dropped = 0
	return n
}

// sweep removes every entry older than cut and repacks the rest in place.
// With shrink, it also shrinks a mostly empty table.
func (s *Set) sweep(shrink bool) int {
	tab := s.tab[:len(s.tab)-1]
	w, removed := 0, 0
	minT := int64(math.MaxInt64)
	for i := range tab {
		e := &tab[i]
		if e.meta == 0 {
			continue
		}
		et := e.millis()
		if et < s.cut {
			if s.cold != nil && et >= s.forget {
				s.handOver(e)
			}
			e.meta = 0 // an empty slot is one with meta 0; hi and lo are never read
			removed++
			continue
		}
		minT = min(minT, et)
		// Entries only move down: with fewer predecessors, the first free
		// slot at or after the home is never later than before. An entry
		// with no free slot before it stays put.
		if w < i {
			if p := max(w, s.home(e.hi)); p != i {
				tab[p] = *e
				e.meta = 0
				w = p + 1
				continue
			}
		}
		w = i + 1
	}
	s.n -= removed
	s.minT = minT
	s.flushSpill()
	switch {
	case removed > 0 && !s.swept:
		// The end of growing by doubling: back to targetLoad if below it.
		s.swept = true
		if s.cap > minCap && s.n < int(float64(s.cap)*targetLoad) {
			s.rebuild(capFor(s.n), initSlack)
		}
	case shrink && s.cap > minCap && s.n < int(float64(s.cap)*shrinkLoad):
		s.rebuild(capFor(s.n), initSlack)
	}
	return removed
}

// Floor returns the earliest event time that the Set still deduplicates
// reliably: watermark − Retention for the latest watermark passed to Expire
// (to the millisecond). It is the zero Time before the first Expire. A copy
// older than Floor may be counted again unless Config.Cold is set; a caller
// that must never double count sets Cold, or refuses such events before
// Check (the streaming pipeline, which has no Cold, may instead look them up
// in its own store of counted events), or sets Retention to cover the
// oldest event it accepts.
func (s *Set) Floor() time.Time {
	if s.cut == math.MinInt64 {
		return time.Time{}
	}
	return time.UnixMilli(s.cut + s.hms).UTC()
}

// Len returns the number of recorded entries, including expired ones that
// the next sweep will remove.
func (s *Set) Len() int { return s.n }

// Bytes returns the memory held by the table in bytes: 24 bytes per slot,
// free slots included (see the package documentation for figures per entry).
func (s *Set) Bytes() int { return cap(s.tab) * entrySize }

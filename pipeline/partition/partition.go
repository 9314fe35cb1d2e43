// Package partition processes the records of one input partition: decode →
// validate → dedup → rate → window. Every record ends in exactly one outcome:
// counted, duplicate (counted before) or dead-lettered with a reason (SPEC
// 3.2). The streaming pipeline runs one Processor per Kafka partition; replay
// runs one over a file. The package is pure: clocks are arguments.
//
// Checks run in this order, and the first failing one names the reason:
//
//	decode (malformed_json, missing_field, bad_field, bad_quantity, bad_time)
//	→ meter in catalog (unknown_meter) → tenant in catalog (unknown_tenant)
//	→ not ahead of the wall clock by more than MaxFuture (too_far_future)
//	→ not behind the processing clock by more than MaxEventAge (too_old)
//	→ not before the tenant's catalog start (unknown_tenant)
//	→ a rate in force at the event time (no_rate)
//	→ dedup (duplicate) → counted
//
// Only counted events are remembered by dedup, so a refused first copy never
// hides a good later one. An event before its tenant's catalog start has no
// billing period and is dead-lettered as unknown_tenant.
//
// # Cost
//
// A record of a series seen before costs one pass of the decoder (see
// schemas.Decoder), one probe of the processor's series cache (see
// Processor), integer time checks, a cached rate, an incremental content
// digest, a dedup check and a window update through a series handle; no
// allocation. The memory it touches at random (the series cache slot, the
// dedup table's run for the key, the window's slot) would cost a cache miss
// each; Process requests each as soon as its address is known (prefetch),
// and ProcessBatch, which the streaming pipeline uses, decodes up to
// Lookahead records ahead of the one it finishes, so that the misses of
// several records are in flight together instead of one after another.
//
// BenchmarkCore (10k tenants, 2 % duplicates, 5 % out of order, records of
// about 205 bytes, ProcessBatch over 1024 records then Advance, one warm
// Processor over many passes of the mix, a dedup set of 200k–400k entries)
// measures about 2545 instructions per record (decoding about 1200) and
// 0.37–0.57 µs per record on a shared 2-core VM, medians of six runs
// 0.38–0.51 µs (typically 0.45): the low end when the neighbours are
// quiet, the high end when they compete for the core and memory (plain
// encoding/json decoding of the same records varies 3.0–5.2 µs
// meanwhile). A new Processor's first 600k records (BenchmarkCoreCold),
// while its tables grow, cost 0.50–0.76 µs each. The series cache, the window tables and the dedup
// table live in huge pages (package hugemem), so that their probes do not
// also miss the TLB.
package partition

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
	"unsafe"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/dedup"
	"github.com/creditflow/creditflow/pipeline/hugemem"
	"github.com/creditflow/creditflow/pipeline/window"
	"github.com/creditflow/creditflow/schemas"
)

// Config configures a Processor.
type Config struct {
	Window      window.Config
	Dedup       dedup.Config
	MaxEventAge time.Duration // events further behind the processing clock are too_old; zero means 35 days
	MaxFuture   time.Duration // events further ahead of the wall clock are too_far_future; zero means 5m
	// WatermarkClock makes the processing clock the watermark (replay)
	// instead of the wall clock passed to Process (streaming).
	WatermarkClock bool
}

// Outcome is what became of a record.
type Outcome uint8

// Outcomes.
const (
	Counted Outcome = iota + 1
	Duplicate
	DeadLetter
)

func (o Outcome) String() string {
	switch o {
	case Counted:
		return "counted"
	case Duplicate:
		return "duplicate"
	case DeadLetter:
		return "dead_letter"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Result is the outcome of one record. Event aliases the Processor's scratch
// and is valid until the next call to Process.
type Result struct {
	Outcome  Outcome
	Err      *schemas.RecordError // set for DeadLetter
	Conflict bool                 // a Duplicate whose content differs from the counted copy
	Event    *schemas.UsageEvent  // set for Counted and Duplicate
	Credits  schemas.Micros       // set for Counted
	Digest   uint64               // content digest, set for Counted and Duplicate
}

// Stats counts outcomes.
type Stats struct {
	Records, Counted, Duplicates, Conflicts, DeadLetters int64
	ByReason                                             map[schemas.Reason]int64
}

// Processor processes one partition's records in order. It is not safe for
// concurrent use.
//
// It keeps a cache of what it resolved per series (tenant, meter, model):
// the catalog tenant's start, the meter and model's rates (with the answer
// for the latest event time and the interval it holds for), the digest's
// prefix and the window series handle, so that a record of a known series
// costs one probe of a table keyed by the identity of the decoder's
// interned strings instead of a map lookup per catalog check (see
// cache.go). Entries are dropped all at once when the cache is full. Time
// checks run on Unix nanoseconds when every instant involved lies in years
// 1716–2223, which keeps their outcome, and on time.Time otherwise.
type Processor struct {
	cfg     Config
	cat     *catalog.Catalog
	dec     *schemas.Decoder
	seen    *dedup.Set
	windows *window.Windows
	one     decoded            // Process's record
	ring    [Lookahead]decoded // ProcessBatch's records, by index mod Lookahead
	ahead   Ahead
	stats   Stats
	cache   seriesCache

	// The highest counted event time: with maxFast set, it lies in the
	// fast range (see fastNanos) and is maxNs in Unix nanoseconds, or is
	// zero and maxNs is math.MinInt64; without maxFast, it is maxTime.
	// Process advances only maxNs; maxTime is the time last set by setMax,
	// whose nanoseconds are maxTimeNs, still current while maxNs equals it.
	maxNs     int64
	maxFast   bool
	maxTime   time.Time
	maxTimeNs int64
	oooNs     int64 // the window out-of-orderness, ≥ 0
}

// New returns a Processor over the catalog cat.
func New(cfg Config, cat *catalog.Catalog) (*Processor, error) {
	var errs []error
	if cfg.MaxEventAge == 0 {
		cfg.MaxEventAge = 35 * 24 * time.Hour
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = 5 * time.Minute
	}
	if cfg.MaxEventAge < 0 {
		errs = append(errs, fmt.Errorf("max event age %v: must be positive", cfg.MaxEventAge))
	}
	if cfg.MaxFuture < 0 {
		errs = append(errs, fmt.Errorf("max future %v: must be positive", cfg.MaxFuture))
	}
	if cat == nil {
		errs = append(errs, errors.New("catalog: required"))
	}
	seen, err := dedup.New(cfg.Dedup)
	if err != nil {
		errs = append(errs, fmt.Errorf("dedup: %w", err))
	}
	win, err := window.New(cfg.Window)
	if err != nil {
		errs = append(errs, fmt.Errorf("window: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &Processor{
		cfg: cfg, cat: cat, dec: schemas.NewDecoder(), seen: seen, windows: win,
		stats: Stats{ByReason: make(map[schemas.Reason]int64, len(schemas.Reasons))},
		maxNs: math.MinInt64, maxFast: true, maxTimeNs: math.MinInt64,
	}
	p.oooNs = int64(max(p.windowOutOfOrder(), 0))
	p.cache.mem = hugemem.New[series]()
	runtime.AddCleanup(p, (*hugemem.Tables[series]).FreeAll, p.cache.mem)
	return p, nil
}

// Process handles one record. now is the wall clock (replay passes --now).
func (p *Processor) Process(rec []byte, now time.Time) Result {
	a := &p.one
	p.decode(a, rec, false)
	nowNs, nowOK := fastNanos(now)
	return p.finish(a, now, nowNs, nowOK, false)
}

// Lookahead is how many records ProcessBatch decodes ahead of the one it
// finishes.
const Lookahead = 8

// Lookahead must be a power of two: ProcessBatch indexes its ring by mask.
var _ [0]struct{} = [Lookahead & (Lookahead - 1)]struct{}{}

// windowAhead is how many records ahead of the one it finishes
// ProcessBatch starts loading the window slot; the series cache slot that
// names the window was requested Lookahead − windowAhead records earlier.
const windowAhead = 3

// ProcessBatch handles recs in order, exactly as Process would one by one
// with the same now, and calls each with every record's index and result.
// The result's Event is valid until each returns. each may call any other
// method of the Processor (replay advances the windows between records),
// but not Process or ProcessBatch; when it returns an error, ProcessBatch
// returns that error at once and the later records are not processed (nor
// counted in Stats).
//
// It is Process with the memory accesses of several records overlapped: it
// decodes up to Lookahead records ahead of the one it finishes, asking
// for the series cache slot and the dedup table's run of each one record
// after it is decoded (see prefetch), and for the window slot windowAhead
// records ahead, so that the cache misses of one record are served while
// earlier ones are finished instead of one after another. The records
// decoded ahead change only caches: dedup, windows, the clocks and Stats
// move on in record order as each record is finished.
func (p *Processor) ProcessBatch(recs [][]byte, now time.Time, each func(i int, r Result) error) error {
	n := len(recs)
	nowNs, nowOK := fastNanos(now)
	for i := range min(n, Lookahead) {
		p.decodeAhead(&p.ring[i], recs[i])
		if i > 0 {
			p.prefetch(&p.ring[i-1])
		}
	}
	if n < Lookahead && n > 0 {
		p.prefetch(&p.ring[n-1]) // the loop below asks for record Lookahead − 1 on
	}
	for i := range n {
		if j := i + windowAhead; j < n {
			a := &p.ring[j&(Lookahead-1)]
			p.prefetchWindow(a)
			if p.ahead != nil && a.err == nil {
				p.ahead.Near(&a.ev)
			}
		}
		a := &p.ring[i&(Lookahead-1)]
		if err := each(i, p.finish(a, now, nowNs, nowOK, true)); err != nil {
			return err
		}
		if j := i + Lookahead; j < n {
			p.decodeAhead(a, recs[j])
		}
		if j := i + Lookahead - 1; j < n {
			p.prefetch(&p.ring[j&(Lookahead-1)])
		}
	}
	return nil
}

// decodeAhead is decode for ProcessBatch, which then tells p.ahead.
func (p *Processor) decodeAhead(a *decoded, rec []byte) {
	p.decode(a, rec, true)
	if p.ahead != nil && a.err == nil {
		p.ahead.Decoded(&a.ev)
	}
}

// Ahead is told of the events ProcessBatch decodes ahead of finishing them,
// so that a caller who will touch memory per event after Process (the
// streaming pipeline's billing accounts) can request it early too. The
// event is valid only during the call; both calls must be hints that
// change nothing observable.
type Ahead interface {
	// Decoded is called about Lookahead records before the event is
	// finished.
	Decoded(ev *schemas.UsageEvent)
	// Near is called about windowAhead records before.
	Near(ev *schemas.UsageEvent)
}

// SetAhead makes ProcessBatch tell a of the events it decodes ahead; nil
// stops it.
func (p *Processor) SetAhead(a Ahead) { p.ahead = a }

// decoded is a record decoded ahead of its processing: the event (or why
// it does not decode), its series hash and its dedup key.
type decoded struct {
	ev  schemas.UsageEvent
	err *schemas.RecordError
	sh  uint64
	dk  dedup.Key
	ns  int64  // ev.Time in Unix nanoseconds, when nsOK (see fastNanos)
	own []byte // ev's id and properties when they must outlive the decoder's scratch
	// The series' cache entry as prefetchWindow found it (nil if it did
	// not), valid while the cache's moves is still moves, and, when it did
	// and nsOK, the content digest it computed.
	s     *series
	d     uint64
	moves uint32
	nsOK  bool
}

// decode decodes rec into a and computes its series hash and dedup key
// (ProcessBatch then prefetches what they address). With keep, the event's
// id and properties stay valid across later decodes: those the decoder
// left in its scratch buffer (an id with escapes) are copied into a.
func (p *Processor) decode(a *decoded, rec []byte, keep bool) {
	ev := &a.ev
	if err := p.dec.DecodeUsage(rec, ev); err != nil {
		var re *schemas.RecordError
		if !errors.As(err, &re) {
			re = &schemas.RecordError{Reason: schemas.ReasonMalformedJSON, Detail: err.Error()}
		}
		a.err = re
		return
	}
	a.err, a.s = nil, nil
	a.ns, a.nsOK = fastNanos(ev.Time)
	if keep && (!within(rec, ev.ID) || !within(rec, ev.Properties)) {
		a.own = append(append(a.own[:0], ev.ID...), ev.Properties...)
		ev.ID, ev.Properties = a.own[:len(ev.ID):len(ev.ID)], nilIfEmpty(ev.Properties, a.own[len(ev.ID):])
	}
	a.sh = seriesHash(id(ev.Tenant), ev.Meter, ev.Model)
	a.dk = dedup.KeyOf(ev.Tenant, ev.ID)
}

// prefetch starts loading the series cache slot and the dedup table's run
// of a decoded record, so that those cache misses overlap the work done
// until it is finished.
//
// ProcessBatch calls it one record after decode (after finishing one
// record and decoding the next), not in it: the addresses depend on the
// dedup key, a chain of dependent AES rounds, and on the interned strings
// the decoder has just loaded, and a prefetch waiting for its address
// holds up every later instruction's retirement. One record later they
// are long known.
func (p *Processor) prefetch(a *decoded) {
	if a.err == nil {
		p.cache.prefetch(a.sh)
		p.seen.Prefetch(a.dk)
	}
}

// within reports whether b is empty or lies inside rec.
func within(rec, b []byte) bool {
	if len(b) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(rec)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return at >= lo && at+uintptr(len(b)) <= lo+uintptr(len(rec))
}

// nilIfEmpty returns c, or nil when orig is nil (absent properties).
func nilIfEmpty(orig, c []byte) []byte {
	if orig == nil {
		return nil
	}
	return c
}

// prefetchWindow starts loading the window slot of a's event, when its
// series is cached (its cache slot was requested when a was decoded), and
// computes its content digest then: the digest is a chain of dependent
// multiplies that finish would otherwise wait on before its dedup check.
func (p *Processor) prefetchWindow(a *decoded) {
	if a.err != nil {
		return
	}
	ev := &a.ev
	a.s, a.moves = p.cache.findHashed(ev.Tenant, ev.Meter, ev.Model, a.sh), p.cache.moves
	if s := a.s; s != nil && a.nsOK {
		p.windows.Prefetch(s.win, a.ns)
		a.d = digestFrom(p.cache.pairs[s.pair].digest, ev, a.ns)
	}
}

// finish takes a decoded record through the remaining checks, dedup and
// its window. nowNs, nowOK are fastNanos(now). windowAsked says that
// prefetchWindow ran for a.
func (p *Processor) finish(a *decoded, now time.Time, nowNs int64, nowOK, windowAsked bool) Result {
	p.stats.Records++
	if a.err != nil {
		return p.dead(a.err)
	}
	ev := &a.ev
	dk := a.dk
	s := a.s
	if s == nil || a.moves != p.cache.moves {
		s = p.cache.findHashed(ev.Tenant, ev.Meter, ev.Model, a.sh)
	}
	if s == nil {
		var re *schemas.RecordError
		if s, re = p.resolve(ev); re != nil {
			return p.dead(re)
		}
	}
	pr := &p.cache.pairs[s.pair]
	ns := a.ns
	if !a.nsOK || !nowOK || !p.maxFast {
		return p.processSlow(ev, s, now)
	}
	if !windowAsked {
		p.windows.Prefetch(s.win, ns)
	}
	// The checks of processSlow on Unix nanoseconds: every instant involved
	// lies in the fast range, and limits beyond it saturate, which keeps
	// each comparison's outcome.
	if ns > satAdd(nowNs, int64(p.cfg.MaxFuture)) {
		return p.dead(p.tooFarFuture(ev, now))
	}
	clock, hasClock := nowNs, true
	if p.cfg.WatermarkClock {
		clock, hasClock = satSub(p.maxNs, p.oooNs), p.maxNs != math.MinInt64
	}
	if hasClock && ns < satSub(clock, int64(p.cfg.MaxEventAge)) {
		return p.dead(p.tooOld(ev, p.Clock(now)))
	}
	if ns < s.startNs {
		return p.dead(p.beforeStart(ev))
	}
	rate, ok := pr.rateAt(ns)
	if !ok {
		return p.dead(noRate(ev))
	}
	credits, err := schemas.MulMicros(ev.Quantity, rate)
	if err != nil {
		return p.dead(creditsOutOfRange(ev, rate))
	}
	d := a.d // computed by prefetchWindow when it found the series (a.nsOK holds here)
	if a.s == nil {
		d = digestFrom(pr.digest, ev, ns)
	}
	if r, dup := p.verdict(p.seen.CheckKey(dk, floorMillis(ns), d), ev, d); dup {
		return r
	}
	p.stats.Counted++
	p.maxNs = max(p.maxNs, ns) // maxTime follows (see maxEventTime)
	if !p.windows.Current(s.win) {
		s.win = p.windows.Series(schemas.WindowKey{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model})
	}
	p.windows.AddSeries(&s.win, nil, ns, ev.Quantity, credits)
	return Result{Outcome: Counted, Event: ev, Credits: credits, Digest: d}
}

// processSlow finishes Process with time.Time arithmetic, for instants
// outside the fast range.
func (p *Processor) processSlow(ev *schemas.UsageEvent, s *series, now time.Time) Result {
	pr := &p.cache.pairs[s.pair]
	if limit := now.Add(p.cfg.MaxFuture); ev.Time.After(limit) {
		return p.dead(p.tooFarFuture(ev, now))
	}
	if clock := p.Clock(now); !clock.IsZero() && ev.Time.Before(clock.Add(-p.cfg.MaxEventAge)) {
		return p.dead(p.tooOld(ev, clock))
	}
	if ev.Time.Before(p.cat.Tenant(ev.Tenant).Start) {
		return p.dead(p.beforeStart(ev))
	}
	rate, ok := pr.pricing.At(ev.Time)
	if !ok {
		return p.dead(noRate(ev))
	}
	credits, err := schemas.MulMicros(ev.Quantity, rate)
	if err != nil {
		return p.dead(creditsOutOfRange(ev, rate))
	}
	d := digest(ev, ev.Time.UnixNano())
	if r, dup := p.check(ev, d); dup {
		return r
	}
	p.stats.Counted++
	if ev.Time.After(p.maxEventTime()) {
		p.setMax(ev.Time)
	}
	p.windows.Add(schemas.WindowKey{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model}, ev.Time, ev.Quantity, credits)
	return Result{Outcome: Counted, Event: ev, Credits: credits, Digest: d}
}

// check asks dedup about ev, and returns the Duplicate result when it is
// one.
func (p *Processor) check(ev *schemas.UsageEvent, d uint64) (Result, bool) {
	return p.verdict(p.seen.Check(ev.Tenant, ev.ID, ev.Time, d), ev, d)
}

// verdict returns the Duplicate result for dedup's answer v about ev, when
// it is one.
func (p *Processor) verdict(v dedup.Result, ev *schemas.UsageEvent, d uint64) (Result, bool) {
	switch v {
	case dedup.Duplicate:
		p.stats.Duplicates++
		return Result{Outcome: Duplicate, Event: ev, Digest: d}, true
	case dedup.Conflict:
		p.stats.Duplicates++
		p.stats.Conflicts++
		return Result{Outcome: Duplicate, Conflict: true, Event: ev, Digest: d}, true
	}
	return Result{}, false
}

// resolve looks ev's series up in the catalog, in the documented check
// order (meter, then tenant), and caches it.
func (p *Processor) resolve(ev *schemas.UsageEvent) (*series, *schemas.RecordError) {
	pi := p.cache.findPair(ev.Meter, ev.Model)
	if pi < 0 {
		if p.cat.Meter(ev.Meter) == nil {
			return nil, unknownMeter(ev)
		}
		pi = p.cache.addPair(newPair(ev.Meter, ev.Model, p.cat.Pricing(ev.Meter, ev.Model)))
	}
	startNs, known := p.cache.tenantStart(ev.Tenant)
	if !known {
		tenant := p.cat.Tenant(ev.Tenant)
		if tenant == nil {
			return nil, unknownTenant(ev)
		}
		startNs = clampedNanos(tenant.Start)
	}
	if p.cache.full() {
		pr := p.cache.pairs[pi]
		p.cache.reset()
		pi = p.cache.addPair(pr)
		known = false
	}
	if !known {
		p.cache.addTenant(ev.Tenant, startNs)
	}
	return p.cache.insert(ev.Tenant, newSeries(ev.Tenant, pi, startNs)), nil
}

func unknownMeter(ev *schemas.UsageEvent) *schemas.RecordError {
	return &schemas.RecordError{Field: "meter", Reason: schemas.ReasonUnknownMeter, Detail: fmt.Sprintf("meter %q is not in the catalog", ev.Meter)}
}

func unknownTenant(ev *schemas.UsageEvent) *schemas.RecordError {
	return &schemas.RecordError{Field: "tenant", Reason: schemas.ReasonUnknownTenant, Detail: fmt.Sprintf("tenant %q is not in the catalog", ev.Tenant)}
}

func (p *Processor) tooFarFuture(ev *schemas.UsageEvent, now time.Time) *schemas.RecordError {
	return &schemas.RecordError{Field: "time", Reason: schemas.ReasonTooFarFuture, Detail: fmt.Sprintf("event time %s is more than %v ahead of %s", ev.Time.Format(time.RFC3339Nano), p.cfg.MaxFuture, now.UTC().Format(time.RFC3339Nano))}
}

func (p *Processor) tooOld(ev *schemas.UsageEvent, clock time.Time) *schemas.RecordError {
	return &schemas.RecordError{Field: "time", Reason: schemas.ReasonTooOld, Detail: fmt.Sprintf("event time %s is more than %v behind the processing clock %s", ev.Time.Format(time.RFC3339Nano), p.cfg.MaxEventAge, clock.Format(time.RFC3339Nano))}
}

func (p *Processor) beforeStart(ev *schemas.UsageEvent) *schemas.RecordError {
	tenant := p.cat.Tenant(ev.Tenant)
	return &schemas.RecordError{Field: "time", Reason: schemas.ReasonUnknownTenant, Detail: fmt.Sprintf("event time %s is before tenant %q starts (%s)", ev.Time.Format(time.RFC3339Nano), ev.Tenant, tenant.Start.UTC().Format(time.RFC3339))}
}

func noRate(ev *schemas.UsageEvent) *schemas.RecordError {
	return &schemas.RecordError{Field: "model", Reason: schemas.ReasonNoRate, Detail: fmt.Sprintf("no rate for meter %q model %q in force at %s", ev.Meter, ev.Model, ev.Time.Format(time.RFC3339Nano))}
}

func creditsOutOfRange(ev *schemas.UsageEvent, rate schemas.Decimal) *schemas.RecordError {
	return &schemas.RecordError{Field: "quantity", Reason: schemas.ReasonBadQuantity, Detail: fmt.Sprintf("quantity %s × rate %s: credits out of range", ev.Quantity, rate)}
}

// setMax sets the highest counted event time.
func (p *Processor) setMax(t time.Time) {
	p.maxTime = t
	p.maxNs, p.maxFast = math.MinInt64, true
	if !t.IsZero() {
		p.maxNs, p.maxFast = fastNanos(t)
	}
	p.maxTimeNs = p.maxNs
}

// maxEventTime returns the highest counted event time.
func (p *Processor) maxEventTime() time.Time {
	if !p.maxFast || p.maxNs == p.maxTimeNs {
		return p.maxTime
	}
	return time.Unix(0, p.maxNs).UTC() // as the decoder makes event times
}

// The fast range of Process: instants whose Unix seconds lie in
// [fastMinSec, fastMaxSec] (years 1716 to 2223). Their Unix nanoseconds,
// and those of the window package and the catalog, are exact.
const (
	fastMinSec = -8_000_000_000
	fastMaxSec = 8_000_000_000
)

// fastNanos returns t in Unix nanoseconds, and false when t lies outside
// the fast range.
func fastNanos(t time.Time) (int64, bool) {
	sec := t.Unix()
	if sec < fastMinSec || sec > fastMaxSec {
		return 0, false
	}
	return sec*1e9 + int64(t.Nanosecond()), true
}

// floorMillis returns Unix nanoseconds ns in whole Unix milliseconds,
// rounded down, as time.Time.UnixMilli does.
func floorMillis(ns int64) int64 {
	ms := ns / 1e6
	if ns%1e6 < 0 {
		ms--
	}
	return ms
}

// clampedNanos returns t in Unix nanoseconds, or math.MinInt64 (math.MaxInt64)
// when t lies before (after) the fast range: for an instant x in the fast
// range, x.Before(t) exactly when x's nanoseconds < clampedNanos(t).
func clampedNanos(t time.Time) int64 {
	switch sec := t.Unix(); {
	case sec < fastMinSec:
		return math.MinInt64
	case sec > fastMaxSec:
		return math.MaxInt64
	}
	return t.UnixNano()
}

// satAdd returns a + b (b ≥ 0), saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satSub returns a − b (b ≥ 0), saturating at math.MinInt64.
func satSub(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// Remember records a counted event without counting it again: how the
// streaming pipeline rebuilds dedup state from stored raw events when it
// takes over a partition.
func (p *Processor) Remember(tenant string, id []byte, t time.Time, digest uint64) {
	p.seen.Check(tenant, id, t, digest)
}

// Resume sets the highest counted event time after a restart, so that the
// watermark continues where the stored state left it.
func (p *Processor) Resume(maxEventTime time.Time) {
	if maxEventTime.After(p.maxEventTime()) {
		p.setMax(maxEventTime)
	}
}

// MaxEventTime is the highest counted event time; zero before the first.
func (p *Processor) MaxEventTime() time.Time { return p.maxEventTime() }

func (p *Processor) dead(re *schemas.RecordError) Result {
	p.stats.DeadLetters++
	p.stats.ByReason[re.Reason]++
	return Result{Outcome: DeadLetter, Err: re}
}

// Watermark is the highest counted event time minus the allowed
// out-of-orderness; zero before the first counted event.
func (p *Processor) Watermark() time.Time {
	maxTime := p.maxEventTime()
	if maxTime.IsZero() {
		return time.Time{}
	}
	return window.Watermark(maxTime, p.windowOutOfOrder())
}

func (p *Processor) windowOutOfOrder() time.Duration {
	if p.cfg.Window.OutOfOrder == 0 {
		return 10 * time.Second
	}
	return p.cfg.Window.OutOfOrder
}

// Clock is the processing clock: the watermark when Config.WatermarkClock is
// set, else now.
func (p *Processor) Clock(now time.Time) time.Time {
	if p.cfg.WatermarkClock {
		return p.Watermark()
	}
	return now
}

// Advance appends the windows (and late corrections) that the watermark has
// passed, and lets dedup forget what can no longer match.
func (p *Processor) Advance(out []schemas.WindowTotal) []schemas.WindowTotal {
	wm := p.Watermark()
	if wm.IsZero() {
		return out
	}
	p.seen.Expire(wm)
	return p.windows.Advance(wm, out)
}

// Flush appends every window still open (end of input).
func (p *Processor) Flush(out []schemas.WindowTotal) []schemas.WindowTotal {
	return p.windows.Flush(out)
}

// DedupErr returns the first failure of dedup's cold tier, if any: after
// one, duplicates older than the in-memory floor may go unrecognised, so a
// replay must fail.
func (p *Processor) DedupErr() error { return p.seen.Err() }

// Stats returns the outcome counts so far.
func (p *Processor) Stats() Stats { return p.stats }

// digest is a 64-bit hash of the content that decides a conflicting
// duplicate: meter, model, quantity, event time (ns, Unix nanoseconds) and
// properties. It is deterministic across processes (digests are stored with
// the events and fed back through Remember): each field, its length first,
// is absorbed in 8-byte little-endian words by a multiply and xor-shift
// step, then the state is finalized.
func digest(ev *schemas.UsageEvent, ns int64) uint64 {
	return digestFrom(digestPrefix(ev.Meter, ev.Model), ev, ns)
}

// digestPrefix is the state of digest after meter and model, which a pair
// keeps.
func digestPrefix(meter, model string) uint64 {
	return absorb(absorb(digestSeed, meter), model)
}

// digestFrom is digest from the state after ev's meter and model.
func digestFrom(h uint64, ev *schemas.UsageEvent, ns int64) uint64 {
	h = step(h, uint64(ev.Quantity))
	h = step(h, uint64(ns))
	h = absorbBytes(h, ev.Properties)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

const (
	digestSeed = 0x243f6a8885a308d3
	digestMul  = 0x9fb21c651e98df25
)

// step absorbs one word: a bijection of h for a fixed w, and of w for a
// fixed h.
func step(h, w uint64) uint64 {
	h = (h ^ w) * digestMul
	return h ^ h>>29
}

// absorb absorbs len(p) and then p in 8-byte little-endian words, the last
// one zero-padded.
func absorb[T string | []byte](h uint64, p T) uint64 {
	h = step(h, uint64(len(p)))
	i := 0
	for ; i+8 <= len(p); i += 8 {
		h = step(h, le64(p[i:i+8]))
	}
	if i < len(p) {
		var w uint64
		if len(p) >= 8 {
			// The last 8 bytes, shifted so that only the unread ones remain.
			w = le64(p[len(p)-8:]) >> (64 - 8*(len(p)-i))
		} else {
			for j := len(p) - 1; j >= i; j-- {
				w = w<<8 | uint64(p[j])
			}
		}
		h = step(h, w)
	}
	return h
}

func le64[T string | []byte](p T) uint64 {
	_ = p[7]
	return uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
		uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
}

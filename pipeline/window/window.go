package window

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/creditflow/creditflow/pipeline/hugemem"
	"github.com/creditflow/creditflow/schemas"
)

// Config configures Windows. The zero value is valid.
type Config struct {
	// Width is the window width; zero means 1m. Must not be negative nor
	// exceed MaxWidth. Windows are epoch-aligned: a window starts at
	// floor(unix nanoseconds / Width) × Width.
	Width time.Duration
	// OutOfOrder is the allowed out-of-orderness: the caller's watermark is
	// the highest counted event time minus OutOfOrder (see Watermark). Zero
	// means 10s. Set NoOutOfOrder to ask for none: a window then closes as
	// soon as a counted event lies at or after its end. Any other negative
	// value is refused.
	OutOfOrder time.Duration
}

// NoOutOfOrder, as Config.OutOfOrder, asks for no allowed out-of-orderness
// (zero means the default).
const NoOutOfOrder = -1 * time.Nanosecond

// Defaults and limits applied by New.
const (
	DefaultWidth      = time.Minute
	DefaultOutOfOrder = 10 * time.Second
	MaxWidth          = 366 * 24 * time.Hour
)

// Event times are handled as int64 unix nanoseconds, clamped to
// [minNanos, maxNanos] (years 1684 to 2255), which leaves room to add a
// window width without overflow.
const (
	minSec   = -9_000_000_000
	maxSec   = 9_000_000_000
	minNanos = minSec * 1e9
	maxNanos = maxSec * 1e9
)

// Watermark returns maxEventTime − outOfOrder: the watermark of a partition
// whose highest counted event time is maxEventTime. A negative outOfOrder
// (NoOutOfOrder) counts as zero, and the zero Time (no event counted yet)
// stays zero.
func Watermark(maxEventTime time.Time, outOfOrder time.Duration) time.Time {
	if maxEventTime.IsZero() {
		return time.Time{}
	}
	return maxEventTime.Add(-max(outOfOrder, 0))
}

// Windows accumulates counted events into tumbling event-time windows per
// (tenant, meter, model), emits them once the watermark passes their end,
// and turns late events into corrections. See the package documentation.
// Windows is not safe for concurrent use.
type Windows struct {
	width, outOfOrder time.Duration
	widthNs           int64

	series   []schemas.WindowKey // series registry by id; id 0 is unused
	index    seriesIndex         // registered series by key
	free     []int32             // ids of reclaimed series, for reuse
	ranks    ranks               // the order of the series, for sorting emissions
	epoch    uint32              // bumped by every reclaim; handles of an older epoch are stale
	reclaim  int                 // reclaim unreferenced series when this many are registered
	live     []bool              // scratch for reclaiming
	lastWin  int64               // [lastWin, lastEnd) is the window of the latest startOf (a cache); empty at first
	lastEnd  int64
	open     table // windows not yet emitted
	late     table // pending corrections, by window
	minStart int64 // ≤ the start of every open window
	sparse   int   // consecutive emissions that found the open table mostly empty
	spilled  []schemas.WindowTotal

	out  []emitted             // scratch: totals being emitted
	rows []schemas.WindowTotal // scratch: set-aside rows being emitted
	keep []entry               // scratch: entries put back after an emission
	keys []sortKey             // scratch: the order of out
	tmp  []sortKey             // scratch for the radix sort

	wm int64 // highest watermark passed to Advance (ns); a window with end ≤ wm has been emitted
}

// New returns an empty Windows configured by cfg, or every problem with cfg.
func New(cfg Config) (*Windows, error) {
	var errs []error
	if cfg.Width < 0 || cfg.Width > MaxWidth {
		errs = append(errs, fmt.Errorf("width %v: must be positive and at most %v (zero means %v)", cfg.Width, MaxWidth, DefaultWidth))
	}
	if cfg.OutOfOrder < 0 && cfg.OutOfOrder != NoOutOfOrder {
		errs = append(errs, fmt.Errorf("out-of-orderness %v: must not be negative (use NoOutOfOrder for none)", cfg.OutOfOrder))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Width == 0 {
		cfg.Width = DefaultWidth
	}
	switch cfg.OutOfOrder {
	case 0:
		cfg.OutOfOrder = DefaultOutOfOrder
	case NoOutOfOrder:
		cfg.OutOfOrder = 0
	}
	h := newHasher()
	// The tables of open windows and corrections are probed at random:
	// large ones live in huge pages (see hugemem).
	mem := hugemem.New[entry]()
	w := &Windows{
		width:      cfg.Width,
		outOfOrder: cfg.OutOfOrder,
		widthNs:    int64(cfg.Width),
		series:     make([]schemas.WindowKey, 1, 64),
		index:      newSeriesIndex(),
		epoch:      1,
		reclaim:    minReclaim,
		open:       newTable(h, false, mem),
		late:       newTable(h, true, mem),
		minStart:   math.MaxInt64,
		wm:         math.MinInt64,
	}
	runtime.AddCleanup(w, (*hugemem.Tables[entry]).FreeAll, mem)
	return w, nil
}

// Width returns the window width, defaults applied.
func (w *Windows) Width() time.Duration { return w.width }

// OutOfOrder returns the allowed out-of-orderness, defaults applied: 0
// when configured as NoOutOfOrder. Pass it to Watermark.
func (w *Windows) OutOfOrder() time.Duration { return w.outOfOrder }

// Start returns the start of the window that holds event time t.
func (w *Windows) Start(t time.Time) time.Time {
	return time.Unix(0, w.startOf(t)).UTC()
}

func nanos(t time.Time) int64 {
	sec := t.Unix()
	if sec < minSec {
		return minNanos
	}
	if sec >= maxSec {
		return maxNanos
	}
	return sec*1e9 + int64(t.Nanosecond())
}

func (w *Windows) startOf(t time.Time) int64 { return w.startOfNanos(nanos(t)) }

// startOfNanos returns the start of the window that holds ns, which lies in
// [minNanos, maxNanos].
func (w *Windows) startOfNanos(ns int64) int64 {
	if ns >= w.lastWin && ns < w.lastEnd { // most events fall in the latest window
		return w.lastWin
	}
	q := ns / w.widthNs
	if ns%w.widthNs < 0 {
		q--
	}
	w.lastWin = q * w.widthNs
	w.lastEnd = w.lastWin + w.widthNs
	return w.lastWin
}

// Add counts one event of series key at event time t. If the window of t
// is still open the event joins it; if the watermark has already passed the
// window's end, the event joins the window's pending correction (Late),
// which the next Advance or Flush emits. Add does not allocate once the
// window (or correction) exists.
//
// quantity and credits are summed exactly. Should a sum leave the range of
// Micros, the window's total so far is set aside as a row of its own and
// the sum starts again, so nothing is lost: the window is then emitted as
// several rows that add up to its total.
//
// Event times before 1684 or after 2255 are clamped to those years.
//
// Add looks the series up by key, hashing its three strings; a caller that
// adds many events of a series keeps a Series handle and calls AddSeries.
func (w *Windows) Add(key schemas.WindowKey, t time.Time, quantity, credits schemas.Micros) {
	w.add(w.Series(key).id, nanos(t), quantity, credits)
}

// Series is a handle on the series of windows of one WindowKey in one
// Windows, for AddSeries: it spares hashing the key's strings per event.
// Get one from Windows.Series, or start from the zero Series, which
// AddSeries resolves on first use. A handle goes stale when its series has
// had no window for a while and the Windows reclaimed it (so that the
// registry of series stays bounded by the windows held, whatever the
// variety of keys); AddSeries then resolves it again. A Series must not be
// used with another Windows.
type Series struct {
	id    int32
	epoch uint32
}

// minReclaim is the number of registered series below which nothing is
// reclaimed.
const minReclaim = 1 << 16

// Series returns the handle of key's series, registering the series if
// needed. It hashes the key's strings and probes the registry's index;
// registering may allocate, and when many series are registered it first
// reclaims those without a window (in time proportional to the tables,
// amortized over as many registrations).
func (w *Windows) Series(key schemas.WindowKey) Series {
	h := w.index.hash(&key)
	id := w.index.find(w.series, &key, h)
	if id == 0 {
		id = w.register(key, h)
	}
	return Series{id: id, epoch: w.epoch}
}

func (w *Windows) register(key schemas.WindowKey, h uint32) int32 {
	if len(w.series)-1-len(w.free) >= w.reclaim {
		w.reclaimSeries()
	}
	var id int32
	if n := len(w.free); n > 0 {
		id = w.free[n-1]
		w.free = w.free[:n-1]
		w.series[id] = key
	} else {
		id = int32(len(w.series))
		if len(w.series) == cap(w.series) { // double: append grows large slices by only 1.25×
			w.series = slices.Grow(w.series, len(w.series))
		}
		w.series = append(w.series, key)
	}
	w.index.insert(id, h)
	w.ranks.registered(id)
	return id
}

// reclaimSeries unregisters every series that has neither an open window
// nor a pending correction (set-aside rows hold their key themselves) and
// makes every handle stale.
func (w *Windows) reclaimSeries() {
	if cap(w.live) < len(w.series) {
		w.live = make([]bool, len(w.series), 2*len(w.series))
	}
	live := w.live[:len(w.series)]
	w.open.mark(live)
	w.late.mark(live)
	live[0] = false
	w.free = w.free[:0]
	kept := 0
	for id := len(w.series) - 1; id >= 1; id-- { // reversed, so that low ids are reused first
		if live[id] {
			kept++
			continue
		}
		w.series[id] = schemas.WindowKey{}
		w.free = append(w.free, int32(id))
	}
	w.index.rebuild(w.series, live, kept)
	w.ranks.reclaimed(live)
	clear(live)
	w.live = live[:0]
	w.epoch++
	w.reclaim = max(minReclaim, 2*kept)
}

// Current reports whether s is a handle that AddSeries uses as it is,
// without resolving its key: not the zero Series, not stale.
func (w *Windows) Current(s Series) bool { return s.epoch == w.epoch }

// AddSeries is Add for the series of key, resolved in *s: it counts one
// event at event time t given in Unix nanoseconds (time.Time.UnixNano),
// clamped like Add's. key must be the key *s was resolved from; when *s is
// the zero Series or stale, AddSeries resolves key and updates *s. key is
// not read, and may be nil, when Current(*s). For
// times outside 1678–2262, which UnixNano cannot represent, use Add. Adding
// to an existing window does not allocate.
func (w *Windows) AddSeries(s *Series, key *schemas.WindowKey, t int64, quantity, credits schemas.Micros) {
	if s.epoch != w.epoch {
		*s = w.Series(*key)
	}
	w.add(s.id, min(max(t, minNanos), maxNanos), quantity, credits)
}

// Prefetch asks the CPU to start loading the slot where AddSeries(s, key,
// t, …) will find or put its window, and returns at once: a caller that
// knows the series and time a while before it adds (the partition
// processor, which checks dedup in between) hides most of the memory
// latency of a large table that way. It does nothing for a stale or zero
// handle, and changes nothing observable.
func (w *Windows) Prefetch(s Series, t int64) {
	if s.epoch != w.epoch {
		return
	}
	k := slotKey{s.id, w.startOfNanos(min(max(t, minNanos), maxNanos))}
	tab := &w.open
	if k.start+w.widthNs <= w.wm {
		tab = &w.late
	}
	schemas.Prefetch(uintptr(unsafe.Pointer(&tab.slots[tab.home(k)])))
}

// add counts one event of series id at t (ns, clamped).
func (w *Windows) add(id int32, t int64, quantity, credits schemas.Micros) {
	k := slotKey{id, w.startOfNanos(t)}
	late := k.start+w.widthNs <= w.wm
	var e *entry
	if late {
		e = w.late.get(k)
	} else {
		e = w.open.get(k)
		w.minStart = min(w.minStart, k.start)
	}
	q, c := e.qty+quantity, e.credits+credits
	if overflows(e.qty, quantity, q) || overflows(e.credits, credits, c) || e.events == maxEntryEvents {
		w.spilled = append(w.spilled, w.row(e, late))
		e.events, q, c = 0, quantity, credits
	}
	e.events++
	e.qty, e.credits = q, c
}

// overflows reports whether s = a + b wrapped around.
func overflows(a, b, s schemas.Micros) bool { return (a^s)&(b^s) < 0 }

// row returns the total held by e.
func (w *Windows) row(e *entry, late bool) schemas.WindowTotal {
	return schemas.WindowTotal{
		WindowKey: w.series[e.sid],
		Start:     time.Unix(0, e.start).UTC(),
		End:       time.Unix(0, e.start+w.widthNs).UTC(),
		Events:    int64(e.events),
		Quantity:  e.qty,
		Credits:   e.credits,
		Late:      late,
	}
}

// Advance moves the watermark to watermark and appends to out every window
// whose end is ≤ the watermark and every pending correction, sorted by
// (Tenant, Meter, Model, Start, Late). Emitted windows are forgotten: a
// later event for one of them becomes a correction. A watermark behind an
// earlier one emits only the pending corrections. Advance does not allocate
// once its scratch space has grown to the largest emission, unless out must
// grow.
func (w *Windows) Advance(watermark time.Time, out []schemas.WindowTotal) []schemas.WindowTotal {
	if wm := nanos(watermark); wm > w.wm {
		w.wm = wm
	}
	if limit := w.wm - w.widthNs; w.open.n > 0 && w.minStart <= limit {
		w.emitOpen(limit)
	}
	w.emitLate()
	w.emitSpilled(false)
	return w.appendSorted(out)
}

// Flush appends every open window, pending correction and set-aside row,
// in the order of Advance, for the end of input. The flushed windows count
// as emitted: should more events arrive for them, they become corrections.
func (w *Windows) Flush(out []schemas.WindowTotal) []schemas.WindowTotal {
	if maxStart := w.emitOpen(math.MaxInt64); maxStart != math.MinInt64 {
		w.wm = max(w.wm, maxStart+w.widthNs)
	}
	w.emitLate()
	w.emitSpilled(true)
	return w.appendSorted(out)
}

// emitted is a total being emitted: a window taken out of a table (its
// entry, and whether it is a correction), or with row ≥ 0 the set-aside
// row w.rows[row]. Emissions gather these small records, sort them, and
// only then write the rows out, in order.
type emitted struct {
	e    entry
	late bool
	row  int32
}

// emitOpen gathers the open windows that start at or before limit, removes
// them, and returns the latest start it gathered (MinInt64 if none).
func (w *Windows) emitOpen(limit int64) int64 {
	t := &w.open
	// Shrink a table that stayed mostly empty for 16 emissions in a row
	// (a burst is over), but not one that merely empties each time.
	if len(t.slots) > minSlots && t.n*8 < len(t.slots) {
		if w.sparse++; w.sparse >= 16 {
			t.resize(max(minSlots, len(t.slots)/4))
			w.sparse = 0
		}
	} else {
		w.sparse = 0
	}
	// Emitted entries are emptied in one pass; if any are left, they are
	// then put back from their home slots (the emptied slots may have cut
	// their probe runs). That costs less than a deletion that shifts the
	// run after it per emitted entry, most of all when a watermark step
	// emits most windows.
	minStart, maxStart := int64(math.MaxInt64), int64(math.MinInt64)
	removed, kept := 0, 0
	for i := range t.slots {
		e := &t.slots[i]
		if e.sid == 0 {
			continue
		}
		if e.start <= limit {
			w.out = append(w.out, emitted{e: *e, row: -1})
			maxStart = max(maxStart, e.start)
			*e = entry{}
			removed++
			continue
		}
		minStart = min(minStart, e.start)
		kept++
	}
	if removed > 0 {
		t.n -= removed
		if kept > 0 {
			t.rehash(&w.keep)
		}
	}
	w.minStart = minStart
	return maxStart
}

// emitLate gathers and removes every pending correction.
func (w *Windows) emitLate() {
	for _, i := range w.late.used {
		w.out = append(w.out, emitted{e: w.late.slots[i], late: true, row: -1})
	}
	w.late.reset()
}

// emitSpilled gathers and removes the set-aside rows whose window has been
// emitted (all of them with all).
func (w *Windows) emitSpilled(all bool) {
	if len(w.spilled) == 0 {
		return
	}
	kept := w.spilled[:0]
	for _, r := range w.spilled {
		if all || r.Late || nanos(r.End) <= w.wm {
			w.out = append(w.out, emitted{late: r.Late, row: int32(len(w.rows))})
			w.rows = append(w.rows, r)
		} else {
			kept = append(kept, r)
		}
	}
	clear(w.spilled[len(kept):])
	w.spilled = kept
}

// sortKey orders emitted totals cheaply: by (p0, p1), and only on a tie by
// comparing the totals.
type sortKey struct {
	p0, p1 uint64
	i      int32
}

// tenantKey returns the sort key of the ith total, whose key is k, that
// orders by the first 16 bytes of the tenant: zero-padded, as two
// big-endian integers, which order as the strings do, ties aside.
func tenantKey(k *schemas.WindowKey, i int) sortKey {
	var b [16]byte
	copy(b[:], k.Tenant)
	return sortKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), int32(i)}
}

// key returns the key of x.
func (w *Windows) key(x *emitted) *schemas.WindowKey {
	if x.row >= 0 {
		return &w.rows[x.row].WindowKey
	}
	return &w.series[x.e.sid]
}

// appendSorted appends the gathered totals to out in the order (Tenant,
// Meter, Model, Start, Late), then forgets them.
func (w *Windows) appendSorted(out []schemas.WindowTotal) []schemas.WindowTotal {
	keys, ok := w.rankedKeys(w.keys[:0])
	if !ok {
		keys = keys[:0]
		for i := range w.out {
			keys = append(keys, tenantKey(w.key(&w.out[i]), i))
		}
	}
	w.tmp = sortKeys(keys, w.tmp, func(a, b int32) int { return w.compare(&w.out[a], &w.out[b]) })
	out = slices.Grow(out, len(keys))
	for j, k := range keys {
		w.prefetchRow(keys, j)
		if x := &w.out[k.i]; x.row >= 0 {
			out = append(out, w.rows[x.row])
		} else {
			out = append(out, w.row(&x.e, x.late))
		}
	}
	clear(w.rows)
	w.out, w.rows, w.keys = w.out[:0], w.rows[:0], keys[:0]
	return out
}

// prefetchRow starts loading, while the rows before are written, what the
// rows a little further in keys read at random: the gathered total of the
// (j+2·rowAhead)th, and the series key of the (j+rowAhead)th. (An
// emission of many rows would otherwise wait for a cache miss or two per
// row: the registry of series and the gathered totals are large, and
// sorted order visits them at random.)
func (w *Windows) prefetchRow(keys []sortKey, j int) {
	if j+2*rowAhead < len(keys) {
		schemas.Prefetch(uintptr(unsafe.Pointer(&w.out[keys[j+2*rowAhead].i])))
	}
	if j+rowAhead < len(keys) {
		if x := &w.out[keys[j+rowAhead].i]; x.row < 0 {
			schemas.Prefetch(uintptr(unsafe.Pointer(&w.series[x.e.sid])))
		}
	}
}

const rowAhead = 8

// rankedKeys appends to keys the sort keys of the gathered totals that
// order them by (series rank, start, late), and reports true; or reports
// false, having appended some, when that order does not apply: a set-aside
// row is among them (it has no series), their starts lie 2³¹ widths apart
// or more, or a series among them is pending while too few are pending to
// rank them now.
//
// Pending series are ranked once they number a quarter of the ranked ones:
// each ranking then costs a few comparisons per pending series and one
// pass over the ranks (see rank), O(1) per series registered. Ranking at
// every emission that has a new series would cost that pass each time,
// and a partition that keeps meeting new tenants (a replay of a few hours'
// events) has one in most emissions.
func (w *Windows) rankedKeys(keys []sortKey) ([]sortKey, bool) {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	pending := false
	for i := range w.out {
		x := &w.out[i]
		if x.row >= 0 {
			return keys, false
		}
		lo, hi = min(lo, x.e.start), max(hi, x.e.start)
		pending = pending || w.ranks.of[x.e.sid] == 0
	}
	if len(w.out) > 0 && uint64(hi-lo)/uint64(w.widthNs) >= 1<<31 {
		return keys, false
	}
	if pending {
		if 4*len(w.ranks.pending) < len(w.ranks.sorted) {
			return keys, false
		}
		w.rank()
	}
	for i := range w.out {
		x := &w.out[i]
		late := uint64(0)
		if x.late {
			late = 1
		}
		// Starts are whole widths apart: the window index from lo orders them.
		p0 := uint64(w.ranks.of[x.e.sid])<<32 | uint64(x.e.start-lo)/uint64(w.widthNs)<<1 | late
		keys = append(keys, sortKey{p0: p0, i: int32(i)})
	}
	return keys, true
}

// sortKeys sorts keys, by (p0, p1) and then by cmp of their indices.
// It radix-sorts on (p0, p1), skipping bytes that all keys share, then
// sorts each run of equal (p0, p1) with cmp. tmp is scratch space,
// returned for reuse.
func sortKeys(keys, tmp []sortKey, cmpIdx func(a, b int32) int) []sortKey {
	byIdx := func(a, b sortKey) int { return cmpIdx(a.i, b.i) }
	if len(keys) < 64 {
		slices.SortFunc(keys, func(a, b sortKey) int {
			if c := cmp.Compare(a.p0, b.p0); c != 0 {
				return c
			}
			if c := cmp.Compare(a.p1, b.p1); c != 0 {
				return c
			}
			return byIdx(a, b)
		})
		return tmp
	}
	var vary0, vary1 uint64
	for _, k := range keys {
		vary0 |= k.p0 ^ keys[0].p0
		vary1 |= k.p1 ^ keys[0].p1
	}
	tmp = slices.Grow(tmp[:0], len(keys))[:len(keys)]
	src, dst := keys, tmp
	var count [256]int
	for pass := range 16 { // least significant byte first: p1's, then p0's
		vary, word := vary1, 1
		if pass >= 8 {
			vary, word = vary0, 0
		}
		shift := uint(8 * (pass % 8))
		if (vary>>shift)&0xff == 0 {
			continue
		}
		digit := func(k *sortKey) int {
			if word == 0 {
				return int(k.p0 >> shift & 0xff)
			}
			return int(k.p1 >> shift & 0xff)
		}
		count = [256]int{}
		for i := range src {
			count[digit(&src[i])]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for i := range src {
			d := digit(&src[i])
			dst[count[d]] = src[i]
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j].p0 == keys[i].p0 && keys[j].p1 == keys[i].p1 {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(keys[i:j], byIdx)
		}
		i = j
	}
	return tmp
}

// compare orders emitted totals by (Tenant, Meter, Model, Start, Late),
// then, so that the order never depends on the table layout, by their sums
// (only rows set aside on overflow can tie on the key).
func (w *Windows) compare(a, b *emitted) int {
	if c := compareKeys(w.key(a), w.key(b)); c != 0 {
		return c
	}
	ra, rb := w.view(a), w.view(b)
	return compareTails(&ra, &rb)
}

// tail is the part of an emitted row that orders rows of one key.
type tail struct {
	start             int64
	late              bool
	events            int64
	quantity, credits schemas.Micros
}

func (w *Windows) view(x *emitted) tail {
	if x.row >= 0 {
		r := &w.rows[x.row]
		return tail{nanos(r.Start), r.Late, r.Events, r.Quantity, r.Credits}
	}
	return tail{x.e.start, x.late, int64(x.e.events), x.e.qty, x.e.credits}
}

// compareKeys orders keys by (Tenant, Meter, Model). Identical strings
// (the same interned tenant, most of all) compare without reading them.
func compareKeys(a, b *schemas.WindowKey) int {
	if c := compareStrings(a.Tenant, b.Tenant); c != 0 {
		return c
	}
	if c := compareStrings(a.Meter, b.Meter); c != 0 {
		return c
	}
	return compareStrings(a.Model, b.Model)
}

func compareStrings(a, b string) int {
	if len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b) {
		return 0
	}
	return strings.Compare(a, b)
}

func compareTails(a, b *tail) int {
	if c := cmp.Compare(a.start, b.start); c != 0 {
		return c
	}
	if a.late != b.late {
		if b.late {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(a.events, b.events); c != 0 {
		return c
	}
	if c := cmp.Compare(a.quantity, b.quantity); c != 0 {
		return c
	}
	return cmp.Compare(a.credits, b.credits)
}

// Open returns the number of windows and pending corrections held, rows set
// aside on overflow included.
func (w *Windows) Open() int { return w.open.n + w.late.n + len(w.spilled) }

package window

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// Config configures Windows. The zero value is valid.
type Config struct {
	// Width is the window width; zero means 1m. Must be positive and at most
	// MaxWidth. Windows are epoch-aligned: a window starts at
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

// slotKey identifies one window of one series. It is comparable: the map
// hashes the three strings and the start, and builds nothing.
type slotKey struct {
	schemas.WindowKey
	start int64 // unix ns
}

// acc accumulates one window, or the pending late correction of one
// window.
type acc struct {
	key     slotKey
	events  int64
	qty     schemas.Micros
	credits schemas.Micros
	late    bool // a correction: the window was already emitted when it was created
}

// bucket lists the open windows (indices into Windows.accs) that share a
// start.
type bucket struct {
	start int64
	slots []int32
}

// Windows accumulates counted events into tumbling event-time windows per
// (tenant, meter, model) and emits them once the watermark passes their end,
// and late events as corrections. See the package documentation. Windows is
// not safe for concurrent use.
type Windows struct {
	width, outOfOrder time.Duration
	widthNs           int64

	index   map[slotKey]int32 // open windows and pending corrections
	accs    []acc
	free    []int32
	buckets []bucket  // open windows by start, ascending
	spare   [][]int32 // emptied bucket lists, kept for reuse
	late    []int32   // pending corrections
	spilled []schemas.WindowTotal
	order   []int32 // scratch for sorting emitted rows

	wm int64 // highest watermark passed to Advance (ns); a window with end ≤ wm has been emitted
}

// New returns an empty Windows configured by cfg, or every problem with cfg.
func New(cfg Config) (*Windows, error) {
	var errs []error
	if cfg.Width < 0 || cfg.Width > MaxWidth {
		errs = append(errs, fmt.Errorf("width %v: must be positive and at most %v", cfg.Width, MaxWidth))
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
	return &Windows{
		width:      cfg.Width,
		outOfOrder: cfg.OutOfOrder,
		widthNs:    int64(cfg.Width),
		index:      make(map[slotKey]int32),
		wm:         math.MinInt64,
	}, nil
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

func (w *Windows) startOf(t time.Time) int64 {
	ns := nanos(t)
	q := ns / w.widthNs
	if ns%w.widthNs < 0 {
		q--
	}
	return q * w.widthNs
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
func (w *Windows) Add(key schemas.WindowKey, t time.Time, quantity, credits schemas.Micros) {
	k := slotKey{key, w.startOf(t)}
	i, ok := w.index[k]
	if !ok {
		i = w.create(k)
	}
	a := &w.accs[i]
	q, c := a.qty+quantity, a.credits+credits
	if overflows(a.qty, quantity, q) || overflows(a.credits, credits, c) {
		w.spilled = append(w.spilled, w.row(a))
		a.events, q, c = 0, quantity, credits
	}
	a.events++
	a.qty, a.credits = q, c
}

// overflows reports whether s = a + b wrapped around.
func overflows(a, b, s schemas.Micros) bool { return (a^s)&(b^s) < 0 }

func (w *Windows) create(k slotKey) int32 {
	var i int32
	if n := len(w.free); n > 0 {
		i = w.free[n-1]
		w.free = w.free[:n-1]
	} else {
		i = int32(len(w.accs))
		w.accs = append(w.accs, acc{})
	}
	late := k.start+w.widthNs <= w.wm
	w.accs[i] = acc{key: k, late: late}
	w.index[k] = i
	if late {
		w.late = append(w.late, i)
		return i
	}
	// Find the bucket of this start, most likely the newest.
	b := len(w.buckets) - 1
	for b >= 0 && w.buckets[b].start > k.start {
		b--
	}
	if b < 0 || w.buckets[b].start != k.start {
		b++
		var slots []int32
		if n := len(w.spare); n > 0 {
			slots = w.spare[n-1][:0]
			w.spare = w.spare[:n-1]
		}
		w.buckets = slices.Insert(w.buckets, b, bucket{start: k.start, slots: slots})
	}
	w.buckets[b].slots = append(w.buckets[b].slots, i)
	return i
}

// row returns the total held by a.
func (w *Windows) row(a *acc) schemas.WindowTotal {
	return schemas.WindowTotal{
		WindowKey: a.key.WindowKey,
		Start:     time.Unix(0, a.key.start).UTC(),
		End:       time.Unix(0, a.key.start+w.widthNs).UTC(),
		Events:    a.events,
		Quantity:  a.qty,
		Credits:   a.credits,
		Late:      a.late,
	}
}

// Advance moves the watermark to watermark and appends to out every window
// whose end is ≤ the watermark and every pending correction, sorted by
// (Tenant, Meter, Model, Start, Late). Emitted windows are forgotten: a
// later event for one of them becomes a correction. A watermark behind an
// earlier one emits only the pending corrections. Advance does not allocate
// when out has room.
func (w *Windows) Advance(watermark time.Time, out []schemas.WindowTotal) []schemas.WindowTotal {
	if wm := nanos(watermark); wm > w.wm {
		w.wm = wm
	}
	order := w.order[:0]
	nb := 0
	for nb < len(w.buckets) && w.buckets[nb].start <= w.wm-w.widthNs {
		order = append(order, w.buckets[nb].slots...)
		nb++
	}
	w.releaseBuckets(nb)
	order = append(order, w.late...)
	w.late = w.late[:0]
	return w.emit(order, out, func(r *schemas.WindowTotal) bool {
		return r.Late || nanos(r.End) <= w.wm
	})
}

// Flush appends every open window, pending correction and set-aside row,
// in the order of Advance, for the end of input. The flushed windows count
// as emitted: should more events arrive for them, they become corrections.
func (w *Windows) Flush(out []schemas.WindowTotal) []schemas.WindowTotal {
	order := w.order[:0]
	for _, b := range w.buckets {
		order = append(order, b.slots...)
	}
	if n := len(w.buckets); n > 0 {
		w.wm = max(w.wm, w.buckets[n-1].start+w.widthNs)
	}
	w.releaseBuckets(len(w.buckets))
	order = append(order, w.late...)
	w.late = w.late[:0]
	return w.emit(order, out, func(*schemas.WindowTotal) bool { return true })
}

// releaseBuckets drops the first n buckets, keeping their lists for reuse.
func (w *Windows) releaseBuckets(n int) {
	if n == 0 {
		return
	}
	for _, b := range w.buckets[:n] {
		w.spare = append(w.spare, b.slots[:0])
	}
	m := copy(w.buckets, w.buckets[n:])
	clear(w.buckets[m:])
	w.buckets = w.buckets[:m]
}

// emit appends the rows of the accumulators listed in order, and the
// set-aside rows that due selects, sorted; it frees the accumulators.
func (w *Windows) emit(order []int32, out []schemas.WindowTotal, due func(*schemas.WindowTotal) bool) []schemas.WindowTotal {
	slices.SortFunc(order, func(x, y int32) int { return compareAcc(&w.accs[x], &w.accs[y]) })
	n0 := len(out)
	for _, i := range order {
		a := &w.accs[i]
		out = append(out, w.row(a))
		delete(w.index, a.key)
		*a = acc{}
		w.free = append(w.free, i)
	}
	w.order = order[:0]
	if len(w.spilled) > 0 {
		kept := w.spilled[:0]
		spilled := false
		for _, r := range w.spilled {
			if due(&r) {
				out = append(out, r)
				spilled = true
			} else {
				kept = append(kept, r)
			}
		}
		clear(w.spilled[len(kept):])
		w.spilled = kept
		if spilled {
			slices.SortStableFunc(out[n0:], compareRows)
		}
	}
	return out
}

func compareAcc(a, b *acc) int {
	if c := strings.Compare(a.key.Tenant, b.key.Tenant); c != 0 {
		return c
	}
	if c := strings.Compare(a.key.Meter, b.key.Meter); c != 0 {
		return c
	}
	if c := strings.Compare(a.key.Model, b.key.Model); c != 0 {
		return c
	}
	if c := cmp.Compare(a.key.start, b.key.start); c != 0 {
		return c
	}
	return compareBool(a.late, b.late)
}

func compareRows(a, b schemas.WindowTotal) int {
	if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
		return c
	}
	if c := strings.Compare(a.Meter, b.Meter); c != 0 {
		return c
	}
	if c := strings.Compare(a.Model, b.Model); c != 0 {
		return c
	}
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	return compareBool(a.Late, b.Late)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// Open returns the number of windows and pending corrections held, rows set
// aside on overflow included.
func (w *Windows) Open() int { return len(w.index) + len(w.spilled) }

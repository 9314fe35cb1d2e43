// Package window sums counted usage into event-time tumbling windows per
// (tenant, meter, model).
//
// Windows are epoch-aligned and half-open: with width w, an event at time t
// belongs to [floor(t/w)·w, floor(t/w)·w + w); an event exactly on a
// boundary starts the later window.
//
//	event time ─────────────────────────────────────────────▶
//	| [00:00, 00:01) | [00:01, 00:02) | [00:02, 00:03) |
//	                        watermark = max event time − out-of-orderness
//	windows whose end ≤ watermark are emitted and forgotten ◀┘
//
// A window is emitted once the watermark passes its end. An event for a
// window already emitted (late) is not lost: it goes into a pending
// correction for that window (a row with Late set that carries only the late
// part), coalesced until the next Advance or Flush. So the sum of a window's
// rows always equals the sum of its counted events, whatever the arrival
// order.
//
// The package is pure: the caller passes the watermark.
package window

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// NoOutOfOrder asks for no allowed out-of-orderness (a zero Config field
// means the default).
const NoOutOfOrder = -1 * time.Nanosecond

// Config configures Windows.
type Config struct {
	Width      time.Duration // window width; zero means 1m; must divide evenly into nanoseconds since the epoch (any positive value does)
	OutOfOrder time.Duration // allowed out-of-orderness; zero means 10s; NoOutOfOrder means none; other negative values are refused
}

// Watermark returns maxEventTime − outOfOrder (zero stays zero).
func Watermark(maxEventTime time.Time, outOfOrder time.Duration) time.Time {
	if maxEventTime.IsZero() {
		return time.Time{}
	}
	if outOfOrder < 0 {
		outOfOrder = 0
	}
	return maxEventTime.Add(-outOfOrder)
}

type key struct {
	schemas.WindowKey
	start int64 // unix nanoseconds
}

type sums struct {
	events            int64
	quantity, credits schemas.Micros
	late              bool
}

// Windows holds the open windows and pending late corrections of one
// partition. It is not safe for concurrent use.
type Windows struct {
	width   int64
	open    map[key]*sums
	emitted int64 // every window with start < emitted has been emitted (unix ns)
	oldest  int64 // no open window starts before oldest
	lateN   int   // open late corrections
	pending []key // reused by Advance
}

// New returns empty Windows.
func New(cfg Config) (*Windows, error) {
	var errs []error
	if cfg.Width == 0 {
		cfg.Width = time.Minute
	}
	if cfg.Width < 0 {
		errs = append(errs, fmt.Errorf("width %v: must be positive", cfg.Width))
	}
	if cfg.OutOfOrder < 0 && cfg.OutOfOrder != NoOutOfOrder {
		errs = append(errs, fmt.Errorf("out-of-orderness %v: must not be negative (use NoOutOfOrder for none)", cfg.OutOfOrder))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Windows{width: int64(cfg.Width), open: make(map[key]*sums, 1024), emitted: -1 << 62, oldest: 1<<63 - 1}, nil
}

func (w *Windows) startOf(t time.Time) int64 {
	ns := t.UnixNano()
	s := ns - ns%w.width
	if ns%w.width < 0 {
		s -= w.width
	}
	return s
}

// Add counts one event. It does not allocate once its window exists.
func (w *Windows) Add(k schemas.WindowKey, t time.Time, quantity, credits schemas.Micros) {
	kk := key{WindowKey: k, start: w.startOf(t)}
	s := w.open[kk]
	if s == nil {
		s = &sums{late: kk.start < w.emitted}
		w.open[kk] = s
		if s.late {
			w.lateN++
		}
		if kk.start < w.oldest {
			w.oldest = kk.start
		}
	}
	s.events++
	s.quantity += quantity
	s.credits += credits
}

// Advance appends every window whose end is at or before watermark, and
// every pending late correction, sorted by (Tenant, Meter, Model, Start).
func (w *Windows) Advance(watermark time.Time, out []schemas.WindowTotal) []schemas.WindowTotal {
	if watermark.IsZero() {
		return out
	}
	// Windows with start + width ≤ watermark are complete.
	limit := w.startOf(watermark) // windows starting before limit end at or before watermark
	if limit > w.emitted {
		w.emitted = limit
	}
	if w.lateN == 0 && w.oldest >= w.emitted {
		return out // nothing due: the common case, without a scan
	}
	return w.emit(out, func(k key, s *sums) bool { return s.late || k.start < w.emitted })
}

// Flush appends everything still open or pending (end of input), in the
// same order as Advance.
func (w *Windows) Flush(out []schemas.WindowTotal) []schemas.WindowTotal {
	return w.emit(out, func(key, *sums) bool { return true })
}

func (w *Windows) emit(out []schemas.WindowTotal, due func(key, *sums) bool) []schemas.WindowTotal {
	w.pending = w.pending[:0]
	for k, s := range w.open {
		if due(k, s) {
			w.pending = append(w.pending, k)
		}
	}
	slices.SortFunc(w.pending, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Meter, b.Meter),
			cmp.Compare(a.Model, b.Model), cmp.Compare(a.start, b.start))
	})
	for _, k := range w.pending {
		s := w.open[k]
		out = append(out, schemas.WindowTotal{
			WindowKey: k.WindowKey,
			Start:     time.Unix(0, k.start).UTC(),
			End:       time.Unix(0, k.start+w.width).UTC(),
			Events:    s.events, Quantity: s.quantity, Credits: s.credits, Late: s.late,
		})
		delete(w.open, k)
	}
	w.lateN = 0
	w.oldest = 1<<63 - 1
	for k, s := range w.open {
		if s.late {
			w.lateN++
		}
		w.oldest = min(w.oldest, k.start)
	}
	return out
}

// Open returns how many windows and corrections are held.
func (w *Windows) Open() int { return len(w.open) }

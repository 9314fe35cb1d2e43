package alert

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/creditflow/creditflow/schemas"
)

// RunawayConfig tunes the runaway detector (SPEC 3.7). The zero value is the
// documented default for every field; doc.go explains the model.
type RunawayConfig struct {
	// Baseline is how much learned history the baseline holds: the credits of
	// the last Baseline/1m learned minutes. Whole minutes, 10m–24h; zero
	// means 2h.
	Baseline time.Duration
	// MinHistory is how many learned minutes a tenant needs before the
	// detector can flag it, so that a new tenant is not judged on its first
	// minutes. Whole minutes, at least Sustain minutes and at most Baseline;
	// zero means 30m.
	MinHistory time.Duration
	// Sustain is K: how many consecutive closed minutes must all be far
	// above the baseline before a runaway is flagged. 1–10; zero means 2.
	Sustain int
	// MinLogRatio is the smallest margin above the baseline median, in
	// natural log of credits per minute: a minute is "far above" only when
	// it exceeds the median by at least this factor. Zero means ln 4 (4×).
	MinLogRatio float64
	// MaxLogRatio caps the noise-driven margin Z·σ, so that a noisy tenant
	// still gets flagged for a step of exp(MaxLogRatio)× and more. At least
	// MinLogRatio; zero means ln 8 (8×).
	MaxLogRatio float64
	// Z is the robust z-score of the margin: margin = clamp(Z × 1.4826 ×
	// MAD, MinLogRatio, MaxLogRatio). Zero means 4.
	Z float64
	// Epsilon is added to every minute's credits before the log, so that
	// idle minutes stay finite; usage far below it per minute is invisible
	// to the detector. Zero means 0.01 credits.
	Epsilon schemas.Micros
	// DailyRatio is a second condition: a flagged minute must also exceed
	// DailyRatio × the tenant's long-run mean credits per minute (an
	// exponentially weighted mean over about a day of learned minutes). It
	// keeps a tenant that idles at night quiet when its day starts. Zero
	// means 3; set 1 to (almost) turn the condition off.
	DailyRatio float64
	// Quiet ends an episode: after this many consecutive ordinary minutes a
	// new runaway may be flagged again. Whole minutes, at least 1m; zero
	// means 15m.
	Quiet time.Duration
	// AdaptAfter lets a persistent new level become the normal: once an
	// episode has lasted this long its minutes are learned again, so the
	// baseline catches up and the episode ends. Whole minutes; zero means 1h.
	AdaptAfter time.Duration
	// MinEvents is the fewest events a flagged minute must hold. Zero
	// means 1 (no condition): a runaway can be bigger events as well as
	// more of them.
	MinEvents int
}

// Defaults of RunawayConfig fields left zero.
const (
	DefaultBaseline    = 2 * time.Hour
	DefaultMinHistory  = 30 * time.Minute
	DefaultSustain     = 2
	DefaultZ           = 4.0
	DefaultEpsilon     = schemas.Micros(10_000) // 0.01 credits
	DefaultDailyRatio  = 3.0
	DefaultQuiet       = 15 * time.Minute
	DefaultAdaptAfter  = time.Hour
	maxSustain         = 10
	driverSlots        = 16 // (meter, model) pairs tracked exactly per open minute
	topDrivers         = 3  // drivers named in an alert and kept per closed minute
	madToSigma         = 1.4826
	dailyMinutes       = 1440
	minBaselineMinutes = 10
)

// Defaults of the log-ratio fields left zero.
var (
	DefaultMinLogRatio = math.Log(4)
	DefaultMaxLogRatio = math.Log(8)
)

// params is a validated RunawayConfig in the units the detector uses.
type params struct {
	window     int // Baseline in minutes
	minHistory int
	sustain    int
	minLog     float64
	maxLog     float64
	z          float64
	eps        float64 // credits
	logEps     float64 // math.Log(eps): an idle minute's x
	daily      float64
	quiet      int
	adapt      int
	minEvents  int
}

func wholeMinutes(name string, d time.Duration, lo, hi time.Duration, errs *[]error) int {
	if d%time.Minute != 0 || d < lo || (hi > 0 && d > hi) {
		if hi > 0 {
			*errs = append(*errs, fmt.Errorf("runaway %s %v: must be whole minutes in [%v, %v]", name, d, lo, hi))
		} else {
			*errs = append(*errs, fmt.Errorf("runaway %s %v: must be whole minutes ≥ %v", name, d, lo))
		}
		return int(lo / time.Minute)
	}
	return int(d / time.Minute)
}

func (c RunawayConfig) params() (params, error) {
	var errs []error
	if c.Baseline == 0 {
		c.Baseline = DefaultBaseline
	}
	if c.MinHistory == 0 {
		c.MinHistory = DefaultMinHistory
	}
	if c.Sustain == 0 {
		c.Sustain = DefaultSustain
	}
	if c.MinLogRatio == 0 {
		c.MinLogRatio = DefaultMinLogRatio
	}
	if c.MaxLogRatio == 0 {
		c.MaxLogRatio = max(DefaultMaxLogRatio, c.MinLogRatio)
	}
	if c.Z == 0 {
		c.Z = DefaultZ
	}
	if c.Epsilon == 0 {
		c.Epsilon = DefaultEpsilon
	}
	if c.DailyRatio == 0 {
		c.DailyRatio = DefaultDailyRatio
	}
	if c.Quiet == 0 {
		c.Quiet = DefaultQuiet
	}
	if c.AdaptAfter == 0 {
		c.AdaptAfter = DefaultAdaptAfter
	}
	var p params
	p.window = wholeMinutes("baseline", c.Baseline, minBaselineMinutes*time.Minute, 24*time.Hour, &errs)
	p.sustain = c.Sustain
	if c.Sustain < 1 || c.Sustain > maxSustain {
		errs = append(errs, fmt.Errorf("runaway sustain %d: must be in [1, %d]", c.Sustain, maxSustain))
		p.sustain = DefaultSustain
	}
	p.minHistory = wholeMinutes("min history", c.MinHistory, time.Duration(p.sustain)*time.Minute, time.Duration(p.window)*time.Minute, &errs)
	p.quiet = wholeMinutes("quiet", c.Quiet, time.Minute, 0, &errs)
	p.adapt = wholeMinutes("adapt after", c.AdaptAfter, time.Minute, 0, &errs)
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if !finite(c.MinLogRatio) || c.MinLogRatio <= 0 {
		errs = append(errs, fmt.Errorf("runaway min log ratio %v: must be > 0", c.MinLogRatio))
	}
	if !finite(c.MaxLogRatio) || c.MaxLogRatio < c.MinLogRatio {
		errs = append(errs, fmt.Errorf("runaway max log ratio %v: must be ≥ the min log ratio %v", c.MaxLogRatio, c.MinLogRatio))
	}
	if !finite(c.Z) || c.Z < 0 {
		errs = append(errs, fmt.Errorf("runaway z %v: must be ≥ 0", c.Z))
	}
	if c.Epsilon < 0 {
		errs = append(errs, fmt.Errorf("runaway epsilon %v: must be > 0", c.Epsilon))
	}
	if !finite(c.DailyRatio) || c.DailyRatio < 0 {
		errs = append(errs, fmt.Errorf("runaway daily ratio %v: must be ≥ 0", c.DailyRatio))
	}
	p.minLog, p.maxLog, p.z = c.MinLogRatio, c.MaxLogRatio, c.Z
	p.eps = float64(c.Epsilon) / schemas.MicrosPerUnit
	p.logEps = math.Log(p.eps)
	p.daily = c.DailyRatio
	p.minEvents = c.MinEvents
	if p.minEvents == 0 {
		p.minEvents = 1
	}
	if p.minEvents < 0 {
		errs = append(errs, fmt.Errorf("min events %d: must not be negative", c.MinEvents))
	}
	return p, errors.Join(errs...)
}

// Detector flags runaway usage per tenant (SPEC 3.7). It is pure and not
// safe for concurrent use: give each partition its own. See doc.go for the
// model and its memory cost.
type Detector struct {
	p       params
	tenants map[string]*runaway
	scratch []float32
}

// NewDetector returns a Detector, or every problem with cfg.
func NewDetector(cfg RunawayConfig) (*Detector, error) {
	p, err := cfg.params()
	if err != nil {
		return nil, fmt.Errorf("runaway config: %w", err)
	}
	return &Detector{p: p, tenants: make(map[string]*runaway), scratch: make([]float32, p.window)}, nil
}

// Observe counts one counted usage event. Events should arrive roughly in
// event-time order per tenant: the event's minute bucket closes the earlier
// open one (and any idle minutes in between), and an event for a minute
// already closed is left out of the statistics (the billing path still counts
// it). It returns the runaway alert that closing minutes raised, if any: at
// most one per call. The alert's PeriodStart is zero (the detector knows no
// periods); Time is u.Time. It does not allocate unless it fires or sees a
// tenant for the first time.
func (d *Detector) Observe(u Usage) (schemas.Alert, bool) {
	r := d.tenants[u.Tenant]
	if r != nil && r.minute == unixMinute(u.Time) { // the common case: the open minute
		r.add(u.Meter, u.Model, int64(u.Credits))
		return schemas.Alert{}, false
	}
	_, al, fired := d.observeSlow(r, &u)
	return al, fired
}

// ObserveHandle is Observe for the tenant of h (named u.Tenant), without
// looking it up by name once the detector has seen the tenant: it appends
// the runaway alert, if one fires, to out. It does not keep u.
func (d *Detector) ObserveHandle(h *Handle, u *Usage, out []schemas.Alert) []schemas.Alert {
	r := h.r
	if h.d != d || r == nil {
		r = d.tenants[u.Tenant]
		h.d, h.r = d, r
	}
	if r != nil && r.minute == unixMinute(u.Time) {
		r.add(u.Meter, u.Model, int64(u.Credits))
		return out
	}
	r, al, fired := d.observeSlow(r, u)
	h.r = r
	if fired {
		out = append(out, al)
	}
	return out
}

// observeSlow is Observe for a new tenant or another minute. It returns the
// tenant's state, created when r is nil.
func (d *Detector) observeSlow(r *runaway, u *Usage) (*runaway, schemas.Alert, bool) {
	m := unixMinute(u.Time)
	if r == nil {
		r = newRunaway(u.Tenant, &d.p)
		r.started, r.minute = true, m
		d.tenants[u.Tenant] = r
	}
	if m < r.minute {
		return r, schemas.Alert{}, false
	}
	var al schemas.Alert
	fired := false
	if m > r.minute {
		al, fired = r.advance(&d.p, d.scratch, m, u.Time)
	}
	r.add(u.Meter, u.Model, int64(u.Credits))
	return r, al, fired
}

// Advance closes, for every tenant, the minutes that end at or before now, as
// if an event at now had arrived, and returns the alerts that raised, sorted
// by id. Call it with an event-time clock (a watermark), never ahead of the
// events still to come: events for a minute it closed no longer count. An
// alert's Time is the end of the last flagged minute.
func (d *Detector) Advance(now time.Time) []schemas.Alert {
	m := unixMinute(now)
	var out []schemas.Alert
	for _, r := range d.tenants {
		if !r.started || m <= r.minute {
			continue
		}
		if al, ok := r.advance(&d.p, d.scratch, m, time.Time{}); ok {
			out = append(out, al)
		}
	}
	slices.SortFunc(out, func(a, b schemas.Alert) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// unixMinute returns the index of t's minute since the Unix epoch.
func unixMinute(t time.Time) int64 {
	s := t.Unix()
	m := s / 60
	if s%60 < 0 {
		m--
	}
	return m
}

// driver is one (meter, model) pair's credits in a minute.
type driver struct {
	meter, model string
	credits      int64
}

// closedMinute is what the detector keeps of a recently closed minute, for
// the alert's explanation.
type closedMinute struct {
	minute  int64
	credits int64
	top     [topDrivers]driver
}

// runaway is one tenant's detector state.
type runaway struct {
	tenant  string
	minute  int64 // the open minute (unix minute index)
	credits int64 // credits in the open minute, saturating
	events  int32 // events in the open minute (saturating at MaxInt32)
	nDriver uint8
	started bool
	episode bool // an alert fired and the episode has not ended
	statsOK bool
	// keys[i] is pairKey of drivers[i]: add scans these, half a cache
	// line, rather than the drivers, several.
	keys    [driverSlots]uint16
	drivers [driverSlots]driver

	recent     []closedMinute // ring of the last Sustain closed minutes
	recentNext int

	learned     []float32 // ring of learned log(credits/min + ε)
	learnedNext int32
	learnedLen  int32

	run      int // consecutive suspect minutes, ending with the last closed one
	epLen    int // minutes closed since the episode's alert
	quiet    int // consecutive ordinary minutes within the episode
	mean     float64
	meanN    int64
	median   float64
	margin   float64
	baseline float64 // exp(median) − ε, credits per minute, at the last close
}

func newRunaway(tenant string, p *params) *runaway {
	return &runaway{
		tenant:  tenant,
		recent:  make([]closedMinute, p.sustain),
		learned: make([]float32, p.window),
	}
}

// add counts credits in the open minute and in its driver sketch. Up to
// driverSlots pairs are exact; beyond that the pair with the fewest credits
// gives up its slot and the newcomer inherits its count (space-saving), so a
// driver's credits are an upper bound.
func (r *runaway) add(meter, model string, c int64) {
	r.credits = satAdd(r.credits, c)
	if r.events < math.MaxInt32 {
		r.events++
	}
	n := int(r.nDriver)
	// The decoder interns meters and models, so a pair usually comes with
	// the very same string data: compare keys (of the addresses and
	// lengths) and then addresses and lengths inline first (a string ==
	// calls memequal), then contents.
	mp, lp := unsafe.StringData(meter), unsafe.StringData(model)
	k := pairKey(meter, model)
	for i := 0; i < n; i++ {
		if r.keys[i] != k {
			continue
		}
		d := &r.drivers[i]
		if unsafe.StringData(d.meter) == mp && unsafe.StringData(d.model) == lp && len(d.meter) == len(meter) && len(d.model) == len(model) {
			d.credits = satAdd(d.credits, c)
			return
		}
	}
	for i := 0; i < n; i++ {
		d := &r.drivers[i]
		if d.meter == meter && d.model == model {
			d.meter, d.model = meter, model // the next event of the pair takes the fast path
			r.keys[i] = k
			d.credits = satAdd(d.credits, c)
			return
		}
	}
	if n < driverSlots {
		r.drivers[n] = driver{meter: meter, model: model, credits: c}
		r.keys[n] = k
		r.nDriver++
		return
	}
	lo := 0
	for i := 1; i < n; i++ {
		if r.drivers[i].credits < r.drivers[lo].credits {
			lo = i
		}
	}
	r.drivers[lo] = driver{meter: meter, model: model, credits: satAdd(r.drivers[lo].credits, c)}
	r.keys[lo] = k
}

// pairKey hashes the addresses and lengths of a (meter, model) pair's
// strings: equal keys are likely the same string data, different keys
// surely are not.
func pairKey(meter, model string) uint16 {
	h := uint64(uintptr(unsafe.Pointer(unsafe.StringData(meter))))*0x9E3779B97F4A7C15 ^
		uint64(uintptr(unsafe.Pointer(unsafe.StringData(model))))*0xC2B2AE3D27D4EB4F ^
		uint64(len(meter))<<32 ^ uint64(len(model))
	return uint16(h >> 48)
}

func satAdd(a, b int64) int64 {
	s := a + b
	if b > 0 && s < a {
		return math.MaxInt64
	}
	if b < 0 && s > a {
		return math.MinInt64
	}
	return s
}

// advance closes the open minute and every idle minute before m, and opens
// m. It returns the alert that closing raised, if any; only the open minute
// can fire, since idle minutes are never above the baseline. The alert's Time
// is t, or the end of the flagged minute when t is zero.
func (r *runaway) advance(p *params, scratch []float32, m int64, t time.Time) (schemas.Alert, bool) {
	var al schemas.Alert
	fired := r.closeMinute(p, scratch, r.credits, r.events)
	if fired {
		if t.IsZero() {
			t = time.Unix((r.minute+1)*60, 0)
		}
		al = r.alert(t)
	}
	r.credits, r.events = 0, 0
	r.nDriver = 0
	clear(r.drivers[:])
	gap := m - r.minute - 1 // idle minutes between
	r.minute++
	// After window+quiet+sustain idle minutes the state no longer changes
	// except for the long-run mean, which decays in closed form.
	limit := int64(p.window + p.quiet + p.sustain)
	if n := min(gap, limit); n > 0 {
		r.closeIdle(p, n)
	}
	if gap > limit {
		rest := gap - limit
		r.decayMean(rest)
		r.minute += rest
	}
	return al, fired
}

// decayMean applies n idle minutes to the long-run mean at once.
func (r *runaway) decayMean(n int64) {
	if r.meanN == 0 {
		return
	}
	// While meanN < a day the mean is a plain average; then an EWMA.
	for n > 0 && r.meanN < dailyMinutes {
		r.meanN++
		r.mean -= r.mean / float64(r.meanN)
		n--
	}
	if n > 0 {
		r.mean *= math.Pow(1-1.0/dailyMinutes, float64(n))
		r.meanN += n
	}
}

// closeMinute closes the open minute (r.minute) with credits c and reports
// whether it fires a runaway alert.
func (r *runaway) closeMinute(p *params, scratch []float32, c int64, events int32) bool {
	credits := float64(c) / schemas.MicrosPerUnit
	if credits < 0 {
		credits = 0
	}
	x := math.Log(credits + p.eps)
	// The baseline statistics (a median and a MAD over the learned minutes)
	// are needed only for a minute that passes the cheap conditions: an idle
	// minute, the most common kind for a sparse tenant, never does (its
	// credits do not exceed DailyRatio × a mean ≥ 0), so closing it costs
	// no sort of the baseline.
	suspect := false
	if int(r.learnedLen) >= p.minHistory && credits > p.daily*r.mean && int(events) >= p.minEvents {
		if !r.statsOK {
			r.stats(p, scratch)
		}
		suspect = x > r.median+r.margin
	}
	if !suspect || (r.episode && r.epLen >= p.adapt) {
		r.learn(x, credits)
	}

	// Remember the minute for the explanation.
	cm := &r.recent[r.recentNext]
	r.recentNext = (r.recentNext + 1) % len(r.recent)
	*cm = closedMinute{minute: r.minute, credits: c}
	r.topInto(&cm.top)

	if suspect {
		r.run++
	} else {
		r.run = 0
	}
	if r.episode {
		r.epLen++
		if suspect {
			r.quiet = 0
		} else if r.quiet++; r.quiet >= p.quiet {
			r.episode = false
		}
		return false
	}
	if r.run >= p.sustain {
		r.episode, r.epLen, r.quiet = true, 0, 0
		return true
	}
	return false
}

// closeIdle closes n ≥ 1 idle minutes from the open one on, and opens the
// next: what n calls of closeMinute(p, _, 0, 0), each followed by
// r.minute++, do (TestCloseIdle), at a fraction of the cost, since a sparse
// tenant closes many. An idle minute is never suspect (its credits, 0, do
// not exceed DailyRatio × a mean ≥ 0): each is learned, ends any run of
// suspect minutes and counts toward an episode's quiet, and only the last
// Sustain of them stay in the ring of recent minutes, with no drivers (the
// open minute's were cleared).
func (r *runaway) closeIdle(p *params, n int64) {
	for range n {
		r.learn(p.logEps, 0)
	}
	k := int64(len(r.recent))
	for j := max(0, n-k); j < n; j++ {
		r.recent[(int64(r.recentNext)+j)%k] = closedMinute{minute: r.minute + j}
	}
	r.recentNext = int((int64(r.recentNext) + n) % k)
	r.run = 0
	if r.episode {
		// Each minute lengthens the episode and its quiet, until the quiet
		// ends it.
		step := int(min(n, int64(max(1, p.quiet-r.quiet))))
		r.epLen += step
		r.quiet += step
		if r.quiet >= p.quiet {
			r.episode = false
		}
	}
	r.minute += n
}

// learn adds a minute to the baseline and the long-run mean.
func (r *runaway) learn(x, credits float64) {
	r.learned[r.learnedNext] = float32(x)
	r.learnedNext = (r.learnedNext + 1) % int32(len(r.learned))
	if int(r.learnedLen) < len(r.learned) {
		r.learnedLen++
	}
	r.statsOK = false
	r.meanN++
	w := 1.0 / float64(min(r.meanN, dailyMinutes))
	r.mean += w * (credits - r.mean)
}

// stats computes the median and the margin of the learned minutes.
func (r *runaway) stats(p *params, scratch []float32) {
	n := int(r.learnedLen)
	s := scratch[:n]
	copy(s, r.learned[:n]) // the first n slots are filled until the ring wraps, then all
	// A sparse tenant (a few events an hour) has mostly idle minutes: its
	// median would be the idle floor, and any two events in neighbouring
	// minutes would look like a runaway. So the baseline is taken over the
	// active minutes when they are a minority; a tenant busy most minutes
	// keeps its idle minutes in (a drop to idle is part of its normal).
	idle := float32(math.Log(p.eps)) + 1e-4
	active := s[:0]
	for _, v := range s {
		if v > idle {
			active = append(active, v)
		}
	}
	if len(active) > 0 && len(active) < n/2 {
		s = active
	} else {
		s = scratch[:n]
		copy(s, r.learned[:n])
	}
	med := median(s)
	for i, v := range s {
		s[i] = float32(math.Abs(float64(v) - med))
	}
	mad := median(s)
	r.median = med
	r.margin = min(max(p.z*madToSigma*mad, p.minLog), p.maxLog)
	r.baseline = max(0, math.Exp(med)-p.eps)
	r.statsOK = true
}

// median returns the median of s, reordering s.
func median(s []float32) float64 {
	n := len(s)
	k := n / 2
	hi := float64(selectKth(s, k))
	if n%2 == 1 {
		return hi
	}
	lo := s[0]
	for _, v := range s[1:k] {
		lo = max(lo, v)
	}
	return (float64(lo) + hi) / 2
}

// selectKth reorders s so that s[k] holds the k-th smallest value, every
// value before it is ≤ and every value after it ≥, and returns s[k]
// (Hoare's quickselect with a median-of-three pivot).
func selectKth(s []float32, k int) float32 {
	lo, hi := 0, len(s)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if s[mid] < s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] < s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] < s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		pivot := s[mid]
		i, j := lo, hi
		for i <= j {
			for s[i] < pivot {
				i++
			}
			for s[j] > pivot {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	return s[k]
}

// topInto writes the open minute's topDrivers largest drivers into top.
func (r *runaway) topInto(top *[topDrivers]driver) {
	*top = [topDrivers]driver{}
	n := 0
	for _, d := range r.drivers[:r.nDriver] {
		i := n
		for i > 0 && lessDriver(d, top[i-1]) {
			i--
		}
		if i >= topDrivers {
			continue
		}
		copy(top[i+1:], top[i:topDrivers-1])
		top[i] = d
		n = min(n+1, topDrivers)
	}
}

// lessDriver orders drivers by credits descending, then meter and model.
func lessDriver(a, b driver) bool {
	return cmpDriver(a, b) < 0
}

func cmpDriver(a, b driver) int {
	return cmp.Or(cmp.Compare(b.credits, a.credits), strings.Compare(a.meter, b.meter), strings.Compare(a.model, b.model))
}

// alert builds the runaway alert for the last Sustain closed minutes.
func (r *runaway) alert(t time.Time) schemas.Alert {
	k := len(r.recent)
	var sum int64
	var all []driver
	onset := int64(math.MaxInt64)
	for _, cm := range r.recent {
		if cm == (closedMinute{}) {
			continue // not filled: only after a restore with a larger Sustain
		}
		sum = satAdd(sum, cm.credits)
		onset = min(onset, cm.minute)
		for _, d := range cm.top {
			if d == (driver{}) {
				continue
			}
			if i := slices.IndexFunc(all, func(e driver) bool { return e.meter == d.meter && e.model == d.model }); i >= 0 {
				all[i].credits = satAdd(all[i].credits, d.credits)
			} else {
				all = append(all, d)
			}
		}
	}
	slices.SortFunc(all, cmpDriver)
	drivers := make([]schemas.Driver, 0, min(len(all), topDrivers))
	for _, d := range all[:min(len(all), topDrivers)] {
		drivers = append(drivers, schemas.Driver{Meter: d.meter, Model: d.model, Credits: schemas.Micros(d.credits)})
	}
	onsetTime := time.Unix(onset*60, 0).UTC()
	id := make([]byte, 0, len(r.tenant)+40)
	id = append(id, r.tenant...)
	id = append(id, "/runaway/"...)
	id = onsetTime.AppendFormat(id, time.RFC3339)
	return schemas.Alert{
		ID:                string(id),
		Type:              schemas.AlertRunaway,
		Tenant:            r.tenant,
		Time:              t.UTC(),
		RatePerMinute:     schemas.Micros(sum / int64(k)),
		BaselinePerMinute: creditsToMicros(r.baseline),
		Drivers:           drivers,
	}
}

// creditsToMicros rounds a float credit figure (statistics only, never
// billing) to Micros.
func creditsToMicros(c float64) schemas.Micros {
	v := math.Round(c * schemas.MicrosPerUnit)
	if v >= math.MaxInt64 {
		return schemas.MaxMicros
	}
	if v <= 0 {
		return 0
	}
	return schemas.Micros(v)
}

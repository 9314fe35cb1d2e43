package alert

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
	"time"
	"unsafe"

	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// OverageMode says what happens past a tenant's allotment; it mirrors
// catalog.OverageMode, so a conversion OverageMode(m) adapts one to the other.
type OverageMode string

// Overage modes. The empty mode is taken as ModeBill.
const (
	ModeBill  OverageMode = "bill"  // usage past the allotment is billed, up to the cap
	ModeBlock OverageMode = "block" // usage past the allotment is refused
)

// Balance is the running balance of one tenant-period after a counted event;
// the caller computes it from the ledger (SPEC 3.5, 3.6).
type Balance struct {
	Tenant string
	Period period.Period
	// Consumed is the credits consumed so far in the period, ≥ 0.
	Consumed schemas.Micros
	// Available is rollover_in + included + grant credits available so far,
	// ≥ 0 (a negative value is taken as 0).
	Available schemas.Micros
	// Thresholds are percents of Available, ascending (the tenant's override
	// or its plan's). Alerts fire in this order.
	Thresholds []schemas.Decimal
	// Mode is the overage mode; "" means ModeBill.
	Mode OverageMode
	// CapCredits is, in bill mode, the most billable overage credits; nil
	// means no cap. Ignored in block mode.
	CapCredits *schemas.Micros
}

// Usage is one counted usage event as the alert engine needs it.
type Usage struct {
	Tenant, Meter, Model string
	Time                 time.Time      // event time
	Credits              schemas.Micros // the event's rated credits
}

// Entitlement is a tenant's entitlement state, published on change to a
// compacted topic keyed by tenant (SPEC 3.6).
type Entitlement struct {
	Tenant string
	State  schemas.Entitlement
	Period period.Period // the period whose balance decided the state
	Time   time.Time     // event time of the change (see Engine.Granted), UTC
}

// Config configures an Engine.
type Config struct {
	// Runaway configures the runaway detector (NewDetector); New validates
	// it too, so that one Config is checked at once.
	Runaway RunawayConfig
	// BurnWindow is the event-time window whose credits give the burn rate
	// behind a threshold alert's projected exhaustion. At least 1m; zero
	// means 1h.
	BurnWindow time.Duration
}

// DefaultBurnWindow is the BurnWindow used when Config leaves it zero.
const DefaultBurnWindow = time.Hour

// burnBuckets is the number of buckets the burn window is cut into.
const burnBuckets = 60

// Engine evaluates threshold, cap_reached and entitlement changes and auto
// top-ups for every tenant (SPEC 3.6). It is pure and not safe for concurrent
// use: give each partition its own, and keep it exactly-once across restarts
// with Snapshot and Restore. See doc.go for the model.
type Engine struct {
	cfg     Config
	width   time.Duration // burn bucket width
	tenants map[string]*tenant
}

// New returns an Engine, or every problem with cfg.
func New(cfg Config) (*Engine, error) {
	var errs []error
	if cfg.BurnWindow == 0 {
		cfg.BurnWindow = DefaultBurnWindow
	}
	if cfg.BurnWindow < time.Minute {
		errs = append(errs, fmt.Errorf("burn window %v: must be ≥ 1m", cfg.BurnWindow))
	}
	if _, err := cfg.Runaway.params(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("alert config: %w", err)
	}
	return &Engine{cfg: cfg, width: cfg.BurnWindow / burnBuckets, tenants: make(map[string]*tenant)}, nil
}

// tenant is one tenant's alert state. The fields an event of the current
// period touches come first, so that they share few cache lines.
type tenant struct {
	name string
	ent  entState // entNone until first published
	last int64    // latest event time seen, Unix ns; 0 when none
	// cur is the newest period seen, prev the one before; state of older
	// periods is forgotten.
	cur  periodState
	burn burn
	prev periodState
}

// Handle remembers where an Engine and a Detector keep one tenant's state,
// so that a caller counting many events of the tenant looks it up by name
// once instead of on every call (Engine.ObserveHandle, GrantedHandle,
// TopupHandle and Detector.ObserveHandle). The zero Handle is ready to use:
// it resolves by the tenant name passed with the call on first use, and
// again when it is used with another Engine or Detector (one returned by
// Restore, say). A Handle must only ever be used for one tenant; it is not
// safe for concurrent use.
type Handle struct {
	e *Engine
	t *tenant
	d *Detector
	r *runaway
}

// Prefetch asks the CPU to start loading the states h resolved to; a hint
// (see billing.Book.PrefetchState).
func (h *Handle) Prefetch() {
	if h.t != nil {
		schemas.Prefetch(uintptr(unsafe.Pointer(h.t)))
	}
	if h.r != nil {
		schemas.Prefetch(uintptr(unsafe.Pointer(h.r)))
	}
}

// tenantOf returns the engine's state of the tenant named name, resolved
// through h.
func (e *Engine) tenantOf(h *Handle, name string) *tenant {
	if h.e != e {
		h.e, h.t = e, e.tenant(name)
	}
	return h.t
}

// periodState is what must be remembered per (tenant, period) so that every
// alert and top-up fires once.
type periodState struct {
	start, end time.Time
	fired      []thresholdState
	capped     int // times the entitlement became capped in the period
	blocked    int // times it became blocked
	topups     int // top-ups made in the period
}

// thresholdState is one threshold that fired at least once in a period.
type thresholdState struct {
	t     schemas.Decimal // normalized
	spent bool            // fired and not re-armed since: a crossing does nothing
	n     int             // times fired
}

func (e *Engine) tenant(name string) *tenant {
	t := e.tenants[name]
	if t == nil {
		t = &tenant{name: name}
		e.tenants[name] = t
	}
	return t
}

// slot returns the state of period p and whether p is the tenant's current
// (newest) period, or nil when p is older than the two periods kept.
func (t *tenant) slot(p period.Period) (*periodState, bool) {
	switch {
	case p.Start.Equal(t.cur.start):
		return &t.cur, true
	case t.cur.start.IsZero() || p.Start.After(t.cur.start):
		spare := t.prev.fired[:0] // reuse the forgotten period's memory
		t.prev = t.cur
		t.cur = periodState{start: p.Start, end: p.End, fired: spare}
		return &t.cur, true
	case p.Start.Equal(t.prev.start):
		return &t.prev, false
	}
	return nil, false
}

// Observe evaluates one counted usage event u of tenant-period b.Period,
// with b the balance after counting it. It appends to out, in this order,
// a threshold alert for every threshold the utilization reached that has
// not fired in the period (or was re-armed by Granted since), in the order
// of b.Thresholds, and a cap_reached alert when the entitlement became
// capped or blocked; and it returns the entitlement when it changed (the
// first call for a tenant always returns it).
//
// Only the tenant's newest period decides its entitlement: an event of the
// period before still fires that period's thresholds, and an event of an
// older period fires nothing. It takes O(len(b.Thresholds)) time and does
// not allocate unless something fires or the tenant is new.
func (e *Engine) Observe(u Usage, b Balance, out []schemas.Alert) ([]schemas.Alert, *Entitlement) {
	out, ents := e.observe(e.tenant(b.Tenant), &u, &b, out, nil)
	if len(ents) == 0 {
		return out, nil
	}
	return out, &ents[0]
}

// ObserveHandle is Observe for the tenant of h (named b.Tenant), without
// looking it up by name: it appends the alerts to out and the entitlement,
// when it changed, to ents. It does not allocate unless something fires or
// the tenant is new to the engine, and keeps neither u nor b.
func (e *Engine) ObserveHandle(h *Handle, u *Usage, b *Balance, out []schemas.Alert, ents []Entitlement) ([]schemas.Alert, []Entitlement) {
	return e.observe(e.tenantOf(h, b.Tenant), u, b, out, ents)
}

func (e *Engine) observe(t *tenant, u *Usage, b *Balance, out []schemas.Alert, ents []Entitlement) ([]schemas.Alert, []Entitlement) {
	ns := u.Time.UnixNano()
	t.last = max(t.last, ns)
	t.burn.add(e.width, ns, int64(u.Credits))
	ps, current := &t.cur, true
	// Identical values (the common case) compare equal with ==; slot
	// compares instants.
	if b.Period.Start != t.cur.start {
		if ps, current = t.slot(b.Period); ps == nil {
			return out, ents
		}
	}
	c, a := b.Consumed, max(b.Available, 0)
	var state entState
	if current {
		state = entitlementOf(b)
	}
	if c > 0 {
		// c × 100 for whole-percent thresholds, the common case: crossed
		// inline.
		ch, cl := bits.Mul64(uint64(c), 100)
		for i := range b.Thresholds {
			th := b.Thresholds[i]
			if ps.spent(th) {
				continue
			}
			var r bool
			if th.Scale == 0 && a > 0 && th.Coef > 0 {
				h, l := bits.Mul64(uint64(th.Coef), uint64(a))
				r = ch > h || ch == h && cl >= l
			} else {
				r = crossed(th, c, a)
			}
			if r {
				out = e.fire(t, ps, th, u, b, state.public(), out)
			}
		}
	}
	if !current || state == t.ent {
		return out, ents
	}
	if state == entCapped || state == entBlocked {
		n := &ps.capped
		if state == entBlocked {
			n = &ps.blocked
		}
		*n++
		out = append(out, schemas.Alert{
			ID:          capID(b.Tenant, ps.start, state.public(), *n),
			Type:        schemas.AlertCapReached,
			Tenant:      b.Tenant,
			PeriodStart: ps.start.UTC(),
			Time:        u.Time.UTC(),
			Consumed:    c,
			Available:   b.Available,
			Entitlement: state.public(),
		})
	}
	t.ent = state
	return out, append(ents, Entitlement{Tenant: b.Tenant, State: state.public(), Period: b.Period, Time: u.Time.UTC()})
}

// fire appends the alert for threshold th, which the utilization has
// reached, unless it fired in ps and was not re-armed since.
func (e *Engine) fire(t *tenant, ps *periodState, th schemas.Decimal, u *Usage, b *Balance, state schemas.Entitlement, out []schemas.Alert) []schemas.Alert {
	th = th.Normalize(0)
	i := ps.find(th)
	if i >= 0 && ps.fired[i].spent {
		return out
	}
	if i < 0 {
		ps.fired = append(ps.fired, thresholdState{t: th})
		i = len(ps.fired) - 1
	}
	f := &ps.fired[i]
	f.spent = true
	f.n++
	return append(out, schemas.Alert{
		ID:                  thresholdID(b.Tenant, ps.start, th, f.n),
		Type:                schemas.AlertThreshold,
		Tenant:              b.Tenant,
		PeriodStart:         ps.start.UTC(),
		Time:                u.Time.UTC(),
		Threshold:           th,
		Consumed:            b.Consumed,
		Available:           b.Available,
		ProjectedExhaustion: t.burn.exhaustion(e.width, u.Time, b.Consumed, max(b.Available, 0)),
		Entitlement:         state,
	})
}

// Granted is called after a grant raised the allotment of tenant-period
// b.Period, with b the balance after it. It re-arms every threshold that
// fired in the period and that the utilization is now below, so that it can
// fire again (with the next id), and returns the entitlement when it changed
// (a grant may return a tenant to active or overage). The change's Time is
// the latest event time the engine has seen for the tenant, zero if none.
// A grant never raises an alert.
func (e *Engine) Granted(b Balance) *Entitlement {
	ents := e.granted(e.tenant(b.Tenant), &b, nil)
	if len(ents) == 0 {
		return nil
	}
	return &ents[0]
}

// GrantedHandle is Granted for the tenant of h (named b.Tenant), without
// looking it up by name: it appends the entitlement, when it changed, to
// ents. It does not keep b.
func (e *Engine) GrantedHandle(h *Handle, b *Balance, ents []Entitlement) []Entitlement {
	return e.granted(e.tenantOf(h, b.Tenant), b, ents)
}

func (e *Engine) granted(t *tenant, b *Balance, ents []Entitlement) []Entitlement {
	ps, current := t.slot(b.Period)
	if ps == nil {
		return ents
	}
	c, a := b.Consumed, max(b.Available, 0)
	for i := range ps.fired {
		f := &ps.fired[i]
		if f.spent && !crossed(f.t, c, a) {
			f.spent = false
		}
	}
	if !current || t.ent == entNone {
		return ents // nothing published yet: the next Observe publishes
	}
	state := entitlementOf(b)
	if state == t.ent {
		return ents
	}
	t.ent = state
	var last time.Time
	if t.last != 0 {
		last = time.Unix(0, t.last).UTC()
	}
	return append(ents, Entitlement{Tenant: b.Tenant, State: state.public(), Period: b.Period, Time: last})
}

// spent reports whether threshold th, compared as given (not normalized),
// fired in ps and was not re-armed since: a quick test that spares fire the
// normalization for the thresholds that have fired already, as catalog
// thresholds usually come normalized. A false answer decides nothing.
func (ps *periodState) spent(th schemas.Decimal) bool {
	for i := range ps.fired {
		if f := &ps.fired[i]; f.t == th {
			return f.spent
		}
	}
	return false
}

// find returns the index of threshold th (normalized) or -1.
func (ps *periodState) find(th schemas.Decimal) int {
	for i := range ps.fired {
		if ps.fired[i].t == th {
			return i
		}
	}
	return -1
}

// entState is an entitlement state, compact for the hot path.
type entState uint8

const (
	entNone entState = iota // not published yet
	entActive
	entOverage
	entCapped
	entBlocked
)

var entNames = [...]schemas.Entitlement{"", schemas.EntitlementActive, schemas.EntitlementOverage, schemas.EntitlementCapped, schemas.EntitlementBlocked}

// public returns s as the wire value.
func (s entState) public() schemas.Entitlement { return entNames[s] }

// parseEnt returns the entState of e, and false for an unknown state.
func parseEnt(e schemas.Entitlement) (entState, bool) {
	for i, n := range entNames {
		if n == e {
			return entState(i), true
		}
	}
	return entNone, false
}

// entitlementOf returns the entitlement state that balance b implies. Past
// the allotment means consumed > available, exactly when the ledger's
// overage max(0, C − A) is positive; capped means a positive overage that
// has reached the cap.
func entitlementOf(b *Balance) entState {
	a := max(b.Available, 0)
	if b.Consumed <= a {
		return entActive
	}
	if b.Mode == ModeBlock {
		return entBlocked
	}
	if b.CapCredits != nil && b.Consumed-a >= *b.CapCredits {
		return entCapped
	}
	return entOverage
}

// crossed reports whether utilization c/a has reached th percent, exactly:
// c × 100 ≥ th × a, by cross-multiplication in 128 bits (big.Int for
// thresholds with more than 16 fractional digits). Nothing consumed never
// crosses; with a = 0 any consumption crosses every threshold.
func crossed(th schemas.Decimal, c, a schemas.Micros) bool {
	switch {
	case c <= 0:
		return false
	case a <= 0 || th.Coef <= 0:
		return true
	case th.Scale >= uint8(len(hundredPow10)):
		return crossedBig(th, c, a)
	}
	// Observe inlines this for whole percents.
	h1, l1 := bits.Mul64(uint64(c), hundredPow10[th.Scale])
	h2, l2 := bits.Mul64(uint64(th.Coef), uint64(a))
	return h1 > h2 || h1 == h2 && l1 >= l2
}

// hundredPow10[s] is 100 × 10^s, the scale of a percent with s fractional
// digits; c × hundredPow10[s] < 2^63 × 10^18 < 2^128.
var hundredPow10 = [...]uint64{
	1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
}

// crossedBig is crossed for thresholds of more than 16 fractional digits.
func crossedBig(th schemas.Decimal, c, a schemas.Micros) bool {
	l := new(big.Int).Mul(big.NewInt(int64(c)), new(big.Int).Mul(big.NewInt(100), new(big.Int).SetUint64(schemas.Pow10(int(th.Scale)))))
	r := new(big.Int).Mul(big.NewInt(th.Coef), big.NewInt(int64(a)))
	return l.Cmp(r) >= 0
}

// appendPeriodKey appends "<tenant>/<period start RFC 3339>/".
func appendPeriodKey(b []byte, tenant string, start time.Time) []byte {
	b = append(b, tenant...)
	b = append(b, '/')
	b = start.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '/')
}

// thresholdID is "<tenant>/<period start>/threshold/<percent>/<n>".
func thresholdID(tenant string, start time.Time, th schemas.Decimal, n int) string {
	b := make([]byte, 0, len(tenant)+48)
	b = appendPeriodKey(b, tenant, start)
	b = append(b, "threshold/"...)
	b = th.Append(b)
	b = append(b, '/')
	return string(strconv.AppendInt(b, int64(n), 10))
}

// capID is "<tenant>/<period start>/cap_reached/<entitlement>/<n>".
func capID(tenant string, start time.Time, state schemas.Entitlement, n int) string {
	b := make([]byte, 0, len(tenant)+48)
	b = appendPeriodKey(b, tenant, start)
	b = append(b, "cap_reached/"...)
	b = append(b, state...)
	b = append(b, '/')
	return string(strconv.AppendInt(b, int64(n), 10))
}

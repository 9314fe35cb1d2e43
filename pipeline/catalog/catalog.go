package catalog

import (
	"math"
	"time"

	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// Catalog is a validated pricing catalog (SPEC 2.3). It is immutable once
// Parse or Load returns it and safe for concurrent use by any number of
// goroutines; callers must not modify its slices or the values they point to.
type Catalog struct {
	Currency         string // ISO 4217 code, three uppercase letters; required
	CurrencyDecimals int    // fractional digits of money amounts, 0–6; default 2

	Meters  []*Meter  // sorted by Name
	Rates   []*Rate   // sorted by Meter, Model, EffectiveFrom
	Plans   []*Plan   // sorted by ID
	Tenants []*Tenant // sorted by ID

	// Warnings lists non-fatal findings, sorted by line then path: unknown
	// keys (ignored) and settings that have no effect. A catalog with
	// warnings loads; callers should show them to the operator.
	Warnings []Problem

	meters  map[string]*Meter
	plans   map[string]*Plan
	tenants map[string]*Tenant
	rates   map[string]map[string]*rateSeries // meter → model → series
}

// AnyModel is the model of a rate that applies to every model without a
// rate of its own, and to events that carry no model.
const AnyModel = "*"

// Meter is a kind of usage that events report.
type Meter struct {
	Name        string // unique; required
	Unit        string // optional, e.g. "token"
	Description string // optional
}

// Rate prices one unit of a meter, for one model, from EffectiveFrom on
// until the next rate of the same (Meter, Model) takes effect.
type Rate struct {
	Meter          string          // a declared meter
	Model          string          // AnyModel ("*") when the catalog omits it
	CreditsPerUnit schemas.Decimal // ≥ 0
	EffectiveFrom  time.Time       // UTC
}

// Plan is a subscription plan.
type Plan struct {
	ID              string
	Fee             schemas.Decimal   // money per period, ≥ 0, scale = CurrencyDecimals; default 0
	IncludedCredits schemas.Micros    // credits included per period, ≥ 0; default 0
	Thresholds      []schemas.Decimal // alert thresholds in percent of the allotment, ascending, each in (0, 1000]; default [50, 80, 100]; empty = no threshold alerts
	Rollover        *Rollover         // nil = unused included credits never roll over
	Overage         Overage           // what happens past the allotment; default mode block
	Bundles         []Bundle          // credit bundles offered to the plan's tenants, in catalog order
}

// Rollover limits the included credits of a period that carry over to the
// next one (SPEC 3.5). A nil limit does not limit; at least one is set.
type Rollover struct {
	MaxPercent *schemas.Decimal // percent of the included credits, in [0, 100]
	MaxCredits *schemas.Micros  // ≥ 0
}

// OverageMode says what happens to usage past a tenant's allotment.
type OverageMode string

const (
	// OverageBill bills overage at the plan's price per credit, up to an
	// optional cap; usage past the cap is uncollected.
	OverageBill OverageMode = "bill"
	// OverageBlock bills nothing past the allotment; the tenant's
	// entitlement becomes blocked. It is the mode of a plan with no overage.
	OverageBlock OverageMode = "block"
)

// Overage is a plan's overage policy. In block mode every other field is
// zero. In bill mode at most one of CapCredits and CapAmount is set, and
// CapAmount is only set when PricePerCredit > 0.
type Overage struct {
	Mode           OverageMode
	PricePerCredit schemas.Decimal  // money per credit, ≥ 0; any precision (a unit price)
	CapCredits     *schemas.Micros  // billable overage credits per period at most; nil = no cap
	CapAmount      *schemas.Decimal // overage money per period at most; nil = no cap
}

// Bundle is a block of prepaid credits a plan's tenants may buy.
type Bundle struct {
	ID      string          // unique within its plan
	Credits schemas.Micros  // > 0
	Price   schemas.Decimal // money, ≥ 0, scale = CurrencyDecimals
}

// AutoTopup buys a bundle automatically when a tenant's balance runs low
// (SPEC 3.6).
type AutoTopup struct {
	BelowCredits schemas.Micros // top up while the balance is below this, ≥ 0
	Bundle       string         // bundle ID, offered by every plan the tenant is ever on
	MaxPerPeriod int            // top-ups per period at most, ≥ 1; default 1
}

// BundleOf returns the bundle a buys under plan p, and false when p does not
// offer it (Parse guarantees that every plan of the tenant does).
func (a *AutoTopup) BundleOf(p *Plan) (Bundle, bool) {
	if a == nil || p == nil {
		return Bundle{}, false
	}
	for _, b := range p.Bundles {
		if b.ID == a.Bundle {
			return b, true
		}
	}
	return Bundle{}, false
}

// PlanChange moves a tenant to another plan from a period start on.
type PlanChange struct {
	Effective time.Time // UTC; a period start of the tenant's calendar after its Start
	Plan      string    // a declared plan
}

// Tenant is a customer account.
type Tenant struct {
	ID        string         // [A-Za-z0-9._:-]{1,128}
	Plan      string         // plan in force from Start until the first PlanChange
	AnchorDay int            // day of month periods start on, 1–28; default 1
	Timezone  string         // IANA name; default "UTC"
	Location  *time.Location // loaded Timezone; never nil
	Start     time.Time      // UTC start of the first period; required

	Thresholds []schemas.Decimal // nil = the plan's; non-nil (possibly empty) replaces them
	CapCredits *schemas.Micros   // replaces the plan's overage cap (bill mode only)
	CapAmount  *schemas.Decimal  // replaces the plan's overage cap (bill mode only); at most one of the two

	AutoTopup   *AutoTopup   // nil = no automatic top-up
	PlanChanges []PlanChange // sorted by Effective; effective dates unique
}

// Calendar returns the tenant's billing-period calendar.
func (t *Tenant) Calendar() period.Calendar {
	return period.Calendar{AnchorDay: t.AnchorDay, Location: t.Location, Start: t.Start}
}

// Meter returns the named meter, or nil when the catalog has none.
func (c *Catalog) Meter(name string) *Meter { return c.meters[name] }

// Tenant returns the tenant with the given id, or nil when unknown.
func (c *Catalog) Tenant(id string) *Tenant { return c.tenants[id] }

// Plan returns the plan with the given id, or nil when unknown.
func (c *Catalog) Plan(id string) *Plan { return c.plans[id] }

// PlanAt returns the plan in force for tenant t in the period that starts at
// periodStart: the plan of the latest plan change effective at or before
// periodStart, or t.Plan when there is none.
func (c *Catalog) PlanAt(t *Tenant, periodStart time.Time) *Plan {
	id := t.Plan
	for _, ch := range t.PlanChanges {
		if ch.Effective.After(periodStart) {
			break
		}
		id = ch.Plan
	}
	return c.plans[id]
}

// Thresholds returns the alert thresholds (percent, ascending) that apply to
// tenant t on plan p: the tenant's override when it has one, else the plan's.
func (c *Catalog) Thresholds(t *Tenant, p *Plan) []schemas.Decimal {
	if t != nil && t.Thresholds != nil {
		return t.Thresholds
	}
	return p.Thresholds
}

// OverageFor returns plan p's overage policy as it applies to tenant t. In
// bill mode, a tenant cap override (CapCredits or CapAmount) replaces the
// plan's cap, whichever kind the plan uses; in block mode the overrides have
// no effect.
func (c *Catalog) OverageFor(t *Tenant, p *Plan) Overage {
	o := p.Overage
	if o.Mode != OverageBill || t == nil {
		return o
	}
	switch {
	case t.CapCredits != nil:
		o.CapCredits, o.CapAmount = t.CapCredits, nil
	case t.CapAmount != nil:
		o.CapCredits, o.CapAmount = nil, t.CapAmount
	}
	return o
}

// Rate returns the credits per unit for one event of meter and model at
// event time t (SPEC 2.3):
//
//  1. among the rates of (meter, model) with EffectiveFrom ≤ t, the latest;
//  2. else the latest AnyModel ("*") rate of meter with EffectiveFrom ≤ t;
//  3. else false.
//
// An empty model is looked up as AnyModel. Rate does not allocate and takes
// O(log n) in the number of rates of the (meter, model). A caller that
// prices many events of one (meter, model) resolves it once with Pricing.
func (c *Catalog) Rate(meter, model string, t time.Time) (schemas.Decimal, bool) {
	return c.Pricing(meter, model).At(t)
}

// Pricing is the rate schedule of one (meter, model), resolved once so that
// pricing an event of it costs no map lookup: Catalog.Pricing(meter,
// model).At(t) is Catalog.Rate(meter, model, t). It stays valid as long as
// the Catalog (which is immutable). The zero Pricing has no rate.
type Pricing struct {
	model, any *rateSeries // the (meter, model) rates and the meter's AnyModel rates; nil = none
}

// Pricing returns the rate schedule that Rate applies to events of meter and
// model: the zero Pricing when the catalog has no rate for meter (including
// an unknown meter). It looks up two maps; it does not allocate.
func (c *Catalog) Pricing(meter, model string) Pricing {
	models := c.rates[meter]
	if models == nil {
		return Pricing{}
	}
	p := Pricing{any: models[AnyModel]}
	if model != "" && model != AnyModel {
		p.model = models[model]
	}
	return p
}

// At returns the credits per unit in force at event time t, following the
// rules of Catalog.Rate. It does not allocate.
func (p Pricing) At(t time.Time) (schemas.Decimal, bool) {
	return p.AtUnixNano(unixNanos(t))
}

// AtUnixNano is At for an event time given as t.UnixNano(). Instants outside
// the years 1678–2262, which UnixNano cannot represent, are given as
// math.MinInt64 (earlier) or math.MaxInt64 (later), or passed to At.
func (p Pricing) AtUnixNano(ns int64) (schemas.Decimal, bool) {
	if d, ok := p.model.at(ns); ok {
		return d, true
	}
	return p.any.at(ns)
}

// SpanUnixNano is AtUnixNano that also returns the interval [from, until)
// of nanoseconds around ns over which AtUnixNano gives the same answer, so
// that a caller can reuse the answer for the events inside it. until is
// math.MaxInt64 when the answer holds from from on (math.MaxInt64 itself
// excepted), and from is math.MinInt64 when it holds since ever.
func (p Pricing) SpanUnixNano(ns int64) (rate schemas.Decimal, ok bool, from, until int64) {
	modelFirst := int64(math.MaxInt64) // the first model rate takes over there
	if p.model != nil {
		if k := p.model.index(ns); k >= 0 {
			return p.model.cpu[k], true, p.model.from[k], p.model.next(k)
		}
		modelFirst = p.model.from[0]
	}
	if p.any == nil {
		return schemas.Decimal{}, false, math.MinInt64, modelFirst
	}
	k := p.any.index(ns)
	if k < 0 {
		return schemas.Decimal{}, false, math.MinInt64, min(p.any.from[0], modelFirst)
	}
	return p.any.cpu[k], true, p.any.from[k], min(p.any.next(k), modelFirst)
}

// rateSeries holds one (meter, model)'s rates in effective order, as
// parallel slices for a cache-friendly binary search.
type rateSeries struct {
	from []int64 // EffectiveFrom in Unix nanoseconds, strictly ascending
	cpu  []schemas.Decimal
}

// at returns the rate in force at ns: the last entry with from ≤ ns.
func (s *rateSeries) at(ns int64) (schemas.Decimal, bool) {
	if s == nil {
		return schemas.Decimal{}, false
	}
	if k := s.index(ns); k >= 0 {
		return s.cpu[k], true
	}
	return schemas.Decimal{}, false
}

// index returns the index of the last entry with from ≤ ns, or -1.
func (s *rateSeries) index(ns int64) int {
	// Find the first index whose from > ns.
	lo, hi := 0, len(s.from)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.from[mid] <= ns {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - 1
}

// next returns where entry k stops being in force: the next entry's from,
// or math.MaxInt64 for the last entry.
func (s *rateSeries) next(k int) int64 {
	if k+1 < len(s.from) {
		return s.from[k+1]
	}
	return math.MaxInt64
}

// Bounds of the instants whose Unix nanoseconds fit in an int64.
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// unixNanos returns t in Unix nanoseconds, clamped to the int64 range so
// that instants outside 1677–2262 still order correctly.
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return math.MinInt64
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

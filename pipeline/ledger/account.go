package ledger

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// MaxPeriods is the number of periods after its start that an account
// tracks: usage or a grant dated later than that is refused (1000 years of
// monthly periods; the pipeline refuses events from the future long before).
const MaxPeriods = 12_000

// none is the "no period" sentinel of dirty.
const none = math.MaxInt

// Account is one tenant's ledger: its counted usage per period, its grants,
// and the figures of every period it has closed. It is pure (no I/O, no
// clock) and not safe for concurrent use; give each tenant's account to one
// goroutine at a time.
//
// See the package documentation for the model.
type Account struct {
	// What counting an event of the current period touches comes first,
	// so that it shares few cache lines: the hint, usage and live cache.
	hint   int              // index of the period the last lookup found
	hintP  period.Period    // periods[hint]
	usage  []schemas.Micros // consumed credits per period index
	valid  int              // starts[0..valid] are up to date
	dirty  int              // earliest period whose inputs changed since the last close; none when none
	closed int              // periods 0..closed-1 are closed
	live   liveCache

	tenant   string
	currency string
	decimals int
	cal      period.Calendar
	src      termsSource

	periods []period.Period  // periods[i] is period i, generated on demand
	terms   []*terms         // terms per period index, filled on demand
	grants  []grant          // in the order they were added
	byID    map[string]int32 // grant id → index in grants; nil until the first grant
	order   []int32          // grant indices in drawdown order
	starts  []start          // chain state at the start of each period
	views   []view           // views[i]: figures of closed period i as last evaluated

	own, def   frac    // revenue accumulators of step
	tmp1, tmp2 big.Int // scratch of step
}

// grant is a grant with its periods resolved.
type grant struct {
	schemas.Grant
	first  int             // index of the first period it is usable in
	last   int             // index of the last period it is usable in; -1 = never expires
	price  schemas.Decimal // billed price: Price rounded half-up to the currency's decimals
	value  *unitValue      // value of one micro-credit, price ÷ credits; nil when 0 or not a purchased kind
	billed bool            // its credit_purchase line has been written
}

// expiry orders grants in drawdown order: earliest last period first,
// non-expiring last.
func (g *grant) expiry() int {
	if g.last < 0 {
		return math.MaxInt
	}
	return g.last
}

// start is the chain state at the start of a period.
type start struct {
	R   schemas.Micros   // rollover in
	bal []schemas.Micros // remaining credits by grant index; an index past the end holds the grant's full credits
}

func (s *start) balance(i int32, g *grant) schemas.Micros {
	if int(i) < len(s.bal) {
		return s.bal[i]
	}
	return g.Credits
}

// view is what the account keeps of a closed period: its figures as last
// evaluated, exact.
type view struct {
	R, G, C, O schemas.Micros
	amount     schemas.Decimal // overage amount, rounded
	revenue    *big.Rat        // the period's own recognized revenue, exact (without adjustments of other periods)
}

// NewAccount returns the empty account of tenant t of catalog cat. cat must
// be a catalog returned by catalog.Parse or catalog.Load and t one of its
// tenants; NewAccount panics when t's calendar is invalid, which such a
// catalog never allows.
func NewAccount(cat *catalog.Catalog, t *catalog.Tenant) *Account {
	a, err := newAccount(cat, t)
	if err != nil {
		panic(fmt.Sprintf("ledger.NewAccount: %v", err))
	}
	return a
}

func newAccount(cat *catalog.Catalog, t *catalog.Tenant) (*Account, error) {
	var errs []error
	if cat == nil {
		errs = append(errs, errors.New("catalog: required"))
	}
	if t == nil {
		errs = append(errs, errors.New("tenant: required"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cal := t.Calendar()
	if err := cal.Validate(); err != nil {
		return nil, fmt.Errorf("tenant %q calendar: %w", t.ID, err)
	}
	if cat.CurrencyDecimals < 0 || cat.CurrencyDecimals > schemas.MaxScale {
		return nil, fmt.Errorf("currency decimals %d: must be 0–%d", cat.CurrencyDecimals, schemas.MaxScale)
	}
	a := &Account{
		tenant:   t.ID,
		currency: cat.Currency,
		decimals: cat.CurrencyDecimals,
		cal:      cal,
		src:      termsSource{cat: cat, tenant: t},
		periods:  []period.Period{cal.First()},
		starts:   []start{{}},
		dirty:    none,
	}
	a.hintP = a.periods[0]
	return a, nil
}

// Tenant returns the id of the account's tenant.
func (a *Account) Tenant() string { return a.tenant }

// index returns the index of the period that contains t, generating periods
// as needed; ok is false when t is before the tenant's start.
func (a *Account) index(t time.Time) (int, bool, error) {
	if a.hintP.Contains(t) { // the common case: the period of the last lookup
		return a.hint, true, nil
	}
	if t.Before(a.periods[0].Start) {
		return 0, false, nil
	}
	for last := a.periods[len(a.periods)-1]; !t.Before(last.End); last = a.periods[len(a.periods)-1] {
		if len(a.periods) >= MaxPeriods {
			return 0, false, fmt.Errorf("time %s is more than %d periods after the tenant's start %s",
				t.UTC().Format(time.RFC3339), MaxPeriods, a.periods[0].Start.Format(time.RFC3339))
		}
		a.periods = append(a.periods, a.cal.Next(last))
	}
	// First period whose end is after t.
	lo, hi := 0, len(a.periods)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if t.Before(a.periods[mid].End) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	a.hint, a.hintP = lo, a.periods[lo]
	return lo, true, nil
}

// period returns period i, generating periods as needed.
func (a *Account) period(i int) period.Period {
	for len(a.periods) <= i {
		a.periods = append(a.periods, a.cal.Next(a.periods[len(a.periods)-1]))
	}
	return a.periods[i]
}

// termsAt returns the terms of period i.
func (a *Account) termsAt(i int) *terms {
	for len(a.terms) <= i {
		j := len(a.terms)
		a.terms = append(a.terms, a.src.at(a.period(j).Start))
	}
	return a.terms[i]
}

func (a *Account) usageAt(i int) schemas.Micros {
	if i < len(a.usage) {
		return a.usage[i]
	}
	return 0
}

// touch records that the inputs of period i changed.
func (a *Account) touch(i int) {
	a.valid = min(a.valid, i)
	a.dirty = min(a.dirty, i)
	if i < a.live.k {
		a.live.ok = false
	}
}

// AddUsage counts credits consumed at event time t into the period that
// contains t. It fails when t is before the tenant's start, when credits is
// negative, or when the period's total would overflow. Usage of a period
// that is already closed is billed by the next close as a late usage
// adjustment.
func (a *Account) AddUsage(t time.Time, credits schemas.Micros) error {
	_, err := a.AddUsageAt(t, credits)
	return err
}

// AddUsageAt is AddUsage that also returns the number of the period that
// contains t: 0 for the tenant's first period, 1 for the next, and so on.
// Pass it to BalanceOf.
func (a *Account) AddUsageAt(t time.Time, credits schemas.Micros) (period int, err error) {
	if credits < 0 {
		return 0, fmt.Errorf("add usage of tenant %q at %s: credits %s: must not be negative",
			a.tenant, t.UTC().Format(time.RFC3339), credits)
	}
	i, ok, err := a.index(t)
	if err != nil {
		return 0, fmt.Errorf("add usage of tenant %q: %w", a.tenant, err)
	}
	if !ok {
		return 0, fmt.Errorf("add usage of tenant %q at %s: before the tenant's start %s",
			a.tenant, t.UTC().Format(time.RFC3339), a.periods[0].Start.Format(time.RFC3339))
	}
	if credits == 0 {
		return i, nil
	}
	for len(a.usage) <= i {
		a.usage = append(a.usage, 0)
	}
	sum, err := schemas.AddMicros(a.usage[i], credits)
	if err != nil {
		return 0, fmt.Errorf("add usage of tenant %q to period %s: %w", a.tenant, a.periods[i], err)
	}
	a.usage[i] = sum
	a.touch(i)
	return i, nil
}

// AddGrant adds prepaid credits. It is idempotent by g.ID: a grant whose id
// was added before is ignored, whatever its content (the first copy wins).
// It fails when g is invalid: empty id, a tenant other than the account's
// (an empty tenant is accepted), credits ≤ 0, a negative price, an unknown
// kind, a negative expires_after_periods or a zero time. A grant dated
// before the tenant's start is usable from the first period on, and its
// expiry counts from there.
func (a *Account) AddGrant(g schemas.Grant) error {
	var errs []error
	if g.ID == "" {
		errs = append(errs, errors.New("id: required"))
	}
	if g.Tenant != "" && g.Tenant != a.tenant {
		errs = append(errs, fmt.Errorf("tenant %q: the account is tenant %q's", g.Tenant, a.tenant))
	}
	if g.Credits <= 0 {
		errs = append(errs, fmt.Errorf("credits %s: must be > 0", g.Credits))
	}
	if g.Price.Sign() < 0 {
		errs = append(errs, fmt.Errorf("price %s: must be ≥ 0", g.Price))
	}
	if !g.Kind.Valid() {
		errs = append(errs, fmt.Errorf("kind %q: must be bundle, topup, promo or adjustment", g.Kind))
	}
	if g.ExpiresAfterPeriods < 0 {
		errs = append(errs, fmt.Errorf("expires_after_periods %d: must be ≥ 0", g.ExpiresAfterPeriods))
	}
	if g.Time.IsZero() {
		errs = append(errs, errors.New("time: required"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("add grant %q to tenant %q: %w", g.ID, a.tenant, errors.Join(errs...))
	}
	if _, dup := a.byID[g.ID]; dup {
		return nil
	}
	first, _, err := a.index(g.Time) // before the start: period 0
	if err != nil {
		return fmt.Errorf("add grant %q to tenant %q: %w", g.ID, a.tenant, err)
	}
	price, err := schemas.RoundHalfUp(g.Price.Rat(), a.decimals)
	if err != nil {
		return fmt.Errorf("add grant %q to tenant %q: price %s: %w", g.ID, a.tenant, g.Price, err)
	}
	g.Tenant = a.tenant
	g.Time = g.Time.UTC()
	a.insertGrant(grant{Grant: g, first: first, last: lastPeriod(first, g.ExpiresAfterPeriods), price: price})
	a.touch(first)
	return nil
}

func lastPeriod(first, k int) int {
	if k <= 0 {
		return -1
	}
	return first + k - 1
}

// insertGrant appends g and keeps order in drawdown order.
func (a *Account) insertGrant(g grant) {
	if a.byID == nil {
		a.byID = make(map[string]int32)
	}
	if g.Kind.Purchased() && g.price.Sign() > 0 {
		g.value = newUnitValue(g.price, g.Credits)
	}
	i := int32(len(a.grants))
	a.grants = append(a.grants, g)
	a.byID[g.ID] = i
	pos, _ := slices.BinarySearchFunc(a.order, i, func(j, i int32) int { return a.drawdownCmp(j, i) })
	a.order = slices.Insert(a.order, pos, i)
	if g.first <= a.live.k {
		a.live.ok = false
	}
}

// drawdownCmp orders grants by earliest expiry (non-expiring last), then
// time, then id (SPEC 3.5).
func (a *Account) drawdownCmp(i, j int32) int {
	g, h := &a.grants[i], &a.grants[j]
	if c := cmp.Compare(g.expiry(), h.expiry()); c != 0 {
		return c
	}
	if c := g.Time.Compare(h.Time); c != 0 {
		return c
	}
	return cmp.Compare(g.ID, h.ID)
}

// NextToClose returns the first period not yet closed.
func (a *Account) NextToClose() period.Period { return a.period(a.closed) }

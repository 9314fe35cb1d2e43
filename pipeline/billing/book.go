// Package billing keeps every tenant's running account: it routes counted
// usage and grants into the ledger, evaluates threshold, cap, top-up and
// runaway alerts on every counted event, and closes billing periods as the
// processing clock passes their end plus the close grace. Replay and the
// streaming pipeline drive the same Book, so both produce the same numbers.
//
// Alerts are evaluated only for events of a period that is not closed yet: a
// late event for a closed period is billed by the next close as an
// adjustment, but raises no live alert for a period that is history.
//
// The package is pure: clocks are arguments.
package billing

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/creditflow/creditflow/pipeline/alert"
	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/ledger"
	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// Config configures a Book.
type Config struct {
	CloseGrace time.Duration // a period is closed once its end plus CloseGrace has passed; zero means 1h
	Alert      alert.Config  // thresholds, burn rate and runaway detection
	NoRunaway  bool          // switch the runaway detector off
	// Closable limits which periods may be closed (`creditflow close
	// --period`); nil means every period.
	Closable func(t *catalog.Tenant, p period.Period) bool
}

// Output collects what processing produced; callers reset it between uses.
type Output struct {
	Alerts       []schemas.Alert
	Entitlements []alert.Entitlement
	Grants       []schemas.Grant // auto top-up grants to publish
	Closes       []ledger.Closed
}

// Reset empties o, keeping its capacity.
func (o *Output) Reset() {
	o.Alerts = o.Alerts[:0]
	o.Entitlements = o.Entitlements[:0]
	o.Grants = o.Grants[:0]
	o.Closes = o.Closes[:0]
}

// Book holds every tenant's account.
type Book struct {
	cfg       Config
	cat       *catalog.Catalog
	accounts  map[string]*account
	index     accountIndex  // accounts by the address of the tenant name's bytes
	order     []*account    // catalog order
	plans     *ledger.Plans // compiled plans, shared by the accounts
	engine    *alert.Engine
	detector  *alert.Detector
	nextClose time.Time // earliest instant at which some period becomes closable
	// counted lists the tenants Count booked usage for since the last
	// ClearCounted; an account is in it when its countedIn is countEpoch.
	counted    []string
	countEpoch uint32
}

type account struct {
	// Count reads the fields in this order, so that they share few cache
	// lines.
	id     string // the tenant's id
	ledger *ledger.Account
	// the allotment last shown to the alert engine, to re-arm thresholds
	// when a grant (read ahead of the events in replay) comes into force:
	// the ledger's number of its period (-1 before the first) and the
	// credits available
	seenPeriod    int
	seenAvailable schemas.Micros
	h             alert.Handle // the tenant's state in the engine and the detector
	cur           periodTerms  // what Count needs of the period it counted into last
	tenant        *catalog.Tenant
	countedIn     uint32 // Book.countEpoch when the tenant is in Book.counted
}

// periodTerms is what Count needs of one period of a tenant that does not
// change with usage or grants: the catalog's plan in force in the period
// fixes the thresholds, the overage mode and cap and the top-up bundle. It
// is kept for the period of the last counted event, so that the catalog is
// not consulted per event, and dropped when a close or a restore may have
// changed whether the period is open.
type periodTerms struct {
	k          int  // the ledger's number of the period
	ok         bool // the fields below describe period k
	open       bool // the period was not closed when cached
	capped     bool // capCredits applies
	hasTopup   bool // the tenant tops up automatically and the plan offers its bundle
	capCredits schemas.Micros
	thresholds []schemas.Decimal
	mode       alert.OverageMode
	period     period.Period
	topup      alert.TopupPolicy
}

// terms returns the period terms of the period numbered k by the ledger,
// which contains t.
func (b *Book) terms(a *account, k int, t time.Time) *periodTerms {
	pt := &a.cur
	if pt.ok && pt.k == k {
		return pt
	}
	live := a.ledger.Live(t)
	plan := b.cat.PlanAt(a.tenant, live.Period.Start)
	*pt = periodTerms{
		ok:         true,
		k:          k,
		open:       !live.Period.Start.Before(a.ledger.NextToClose().Start),
		period:     live.Period,
		thresholds: b.cat.Thresholds(a.tenant, plan),
		mode:       alert.OverageMode(b.cat.OverageFor(a.tenant, plan).Mode),
	}
	if live.CapCredits != nil {
		pt.capped, pt.capCredits = true, *live.CapCredits
	}
	if at := a.tenant.AutoTopup; at != nil {
		if bundle, ok := at.BundleOf(plan); ok {
			pt.hasTopup = true
			pt.topup = alert.TopupPolicy{BelowCredits: at.BelowCredits, BundleCredits: bundle.Credits, BundlePrice: bundle.Price, MaxPerPeriod: at.MaxPerPeriod}
		}
	}
	return pt
}

// balance returns the alert balance of the cached period pt with consumed
// c and available credits avail.
func (pt *periodTerms) balance(tenant string, c, avail schemas.Micros) alert.Balance {
	bal := alert.Balance{
		Tenant:     tenant,
		Period:     pt.period,
		Consumed:   c,
		Available:  avail,
		Thresholds: pt.thresholds,
		Mode:       pt.mode,
	}
	if pt.capped {
		bal.CapCredits = &pt.capCredits
	}
	return bal
}

// New returns a Book with an account for every tenant of cat.
func New(cfg Config, cat *catalog.Catalog) (*Book, error) {
	var errs []error
	if cfg.CloseGrace == 0 {
		cfg.CloseGrace = time.Hour
	}
	if cfg.CloseGrace < 0 {
		errs = append(errs, fmt.Errorf("close grace %v: must not be negative", cfg.CloseGrace))
	}
	engine, err := alert.New(cfg.Alert)
	if err != nil {
		errs = append(errs, fmt.Errorf("alerts: %w", err))
	}
	var det *alert.Detector
	if !cfg.NoRunaway {
		det, err = alert.NewDetector(cfg.Alert.Runaway)
		if err != nil {
			errs = append(errs, fmt.Errorf("runaway detector: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	b := &Book{cfg: cfg, cat: cat, accounts: make(map[string]*account, len(cat.Tenants)), plans: ledger.NewPlans(cat), engine: engine, detector: det, countEpoch: 1}
	for _, t := range cat.Tenants {
		a := &account{id: t.ID, tenant: t, ledger: ledger.NewAccount(cat, t), seenPeriod: -1}
		a.ledger.SharePlans(b.plans)
		b.accounts[t.ID] = a
		b.order = append(b.order, a)
	}
	b.index.init(len(b.order))
	b.updateNextClose()
	return b, nil
}

// account returns the account of tenant, or nil when the catalog has no
// such tenant.
func (b *Book) account(tenant string) *account {
	if a := b.index.find(tenant); a != nil {
		return a
	}
	a := b.accounts[tenant]
	if a != nil {
		b.index.add(tenant, a)
	}
	return a
}

// PrefetchAccount asks the CPU to start loading the account of tenant, so
// that a Count of its event a few events later finds it in cache; then
// PrefetchState, once the account has arrived, requests the state Count
// reads through it (ledger, alert and runaway state). Both are hints that
// change nothing observable and do nothing for a tenant whose account the
// book has not looked up before (see accountIndex). A pipeline that
// decodes events ahead of counting them calls them (see
// partition.Processor.SetAhead): Count's loads then overlap those of
// other events instead of following one another.
func (b *Book) PrefetchAccount(tenant string) {
	if a := b.index.homeAccount(tenant); a != nil {
		schemas.Prefetch(uintptr(unsafe.Pointer(a)))
	}
}

// PrefetchState requests the state Count reads through tenant's account;
// see PrefetchAccount.
func (b *Book) PrefetchState(tenant string) {
	a := b.index.homeAccount(tenant)
	if a == nil {
		return
	}
	if a.ledger != nil {
		schemas.Prefetch(uintptr(unsafe.Pointer(a.ledger)))
	}
	a.h.Prefetch()
}

// Counted returns the tenants that Count booked usage for since the last
// ClearCounted (or since the book was made), each once, in the order of
// their first event: how the streaming pipeline learns whose state a
// checkpoint must store without a set lookup per event. The slice is valid
// until the next Count or ClearCounted.
func (b *Book) Counted() []string { return b.counted }

// ClearCounted empties the list that Counted returns.
func (b *Book) ClearCounted() {
	clear(b.counted)
	b.counted = b.counted[:0]
	b.countEpoch++
}

// Catalog returns the catalog the book prices with.
func (b *Book) Catalog() *catalog.Catalog { return b.cat }

// Count books one counted usage event and appends what it triggers to out.
// It does not allocate unless something fires or the tenant is new to the
// book.
func (b *Book) Count(u alert.Usage, out *Output) error {
	a := b.account(u.Tenant)
	if a == nil {
		return fmt.Errorf("count usage of tenant %q: not in the catalog", u.Tenant)
	}
	if a.countedIn != b.countEpoch {
		a.countedIn = b.countEpoch
		b.counted = append(b.counted, a.id)
	}
	k, err := a.ledger.AddUsageAt(u.Time, u.Credits)
	if err != nil {
		return fmt.Errorf("count usage of tenant %q: %w", u.Tenant, err)
	}
	if b.detector != nil {
		n := len(out.Alerts)
		if out.Alerts = b.detector.ObserveHandle(&a.h, &u, out.Alerts); len(out.Alerts) > n {
			al := &out.Alerts[n]
			if p, ok := a.tenant.Calendar().At(al.Time); ok {
				al.PeriodStart = p.Start
			}
		}
	}
	pt := b.terms(a, k, u.Time)
	if !pt.open {
		return nil // a closed period: billed as an adjustment, no live alerts
	}
	c, avail := a.ledger.BalanceOf(k, u.Time)
	bal := pt.balance(a.id, c, avail)
	if k == a.seenPeriod && avail > a.seenAvailable {
		out.Entitlements = b.engine.GrantedHandle(&a.h, &bal, out.Entitlements)
	}
	a.seenPeriod, a.seenAvailable = k, avail
	out.Alerts, out.Entitlements = b.engine.ObserveHandle(&a.h, &u, &bal, out.Alerts, out.Entitlements)
	// Topup tops up only while available − consumed is below BelowCredits:
	// the common case needs no call.
	if !pt.hasTopup || bal.Available-bal.Consumed >= pt.topup.BelowCredits {
		return nil
	}
	for {
		g, ok := b.engine.TopupHandle(&a.h, u, &bal, &pt.topup)
		if !ok {
			return nil
		}
		if err := a.ledger.AddGrant(g); err != nil {
			return fmt.Errorf("auto top-up of tenant %q: %w", u.Tenant, err)
		}
		out.Grants = append(out.Grants, g)
		out.Alerts = append(out.Alerts, alert.TopupAlert(g, bal))
		bal.Consumed, bal.Available = a.ledger.BalanceOf(k, u.Time)
		a.seenAvailable = bal.Available
		out.Entitlements = b.engine.GrantedHandle(&a.h, &bal, out.Entitlements)
	}
}

// Grant books a grant from the grants input. A repeated grant id is ignored
// by the ledger.
func (b *Book) Grant(g schemas.Grant, out *Output) error {
	a := b.accounts[g.Tenant]
	if a == nil {
		return fmt.Errorf("grant %q: tenant %q is not in the catalog", g.ID, g.Tenant)
	}
	if err := a.ledger.AddGrant(g); err != nil {
		return fmt.Errorf("grant %q: %w", g.ID, err)
	}
	live := a.ledger.Live(g.Time)
	bal := b.balance(a, live)
	out.Entitlements = b.engine.GrantedHandle(&a.h, &bal, out.Entitlements)
	return nil
}

func (b *Book) balance(a *account, live ledger.Live) alert.Balance {
	plan := b.cat.PlanAt(a.tenant, live.Period.Start)
	mode := alert.OverageMode(b.cat.OverageFor(a.tenant, plan).Mode)
	return alert.Balance{
		Tenant:     a.tenant.ID,
		Period:     live.Period,
		Consumed:   live.Consumed,
		Available:  live.Available(),
		Thresholds: b.cat.Thresholds(a.tenant, plan),
		Mode:       mode,
		CapCredits: live.CapCredits,
	}
}

// NextClose is the earliest instant at which CloseDue has work.
func (b *Book) NextClose() time.Time { return b.nextClose }

// CloseDue closes, for every tenant in catalog order, every period whose end
// plus the close grace is at or before clock, oldest first.
func (b *Book) CloseDue(clock time.Time, out *Output) error {
	if clock.Before(b.nextClose) {
		return nil
	}
	for _, a := range b.order {
		for {
			p := a.ledger.NextToClose()
			if p.End.Add(b.cfg.CloseGrace).After(clock) || !b.closable(a, p) {
				break
			}
			c, err := a.ledger.Close(p)
			if err != nil {
				return fmt.Errorf("close %s for tenant %q: %w", p, a.tenant.ID, err)
			}
			a.cur.ok = false // its period may be closed now
			out.Closes = append(out.Closes, c)
		}
	}
	b.updateNextClose()
	return nil
}

func (b *Book) closable(a *account, p period.Period) bool {
	return b.cfg.Closable == nil || b.cfg.Closable(a.tenant, p)
}

func (b *Book) updateNextClose() {
	var next time.Time
	for _, a := range b.order {
		p := a.ledger.NextToClose()
		if !b.closable(a, p) {
			continue
		}
		t := p.End.Add(b.cfg.CloseGrace)
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if next.IsZero() {
		next = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) // nothing left to close
	}
	b.nextClose = next
}

// Periods returns the tenant's calendar period that contains t.
func (b *Book) Period(tenant string, t time.Time) (period.Period, bool) {
	a := b.accounts[tenant]
	if a == nil {
		return period.Period{}, false
	}
	return a.tenant.Calendar().At(t)
}

// AddUsage books credits into a tenant's ledger without evaluating alerts:
// how the close job rebuilds accounts from stored usage.
func (b *Book) AddUsage(tenant string, t time.Time, credits schemas.Micros) error {
	a := b.accounts[tenant]
	if a == nil {
		return fmt.Errorf("add usage of tenant %q: not in the catalog", tenant)
	}
	return a.ledger.AddUsage(t, credits)
}

// Advance lets the runaway detector close minutes that no later event
// closed, up to now (event time), and appends the alerts that fire.
func (b *Book) Advance(now time.Time, out *Output) {
	if b.detector == nil {
		return
	}
	for _, al := range b.detector.Advance(now) {
		if a := b.accounts[al.Tenant]; a != nil {
			if p, ok := a.tenant.Calendar().At(al.Time); ok {
				al.PeriodStart = p.Start
			}
		}
		out.Alerts = append(out.Alerts, al)
	}
}

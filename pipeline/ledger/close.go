package ledger

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// Closed is what closing one period produces: the figures of SPEC 3.5 and
// 3.8, the period's line items sorted by (Tenant, PeriodStart, PeriodEnd,
// Kind, Description), and an upgrade recommendation or nil.
type Closed struct {
	Close          schemas.PeriodClose
	Lines          []schemas.LineItem
	Recommendation *Recommendation
}

// Close closes period p, which must equal NextToClose(), and records the
// close: later calls see p as closed and bill any change to it as a late
// usage adjustment of a later close. The caller decides when a period may be
// closed (SPEC 3.8: its end plus the close grace has passed); the account
// reads no clock.
//
// Close first re-evaluates every closed period whose inputs changed since
// the last close (late usage, late grants) and adds one
// late_usage_adjustment line to p's close per period whose figures changed.
// On error the account is unchanged.
func (a *Account) Close(p period.Period) (Closed, error) {
	k := a.closed
	want := a.period(k)
	if !p.Start.Equal(want.Start) || !p.End.Equal(want.End) {
		return Closed{}, fmt.Errorf("close period %s of tenant %q: the next period to close is %s", p, a.tenant, want)
	}
	from := min(a.dirty, k)
	a.ensure(from)

	// Re-evaluate the closed periods whose inputs changed, without touching
	// the stored views until nothing can fail any more.
	var lines []schemas.LineItem
	var delta big.Rat
	updated := make([]view, 0, k-from)
	for x := from; x < k; x++ {
		o, err := a.step(x, true)
		if err != nil {
			return Closed{}, fmt.Errorf("close period %s of tenant %q: re-evaluate %s: %w", p, a.tenant, a.period(x), err)
		}
		old := &a.views[x]
		nv := viewOf(&o)
		late := o.C - old.C
		dAmount := schemas.Decimal{Coef: o.amount.Coef - old.amount.Coef, Scale: uint8(a.decimals)}
		if late != 0 || dAmount.Coef != 0 {
			lines = append(lines, a.line(p, schemas.LineLateUsageAdjustment,
				"Late usage for period "+a.label(a.period(x)), late, a.zero(), dAmount))
		}
		delta.Add(&delta, nv.revenue)
		delta.Sub(&delta, old.revenue)
		updated = append(updated, nv)
	}
	o, err := a.step(k, true)
	if err != nil {
		return Closed{}, fmt.Errorf("close period %s of tenant %q: %w", p, a.tenant, err)
	}
	recognized := o.revenue
	if delta.Sign() != 0 {
		recognized = new(big.Rat).Add(o.revenue, &delta)
	}
	rec, err := roundHalfUp(recognized.Num(), recognized.Denom(), a.decimals)
	if err != nil {
		return Closed{}, fmt.Errorf("close period %s of tenant %q: recognized revenue: %w", p, a.tenant, err)
	}
	lines = slices.Grow(lines, a.countLines(&o))
	lines, purchased, err := a.periodLines(p, &o, lines)
	if err != nil {
		return Closed{}, fmt.Errorf("close period %s of tenant %q: %w", p, a.tenant, err)
	}

	// Commit.
	copy(a.views[from:k], updated)
	a.views = append(a.views, viewOf(&o))
	for _, gi := range purchased {
		a.grants[gi].billed = true
	}
	a.closed = k + 1
	a.dirty = none
	a.period(a.closed)

	slices.SortFunc(lines, compareLines)
	c := Closed{
		Close: schemas.PeriodClose{
			Tenant:                a.tenant,
			PeriodStart:           p.Start.UTC(),
			PeriodEnd:             p.End.UTC(),
			Plan:                  o.t.plan,
			RolloverIn:            o.R,
			Included:              o.I,
			GrantCreditsAvailable: o.G,
			Available:             o.A(),
			Consumed:              o.C,
			Overage:               o.O,
			BillableOverage:       o.B,
			UncollectedOverage:    o.U,
			OverageAmount:         o.amount,
			RolloverOut:           o.rollOut,
			ExpiredCredits:        o.expired,
			RecognizedRevenue:     rec,
			DeferredRevenueEnd:    o.deferred,
			Currency:              a.currency,
		},
		Lines: lines,
	}
	c.Recommendation = a.recommend(k)
	return c, nil
}

func viewOf(o *outcome) view {
	return view{R: o.R, G: o.G, C: o.C, O: o.O, amount: o.amount, revenue: o.revenue}
}

// countLines returns the number of lines periodLines appends for o.
func (a *Account) countLines(o *outcome) int {
	n := 1 // the fee
	for _, m := range []schemas.Micros{o.fromI, o.fromR, o.fromG, o.U} {
		if m != 0 {
			n++
		}
	}
	if o.B != 0 || o.amount.Coef != 0 {
		n++
	}
	for gi := range a.grants {
		if g := &a.grants[gi]; !g.billed && g.first <= o.i && g.Kind.Purchased() {
			n++
		}
	}
	return n
}

// periodLines appends the line items of period p's own figures and the
// credit purchases it bills, and returns the indices of those grants.
func (a *Account) periodLines(p period.Period, o *outcome, lines []schemas.LineItem) ([]schemas.LineItem, []int32, error) {
	t := o.t
	lines = append(lines, a.line(p, schemas.LineSubscriptionFee, t.descFee, schemas.MicrosPerUnit, t.fee, t.fee))
	lines = a.appendNonZero(lines, p, schemas.LineIncludedUsage, t.descIncluded, o.fromI, a.zero(), a.zero())
	if o.fromR != 0 {
		lines = a.appendNonZero(lines, p, schemas.LineRolloverUsage,
			"Rollover usage from period "+a.label(a.period(o.i-1)), o.fromR, a.zero(), a.zero())
	}
	lines = a.appendNonZero(lines, p, schemas.LinePrepaidUsage, "Prepaid usage", o.fromG, a.zero(), a.zero())
	var purchased []int32
	for gi := range a.grants {
		g := &a.grants[gi]
		if g.billed || g.first > o.i || !g.Kind.Purchased() {
			continue
		}
		unit, err := unitPrice(g.price, g.Credits)
		if err != nil {
			return nil, nil, fmt.Errorf("unit price of grant %q: %w", g.ID, err)
		}
		desc := fmt.Sprintf("Credit purchase %s (%s)", g.ID, g.Kind)
		if g.first < o.i {
			// Added after the close of the period its time falls in.
			desc += " dated " + g.Time.Format(time.RFC3339)
		}
		l := a.line(p, schemas.LineCreditPurchase, desc, g.Credits, unit, g.price)
		l.ChargedAtPurchase = true
		lines = append(lines, l)
		purchased = append(purchased, int32(gi))
	}
	lines = a.appendNonZero(lines, p, schemas.LineOverage, t.descOverage, o.B, t.overage.PricePerCredit, o.amount)
	lines = a.appendNonZero(lines, p, schemas.LineOverageUncollected, t.descUncollected, o.U, a.zero(), a.zero())
	return lines, purchased, nil
}

func (a *Account) appendNonZero(lines []schemas.LineItem, p period.Period, kind schemas.LineItemKind, desc string, qty schemas.Micros, unit, amount schemas.Decimal) []schemas.LineItem {
	if qty == 0 && amount.IsZero() {
		return lines
	}
	return append(lines, a.line(p, kind, desc, qty, unit, amount))
}

func (a *Account) line(p period.Period, kind schemas.LineItemKind, desc string, qty schemas.Micros, unit, amount schemas.Decimal) schemas.LineItem {
	return schemas.LineItem{
		Tenant:      a.tenant,
		PeriodStart: p.Start.UTC(),
		PeriodEnd:   p.End.UTC(),
		Kind:        kind,
		Description: desc,
		Quantity:    qty,
		UnitPrice:   unit,
		Amount:      amount,
		Currency:    a.currency,
	}
}

// zero is 0 in the currency's scale.
func (a *Account) zero() schemas.Decimal { return schemas.Decimal{Scale: uint8(a.decimals)} }

// label names a period by its local start and end dates in the tenant's
// time zone, e.g. "2026-01-15/2026-02-15". Two periods of one tenant never
// share a start date.
func (a *Account) label(p period.Period) string {
	loc := a.cal.Location
	if loc == nil {
		loc = time.UTC
	}
	return p.Start.In(loc).Format(time.DateOnly) + "/" + p.End.In(loc).Format(time.DateOnly)
}

func compareLines(x, y schemas.LineItem) int {
	return cmp.Or(
		strings.Compare(x.Tenant, y.Tenant),
		x.PeriodStart.Compare(y.PeriodStart),
		x.PeriodEnd.Compare(y.PeriodEnd),
		strings.Compare(string(x.Kind), string(y.Kind)),
		strings.Compare(x.Description, y.Description),
	)
}

// UnitPriceDecimals is the number of decimals a credit purchase's unit price
// is rounded to (half-up) when price ÷ credits has no exact decimal form
// with at most 18 fractional digits.
const UnitPriceDecimals = 10

// unitPrice returns price ÷ credits: exact when its decimal expansion
// terminates within 18 fractional digits (with the fewest digits, but no
// fewer than the price's), else rounded half-up to UnitPriceDecimals.
func unitPrice(price schemas.Decimal, credits schemas.Micros) (schemas.Decimal, error) {
	r := new(big.Rat).Quo(price.Rat(), credits.Rat())
	if digits, ok := terminatingDigits(r.Denom()); ok && digits <= schemas.MaxScale {
		d, err := schemas.RoundHalfUp(r, max(digits, int(price.Scale)))
		if err == nil {
			return d, nil
		}
		if d, err = schemas.RoundHalfUp(r, digits); err == nil {
			return d, nil
		}
	}
	return schemas.RoundHalfUp(r, UnitPriceDecimals)
}

// terminatingDigits returns the number of fractional digits of n/den in
// decimal when that expansion terminates (den = 2^a·5^b: max(a, b)).
func terminatingDigits(den *big.Int) (int, bool) {
	d := new(big.Int).Set(den)
	twos := int(d.TrailingZeroBits())
	d.Rsh(d, uint(twos))
	fives := 0
	five, q, r := big.NewInt(5), new(big.Int), new(big.Int)
	for d.Sign() != 0 {
		q.QuoRem(d, five, r)
		if r.Sign() != 0 {
			break
		}
		d.Set(q)
		fives++
	}
	return max(twos, fives), d.IsInt64() && d.Int64() == 1
}

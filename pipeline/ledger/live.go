package ledger

import (
	"slices"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// Live is the running balance of one period, for threshold, cap and
// entitlement decisions (SPEC 3.6). All figures use every input added so
// far; earlier periods are evaluated as a chain, closed or not.
type Live struct {
	Period     period.Period
	Plan       string         // plan in force in Period
	RolloverIn schemas.Micros // credits rolled over from the previous period
	Included   schemas.Micros // the plan's included credits
	// GrantCredits is what is left, at the start of Period, of the grants
	// usable in Period whose time is at or before asOf (a grant dated in
	// Period counts in full).
	GrantCredits schemas.Micros
	// Consumed is every credit counted so far with event time in Period,
	// including events later than asOf.
	Consumed schemas.Micros
	// Overage is the plan's overage policy as it applies to the tenant.
	Overage catalog.Overage
	// CapCredits is the billable overage cap in credits (cap_amount turned
	// into credits, rounded down); nil when nothing caps billing, and in
	// block mode. It points into the account's cache: read it, never write
	// through it.
	CapCredits *schemas.Micros
}

// Available returns the allotment R + I + grant credits.
func (l Live) Available() schemas.Micros { return l.RolloverIn + l.Included + l.GrantCredits }

// liveCache holds what Live needs of one period, valid until an input of an
// earlier period changes or a grant usable in it is added. The figures that
// depend on the period alone are copied in, so that a Live or Balance of the
// cached period reads no other memory of the account than its usage.
type liveCache struct {
	ok     bool
	k      int            // the period the cache describes
	base   schemas.Micros // R + I + carry: the allotment without grants dated in k
	carry  schemas.Micros // balances of grants usable in k with first < k
	r      schemas.Micros // rollover in: starts[k].R
	times  []time.Time    // grants with first == k, by time
	prefix []schemas.Micros
	capped *schemas.Micros
	period period.Period // period k
	t      *terms        // terms of period k
}

// liveAt returns the index of the cached period for asOf, filling the cache when
// asOf lies in another period or the cache is stale.
func (a *Account) liveAt(asOf time.Time) int {
	k, _, err := a.index(asOf)
	if err != nil {
		k = len(a.periods) - 1 // beyond MaxPeriods: the last period tracked
	}
	if !a.live.ok || a.live.k != k {
		a.buildLive(k)
	}
	return k
}

// dated returns the credits of the grants dated in the cached period with
// time ≤ asOf.
func (c *liveCache) dated(asOf time.Time) schemas.Micros {
	if len(c.times) == 0 {
		return 0
	}
	n, found := slices.BinarySearchFunc(c.times, asOf, time.Time.Compare)
	for found && n < len(c.times) && !c.times[n].After(asOf) {
		n++
	}
	if n == 0 {
		return 0
	}
	return c.prefix[n-1]
}

// Live returns the running balance of the period containing asOf (the
// first period when asOf is before the tenant's start). It costs O(log g)
// for g grants dated in that period, plus a re-evaluation of the chain when
// an earlier period's inputs changed since the last call.
func (a *Account) Live(asOf time.Time) Live {
	k := a.liveAt(asOf)
	c := &a.live
	return Live{
		Period:       c.period,
		Plan:         c.t.plan,
		RolloverIn:   c.r,
		Included:     c.t.included,
		GrantCredits: c.carry + c.dated(asOf),
		Consumed:     a.usageAt(k),
		Overage:      c.t.overage,
		CapCredits:   c.capped,
	}
}

// BalanceOf returns the Consumed and Available() figures of Live(asOf), and
// nothing else of it: the figures that change with every counted event.
// asOf must lie in the period numbered period, as AddUsageAt returned it.
// When that is the period of the previous Live or BalanceOf call, and no
// input of an earlier period nor a grant usable in it was added since, it
// costs O(1) plus O(log g) for g grants dated in the period.
func (a *Account) BalanceOf(period int, asOf time.Time) (consumed, available schemas.Micros) {
	if !a.live.ok || a.live.k != period {
		a.buildLive(period)
	}
	return a.usageAt(period), a.live.base + a.live.dated(asOf)
}

func (a *Account) buildLive(k int) {
	a.ensure(k)
	st := &a.starts[k]
	c := &a.live
	c.ok, c.k, c.carry = true, k, 0
	c.times, c.prefix = c.times[:0], c.prefix[:0]
	type dated struct {
		t time.Time
		m schemas.Micros
	}
	var fresh []dated
	for gi := range a.grants {
		g := &a.grants[gi]
		switch {
		case g.first > k, g.last >= 0 && g.last < k:
		case g.first < k:
			c.carry += st.balance(int32(gi), g)
		default:
			fresh = append(fresh, dated{g.Time, g.Credits})
		}
	}
	slices.SortFunc(fresh, func(x, y dated) int { return x.t.Compare(y.t) })
	var sum schemas.Micros
	for _, d := range fresh {
		sum += d.m
		c.times = append(c.times, d.t)
		c.prefix = append(c.prefix, sum)
	}
	t := a.termsAt(k)
	c.t, c.period, c.r = t, a.periods[k], st.R
	c.base = c.r + t.included + c.carry
	c.capped = nil
	if t.capped {
		m := t.capCredits
		c.capped = &m
	}
}

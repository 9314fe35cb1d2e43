package ledger

import (
	"fmt"
	"math/big"

	"github.com/creditflow/creditflow/schemas"
)

// outcome is the evaluation of one period from the chain state at its start.
type outcome struct {
	i int
	t *terms

	R, I, G, C          schemas.Micros // rollover in, included, grant credits available, consumed
	fromR, fromI, fromG schemas.Micros // drawdown
	O, B, U             schemas.Micros // overage, billable, uncollected
	rollOut, expired    schemas.Micros
	amount              schemas.Decimal // B × price, rounded half-up (set with revenue)

	// With revenue only:
	revenue  *big.Rat        // value consumed or expired in the period + amount (+ the fee when I = 0), exact
	deferred schemas.Decimal // value of rollover out and of grant credits left, rounded half-up
}

// A returns the credits available in the period.
func (o *outcome) A() schemas.Micros { return o.R + o.I + o.G }

// ensure brings starts[0..k] up to date.
func (a *Account) ensure(k int) {
	for a.valid < k {
		a.step(a.valid, false) //nolint:errcheck // cannot fail without revenue
	}
}

// step evaluates period i from starts[i], which must be up to date, and
// stores the state at the start of period i+1. With revenue it also values
// the period (and may then fail when a money figure leaves the Decimal
// range).
func (a *Account) step(i int, revenue bool) (outcome, error) {
	for len(a.starts) <= i+1 {
		a.starts = append(a.starts, start{})
	}
	st, nx := &a.starts[i], &a.starts[i+1]
	t := a.termsAt(i)
	o := outcome{i: i, t: t, R: st.R, I: t.included, C: a.usageAt(i)}

	rem := o.C
	o.fromR = min(rem, o.R)
	rem -= o.fromR
	o.fromI = min(rem, o.I)
	rem -= o.fromI

	own, deferred := &a.own, &a.def
	if revenue {
		own.reset()
		deferred.reset()
	}
	if cap(nx.bal) < len(a.grants) {
		nx.bal = make([]schemas.Micros, len(a.grants))
	}
	nx.bal = nx.bal[:len(a.grants)]
	var expiredG schemas.Micros
	for _, gi := range a.order {
		g := &a.grants[gi]
		b := st.balance(gi, g)
		if g.first > i {
			nx.bal[gi] = b
			continue
		}
		if g.last >= 0 && g.last < i {
			nx.bal[gi] = 0
			continue
		}
		o.G += b
		take := min(rem, b)
		rem -= take
		o.fromG += take
		left := b - take
		spent := take
		if g.last == i {
			expiredG += left
			spent, left = b, 0
		}
		nx.bal[gi] = left
		if revenue && g.value != nil {
			own.addCredits(spent, g.value, &a.tmp1)
			deferred.addCredits(left, g.value, &a.tmp1)
		}
	}
	o.O = rem
	o.B, o.U = t.billable(o.O)
	unused := o.I - o.fromI
	o.rollOut = t.rolloverOut(unused)
	o.expired = (o.R - o.fromR) + (unused - o.rollOut) + expiredG
	nx.R = o.rollOut
	if a.valid == i {
		a.valid = i + 1
	}
	if !revenue {
		return o, nil
	}

	var err error
	if o.amount, err = mulMoney(o.B, t.overage.PricePerCredit, a.decimals); err != nil {
		return o, fmt.Errorf("overage amount of %s credits at %s: %w", o.B, t.overage.PricePerCredit, err)
	}
	t.value()
	if o.R > 0 {
		// Rollover keeps the value of the period it came from.
		prev := a.termsAt(i - 1)
		prev.value()
		own.addCredits(o.R, prev.inclValue, &a.tmp1)
	}
	if t.inclValue != nil {
		own.addCredits(o.I-o.rollOut, t.inclValue, &a.tmp1)
		deferred.addCredits(o.rollOut, t.inclValue, &a.tmp1)
	} else {
		own.addMoney(t.fee, &a.tmp1, &a.tmp2)
	}
	own.addMoney(o.amount, &a.tmp1, &a.tmp2)
	if o.deferred, err = deferred.round(a.decimals); err != nil {
		return o, fmt.Errorf("deferred revenue: %w", err)
	}
	o.revenue = own.rat()
	return o, nil
}

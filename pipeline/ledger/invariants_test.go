package ledger

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/creditflow/creditflow/schemas"
)

// lifeTotals accumulates a tenant's closes to check revenue conservation
// over its life:
//
//	Σ recognized_revenue + deferred_revenue_end of the last close
//	  = Σ subscription fees + Σ credit purchases + Σ overage amounts + Σ late usage adjustments
//
// up to the rounding of the reported figures: each recognized revenue and
// the final deferred revenue is rounded half-up once, so the two sides
// differ by at most (closes + 1) × ½ minor unit.
type lifeTotals struct {
	closes                 int
	decimals               int
	recognized, billed     big.Rat
	deferred               schemas.Decimal
	lateGrants             bool // a grant was added for a closed period: money may go negative
	negativeAdjustmentSeen bool
}

func (l *lifeTotals) String() string {
	return fmt.Sprintf("%d closes, recognized %s + deferred %s, billed %s",
		l.closes, l.recognized.FloatString(l.decimals), l.deferred, l.billed.FloatString(l.decimals))
}

// gap returns |recognized + deferred − billed| in minor units, exactly.
func (l *lifeTotals) gap() *big.Rat {
	g := new(big.Rat).Add(&l.recognized, l.deferred.Rat())
	g.Sub(g, &l.billed)
	g.Abs(g)
	g.Mul(g, new(big.Rat).SetInt64(int64(schemas.Pow10(l.decimals))))
	return g
}

// checkClose checks the invariants of one close and adds it to life.
func checkClose(t testing.TB, a *Account, c Closed, life *lifeTotals) {
	t.Helper()
	pc := c.Close
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("close %s %s: %s", pc.Tenant, pc.PeriodStart.Format("2006-01-02"), fmt.Sprintf(format, args...))
	}
	k := a.closed - 1
	// Credit conservation, per period:
	//   R + I + G = (C − O) + rollover_out + expired + carried
	// where G is the grant credits available in P and carried the grant
	// credits left at P's end that do not expire there (they stay usable in
	// a later period).
	carried := a.carried(k)
	lhs := pc.RolloverIn + pc.Included + pc.GrantCreditsAvailable
	rhs := pc.Consumed - pc.Overage + pc.RolloverOut + pc.ExpiredCredits + carried
	if lhs != rhs {
		fail("conservation: R+I+G = %s, (C−O)+rollover_out+expired+carried = %s (carried %s)", lhs, rhs, carried)
	}
	if pc.Available != lhs {
		fail("available %s ≠ R+I+G %s", pc.Available, lhs)
	}
	if want := max(0, pc.Consumed-pc.Available); pc.Overage != want {
		fail("overage %s ≠ max(0, C−A) = %s", pc.Overage, want)
	}
	if pc.BillableOverage+pc.UncollectedOverage != pc.Overage {
		fail("billable %s + uncollected %s ≠ overage %s", pc.BillableOverage, pc.UncollectedOverage, pc.Overage)
	}
	for _, m := range []schemas.Micros{pc.RolloverIn, pc.Included, pc.GrantCreditsAvailable, pc.Consumed, pc.Overage,
		pc.BillableOverage, pc.UncollectedOverage, pc.RolloverOut, pc.ExpiredCredits, carried} {
		if m < 0 {
			fail("negative credits %s", m)
		}
	}
	if int(pc.OverageAmount.Scale) != a.decimals || int(pc.RecognizedRevenue.Scale) != a.decimals || int(pc.DeferredRevenueEnd.Scale) != a.decimals {
		fail("money scale: %s %s %s", pc.OverageAmount, pc.RecognizedRevenue, pc.DeferredRevenueEnd)
	}
	// Lines agree with the figures.
	var drawn schemas.Micros
	var overageAmount schemas.Decimal
	lateAmounts := false
	for i, l := range c.Lines {
		if l.Tenant != pc.Tenant || !l.PeriodStart.Equal(pc.PeriodStart) || !l.PeriodEnd.Equal(pc.PeriodEnd) || l.Currency != pc.Currency {
			fail("line %d: period columns %v", i, l)
		}
		if i > 0 && compareLines(c.Lines[i-1], l) >= 0 {
			fail("lines not sorted at %d", i)
		}
		if l.Quantity == 0 && l.Amount.IsZero() {
			fail("line %d (%s): quantity and amount both zero", i, l.Kind)
		}
		if int(l.Amount.Scale) != a.decimals {
			fail("line %d (%s): amount %s not at %d decimals", i, l.Kind, l.Amount, a.decimals)
		}
		if l.Kind != schemas.LineLateUsageAdjustment && (l.Amount.Sign() < 0 || l.Quantity < 0) {
			fail("line %d (%s): negative quantity or amount", i, l.Kind)
		}
		if l.ChargedAtPurchase != (l.Kind == schemas.LineCreditPurchase) {
			fail("line %d (%s): charged_at_purchase %v", i, l.Kind, l.ChargedAtPurchase)
		}
		switch l.Kind {
		case schemas.LineIncludedUsage, schemas.LineRolloverUsage, schemas.LinePrepaidUsage:
			drawn += l.Quantity
		case schemas.LineOverage:
			if l.Quantity != pc.BillableOverage {
				fail("overage line quantity %s ≠ billable %s", l.Quantity, pc.BillableOverage)
			}
			overageAmount = l.Amount
		case schemas.LineOverageUncollected:
			if l.Quantity != pc.UncollectedOverage {
				fail("uncollected line quantity %s ≠ %s", l.Quantity, pc.UncollectedOverage)
			}
		case schemas.LineLateUsageAdjustment:
			if l.Amount.Sign() < 0 {
				lateAmounts = true
			}
		}
		life.billed.Add(&life.billed, l.Amount.Rat())
	}
	if drawn != pc.Consumed-pc.Overage {
		fail("usage lines %s ≠ C−O %s", drawn, pc.Consumed-pc.Overage)
	}
	if overageAmount.Cmp(pc.OverageAmount) != 0 {
		fail("overage line amount %s ≠ overage_amount %s", overageAmount, pc.OverageAmount)
	}
	if !life.lateGrants {
		// Late usage only ever adds overage, so money never goes negative.
		if lateAmounts || pc.RecognizedRevenue.Sign() < 0 || pc.DeferredRevenueEnd.Sign() < 0 || pc.OverageAmount.Sign() < 0 {
			fail("negative money: recognized %s deferred %s overage %s (or a negative adjustment)",
				pc.RecognizedRevenue, pc.DeferredRevenueEnd, pc.OverageAmount)
		}
	}
	life.closes++
	life.decimals = a.decimals
	life.recognized.Add(&life.recognized, pc.RecognizedRevenue.Rat())
	life.deferred = pc.DeferredRevenueEnd
	limit := big.NewRat(int64(life.closes+1), 2)
	if g := life.gap(); g.Cmp(limit) > 0 {
		fail("revenue conservation: %s: gap %s minor units > %s", life, g.FloatString(3), limit.FloatString(1))
	}
}

// carried returns the grant credits left at the end of closed period k that
// stay usable after it.
func (a *Account) carried(k int) schemas.Micros {
	var sum schemas.Micros
	nx := &a.starts[k+1]
	for gi := range a.grants {
		g := &a.grants[gi]
		if g.first <= k {
			sum += nx.balance(int32(gi), g)
		}
	}
	return sum
}

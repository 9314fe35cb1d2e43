package ledger

import (
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// Recommendation suggests another plan to a tenant that was over its
// allotment (overage > 0) in at least two of its last three closed periods
// and would have paid less on that plan over those periods (SPEC 3.8). Costs
// are sums over those (up to three) periods of the subscription fee and the
// overage amount; credit purchases, the same under every plan, are left out.
type Recommendation struct {
	Tenant          string
	PeriodStart     time.Time // start of the close that made the recommendation, UTC
	CurrentPlan     string    // plan in force in that period
	CurrentCost     schemas.Decimal
	RecommendedPlan string
	RecommendedCost schemas.Decimal
	Savings         schemas.Decimal // CurrentCost − RecommendedCost, > 0
	PeriodsOver     int             // periods with overage among those priced (2 or 3)
	Currency        string
}

// RecommendationWindow is the number of most recent closed periods a
// recommendation looks at, and RecommendationMinOver how many of them must
// have had overage.
const (
	RecommendationWindow  = 3
	RecommendationMinOver = 2
)

// recommend returns the recommendation of the close of period k (views[k]
// is set), or nil.
func (a *Account) recommend(k int) *Recommendation {
	from := max(0, k-RecommendationWindow+1)
	over := 0
	for x := from; x <= k; x++ {
		if a.views[x].O > 0 {
			over++
		}
	}
	if over < RecommendationMinOver {
		return nil
	}
	current := a.zero()
	for x := from; x <= k; x++ {
		var ok1, ok2 bool
		current, ok1 = addMoney(current, a.termsAt(x).fee)
		current, ok2 = addMoney(current, a.views[x].amount)
		if !ok1 || !ok2 {
			return nil // out of range: no recommendation rather than a wrong one
		}
	}
	plan := a.termsAt(k).plan
	var best *terms
	var bestCost schemas.Decimal
	for _, q := range a.src.alternatives(plan) {
		cost, ok := a.costUnder(q, from, k)
		if ok && (best == nil || cost.Coef < bestCost.Coef) {
			best, bestCost = q, cost
		}
	}
	if best == nil || bestCost.Coef >= current.Coef {
		return nil
	}
	return &Recommendation{
		Tenant:          a.tenant,
		PeriodStart:     a.period(k).Start.UTC(),
		CurrentPlan:     plan,
		CurrentCost:     current,
		RecommendedPlan: best.plan,
		RecommendedCost: bestCost,
		Savings:         schemas.Decimal{Coef: current.Coef - bestCost.Coef, Scale: current.Scale},
		PeriodsOver:     over,
		Currency:        a.currency,
	}
}

// costUnder prices closed periods from..k under plan q: for each, q's fee
// plus the overage amount of the same consumption against the same rollover
// in and grant credits with q's included credits, cap and price. ok is false
// when q blocks and would have blocked usage in one of them, or on overflow.
// Every figure is at the currency's scale, so the sum is exact.
func (a *Account) costUnder(q *terms, from, k int) (schemas.Decimal, bool) {
	cost := a.zero()
	for x := from; x <= k; x++ {
		v := &a.views[x]
		var ok bool
		if cost, ok = addMoney(cost, q.fee); !ok {
			return cost, false
		}
		o := max(0, v.C-(v.R+q.included+v.G))
		if o == 0 {
			continue
		}
		if q.block {
			return cost, false
		}
		b, _ := q.billable(o)
		amount, err := mulMoney(b, q.overage.PricePerCredit, a.decimals)
		if err != nil {
			return cost, false
		}
		if cost, ok = addMoney(cost, amount); !ok {
			return cost, false
		}
	}
	return cost, true
}

package ledger

import (
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/schemas"
)

// termsSource reads period terms from the catalog for one tenant.
type termsSource struct {
	cat    *catalog.Catalog
	tenant *catalog.Tenant
	cache  []planTerms // compiled terms of the plans the tenant has been on; tiny
	shared *Plans      // nil unless the account shares compiled plans
}

// Plans holds compiled plans that the accounts of one catalog share (see
// Account.SharePlans), so that the many tenants of a plan do not compile
// it, and keep it in memory, one by one. Shared terms are complete when
// shared and never change afterwards; a Plans is not safe for concurrent
// use, but the accounts that share it may be used from different
// goroutines.
type Plans struct {
	cat   *catalog.Catalog
	terms map[*catalog.Plan]*terms
}

// NewPlans returns an empty Plans for the accounts of catalog cat.
func NewPlans(cat *catalog.Catalog) *Plans {
	return &Plans{cat: cat, terms: make(map[*catalog.Plan]*terms)}
}

// of returns the compiled terms of plan p for tenants without cap
// overrides.
func (ps *Plans) of(p *catalog.Plan) *terms {
	t := ps.terms[p]
	if t == nil {
		t = compileTerms(p.ID, p.Fee, p.IncludedCredits, p.Rollover, ps.cat.OverageFor(nil, p), ps.cat.CurrencyDecimals, true)
		t.value() // filled now: shared terms are never written again
		ps.terms[p] = t
	}
	return t
}

// SharePlans makes the account take the compiled terms of its plans from
// ps, shared with the other accounts of ps, instead of compiling them
// itself, unless the tenant overrides its plan's cap (its terms are then its
// own). ps must be of the account's catalog. It does not change any figure
// the account reports; call it before the account is used, and from the
// goroutine that uses ps.
func (a *Account) SharePlans(ps *Plans) {
	if ps != nil && ps.cat == a.src.cat {
		a.src.shared = ps
	}
}

type planTerms struct {
	plan  *catalog.Plan
	terms *terms
}

// at returns the terms of the plan in force for the period starting at
// periodStart. A tenant whose plan the catalog does not know (Parse refuses
// such a catalog) gets an empty block-mode plan named after the tenant's
// plan id.
func (s *termsSource) at(periodStart time.Time) *terms {
	return s.of(s.cat.PlanAt(s.tenant, periodStart))
}

// of compiles plan p for the tenant, caching the result.
func (s *termsSource) of(p *catalog.Plan) *terms {
	for _, c := range s.cache {
		if c.plan == p {
			return c.terms
		}
	}
	var t *terms
	if s.shared != nil && p != nil && s.tenant.CapCredits == nil && s.tenant.CapAmount == nil {
		t = s.shared.of(p)
	} else if p == nil {
		t = compileTerms(s.tenant.Plan, schemas.Decimal{Scale: uint8(s.cat.CurrencyDecimals)}, 0, nil,
			catalog.Overage{Mode: catalog.OverageBlock}, s.cat.CurrencyDecimals, true)
	} else {
		t = compileTerms(p.ID, p.Fee, p.IncludedCredits, p.Rollover, s.cat.OverageFor(s.tenant, p), s.cat.CurrencyDecimals, true)
	}
	s.cache = append(s.cache, planTerms{plan: p, terms: t})
	return t
}

// alternatives returns the terms of every plan of the catalog except the
// one with id current, in catalog (plan id) order, with the tenant's cap
// overrides applied as they would be on that plan. They are compiled afresh
// (not cached) to keep accounts small.
func (s *termsSource) alternatives(current string) []*terms {
	var out []*terms
	for _, p := range s.cat.Plans {
		if p.ID == current {
			continue
		}
		out = append(out, compileTerms(p.ID, p.Fee, p.IncludedCredits, p.Rollover, s.cat.OverageFor(s.tenant, p), s.cat.CurrencyDecimals, false))
	}
	return out
}

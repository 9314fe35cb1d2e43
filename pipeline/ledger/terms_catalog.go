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
	if p == nil {
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

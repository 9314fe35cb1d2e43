package ledger

import (
	"cmp"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/schemas"
)

// State is an account's persistent state, a plain value that encodes with
// encoding/json. Everything else an account holds is a cache rebuilt from
// it and the catalog. Snapshot returns it canonical: usage by period,
// grants by (time, id), closed periods in order.
type State struct {
	Tenant string
	Usage  []PeriodUsage // periods with usage, by start
	Grants []GrantState  // by (time, id)
	// Closed holds the figures of every closed period as last evaluated,
	// in period order; len(Closed) periods are closed.
	Closed []ClosedState
	// LateFrom is the start of the earliest closed period whose inputs
	// changed since the last close; nil when none did.
	LateFrom *time.Time `json:",omitempty"`
}

// PeriodUsage is the credits consumed in the period starting at Start.
type PeriodUsage struct {
	Start   time.Time // UTC
	Credits schemas.Micros
}

// GrantState is a grant and whether a close has billed its purchase.
type GrantState struct {
	Grant  schemas.Grant
	Billed bool `json:",omitempty"`
}

// ClosedState is a closed period's figures as last evaluated.
type ClosedState struct {
	Start         time.Time // UTC
	RolloverIn    schemas.Micros
	GrantCredits  schemas.Micros
	Consumed      schemas.Micros
	Overage       schemas.Micros
	OverageAmount schemas.Decimal
	Revenue       string // the period's own recognized revenue, an exact fraction "num/den"
}

// Snapshot returns the account's state. It shares nothing with the account.
func (a *Account) Snapshot() State {
	s := State{Tenant: a.tenant}
	for i, m := range a.usage {
		if m != 0 {
			s.Usage = append(s.Usage, PeriodUsage{Start: a.periods[i].Start, Credits: m})
		}
	}
	for _, g := range a.grants {
		s.Grants = append(s.Grants, GrantState{Grant: g.Grant, Billed: g.billed})
	}
	slices.SortFunc(s.Grants, func(x, y GrantState) int {
		return cmp.Or(x.Grant.Time.Compare(y.Grant.Time), strings.Compare(x.Grant.ID, y.Grant.ID))
	})
	for i, v := range a.views {
		s.Closed = append(s.Closed, ClosedState{
			Start: a.periods[i].Start, RolloverIn: v.R, GrantCredits: v.G, Consumed: v.C, Overage: v.O,
			OverageAmount: v.amount, Revenue: v.revenue.String(),
		})
	}
	if a.dirty < a.closed {
		t := a.periods[a.dirty].Start
		s.LateFrom = &t
	}
	return s
}

// Restore returns the account of tenant t of catalog cat with state s, which
// must come from Snapshot of an account of the same tenant under a catalog
// with the same calendar for it. Restore is total: usage is put in the period
// that contains its Start, invalid grants are dropped (Snapshot never holds
// any), and a revenue that does not parse counts as 0.
func Restore(cat *catalog.Catalog, t *catalog.Tenant, s State) *Account {
	a := NewAccount(cat, t)
	for _, u := range s.Usage {
		i, _, err := a.index(u.Start)
		if err != nil || u.Credits <= 0 {
			continue
		}
		for len(a.usage) <= i {
			a.usage = append(a.usage, 0)
		}
		if sum, err := schemas.AddMicros(a.usage[i], u.Credits); err == nil {
			a.usage[i] = sum
		}
	}
	for _, g := range s.Grants {
		if a.AddGrant(g.Grant) != nil {
			continue
		}
		if g.Billed {
			a.grants[a.byID[g.Grant.ID]].billed = true
		}
	}
	for _, c := range s.Closed {
		r, ok := new(big.Rat).SetString(c.Revenue)
		if !ok {
			r = new(big.Rat)
		}
		a.views = append(a.views, view{R: c.RolloverIn, G: c.GrantCredits, C: c.Consumed, O: c.Overage, amount: c.OverageAmount, revenue: r})
	}
	a.closed = len(a.views)
	a.period(a.closed)
	a.valid, a.dirty = 0, none
	if s.LateFrom != nil {
		if i, ok, err := a.index(*s.LateFrom); ok && err == nil && i < a.closed {
			a.dirty = i
		}
	}
	a.live = liveCache{}
	return a
}

package alert

import (
	"strconv"
	"strings"

	"github.com/creditflow/creditflow/schemas"
)

// TopupPolicy is a tenant's auto top-up (SPEC 2.3 auto_topup, 3.6), with the
// bundle resolved from its plan. A zero MaxPerPeriod or BundleCredits
// disables top-ups.
type TopupPolicy struct {
	BelowCredits  schemas.Micros  // top up while available − consumed is below this
	BundleCredits schemas.Micros  // credits of the bundle bought, > 0
	BundlePrice   schemas.Decimal // its price, ≥ 0
	MaxPerPeriod  int             // most top-ups per tenant-period
}

// Topup decides the auto top-up after counted event u, with b the balance
// after it (SPEC 3.6): while the balance b.Available − b.Consumed is below
// cfg.BelowCredits and fewer than cfg.MaxPerPeriod top-ups were made in
// b.Period, it returns a topup grant of the bundle (its credits and price,
// never expiring, Time = u.Time, ID "topup/<tenant>/<period start
// RFC 3339>/<n>" with n = 1, 2, … within the period) and counts it. At most
// one per call: the caller adds the grant to the ledger, publishes it, calls
// Granted with the new balance, and calls Topup again until it reports
// false. The count is part of Snapshot, so a top-up is made once even across
// restarts. No top-up is made for a period older than the tenant's two
// newest.
func (e *Engine) Topup(u Usage, b Balance, cfg TopupPolicy) (schemas.Grant, bool) {
	if cfg.MaxPerPeriod <= 0 || cfg.BundleCredits <= 0 {
		return schemas.Grant{}, false
	}
	return e.topup(e.tenant(b.Tenant), u, &b, &cfg)
}

// TopupHandle is Topup for the tenant of h (named b.Tenant), without
// looking it up by name.
func (e *Engine) TopupHandle(h *Handle, u Usage, b *Balance, cfg *TopupPolicy) (schemas.Grant, bool) {
	if cfg.MaxPerPeriod <= 0 || cfg.BundleCredits <= 0 {
		return schemas.Grant{}, false
	}
	return e.topup(e.tenantOf(h, b.Tenant), u, b, cfg)
}

func (e *Engine) topup(t *tenant, u Usage, b *Balance, cfg *TopupPolicy) (schemas.Grant, bool) {
	ps, _ := t.slot(b.Period)
	if ps == nil || ps.topups >= cfg.MaxPerPeriod || b.Available-b.Consumed >= cfg.BelowCredits {
		return schemas.Grant{}, false
	}
	ps.topups++
	id := make([]byte, 0, len(b.Tenant)+40)
	id = append(id, "topup/"...)
	id = appendPeriodKey(id, b.Tenant, ps.start)
	id = strconv.AppendInt(id, int64(ps.topups), 10)
	return schemas.Grant{
		ID:                  string(id),
		Tenant:              b.Tenant,
		Credits:             cfg.BundleCredits,
		Price:               cfg.BundlePrice,
		Kind:                schemas.GrantTopup,
		Time:                u.Time.UTC(),
		ExpiresAfterPeriods: 0,
	}, true
}

// TopupAlert returns the topup alert that announces grant g, made by Topup
// for the balance b it was called with: ID "<tenant>/<period start
// RFC 3339>/topup/<n>" (n as in the grant's id), Time = the grant's time,
// GrantID, Credits and Price of the grant, Consumed and Available before it.
func TopupAlert(g schemas.Grant, b Balance) schemas.Alert {
	n := g.ID[strings.LastIndexByte(g.ID, '/')+1:]
	id := make([]byte, 0, len(g.Tenant)+40)
	id = appendPeriodKey(id, g.Tenant, b.Period.Start)
	id = append(id, "topup/"...)
	id = append(id, n...)
	return schemas.Alert{
		ID:          string(id),
		Type:        schemas.AlertTopup,
		Tenant:      g.Tenant,
		PeriodStart: b.Period.Start.UTC(),
		Time:        g.Time.UTC(),
		GrantID:     g.ID,
		Credits:     g.Credits,
		Price:       g.Price,
		Consumed:    b.Consumed,
		Available:   b.Available,
	}
}

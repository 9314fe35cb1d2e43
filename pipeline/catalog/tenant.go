package catalog

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// overrideKeys may be written on a tenant directly or under "overrides".
var overrideKeys = []string{"thresholds", "cap_credits", "cap_amount"}

func (p *parser) tenants(c *Catalog, root *object) {
	lines := map[string]int{}
	for i, n := range p.list(root, "tenants") {
		o := p.object(n, index("tenants", i), append([]string{"id", "plan", "anchor_day", "timezone", "start",
			"overrides", "auto_topup", "plan_changes"}, overrideKeys...)...)
		if o == nil {
			continue
		}
		t, ok := p.tenant(c, o)
		if t.ID != "" {
			if first, dup := lines[t.ID]; dup {
				p.fail(o.get("id"), o.at("id"), "duplicate tenant %q (first at line %d)", t.ID, first)
				continue
			}
			lines[t.ID] = o.get("id").Line
		}
		if !ok {
			continue
		}
		c.tenants[t.ID] = t
		c.Tenants = append(c.Tenants, t)
	}
	slices.SortFunc(c.Tenants, func(a, b *Tenant) int { return cmp.Compare(a.ID, b.ID) })
}

// validTenantID reports whether s matches [A-Za-z0-9._:-]{1,128} (SPEC 2.1).
func validTenantID(s string) bool {
	if len(s) < 1 || len(s) > schemas.MaxKeyLen {
		return false
	}
	for i := range len(s) {
		switch ch := s[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '.', ch == '_', ch == ':', ch == '-':
		default:
			return false
		}
	}
	return true
}

// tenant reads one tenant; ok is false when any of its fields is invalid or
// its id is unusable.
func (p *parser) tenant(c *Catalog, o *object) (*Tenant, bool) {
	before := len(p.problems)
	t := &Tenant{AnchorDay: 1, Timezone: "UTC", Location: time.UTC}
	if id, found := p.text(o, "id", true); found {
		if !validTenantID(id) {
			p.fail(o.get("id"), o.at("id"), "must match [A-Za-z0-9._:-]{1,128}, got %q", id)
		}
		t.ID = id
	}
	if id, found := p.text(o, "plan", true); found {
		if c.plans[id] == nil {
			p.fail(o.get("plan"), o.at("plan"), "unknown plan %q", id)
		}
		t.Plan = id
	}
	calendarOK := true
	if o.has("anchor_day") {
		d, found := p.integer(o, "anchor_day", 1, 28)
		calendarOK = found
		t.AnchorDay = d
	}
	if tz, found := p.text(o, "timezone", false); found {
		loc, err := time.LoadLocation(tz)
		switch {
		case tz == "Local":
			p.fail(o.get("timezone"), o.at("timezone"), `must be an IANA time zone name; "Local" depends on the machine`)
			calendarOK = false
		case err != nil:
			p.fail(o.get("timezone"), o.at("timezone"), "must be an IANA time zone name such as Europe/Berlin, got %q", tz)
			calendarOK = false
		default:
			t.Timezone, t.Location = tz, loc
		}
	} else if o.has("timezone") {
		calendarOK = false
	}
	start, found := p.instant(o, "start", true)
	calendarOK = calendarOK && found
	t.Start = start

	// Overrides, on the tenant or under "overrides", not both.
	over := map[string]*object{}
	for _, k := range overrideKeys {
		if o.has(k) {
			over[k] = o
		}
	}
	if o.has("overrides") {
		if ov := p.object(o.get("overrides"), o.at("overrides"), overrideKeys...); ov != nil {
			for _, k := range overrideKeys {
				if !ov.has(k) {
					continue
				}
				if over[k] != nil {
					p.fail(ov.get(k), ov.at(k), "also set at %s; set it once", o.at(k))
					continue
				}
				over[k] = ov
			}
		}
	}
	if src := over["thresholds"]; src != nil {
		t.Thresholds, _ = p.thresholds(src.get("thresholds"), src.at("thresholds"))
	}
	if src := over["cap_credits"]; src != nil {
		if m, ok := p.credits(src, "cap_credits", false, false); ok {
			t.CapCredits = &m
		}
	}
	if src := over["cap_amount"]; src != nil {
		if d, ok := p.decimal(src, "cap_amount", false, nonNegative); ok {
			t.CapAmount = &d
		}
		if over["cap_credits"] != nil {
			p.fail(src.get("cap_amount"), src.at("cap_amount"), "set at most one of cap_credits and cap_amount")
		}
	}

	t.PlanChanges = p.planChanges(c, o, t, calendarOK)
	p.checkCaps(c, t, over)
	if o.has("auto_topup") {
		t.AutoTopup = p.autoTopup(c, o, t)
	}
	return t, len(p.problems) == before
}

// planChanges reads and sorts a tenant's plan changes. Effective instants
// are checked against the calendar only when it is valid.
func (p *parser) planChanges(c *Catalog, o *object, t *Tenant, calendarOK bool) []PlanChange {
	type change struct {
		PlanChange
		o *object
	}
	var out []change
	seen := map[int64]int{}
	cal := t.Calendar()
	for i, n := range p.list(o, "plan_changes") {
		co := p.object(n, index(o.at("plan_changes"), i), "effective", "plan")
		if co == nil {
			continue
		}
		ch := change{o: co}
		ok := true
		if id, found := p.text(co, "plan", true); !found {
			ok = false
		} else if c.plans[id] == nil {
			p.fail(co.get("plan"), co.at("plan"), "unknown plan %q", id)
			ok = false
		} else {
			ch.Plan = id
		}
		eff, found := p.instant(co, "effective", true)
		if found {
			ch.Effective = eff
			ns := eff.UnixNano()
			switch first, dup := seen[ns]; {
			case dup:
				p.fail(co.get("effective"), co.at("effective"), "duplicate plan change effective %s (first at line %d)",
					eff.Format(time.RFC3339Nano), first)
				ok = false
			case calendarOK && !eff.After(t.Start):
				p.fail(co.get("effective"), co.at("effective"), "must be after the tenant's start %s",
					t.Start.Format(time.RFC3339Nano))
				ok = false
			case calendarOK && !cal.IsBoundary(eff):
				p.fail(co.get("effective"), co.at("effective"), "must be a period start of the tenant's calendar, e.g. %s",
					nextBoundary(cal, eff).Format(time.RFC3339))
				ok = false
			}
			if _, dup := seen[ns]; !dup {
				seen[ns] = co.get("effective").Line
			}
		} else {
			ok = false
		}
		if ok {
			out = append(out, ch)
		}
	}
	slices.SortFunc(out, func(a, b change) int { return a.Effective.Compare(b.Effective) })
	var changes []PlanChange
	prev := t.Plan
	for _, ch := range out {
		if ch.Plan == prev {
			p.warn(ch.o.get("plan"), ch.o.at("plan"), "no effect: the tenant is already on plan %q", prev)
		}
		prev = ch.Plan
		changes = append(changes, ch.PlanChange)
	}
	return changes
}

// nextBoundary returns the first period start of cal after t, for hints.
func nextBoundary(cal period.Calendar, t time.Time) time.Time {
	per, ok := cal.At(t)
	if !ok {
		return cal.First().Start
	}
	return per.End
}

// tenantPlans returns the known plans a tenant is ever on, each once, with
// where it comes from.
func tenantPlans(c *Catalog, t *Tenant) (plans []*Plan, from []string) {
	add := func(id, where string) {
		pl := c.plans[id]
		if pl == nil || slices.Contains(plans, pl) {
			return
		}
		plans, from = append(plans, pl), append(from, where)
	}
	add(t.Plan, "plan")
	for i, ch := range t.PlanChanges {
		add(ch.Plan, fmt.Sprintf("plan_changes[%d]", i))
	}
	return plans, from
}

// checkCaps validates the tenant's cap overrides against its plans.
func (p *parser) checkCaps(c *Catalog, t *Tenant, over map[string]*object) {
	key := "cap_credits"
	if t.CapCredits == nil {
		key = "cap_amount"
	}
	src := over[key]
	if src == nil || (t.CapCredits == nil && t.CapAmount == nil) {
		return
	}
	plans, _ := tenantPlans(c, t)
	if len(plans) == 0 {
		return
	}
	billing := false
	for _, pl := range plans {
		if pl.Overage.Mode != OverageBill {
			continue
		}
		billing = true
		if key == "cap_amount" && pl.Overage.PricePerCredit.IsZero() {
			p.fail(src.get(key), src.at(key), "plan %q has price_per_credit 0, so a cap_amount cannot be turned into credits", pl.ID)
		}
	}
	if !billing {
		p.warn(src.get(key), src.at(key), "no effect: no plan of the tenant bills overage")
	}
}

func (p *parser) autoTopup(c *Catalog, tenant *object, t *Tenant) *AutoTopup {
	o := p.object(tenant.get("auto_topup"), tenant.at("auto_topup"), "below_credits", "bundle", "max_per_period")
	if o == nil {
		return nil
	}
	a := &AutoTopup{MaxPerPeriod: 1}
	a.BelowCredits, _ = p.credits(o, "below_credits", true, false)
	if n, ok := p.integer(o, "max_per_period", 1, maxInt); ok {
		a.MaxPerPeriod = n
	}
	id, ok := p.text(o, "bundle", true)
	if !ok {
		return a
	}
	a.Bundle = id
	plans, from := tenantPlans(c, t)
	for i, pl := range plans {
		if _, offered := a.BundleOf(pl); !offered {
			p.fail(o.get("bundle"), o.at("bundle"), "plan %q (the tenant's %s) offers no bundle %q", pl.ID, from[i], id)
		}
	}
	return a
}

package catalog

import (
	"cmp"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/creditflow/creditflow/schemas"
)

// defaultThresholds are the alert thresholds, in percent of the allotment,
// of a plan that declares none.
var defaultThresholds = []schemas.Decimal{{Coef: 50}, {Coef: 80}, {Coef: 100}}

// DefaultThresholds returns a copy of the thresholds, in percent of the
// allotment, of a plan that declares none: [50, 80, 100].
func DefaultThresholds() []schemas.Decimal { return slices.Clone(defaultThresholds) }

func (p *parser) plans(c *Catalog, root *object) {
	lines := map[string]int{}
	for i, n := range p.list(root, "plans") {
		o := p.object(n, index("plans", i), "id", "fee", "included_credits", "thresholds", "rollover", "overage", "bundles")
		if o == nil {
			continue
		}
		id, ok := p.text(o, "id", true)
		pl := &Plan{ID: id, Fee: schemas.Decimal{Scale: uint8(c.CurrencyDecimals)}, Thresholds: DefaultThresholds()}
		if fee, found := p.money(o, "fee", false, c.CurrencyDecimals); found {
			pl.Fee = fee
		}
		pl.IncludedCredits, _ = p.credits(o, "included_credits", false, false)
		if o.has("thresholds") {
			if th, found := p.thresholds(o.get("thresholds"), o.at("thresholds")); found {
				pl.Thresholds = th
			}
		}
		if o.has("rollover") {
			pl.Rollover = p.rollover(o.get("rollover"), o.at("rollover"))
		}
		pl.Overage = Overage{Mode: OverageBlock}
		if o.has("overage") {
			pl.Overage = p.overage(o.get("overage"), o.at("overage"))
		}
		pl.Bundles = p.bundles(o, c.CurrencyDecimals)
		if !ok {
			continue
		}
		if first, dup := lines[id]; dup {
			p.fail(o.get("id"), o.at("id"), "duplicate plan %q (first at line %d)", id, first)
			continue
		}
		lines[id] = o.get("id").Line
		c.plans[id] = pl
		c.Plans = append(c.Plans, pl)
	}
	slices.SortFunc(c.Plans, func(a, b *Plan) int { return cmp.Compare(a.ID, b.ID) })
}

// thresholds reads a sequence of percentages in (0, 1000], refuses
// duplicates and returns them ascending. An empty sequence yields a non-nil
// empty slice.
func (p *parser) thresholds(n *yaml.Node, path string) ([]schemas.Decimal, bool) {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "must be a sequence of percentages, got %s", kindName(n))
		return nil, false
	}
	out := make([]schemas.Decimal, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		item = resolve(item)
		d, found := p.decimalNode(item, index(path, i), thresholdRule)
		if !found {
			ok = false
			continue
		}
		if slices.ContainsFunc(out, func(e schemas.Decimal) bool { return e.Cmp(d) == 0 }) {
			p.fail(item, index(path, i), "duplicate threshold %s", item.Value)
			ok = false
			continue
		}
		out = append(out, d)
	}
	slices.SortStableFunc(out, schemas.Decimal.Cmp)
	return out, ok
}

func (p *parser) rollover(n *yaml.Node, path string) *Rollover {
	o := p.object(n, path, "max_percent", "max_credits")
	if o == nil {
		return nil
	}
	r := &Rollover{}
	if d, ok := p.decimal(o, "max_percent", false, percentRule); ok {
		r.MaxPercent = &d
	}
	if m, ok := p.credits(o, "max_credits", false, false); ok {
		r.MaxCredits = &m
	}
	if !o.has("max_percent") && !o.has("max_credits") {
		p.fail(o.node, path, "needs max_percent, max_credits or both (omit rollover for none)")
	}
	return r
}

func (p *parser) overage(n *yaml.Node, path string) Overage {
	o := p.object(n, path, "mode", "price_per_credit", "cap_credits", "cap_amount")
	if o == nil {
		return Overage{Mode: OverageBlock}
	}
	var ov Overage
	mode, ok := p.text(o, "mode", true)
	if ok {
		ov.Mode = OverageMode(mode)
		if ov.Mode != OverageBill && ov.Mode != OverageBlock {
			p.fail(o.get("mode"), o.at("mode"), `must be "bill" or "block", got %q`, mode)
		}
	}
	price, hasPrice := p.decimal(o, "price_per_credit", ov.Mode == OverageBill, nonNegative)
	capCredits, hasCapCredits := p.credits(o, "cap_credits", false, false)
	capAmount, hasCapAmount := p.decimal(o, "cap_amount", false, nonNegative)
	switch ov.Mode {
	case OverageBill:
		ov.PricePerCredit = price
		if hasCapCredits {
			ov.CapCredits = &capCredits
		}
		if hasCapAmount {
			ov.CapAmount = &capAmount
		}
		if o.has("cap_credits") && o.has("cap_amount") {
			p.fail(o.get("cap_amount"), o.at("cap_amount"), "set at most one of cap_credits and cap_amount")
		}
		if hasPrice && hasCapAmount && price.IsZero() {
			p.fail(o.get("cap_amount"), o.at("cap_amount"), "needs a price_per_credit > 0 to turn the amount into credits")
		}
	case OverageBlock:
		for _, k := range []string{"price_per_credit", "cap_credits", "cap_amount"} {
			if o.has(k) {
				p.fail(o.get(k), o.at(k), "not allowed with mode block")
			}
		}
	}
	return ov
}

func (p *parser) bundles(plan *object, decimals int) []Bundle {
	var out []Bundle
	lines := map[string]int{}
	for i, n := range p.list(plan, "bundles") {
		o := p.object(n, index(plan.at("bundles"), i), "id", "credits", "price")
		if o == nil {
			continue
		}
		id, ok := p.text(o, "id", true)
		credits, found := p.credits(o, "credits", true, true)
		ok = ok && found
		price, found := p.money(o, "price", true, decimals)
		ok = ok && found
		if id != "" {
			if first, dup := lines[id]; dup {
				p.fail(o.get("id"), o.at("id"), "duplicate bundle %q in this plan (first at line %d)", id, first)
				continue
			}
			lines[id] = o.get("id").Line
		}
		if ok {
			out = append(out, Bundle{ID: id, Credits: credits, Price: price})
		}
	}
	return out
}

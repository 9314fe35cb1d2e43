package ledger

import (
	"math/big"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/schemas"
)

// terms is what the ledger needs of the plan in force in one period, with
// every derived limit computed once. A terms value is immutable and may be
// shared by many periods.
type terms struct {
	plan     string
	fee      schemas.Decimal // billed fee: the plan fee rounded half-up to the currency's decimals
	included schemas.Micros  // included credits per period

	// Rollover: rollover_out = min(unused included, rollCap) when roll.
	roll    bool
	rollCap schemas.Micros // min(max_percent % × included rounded down, max_credits); MaxMicros when neither limits

	overage    catalog.Overage // as it applies to the tenant (cap overrides applied)
	block      bool            // mode block: B = 0, U = O
	capped     bool            // a billable cap applies (bill mode only)
	capCredits schemas.Micros  // the billable cap in credits when capped

	// Line descriptions.
	descFee, descIncluded, descOverage, descUncollected string

	// Filled on first use by value: the value of one included micro-credit,
	// fee ÷ included; nil when included = 0 (the whole fee is then
	// recognized in the period).
	inclValue *unitValue
	valued    bool
}

// compileTerms derives the period terms of a plan with its overage policy as
// it applies to the tenant. Values that do not fit the ranges of Micros are
// treated as not limiting.
//
// Without full, only what pricing needs is compiled (fee, included credits,
// overage and cap), not the rollover limit nor the line descriptions.
func compileTerms(id string, fee schemas.Decimal, included schemas.Micros, roll *catalog.Rollover, ov catalog.Overage, decimals int, full bool) *terms {
	t := &terms{plan: id, included: included, overage: ov}
	if f, err := fee.Rescale(decimals); err == nil {
		t.fee = f
	} else {
		t.fee = roundMoney(fee.Rat(), decimals, fee)
	}
	if roll != nil && full {
		t.roll = true
		t.rollCap = schemas.MaxMicros
		if roll.MaxPercent != nil {
			r := new(big.Rat).Mul(roll.MaxPercent.Rat(), included.Rat())
			r.Quo(r, big.NewRat(100, 1))
			if m, err := schemas.MicrosFromRat(r, schemas.RoundDown); err == nil {
				t.rollCap = min(t.rollCap, m)
			}
		}
		if roll.MaxCredits != nil {
			t.rollCap = min(t.rollCap, *roll.MaxCredits)
		}
	}
	t.block = ov.Mode != catalog.OverageBill
	if !t.block {
		if ov.CapCredits != nil {
			t.capped, t.capCredits = true, *ov.CapCredits
		}
		if ov.CapAmount != nil && ov.PricePerCredit.Sign() > 0 {
			// cap_amount ÷ price_per_credit, rounded down to 6 decimals.
			r := new(big.Rat).Quo(ov.CapAmount.Rat(), ov.PricePerCredit.Rat())
			if m, err := schemas.MicrosFromRat(r, schemas.RoundDown); err == nil {
				if !t.capped || m < t.capCredits {
					t.capped, t.capCredits = true, m
				}
			}
		}
	}
	if !full {
		return t
	}
	plan := " (plan " + id + ")"
	t.descFee = "Subscription fee" + plan
	t.descIncluded = "Included usage" + plan
	t.descOverage = "Overage" + plan
	if t.block {
		t.descUncollected = "Uncollected overage (plan " + id + ", block mode)"
	} else {
		t.descUncollected = "Uncollected overage (plan " + id + ", over cap)"
	}
	return t
}

// value fills inclValue.
func (t *terms) value() {
	if t.valued {
		return
	}
	t.valued = true
	if t.included > 0 {
		t.inclValue = newUnitValue(t.fee, t.included)
	}
}

// roundMoney rounds r half-up to the currency's decimals; when that does not
// fit a Decimal it returns fallback.
func roundMoney(r *big.Rat, decimals int, fallback schemas.Decimal) schemas.Decimal {
	d, err := schemas.RoundHalfUp(r, decimals)
	if err != nil {
		return fallback
	}
	return d
}

// billable splits overage O into billable B and uncollected U (SPEC 3.5).
func (t *terms) billable(o schemas.Micros) (b, u schemas.Micros) {
	switch {
	case t.block:
		return 0, o
	case t.capped && o > t.capCredits:
		return t.capCredits, o - t.capCredits
	}
	return o, 0
}

// rolloverOut returns the included credits that roll over, given the unused
// included credits of the period.
func (t *terms) rolloverOut(unused schemas.Micros) schemas.Micros {
	if !t.roll {
		return 0
	}
	return min(unused, t.rollCap)
}

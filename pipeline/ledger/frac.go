package ledger

import (
	"math/big"

	"github.com/creditflow/creditflow/schemas"
)

// unitValue is the exact value of one micro-credit, Num/Den (Den > 0).
// Included credits are worth fee ÷ included, a grant's price ÷ credits.
type unitValue struct {
	num, den big.Int
}

// newUnitValue returns the value of one micro-credit of a block of credits
// that cost money in total: money / credits (credits > 0).
func newUnitValue(money schemas.Decimal, credits schemas.Micros) *unitValue {
	v := &unitValue{}
	v.num.SetInt64(money.Coef)
	v.den.SetUint64(schemas.Pow10(int(money.Scale)))
	v.den.Mul(&v.den, big.NewInt(int64(credits)))
	return v
}

// frac accumulates an exact sum of fractions without normalizing each step:
// sums of values that share a denominator (one source's credits, money at
// the currency's scale) cost one multiplication and one addition. The zero
// value is 0; reset makes it 0 again, keeping its memory.
type frac struct {
	num, den big.Int // den 0 means the sum is 0
	t        big.Int // scratch
}

func (f *frac) reset() {
	f.num.SetInt64(0)
	f.den.SetInt64(0)
}

// add adds n/d (d > 0).
func (f *frac) add(n, d *big.Int) {
	if n.Sign() == 0 {
		return
	}
	switch {
	case f.den.Sign() == 0:
		f.num.Set(n)
		f.den.Set(d)
	case f.den.Cmp(d) == 0:
		f.num.Add(&f.num, n)
	default:
		// num/den + n/d = (num·d + n·den) / (den·d)
		f.num.Mul(&f.num, d)
		f.t.Mul(n, &f.den)
		f.num.Add(&f.num, &f.t)
		f.den.Mul(&f.den, d)
	}
}

// addCredits adds credits × v.
func (f *frac) addCredits(credits schemas.Micros, v *unitValue, scratch *big.Int) {
	if credits == 0 || v == nil {
		return
	}
	scratch.SetInt64(int64(credits))
	scratch.Mul(scratch, &v.num)
	f.add(scratch, &v.den)
}

// addMoney adds an amount.
func (f *frac) addMoney(d schemas.Decimal, n, den *big.Int) {
	if d.Coef == 0 {
		return
	}
	n.SetInt64(d.Coef)
	den.SetUint64(schemas.Pow10(int(d.Scale)))
	f.add(n, den)
}

// rat returns the sum as a new, normalized big.Rat.
func (f *frac) rat() *big.Rat {
	if f.den.Sign() == 0 {
		return new(big.Rat)
	}
	return new(big.Rat).SetFrac(&f.num, &f.den)
}

// round rounds the sum half-up (away from zero) to decimals.
func (f *frac) round(decimals int) (schemas.Decimal, error) {
	if f.den.Sign() == 0 {
		return schemas.Decimal{Scale: uint8(decimals)}, nil
	}
	return roundHalfUp(&f.num, &f.den, decimals)
}

// roundHalfUp returns num/den rounded half-up (away from zero) to decimals;
// den must be > 0. It is schemas.RoundHalfUp without building a big.Rat.
func roundHalfUp(num, den *big.Int, decimals int) (schemas.Decimal, error) {
	var q, r, p big.Int
	p.SetUint64(schemas.Pow10(decimals))
	q.Mul(num, &p)
	q.QuoRem(&q, den, &r) // truncated toward zero
	r.Abs(&r)
	r.Lsh(&r, 1)
	if r.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(&q, big.NewInt(1))
		} else {
			q.Add(&q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return schemas.Decimal{}, schemas.ErrOverflow
	}
	return schemas.Decimal{Coef: q.Int64(), Scale: uint8(decimals)}, nil
}

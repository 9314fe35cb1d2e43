package ledger

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/creditflow/creditflow/schemas"
)

// mulMoney returns credits × price rounded half-up to decimals: the money
// rule of SPEC 3.1 for an overage line. It works on 128-bit integers and
// does not allocate unless the product needs more than that, when it falls
// back to math/big.
func mulMoney(credits schemas.Micros, price schemas.Decimal, decimals int) (schemas.Decimal, error) {
	if credits == 0 || price.Coef == 0 {
		return schemas.Decimal{Scale: uint8(decimals)}, nil
	}
	if credits > 0 && price.Coef > 0 {
		hi, lo := bits.Mul64(uint64(credits), uint64(price.Coef))
		scale := 6 + int(price.Scale) // scale of the product
		switch {
		case scale <= decimals && hi == 0:
			up := decimals - scale
			if up <= schemas.MaxScale {
				h, l := bits.Mul64(lo, schemas.Pow10(up))
				if h == 0 && l <= math.MaxInt64 {
					return schemas.Decimal{Coef: int64(l), Scale: uint8(decimals)}, nil
				}
			}
		case scale > decimals && scale-decimals <= 19:
			div := uint64(10_000_000_000_000_000_000) // 10^19
			if scale-decimals <= schemas.MaxScale {
				div = schemas.Pow10(scale - decimals)
			}
			if hi < div {
				q, r := bits.Div64(hi, lo, div)
				if r >= div-r { // 2r ≥ div: half-up
					q++
				}
				if q <= math.MaxInt64 {
					return schemas.Decimal{Coef: int64(q), Scale: uint8(decimals)}, nil
				}
			}
		}
	}
	r := new(big.Rat).Mul(credits.Rat(), price.Rat())
	return schemas.RoundHalfUp(r, decimals)
}

// addMoney returns x + y for two amounts at the same scale, or false on
// overflow or a scale mismatch.
func addMoney(x, y schemas.Decimal) (schemas.Decimal, bool) {
	if x.Scale != y.Scale {
		return schemas.Decimal{}, false
	}
	s := x.Coef + y.Coef
	if (s > x.Coef) != (y.Coef > 0) {
		return schemas.Decimal{}, false
	}
	return schemas.Decimal{Coef: s, Scale: x.Scale}, true
}

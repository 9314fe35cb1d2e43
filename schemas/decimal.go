package schemas

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// Micros is an exact decimal with six fractional digits, held as an integer
// count of millionths. Credits and usage quantities are Micros. The range is
// ±9,223,372,036,854.775807; arithmetic that would leave it reports an error
// instead of wrapping (see AddMicros).
type Micros int64

// MicrosPerUnit is the number of Micros in one whole unit.
const MicrosPerUnit = 1_000_000

// MaxMicros is the largest representable value.
const MaxMicros = Micros(math.MaxInt64)

// ErrOverflow reports a result outside the range of Micros or Decimal.
var ErrOverflow = errors.New("decimal out of range")

// ErrSyntax reports text that is not a plain decimal number.
var ErrSyntax = errors.New("not a plain decimal number")

// ErrPrecision reports a decimal with more fractional digits than allowed.
var ErrPrecision = errors.New("too many fractional digits")

// ParseMicros parses a plain decimal ("12", "-0.5", "3.141593") with at most
// six fractional digits. Exponents, hex, NaN and infinities are refused.
func ParseMicros(s string) (Micros, error) {
	d, err := parseDecimal(s, 6)
	if err != nil {
		return 0, err
	}
	m, err := d.Rescale(6)
	return Micros(m.Coef), err
}

// ParseMicrosBytes is ParseMicros over bytes, without allocating.
func ParseMicrosBytes(b []byte) (Micros, error) {
	d, err := parseDecimalBytes(b, 6)
	if err != nil {
		return 0, err
	}
	m, err := d.Rescale(6)
	return Micros(m.Coef), err
}

// String formats m with exactly six fractional digits, e.g. "12.500000".
func (m Micros) String() string { return string(m.Append(nil)) }

// Append appends m formatted as by String.
func (m Micros) Append(b []byte) []byte {
	return Decimal{Coef: int64(m), Scale: 6}.Append(b)
}

// Decimal returns m as a Decimal with scale 6.
func (m Micros) Decimal() Decimal { return Decimal{Coef: int64(m), Scale: 6} }

// Rat returns m as an exact rational.
func (m Micros) Rat() *big.Rat { return big.NewRat(int64(m), MicrosPerUnit) }

// AddMicros returns a+b or ErrOverflow.
func AddMicros(a, b Micros) (Micros, error) {
	s := a + b
	if (s > a) != (b > 0) {
		return 0, ErrOverflow
	}
	return s, nil
}

// Decimal is an exact decimal Coef × 10^-Scale with Scale in [0, 18].
// It is used for rates, prices and money, whose precision the catalog sets.
// The zero value is 0.
type Decimal struct {
	Coef  int64
	Scale uint8
}

// MaxScale is the largest Decimal scale.
const MaxScale = 18

var pow10 = [...]uint64{
	1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000,
	1_000_000_000, 10_000_000_000, 100_000_000_000, 1_000_000_000_000,
	10_000_000_000_000, 100_000_000_000_000, 1_000_000_000_000_000,
	10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000,
}

// Pow10 returns 10^n for n in [0, 18].
func Pow10(n int) uint64 { return pow10[n] }

// ParseDecimal parses a plain decimal with at most MaxScale fractional digits.
func ParseDecimal(s string) (Decimal, error) { return parseDecimal(s, MaxScale) }

func parseDecimal(s string, maxScale int) (Decimal, error) {
	// A string never escapes here, so the conversion does not allocate.
	return parseDecimalBytes([]byte(s), maxScale)
}

func parseDecimalBytes(b []byte, maxScale int) (Decimal, error) {
	if len(b) == 0 {
		return Decimal{}, ErrSyntax
	}
	neg := false
	i := 0
	switch b[0] {
	case '-':
		neg = true
		i++
	case '+':
		i++
	}
	var coef uint64
	intDigits, fracDigits, scale := 0, 0, 0
	dot := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			if dot || intDigits == 0 {
				return Decimal{}, ErrSyntax
			}
			dot = true
			continue
		}
		if c < '0' || c > '9' {
			return Decimal{}, ErrSyntax
		}
		if dot {
			fracDigits++
			if scale == maxScale {
				// Trailing zeros beyond the limit are harmless.
				if c == '0' {
					continue
				}
				return Decimal{}, ErrPrecision
			}
			scale++
		} else {
			intDigits++
		}
		hi, lo := bits.Mul64(coef, 10)
		if hi != 0 {
			return Decimal{}, ErrOverflow
		}
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if carry != 0 {
			return Decimal{}, ErrOverflow
		}
		coef = lo
	}
	if intDigits == 0 || (dot && fracDigits == 0) {
		return Decimal{}, ErrSyntax
	}
	if coef > math.MaxInt64 {
		return Decimal{}, ErrOverflow
	}
	c := int64(coef)
	if neg {
		c = -c
	}
	return Decimal{Coef: c, Scale: uint8(scale)}, nil
}

// MustDecimal parses s or panics; for constants in tests and examples.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(fmt.Sprintf("MustDecimal(%q): %v", s, err))
	}
	return d
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	switch {
	case d.Coef < 0:
		return -1
	case d.Coef > 0:
		return 1
	}
	return 0
}

// IsZero reports whether d is zero.
func (d Decimal) IsZero() bool { return d.Coef == 0 }

// Rescale returns d with the given scale, exactly, or ErrPrecision when digits
// would be dropped, or ErrOverflow.
func (d Decimal) Rescale(scale int) (Decimal, error) {
	s := int(d.Scale)
	switch {
	case scale == s:
		return d, nil
	case scale > s:
		p := pow10[scale-s]
		neg := d.Coef < 0
		u := uint64(d.Coef)
		if neg {
			u = uint64(-d.Coef)
		}
		hi, lo := bits.Mul64(u, p)
		if hi != 0 || lo > math.MaxInt64 {
			return Decimal{}, ErrOverflow
		}
		c := int64(lo)
		if neg {
			c = -c
		}
		return Decimal{Coef: c, Scale: uint8(scale)}, nil
	default:
		p := int64(pow10[s-scale])
		if d.Coef%p != 0 {
			return Decimal{}, ErrPrecision
		}
		return Decimal{Coef: d.Coef / p, Scale: uint8(scale)}, nil
	}
}

// Rat returns d as an exact rational.
func (d Decimal) Rat() *big.Rat {
	r := new(big.Rat).SetInt64(d.Coef)
	if d.Scale > 0 {
		r.Quo(r, new(big.Rat).SetInt(new(big.Int).SetUint64(pow10[d.Scale])))
	}
	return r
}

// Cmp compares d and e exactly.
func (d Decimal) Cmp(e Decimal) int { return d.Rat().Cmp(e.Rat()) }

// String formats d with exactly d.Scale fractional digits, e.g. "0.0015".
func (d Decimal) String() string { return string(d.Append(nil)) }

// Append appends d formatted as by String.
func (d Decimal) Append(b []byte) []byte {
	u := uint64(d.Coef)
	if d.Coef < 0 {
		b = append(b, '-')
		u = -u
	}
	if d.Scale == 0 {
		return strconv.AppendUint(b, u, 10)
	}
	p := pow10[d.Scale]
	b = strconv.AppendUint(b, u/p, 10)
	b = append(b, '.')
	frac := u % p
	var buf [20]byte
	f := strconv.AppendUint(buf[:0], frac, 10)
	for i := len(f); i < int(d.Scale); i++ {
		b = append(b, '0')
	}
	return append(b, f...)
}

// StringFixed formats d with exactly n fractional digits. It never rounds:
// when d has more significant fractional digits than n, they are all kept.
func (d Decimal) StringFixed(n int) string {
	if int(d.Scale) < n {
		if e, err := d.Rescale(n); err == nil {
			return e.String()
		}
	}
	return d.Normalize(n).String()
}

// Normalize drops trailing fractional zeros down to at least minScale digits.
func (d Decimal) Normalize(minScale int) Decimal {
	for int(d.Scale) > minScale && d.Coef%10 == 0 {
		d.Coef /= 10
		d.Scale--
	}
	return d
}

// MulMicros returns q × d rounded half-even to six decimals: the rating rule
// of SPEC 3.1 (credits = quantity × credits_per_unit). It does not allocate.
func MulMicros(q Micros, d Decimal) (Micros, error) {
	neg := (q < 0) != (d.Coef < 0)
	uq := uint64(q)
	if q < 0 {
		uq = -uq
	}
	ud := uint64(d.Coef)
	if d.Coef < 0 {
		ud = -ud
	}
	// q has scale 6, d has scale d.Scale: the product has scale 6+d.Scale;
	// divide by 10^d.Scale to come back to scale 6.
	hi, lo := bits.Mul64(uq, ud)
	div := pow10[d.Scale]
	if hi >= div {
		return 0, ErrOverflow
	}
	quo, rem := bits.Div64(hi, lo, div)
	quo = roundHalfEven(quo, rem, div)
	if quo > math.MaxInt64 {
		return 0, ErrOverflow
	}
	r := int64(quo)
	if neg {
		r = -r
	}
	return Micros(r), nil
}

func roundHalfEven(quo, rem, div uint64) uint64 {
	other := div - rem // rem < div, so this cannot wrap
	// Whether to round up depends on the data about half the time, so it is
	// computed without a branch (conditional moves), which a CPU would
	// mispredict that often.
	up := uint64(0)
	if rem == other {
		up = quo & 1
	}
	if rem > other {
		up = 1
	}
	return quo + up
}

// RoundHalfUp rounds r to n fractional digits, halves away from zero: the
// money rule of SPEC 3.1, applied once per line item or figure.
func RoundHalfUp(r *big.Rat, n int) (Decimal, error) {
	return roundRat(r, n, func(q, rem, den *big.Int) bool {
		// Round away from zero when 2*|rem| >= den.
		twice := new(big.Int).Lsh(new(big.Int).Abs(rem), 1)
		return twice.Cmp(den) >= 0
	})
}

// RoundDown truncates r toward zero to n fractional digits (used where SPEC
// 3.5 says "rounded down": cap_amount/price and rollover limits, which are
// never negative).
func RoundDown(r *big.Rat, n int) (Decimal, error) {
	if r.Sign() < 0 {
		// Toward negative infinity, so that a limit never grows.
		return roundRat(r, n, func(q, rem, den *big.Int) bool { return rem.Sign() != 0 })
	}
	return roundRat(r, n, func(q, rem, den *big.Int) bool { return false })
}

// RoundHalfEven rounds r to n fractional digits, halves to even.
func RoundHalfEven(r *big.Rat, n int) (Decimal, error) {
	return roundRat(r, n, func(q, rem, den *big.Int) bool {
		twice := new(big.Int).Lsh(new(big.Int).Abs(rem), 1)
		c := twice.Cmp(den)
		return c > 0 || (c == 0 && q.Bit(0) == 1)
	})
}

// roundRat scales r by 10^n, splits it into quotient and remainder (truncated
// toward zero) and lets away decide whether to step one unit away from zero.
func roundRat(r *big.Rat, n int, away func(q, rem, den *big.Int) bool) (Decimal, error) {
	if n < 0 || n > MaxScale {
		return Decimal{}, fmt.Errorf("round to %d digits: scale out of range", n)
	}
	num := new(big.Int).Mul(r.Num(), new(big.Int).SetUint64(pow10[n]))
	den := r.Denom()
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	if away(q, rem, den) {
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return Decimal{}, ErrOverflow
	}
	return Decimal{Coef: q.Int64(), Scale: uint8(n)}, nil
}

// MicrosFromRat converts r, which must have at most six fractional digits
// after rounding by round, to Micros.
func MicrosFromRat(r *big.Rat, round func(*big.Rat, int) (Decimal, error)) (Micros, error) {
	d, err := round(r, 6)
	if err != nil {
		return 0, err
	}
	return Micros(d.Coef), nil
}

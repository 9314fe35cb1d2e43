package schemas

import (
	"errors"
	"math/big"
	"testing"
)

func TestParseMicros(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Micros
		err  error
	}{
		{"0", 0, nil},
		{"12", 12_000_000, nil},
		{"12.5", 12_500_000, nil},
		{"-0.000001", -1, nil},
		{"1.0000000", 1_000_000, nil},
		{"0.1234567", 0, ErrPrecision},
		{"1e3", 0, ErrSyntax},
		{".5", 0, ErrSyntax},
		{"5.", 0, ErrSyntax},
		{"", 0, ErrSyntax},
		{"-", 0, ErrSyntax},
		{"1.2.3", 0, ErrSyntax},
		{"NaN", 0, ErrSyntax},
		{"9223372036854.775807", MaxMicros, nil},
		{"9223372036854.775808", 0, ErrOverflow},
		{"99999999999999999999", 0, ErrOverflow},
	}
	for _, tt := range tests {
		got, err := ParseMicros(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("ParseMicros(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestMicrosString(t *testing.T) {
	t.Parallel()
	for m, want := range map[Micros]string{0: "0.000000", 1: "0.000001", -1: "-0.000001", 12_500_000: "12.500000", MaxMicros: "9223372036854.775807"} {
		if got := m.String(); got != want {
			t.Errorf("Micros(%d).String() = %q, want %q", int64(m), got, want)
		}
	}
}

func TestMulMicrosHalfEven(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q    string
		rate string
		want string
	}{
		{"1000", "0.002", "2.000000"},
		{"1", "0.0000005", "0.000000"},  // 0.0000005 → half, even 0
		{"3", "0.0000005", "0.000002"},  // 0.0000015 → half, even 2
		{"5", "0.0000005", "0.000002"},  // 0.0000025 → half, even 2
		{"1", "0.00000051", "0.000001"}, // above half
		{"0.000001", "0.5", "0.000000"}, // 0.0000005 → 0
		{"1000000000000", "9", "9000000000000.000000"},
		{"1234.567891", "1", "1234.567891"},
		{"2", "1.25", "2.500000"},
	}
	for _, tt := range tests {
		q, err := ParseMicros(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := MulMicros(q, MustDecimal(tt.rate))
		if err != nil {
			t.Fatalf("MulMicros(%s, %s): %v", tt.q, tt.rate, err)
		}
		if got.String() != tt.want {
			t.Errorf("MulMicros(%s, %s) = %s, want %s", tt.q, tt.rate, got, tt.want)
		}
	}
	q, _ := ParseMicros("1000000000000")
	if _, err := MulMicros(q, MustDecimal("10")); !errors.Is(err, ErrOverflow) {
		t.Errorf("MulMicros overflow: got %v, want ErrOverflow", err)
	}
}

func TestRounding(t *testing.T) {
	t.Parallel()
	r := func(a, b int64) *big.Rat { return big.NewRat(a, b) }
	tests := []struct {
		name string
		fn   func(*big.Rat, int) (Decimal, error)
		in   *big.Rat
		n    int
		want string
	}{
		{"half up half cent", RoundHalfUp, r(5, 1000), 2, "0.01"},
		{"half up negative", RoundHalfUp, r(-5, 1000), 2, "-0.01"},
		{"half up below", RoundHalfUp, r(4999, 1000000), 2, "0.00"},
		{"half even down", RoundHalfEven, r(25, 1000), 2, "0.02"},
		{"half even up", RoundHalfEven, r(35, 1000), 2, "0.04"},
		{"down", RoundDown, r(2, 3), 6, "0.666666"},
		{"down negative", RoundDown, r(-2, 3), 6, "-0.666667"},
		{"exact", RoundHalfUp, r(1, 4), 2, "0.25"},
	}
	for _, tt := range tests {
		got, err := tt.fn(tt.in, tt.n)
		if err != nil || got.String() != tt.want {
			t.Errorf("%s: got %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
}

func TestDecimalFormatting(t *testing.T) {
	t.Parallel()
	if got := MustDecimal("0.0015").StringFixed(2); got != "0.0015" {
		t.Errorf("StringFixed keeps digits: got %s", got)
	}
	if got := MustDecimal("49").StringFixed(2); got != "49.00" {
		t.Errorf("StringFixed pads: got %s", got)
	}
	if got := MustDecimal("49.500").StringFixed(2); got != "49.50" {
		t.Errorf("StringFixed trims to n: got %s", got)
	}
	if got := MustDecimal("-0.5").String(); got != "-0.5" {
		t.Errorf("negative: got %s", got)
	}
	if c := MustDecimal("0.10").Cmp(MustDecimal("0.1")); c != 0 {
		t.Errorf("Cmp(0.10, 0.1) = %d", c)
	}
}

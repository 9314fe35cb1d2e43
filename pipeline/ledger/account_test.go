package ledger

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/schemas"
)

const unitCatalog = `
currency: USD
plans:
  - {id: pro, fee: "100.00", included_credits: 1000, overage: {mode: bill, price_per_credit: "0.10"}}
tenants:
  - {id: acme, plan: pro, start: 2026-01-01T00:00:00Z}
`

func newTestAccount(t *testing.T) *Account {
	t.Helper()
	cat, err := catalog.Parse("unit", []byte(unitCatalog))
	if err != nil {
		t.Fatal(err)
	}
	return NewAccount(cat, cat.Tenants[0])
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func credits(n int64) schemas.Micros { return schemas.Micros(n * schemas.MicrosPerUnit) }

func TestAddUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		at      string
		credits schemas.Micros
		wantErr string
	}{
		{"at the start", "2026-01-01T00:00:00Z", credits(1), ""},
		{"zero credits", "2026-01-05T00:00:00Z", 0, ""},
		{"before the start", "2025-12-31T23:59:59Z", credits(1), "before the tenant's start"},
		{"negative", "2026-01-05T00:00:00Z", -1, "must not be negative"},
		{"far future", "3026-01-05T00:00:00Z", credits(1), "periods after the tenant's start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newTestAccount(t)
			err := a.AddUsage(date(tt.at), tt.credits)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("AddUsage: %v", err)
				}
				if got := a.Live(date(tt.at)).Consumed; got != tt.credits {
					t.Errorf("consumed = %s, want %s", got, tt.credits)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("AddUsage error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	t.Run("overflow", func(t *testing.T) {
		t.Parallel()
		a := newTestAccount(t)
		if err := a.AddUsage(date("2026-01-02T00:00:00Z"), schemas.MaxMicros); err != nil {
			t.Fatal(err)
		}
		if err := a.AddUsage(date("2026-01-03T00:00:00Z"), 1); err == nil {
			t.Fatal("AddUsage past the range of Micros: no error")
		}
	})
}

func TestAddGrant(t *testing.T) {
	t.Parallel()
	valid := schemas.Grant{ID: "g", Tenant: "acme", Credits: credits(10), Price: schemas.MustDecimal("1.00"),
		Kind: schemas.GrantBundle, Time: date("2026-01-02T00:00:00Z")}
	tests := []struct {
		name    string
		edit    func(*schemas.Grant)
		wantErr string
	}{
		{"valid", func(*schemas.Grant) {}, ""},
		{"empty tenant", func(g *schemas.Grant) { g.Tenant = "" }, ""},
		{"no id", func(g *schemas.Grant) { g.ID = "" }, "id: required"},
		{"other tenant", func(g *schemas.Grant) { g.Tenant = "other" }, `tenant "other"`},
		{"zero credits", func(g *schemas.Grant) { g.Credits = 0 }, "credits 0.000000: must be > 0"},
		{"negative price", func(g *schemas.Grant) { g.Price = schemas.MustDecimal("-1") }, "price -1: must be ≥ 0"},
		{"bad kind", func(g *schemas.Grant) { g.Kind = "gift" }, `kind "gift"`},
		{"negative expiry", func(g *schemas.Grant) { g.ExpiresAfterPeriods = -1 }, "expires_after_periods -1"},
		{"no time", func(g *schemas.Grant) { g.Time = time.Time{} }, "time: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newTestAccount(t)
			g := valid
			tt.edit(&g)
			err := a.AddGrant(g)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("AddGrant: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("AddGrant error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	t.Run("all problems at once", func(t *testing.T) {
		t.Parallel()
		err := newTestAccount(t).AddGrant(schemas.Grant{})
		for _, want := range []string{"id: required", "credits", "kind", "time: required"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("AddGrant(zero) error = %v, want it to contain %q", err, want)
			}
		}
	})
	t.Run("repeat ignored", func(t *testing.T) {
		t.Parallel()
		a := newTestAccount(t)
		if err := a.AddGrant(valid); err != nil {
			t.Fatal(err)
		}
		again := valid
		again.Credits = credits(999)
		if err := a.AddGrant(again); err != nil {
			t.Fatal(err)
		}
		if got := a.Live(date("2026-01-03T00:00:00Z")).GrantCredits; got != credits(10) {
			t.Errorf("grant credits = %s, want 10 (the first copy wins)", got)
		}
	})
}

func TestCloseWrongPeriod(t *testing.T) {
	t.Parallel()
	a := newTestAccount(t)
	next := a.NextToClose()
	later := a.cal.Next(next)
	if _, err := a.Close(later); err == nil || !strings.Contains(err.Error(), "the next period to close is") {
		t.Fatalf("Close(a later period) error = %v", err)
	}
	if got := a.NextToClose(); got != next {
		t.Fatalf("NextToClose after a refused close = %v, want %v", got, next)
	}
	if _, err := a.Close(next); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Close(next); err == nil {
		t.Fatal("closing a period twice: no error")
	}
	if got := a.NextToClose(); got != later {
		t.Fatalf("NextToClose = %v, want %v", got, later)
	}
}

// A grant dated in a closed period that arrives after its close re-evaluates
// that period (less overage: a negative adjustment) and is billed by the next
// close.
func TestLateGrant(t *testing.T) {
	t.Parallel()
	a := newTestAccount(t)
	if err := a.AddUsage(date("2026-01-10T00:00:00Z"), credits(1500)); err != nil {
		t.Fatal(err)
	}
	jan, err := a.Close(a.NextToClose())
	if err != nil {
		t.Fatal(err)
	}
	// O = 1500 − 1000 = 500 → 500 × 0.10 = 50.00
	if got := jan.Close.OverageAmount.String(); got != "50.00" {
		t.Fatalf("January overage amount = %s, want 50.00", got)
	}
	g := schemas.Grant{ID: "late", Credits: credits(200), Price: schemas.MustDecimal("10.00"),
		Kind: schemas.GrantBundle, Time: date("2026-01-20T00:00:00Z")}
	if err := a.AddGrant(g); err != nil {
		t.Fatal(err)
	}
	feb, err := a.Close(a.NextToClose())
	if err != nil {
		t.Fatal(err)
	}
	// January again: O = 1500 − 1200 = 300 → 30.00: adjustment −20.00, no late credits.
	// The grant (200 credits for 10.00, 0.05 each) is billed in February.
	// Recognized in February: its own 100.00 (1000 included expire) plus
	// January's change: 200 × 0.05 consumed from the grant − 20.00 = −10.00.
	want := []string{
		"credit_purchase 200.000000 0.05 10.00 Credit purchase late (bundle) dated 2026-01-20T00:00:00Z",
		"late_usage_adjustment 0.000000 0.00 -20.00 Late usage for period 2026-01-01/2026-02-01",
		"subscription_fee 1.000000 100.00 100.00 Subscription fee (plan pro)",
	}
	var got []string
	for _, l := range feb.Lines {
		got = append(got, strings.Join([]string{string(l.Kind), l.Quantity.String(), l.UnitPrice.String(), l.Amount.String(), l.Description}, " "))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("February lines (-want +got):\n%s", diff)
	}
	if got := feb.Close.RecognizedRevenue.String(); got != "90.00" {
		t.Errorf("February recognized = %s, want 90.00", got)
	}
}

// A grant dated before the tenant's start is usable from the first period
// on, and its expiry counts from there.
func TestGrantBeforeStart(t *testing.T) {
	t.Parallel()
	a := newTestAccount(t)
	g := schemas.Grant{ID: "early", Credits: credits(300), Kind: schemas.GrantPromo,
		Time: date("2025-12-15T00:00:00Z"), ExpiresAfterPeriods: 1}
	if err := a.AddGrant(g); err != nil {
		t.Fatal(err)
	}
	if got := a.Live(date("2025-12-20T00:00:00Z")); got.Period != a.NextToClose() || got.GrantCredits != credits(300) {
		t.Errorf("Live before the start = %+v, want the first period with 300 grant credits", got)
	}
	c, err := a.Close(a.NextToClose())
	if err != nil {
		t.Fatal(err)
	}
	// Unused included 1000 and the promo's 300 expire at the first period's end.
	if c.Close.GrantCreditsAvailable != credits(300) || c.Close.ExpiredCredits != credits(1300) {
		t.Errorf("first close: grant credits %s expired %s, want 300 and 1300", c.Close.GrantCreditsAvailable, c.Close.ExpiredCredits)
	}
}

func TestSnapshotJSON(t *testing.T) {
	t.Parallel()
	a := newTestAccount(t)
	for _, err := range []error{
		a.AddUsage(date("2026-01-10T00:00:00Z"), credits(1200)),
		a.AddGrant(schemas.Grant{ID: "b", Credits: credits(100), Price: schemas.MustDecimal("3.00"), Kind: schemas.GrantTopup, Time: date("2026-01-11T00:00:00Z")}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Close(a.NextToClose()); err != nil {
		t.Fatal(err)
	}
	if err := a.AddUsage(date("2026-01-12T00:00:00Z"), credits(7)); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(a.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.LateFrom == nil || !s.LateFrom.Equal(date("2026-01-01T00:00:00Z")) {
		t.Errorf("LateFrom = %v, want January (late usage since the close)", s.LateFrom)
	}
	b := Restore(a.src.cat, a.src.tenant, s)
	ca, err := a.Close(a.NextToClose())
	if err != nil {
		t.Fatal(err)
	}
	cb, err := b.Close(b.NextToClose())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ca, cb); diff != "" {
		t.Errorf("close after Restore (-original +restored):\n%s", diff)
	}
}

func TestUnitPrice(t *testing.T) {
	t.Parallel()
	tests := []struct{ price, credits, want string }{
		{"40.00", "5000", "0.008"},
		{"1.00", "3", "0.3333333333"},
		{"2.00", "3", "0.6666666667"},
		{"100.00", "1", "100.00"},
		{"0.00", "7", "0.00"},
		{"1.00", "0.000001", "1000000.00"},
		{"1.00", "1024", "0.0009765625"},
		{"1", "0.000003", "333333.3333333333"},
	}
	for _, tt := range tests {
		got, err := unitPrice(schemas.MustDecimal(tt.price), mustMicros(t, tt.credits))
		if err != nil || got.String() != tt.want {
			t.Errorf("unitPrice(%s, %s) = %s, %v; want %s", tt.price, tt.credits, got, err, tt.want)
		}
	}
}

// mulMoney and roundHalfUp agree with schemas.RoundHalfUp over big.Rat.
func TestMoneyRounding(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	for range 20000 {
		m := schemas.Micros(r.Int64N(1 << uint(r.IntN(62))))
		p := schemas.Decimal{Coef: r.Int64N(1 << uint(r.IntN(62))), Scale: uint8(r.IntN(19))}
		dec := r.IntN(7)
		want, werr := schemas.RoundHalfUp(new(big.Rat).Mul(m.Rat(), p.Rat()), dec)
		got, gerr := mulMoney(m, p, dec)
		if (werr != nil) != (gerr != nil) || (werr == nil && got != want) {
			t.Fatalf("mulMoney(%s, %s, %d) = %v, %v; want %v, %v", m, p, dec, got, gerr, want, werr)
		}
		num, den := big.NewInt(r.Int64()-r.Int64()), big.NewInt(r.Int64N(1<<40)+1)
		want, werr = schemas.RoundHalfUp(new(big.Rat).SetFrac(num, den), dec)
		got, gerr = roundHalfUp(num, den, dec)
		if (werr != nil) != (gerr != nil) || (werr == nil && got != want) {
			t.Fatalf("roundHalfUp(%s/%s, %d) = %v, %v; want %v, %v", num, den, dec, got, gerr, want, werr)
		}
	}
	// Half a cent rounds away from zero.
	if got, _ := mulMoney(credits(1), schemas.MustDecimal("0.005"), 2); got.String() != "0.01" {
		t.Errorf("1 × 0.005 = %s, want 0.01", got)
	}
	if got, _ := roundHalfUp(big.NewInt(-5), big.NewInt(1000), 2); got.String() != "-0.01" {
		t.Errorf("-0.005 = %s, want -0.01", got)
	}
}

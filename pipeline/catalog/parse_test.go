package catalog

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

// base is a minimal valid catalog that cases extend.
const base = `currency: EUR
meters: [{name: m}]
rates:
  - {meter: m, credits_per_unit: 1, effective_from: 2026-01-01T00:00:00Z}
`

const basePlans = base + `plans:
  - {id: free, included_credits: 100, bundles: [{id: b, credits: 10, price: 1}]}
  - {id: paid, fee: 10, overage: {mode: bill, price_per_credit: "0.01"}, bundles: [{id: c, credits: 10, price: 1}]}
  - {id: zero, overage: {mode: bill, price_per_credit: 0}, bundles: [{id: b, credits: 10, price: 1}]}
`

func TestParseProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		doc  string
		want []string // every problem, as "line: path: reason"
	}{
		{"empty", "", []string{"x.yaml: empty catalog"}},
		{"comment only", "# nothing\n", []string{"x.yaml: empty catalog"}},
		{"syntax error", "currency: [EUR\n", []string{"x.yaml:1: invalid YAML: did not find expected ',' or ']'"}},
		{"two documents", base + "---\ncurrency: USD\n", []string{"x.yaml:5: more than one YAML document; a catalog is a single document"}},
		{"root not a mapping", "- a\n- b\n", []string{"x.yaml:1: must be a mapping, got a sequence"}},
		{"currency missing, decimals too large", "currency_decimals: 7\n", []string{
			"x.yaml:1: currency: required",
			`x.yaml:1: currency_decimals: must be an integer in 0–6, got "7"`,
		}},
		{"currency shape", "currency: EURO\n", []string{`x.yaml:1: currency: must be an ISO 4217 code (three uppercase letters), got "EURO"`}},
		{"sections of the wrong type", "currency: EUR\nmeters: {name: m}\nrates: 3\nplans: [[1]]\n", []string{
			"x.yaml:2: meters: must be a sequence, got a mapping",
			`x.yaml:3: rates: must be a sequence, got "3"`,
			"x.yaml:4: plans[0]: must be a mapping, got a sequence",
		}},
		{"duplicate key", base + "currency: USD\n", []string{
			"x.yaml:5: currency: duplicate key (first at line 1)",
		}},
		{"rate model empty and meter a mapping", base + `  - {meter: {a: 1}, model: "", credits_per_unit: "1.5", effective_from: 2026-01-01T00:00:00Z}` + "\n", []string{
			"x.yaml:5: rates[1].meter: must be a string, got a mapping",
			`x.yaml:5: rates[1].model: must not be empty; omit it or write "*" for any model`,
		}},
		{"rate values", strings.Replace(base, "credits_per_unit: 1, effective_from: 2026-01-01T00:00:00Z", `credits_per_unit: 0x10, effective_from: "2026-01-01 10:00:00"`, 1), []string{
			`x.yaml:4: rates[0].credits_per_unit: must be a decimal ≥ 0, got "0x10" (not a plain decimal number)`,
			`x.yaml:4: rates[0].effective_from: must be an RFC 3339 timestamp such as 2026-01-01T00:00:00Z, got "2026-01-01 10:00:00"`,
		}},
		{"duplicate rate at the same instant in another offset", base + "  - {meter: m, model: '*', credits_per_unit: 2, effective_from: 2026-01-01T01:00:00+01:00}\n", []string{
			`x.yaml:5: rates[1]: duplicate rate for meter "m", model "*", effective_from 2026-01-01T00:00:00Z (first at line 4)`,
		}},
		{"bill without price, block with cap", base + `plans:
  - {id: a, overage: {mode: bill}}
  - {id: b, overage: {mode: block, cap_credits: 5, cap_amount: 1}}
  - {id: c, overage: {price_per_credit: 1}}
`, []string{
			"x.yaml:6: plans[0].overage.price_per_credit: required",
			"x.yaml:7: plans[1].overage.cap_amount: not allowed with mode block",
			"x.yaml:7: plans[1].overage.cap_credits: not allowed with mode block",
			"x.yaml:8: plans[2].overage.mode: required",
		}},
		{"plan fields", base + `plans:
  - id: a
    fee: 1e2
    included_credits: -1
    thresholds: 50
    rollover: [25]
  - {fee: "1.000"}
`, []string{
			`x.yaml:7: plans[0].fee: must be a decimal ≥ 0, got "1e2" (not a plain decimal number)`,
			`x.yaml:8: plans[0].included_credits: must be a decimal ≥ 0 with at most 6 fractional digits, got "-1"`,
			`x.yaml:9: plans[0].thresholds: must be a sequence of percentages, got "50"`,
			"x.yaml:10: plans[0].rollover: must be a mapping, got a sequence",
			"x.yaml:11: plans[1].id: required",
		}},
		{"bundle fields", base + `plans:
  - id: a
    bundles:
      - {id: x, credits: "1.5", price: "0.001"}
      - {credits: abc}
`, []string{
			`x.yaml:8: plans[0].bundles[0].price: must have at most 2 fractional digits (currency_decimals), got "0.001"`,
			`x.yaml:9: plans[0].bundles[1].credits: must be a decimal > 0 with at most 6 fractional digits, got "abc" (not a plain decimal number)`,
			"x.yaml:9: plans[0].bundles[1].id: required",
			"x.yaml:9: plans[0].bundles[1].price: required",
		}},
		{"currency_decimals 0 restricts fees", strings.Replace(base, "currency: EUR", "currency: JPY\ncurrency_decimals: 0", 1) + "plans: [{id: a, fee: \"100.5\"}]\n", []string{
			`x.yaml:6: plans[0].fee: must have at most 0 fractional digits (currency_decimals), got "100.5"`,
		}},
		{"tenant basics", basePlans + `tenants:
  - {id: "", plan: free, start: 2026-01-01T00:00:00Z}
  - {id: a, plan: free, start: 2026-01-01T00:00:00Z, timezone: Local, anchor_day: "x"}
  - {id: b, plan: free, start: 2026-01-01, timezone: [UTC]}
  - {id: c}
  - {id: "` + strings.Repeat("c", 129) + `", plan: free, start: 2026-01-01T00:00:00Z}
`, []string{
			"x.yaml:10: tenants[0].id: must not be empty",
			`x.yaml:11: tenants[1].anchor_day: must be an integer in 1–28, got "x"`,
			`x.yaml:11: tenants[1].timezone: must be an IANA time zone name; "Local" depends on the machine`,
			`x.yaml:12: tenants[2].start: must be an RFC 3339 timestamp such as 2026-01-01T00:00:00Z, got "2026-01-01"`,
			"x.yaml:12: tenants[2].timezone: must be a string, got a sequence",
			"x.yaml:13: tenants[3].plan: required",
			"x.yaml:13: tenants[3].start: required",
			`x.yaml:14: tenants[4].id: must match [A-Za-z0-9._:-]{1,128}, got "` + strings.Repeat("c", 129) + `"`,
		}},
		{"tenant caps", basePlans + `tenants:
  - {id: a, plan: zero, start: 2026-01-01T00:00:00Z, cap_amount: 5}
  - {id: b, plan: paid, start: 2026-01-01T00:00:00Z, cap_credits: 5, overrides: {cap_credits: 6, cap_amount: 1}}
  - {id: c, plan: paid, start: 2026-01-01T00:00:00Z, overrides: [1]}
`, []string{
			`x.yaml:10: tenants[0].cap_amount: plan "zero" has price_per_credit 0, so a cap_amount cannot be turned into credits`,
			"x.yaml:11: tenants[1].overrides.cap_amount: set at most one of cap_credits and cap_amount",
			"x.yaml:11: tenants[1].overrides.cap_credits: also set at tenants[1].cap_credits; set it once",
			"x.yaml:12: tenants[2].overrides: must be a mapping, got a sequence",
		}},
		{"auto_topup bundle must be offered by every plan", basePlans + `tenants:
  - id: a
    plan: free
    start: 2026-01-01T00:00:00Z
    auto_topup: {below_credits: 5, bundle: b}
    plan_changes:
      - {effective: 2026-03-01T00:00:00Z, plan: paid}
      - {effective: 2026-02-01T00:00:00Z, plan: zero}
  - {id: b, plan: free, start: 2026-01-01T00:00:00Z, auto_topup: {max_per_period: 2}}
`, []string{
			`x.yaml:13: tenants[0].auto_topup.bundle: plan "paid" (the tenant's plan_changes[1]) offers no bundle "b"`,
			"x.yaml:17: tenants[1].auto_topup.below_credits: required",
			"x.yaml:17: tenants[1].auto_topup.bundle: required",
		}},
		{"plan changes", basePlans + `tenants:
  - id: a
    plan: free
    anchor_day: 15
    timezone: Europe/Berlin
    start: 2026-01-14T23:00:00Z
    plan_changes:
      - {effective: 2026-01-14T23:00:00Z, plan: paid}
      - {effective: 2026-02-15T00:00:00Z, plan: paid}
      - {effective: 2026-03-14T23:00:00Z, plan: paid}
      - {effective: 2026-03-14T23:00:00Z, plan: free}
      - {plan: ghost}
      - [1]
`, []string{
			"x.yaml:16: tenants[0].plan_changes[0].effective: must be after the tenant's start 2026-01-14T23:00:00Z",
			"x.yaml:17: tenants[0].plan_changes[1].effective: must be a period start of the tenant's calendar, e.g. 2026-03-14T23:00:00Z",
			"x.yaml:19: tenants[0].plan_changes[3].effective: duplicate plan change effective 2026-03-14T23:00:00Z (first at line 18)",
			"x.yaml:20: tenants[0].plan_changes[4].effective: required",
			`x.yaml:20: tenants[0].plan_changes[4].plan: unknown plan "ghost"`,
			"x.yaml:21: tenants[0].plan_changes[5]: must be a mapping, got a sequence",
		}},
		{"json", `{"currency": "EUR", "meters": [{"name": "m"}], "rates": [{"meter": "m", "credits_per_unit": 1E-2, "effective_from": "2026-01-01T00:00:00Z"}],
 "plans": [{"id": "p", "fee": -1}]}`, []string{
			`x.yaml:1: rates[0].credits_per_unit: must be a decimal ≥ 0, got "1E-2" (not a plain decimal number)`,
			`x.yaml:2: plans[0].fee: must be a decimal ≥ 0, got "-1"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("x.yaml", []byte(tc.doc))
			if c != nil {
				t.Errorf("Parse returned a catalog with an error")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want Problems", err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseWarnings(t *testing.T) {
	t.Parallel()
	doc := base + `description: demo # unknown at the top
meters:
  - {name: lonely, color: red}
plans:
  - id: block
    name: Block plan
    overage: {mode: block, note: x}
    bundles: [{id: b, credits: 1, price: 1, sku: B-1}]
tenants:
  - id: t
    plan: block
    start: 2026-01-01T00:00:00Z
    cap_credits: 10
    overrides: {extra: 1}
    auto_topup: {below_credits: 1, bundle: b, when: always}
    plan_changes: [{effective: 2026-02-01T00:00:00Z, plan: block, why: none}]
`
	doc = strings.Replace(doc, "meters: [{name: m}]\n", "", 1)
	doc = strings.Replace(doc, "  - {meter: m,", "  - {meter: lonely, model: x,", 1)
	doc = strings.Replace(doc, "lonely, color: red}", "lonely, color: red}\n  - {name: unrated}", 1)
	c, err := Parse("w.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.Error())
	}
	want := []string{
		"w.yaml:4: description: unknown key, ignored",
		"w.yaml:6: meters[0].color: unknown key, ignored",
		"w.yaml:7: meters[1].name: meter has no rates: its events are dead-lettered as no_rate",
		"w.yaml:10: plans[0].name: unknown key, ignored",
		"w.yaml:11: plans[0].overage.note: unknown key, ignored",
		"w.yaml:12: plans[0].bundles[0].sku: unknown key, ignored",
		"w.yaml:17: tenants[0].cap_credits: no effect: no plan of the tenant bills overage",
		"w.yaml:18: tenants[0].overrides.extra: unknown key, ignored",
		"w.yaml:19: tenants[0].auto_topup.when: unknown key, ignored",
		`w.yaml:20: tenants[0].plan_changes[0].plan: no effect: the tenant is already on plan "block"`,
		"w.yaml:20: tenants[0].plan_changes[0].why: unknown key, ignored",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	doc := base + `plans:
  - id: p
    thresholds: ~
    rollover: null
    bundles: [{id: b, credits: 1, price: 0}]
  - {id: silent, thresholds: []}
tenants:
  - {id: t, plan: p, start: 2026-03-10T12:00:00Z, auto_topup: {below_credits: 0, bundle: b}}
  - {id: u, plan: silent, start: 2026-03-10T12:00:00Z, thresholds: []}
`
	c, err := Parse("d.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.CurrencyDecimals != 2 {
		t.Errorf("CurrencyDecimals = %d, want 2", c.CurrencyDecimals)
	}
	if r := c.Rates[0]; r.Model != AnyModel {
		t.Errorf("rate model = %q, want *", r.Model)
	}
	p := c.Plan("p")
	want := &Plan{
		ID: "p", Fee: dec("0.00"), Thresholds: DefaultThresholds(), Overage: Overage{Mode: OverageBlock},
		Bundles: []Bundle{{ID: "b", Credits: 1_000_000, Price: dec("0.00")}},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("plan defaults (-want +got):\n%s", diff)
	}
	if th := c.Plan("silent").Thresholds; th == nil || len(th) != 0 {
		t.Errorf("explicit [] thresholds = %#v, want empty non-nil", th)
	}
	tn := c.Tenant("t")
	if tn.AnchorDay != 1 || tn.Timezone != "UTC" || tn.Location.String() != "UTC" || tn.AutoTopup.MaxPerPeriod != 1 || tn.Thresholds != nil {
		t.Errorf("tenant defaults: %+v, auto_topup %+v", tn, tn.AutoTopup)
	}
	if got := c.Thresholds(c.Tenant("u"), c.Plan("p")); got == nil || len(got) != 0 {
		t.Errorf("tenant thresholds [] = %#v, want empty (no alerts), not the plan's", got)
	}
	// A first period that starts mid-month runs to the next anchor.
	if p := tn.Calendar().First(); !p.End.Equal(ts("2026-04-01T00:00:00Z")) {
		t.Errorf("first period = %v", p)
	}
}

func TestParseExactDecimals(t *testing.T) {
	t.Parallel()
	doc := `currency: EUR
currency_decimals: 3
meters: [{name: m}]
rates:
  - {meter: m, model: a, credits_per_unit: 0.1, effective_from: 2026-01-01T00:00:00Z}
  - {meter: m, model: b, credits_per_unit: "0.30000000000000004", effective_from: 2026-01-01T00:00:00Z}
  - {meter: m, model: c, credits_per_unit: 123456789.000000001, effective_from: 2026-01-01T00:00:00Z}
plans:
  - {id: p, fee: 0.1, overage: {mode: bill, price_per_credit: 0.000000000000000001}}
`
	c, err := Parse("e.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	at := ts("2026-02-01T00:00:00Z")
	for model, want := range map[string]schemas.Decimal{
		"a": {Coef: 1, Scale: 1},
		"b": {Coef: 30000000000000004, Scale: 17},
		"c": {Coef: 123456789000000001, Scale: 9},
	} {
		if got, _ := c.Rate("m", model, at); got != want {
			t.Errorf("rate %s = %#v, want %#v", model, got, want)
		}
	}
	p := c.Plan("p")
	if p.Fee != (schemas.Decimal{Coef: 100, Scale: 3}) {
		t.Errorf("fee = %#v, want 0.100 at the currency's scale", p.Fee)
	}
	if p.Overage.PricePerCredit != (schemas.Decimal{Coef: 1, Scale: 18}) {
		t.Errorf("price_per_credit = %#v", p.Overage.PricePerCredit)
	}
}

func TestParseAliasesAndMerge(t *testing.T) {
	t.Parallel()
	doc := base + `plans:
  - &basic
    id: basic
    fee: "5.00"
    overage: &bill {mode: bill, price_per_credit: "0.01"}
  - <<: *basic
    id: plus
    included_credits: 10
  - {id: other, overage: *bill}
`
	c, err := Parse("a.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	plus := c.Plan("plus")
	if plus == nil || plus.Fee != dec("5.00") || plus.IncludedCredits != 10_000_000 || plus.Overage.Mode != OverageBill {
		t.Errorf("merged plan = %+v", plus)
	}
	if o := c.Plan("other"); o.Overage.PricePerCredit != dec("0.01") {
		t.Errorf("aliased overage = %+v", o.Overage)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
}

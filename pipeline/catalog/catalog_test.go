package catalog

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/creditflow/creditflow/schemas"
)

var update = flag.Bool("update", false, "rewrite golden files")

const catalogs = "../../testdata/catalogs"

func dec(s string) schemas.Decimal { return schemas.MustDecimal(s) }

func micros(t *testing.T, s string) schemas.Micros {
	t.Helper()
	m, err := schemas.ParseMicros(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func loadDemo(t testing.TB) *Catalog {
	t.Helper()
	c, err := Load(filepath.Join(catalogs, "demo.yaml"))
	if err != nil {
		t.Fatalf("Load demo.yaml: %v", err)
	}
	return c
}

// catalogOpts compares catalogs by their exported content.
var catalogOpts = cmp.Options{
	cmpopts.IgnoreUnexported(Catalog{}),
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
}

func TestDemoJSONEqualsYAML(t *testing.T) {
	t.Parallel()
	y := loadDemo(t)
	j, err := Load(filepath.Join(catalogs, "demo.json"))
	if err != nil {
		t.Fatalf("Load demo.json: %v", err)
	}
	if len(y.Warnings) > 0 || len(j.Warnings) > 0 {
		t.Errorf("warnings: yaml %v, json %v", y.Warnings, j.Warnings)
	}
	if diff := cmp.Diff(y, j, catalogOpts); diff != "" {
		t.Errorf("demo.json differs from demo.yaml (-yaml +json):\n%s", diff)
	}
}

func TestDemoContent(t *testing.T) {
	t.Parallel()
	c := loadDemo(t)
	if c.Currency != "USD" || c.CurrencyDecimals != 2 {
		t.Errorf("currency = %s/%d, want USD/2", c.Currency, c.CurrencyDecimals)
	}
	var names []string
	for _, m := range c.Meters {
		names = append(names, m.Name)
	}
	if diff := cmp.Diff([]string{"api_calls", "compute_seconds", "tokens_in", "tokens_out"}, names); diff != "" {
		t.Errorf("meters not sorted (-want +got):\n%s", diff)
	}
	if m := c.Meter("tokens_in"); m == nil || m.Unit != "token" {
		t.Errorf("Meter(tokens_in) = %+v", m)
	}
	if c.Meter("nope") != nil || c.Plan("nope") != nil || c.Tenant("nope") != nil {
		t.Error("unknown names must return nil")
	}

	pct25, credits20k, capAmount := dec("25"), micros(t, "20000"), dec("100")
	capCredits := micros(t, "5000000")
	want := []*Plan{
		{
			ID: "enterprise", Fee: dec("4999.00"), IncludedCredits: micros(t, "2000000"),
			Thresholds: []schemas.Decimal{dec("50"), dec("80"), dec("95"), dec("100")},
			Rollover:   &Rollover{MaxPercent: ptr(dec("10")), MaxCredits: ptr(micros(t, "150000"))},
			Overage:    Overage{Mode: OverageBill, PricePerCredit: dec("0.001"), CapCredits: &capCredits},
			Bundles:    []Bundle{{ID: "pack-1m", Credits: micros(t, "1000000"), Price: dec("900.00")}},
		},
		{
			ID: "free", Fee: dec("0.00"), IncludedCredits: micros(t, "1000"),
			Thresholds: []schemas.Decimal{dec("50"), dec("80"), dec("100")},
			Overage:    Overage{Mode: OverageBlock},
			Bundles:    []Bundle{{ID: "pack-1k", Credits: micros(t, "1000"), Price: dec("2.00")}},
		},
		{
			ID: "pro", Fee: dec("499.00"), IncludedCredits: micros(t, "150000"),
			Thresholds: []schemas.Decimal{dec("75"), dec("90"), dec("100"), dec("120")},
			Rollover:   &Rollover{MaxCredits: &credits20k},
			Overage:    Overage{Mode: OverageBill, PricePerCredit: dec("0.0015")},
			Bundles: []Bundle{
				{ID: "pack-50k", Credits: micros(t, "50000"), Price: dec("70.00")},
				{ID: "pack-200k", Credits: micros(t, "200000"), Price: dec("260.00")},
			},
		},
		{
			ID: "starter", Fee: dec("49.00"), IncludedCredits: micros(t, "10000"),
			Thresholds: []schemas.Decimal{dec("50"), dec("80"), dec("100")},
			Rollover:   &Rollover{MaxPercent: &pct25},
			Overage:    Overage{Mode: OverageBill, PricePerCredit: dec("0.002"), CapAmount: &capAmount},
			Bundles: []Bundle{
				{ID: "pack-1k", Credits: micros(t, "1000"), Price: dec("1.80")},
				{ID: "pack-5k", Credits: micros(t, "5000"), Price: dec("9.00")},
				{ID: "pack-20k", Credits: micros(t, "20000"), Price: dec("32.00")},
			},
		},
	}
	if diff := cmp.Diff(want, c.Plans); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}

	var ids []string
	for _, tn := range c.Tenants {
		ids = append(ids, tn.ID)
	}
	if diff := cmp.Diff([]string{"acme", "globex", "hooli", "initech", "soylent", "umbrella"}, ids); diff != "" {
		t.Errorf("tenants not sorted (-want +got):\n%s", diff)
	}
	acme := c.Tenant("acme")
	if acme.AnchorDay != 1 || acme.Timezone != "UTC" || acme.Location != time.UTC || acme.Thresholds != nil {
		t.Errorf("acme defaults: %+v", acme)
	}
	if diff := cmp.Diff(&AutoTopup{BelowCredits: micros(t, "1000"), Bundle: "pack-5k", MaxPerPeriod: 2}, acme.AutoTopup); diff != "" {
		t.Errorf("acme auto_topup (-want +got):\n%s", diff)
	}
	globex := c.Tenant("globex")
	if globex.AnchorDay != 15 || globex.Location.String() != "Europe/Berlin" || !globex.Start.Equal(ts("2026-01-14T23:00:00Z")) {
		t.Errorf("globex: %+v", globex)
	}
	if p := globex.Calendar().First(); !p.End.Equal(ts("2026-02-14T23:00:00Z")) {
		t.Errorf("globex first period = %v", p)
	}
	initech := c.Tenant("initech")
	if initech.AutoTopup.MaxPerPeriod != 1 {
		t.Errorf("initech max_per_period = %d, want default 1", initech.AutoTopup.MaxPerPeriod)
	}
	if diff := cmp.Diff([]PlanChange{{Effective: ts("2026-04-01T04:00:00Z"), Plan: "starter"}}, initech.PlanChanges); diff != "" {
		t.Errorf("initech plan changes (-want +got):\n%s", diff)
	}
	if got := c.Thresholds(c.Tenant("hooli"), c.Plan("starter")); !cmp.Equal(got, []schemas.Decimal{dec("25"), dec("50"), dec("75"), dec("100")}) {
		t.Errorf("hooli thresholds = %v", got)
	}
	if got := c.Thresholds(acme, c.Plan("starter")); !cmp.Equal(got, DefaultThresholds()) {
		t.Errorf("acme thresholds = %v, want the plan's", got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestPlanAt(t *testing.T) {
	t.Parallel()
	c := loadDemo(t)
	tn := c.Tenant("initech")
	for _, tc := range []struct {
		start string
		want  string
	}{
		{"2026-02-01T05:00:00Z", "free"},
		{"2026-03-01T05:00:00Z", "free"},
		{"2026-04-01T04:00:00Z", "starter"}, // exactly at the change
		{"2026-05-01T04:00:00Z", "starter"},
	} {
		if got := c.PlanAt(tn, ts(tc.start)); got == nil || got.ID != tc.want {
			t.Errorf("PlanAt(initech, %s) = %v, want %s", tc.start, got, tc.want)
		}
	}
	if got := c.PlanAt(c.Tenant("acme"), ts("2030-01-01T00:00:00Z")); got.ID != "starter" {
		t.Errorf("PlanAt(acme) = %s, want starter", got.ID)
	}
}

func TestOverageFor(t *testing.T) {
	t.Parallel()
	c := loadDemo(t)
	capA, capC := dec("100"), micros(t, "5000000")
	tenCapA, tenCapC := dec("10000"), micros(t, "400000")
	for _, tc := range []struct {
		tenant, plan string
		want         Overage
	}{
		{"acme", "starter", Overage{Mode: OverageBill, PricePerCredit: dec("0.002"), CapAmount: &capA}},
		{"globex", "pro", Overage{Mode: OverageBill, PricePerCredit: dec("0.0015")}},
		{"initech", "free", Overage{Mode: OverageBlock}},
		{"umbrella", "enterprise", Overage{Mode: OverageBill, PricePerCredit: dec("0.001"), CapAmount: &tenCapA}},
		{"soylent", "pro", Overage{Mode: OverageBill, PricePerCredit: dec("0.0015"), CapCredits: &tenCapC}},
		{"soylent", "free", Overage{Mode: OverageBlock}}, // overrides never apply to block mode
		{"globex", "enterprise", Overage{Mode: OverageBill, PricePerCredit: dec("0.001"), CapCredits: &capC}},
	} {
		got := c.OverageFor(c.Tenant(tc.tenant), c.Plan(tc.plan))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("OverageFor(%s, %s) (-want +got):\n%s", tc.tenant, tc.plan, diff)
		}
	}
	if c.Plan("enterprise").Overage.CapAmount != nil {
		t.Error("OverageFor modified the plan")
	}
}

func TestBundleOf(t *testing.T) {
	t.Parallel()
	c := loadDemo(t)
	a := c.Tenant("initech").AutoTopup
	b, ok := a.BundleOf(c.Plan("free"))
	if !ok || b.Price != dec("2.00") {
		t.Errorf("BundleOf(free) = %v, %v", b, ok)
	}
	b, ok = a.BundleOf(c.Plan("starter"))
	if !ok || b.Price != dec("1.80") {
		t.Errorf("BundleOf(starter) = %v, %v", b, ok)
	}
	if _, ok := a.BundleOf(c.Plan("pro")); ok {
		t.Error("BundleOf(pro) found a bundle pro does not offer")
	}
	var none *AutoTopup
	if _, ok := none.BundleOf(c.Plan("free")); ok {
		t.Error("nil AutoTopup found a bundle")
	}
}

func TestBrokenGolden(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(catalogs, "broken.yaml"))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load broken.yaml: err = %v, want Problems", err)
	}
	if len(ps) < 8 {
		t.Errorf("got %d problems, want at least 8", len(ps))
	}
	got := err.Error() + "\n"
	// Problems name the file as given; make the golden independent of it.
	got = strings.ReplaceAll(got, filepath.Join(catalogs, "broken.yaml"), "broken.yaml")
	golden := filepath.Join(catalogs, "broken.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("problems differ from %s (-want +got):\n%s", golden, diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestProblemError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{"catalog.yaml", "plans[0].overage.price_per_credit", 12, "must be a decimal ≥ 0"},
			"catalog.yaml:12: plans[0].overage.price_per_credit: must be a decimal ≥ 0"},
		{Problem{"c.yaml", "", 3, "invalid YAML: x"}, "c.yaml:3: invalid YAML: x"},
		{Problem{"c.yaml", "", 0, "empty catalog"}, "c.yaml: empty catalog"},
		{Problem{"", "a.b", 0, "required"}, "a.b: required"},
	} {
		if got := tc.p.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	ps := Problems{{"f", "b", 2, "r"}, {"f", "a", 2, "r"}, {"f", "z", 1, "r"}}
	if got, want := ps.Error(), "f:1: z: r\nf:2: a: r\nf:2: b: r"; got != want {
		t.Errorf("Problems.Error() = %q, want %q", got, want)
	}
}

package files

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkGolden compares got with testdata/name, or rewrites it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (regenerate with go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dirEntries lists the names in dir.
func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	jan = ts("2026-01-01T00:00:00Z")
	feb = ts("2026-02-01T00:00:00Z")
	mar = ts("2026-03-01T00:00:00Z")
)

func dec(s string) schemas.Decimal { return schemas.MustDecimal(s) }

func micros(s string) schemas.Micros {
	m, err := schemas.ParseMicros(s)
	if err != nil {
		panic(err)
	}
	return m
}

// sampleLineItems returns line items in no particular order, with
// descriptions that need CSV quoting, negative amounts, long unit prices and
// a time zone other than UTC on some instants.
func sampleLineItems() []schemas.LineItem {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	return []schemas.LineItem{
		{Tenant: "t2", PeriodStart: jan, PeriodEnd: feb, Kind: schemas.LineOverage, Description: "overage, 1,250 credits",
			Quantity: micros("1250"), UnitPrice: dec("0.0015"), Amount: dec("1.88"), Currency: "EUR"},
		{Tenant: "t1", PeriodStart: jan.In(paris), PeriodEnd: feb.In(paris), Kind: schemas.LineSubscriptionFee, Description: `plan "pro"`,
			Quantity: micros("1"), UnitPrice: dec("49"), Amount: dec("49"), Currency: "EUR"},
		{Tenant: "t1", PeriodStart: jan, PeriodEnd: feb, Kind: schemas.LineIncludedUsage, Description: "included credits",
			Quantity: micros("10000"), UnitPrice: dec("0"), Amount: dec("0.00"), Currency: "EUR"},
		{Tenant: "t1", PeriodStart: jan, PeriodEnd: feb, Kind: schemas.LineCreditPurchase, Description: "bundle b-2\nsecond line",
			Quantity: micros("5000.5"), UnitPrice: dec("0.001999800019998000"), Amount: dec("10.00"), Currency: "EUR", ChargedAtPurchase: true},
		{Tenant: "t1", PeriodStart: jan, PeriodEnd: feb, Kind: schemas.LineCreditPurchase, Description: "bundle b-1",
			Quantity: micros("5000"), UnitPrice: dec("0.002"), Amount: dec("10"), Currency: "EUR", ChargedAtPurchase: true},
		{Tenant: "t1", PeriodStart: feb, PeriodEnd: mar, Kind: schemas.LineLateUsageAdjustment, Description: "late usage for 2026-01, crédits",
			Quantity: micros("0.000001"), UnitPrice: dec("-0.5"), Amount: dec("-0.50"), Currency: "EUR"},
		{Tenant: "t0", PeriodStart: feb, PeriodEnd: mar, Kind: schemas.LineOverage, Description: "overage",
			Quantity: micros("9223372036.854775"), UnitPrice: dec("1"), Amount: dec("9223372036.85"), Currency: "EUR"},
	}
}

// sampleCloses returns closes in no particular order.
func sampleCloses() []schemas.PeriodClose {
	return []schemas.PeriodClose{
		{Tenant: "t1", PeriodStart: feb, PeriodEnd: mar, Plan: "pro", RolloverIn: micros("2500"), Included: micros("10000"),
			GrantCreditsAvailable: micros("0"), Available: micros("12500"), Consumed: micros("13000.25"), Overage: micros("500.25"),
			BillableOverage: micros("500"), UncollectedOverage: micros("0.25"), OverageAmount: dec("0.75"),
			RolloverOut: micros("0"), ExpiredCredits: micros("0"), RecognizedRevenue: dec("49.75"), DeferredRevenueEnd: dec("0"), Currency: "EUR"},
		{Tenant: "t1", PeriodStart: jan, PeriodEnd: feb, Plan: "pro", Included: micros("10000"),
			GrantCreditsAvailable: micros("10000.5"), Available: micros("20000.5"), Consumed: micros("7500"),
			RolloverOut: micros("2500"), ExpiredCredits: micros("0"), RecognizedRevenue: dec("36.75"), DeferredRevenueEnd: dec("32.2500"), Currency: "EUR"},
		{Tenant: "a,b", PeriodStart: jan, PeriodEnd: feb, Plan: "free", Currency: "EUR"},
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(readFile(t, path))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

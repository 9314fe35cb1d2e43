package billing

import (
	"slices"
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/alert"
	"github.com/creditflow/creditflow/pipeline/catalog"
)

const allocCatalog = `
currency: USD
meters:
  - {name: tokens, unit: token}
rates:
  - {meter: tokens, model: "*", credits_per_unit: "0.001", effective_from: 2026-01-01T00:00:00Z}
plans:
  - {id: big, fee: "10.00", included_credits: "1000000000",
     overage: {mode: bill, price_per_credit: "0.01", cap_amount: "100.00"},
     bundles: [{id: b1, credits: "1000", price: "1.00"}]}
tenants:
  - {id: acme, plan: big, start: 2026-01-01T00:00:00Z, timezone: Europe/Berlin, anchor_day: 5,
     auto_topup: {below_credits: "10", bundle: b1}}
  - {id: other, plan: big, start: 2026-01-01T00:00:00Z}
`

// allocBook returns a book over allocCatalog.
func allocBook(t *testing.T) *Book {
	t.Helper()
	cat, err := catalog.Parse("alloc.yaml", []byte(allocCatalog))
	if err != nil {
		t.Fatal(err)
	}
	book, err := New(Config{}, cat)
	if err != nil {
		t.Fatal(err)
	}
	return book
}

// TestCountDoesNotAllocate checks that counting an event that raises
// nothing costs no allocation, with runaway detection on, once the tenant's
// state exists.
func TestCountDoesNotAllocate(t *testing.T) {
	book := allocBook(t)
	start := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	tenants := []string{"acme", "other"}
	var out Output
	i := 0
	count := func() {
		u := alert.Usage{Tenant: tenants[i%2], Meter: "tokens", Model: "m", Time: start.Add(time.Duration(i) * 100 * time.Millisecond), Credits: 1000}
		if err := book.Count(u, &out); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		i++
	}
	for range 100 { // past each tenant's first event (entitlement, state)
		count()
	}
	if n := testing.AllocsPerRun(1000, count); n != 0 {
		t.Errorf("%v allocations per counted event, want 0", n)
	}
}

// TestAccountLookup checks the lookup by name address against the map: the
// same tenant with fresh string data, an empty and an unknown name, and
// many fresh copies, which make the index clear itself.
func TestAccountLookup(t *testing.T) {
	book := allocBook(t)
	for i := range 1000 {
		for _, id := range []string{"acme", "other"} {
			fresh := string(append([]byte(nil), id...)) // new data each time
			for _, name := range []string{id, fresh} {
				if a := book.account(name); a == nil || a.id != id {
					t.Fatalf("round %d: account(%q) = %v", i, name, a)
				}
			}
		}
		for _, name := range []string{"", "nobody", "acm"} {
			if a := book.account(name); a != nil {
				t.Fatalf("account(%q) = %q, want none", name, a.id)
			}
		}
	}
	if err := book.Count(alert.Usage{Tenant: "", Meter: "tokens", Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Credits: 1}, &Output{}); err == nil {
		t.Error("Count of an empty tenant: no error")
	}
}

// TestCounted: Counted lists each tenant Count booked usage for once, in
// the order of their first event, until ClearCounted.
func TestCounted(t *testing.T) {
	book := allocBook(t)
	start := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	var out Output
	count := func(tenants ...string) {
		for i, tenant := range tenants {
			if err := book.Count(alert.Usage{Tenant: tenant, Meter: "tokens", Time: start.Add(time.Duration(i) * time.Second), Credits: 1}, &out); err != nil {
				t.Fatal(err)
			}
			out.Reset()
		}
	}
	if got := book.Counted(); len(got) != 0 {
		t.Fatalf("a new book lists %q", got)
	}
	for _, tenant := range []string{"acme", "nobody", ""} { // hints, whether known or not
		book.PrefetchAccount(tenant)
		book.PrefetchState(tenant)
	}
	count("other", "acme", "other", "acme")
	if got := book.Counted(); !slices.Equal(got, []string{"other", "acme"}) {
		t.Fatalf("Counted = %q, want [other acme]", got)
	}
	book.ClearCounted()
	if got := book.Counted(); len(got) != 0 {
		t.Fatalf("after ClearCounted: %q", got)
	}
	count("acme", "acme")
	if got := book.Counted(); !slices.Equal(got, []string{"acme"}) {
		t.Fatalf("Counted = %q, want [acme]", got)
	}
}

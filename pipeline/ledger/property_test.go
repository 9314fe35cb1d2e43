package ledger

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/period"
	"github.com/creditflow/creditflow/schemas"
)

// input is one AddUsage or AddGrant call.
type input struct {
	t       time.Time
	credits schemas.Micros
	grant   *schemas.Grant
}

func (in input) apply(a *Account) error {
	if in.grant != nil {
		return a.AddGrant(*in.grant)
	}
	return a.AddUsage(in.t, in.credits)
}

var zones = []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe"}

// randomMoney returns a non-negative amount with at most decimals digits.
func randomMoney(r *rand.Rand, decimals int, max int64) string {
	d := schemas.Decimal{Coef: r.Int64N(max*int64(schemas.Pow10(decimals)) + 1), Scale: uint8(decimals)}
	return d.String()
}

func randomCredits(r *rand.Rand, max int64) schemas.Micros {
	switch r.IntN(4) {
	case 0:
		return schemas.Micros(r.Int64N(max+1) * schemas.MicrosPerUnit) // whole credits
	case 1:
		return schemas.Micros(r.Int64N(max*schemas.MicrosPerUnit + 1)) // any micros
	default:
		return schemas.Micros(r.Int64N(max/10+1) * schemas.MicrosPerUnit)
	}
}

// randomCatalog writes a random catalog with one tenant and returns it.
func randomCatalog(t testing.TB, r *rand.Rand) (*catalog.Catalog, *catalog.Tenant) {
	t.Helper()
	var b strings.Builder
	decimals := []int{0, 2, 2, 3}[r.IntN(4)]
	fmt.Fprintf(&b, "currency: XTS\ncurrency_decimals: %d\nplans:\n", decimals)
	nplans := 1 + r.IntN(3)
	for i := range nplans {
		fmt.Fprintf(&b, "  - id: p%d\n    fee: %q\n    included_credits: %q\n", i, randomMoney(r, decimals, 200), randomCredits(r, 5000))
		switch r.IntN(4) {
		case 1:
			fmt.Fprintf(&b, "    rollover: {max_percent: %q}\n", schemas.Decimal{Coef: r.Int64N(100_001), Scale: 3})
		case 2:
			fmt.Fprintf(&b, "    rollover: {max_credits: %q}\n", randomCredits(r, 3000))
		case 3:
			fmt.Fprintf(&b, "    rollover: {max_percent: %d, max_credits: %q}\n", r.IntN(101), randomCredits(r, 3000))
		}
		if r.IntN(3) > 0 {
			price := schemas.Decimal{Coef: r.Int64N(100_000), Scale: uint8(r.IntN(6))}
			fmt.Fprintf(&b, "    overage: {mode: bill, price_per_credit: %q", price)
			switch r.IntN(3) {
			case 1:
				fmt.Fprintf(&b, ", cap_credits: %q", randomCredits(r, 3000))
			case 2:
				if price.Sign() > 0 {
					fmt.Fprintf(&b, ", cap_amount: %q", schemas.Decimal{Coef: r.Int64N(1_000_000), Scale: uint8(r.IntN(5))})
				}
			}
			b.WriteString("}\n")
		}
	}
	zone := zones[r.IntN(len(zones))]
	anchor := 1 + r.IntN(28)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 0, 0, 0, loc).UTC()
	cal := period.Calendar{AnchorDay: anchor, Location: loc, Start: start}
	fmt.Fprintf(&b, "tenants:\n  - id: t\n    plan: p%d\n    anchor_day: %d\n    timezone: %s\n    start: %s\n",
		r.IntN(nplans), anchor, zone, start.Format(time.RFC3339))
	if r.IntN(4) == 0 {
		fmt.Fprintf(&b, "    cap_credits: %q\n", randomCredits(r, 2000))
	}
	if nplans > 1 && r.IntN(2) == 0 {
		b.WriteString("    plan_changes:\n")
		p := cal.First()
		for range 1 + r.IntN(3) {
			for range 1 + r.IntN(3) {
				p = cal.Next(p)
			}
			fmt.Fprintf(&b, "      - {effective: %s, plan: p%d}\n", p.Start.Format(time.RFC3339), r.IntN(nplans))
		}
	}
	cat, err := catalog.Parse("random", []byte(b.String()))
	if err != nil {
		t.Fatalf("random catalog: %v\n%s", err, b.String())
	}
	return cat, cat.Tenants[0]
}

// randomBatch returns inputs dated in periods [0, upto] of cal.
func randomBatch(r *rand.Rand, cal period.Calendar, periods []period.Period, upto int, grants *int, lateGrants bool, closed int) []input {
	var out []input
	n := r.IntN(6)
	for range n {
		k := upto
		if r.IntN(4) == 0 {
			k = r.IntN(upto + 1) // maybe late
		}
		p := periods[k]
		at := p.Start.Add(time.Duration(r.Int64N(int64(p.End.Sub(p.Start)))))
		if r.IntN(5) > 0 {
			out = append(out, input{t: at, credits: randomCredits(r, 3000)})
			continue
		}
		if k < closed && !lateGrants {
			k, at = upto, periods[upto].Start
		}
		if r.IntN(10) == 0 && (lateGrants || closed == 0) {
			at = cal.Start.Add(-time.Hour) // before the start: usable from period 0
		}
		*grants++
		g := schemas.Grant{
			ID: fmt.Sprintf("g%d", *grants), Tenant: "t", Credits: randomCredits(r, 3000) + 1,
			Price: schemas.Decimal{Coef: r.Int64N(10_000), Scale: uint8(r.IntN(4))},
			Kind:  []schemas.GrantKind{schemas.GrantBundle, schemas.GrantTopup, schemas.GrantPromo, schemas.GrantAdjustment}[r.IntN(4)],
			Time:  at, ExpiresAfterPeriods: r.IntN(4),
		}
		out = append(out, input{grant: &g})
		if r.IntN(8) == 0 {
			dup := g
			dup.Credits++ // a repeat with other content: ignored
			out = append(out, input{grant: &dup})
		}
	}
	return out
}

// TestProperties runs random tenants through many closes with late usage
// and late grants, and checks after every close:
//
//   - the per-period credit identity R + I + G = (C − O) + rollover_out +
//     expired + carried, overage = max(0, C − A) = billable + uncollected,
//     the lines agreeing with the figures, and no negative money when no
//     grant arrived for a closed period (checkClose);
//   - revenue conservation over the tenant's life within ½ minor unit per
//     reported figure (checkClose);
//   - that a fresh account given every input at once computes the same
//     figures for the period (caches and late re-evaluation change nothing);
//   - that feeding each batch in another order, and restoring the account
//     from its JSON snapshot before every call, gives identical closes.
func TestProperties(t *testing.T) {
	t.Parallel()
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0x1edc0de))
			cat, tn := randomCatalog(t, r)
			cal := tn.Calendar()
			periods := []period.Period{cal.First()}
			for range 12 {
				periods = append(periods, cal.Next(periods[len(periods)-1]))
			}
			lateGrants := r.IntN(3) == 0
			a := NewAccount(cat, tn)
			// b shares compiled plans (as the billing book's accounts do);
			// its closes must not differ from a's.
			plans := NewPlans(cat)
			b := NewAccount(cat, tn)
			b.SharePlans(plans)
			life := &lifeTotals{lateGrants: lateGrants}
			var all []input
			grants := 0
			closes := 4 + r.IntN(6)
			for k := range closes {
				batch := randomBatch(r, cal, periods, k+1, &grants, lateGrants, k)
				if r.IntN(3) == 0 {
					batch = append(batch, randomBatch(r, cal, periods, k, &grants, lateGrants, k)...)
				}
				for _, in := range batch {
					if in.grant == nil {
						// BalanceOf agrees with Live, whatever the cache held.
						k, err := a.AddUsageAt(in.t, in.credits)
						if err != nil {
							t.Fatal(err)
						}
						c, avail := a.BalanceOf(k, in.t)
						if l := a.Live(in.t); c != l.Consumed || avail != l.Available() {
							t.Fatalf("BalanceOf(%d, %s) = %s, %s; Live says %s, %s", k, in.t, c, avail, l.Consumed, l.Available())
						}
					} else if err := in.apply(a); err != nil {
						t.Fatal(err)
					}
					// Exercise the live cache between calls: mostly in the
					// current period, so that late inputs must invalidate it.
					if r.IntN(4) == 0 {
						_ = a.Live(in.t)
					} else {
						_ = a.Live(periods[k+1].Start)
					}
				}
				shuffled := append([]input(nil), batch...)
				r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				// With repeated ids in a batch the first copy wins: keep each
				// id's first copy first.
				shuffled = firstCopiesFirst(batch, shuffled)
				for _, in := range shuffled {
					b = roundTrip(t, cat, tn, b)
					b.SharePlans(plans)
					if err := in.apply(b); err != nil {
						t.Fatal(err)
					}
				}
				all = append(all, batch...)

				// Live (cached across the calls above) agrees with a fresh
				// account's, and at the last instant of the period to close
				// with the close's figures.
				asOf := periods[k+1].Start.Add(time.Duration(r.Int64N(int64(periods[k+1].End.Sub(periods[k+1].Start)))))
				fresh := NewAccount(cat, tn)
				for _, in := range all {
					if err := in.apply(fresh); err != nil {
						t.Fatal(err)
					}
				}
				if diff := cmp.Diff(fresh.Live(asOf), a.Live(asOf)); diff != "" {
					t.Fatalf("close %d: live at %s differs from a fresh account's (-fresh +cached):\n%s", k, asOf, diff)
				}
				last := a.Live(periods[k].End.Add(-time.Nanosecond))

				ca, err := a.Close(a.NextToClose())
				if err != nil {
					t.Fatal(err)
				}
				pc := ca.Close
				if last.Period.Start != pc.PeriodStart || last.RolloverIn != pc.RolloverIn || last.Included != pc.Included ||
					last.GrantCredits != pc.GrantCreditsAvailable || last.Consumed != pc.Consumed || last.Available() != pc.Available {
					t.Fatalf("close %d: live at the period's last instant %+v disagrees with the close %+v", k, last, pc)
				}
				b = roundTrip(t, cat, tn, b)
				b.SharePlans(plans)
				cb, err := b.Close(b.NextToClose())
				if err != nil {
					t.Fatal(err)
				}
				checkClose(t, a, ca, life)
				if diff := cmp.Diff(ca, cb); diff != "" {
					t.Fatalf("close %d: shuffled/restored account differs (-a +b):\n%s", k, diff)
				}
				// A fresh account with every input computes the same figures.
				f := NewAccount(cat, tn)
				for _, in := range all {
					if err := in.apply(f); err != nil {
						t.Fatal(err)
					}
				}
				var cf Closed
				for range k + 1 {
					if cf, err = f.Close(f.NextToClose()); err != nil {
						t.Fatal(err)
					}
				}
				want, got := cf.Close, ca.Close
				want.RecognizedRevenue, got.RecognizedRevenue = schemas.Decimal{}, schemas.Decimal{}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("close %d: differs from a fresh evaluation (-fresh +incremental):\n%s", k, diff)
				}
			}
			if t.Failed() {
				t.Logf("catalog: %+v", cat.Plans)
			}
		})
	}
}

// firstCopiesFirst reorders shuffled so that, for every grant id, the copy
// that came first in batch comes first.
func firstCopiesFirst(batch, shuffled []input) []input {
	first := map[string]*schemas.Grant{}
	for _, in := range batch {
		if in.grant != nil && first[in.grant.ID] == nil {
			first[in.grant.ID] = in.grant
		}
	}
	var out, later []input
	for _, in := range shuffled {
		if in.grant != nil && first[in.grant.ID] != in.grant {
			later = append(later, in)
			continue
		}
		out = append(out, in)
	}
	return append(out, later...)
}

// roundTrip snapshots a, encodes the state as JSON and restores it.
func roundTrip(t testing.TB, cat *catalog.Catalog, tn *catalog.Tenant, a *Account) *Account {
	t.Helper()
	data, err := json.Marshal(a.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	b := Restore(cat, tn, s)
	if diff := cmp.Diff(a.Snapshot(), b.Snapshot()); diff != "" {
		t.Fatalf("snapshot round trip (-before +after):\n%s", diff)
	}
	return b
}

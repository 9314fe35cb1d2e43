package ledger

import (
	"fmt"
	"testing"
	"time"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/schemas"
)

const benchCatalog = `
currency: USD
plans:
  - {id: free, included_credits: 1000}
  - {id: pro, fee: "49.00", included_credits: 10000, rollover: {max_percent: 25},
     overage: {mode: bill, price_per_credit: "0.004", cap_amount: "100.00"},
     bundles: [{id: b5k, credits: 5000, price: "15.00"}]}
  - {id: team, fee: "199.00", included_credits: 50000, rollover: {max_credits: 5000},
     overage: {mode: bill, price_per_credit: "0.003"}}
tenants:
  - {id: a, plan: free, start: 2026-01-01T00:00:00Z}
  - {id: b, plan: pro, start: 2026-01-01T00:00:00Z, anchor_day: 15, timezone: America/New_York}
  - {id: c, plan: team, start: 2025-12-20T08:00:00Z, anchor_day: 20, timezone: Europe/Berlin}
  - {id: d, plan: pro, start: 2026-01-01T00:00:00Z, plan_changes: [{effective: 2026-03-01T00:00:00Z, plan: team}]}
`

// BenchmarkClose100k closes one period for each of 100k tenants that have
// three closed periods of history, about 30 usage additions per period, a
// bundle now and then, and (for one tenant in ten) late usage for the last
// closed period. Only the closes are timed.
//
//	go test -run='^$' -bench=Close100k -benchtime=1x ./pipeline/ledger/
func BenchmarkClose100k(b *testing.B) {
	const tenants = 100_000
	cat, err := catalog.Parse("bench", []byte(benchCatalog))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		accounts := make([]*Account, tenants)
		for i := range accounts {
			tn := cat.Tenants[i%len(cat.Tenants)]
			a := NewAccount(cat, tn)
			for range 3 {
				p := a.NextToClose()
				step := p.End.Sub(p.Start) / 30
				for j := range 30 {
					if err := a.AddUsage(p.Start.Add(time.Duration(j)*step), schemas.Micros((100+(i+j)%700)*schemas.MicrosPerUnit)); err != nil {
						b.Fatal(err)
					}
				}
				if i%7 == 0 {
					g := schemas.Grant{ID: fmt.Sprintf("g%d-%d", i, a.closed), Credits: 5000 * schemas.MicrosPerUnit,
						Price: schemas.MustDecimal("15.00"), Kind: schemas.GrantBundle, Time: p.Start.Add(48 * time.Hour)}
					if err := a.AddGrant(g); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := a.Close(p); err != nil {
					b.Fatal(err)
				}
			}
			p := a.NextToClose()
			for j := range 30 {
				if err := a.AddUsage(p.Start.Add(time.Duration(j)*time.Hour*20), schemas.Micros((200+(i*j)%900)*schemas.MicrosPerUnit)); err != nil {
					b.Fatal(err)
				}
			}
			if i%10 == 0 {
				if err := a.AddUsage(p.Start.Add(-time.Hour), 2500*schemas.MicrosPerUnit); err != nil {
					b.Fatal(err)
				}
			}
			accounts[i] = a
		}
		b.StartTimer()
		for _, a := range accounts {
			if _, err := a.Close(a.NextToClose()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	b.ReportMetric(float64(tenants*b.N)/b.Elapsed().Seconds(), "closes/s")
}

// BenchmarkAddUsageLive is the per-event hot path of the streaming
// pipeline: count an event, then read the live balance.
func BenchmarkAddUsageLive(b *testing.B) {
	cat, err := catalog.Parse("bench", []byte(benchCatalog))
	if err != nil {
		b.Fatal(err)
	}
	a := NewAccount(cat, cat.Tenants[1])
	if err := a.AddGrant(schemas.Grant{ID: "g", Credits: 5000 * schemas.MicrosPerUnit, Price: schemas.MustDecimal("15.00"),
		Kind: schemas.GrantBundle, Time: a.NextToClose().Start.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	t0 := a.NextToClose().Start
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		at := t0.Add(time.Duration(n%1_000_000) * time.Second)
		if err := a.AddUsage(at, 1500); err != nil {
			b.Fatal(err)
		}
		if l := a.Live(at); l.Consumed == 0 {
			b.Fatal("no usage")
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

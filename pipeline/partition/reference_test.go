package partition

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/dedup"
	"github.com/creditflow/creditflow/pipeline/window"
	"github.com/creditflow/creditflow/schemas"
)

// refProcessor is the documented check order written plainly, with
// time.Time arithmetic and string-keyed catalog lookups: what Process must
// agree with, whatever its caches and fast paths.
type refProcessor struct {
	cfg     Config
	cat     *catalog.Catalog
	dec     *schemas.Decoder
	seen    *dedup.Set
	windows *window.Windows
	maxTime time.Time
	ev      schemas.UsageEvent
}

func newRef(t *testing.T, cfg Config, cat *catalog.Catalog) *refProcessor {
	t.Helper()
	p, err := New(cfg, cat) // for the defaults
	if err != nil {
		t.Fatal(err)
	}
	seen, err := dedup.New(cfg.Dedup)
	if err != nil {
		t.Fatal(err)
	}
	win, err := window.New(cfg.Window)
	if err != nil {
		t.Fatal(err)
	}
	return &refProcessor{cfg: p.cfg, cat: cat, dec: schemas.NewDecoder(), seen: seen, windows: win}
}

func (r *refProcessor) watermark() time.Time {
	ooo := r.cfg.Window.OutOfOrder
	if ooo == 0 {
		ooo = 10 * time.Second
	}
	return window.Watermark(r.maxTime, ooo)
}

func (r *refProcessor) clock(now time.Time) time.Time {
	if r.cfg.WatermarkClock {
		return r.watermark()
	}
	return now
}

// process returns the outcome, the dead-letter reason and the credits.
func (r *refProcessor) process(rec []byte, now time.Time) (Outcome, schemas.Reason, schemas.Micros) {
	ev := &r.ev
	if err := r.dec.DecodeUsage(rec, ev); err != nil {
		var re *schemas.RecordError
		if errors.As(err, &re) {
			return DeadLetter, re.Reason, 0
		}
		return DeadLetter, schemas.ReasonMalformedJSON, 0
	}
	if r.cat.Meter(ev.Meter) == nil {
		return DeadLetter, schemas.ReasonUnknownMeter, 0
	}
	tenant := r.cat.Tenant(ev.Tenant)
	if tenant == nil {
		return DeadLetter, schemas.ReasonUnknownTenant, 0
	}
	if ev.Time.After(now.Add(r.cfg.MaxFuture)) {
		return DeadLetter, schemas.ReasonTooFarFuture, 0
	}
	if c := r.clock(now); !c.IsZero() && ev.Time.Before(c.Add(-r.cfg.MaxEventAge)) {
		return DeadLetter, schemas.ReasonTooOld, 0
	}
	if ev.Time.Before(tenant.Start) {
		return DeadLetter, schemas.ReasonUnknownTenant, 0
	}
	rate, ok := r.cat.Rate(ev.Meter, ev.Model, ev.Time)
	if !ok {
		return DeadLetter, schemas.ReasonNoRate, 0
	}
	credits, err := schemas.MulMicros(ev.Quantity, rate)
	if err != nil {
		return DeadLetter, schemas.ReasonBadQuantity, 0
	}
	if r.seen.Check(ev.Tenant, ev.ID, ev.Time, digest(ev, ev.Time.UnixNano())) != dedup.NewEvent {
		return Duplicate, "", 0
	}
	if ev.Time.After(r.maxTime) {
		r.maxTime = ev.Time
	}
	r.windows.Add(schemas.WindowKey{Tenant: ev.Tenant, Meter: ev.Meter, Model: ev.Model}, ev.Time, ev.Quantity, credits)
	return Counted, "", credits
}

const farCatalog = `
currency: USD
meters:
  - {name: tokens}
  - {name: calls}
rates:
  - {meter: tokens, model: "*", credits_per_unit: "0.001", effective_from: "1680-01-01T00:00:00Z"}
  - {meter: tokens, model: big, credits_per_unit: "0.01", effective_from: "2026-01-01T00:00:00Z"}
  - {meter: tokens, model: big, credits_per_unit: "0.02", effective_from: "2240-01-01T00:00:00Z"}
  - {meter: calls, model: fast, credits_per_unit: "1", effective_from: "1680-01-01T00:00:00Z"}
plans:
  - {id: p}
tenants:
  - {id: old, plan: p, start: "1680-01-01T00:00:00Z"}
  - {id: acme, plan: p, start: "2026-01-01T00:00:00Z"}
  - {id: future, plan: p, start: "2250-01-01T00:00:00Z"}
`

// TestProcessMatchesReference feeds random records (valid and not, with
// event times and wall clocks inside and outside the fast range, and more
// models than the series cache holds) to a Processor and to refProcessor,
// and expects the same outcome, reason, credits and windows for each.
func TestProcessMatchesReference(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Parse("far.yaml", []byte(farCatalog))
	if err != nil {
		t.Fatal(err)
	}
	base := []time.Time{
		time.Date(5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1679, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(1700, 6, 1, 0, 0, 0, 0, time.UTC), // before the fast range
		time.Date(2026, 1, 9, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC),
		time.Date(2239, 12, 31, 0, 0, 0, 0, time.UTC), // after it
		time.Date(2249, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for k, cfg := range []Config{
		{},
		{WatermarkClock: true},
		{WatermarkClock: true, MaxEventAge: time.Hour, Window: window.Config{OutOfOrder: window.NoOutOfOrder}},
		{MaxEventAge: 200 * 365 * 24 * time.Hour, MaxFuture: 250 * 365 * 24 * time.Hour, Window: window.Config{Width: time.Hour}},
	} {
		t.Run(fmt.Sprint("config", k), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(cfg.MaxEventAge), 99))
			p, err := New(cfg, cat)
			if err != nil {
				t.Fatal(err)
			}
			ref := newRef(t, cfg, cat)
			var got, want []schemas.WindowTotal
			counts := map[Outcome]int{}
			const n = 40000
			for i := range n {
				// Mostly good events that move through the bases in time
				// order, some chaos.
				good := rng.IntN(10) < 7
				b := base[i*len(base)/n]
				step := b.Add(time.Duration(i%(n/len(base))) * 4 * time.Second)
				now := step.Add(time.Duration(rng.Int64N(int64(time.Minute))))
				at := b
				if rng.IntN(20) == 0 {
					at = base[rng.IntN(len(base))]
				}
				at = at.Add(time.Duration(rng.Int64N(int64(24*time.Hour))) - 2*time.Hour)
				tenant := []string{"old", "acme", "future", "nobody"}[rng.IntN(4)]
				meter := []string{"tokens", "calls", "gpu"}[rng.IntN(3)]
				var model string
				switch rng.IntN(4) {
				case 0:
				case 1:
					model = "big"
				case 2:
					model = "fast"
				default:
					model = fmt.Sprint("m", rng.IntN(2*maxPairs)) // overflows the pair cache
				}
				id := rng.IntN(1 << 20)
				if good {
					tenant = []string{"old", "acme", "future"}[rng.IntN(3)]
					meter = "tokens"
					at = step.Add(-time.Duration(rng.Int64N(int64(20 * time.Second))))
					id = rng.IntN(2000) // some duplicates
				}
				m := ""
				if model != "" {
					m = fmt.Sprintf(`,"model":%q`, model)
				}
				rec := fmt.Sprintf(`{"id":"e%d","tenant":%q,"meter":%q%s,"quantity":%d.5,"time":%q}`,
					id, tenant, meter, m, rng.IntN(1000), at.Format(time.RFC3339Nano))
				r := p.Process([]byte(rec), now)
				wo, wr, wc := ref.process([]byte(rec), now)
				var gr schemas.Reason
				if r.Err != nil {
					gr = r.Err.Reason
				}
				if r.Outcome != wo || gr != wr || r.Credits != wc {
					t.Fatalf("record %d %s at now %s: got %v %q %v, reference %v %q %v", i, rec, now.Format(time.RFC3339), r.Outcome, gr, r.Credits, wo, wr, wc)
				}
				counts[r.Outcome]++
				if !p.MaxEventTime().Equal(ref.maxTime) {
					t.Fatalf("record %d: MaxEventTime %s, reference %s", i, p.MaxEventTime(), ref.maxTime)
				}
				if i%512 == 0 {
					got = p.Advance(got)
					if wm := ref.watermark(); !wm.IsZero() {
						ref.seen.Expire(wm)
						want = ref.windows.Advance(wm, want)
					}
				}
			}
			got, want = p.Flush(got), ref.windows.Flush(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("windows (-reference +got):\n%s", diff)
			}
			t.Logf("outcomes %v", counts)
			if counts[Counted] < 1000 || counts[Duplicate] < 100 || counts[DeadLetter] < 1000 {
				t.Errorf("outcomes %v: the mix is too one-sided", counts)
			}
		})
	}
}

// TestMaxEventTimeKeepsResume: a time given to Resume comes back as given
// until a later event is counted.
func TestMaxEventTimeKeepsResume(t *testing.T) {
	t.Parallel()
	p := newProc(t, Config{WatermarkClock: true})
	berlin := time.FixedZone("CET", 3600)
	at := time.Date(2026, 1, 9, 14, 0, 0, 5, berlin) // 13:00 UTC
	p.Resume(at)
	if got := p.MaxEventTime(); got != at {
		t.Errorf("MaxEventTime = %#v after Resume, want %#v", got, at)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if r := p.Process([]byte(`{"id":"a","tenant":"acme","meter":"tokens","quantity":1,"time":"2026-01-09T12:30:00Z"}`), now); r.Outcome != Counted {
		t.Fatalf("earlier event: %v %v", r.Outcome, r.Err)
	}
	if got := p.MaxEventTime(); got != at {
		t.Errorf("MaxEventTime = %v after an earlier event, want %v", got, at)
	}
	if r := p.Process([]byte(`{"id":"b","tenant":"acme","meter":"tokens","quantity":1,"time":"2026-01-09T13:30:00.25Z"}`), now); r.Outcome != Counted {
		t.Fatalf("later event: %v %v", r.Outcome, r.Err)
	}
	want := time.Date(2026, 1, 9, 13, 30, 0, 250_000_000, time.UTC)
	if got := p.MaxEventTime(); got != want {
		t.Errorf("MaxEventTime = %#v, want %#v", got, want)
	}
}

// TestDigest pins the digest of one event (digests are stored with events
// and compared after restarts, so they must not change by accident) and
// checks that it ignores the JSON form and sees every content field.
func TestDigest(t *testing.T) {
	t.Parallel()
	p := newProc(t, Config{})
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	dig := func(rec string) uint64 {
		t.Helper()
		var ev schemas.UsageEvent
		if err := p.dec.DecodeUsage([]byte(rec), &ev); err != nil {
			t.Fatal(err)
		}
		return digest(&ev, ev.Time.UnixNano())
	}
	const rec = `{"id":"1","tenant":"acme","meter":"tokens","model":"big","quantity":"12.5","time":"2026-01-09T00:00:00.123Z","properties":{"region":"eu"}}`
	d := dig(rec)
	if d != 0xe50e32453b3b43b6 {
		t.Errorf("digest = %#x; it must not change (stored digests would all conflict)", d)
	}
	if r := p.Process([]byte(rec), now); r.Digest != d {
		t.Errorf("Process digest %#x, digest %#x", r.Digest, d)
	}
	same := []string{
		` { "time" : "2026-01-09T01:00:00.123+01:00", "quantity" : 12.50, "model":"big","meter":"tokens","tenant":"acme","id":"other","properties":{"region":"eu"} } `,
		`{"id":"1","tenant":"beta","meter":"tok\u0065ns","model":"big","quantity":1.25e1,"time":"2026-01-09T00:00:00.123000Z","properties":{"region":"eu"}}`,
	}
	for _, s := range same {
		if got := dig(s); got != d {
			t.Errorf("digest of %s = %#x, want %#x", s, got, d)
		}
	}
	differ := []string{
		strings.Replace(rec, `"tokens"`, `"token"`, 1),
		strings.Replace(rec, `"big"`, `"bigger"`, 1),
		strings.Replace(rec, `,"model":"big"`, ``, 1),
		strings.Replace(rec, `"12.5"`, `"12.500001"`, 1),
		strings.Replace(rec, `.123Z`, `.124Z`, 1),
		strings.Replace(rec, `"eu"`, `"us"`, 1),
		strings.Replace(rec, `,"properties":{"region":"eu"}`, ``, 1),
		strings.Replace(rec, `{"region":"eu"}`, `{"region": "eu"}`, 1), // properties are kept verbatim
	}
	seen := map[uint64]string{d: rec}
	for _, s := range differ {
		got := dig(s)
		if prev, ok := seen[got]; ok {
			t.Errorf("digest of %s = %#x, the same as %s", s, got, prev)
		}
		seen[got] = s
	}
}

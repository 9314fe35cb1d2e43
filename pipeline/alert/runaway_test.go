package alert

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

// t0 is the start of the synthetic streams.
var t0 = date(2026, 3, 2)

// minuteAt returns t0 plus m minutes.
func minuteAt(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// stream feeds a synthetic tenant to d: for every minute m in [from, to),
// perMinute(m) credits spread over n events at even offsets within the
// minute, all on one (meter, model) pair unless pair says otherwise. It
// returns the alerts raised.
func stream(d *Detector, tenant string, from, to, n int, perMinute func(m int) float64, pair func(m, k int) (string, string)) []schemas.Alert {
	var out []schemas.Alert
	for m := from; m < to; m++ {
		c := perMinute(m)
		if c <= 0 {
			continue
		}
		for k := range n {
			meter, model := "tokens_in", "gpt-large"
			if pair != nil {
				meter, model = pair(m, k)
			}
			u := Usage{Tenant: tenant, Meter: meter, Model: model, Time: minuteAt(m).Add(time.Duration(k) * time.Minute / time.Duration(n)),
				Credits: schemas.Micros(math.Round(c / float64(n) * schemas.MicrosPerUnit))}
			if a, ok := d.Observe(u); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

// noisy returns base credits per minute with ±20 % uniform noise.
func noisy(seed uint64, base float64) func(m int) float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(int) float64 { return base * (0.8 + 0.4*rng.Float64()) }
}

func newDetector(t *testing.T, cfg RunawayConfig) *Detector {
	t.Helper()
	d, err := NewDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRunawayStep(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 4, 50} { // events per minute
		d := newDetector(t, RunawayConfig{})
		base := noisy(1, 20)
		const onset = 600
		got := stream(d, "acme", 0, 700, n, func(m int) float64 {
			if m >= onset {
				return 10 * base(m)
			}
			return base(m)
		}, nil)
		if len(got) != 1 {
			t.Fatalf("%d events/min: alerts %+v, want one", n, got)
		}
		a := got[0]
		// Minutes 600 and 601 are flagged; the first event of 602 fires.
		if a.ID != "acme/runaway/2026-03-02T10:00:00Z" || a.Type != schemas.AlertRunaway || !a.Time.Equal(minuteAt(onset+2)) {
			t.Errorf("%d events/min: alert %s at %v", n, a.ID, a.Time)
		}
		if a.Time.Sub(minuteAt(onset)) > 3*time.Minute {
			t.Errorf("flagged %v after the onset", a.Time.Sub(minuteAt(onset)))
		}
		if r := float64(a.RatePerMinute) / schemas.MicrosPerUnit; r < 160 || r > 240 {
			t.Errorf("rate %v per minute, want about 200", a.RatePerMinute)
		}
		if b := float64(a.BaselinePerMinute) / schemas.MicrosPerUnit; b < 17 || b > 23 {
			t.Errorf("baseline %v per minute, want about 20", a.BaselinePerMinute)
		}
		if len(a.Drivers) != 1 || a.Drivers[0].Meter != "tokens_in" || a.Drivers[0].Model != "gpt-large" || a.Drivers[0].Credits/2 != a.RatePerMinute {
			t.Errorf("drivers %+v", a.Drivers)
		}
	}
}

func TestRunawayStepMidMinute(t *testing.T) {
	t.Parallel()
	// A step 50 s into minute 600: minute 600 is only 2.5× (not flagged);
	// 601 and 602 are flagged, and the first event of 603 fires, 2m10s
	// after the onset.
	d := newDetector(t, RunawayConfig{})
	onset := minuteAt(600).Add(50 * time.Second)
	var got []schemas.Alert
	for s := 0; s < 605*60; s += 5 {
		tm := t0.Add(time.Duration(s) * time.Second)
		c := cr("1")
		if !tm.Before(onset) {
			c = cr("10")
		}
		if a, ok := d.Observe(Usage{Tenant: "acme", Meter: "m", Time: tm, Credits: c}); ok {
			got = append(got, a)
		}
	}
	if len(got) != 1 || got[0].ID != "acme/runaway/2026-03-02T10:01:00Z" || got[0].Time.Sub(onset) != 2*time.Minute+10*time.Second {
		t.Errorf("alerts %+v", got)
	}
}

func TestRunawayQuietOnCycle(t *testing.T) {
	t.Parallel()
	d := newDetector(t, RunawayConfig{})
	noise := noisy(2, 1)
	got := stream(d, "acme", 0, 3*1440, 4, func(m int) float64 {
		return 100 * (1 + 0.5*math.Sin(2*math.Pi*float64(m)/1440)) * noise(m)
	}, nil)
	if len(got) != 0 {
		t.Errorf("alerts on a ±50 %% daily cycle: %+v", got)
	}
}

func TestRunawayQuietOnBlip(t *testing.T) {
	t.Parallel()
	for _, factor := range []float64{10, 20, 1000} {
		d := newDetector(t, RunawayConfig{})
		base := noisy(3, 5)
		got := stream(d, "acme", 0, 1000, 4, func(m int) float64 {
			if m == 500 || m == 800 {
				return factor * base(m)
			}
			return base(m)
		}, nil)
		if len(got) != 0 {
			t.Errorf("alerts on a single-minute ×%v blip: %+v", factor, got)
		}
	}
}

func TestRunawayQuietOnSteadyAndRamp(t *testing.T) {
	t.Parallel()
	d := newDetector(t, RunawayConfig{})
	base := noisy(4, 3)
	if got := stream(d, "steady", 0, 2*1440, 2, base, nil); len(got) != 0 {
		t.Errorf("steady: %+v", got)
	}
	// ×3 over 12 hours.
	if got := stream(d, "ramp", 0, 2*1440, 2, func(m int) float64 {
		return base(m) * (1 + 2*min(1, float64(max(0, m-600))/720))
	}, nil); len(got) != 0 {
		t.Errorf("ramp: %+v", got)
	}
}

func TestRunawayNewTenant(t *testing.T) {
	t.Parallel()
	// Not armed before 30 learned minutes: a tenant that starts at 10× its
	// later level is not flagged, nor is its drop.
	d := newDetector(t, RunawayConfig{})
	if got := stream(d, "acme", 0, 300, 4, func(m int) float64 {
		if m < 29 {
			return 100
		}
		return 10
	}, nil); len(got) != 0 {
		t.Errorf("alerts %+v", got)
	}
	// A step right after 30 minutes of history is flagged.
	if got := stream(d, "bolt", 0, 40, 4, func(m int) float64 {
		if m < 30 {
			return 10
		}
		return 100
	}, nil); len(got) != 1 || got[0].ID != "bolt/runaway/2026-03-02T00:30:00Z" {
		t.Errorf("alerts %+v", got)
	}
}

func TestRunawayQuietAfterIdleNight(t *testing.T) {
	t.Parallel()
	// Busy 08:00–20:00, idle otherwise: the day's start is far above the
	// idle baseline, but not above 3× the day-long mean.
	d := newDetector(t, RunawayConfig{})
	base := noisy(5, 50)
	if got := stream(d, "acme", 0, 4*1440, 4, func(m int) float64 {
		if h := m % 1440 / 60; h < 8 || h >= 20 {
			return 0
		}
		return base(m)
	}, nil); len(got) != 0 {
		t.Errorf("alerts %+v", got)
	}
}

func TestRunawayEpisodes(t *testing.T) {
	t.Parallel()
	// One alert per episode; the ×10 level becomes the new normal; a second
	// ×10 step later is a new episode. A dip inside an episode does not end
	// it.
	d := newDetector(t, RunawayConfig{})
	base := noisy(6, 2)
	got := stream(d, "acme", 0, 1500, 4, func(m int) float64 {
		switch {
		case m >= 1000:
			return 100 * base(m)
		case m >= 200:
			if m == 205 || m == 206 {
				return base(m) // a dip: five unflagged minutes are not 15
			}
			return 10 * base(m)
		}
		return base(m)
	}, nil)
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	want := []string{"acme/runaway/2026-03-02T03:20:00Z", "acme/runaway/2026-03-02T16:40:00Z"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestRunawayAdvance(t *testing.T) {
	t.Parallel()
	d := newDetector(t, RunawayConfig{})
	stream(d, "acme", 0, 100, 2, noisy(7, 1), nil)
	stream(d, "bolt", 0, 100, 2, noisy(8, 1), nil)
	if got := stream(d, "acme", 100, 102, 2, func(int) float64 { return 50 }, nil); len(got) != 0 {
		t.Fatalf("fired before minute 101 closed: %+v", got)
	}
	if got := d.Advance(minuteAt(101).Add(59 * time.Second)); len(got) != 0 {
		t.Fatalf("Advance within minute 101 fired: %+v", got)
	}
	got := d.Advance(minuteAt(110))
	if len(got) != 1 || got[0].ID != "acme/runaway/2026-03-02T01:40:00Z" || !got[0].Time.Equal(minuteAt(102)) {
		t.Fatalf("Advance: %+v", got)
	}
	// Minute 105 is closed: its events no longer count.
	if a, ok := d.Observe(Usage{Tenant: "acme", Time: minuteAt(105), Credits: cr("1000")}); ok {
		t.Errorf("late event fired %+v", a)
	}
	if r := d.tenants["acme"]; r.minute != unixMinute(minuteAt(110)) || r.credits != 0 {
		t.Errorf("open minute %d with %d credits", r.minute, r.credits)
	}
}

func TestRunawayDrivers(t *testing.T) {
	t.Parallel()
	d := newDetector(t, RunawayConfig{Sustain: 1})
	stream(d, "acme", 0, 60, 1, func(int) float64 { return 10 }, func(int, int) (string, string) { return "api_calls", "" })
	// 20 pairs in the runaway minute: 16 are tracked; the largest three are
	// named, in order, with exact credits as they arrive first.
	credits := []float64{500, 400, 300}
	for k := 3; k < 20; k++ {
		credits = append(credits, 10)
	}
	var got []schemas.Alert
	for k, c := range credits {
		u := Usage{Tenant: "acme", Meter: "tokens_in", Model: string(rune('a' + k)), Time: minuteAt(60).Add(time.Duration(k) * time.Second), Credits: schemas.Micros(c * schemas.MicrosPerUnit)}
		if a, ok := d.Observe(u); ok {
			got = append(got, a)
		}
	}
	a, ok := d.Observe(Usage{Tenant: "acme", Meter: "x", Time: minuteAt(61), Credits: 1})
	if !ok {
		t.Fatalf("no alert; earlier %+v", got)
	}
	want := []schemas.Driver{{Meter: "tokens_in", Model: "a", Credits: cr("500")}, {Meter: "tokens_in", Model: "b", Credits: cr("400")}, {Meter: "tokens_in", Model: "c", Credits: cr("300")}}
	if diff := cmp.Diff(want, a.Drivers); diff != "" {
		t.Errorf("drivers (-want +got):\n%s", diff)
	}
	if a.RatePerMinute != cr("1370") {
		t.Errorf("rate %v", a.RatePerMinute)
	}
}

func TestSelectAndMedian(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	for n := 1; n < 130; n++ {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.IntN(20)) // with ties
		}
		sorted := slices.Clone(s)
		slices.Sort(sorted)
		want := float64(sorted[n/2])
		if n%2 == 0 {
			want = (float64(sorted[n/2-1]) + want) / 2
		}
		if got := median(slices.Clone(s)); got != want {
			t.Fatalf("median of %v = %v, want %v", s, got, want)
		}
		k := rng.IntN(n)
		c := slices.Clone(s)
		if got := selectKth(c, k); got != sorted[k] {
			t.Fatalf("select %d of %v = %v, want %v", k, s, got, sorted[k])
		}
	}
}

// TestMemoryPerTenant checks the per-tenant sizes stated in doc.go.
func TestMemoryPerTenant(t *testing.T) {
	t.Parallel()
	p, _ := RunawayConfig{}.params()
	det := int(unsafe.Sizeof(runaway{})) + p.sustain*int(unsafe.Sizeof(closedMinute{})) + p.window*4
	eng := int(unsafe.Sizeof(tenant{})) + 2*3*int(unsafe.Sizeof(thresholdState{}))
	t.Logf("bytes per tenant: detector %d (runaway %d, closed minute %d), engine %d (tenant %d, threshold %d)",
		det, unsafe.Sizeof(runaway{}), unsafe.Sizeof(closedMinute{}), eng, unsafe.Sizeof(tenant{}), unsafe.Sizeof(thresholdState{}))
	if det > 1600 || eng > 1000 || unsafe.Sizeof(closedMinute{}) != 136 {
		t.Errorf("sizes grew past doc.go's figures: detector %d B, engine %d B", det, eng)
	}
}

func TestDetectorSnapshotMidMinute(t *testing.T) {
	t.Parallel()
	// Restore in the middle of the runaway's second minute: the alert comes
	// once, identical.
	feed := func(d *Detector, from, to int) []schemas.Alert {
		var out []schemas.Alert
		for s := from; s < to; s += 10 {
			c := cr("2")
			if s >= 3600 {
				c = cr("30")
			}
			meter := []string{"a", "b", "c", "d"}[s/10%4]
			if a, ok := d.Observe(Usage{Tenant: "acme", Meter: meter, Time: t0.Add(time.Duration(s) * time.Second), Credits: c}); ok {
				out = append(out, a)
			}
		}
		return out
	}
	d := newDetector(t, RunawayConfig{})
	want := feed(d, 0, 4000)
	d = newDetector(t, RunawayConfig{})
	got := feed(d, 0, 3690)
	e, _ := newPair(t)
	_, d = restart(t, e, d)
	got = append(got, feed(d, 3690, 4000)...)
	if len(want) != 1 {
		t.Fatalf("want one alert, got %+v", want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts across a restore (-want +got):\n%s", diff)
	}
}

// TestCloseIdle: closing n idle minutes at once leaves a tenant's detector
// state exactly as closing them one by one does, from states reached by
// random streams with spikes (so that some are within an episode, with a
// run of suspect minutes, or before MinHistory), for n up to the limit
// advance passes.
func TestCloseIdle(t *testing.T) {
	cfg := RunawayConfig{Baseline: 20 * time.Minute, MinHistory: 5 * time.Minute, Sustain: 2, Quiet: 4 * time.Minute, AdaptAfter: 30 * time.Minute}
	d := newDetector(t, cfg)
	p := &d.p
	rng := rand.New(rand.NewPCG(5, 6))
	clone := func(r *runaway) *runaway {
		c := *r
		c.recent = slices.Clone(r.recent)
		c.learned = slices.Clone(r.learned)
		return &c
	}
	episodes, runs := 0, 0
	for trial := range 400 {
		r := newRunaway("t", p)
		r.started = true
		// A random history: busy, idle and spiking minutes.
		for range rng.IntN(80) {
			switch k := rng.IntN(10); {
			case k < 3: // idle
			case k < 8:
				r.add("m", "x", int64(1+rng.IntN(1000))*1000)
			default:
				r.add("m", "x", int64(1+rng.IntN(1000))*1_000_000)
			}
			r.advance(p, d.scratch, r.minute+1, time.Time{})
		}
		// Close the open minute, as advance does before the idle ones.
		r.add("m", "x", int64(rng.IntN(3))*5_000_000)
		r.advance(p, d.scratch, r.minute+1, time.Time{})
		if r.episode {
			episodes++
		}
		if r.run > 0 {
			runs++
		}
		n := int64(1 + rng.IntN(p.window+p.quiet+p.sustain))
		one := clone(r)
		for range n {
			one.closeMinute(p, d.scratch, 0, 0)
			one.minute++
		}
		r.closeIdle(p, n)
		if diff := cmp.Diff(one, r, cmp.AllowUnexported(runaway{}, closedMinute{}, driver{})); diff != "" {
			t.Fatalf("trial %d, %d idle minutes (-one by one +closeIdle):\n%s", trial, n, diff)
		}
	}
	t.Logf("%d trials within an episode, %d with a run", episodes, runs)
	if episodes < 20 || runs < 20 {
		t.Errorf("%d episodes, %d runs: the states are too tame", episodes, runs)
	}
}

package alert

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

var sinkTime time.Time

// cpuTime returns the process's user+system CPU time, which a loaded
// machine inflates less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkObserve measures the per-event cost of the alert path: the
// engine (thresholds, entitlement, burn rate), the runaway detector, and
// both, as the billing book calls them after every counted event. Tenants
// take turns, each seeing 1,000 events per event-time minute over 4
// (meter, model) pairs (at 2M events/s, 1,000 equal tenants would see 120
// times as many), so minutes close and baselines are recomputed; nothing
// fires in steady state. With 1,000 tenants in
// strict rotation every event touches state evicted from the CPU caches
// (the worst case); with 16 it stays cached. Besides ns/op (wall time) it
// reports cpu-ns/event (process CPU time), which other load on the machine
// distorts less. Mode "harness" only builds the events: subtract it.
func BenchmarkObserve(b *testing.B) {
	sinkTime = time.Time{}
	pairs := [][2]string{{"tokens_in", "gpt-large"}, {"tokens_out", "gpt-large"}, {"tokens_in", "gpt-small"}, {"api_calls", ""}}
	start := date(2026, 1, 2)
	for _, tenants := range []int{16, 1000} {
		names := make([]string, tenants)
		bals := make([]Balance, tenants)
		for i := range names {
			names[i] = "tenant-" + strconv.Itoa(i)
			bals[i] = Balance{Tenant: names[i], Period: jan, Available: cr("1000000000"), Thresholds: std, Mode: ModeBill}
		}
		dt := 60 * time.Millisecond / time.Duration(tenants) // a tenant's events are 60 ms apart
		for _, mode := range []string{"harness", "engine", "detector", "both"} {
			b.Run(mode+"/tenants="+strconv.Itoa(tenants), func(b *testing.B) {
				e, _ := New(Config{})
				d, _ := NewDetector(RunawayConfig{})
				for i := range bals {
					bals[i].Consumed = 0
				}
				var out []schemas.Alert
				i := 0
				b.ReportAllocs()
				cpu := cpuTime()
				for b.Loop() {
					k := i % tenants
					p := pairs[i/tenants%len(pairs)]
					u := Usage{Tenant: names[k], Meter: p[0], Model: p[1], Time: start.Add(time.Duration(i) * dt), Credits: 1_000_000 + schemas.Micros(i%7)*100_000}
					if mode == "engine" || mode == "both" {
						bals[k].Consumed += u.Credits
						out, _ = e.Observe(u, bals[k], out[:0])
					}
					if mode == "detector" || mode == "both" {
						d.Observe(u)
					}
					sinkTime = u.Time
					i++
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(i), "cpu-ns/event")
				b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	e := newEngine(t)
	d := newDetector(t, RunawayConfig{})
	b := Balance{Tenant: "acme", Period: jan, Available: cr("1000000"), Thresholds: std, Mode: ModeBill}
	i := 0
	step := func() {
		u := Usage{Tenant: "acme", Meter: "tokens_in", Model: "gpt-large", Time: at(float64(i) / 10), Credits: cr("1")}
		b.Consumed += u.Credits
		e.Observe(u, b, nil)
		d.Observe(u)
		i++
	}
	for range 1000 { // past the first event's entitlement and 30 minutes of history
		step()
	}
	if n := testing.AllocsPerRun(5000, step); n != 0 {
		t.Errorf("%v allocations per event, want 0", n)
	}
}

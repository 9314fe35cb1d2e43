package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/pipeline/loadgen"
	"github.com/creditflow/creditflow/sinks/clickhouse"
)

// runProbe measures end-to-end latency of a running pipeline (deploy/
// streambench.sh starts one): it produces background load at --rate events/s
// with event times following the wall clock, and every --every a probe:
//
//   - a window probe: an event with a model of its own ("probe-N", priced by
//     the meter's "*" rate), timed from produce until its window total is
//     visible in ClickHouse's window_totals view;
//   - an alert probe: one event big enough to cross a threshold of a tenant
//     not used before (from the end of the catalog's tenant list), timed
//     from produce until its threshold alert is read from the alerts topic.
//
// It prints p50, p90, p99 and max of both, and how many probes were not
// seen within tailWait after the last one was produced. A missing alert
// probe is usually a tenant whose thresholds had all fired already (the
// background load and any backlog use every tenant of the catalog).
// tailWait is how long runProbe keeps watching after the last probe: more
// than the window latency target (window + out-of-orderness + 2 s = 72 s by
// default) would make every run long, so it is 20 s, well above the p99
// measured here (~10 s).
const tailWait = 20 * time.Second

func runProbe(ctx context.Context, args []string, e *env) error {
	fs := newFlags("probe", e)
	catalogPath := fs.String("catalog", "", "the catalog the pipeline runs with (required)")
	topic := fs.String("topic", "usage.events", "usage events topic")
	alerts := fs.String("alerts-topic", "usage.alerts", "alerts topic")
	database := fs.String("database", "creditflow", "ClickHouse database of the pipeline")
	rate := fs.Float64("rate", 5000, "background events per second")
	duration := fs.Duration("duration", time.Minute, "how long to measure")
	every := fs.Duration("every", 250*time.Millisecond, "probe interval")
	brokers := fs.String("brokers", orString(os.Getenv("KAFKA_BROKERS"), "127.0.0.1:9092"), "seed brokers")
	addr := fs.String("clickhouse", orString(os.Getenv("CLICKHOUSE_ADDR"), "127.0.0.1:9000"), "ClickHouse native address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cat, err := catalog.Load(*catalogPath)
	if err != nil {
		return err
	}
	ch, err := clickhouse.Open(ctx, clickhouse.Config{Addr: strings.Split(*addr, ","), Database: *database})
	if err != nil {
		return err
	}
	defer ch.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.DefaultProduceTopic(*topic), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		return err
	}
	defer prod.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.ConsumeTopics(*alerts), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		return err
	}
	defer cons.Close()
	cfg := loadgen.Config{Seed: uint64(time.Now().UnixNano()), Events: 1 << 40, Start: time.Now().UTC(), Rate: *rate}
	fromCatalog(&cfg, cat)
	g, err := loadgen.New(cfg)
	if err != nil {
		return err
	}
	meter := cat.Meters[0].Name
	probeTenant := cat.Tenants[0].ID
	ctx, cancel := context.WithTimeout(ctx, *duration+tailWait+5*time.Second)
	defer cancel()

	var mu sync.Mutex
	windowSent := map[string]time.Time{}
	alertSent := map[string]time.Time{}
	var windowLat, alertLat []time.Duration
	var wg sync.WaitGroup

	// Alerts reader.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var a struct {
					Type, Tenant string
				}
				if json.Unmarshal(r.Value, &a) != nil || a.Type != "threshold" {
					return
				}
				mu.Lock()
				if t, ok := alertSent[a.Tenant]; ok {
					alertLat = append(alertLat, time.Since(t))
					delete(alertSent, a.Tenant)
				}
				mu.Unlock()
			})
		}
	}()
	// Window totals poller.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			totals, err := ch.WindowTotals(ctx, probeTenant)
			if err != nil {
				continue
			}
			now := time.Now()
			mu.Lock()
			for _, w := range totals {
				if t, ok := windowSent[w.Model]; ok {
					windowLat = append(windowLat, now.Sub(t))
					delete(windowSent, w.Model)
				}
			}
			mu.Unlock()
		}
	}()
	// Background load and probes.
	start := time.Now()
	nextProbe := start
	var n int64
	alertTenant := len(cat.Tenants) - 1
	for probe := 0; time.Since(start) < *duration; {
		b, _ := g.Next(nil)
		prod.Produce(ctx, &kgo.Record{Value: b}, nil)
		n++
		if now := time.Now(); !now.Before(nextProbe) {
			nextProbe = nextProbe.Add(*every)
			probe++
			model := fmt.Sprintf("probe-%d", probe)
			wrec := fmt.Sprintf(`{"id":"probe-%d-%d","tenant":%q,"meter":%q,"model":%q,"quantity":1,"time":%q}`,
				start.UnixNano(), probe, probeTenant, meter, model, now.UTC().Format(time.RFC3339Nano))
			tenant := cat.Tenants[alertTenant].ID
			alertTenant--
			arec := fmt.Sprintf(`{"id":"alert-probe-%d-%d","tenant":%q,"meter":%q,"quantity":"1000000000","time":%q}`,
				start.UnixNano(), probe, tenant, meter, now.UTC().Format(time.RFC3339Nano))
			mu.Lock()
			windowSent[model] = now
			alertSent[tenant] = now
			mu.Unlock()
			prod.Produce(ctx, &kgo.Record{Key: []byte(probeTenant), Value: []byte(wrec)}, nil)
			prod.Produce(ctx, &kgo.Record{Key: []byte(tenant), Value: []byte(arec)}, nil)
		}
		if n%200 == 0 {
			due := start.Add(time.Duration(float64(n) / *rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
	}
	prod.Flush(ctx)
	time.Sleep(tailWait)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	report := func(name string, lat []time.Duration, missing int) {
		slices.Sort(lat)
		q := func(p float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[min(len(lat)-1, int(p*float64(len(lat))))]
		}
		fmt.Fprintf(e.stdout, "%-28s n=%4d missing=%3d p50=%7s p90=%7s p99=%7s max=%7s\n", name, len(lat), missing,
			q(0.5).Round(time.Millisecond), q(0.9).Round(time.Millisecond), q(0.99).Round(time.Millisecond), q(1).Round(time.Millisecond))
	}
	fmt.Fprintf(e.stdout, "background load: %d events in %s (%.0f events/s)\n", n, time.Since(start).Round(time.Second), float64(n)/time.Since(start).Seconds())
	report("produce → window visible", windowLat, len(windowSent))
	report("produce → alert on topic", alertLat, len(alertSent))
	return nil
}

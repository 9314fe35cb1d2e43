package kafka

import (
	"sort"
	"testing"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

func benchAlerts(n int) []schemas.Alert {
	base := testAlerts()
	as := make([]schemas.Alert, n)
	for i := range as {
		as[i] = base[i%len(base)]
		as[i].ID = "bench-" + itoa(int64(i))
	}
	return as
}

// BenchmarkBuildAlertRecords measures the encoding of a batch of 1000
// alerts into franz-go records, without a broker.
func BenchmarkBuildAlertRecords(b *testing.B) {
	as := benchAlerts(1000)
	b.ReportAllocs()
	for b.Loop() {
		bb := alertsBatch("usage.alerts", as)
		_ = bb.records()
	}
	b.ReportMetric(float64(b.N*len(as))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkIntegrationAlertsThroughput produces batches of 1000 alerts to
// the real broker (KAFKA_BROKERS), each call waiting for every ack.
func BenchmarkIntegrationAlertsThroughput(b *testing.B) {
	cfg := realConfig(b)
	if cfg == nil {
		return
	}
	p, err := NewProducer(*cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	as := benchAlerts(1000)
	ctx := testCtx(b, 10*time.Minute)
	if err := p.Alerts(ctx, as[:1]); err != nil { // metadata, producer id
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Alerts(ctx, as); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(as))/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkIntegrationAlertLatency produces one alert per call to the real
// broker and reports the p50 and p99 of the ProduceSync latency.
func BenchmarkIntegrationAlertLatency(b *testing.B) {
	cfg := realConfig(b)
	if cfg == nil {
		return
	}
	p, err := NewProducer(*cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	as := benchAlerts(1)
	ctx := testCtx(b, 10*time.Minute)
	if err := p.Alerts(ctx, as); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := p.Alerts(ctx, as); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

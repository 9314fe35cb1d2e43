package webhook

import (
	"testing"
)

// BenchmarkEnqueue measures the pipeline's cost of handing alerts to the
// webhook while nothing drains the queue (the receiver is down).
func BenchmarkEnqueue(b *testing.B) {
	s := mustNew(b, Config{URL: "https://hooks.example/x", Secret: testSecret})
	as := alerts(20000)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range as {
			s.Enqueue(as[i])
		}
		n += len(as)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkSign measures signing one alert body.
func BenchmarkSign(b *testing.B) {
	body := wantBody(alert("a1"))
	b.ReportAllocs()
	ts := "1767225600"
	for b.Loop() {
		_ = Sign(testSecret, ts, body)
	}
}

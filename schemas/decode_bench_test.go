package schemas

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchEvents returns a realistic mix of usage records of about 200 bytes:
// 10,000 tenants, several meters and models, UUID ids, millisecond times,
// integer and decimal quantities as numbers and strings, about a third with
// properties and one in seven in CloudEvents form.
func benchEvents(n int) [][]byte { return benchEventsT(n, 10_000) }

func benchEventsT(n, tenants int) [][]byte {
	rng := rand.New(rand.NewPCG(7, 11))
	meters := []string{"llm.tokens.input", "llm.tokens.output", "api.calls", "compute.seconds", "storage.gb_hours"}
	models := []string{"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3.1-70b", "embed-v3", ""}
	regions := []string{"eu-west-1", "us-east-1", "ap-south-1"}
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		id := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<16), rng.Int64N(1<<48))
		tenant := fmt.Sprintf("tenant-%05d", rng.IntN(tenants))
		meter := meters[rng.IntN(len(meters))]
		model := models[rng.IntN(len(models))]
		var qty string
		switch r := rng.IntN(10); {
		case r < 7:
			qty = fmt.Sprint(1 + rng.IntN(8000))
		case r < 9:
			qty = fmt.Sprintf(`"%d.%03d"`, rng.IntN(100), rng.IntN(1000))
		default:
			qty = fmt.Sprintf(`%d.%06d`, rng.IntN(10), rng.IntN(1_000_000))
		}
		ts := base.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
		props := ""
		if rng.IntN(3) == 0 {
			props = fmt.Sprintf(`{"region":%q,"request_id":"req_%06x"}`, regions[rng.IntN(len(regions))], rng.IntN(1<<24))
		}
		var b []byte
		if rng.IntN(7) == 0 {
			b = fmt.Appendf(b, `{"specversion":"1.0","id":%q,"source":"/gateway","type":%q,"subject":%q,"time":%q,"data":{"quantity":%s`, id, meter, tenant, ts, qty)
			if model != "" {
				b = fmt.Appendf(b, `,"model":%q`, model)
			}
			if props != "" {
				b = fmt.Appendf(b, `,"properties":%s`, props)
			}
			b = append(b, "}}"...)
		} else {
			b = fmt.Appendf(b, `{"id":%q,"tenant":%q,"meter":%q`, id, tenant, meter)
			if model != "" {
				b = fmt.Appendf(b, `,"model":%q`, model)
			}
			b = fmt.Appendf(b, `,"quantity":%s,"time":%q`, qty, ts)
			if props != "" {
				b = fmt.Appendf(b, `,"properties":%s`, props)
			}
			b = append(b, '}')
		}
		out[i] = b
	}
	return out
}

func TestBenchEventsDecode(t *testing.T) {
	t.Parallel()
	d := NewDecoder()
	total := 0
	events := benchEvents(2000)
	for _, b := range events {
		total += len(b)
		var ev UsageEvent
		if err := d.DecodeUsage(b, &ev); err != nil {
			t.Fatalf("DecodeUsage(%s) = %v", b, err)
		}
		want, err := refDecodeUsage(b)
		if err != nil {
			t.Fatalf("reference refuses %s: %v", b, err)
		}
		if diff := eventsDiff(&ev, &want); diff != "" {
			t.Fatalf("DecodeUsage(%s): %s", b, diff)
		}
	}
	if avg := total / len(events); avg < 150 || avg > 260 {
		t.Errorf("benchmark events average %d bytes, want about 200", avg)
	}
}

func BenchmarkDecodeUsage(b *testing.B) {
	events := benchEvents(1 << 14)
	d := NewDecoder()
	var ev UsageEvent
	var bytes int64
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec := events[i&(len(events)-1)]
		bytes += int64(len(rec))
		if err := d.DecodeUsage(rec, &ev); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "events/s")
	b.SetBytes(bytes / int64(max(i, 1)))
}

// stdEvent is the same record decoded by encoding/json, both forms.
type stdEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Tenant      string          `json:"tenant"`
	Subject     string          `json:"subject"`
	Meter       string          `json:"meter"`
	Type        string          `json:"type"`
	Model       string          `json:"model"`
	Quantity    json.Number     `json:"quantity"`
	Time        time.Time       `json:"time"`
	Properties  json.RawMessage `json:"properties"`
	Data        *struct {
		Quantity   json.Number     `json:"quantity"`
		Model      string          `json:"model"`
		Properties json.RawMessage `json:"properties"`
	} `json:"data"`
}

func BenchmarkDecodeUsageStdlib(b *testing.B) {
	events := benchEvents(1 << 14)
	var bytes int64
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec := events[i&(len(events)-1)]
		bytes += int64(len(rec))
		var ev stdEvent
		if err := json.Unmarshal(rec, &ev); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "events/s")
	b.SetBytes(bytes / int64(max(i, 1)))
}

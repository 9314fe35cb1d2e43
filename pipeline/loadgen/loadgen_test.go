package loadgen

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditflow/creditflow/schemas"
)

// decoded is one generated record as the pipeline's decoder sees it.
type decoded struct {
	raw []byte
	schemas.UsageEvent
	err *schemas.RecordError
}

// decodeAll drains g and decodes every record with schemas.Decoder.
func decodeAll(t testing.TB, g *Generator) []decoded {
	t.Helper()
	d := schemas.NewDecoder()
	var out []decoded
	var buf []byte
	for {
		var ok bool
		buf, ok = g.Next(buf[:0])
		if !ok {
			return out
		}
		r := decoded{raw: bytes.Clone(buf)}
		var ev schemas.UsageEvent
		if err := d.DecodeUsage(r.raw, &ev); err != nil {
			if !errors.As(err, &r.err) {
				t.Fatalf("DecodeUsage returned %T, not *schemas.RecordError: %v", err, err)
			}
		} else {
			r.UsageEvent = ev.Clone()
		}
		out = append(out, r)
	}
}

// classify counts records the way a pipeline would, independently of the
// generator: decoder errors, unknown tenants and meters, first copies,
// exact and conflicting re-sends, and how far each counted event lags the
// latest event time seen before it.
func classify(t *testing.T, recs []decoded, tenants, meters []string) Stats {
	t.Helper()
	s := Stats{
		Malformed: map[schemas.Reason]int64{},
		Quantity:  map[string]schemas.Micros{},
		Events:    map[string]int64{},
	}
	for _, r := range MalformedReasons {
		s.Malformed[r] = 0
	}
	for _, m := range meters {
		s.Quantity[m], s.Events[m] = 0, 0
	}
	known := func(list []string) map[string]bool {
		m := make(map[string]bool, len(list))
		for _, s := range list {
			m[s] = true
		}
		return m
	}
	knownTenants, knownMeters := known(tenants), known(meters)
	type key struct{ tenant, id string }
	first := map[key][]byte{}
	var maxSeen time.Time
	for _, r := range recs {
		s.Records++
		s.Bytes += int64(len(r.raw))
		switch {
		case r.err != nil:
			s.Malformed[r.err.Reason]++
			continue
		case !knownMeters[r.Meter]:
			s.Malformed[schemas.ReasonUnknownMeter]++
			continue
		case !knownTenants[r.Tenant]:
			s.Malformed[schemas.ReasonUnknownTenant]++
			continue
		}
		ce := bytes.Contains(r.raw, []byte(`"specversion":"1.0"`))
		if ce {
			s.CloudEvents++
		}
		k := key{r.Tenant, string(r.ID)}
		if prev, ok := first[k]; ok {
			if bytes.Equal(prev, r.raw) {
				s.Duplicates++
			} else {
				s.Conflicts++
			}
			continue
		}
		first[k] = r.raw
		s.Counted++
		s.Quantity[r.Meter] += r.Quantity
		s.Events[r.Meter]++
		if s.First.IsZero() || r.Time.Before(s.First) {
			s.First = r.Time
		}
		if r.Time.After(s.Last) {
			s.Last = r.Time
		}
		switch lag := maxSeen.Sub(r.Time); {
		case lag >= time.Minute:
			s.Late++
		case lag > 0:
			s.OutOfOrder++
		}
		if r.Time.After(maxSeen) {
			maxSeen = r.Time
		}
	}
	return s
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Events: 20_000, Tenants: 500, Duplicates: 0.02, Conflicts: 0.01, OutOfOrder: 0.05,
		Late: 0.01, Malformed: 0.02, CloudEvents: 0.1, Rate: 50, Runaway: []string{"t-000003"},
	}
	write := func(cfg Config) []byte {
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		n, err := g.WriteTo(&b)
		if err != nil || n != int64(b.Len()) {
			t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, b.Len())
		}
		if got := int64(bytes.Count(b.Bytes(), []byte("\n"))); got != cfg.Events {
			t.Fatalf("wrote %d lines, want %d", got, cfg.Events)
		}
		return b.Bytes()
	}
	a, b := write(cfg), write(cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("same config wrote different bytes")
	}
	cfg.Seed = 2
	if bytes.Equal(a, write(cfg)) {
		t.Fatal("seeds 1 and 2 wrote the same bytes")
	}
	// Seed 0 means 1.
	cfg.Seed = 0
	zero := write(cfg)
	cfg.Seed = 1
	if !bytes.Equal(zero, write(cfg)) {
		t.Fatal("seed 0 differs from seed 1")
	}
}

// TestFractions writes 100k records of every kind and checks that an
// independent classification with the pipeline's decoder agrees with Stats
// exactly, and that the fractions are as configured.
func TestFractions(t *testing.T) {
	t.Parallel()
	const n = 100_000
	cfg := Config{
		Events: n, Tenants: 2000, Rate: 10,
		Duplicates: 0.02, Conflicts: 0.01, OutOfOrder: 0.05, Late: 0.01,
		Malformed: 0.035, CloudEvents: 0.1,
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	recs := decodeAll(t, g)
	st := g.Stats()
	got := classify(t, recs, g.TenantIDs(), DefaultMeters)
	t.Logf("stats: %+v", st)

	// Out-of-order events whose delay the millisecond clock swallows are not
	// visible as such; compare that one approximately.
	if d := st.OutOfOrder - got.OutOfOrder; d < 0 || float64(d) > 0.02*float64(st.OutOfOrder) {
		t.Errorf("out of order: stats %d, observed %d", st.OutOfOrder, got.OutOfOrder)
	}
	got.OutOfOrder = st.OutOfOrder
	if diff := cmp.Diff(st, got); diff != "" {
		t.Errorf("Stats differ from the decoded records (-stats +decoded):\n%s", diff)
	}

	near := func(name string, got int64, frac float64, of int64) {
		t.Helper()
		want := frac * float64(of)
		if tol := 5*math.Sqrt(want) + 2; math.Abs(float64(got)-want) > tol {
			t.Errorf("%s: %d, want %.0f ± %.0f", name, got, want, tol)
		}
	}
	near("duplicates", st.Duplicates, cfg.Duplicates, n)
	near("conflicts", st.Conflicts, cfg.Conflicts, n)
	near("out of order", st.OutOfOrder, cfg.OutOfOrder, n)
	// No event is late in the stream's first LateMin.
	near("late", st.Late, cfg.Late, n-int64(LateMin.Seconds()*cfg.Rate))
	for _, r := range MalformedReasons {
		near("malformed "+string(r), st.Malformed[r], cfg.Malformed/float64(len(MalformedReasons)), n)
	}
	near("cloudevents", st.CloudEvents, cfg.CloudEvents, n-st.MalformedTotal())
	if st.Records != n || st.Counted+st.Duplicates+st.Conflicts+st.MalformedTotal() != n {
		t.Errorf("kinds do not add up: %+v", st)
	}
	if !st.First.Equal(DefaultStart) {
		t.Errorf("first event at %v, want %v", st.First, DefaultStart)
	}
	if span := st.Last.Sub(st.First); math.Abs(span.Seconds()-n/cfg.Rate) > 1 {
		t.Errorf("span %v, want about %vs", span, n/cfg.Rate)
	}
	if avg := st.Bytes / n; avg < 100 || avg > 300 {
		t.Errorf("average record %d bytes", avg)
	}
}

// TestRecordShapes checks the variety a pipeline should be exercised with.
func TestRecordShapes(t *testing.T) {
	t.Parallel()
	g, err := New(Config{Events: 50_000, Tenants: 100, CloudEvents: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range decodeAll(t, g) {
		if r.err != nil {
			t.Fatalf("unexpected dead letter %v: %s", r.err, r.raw)
		}
		raw := string(r.raw)
		for _, shape := range []string{`"quantity":"`, `"quantity":1`, `.5"`, `"properties":`, `+02:00"`, `-05:00"`, `Z"`, `"specversion"`} {
			if strings.Contains(raw, shape) {
				seen[shape]++
			}
		}
		if r.Meter == "compute_seconds" && !regexpCompute(raw) {
			t.Fatalf("compute_seconds without 3 decimals: %s", raw)
		}
		if strings.HasPrefix(r.Meter, "tokens") && r.Model == "" {
			t.Fatalf("token event without a model: %s", raw)
		}
		if q := r.Quantity; q <= 0 || q > 200_000*schemas.MicrosPerUnit {
			t.Fatalf("quantity %v out of range: %s", q, raw)
		}
	}
	for _, shape := range []string{`"quantity":"`, `"quantity":1`, `.5"`, `"properties":`, `+02:00"`, `-05:00"`, `Z"`, `"specversion"`} {
		if seen[shape] == 0 {
			t.Errorf("no record contains %s", shape)
		}
	}
}

// regexpCompute reports whether a compute_seconds quantity has exactly three
// fractional digits.
func regexpCompute(raw string) bool {
	i := strings.Index(raw, `"quantity":`)
	q := strings.Trim(raw[i+len(`"quantity":`):], `"`)
	q = q[:strings.IndexAny(q, `",}`)]
	dot := strings.IndexByte(q, '.')
	return dot > 0 && len(q)-dot-1 == 3
}

func TestMalformedOnly(t *testing.T) {
	t.Parallel()
	g, err := New(Config{Events: 7000, Tenants: 50, Malformed: 1})
	if err != nil {
		t.Fatal(err)
	}
	recs := decodeAll(t, g)
	got := classify(t, recs, g.TenantIDs(), DefaultMeters)
	if got.Counted != 0 {
		t.Errorf("%d records counted, want none", got.Counted)
	}
	if diff := cmp.Diff(g.Stats().Malformed, got.Malformed); diff != "" {
		t.Errorf("reasons differ (-stats +decoded):\n%s", diff)
	}
	for _, r := range MalformedReasons {
		if got.Malformed[r] < 700 {
			t.Errorf("only %d records with reason %s", got.Malformed[r], r)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"negative events", Config{Events: -1}, []string{"events -1"}},
		{"fractions", Config{Duplicates: 0.6, Late: 0.5, Malformed: -0.1, CloudEvents: 2},
			[]string{"malformed fraction", "cloudevents fraction", "must be ≤ 1"}},
		{"rate", Config{Rate: -3}, []string{"rate -3"}},
		{"skew", Config{Skew: -1}, []string{"skew -1"}},
		{"late max", Config{LateMax: time.Minute}, []string{"late max 1m0s"}},
		{"tenant ids", Config{TenantIDs: []string{"ok", "not ok", "ok"}}, []string{`"not ok"`, `"ok": given twice`}},
		{"runaway", Config{Tenants: 5, Runaway: []string{"t-000009"}}, []string{`runaway tenant "t-000009"`}},
		{"meters", Config{Meters: []string{"a", "a", ""}, MeterModels: map[string][]string{"b": {"x"}}},
			[]string{`meter "a": given twice`, "must not be empty", `meter "b" is not in Meters`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.cfg)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestTenantIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"synthesised", Config{Tenants: 3}, []string{"t-000001", "t-000002", "t-000003"}},
		{"given only", Config{TenantIDs: []string{"acme", "globex"}}, []string{"acme", "globex"}},
		{"filled up", Config{Tenants: 4, TenantIDs: []string{"t-000002", "acme"}}, []string{"t-000002", "acme", "t-000001", "t-000003"}},
		{"cut", Config{Tenants: 1, TenantIDs: []string{"acme", "globex"}}, []string{"acme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, g.TenantIDs()); diff != "" {
				t.Errorf("tenants (-want +got):\n%s", diff)
			}
		})
	}
	g, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.TenantIDs()); n != 10_000 {
		t.Errorf("default tenants: %d", n)
	}
}

func TestMeterModels(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Events: 5000, Tenants: 20,
		Models:      []string{"gpt-large", "*"},
		MeterModels: map[string][]string{"api_calls": {"*"}, "compute_seconds": {"gpu-a", ""}},
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string][]string{
		"tokens_in": {"gpt-large"}, "tokens_out": {"gpt-large"},
		"api_calls": {""}, "compute_seconds": {"gpu-a", ""},
	}
	seen := map[[2]string]bool{}
	for _, r := range decodeAll(t, g) {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !slices.Contains(allowed[r.Meter], r.Model) {
			t.Fatalf("meter %s with model %q: %s", r.Meter, r.Model, r.raw)
		}
		seen[[2]string{r.Meter, r.Model}] = true
	}
	if len(seen) != 5 {
		t.Errorf("saw pairs %v", seen)
	}
}

// TestRunaway checks that runaway tenants send 10× as many events per second
// of event time from the middle on, and that the others keep their rate.
func TestRunaway(t *testing.T) {
	t.Parallel()
	const n = 200_000
	runaway := []string{"t-000007", "t-000042"}
	g, err := New(Config{Events: n, Tenants: 100, Rate: 1000, Runaway: runaway})
	if err != nil {
		t.Fatal(err)
	}
	recs := decodeAll(t, g)
	mid := recs[n/2].Time
	var before, after [3]float64 // runaway[0], runaway[1], others
	for _, r := range recs {
		i := slices.Index(runaway, r.Tenant)
		if i < 0 {
			i = 2
		}
		if r.Time.Before(mid) {
			before[i]++
		} else {
			after[i]++
		}
	}
	d1, d2 := mid.Sub(recs[0].Time).Seconds(), recs[n-1].Time.Sub(mid).Seconds()
	for i := range before {
		ratio := (after[i] / d2) / (before[i] / d1)
		want := 10.0
		if i == 2 {
			want = 1
		}
		if math.Abs(ratio-want)/want > 0.2 {
			t.Errorf("group %d: rate ratio %.2f, want %v (before %v, after %v)", i, ratio, want, before[i], after[i])
		}
	}
}

// TestZipf checks that a few tenants dominate and most are small.
func TestZipf(t *testing.T) {
	t.Parallel()
	g, err := New(Config{Events: 100_000, Tenants: 1000})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range decodeAll(t, g) {
		counts[r.Tenant]++
	}
	var c []int
	for _, v := range counts {
		c = append(c, v)
	}
	slices.Sort(c)
	slices.Reverse(c)
	top10 := 0
	for _, v := range c[:10] {
		top10 += v
	}
	if top10 < 30_000 || c[0] < 10_000 {
		t.Errorf("top tenant %d events, top 10 %d of 100000: not skewed enough", c[0], top10)
	}
	if len(counts) < 700 {
		t.Errorf("only %d of 1000 tenants sent anything", len(counts))
	}
}

func TestAppendTime(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	hi := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := range 50_000 {
		ms := lo + rng.Int64N(hi-lo)
		if i < 4 {
			ms = []int64{0, -1, 951_782_400_000, 4_107_542_399_999}[i] // epoch, 2000-02-29, 2100-02-28
		}
		for _, off := range zoneOffsets {
			tm := time.UnixMilli(ms).In(time.FixedZone("", off*60))
			want := tm.Format("2006-01-02T15:04:05.000Z07:00")
			if got := string(appendTime(nil, ms, off)); got != want {
				t.Fatalf("appendTime(%d, %d) = %s, want %s", ms, off, got, want)
			}
		}
	}
}

func TestAppendMicros(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q      schemas.Micros
		digits int
		want   string
	}{
		{0, 0, "0"}, {0, qMinimal, "0"}, {1_500_000, qMinimal, "1.5"}, {1_234_500_000, qMinimal, "1234.5"},
		{12_300_000, 3, "12.300"}, {1000, 3, "0.001"}, {7, 6, "0.000007"}, {7, qMinimal, "0.000007"},
		{42_000_000, 0, "42"}, {100_010_000, 2, "100.01"},
	} {
		if got := string(appendMicros(nil, tc.q, tc.digits)); got != tc.want {
			t.Errorf("appendMicros(%d, %d) = %s, want %s", tc.q, tc.digits, got, tc.want)
		}
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	g, err := New(Config{Events: 1 << 40, Tenants: 1000, Duplicates: 0.02, Conflicts: 0.01,
		OutOfOrder: 0.05, Late: 0.01, Malformed: 0.02, CloudEvents: 0.1, Runaway: []string{"t-000001"}})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	if a := testing.AllocsPerRun(10_000, func() { buf, _ = g.Next(buf[:0]) }); a != 0 {
		t.Errorf("Next allocates %v times per record", a)
	}
}

func BenchmarkNext(b *testing.B) {
	g, err := New(Config{Events: math.MaxInt64, Duplicates: 0.02, Conflicts: 0.005,
		OutOfOrder: 0.05, Late: 0.005, Malformed: 0.01, CloudEvents: 0.1})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = g.Next(buf[:0])
		bytes += int64(len(buf))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.SetBytes(bytes / int64(b.N))
}

package kafka

// Integration tests against the real Kafka of deploy/kafka.sh (address in
// KAFKA_BROKERS), with kcat as an independent, non-Go client. Each test uses
// its own randomly suffixed topics, so they run in parallel.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/schemas"
	"github.com/creditflow/creditflow/sinks/files"
)

// kcatPath returns kcat's path, or "" (after failing in CI) when it is not
// installed.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not installed: CI must apt-get install kcat (.ci/services.sh does)")
		}
		t.Log("kcat is not installed: not running this integration test")
		return ""
	}
	return p
}

// kcat runs kcat with args against cfg's brokers, stdin as its input, and
// returns its standard output.
func kcat(t *testing.T, path string, cfg Config, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-b", strings.Join(cfg.Brokers, ",")}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// kcatMessage is one line of kcat -J.
type kcatMessage struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Headers   []string `json:"headers"` // key, value, key, value, …
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
}

func (m kcatMessage) header(k string) string {
	for i := 0; i+1 < len(m.Headers); i += 2 {
		if m.Headers[i] == k {
			return m.Headers[i+1]
		}
	}
	return ""
}

// kcatConsume reads all of topic with kcat -J.
func kcatConsume(t *testing.T, path string, cfg Config, topic string) []kcatMessage {
	t.Helper()
	out := kcat(t, path, cfg, "", "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J")
	var ms []kcatMessage
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m kcatMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat -J line %q: %v", sc.Text(), err)
		}
		ms = append(ms, m)
	}
	return ms
}

func TestIntegrationEnsureTopicsAndEntitlements(t *testing.T) {
	t.Parallel()
	cfg := realConfig(t)
	if cfg == nil {
		return
	}
	ctx := testCtx(t, 90*time.Second)
	adm := kadm.NewClient(client(t, *cfg))
	if err := EnsureTopics(ctx, adm, *cfg); err != nil { // idempotent
		t.Fatalf("second EnsureTopics: %v", err)
	}
	if policy := cleanupPolicy(t, adm, cfg.Topics.Entitlements); policy != "compact" {
		t.Errorf("entitlements cleanup.policy = %q, want compact", policy)
	}
	if policy := cleanupPolicy(t, adm, cfg.Topics.Alerts); policy != "delete" {
		t.Errorf("alerts cleanup.policy = %q, want the broker default delete", policy)
	}
	tds, err := adm.ListTopics(ctx, cfg.Topics.All()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cfg.Topics.All() {
		if td, ok := tds[name]; !ok || td.Err != nil || len(td.Partitions) != 3 {
			t.Errorf("topic %s: exists %t, %d partitions, err %v", name, ok, len(td.Partitions), td.Err)
		}
	}

	// Several changes per tenant, over two calls; the last one wins.
	p := newProducer(t, *cfg)
	states := []schemas.Entitlement{schemas.EntitlementActive, schemas.EntitlementOverage, schemas.EntitlementCapped, schemas.EntitlementBlocked}
	tenants := []string{"acme", "globex", "initech", "umbrella", "hooli"}
	want := map[string]schemas.EntitlementChange{}
	for round := range 2 {
		var es []schemas.EntitlementChange
		for step := range 3 {
			for i, tn := range tenants {
				e := schemas.EntitlementChange{Tenant: tn, State: states[(round*3+step+i)%4], PeriodStart: t0, PeriodEnd: t1,
					Time: t0.Add(time.Duration(round*100+step*10+i) * time.Minute)}
				es = append(es, e)
				want[tn] = e
			}
		}
		if err := p.Entitlements(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadEntitlements(ctx, *cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadEntitlements (-want +got):\n%s", diff)
	}
}

// TestIntegrationKcatReadsAlertsAndDeadLetters reads what we produced with
// kcat and compares keys, values and headers.
func TestIntegrationKcatReadsAlertsAndDeadLetters(t *testing.T) {
	t.Parallel()
	kc := kcatPath(t)
	if kc == "" {
		return
	}
	cfg := realConfig(t)
	if cfg == nil {
		return
	}
	ctx := testCtx(t, 60*time.Second)
	p := newProducer(t, *cfg)
	as := testAlerts()
	if err := p.Alerts(ctx, as); err != nil {
		t.Fatal(err)
	}
	ds := []schemas.DeadLetter{
		{Reason: schemas.ReasonUnknownMeter, Detail: `meter "gpu" is not in the catalog`, Record: []byte(`{"id":"e1","tenant":"acme","meter":"gpu"}`),
			Key: []byte("acme"), Topic: cfg.Topics.Events, Partition: 1, Offset: 99},
		{Reason: schemas.ReasonMalformedJSON, Detail: "unexpected end", Record: []byte("{\"id\":\"e2\",\n\t"), Topic: cfg.Topics.Events, Offset: 3},
	}
	if err := p.DeadLetters(ctx, ds); err != nil {
		t.Fatal(err)
	}

	alerts := kcatConsume(t, kc, *cfg, cfg.Topics.Alerts)
	if len(alerts) != len(as) {
		t.Fatalf("kcat read %d alerts, want %d", len(alerts), len(as))
	}
	byID := map[string]schemas.Alert{}
	for _, a := range as {
		byID[a.ID] = a
	}
	for _, m := range alerts {
		a, ok := byID[m.header(HeaderID)]
		if !ok {
			t.Fatalf("kcat: alert without a known id header: %+v", m)
		}
		if m.Key == nil || *m.Key != a.Tenant {
			t.Errorf("alert %s: key %v, want %q", a.ID, m.Key, a.Tenant)
		}
		want := strings.TrimSuffix(string(files.AppendAlertJSON(nil, a)), "\n")
		if m.Payload == nil || *m.Payload != want {
			t.Errorf("alert %s payload\n got %v\nwant %s", a.ID, m.Payload, want)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(*m.Payload), &v); err != nil || v["id"] != a.ID || v["tenant"] != a.Tenant || v["type"] != string(a.Type) {
			t.Errorf("alert %s payload does not parse to its fields: %v %v", a.ID, v, err)
		}
	}

	dls := kcatConsume(t, kc, *cfg, cfg.Topics.DeadLetter)
	if len(dls) != len(ds) {
		t.Fatalf("kcat read %d dead letters, want %d", len(dls), len(ds))
	}
	for _, m := range dls {
		var v struct {
			Reason, Record, Detail, Topic string
			Partition                     int32
			Offset                        int64
		}
		if m.Payload == nil || json.Unmarshal([]byte(*m.Payload), &v) != nil {
			t.Fatalf("dead letter payload %v is not JSON", m.Payload)
		}
		var d schemas.DeadLetter
		for _, c := range ds {
			if c.Offset == v.Offset {
				d = c
			}
		}
		if v.Record != string(d.Record) || v.Reason != string(d.Reason) || v.Detail != d.Detail || v.Topic != d.Topic || v.Partition != d.Partition {
			t.Errorf("dead letter %+v, want %+v", v, d)
		}
		if (d.Key == nil) != (m.Key == nil) || d.Key != nil && *m.Key != string(d.Key) {
			t.Errorf("dead letter key %v, want %q", m.Key, d.Key)
		}
		if m.header(HeaderReason) != string(d.Reason) || m.header(HeaderSourceTopic) != d.Topic ||
			m.header(HeaderSourcePartition) != itoa(int64(d.Partition)) || m.header(HeaderSourceOffset) != itoa(d.Offset) {
			t.Errorf("dead letter headers %v", m.Headers)
		}
	}
}

// TestIntegrationKcatProducesGrant has kcat produce grants, reads them back
// with franz-go and decodes them with schemas.DecodeGrant: a foreign
// client's bytes are accepted.
func TestIntegrationKcatProducesGrant(t *testing.T) {
	t.Parallel()
	kc := kcatPath(t)
	if kc == "" {
		return
	}
	cfg := realConfig(t)
	if cfg == nil {
		return
	}
	in := `acme|{"id":"g-kcat-1","tenant":"acme","credits":"1500.5","price":"12.50","kind":"bundle","time":"2026-03-04T10:00:00Z","expires_after_periods":2}
globex|{"tenant":"globex","id":"g-kcat-2","credits":250,"price":0,"kind":"promo","time":"2026-03-05T00:00:00.123+02:00"}
`
	kcat(t, kc, *cfg, in, "-P", "-t", cfg.Topics.Grants, "-K", "|", "-H", "source=kcat")
	want := map[string]schemas.Grant{
		"g-kcat-1": {ID: "g-kcat-1", Tenant: "acme", Credits: 1500_500000, Price: schemas.MustDecimal("12.50"), Kind: schemas.GrantBundle,
			Time: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC), ExpiresAfterPeriods: 2},
		"g-kcat-2": {ID: "g-kcat-2", Tenant: "globex", Credits: 250 * schemas.MicrosPerUnit, Price: schemas.MustDecimal("0"), Kind: schemas.GrantPromo,
			Time: time.Date(2026, 3, 4, 22, 0, 0, 123e6, time.UTC)},
	}
	got := map[string]schemas.Grant{}
	for _, r := range consumeAll(t, *cfg, cfg.Topics.Grants, 2) {
		g, err := schemas.DecodeGrant(r.Value)
		if err != nil {
			t.Fatalf("DecodeGrant(%s): %v", r.Value, err)
		}
		if string(r.Key) != g.Tenant {
			t.Errorf("grant %s key %q", g.ID, r.Key)
		}
		if src, _ := header(r, "source"); src != "kcat" {
			t.Errorf("grant %s: header source = %q", g.ID, src)
		}
		got[g.ID] = g
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("grants from kcat (-want +got):\n%s", diff)
	}
}

// TestIntegrationGrantsAndClosesWithKcatFormat produces grants and closes
// and reads them with kcat -f '%k %s\n'.
func TestIntegrationGrantsAndClosesWithKcatFormat(t *testing.T) {
	t.Parallel()
	kc := kcatPath(t)
	if kc == "" {
		return
	}
	cfg := realConfig(t)
	if cfg == nil {
		return
	}
	ctx := testCtx(t, 60*time.Second)
	p := newProducer(t, *cfg)
	gs := []schemas.Grant{{ID: "g-1", Tenant: "acme", Credits: 100 * schemas.MicrosPerUnit, Price: schemas.MustDecimal("9.99"), Kind: schemas.GrantTopup, Time: t0}}
	if err := p.Grants(ctx, gs); err != nil {
		t.Fatal(err)
	}
	cs, ls := testCloses()
	if err := p.Closes(ctx, cs, ls); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(kcat(t, kc, *cfg, "", "-C", "-t", cfg.Topics.Grants, "-o", "beginning", "-e", "-q", "-f", "%k %s\n")), "\n")
	if len(lines) != 1 {
		t.Fatalf("kcat grants: %q", lines)
	}
	key, val, _ := strings.Cut(lines[0], " ")
	g, err := schemas.DecodeGrant([]byte(val))
	if err != nil || key != "acme" || !cmp.Equal(g, gs[0]) {
		t.Errorf("kcat grant %q %q: %+v, %v", key, val, g, err)
	}
	lines = strings.Split(strings.TrimSpace(kcat(t, kc, *cfg, "", "-C", "-t", cfg.Topics.Closes, "-o", "beginning", "-e", "-q", "-f", "%k %s\n")), "\n")
	sort.Strings(lines)
	if len(lines) != 2 {
		t.Fatalf("kcat closes: %q", lines)
	}
	for i, tenant := range []string{"acme", "globex"} {
		key, val, _ := strings.Cut(lines[i], " ")
		var v closeValue
		if err := json.Unmarshal([]byte(val), &v); err != nil || key != tenant || v.Tenant != tenant || v.Currency != "USD" {
			t.Errorf("kcat close %q: %+v, %v", lines[i], v, err)
		}
	}
}

func TestIntegrationReadAlertIDs(t *testing.T) {
	t.Parallel()
	cfg := realConfig(t)
	if cfg == nil {
		return
	}
	ctx := testCtx(t, 60*time.Second)
	p := newProducer(t, *cfg)
	before := time.Now().Add(-time.Second)
	as := testAlerts()
	if err := p.Alerts(ctx, as); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAlertIDs(ctx, *cfg, before)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"thr-1": true, "top-1": true, "run-1": true}, got); diff != "" {
		t.Errorf("ReadAlertIDs (-want +got):\n%s", diff)
	}
	later, err := ReadAlertIDs(ctx, *cfg, time.Now().Add(time.Minute))
	if err != nil || len(later) != 0 {
		t.Errorf("ReadAlertIDs since a minute ahead: %v, %v", later, err)
	}
}

// TestIntegrationAlertVisibleWithin1s measures the time from the start of
// Producer.Alerts to a separate consumer receiving the alert, the "alert
// readable on the topic within 1 s" target, and fails when the median of
// 20 alerts exceeds it.
func TestIntegrationAlertVisibleWithin1s(t *testing.T) {
	t.Parallel()
	cfg := realConfig(t)
	if cfg == nil {
		return
	}
	ctx := testCtx(t, 90*time.Second)
	p := newProducer(t, *cfg)
	// Warm up: the producer's first request loads metadata and a producer id.
	if err := p.Alerts(ctx, testAlerts()[:1]); err != nil {
		t.Fatal(err)
	}
	cl := client(t, *cfg, kgo.ConsumeTopics(cfg.Topics.Alerts), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(100*time.Millisecond))
	// Wait until the consumer has its end offsets before producing.
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	cl.PollFetches(pctx)
	cancel()

	const n = 20
	var lat []time.Duration
	for i := range n {
		a := testAlerts()[0]
		a.ID = "lat-" + itoa(int64(i))
		start := time.Now()
		if err := p.Alerts(ctx, []schemas.Alert{a}); err != nil {
			t.Fatal(err)
		}
		seen := false
		for !seen {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("alert %s never arrived: %v", a.ID, err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if id, _ := header(r, HeaderID); id == a.ID {
					seen = true
				}
			})
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, max := lat[n/2], lat[n-1]
	t.Logf("produce→consume visibility of one alert over %d alerts: p50 %v, max %v", n, p50, max)
	if p50 > time.Second {
		t.Errorf("median visibility %v exceeds 1 s", p50)
	}
}

package kafka

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/schemas"
	"github.com/creditflow/creditflow/sinks/files"
)

var (
	t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	t1 = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
)

func testAlerts() []schemas.Alert {
	return []schemas.Alert{
		{ID: "thr-1", Type: schemas.AlertThreshold, Tenant: "acme", PeriodStart: t0, Time: t0.Add(time.Hour),
			Threshold: schemas.MustDecimal("80"), Consumed: 800 * schemas.MicrosPerUnit, Available: 1000 * schemas.MicrosPerUnit,
			ProjectedExhaustion: t0.Add(48 * time.Hour), Entitlement: schemas.EntitlementActive},
		{ID: "top-1", Type: schemas.AlertTopup, Tenant: "globex", PeriodStart: t0, Time: t0.Add(2 * time.Hour),
			GrantID: "g-1", Credits: 500 * schemas.MicrosPerUnit, Price: schemas.MustDecimal("49.00")},
		{ID: "run-1", Type: schemas.AlertRunaway, Tenant: "acme", PeriodStart: t0, Time: t0.Add(3 * time.Hour),
			RatePerMinute: 100 * schemas.MicrosPerUnit, BaselinePerMinute: 10 * schemas.MicrosPerUnit,
			Drivers: []schemas.Driver{{Meter: "tokens", Model: "gpt \"x\"", Credits: 90 * schemas.MicrosPerUnit}}},
	}
}

func newProducer(t *testing.T, cfg Config) *Producer {
	t.Helper()
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestAlerts(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	p := newProducer(t, cfg)
	as := testAlerts()
	if err := p.Alerts(testCtx(t, 10*time.Second), as); err != nil {
		t.Fatal(err)
	}
	if err := p.Alerts(testCtx(t, time.Second), nil); err != nil {
		t.Fatalf("no alerts: %v", err)
	}
	byID := map[string]schemas.Alert{}
	for _, a := range as {
		byID[a.ID] = a
	}
	for _, r := range consumeAll(t, cfg, cfg.Topics.Alerts, len(as)) {
		id, ok := header(r, HeaderID)
		a, known := byID[id]
		if !ok || !known {
			t.Fatalf("record without a known id header: %v", r.Headers)
		}
		if string(r.Key) != a.Tenant {
			t.Errorf("alert %s key = %q, want %q", id, r.Key, a.Tenant)
		}
		want := strings.TrimSuffix(string(files.AppendAlertJSON(nil, a)), "\n")
		if string(r.Value) != want {
			t.Errorf("alert %s value\n got %s\nwant %s", id, r.Value, want)
		}
		if !json.Valid(r.Value) {
			t.Errorf("alert %s value is not JSON: %s", id, r.Value)
		}
		delete(byID, id)
	}
}

func TestEntitlementsRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	p := newProducer(t, cfg)
	es := []schemas.EntitlementChange{
		{Tenant: "acme", State: schemas.EntitlementActive, PeriodStart: t0, PeriodEnd: t1, Time: t0.Add(time.Minute)},
		{Tenant: "acme", State: schemas.EntitlementOverage, PeriodStart: t0, PeriodEnd: t1, Time: t0.Add(2 * time.Minute)},
		{Tenant: "globex", State: schemas.EntitlementBlocked, PeriodStart: t0, PeriodEnd: t1, Time: t0.Add(3*time.Minute + 5*time.Millisecond)},
		{Tenant: "acme", State: schemas.EntitlementCapped, PeriodStart: t0, PeriodEnd: t1, Time: t0.Add(4 * time.Minute)},
	}
	ctx := testCtx(t, 20*time.Second)
	if err := p.Entitlements(ctx, es); err != nil {
		t.Fatal(err)
	}
	recs := consumeAll(t, cfg, cfg.Topics.Entitlements, len(es))
	var got []schemas.EntitlementChange
	for _, r := range recs {
		e, err := DecodeEntitlement(r.Value)
		if err != nil {
			t.Fatalf("decode %s: %v", r.Value, err)
		}
		if string(r.Key) != e.Tenant {
			t.Errorf("key %q, tenant %q", r.Key, e.Tenant)
		}
		got = append(got, e)
	}
	byTenantTime := func(a, b schemas.EntitlementChange) bool {
		return a.Tenant < b.Tenant || a.Tenant == b.Tenant && a.Time.Before(b.Time)
	}
	if diff := cmp.Diff(es, got, cmpSortEntitlements(byTenantTime)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}

	latest, err := ReadEntitlements(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]schemas.EntitlementChange{"acme": es[3], "globex": es[2]}
	if diff := cmp.Diff(want, latest); diff != "" {
		t.Errorf("ReadEntitlements (-want +got):\n%s", diff)
	}
}

// TestReadEntitlementsTombstonesAndBadRecords writes foreign records next to
// ours: a tombstone removes a tenant, an undecodable value is skipped and
// reported with ErrSkippedRecords while the other states are returned.
func TestReadEntitlementsTombstonesAndBadRecords(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	p := newProducer(t, cfg)
	ctx := testCtx(t, 20*time.Second)
	es := []schemas.EntitlementChange{
		{Tenant: "acme", State: schemas.EntitlementActive, PeriodStart: t0, PeriodEnd: t1, Time: t0},
		{Tenant: "gone", State: schemas.EntitlementBlocked, PeriodStart: t0, PeriodEnd: t1, Time: t0},
	}
	if err := p.Entitlements(ctx, es); err != nil {
		t.Fatal(err)
	}
	cl := client(t, cfg)
	topic := cfg.Topics.Entitlements
	res := cl.ProduceSync(ctx,
		&kgo.Record{Topic: topic, Key: []byte("gone")}, // tombstone
		&kgo.Record{Topic: topic, Key: []byte("broken"), Value: []byte(`{"tenant":"broken","state":"maybe"}`)},
		&kgo.Record{Topic: topic, Key: []byte("liar"), Value: appendEntitlement(nil, schemas.EntitlementChange{Tenant: "acme", State: schemas.EntitlementBlocked, PeriodStart: t0, PeriodEnd: t1, Time: t0})},
	)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEntitlements(ctx, cfg)
	if !errors.Is(err, ErrSkippedRecords) {
		t.Fatalf("err = %v, want ErrSkippedRecords", err)
	}
	if !strings.Contains(err.Error(), "2, the first") {
		t.Errorf("err %q should count 2 skipped records", err)
	}
	if diff := cmp.Diff(map[string]schemas.EntitlementChange{"acme": es[0]}, got); diff != "" {
		t.Errorf("ReadEntitlements (-want +got):\n%s", diff)
	}
}

func TestReadEntitlementsEmptyAndMissingTopic(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	got, err := ReadEntitlements(testCtx(t, 10*time.Second), cfg)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty topic: %v, %v", got, err)
	}
	cfg.Topics.Entitlements = "no.such.topic"
	if _, err := ReadEntitlements(testCtx(t, 10*time.Second), cfg); err == nil {
		t.Fatal("missing topic: nil error")
	}
}

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	p := newProducer(t, cfg)
	ds := []schemas.DeadLetter{
		{Reason: schemas.ReasonBadTime, Detail: `field "time": not RFC 3339`, Record: []byte(`{"id":"1","time":"yesterday"}`),
			Key: []byte("acme"), Topic: "usage.events", Partition: 2, Offset: 41},
		{Reason: schemas.ReasonMalformedJSON, Detail: "invalid byte", Record: []byte{'{', 0xff, '\n', '"'},
			Topic: "usage.events", Partition: 0, Offset: 7},
	}
	if err := p.DeadLetters(testCtx(t, 10*time.Second), ds); err != nil {
		t.Fatal(err)
	}
	type value struct {
		Reason       string `json:"reason"`
		Record       string `json:"record"`
		RecordBase64 string `json:"record_base64"`
		Detail       string `json:"detail"`
		Topic        string `json:"topic"`
		Partition    int32  `json:"partition"`
		Offset       int64  `json:"offset"`
	}
	for _, r := range consumeAll(t, cfg, cfg.Topics.DeadLetter, len(ds)) {
		var v value
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("value %s: %v", r.Value, err)
		}
		var d schemas.DeadLetter
		switch v.Offset {
		case 41:
			d = ds[0]
			if v.Record != string(d.Record) || v.RecordBase64 != "" {
				t.Errorf("record = %q (base64 %q), want %q verbatim", v.Record, v.RecordBase64, d.Record)
			}
		case 7:
			d = ds[1]
			raw, err := base64.StdEncoding.DecodeString(v.RecordBase64)
			if err != nil || string(raw) != string(d.Record) {
				t.Errorf("record_base64 = %q, want the exact bytes %q", v.RecordBase64, d.Record)
			}
		default:
			t.Fatalf("unexpected dead letter %s", r.Value)
		}
		if d.Key == nil && r.Key != nil || string(r.Key) != string(d.Key) {
			t.Errorf("key = %q, want %q", r.Key, d.Key)
		}
		if v.Reason != string(d.Reason) || v.Detail != d.Detail || v.Topic != d.Topic || v.Partition != d.Partition {
			t.Errorf("value %+v does not match %+v", v, d)
		}
		wantPrefix := strings.TrimSuffix(strings.TrimSuffix(string(files.AppendDeadLetter(nil, d.Reason, d.Record)), "\n"), "}")
		if !strings.HasPrefix(string(r.Value), wantPrefix) {
			t.Errorf("value %s does not start with the deadletter.jsonl object %s", r.Value, wantPrefix)
		}
		for k, want := range map[string]string{
			HeaderReason: string(d.Reason), HeaderSourceTopic: d.Topic,
			HeaderSourcePartition: itoa(int64(d.Partition)), HeaderSourceOffset: itoa(d.Offset),
		} {
			if got, _ := header(r, k); got != want {
				t.Errorf("header %s = %q, want %q", k, got, want)
			}
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func cmpSortEntitlements(less func(a, b schemas.EntitlementChange) bool) cmp.Option {
	return cmpopts.SortSlices(less)
}

func cmpSortGrants() cmp.Option {
	return cmpopts.SortSlices(func(a, b schemas.Grant) bool { return a.ID < b.ID })
}

func TestGrants(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	p := newProducer(t, cfg)
	gs := []schemas.Grant{
		{ID: "g-1", Tenant: "acme", Credits: 1500 * schemas.MicrosPerUnit, Price: schemas.MustDecimal("12.50"), Kind: schemas.GrantTopup, Time: t0},
		{ID: "g-2", Tenant: "globex", Credits: 1, Price: schemas.MustDecimal("0"), Kind: schemas.GrantPromo, Time: t0.Add(time.Nanosecond), ExpiresAfterPeriods: 3},
	}
	if err := p.Grants(testCtx(t, 10*time.Second), gs); err != nil {
		t.Fatal(err)
	}
	var got []schemas.Grant
	for _, r := range consumeAll(t, cfg, cfg.Topics.Grants, len(gs)) {
		g, err := schemas.DecodeGrant(r.Value)
		if err != nil {
			t.Fatalf("DecodeGrant(%s): %v", r.Value, err)
		}
		if id, _ := header(r, HeaderID); id != g.ID || string(r.Key) != g.Tenant {
			t.Errorf("grant %s: key %q, id header %q", g.ID, r.Key, id)
		}
		got = append(got, g)
	}
	if diff := cmp.Diff(gs, got, cmpSortGrants()); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
}

func testCloses() ([]schemas.PeriodClose, []schemas.LineItem) {
	m := func(n int64) schemas.Micros { return schemas.Micros(n * schemas.MicrosPerUnit) }
	cs := []schemas.PeriodClose{
		{Tenant: "acme", PeriodStart: t0, PeriodEnd: t1, Plan: "pro", Included: m(1000), Available: m(1000), Consumed: m(1200),
			Overage: m(200), BillableOverage: m(200), OverageAmount: schemas.MustDecimal("20.00"),
			RecognizedRevenue: schemas.MustDecimal("119.00"), DeferredRevenueEnd: schemas.MustDecimal("0.00"), Currency: "USD"},
		{Tenant: "globex", PeriodStart: t0, PeriodEnd: t1, Plan: "free", Currency: "USD",
			OverageAmount: schemas.MustDecimal("0.00"), RecognizedRevenue: schemas.MustDecimal("0.00"), DeferredRevenueEnd: schemas.MustDecimal("0.00")},
	}
	ls := []schemas.LineItem{
		{Tenant: "acme", PeriodStart: t0, PeriodEnd: t1, Kind: schemas.LineSubscriptionFee, Description: "Subscription fee (plan pro)",
			Quantity: m(1), UnitPrice: schemas.MustDecimal("99.00"), Amount: schemas.MustDecimal("99.00"), Currency: "USD"},
		{Tenant: "acme", PeriodStart: t0, PeriodEnd: t1, Kind: schemas.LineOverage, Description: "Overage",
			Quantity: m(200), UnitPrice: schemas.MustDecimal("0.1"), Amount: schemas.MustDecimal("20.00"), Currency: "USD"},
		{Tenant: "globex", PeriodStart: t0, PeriodEnd: t1, Kind: schemas.LineCreditPurchase, Description: "Credit purchase g-1 (bundle)",
			Quantity: m(50), UnitPrice: schemas.MustDecimal("0.2"), Amount: schemas.MustDecimal("10.00"), Currency: "USD", ChargedAtPurchase: true},
	}
	return cs, ls
}

// closeValue is the decoding form of a close record in tests.
type closeValue struct {
	Tenant             string `json:"tenant"`
	PeriodStart        string `json:"period_start"`
	PeriodEnd          string `json:"period_end"`
	Plan               string `json:"plan"`
	RolloverIn         string `json:"rollover_in"`
	Included           string `json:"included"`
	GrantCredits       string `json:"grant_credits_available"`
	Available          string `json:"available"`
	Consumed           string `json:"consumed"`
	Overage            string `json:"overage"`
	BillableOverage    string `json:"billable_overage"`
	UncollectedOverage string `json:"uncollected_overage"`
	OverageAmount      string `json:"overage_amount"`
	RolloverOut        string `json:"rollover_out"`
	ExpiredCredits     string `json:"expired_credits"`
	RecognizedRevenue  string `json:"recognized_revenue"`
	DeferredRevenueEnd string `json:"deferred_revenue_end"`
	Currency           string `json:"currency"`
	LineItems          []struct {
		Kind              string `json:"kind"`
		Description       string `json:"description"`
		Quantity          string `json:"quantity"`
		UnitPrice         string `json:"unit_price"`
		Amount            string `json:"amount"`
		Currency          string `json:"currency"`
		ChargedAtPurchase bool   `json:"charged_at_purchase"`
	} `json:"line_items"`
}

func TestCloses(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	p := newProducer(t, cfg)
	cs, ls := testCloses()
	if err := p.Closes(testCtx(t, 10*time.Second), cs, ls); err != nil {
		t.Fatal(err)
	}
	got := map[string]closeValue{}
	for _, r := range consumeAll(t, cfg, cfg.Topics.Closes, len(cs)) {
		dec := json.NewDecoder(strings.NewReader(string(r.Value)))
		dec.DisallowUnknownFields()
		var v closeValue
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("close value %s: %v", r.Value, err)
		}
		if string(r.Key) != v.Tenant {
			t.Errorf("key %q, tenant %q", r.Key, v.Tenant)
		}
		if id, _ := header(r, HeaderID); id != v.Tenant+"/2026-03-01T00:00:00Z" {
			t.Errorf("id header %q", id)
		}
		got[v.Tenant] = v
	}
	acme := got["acme"]
	if acme.PeriodStart != "2026-03-01T00:00:00Z" || acme.PeriodEnd != "2026-04-01T00:00:00Z" || acme.Plan != "pro" ||
		acme.Consumed != "1200.000000" || acme.Overage != "200.000000" || acme.RolloverIn != "0.000000" ||
		acme.OverageAmount != "20.00" || acme.RecognizedRevenue != "119.00" || acme.Currency != "USD" {
		t.Errorf("acme close figures: %+v", acme)
	}
	if len(acme.LineItems) != 2 || acme.LineItems[0].Kind != "subscription_fee" || acme.LineItems[1].Quantity != "200.000000" ||
		acme.LineItems[1].UnitPrice != "0.1" || acme.LineItems[1].Amount != "20.00" {
		t.Errorf("acme line items: %+v", acme.LineItems)
	}
	globex := got["globex"]
	if len(globex.LineItems) != 1 || !globex.LineItems[0].ChargedAtPurchase || globex.LineItems[0].Kind != "credit_purchase" {
		t.Errorf("globex line items: %+v", globex.LineItems)
	}
}

func TestClosesRefusesOrphansAndDuplicates(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	p := newProducer(t, cfg)
	cs, ls := testCloses()
	orphan := ls[0]
	orphan.Tenant = "nobody"
	err := p.Closes(testCtx(t, 10*time.Second), append(cs, cs[1]), append(ls, orphan))
	if err == nil {
		t.Fatal("nil error")
	}
	for _, w := range []string{`line item subscription_fee of tenant "nobody"`, `close of tenant "globex" period 2026-03-01T00:00:00Z given twice`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	offs, err := kadm.NewClient(client(t, cfg)).ListEndOffsets(testCtx(t, 10*time.Second), cfg.Topics.Closes)
	if err != nil {
		t.Fatal(err)
	}
	offs.Each(func(o kadm.ListedOffset) {
		if o.Offset != 0 {
			t.Errorf("partition %d has %d records after a refused call", o.Partition, o.Offset)
		}
	})
}

// TestProduceFailsOnMissingTopic checks that a produce error is returned,
// names the topic and counts the failed records.
func TestProduceFailsOnMissingTopic(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	cfg.Topics.Alerts = "missing.alerts"
	p := newProducer(t, cfg)
	err := p.Alerts(testCtx(t, 60*time.Second), testAlerts())
	if err == nil {
		t.Fatal("nil error")
	}
	t.Logf("missing topic: %v", err)
	if !strings.Contains(err.Error(), "produce alerts to missing.alerts: 3 of 3 records failed") {
		t.Errorf("error %q", err)
	}
}

func TestReadAlertIDs(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t)
	cl := client(t, cfg)
	ctx := testCtx(t, 20*time.Second)
	old, recent := time.Now().Add(-time.Hour).Truncate(time.Millisecond), time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	topic := cfg.Topics.Alerts
	rec := func(id string, ts time.Time, withHeader bool) *kgo.Record {
		r := &kgo.Record{Topic: topic, Key: []byte("acme"), Timestamp: ts,
			Value: appendAlert(nil, schemas.Alert{ID: id, Type: schemas.AlertCapReached, Tenant: "acme"})}
		if withHeader {
			r.Headers = []kgo.RecordHeader{{Key: HeaderID, Value: []byte(id)}}
		}
		return r
	}
	res := cl.ProduceSync(ctx, rec("old-1", old, true), rec("new-1", recent, true), rec("old-2", old, true),
		rec("new-2", recent.Add(time.Second), false), rec("new-3", recent, true))
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadAlertIDs(ctx, cfg, recent)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"new-1": true, "new-2": true, "new-3": true}, got); diff != "" {
		t.Errorf("ReadAlertIDs (-want +got):\n%s", diff)
	}
	all, err := ReadAlertIDs(ctx, cfg, time.Time{})
	if err != nil || len(all) != 5 {
		t.Errorf("ReadAlertIDs since zero: %v, %v", all, err)
	}
	none, err := ReadAlertIDs(ctx, cfg, time.Now().Add(time.Hour))
	if err != nil || len(none) != 0 {
		t.Errorf("ReadAlertIDs since the future: %v, %v", none, err)
	}
}

func TestEnsureTopicsFake(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := Config{Brokers: c.ListenAddrs(), Topics: testTopics(t), Partitions: 4}
	adm := kadm.NewClient(client(t, cfg))
	ctx := testCtx(t, 20*time.Second)
	for range 2 { // idempotent
		if err := EnsureTopics(ctx, adm, cfg); err != nil {
			t.Fatal(err)
		}
	}
	d := cfg.WithDefaults()
	tds, err := adm.ListTopics(ctx, d.Topics.All()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range d.Topics.All() {
		td, ok := tds[name]
		if !ok || td.Err != nil || len(td.Partitions) != 4 {
			t.Errorf("topic %s: exists %t, err %v, %d partitions", name, ok, td.Err, len(td.Partitions))
		}
	}
	if policy := cleanupPolicy(t, adm, d.Topics.Entitlements); policy != "compact" {
		t.Errorf("entitlements cleanup.policy = %q, want compact", policy)
	}
	if policy := cleanupPolicy(t, adm, d.Topics.Alerts); policy == "compact" {
		t.Errorf("alerts topic is compacted")
	}

	// An existing entitlements topic that is not compacted is refused.
	bad := cfg
	bad.Topics.Entitlements = "plain.entitlements." + suffix(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, bad.Topics.Entitlements); err != nil {
		t.Fatal(err)
	}
	err = EnsureTopics(ctx, adm, bad)
	if err == nil || !strings.Contains(err.Error(), "must include compact") {
		t.Errorf("non-compacted entitlements topic: err = %v", err)
	}
}

func cleanupPolicy(t *testing.T, adm *kadm.Client, topic string) string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" {
			return c.MaybeValue()
		}
	}
	t.Fatalf("%s: no cleanup.policy", topic)
	return ""
}

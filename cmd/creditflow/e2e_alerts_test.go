package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestAlertsExactlyOnceUnderCrashes: 60 tenants each cross 50, 80 and 100 %
// of their allotment and then get blocked, in a burst, while `run` is killed
// at several points of its flushes and once by a plain kill -9. At the end
// every expected alert is on the alerts topic exactly once and in the
// ClickHouse alerts table exactly once.
func TestAlertsExactlyOnceUnderCrashes(t *testing.T) {
	t.Parallel()
	e, ok := newE2E(t, "alerts", 4*time.Minute)
	if !ok {
		return
	}
	const tenants = 60
	var cat strings.Builder
	cat.WriteString(`currency: USD
meters: [{name: credits, unit: credit}]
rates: [{meter: credits, credits_per_unit: "1", effective_from: "2026-01-01T00:00:00Z"}]
plans: [{id: small, fee: "10.00", included_credits: 1000, thresholds: [50, 80, 100], overage: {mode: block}}]
tenants:
`)
	for i := 0; i < tenants; i++ {
		fmt.Fprintf(&cat, "  - {id: a%02d, plan: small, start: \"2026-01-01T00:00:00Z\"}\n", i)
	}
	catPath := e.path("catalog.yaml")
	if err := os.WriteFile(catPath, []byte(cat.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// 12 events of 100 credits per tenant, interleaved: crossings at the
	// 5th (50 %), 8th (80 %) and 10th (100 %) event, blocked at the 11th.
	base := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	var lines [][]byte
	for k := 0; k < 12; k++ {
		for i := 0; i < tenants; i++ {
			at := base.Add(time.Duration(k*tenants+i) * 100 * time.Millisecond)
			lines = append(lines, []byte(fmt.Sprintf(`{"id":"a%02d-%d","tenant":"a%02d","meter":"credits","quantity":100,"time":%q}`, i, k, i, at.Format(time.RFC3339Nano))))
		}
	}
	want := map[string]bool{}
	period := time.Date(base.Year(), base.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	for i := 0; i < tenants; i++ {
		for _, th := range []string{"threshold/50/1", "threshold/80/1", "threshold/100/1", "cap_reached/blocked/1"} {
			want[fmt.Sprintf("a%02d/%s/%s", i, period, th)] = true
		}
	}

	topics := e.newTopics()
	e.createTopic(topics.Events, 3)
	e.produce(topics.Events, lines)
	ends := e.endOffsets(topics.Events)
	p := pipeline{topics: topics, db: e.newDB("a"), catalog: catPath}
	// Small batches, so that every run below has flushes left to crash in:
	// a batch that fills while the writer works is set aside and the next
	// write takes both, so a flush holds 10–20 records per partition.
	small := "CREDITFLOW_PIPELINE_FLUSH_RECORDS=10"

	p.group = e.newGroup("kill9")
	r := e.startRun("run0-kill9", p, small)
	if !r.waitLog("assigned:", 1, time.Minute) {
		t.Fatalf("%s was not assigned within a minute (%s)", r.name, r.state())
	}
	time.Sleep(300 * time.Millisecond)
	r.kill()
	r.wait(10 * time.Second)
	for i, crash := range []string{"after_write:2", "after_publish:2", "before_write:3", "record:200", "after_commit:2"} {
		p.group = e.newGroup(fmt.Sprint(i + 1))
		r := e.startRun(fmt.Sprintf("run%d-%s", i+1, strings.ReplaceAll(crash, ":", "-")), p, small, "CREDITFLOW_TEST_CRASH="+crash)
		r.wait(90 * time.Second)
		t.Logf("%s: %s; %d of %d offsets stored", r.name, r.state(), e.progress(p.db, topics.Events), len(lines))
	}
	p.group = e.newGroup("final")
	r = e.startRun("run-final", p, small)
	e.waitCaughtUp(p.db, topics.Events, ends, 2*time.Minute, r)
	time.Sleep(time.Second) // the alerts of the last flush
	stop(t, r)

	// On the topic, read by kcat: each expected id once, nothing else.
	onTopic := map[string]int{}
	for _, m := range e.kcatRead(topics.Alerts) {
		var a struct{ ID, Type string }
		if m.Payload == nil || json.Unmarshal([]byte(*m.Payload), &a) != nil {
			t.Fatalf("alerts topic holds a record that is not an alert: %+v", m)
		}
		onTopic[a.ID]++
	}
	// In the table, as analysts read it (FINAL collapses repeats).
	inTable := map[string]int{}
	rows, err := e.conn.Query(e.ctx, "SELECT id, count() FROM `"+p.db+"`.alerts FINAL GROUP BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		inTable[id] = int(n)
	}
	rows.Close()
	for name, got := range map[string]map[string]int{"topic": onTopic, "table": inTable} {
		var bad []string
		for id := range want {
			if got[id] != 1 {
				bad = append(bad, fmt.Sprintf("%s ×%d", id, got[id]))
			}
		}
		for id, n := range got {
			if !want[id] {
				bad = append(bad, fmt.Sprintf("unexpected %s ×%d", id, n))
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			t.Errorf("alerts %s: %d problems, first: %v", name, len(bad), bad[:min(len(bad), 10)])
		}
	}
	t.Logf("%d alerts expected; %d distinct on the topic, %d in the table", len(want), len(onTopic), len(inTable))
}

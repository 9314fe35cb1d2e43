package main

// End-to-end tests of the streaming pipeline (`creditflow run`) on the real
// Kafka and ClickHouse named by KAFKA_BROKERS and CLICKHOUSE_ADDR: exactly-
// once window totals under crashes, rebalances and full replays, and
// interoperability with kcat. Every test here is parallel; the one that
// restarts the services (e2e_zz_restart_test.go) is not, so Go runs it
// before releasing these. The helpers are in e2e_helpers_test.go.
//
// Run them with
//
//	source .ci/services.sh   # or: export KAFKA_BROKERS=… CLICKHOUSE_ADDR=…
//	go test -count=1 -run 'TestStream|TestKcat' -v ./cmd/creditflow
//
// Each test checks ClickHouse's window_totals against recompute, an
// independent recomputation from the input lines, with zero difference.

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/creditflow/creditflow/schemas"
)

// generate writes events with `creditflow gen` from start on, rate records
// per second of event time, with duplicates, malformed and late records,
// and a catalog that prices them.
func (e *e2e) generate(name string, start time.Time, events, tenants int, rate float64, seed int) (eventsPath, catalogPath string) {
	e.t.Helper()
	eventsPath, catalogPath = e.path(name+".jsonl"), e.path(name+".catalog.yaml")
	e.runTool(name, time.Minute, "gen",
		"--events", strconv.Itoa(events), "--tenants", strconv.Itoa(tenants),
		"--duplicates", "0.03", "--malformed", "0.002", "--late", "0.002",
		"--start", start.UTC().Truncate(time.Second).Format(time.RFC3339),
		"--rate", strconv.FormatFloat(rate, 'f', -1, 64), "--seed", strconv.Itoa(seed),
		"--catalog-out", catalogPath, "--out", eventsPath)
	return eventsPath, catalogPath
}

// logReference logs what the recomputation found.
func logReference(t *testing.T, name string, r refResult, records int) {
	t.Helper()
	t.Logf("%s: %d records: %d counted, %d duplicates, %d invalid; %d windows, %s",
		name, records, r.Counted, r.Duplicates, len(r.Invalid), len(r.Windows), sumTotals(r.Windows))
}

// stop interrupts p (a graceful stop) and fails unless it exits 0 in time.
func stop(t *testing.T, p *proc) {
	t.Helper()
	p.interrupt()
	if !p.wait(30 * time.Second) {
		t.Fatalf("%s did not stop within 30s of SIGINT", p.name)
	}
	if p.exitCode() != 0 {
		t.Errorf("%s: %s after SIGINT, want exit status 0", p.name, p.state())
	}
}

// stoppedRecords reads the records count of p's final "stopped" log line.
func stoppedRecords(t *testing.T, p *proc) (int64, bool) {
	t.Helper()
	for _, l := range strings.Split(p.log(), "\n") {
		var v struct {
			Message string `json:"message"`
			Records *int64 `json:"records"`
		}
		if json.Unmarshal([]byte(l), &v) == nil && v.Message == "stopped" && v.Records != nil {
			return *v.Records, true
		}
	}
	return 0, false
}

// resumePositions reads, from p's log, the offset each partition was
// resumed at from the Store ("assigned: state rebuilt").
func resumePositions(p *proc) map[int32]int64 {
	out := map[int32]int64{}
	for _, l := range strings.Split(p.log(), "\n") {
		var v struct {
			Message   string `json:"message"`
			Partition int32  `json:"partition"`
			ResumeAt  int64  `json:"resume_at"`
		}
		if json.Unmarshal([]byte(l), &v) == nil && v.Message == "assigned: state rebuilt" {
			out[v.Partition] = v.ResumeAt
		}
	}
	return out
}

// TestStreamExactlyOnceUnderCrashes kills `creditflow run` at every step of
// the flush protocol (pipeline/stream/doc.go), mid-batch and at a random
// moment, and stops it with SIGINT at random moments, restarting it each
// time, over a stream with duplicates, producer resends under new offsets,
// late and malformed records. The totals in ClickHouse must equal the
// recomputation and `creditflow replay` over the same records exactly.
//
// Each restart joins a fresh consumer group: a SIGKILLed member stays in its
// group until its session times out (45 s, not configurable in `run`), and
// its successor would wait that long for the partitions. The Store, not the
// group, holds the position, so a fresh group resumes at the same offsets.
func TestStreamExactlyOnceUnderCrashes(t *testing.T) {
	t.Parallel()
	e, ok := newE2E(t, "crash", 4*time.Minute)
	if !ok {
		return
	}
	now := time.Now().UTC()
	// 20 000 records, 10 a second of event time from an hour ago: all
	// within max_event_age and none in the future.
	evPath, catPath := e.generate("gen", now.Add(-time.Hour), 20000, 40, 10, 11)
	lines := readLines(t, evPath)
	all := append(slices.Clone(lines), pickResends(lines, 300, 11)...)
	allPath := e.path("all.jsonl")
	writeLines(t, allPath, all)
	want := recompute(t, catPath, all, now)
	logReference(t, "reference", want, len(all))

	topics := e.newTopics()
	e.createTopic(topics.Events, 4)
	e.produce(topics.Events, all)
	ends := e.endOffsets(topics.Events)
	p := pipeline{topics: topics, db: e.newDB("a"), catalog: catPath}
	total := int64(len(all))

	// Flushes of at most 1000 records (the default is 20 000), so that every
	// run below dies with most of the stream still ahead of it.
	small := "CREDITFLOW_PIPELINE_FLUSH_RECORDS=1000"

	// A plain kill -9 at a random moment while the first run consumes.
	p.group = e.newGroup("kill9")
	r := e.startRun("run0-kill9", p, small)
	if !r.waitLog("assigned:", 1, time.Minute) {
		t.Fatalf("%s was not assigned a partition within a minute (%s)", r.name, r.state())
	}
	// Early: the pipeline drains this stream in about a second, and the
	// crash runs below need most of it still ahead of them.
	time.Sleep(time.Duration(mrand.IntN(200)) * time.Millisecond)
	r.kill()
	r.wait(10 * time.Second)
	t.Logf("%s: killed with SIGKILL; %d of %d offsets stored", r.name, e.progress(p.db, topics.Events), total)

	// record:1500 first: it needs 1500 records left, the others only two flushes.
	for i, crash := range []string{"record:1500", "before_write:2", "after_write:2", "after_publish:2", "after_commit:2"} {
		p.group = e.newGroup(strconv.Itoa(i + 1))
		name := fmt.Sprintf("run%d-%s", i+1, strings.ReplaceAll(crash, ":", "-"))
		r := e.startRun(name, p, small, "CREDITFLOW_TEST_CRASH="+crash)
		var idle int
		for deadline := time.Now().Add(90 * time.Second); !r.wait(200 * time.Millisecond); {
			st, err := e.storedOffsets(p.db, topics.Events)
			if err == nil && caughtUp(st, ends) {
				idle++ // done, yet alive: give it a second to crash all the same
			}
			if idle > 5 || time.Now().After(deadline) {
				t.Fatalf("%s did not crash within 90s (stored offsets %v, end offsets %v)", name, st, ends)
			}
		}
		point, _, _ := strings.Cut(crash, ":")
		sig, killed := r.killedBy()
		if !killed || sig != syscall.SIGKILL || !strings.Contains(r.log(), "CREDITFLOW_TEST_CRASH: killing myself at "+point) {
			t.Errorf("%s: %s; want SIGKILL by its crash hook at %s", name, r.state(), point)
		}
		t.Logf("%s: crashed; %d of %d offsets stored", name, e.progress(p.db, topics.Events), total)
	}

	// Graceful stops (SIGINT) at random moments while consuming: the runner
	// flushes what it holds, commits and leaves; nothing may be lost.
	for i := range 3 {
		p.group = e.newGroup("stop" + strconv.Itoa(i))
		r := e.startRun(fmt.Sprintf("run%d-sigint", 6+i), p, small)
		if !r.waitLog("assigned:", 1, time.Minute) {
			t.Fatalf("%s was not assigned a partition within a minute (%s)", r.name, r.state())
		}
		time.Sleep(time.Duration(mrand.IntN(500)) * time.Millisecond)
		stop(t, r)
		t.Logf("%s: stopped with SIGINT; %d of %d offsets stored", r.name, e.progress(p.db, topics.Events), total)
	}

	p.group = e.newGroup("final")
	r = e.startRun("run9-final", p, small)
	if !r.waitLog("assigned:", 1, time.Minute) {
		t.Fatalf("%s was not assigned a partition within a minute (%s)", r.name, r.state())
	}
	e.waitCaughtUp(p.db, topics.Events, ends, 2*time.Minute, r)
	got := e.windowTotals(p.db)
	assertTotals(t, "ClickHouse window_totals vs recomputation", want.Windows, got)
	stop(t, r)

	rep := e.replayTotals("replay", catPath, allPath, now)
	assertTotals(t, "creditflow replay windows.csv vs ClickHouse window_totals", got, rep)
}

// TestStreamFullReplay asks for a full replay twice: once by resetting the
// group's Kafka offsets to 0 (the Store's positions must win, nothing is
// read or counted twice, new records still are), once into a new database
// with a new group (everything is recounted from offset 0, to the same
// totals).
func TestStreamFullReplay(t *testing.T) {
	t.Parallel()
	e, ok := newE2E(t, "replay", 4*time.Minute)
	if !ok {
		return
	}
	now := time.Now().UTC()
	evPath, catPath := e.generate("gen", now.Add(-30*time.Minute), 6000, 30, 10, 21)
	lines := readLines(t, evPath)
	phase1 := lines[:5000]
	phase2 := append(slices.Clone(lines[5000:]), pickResends(phase1, 200, 21)...)
	all := append(slices.Clone(phase1), phase2...)
	want1 := recompute(t, catPath, phase1, now)
	wantAll := recompute(t, catPath, all, now)
	logReference(t, "reference, first part", want1, len(phase1))
	logReference(t, "reference, everything", wantAll, len(all))

	topics := e.newTopics()
	e.createTopic(topics.Events, 4)
	e.produce(topics.Events, phase1)
	ends1 := e.endOffsets(topics.Events)
	p := pipeline{topics: topics, db: e.newDB("a"), group: e.newGroup("a"), catalog: catPath}
	r1 := e.startRun("run1", p)
	e.waitCaughtUp(p.db, topics.Events, ends1, time.Minute, r1)
	stop(t, r1)
	assertTotals(t, "first run vs recomputation", want1.Windows, e.windowTotals(p.db))

	// Rewind the (now empty) group to offset 0 on every partition.
	rewind := kadm.Offsets{}
	for part := range ends1 {
		rewind.AddOffset(topics.Events, part, 0, -1)
	}
	resp, err := e.adm.CommitOffsets(e.ctx, p.group, rewind)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("reset the offsets of group %s to 0: %v", p.group, err)
	}
	e.produce(topics.Events, phase2)
	ends2 := e.endOffsets(topics.Events)
	r2 := e.startRun("run2-rewound", p)
	e.waitCaughtUp(p.db, topics.Events, ends2, time.Minute, r2)
	assertTotals(t, "after rewinding the group to offset 0 vs recomputation", wantAll.Windows, e.windowTotals(p.db))
	stop(t, r2)
	for part, end := range ends1 {
		if at, ok := resumePositions(r2)[part]; end > 0 && (!ok || at != end) {
			t.Errorf("%s resumed partition %d at %d (logged: %v), want the stored position %d", r2.name, part, at, ok, end)
		}
	}
	if n, ok := stoppedRecords(t, r2); !ok || n != int64(len(phase2)) {
		t.Errorf("%s read %d records (logged: %v), want only the %d new ones", r2.name, n, ok, len(phase2))
	}

	p2 := pipeline{topics: topics, db: e.newDB("b"), group: e.newGroup("b"), catalog: catPath}
	r3 := e.startRun("run3-new-database", p2)
	e.waitCaughtUp(p2.db, topics.Events, ends2, time.Minute, r3)
	got2 := e.windowTotals(p2.db)
	assertTotals(t, "new database vs recomputation", wantAll.Windows, got2)
	assertTotals(t, "new database vs first database", e.windowTotals(p.db), got2)
	stop(t, r3)
}

// TestStreamRebalance runs the pipeline as a group of processes over a
// six-partition topic while records arrive: a second process joins, the
// first stops gracefully (its partitions are flushed before release), the
// second is killed with SIGKILL and a third takes over (after the dead
// member's session times out).
func TestStreamRebalance(t *testing.T) {
	t.Parallel()
	e, ok := newE2E(t, "rebalance", 5*time.Minute)
	if !ok {
		return
	}
	now := time.Now().UTC()
	evPath, catPath := e.generate("gen", now.Add(-40*time.Minute), 8000, 40, 10, 31)
	lines := readLines(t, evPath)
	want := recompute(t, catPath, lines, now)
	logReference(t, "reference", want, len(lines))

	topics := e.newTopics()
	e.createTopic(topics.Events, 6)
	p := pipeline{topics: topics, db: e.newDB("a"), group: e.newGroup("a"), catalog: catPath}
	a := e.startRun("a", p)
	if !a.waitLog("assigned:", 6, time.Minute) {
		t.Fatalf("a was not assigned the six partitions within a minute (%s)", a.state())
	}
	produced := e.produceInBackground(topics.Events, lines, 500) // about 16 s
	waitFor(t, "a to store some offsets", 30*time.Second, func() bool { return e.progress(p.db, topics.Events) > 0 })

	b := e.startRun("b", p)
	if !b.waitLog("assigned:", 1, time.Minute) {
		t.Fatalf("b joined no partition within a minute (%s)", b.state())
	}
	t.Logf("b joined; %d of %d records stored", e.progress(p.db, topics.Events), len(lines))
	time.Sleep(2 * time.Second)
	stop(t, a)
	if !b.waitLog("assigned:", 6, time.Minute) {
		t.Fatalf("b did not take over a's partitions within a minute of a's stop (%s)", b.state())
	}
	t.Logf("a stopped, b owns every partition; %d records stored", e.progress(p.db, topics.Events))
	time.Sleep(time.Second)
	b.kill()
	b.wait(10 * time.Second)
	t.Logf("b killed with SIGKILL; %d records stored", e.progress(p.db, topics.Events))

	c := e.startRun("c", p)
	select {
	case err := <-produced:
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("producing did not finish within 2 minutes")
	}
	ends := e.endOffsets(topics.Events)
	started := time.Now()
	e.waitCaughtUp(p.db, topics.Events, ends, 3*time.Minute, c)
	t.Logf("c caught up %v after the last record was produced", time.Since(started).Round(time.Second))
	assertTotals(t, "ClickHouse window_totals vs recomputation", want.Windows, e.windowTotals(p.db))
	stop(t, c)
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kcatCatalog prices the events of TestKcatInterop.
const kcatCatalog = "testdata/e2e/kcat/catalog.yaml"

// kcatMessage is one message of `kcat -C -J`.
type kcatMessage struct {
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Payload   *string `json:"payload"`
}

// kcatRead reads every message of topic with kcat, from the beginning.
func (e *e2e) kcatRead(topic string) []kcatMessage {
	e.t.Helper()
	cmd := exec.CommandContext(e.ctx, "kcat", "-b", strings.Join(e.brokers, ","), "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("kcat -C -t %s: %v\n%s", topic, err, stderr.String())
	}
	var msgs []kcatMessage
	for _, l := range bytes.Split(out, []byte{'\n'}) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m kcatMessage
		if err := json.Unmarshal(l, &m); err != nil {
			e.t.Fatalf("kcat -C -J -t %s printed %q: %v", topic, l, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// kcatLine is one input line of TestKcatInterop: the key, the record, and
// the dead-letter reason it must get ("" for a valid event).
type kcatLine struct {
	key, record string
	reason      schemas.Reason
}

// kcatEvents builds the input of TestKcatInterop, one event every 5 s from
// base: acme (1000 included credits, overage blocked) uses 1100 credits,
// globex (1000 included, overage billed) about 917, initech (1000
// included) under 1; two copies of earlier events; seven bad records.
func kcatEvents(base time.Time) []kcatLine {
	var out []kcatLine
	at := func() string { return base.Add(time.Duration(len(out)) * 5 * time.Second).Format(time.RFC3339) }
	native := func(id, tenant, meter, model, qty string) {
		m := ""
		if model != "" {
			m = `,"model":"` + model + `"`
		}
		out = append(out, kcatLine{key: tenant, record: `{"id":"` + id + `","tenant":"` + tenant + `","meter":"` + meter + `"` + m +
			`,"quantity":` + qty + `,"time":"` + at() + `"}`})
	}
	bad := func(key, record string, reason schemas.Reason) {
		out = append(out, kcatLine{key: key, record: strings.ReplaceAll(record, "$T", at()), reason: reason})
	}
	for i := range 15 {
		if i < 11 {
			native("acme-"+strconv.Itoa(i), "acme", "credits", "", "100")
		}
		if i < 5 {
			native("globex-"+strconv.Itoa(i), "globex", "credits", "", "150")
		}
		if i < 4 {
			native("globex-tok-"+strconv.Itoa(i), "globex", "tokens", "big", `"1234.5"`)
		}
		native("initech-"+strconv.Itoa(i), "initech", "tokens", "", `"12.345678"`)
		switch i {
		case 3:
			out = append(out, kcatLine{key: "globex", record: `{"specversion":"1.0","id":"globex-ce","source":"kcat","type":"credits","subject":"globex","time":"` +
				at() + `","data":{"quantity":"150","properties":{"via":"cloudevents"}}}`})
		case 5:
			out = append(out, out[2]) // an exact resend (globex-tok-0)
			native("globex-1", "globex", "credits", "", "999")
			native("initech-big", "initech", "tokens", "big", "2.5")
		case 7:
			bad("acme", "this is not json", schemas.ReasonMalformedJSON)
			bad("acme", `{"id":"bad-1","tenant":"acme","meter":"credits","time":"$T"}`, schemas.ReasonMissingField)
			bad("globex", `{"id":"bad-2","tenant":"globex","meter":"credits","quantity":-5,"time":"$T"}`, schemas.ReasonBadQuantity)
		case 9:
			bad("umbrella", `{"id":"bad-3","tenant":"umbrella","meter":"credits","quantity":1,"time":"$T"}`, schemas.ReasonUnknownTenant)
			bad("initech", `{"id":"bad-4","tenant":"initech","meter":"gpus","quantity":1,"time":"$T"}`, schemas.ReasonUnknownMeter)
			bad("initech", `{"id":"bad-5","tenant":"initech","meter":"tokens","quantity":"0.0000001","time":"$T"}`, schemas.ReasonBadQuantity)
			bad("initech", `{"id":"bad-6","tenant":"initech","meter":"tokens","quantity":1,"time":"yesterday"}`, schemas.ReasonBadTime)
		}
	}
	return out
}

// TestKcatInterop feeds the pipeline with kcat and reads its output topics
// back with kcat: threshold alerts, dead letters with their reasons, and
// the compacted entitlements topic.
func TestKcatInterop(t *testing.T) {
	t.Parallel()
	e, ok := newE2E(t, "kcat", 3*time.Minute)
	if !ok {
		return
	}
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatalf("kcat is not installed (apt-get install kcat; .ci/services.sh installs it): %v", err)
	}
	now := time.Now().UTC()
	base := now.Add(-10 * time.Minute).Truncate(time.Second)
	if month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC); base.Before(month) {
		base = month // keep every event in the tenants' current period
	}
	in := kcatEvents(base)
	var input bytes.Buffer
	var lines [][]byte
	var wantDead []string
	for _, l := range in {
		fmt.Fprintf(&input, "%s:%s\n", l.key, l.record)
		lines = append(lines, []byte(l.record))
		if l.reason != "" {
			wantDead = append(wantDead, string(l.reason)+" "+l.record)
		}
	}
	want := recompute(t, kcatCatalog, lines, now)
	logReference(t, "reference", want, len(lines))
	if len(want.Invalid) != len(wantDead) {
		t.Fatalf("the reference finds %d invalid records, the test marks %d", len(want.Invalid), len(wantDead))
	}

	topics := e.newTopics()
	e.createTopic(topics.Events, 3)
	cmd := exec.CommandContext(e.ctx, "kcat", "-b", strings.Join(e.brokers, ","), "-P", "-t", topics.Events, "-K:")
	cmd.Stdin = &input
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	ends := e.endOffsets(topics.Events)
	var n int64
	for _, end := range ends {
		n += end
	}
	if n != int64(len(in)) {
		t.Fatalf("kcat produced %d records, want %d", n, len(in))
	}

	p := pipeline{topics: topics, db: e.newDB("a"), group: e.newGroup("a"), catalog: kcatCatalog}
	r := e.startRun("run", p)
	e.waitCaughtUp(p.db, topics.Events, ends, time.Minute, r)
	assertTotals(t, "ClickHouse window_totals vs recomputation", want.Windows, e.windowTotals(p.db))

	// Alerts: every threshold each tenant crossed, once, keyed by tenant.
	type thresholdAlert struct{ tenant, threshold string }
	var gotAlerts []thresholdAlert
	ids := map[string]int{}
	var capped []string
	for _, m := range e.kcatRead(topics.Alerts) {
		var a struct {
			ID, Type, Tenant, Threshold, Entitlement string
		}
		if m.Payload == nil || json.Unmarshal([]byte(*m.Payload), &a) != nil {
			t.Errorf("alert %d/%d: payload %v is not an alert object", m.Partition, m.Offset, m.Payload)
			continue
		}
		if m.Key == nil || *m.Key != a.Tenant {
			t.Errorf("alert %s: key %v, want the tenant %q", a.ID, m.Key, a.Tenant)
		}
		ids[a.ID]++
		switch a.Type {
		case "threshold":
			gotAlerts = append(gotAlerts, thresholdAlert{a.Tenant, a.Threshold})
		case "cap_reached":
			capped = append(capped, a.Tenant+" "+a.Entitlement)
		}
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("alert %s is on the alerts topic %d times", id, n)
		}
	}
	cmpAlerts := func(a, b thresholdAlert) int {
		return strings.Compare(a.tenant+" "+a.threshold, b.tenant+" "+b.threshold)
	}
	slices.SortFunc(gotAlerts, cmpAlerts)
	gotAlerts = slices.Compact(gotAlerts)
	wantAlerts := []thresholdAlert{{"acme", "100"}, {"acme", "50"}, {"acme", "80"}, {"globex", "50"}, {"globex", "80"}}
	if !slices.Equal(gotAlerts, wantAlerts) {
		t.Errorf("threshold alerts on %s: got %v, want %v", topics.Alerts, gotAlerts, wantAlerts)
	}
	if !slices.Equal(capped, []string{"acme blocked"}) {
		t.Errorf("cap_reached alerts: got %v, want [acme blocked]", capped)
	}

	// Dead letters: each bad record once, with its reason and its bytes.
	var gotDead []string
	for _, m := range e.kcatRead(topics.DeadLetter) {
		var d struct{ Reason, Record string }
		if m.Payload == nil || json.Unmarshal([]byte(*m.Payload), &d) != nil {
			t.Errorf("dead letter %d/%d: payload %v is not a dead-letter object", m.Partition, m.Offset, m.Payload)
			continue
		}
		gotDead = append(gotDead, d.Reason+" "+d.Record)
	}
	slices.Sort(gotDead)
	slices.Sort(wantDead)
	if !slices.Equal(gotDead, wantDead) {
		t.Errorf("dead letters on %s:\ngot  %q\nwant %q", topics.DeadLetter, gotDead, wantDead)
	}

	// Entitlements: a compacted topic whose latest record per tenant is the
	// tenant's state.
	rc, err := e.adm.DescribeTopicConfigs(e.ctx, topics.Entitlements)
	if err != nil {
		t.Fatalf("describe %s: %v", topics.Entitlements, err)
	}
	policy := ""
	if c, err := rc.On(topics.Entitlements, nil); err == nil {
		for _, kv := range c.Configs {
			if kv.Key == "cleanup.policy" {
				policy = kv.MaybeValue()
			}
		}
	}
	if !strings.Contains(policy, "compact") {
		t.Errorf("%s has cleanup.policy %q, want compact", topics.Entitlements, policy)
	}
	state := map[string]string{}
	for _, m := range e.kcatRead(topics.Entitlements) {
		var s struct{ Tenant, State string }
		if m.Payload == nil || json.Unmarshal([]byte(*m.Payload), &s) != nil || m.Key == nil || *m.Key != s.Tenant {
			t.Errorf("entitlement %d/%d: key %v, payload %v: want a state keyed by its tenant", m.Partition, m.Offset, m.Key, m.Payload)
			continue
		}
		state[s.Tenant] = s.State // a tenant's records share a partition, in order
	}
	wantState := map[string]string{"acme": "blocked", "globex": "active", "initech": "active"}
	if fmt.Sprint(state) != fmt.Sprint(wantState) {
		t.Errorf("entitlement states on %s: got %v, want %v", topics.Entitlements, state, wantState)
	}
	stop(t, r)
}

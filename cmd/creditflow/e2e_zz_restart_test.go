package main

// The end-to-end test that restarts the shared Kafka and ClickHouse (see
// e2e_test.go for the others).
//
// It is deliberately not parallel. Go runs a package's sequential top-level
// tests first and releases the parallel ones (every other e2e test) only
// when those are done, so within this package nothing else talks to the
// services while they restart. Other packages' tests running at the same
// time (go test ./... runs packages concurrently) are not protected: run
// this package on its own, or with -p 1, when that matters.

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// restartService runs deploy/<name>.sh restart and fails the test unless
// the service is back.
func (e *e2e) restartService(name string) {
	e.t.Helper()
	script := filepath.Join("..", "..", "deploy", name+".sh")
	start := time.Now()
	out, err := exec.CommandContext(e.ctx, "bash", script, "restart").CombinedOutput()
	if err != nil {
		e.t.Fatalf("%s restart: %v\n%s", script, err, out)
	}
	e.t.Logf("%s restarted in %v", name, time.Since(start).Round(100*time.Millisecond))
}

// TestStreamSurvivesServiceRestarts restarts ClickHouse and then Kafka while
// `creditflow run` consumes a stream produced at 300 records a second. The
// same process must pause, retry and resume by itself, and end with the
// totals of the recomputation.
func TestStreamSurvivesServiceRestarts(t *testing.T) {
	e, ok := newE2E(t, "restart", 5*time.Minute)
	if !ok {
		return
	}
	for _, svc := range []string{"kafka", "clickhouse"} {
		script := filepath.Join("..", "..", "deploy", svc+".sh")
		if out, err := exec.CommandContext(e.ctx, "bash", script, "status").CombinedOutput(); err != nil {
			t.Fatalf("%s status: %v\n%s\nthis test restarts the services that deploy/ runs; they must be the ones in KAFKA_BROKERS and CLICKHOUSE_ADDR", script, err, out)
		}
	}
	now := time.Now().UTC()
	evPath, catPath := e.generate("gen", now.Add(-40*time.Minute), 6000, 30, 10, 41)
	lines := readLines(t, evPath)
	want := recompute(t, catPath, lines, now)
	logReference(t, "reference", want, len(lines))

	topics := e.newTopics()
	e.createTopic(topics.Events, 4)
	p := pipeline{topics: topics, db: e.newDB("a"), group: e.newGroup("a"), catalog: catPath}
	r := e.startRun("run", p)
	if !r.waitLog("assigned:", 4, time.Minute) {
		t.Fatalf("run was not assigned the four partitions within a minute (%s)", r.state())
	}
	produced := e.produceInBackground(topics.Events, lines, 300) // 20 s

	time.Sleep(4 * time.Second)
	t.Logf("before the ClickHouse restart: %d of %d records stored", e.progress(p.db, topics.Events), len(lines))
	e.restartService("clickhouse")
	time.Sleep(3 * time.Second)
	t.Logf("before the Kafka restart: %d records stored", e.progress(p.db, topics.Events))
	e.restartService("kafka")
	if r.exited() {
		t.Fatalf("run ended during the restarts: %s", r.state())
	}
	select {
	case err := <-produced:
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("producing did not finish within 2 minutes")
	}
	ends := e.endOffsets(topics.Events)
	e.waitCaughtUp(p.db, topics.Events, ends, 2*time.Minute, r)
	assertTotals(t, "ClickHouse window_totals vs recomputation", want.Windows, e.windowTotals(p.db))
	t.Logf("run logged %d failed flushes (consumption paused) and %d fetch errors",
		r.countLog("flush failed; consumption paused"), r.countLog(`"message":"fetch error"`))
	stop(t, r)
}

package main

// Helpers of the end-to-end tests of the streaming pipeline (e2e_test.go and
// e2e_zz_restart_test.go): the creditflow binary, the real services, the
// processes under test and an independent recomputation of window totals.
//
// The tests run `creditflow` as a separate process (built once per test
// binary, on first use) against the Kafka and ClickHouse named by
// KAFKA_BROKERS and CLICKHOUSE_ADDR. When either is unset they log why and
// return, except under CI=true where that is a failure. Each test uses its
// own topics, consumer groups and ClickHouse database, all named after the
// test and a random suffix, and removes them when it passes; when it fails
// it keeps them and prints their names and the tail of every process log.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/pipeline/catalog"
	"github.com/creditflow/creditflow/schemas"
	"github.com/creditflow/creditflow/sinks/clickhouse"
)

// e2eTmp is the directory of the built binary; TestMain removes it.
var e2eTmp string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "creditflow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	e2eTmp = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var binary struct {
	once sync.Once
	path string
	err  error
}

// creditflowBinary builds the package's command once per test binary, the
// first time an end-to-end test needs it (so that tests which need no
// services never pay for the build). CREDITFLOW_E2E_BINARY, when set, names
// a prebuilt binary to test instead.
func creditflowBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		if p := os.Getenv("CREDITFLOW_E2E_BINARY"); p != "" {
			binary.path, binary.err = filepath.Abs(p)
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			binary.err = fmt.Errorf("find the go tool: %w", err)
			return
		}
		out := filepath.Join(e2eTmp, "creditflow")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, ".")
		b, err := cmd.CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build -o %s .: %w\n%s", out, err, b)
			return
		}
		binary.path = out
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// e2e is one end-to-end test's world: services, names, processes.
type e2e struct {
	t       *testing.T
	ctx     context.Context
	bin     string
	dir     string
	brokers []string
	chAddr  string
	id      string // random suffix of every name
	name    string // short test name used in names
	adm     *kadm.Client
	kcl     *kgo.Client
	conn    driver.Conn // ClickHouse, for the test's own queries

	mu     sync.Mutex
	procs  []*proc
	topics []string
	dbs    []string
	groups []string
}

// newE2E prepares a test that needs Kafka and ClickHouse. It returns false
// (after logging why) when the services are not configured and the test
// must not run; under CI=true it fails instead. Everything the test starts
// is bounded by timeout.
func newE2E(t *testing.T, name string, timeout time.Duration) (*e2e, bool) {
	t.Helper()
	brokers, chAddr := os.Getenv("KAFKA_BROKERS"), os.Getenv("CLICKHOUSE_ADDR")
	if testing.Short() {
		t.Log("-short: end-to-end test against Kafka and ClickHouse not run")
		return nil, false
	}
	if brokers == "" || chAddr == "" {
		msg := "end-to-end test needs KAFKA_BROKERS and CLICKHOUSE_ADDR (e.g. `source .ci/services.sh`)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + ": they must be set when CI=true")
		}
		t.Log(msg + ": not run")
		return nil, false
	}
	if dl, ok := t.Deadline(); ok && time.Until(dl)-10*time.Second < timeout {
		timeout = max(time.Until(dl)-10*time.Second, time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	dir, err := os.MkdirTemp("", "creditflow-e2e-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{
		t: t, ctx: ctx, bin: creditflowBinary(t), dir: dir,
		brokers: strings.Split(brokers, ","), chAddr: chAddr, id: randomID(), name: name,
	}
	kcl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	e.kcl, e.adm = kcl, kadm.NewClient(kcl)
	e.conn, err = ch.Open(&ch.Options{Protocol: ch.Native, Addr: strings.Split(chAddr, ","), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("clickhouse: %v", err)
	}
	t.Cleanup(e.cleanup)
	return e, true
}

func randomID() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// cleanup kills what still runs; on success it removes the test's topics,
// groups and databases, on failure it prints the logs and keeps them.
func (e *e2e) cleanup() {
	e.mu.Lock()
	procs := slices.Clone(e.procs)
	e.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	for _, p := range procs {
		p.wait(10 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e.t.Failed() {
		for _, p := range procs {
			e.t.Logf("---- %s (%s), last lines of %s without franz-go's debug lines:\n%s", p.name, p.state(), p.logPath, p.tail(25))
		}
		e.t.Logf("kept for inspection: files in %s, databases %v, topics %v, groups %v", e.dir, e.dbs, e.topics, e.groups)
	} else {
		os.RemoveAll(e.dir)
		for _, db := range e.dbs {
			if err := e.conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
				e.t.Logf("drop database %s: %v", db, err)
			}
		}
		if len(e.groups) > 0 {
			_, _ = e.adm.DeleteGroups(ctx, e.groups...)
		}
		if len(e.topics) > 0 {
			if _, err := e.adm.DeleteTopics(ctx, e.topics...); err != nil {
				e.t.Logf("delete topics: %v", err)
			}
		}
	}
	e.kcl.Close()
	e.conn.Close()
}

// path returns a file name in the test's temporary directory.
func (e *e2e) path(name string) string { return filepath.Join(e.dir, name) }

// topicSet is the six topics of one pipeline.
type topicSet struct {
	Events, Grants, Alerts, Entitlements, DeadLetter, Closes string
}

// newTopics names six fresh topics (run creates all but events).
func (e *e2e) newTopics() topicSet {
	p := "e2e." + e.name + "." + e.id + "."
	ts := topicSet{p + "events", p + "grants", p + "alerts", p + "entitlements", p + "deadletter", p + "closes"}
	e.mu.Lock()
	e.topics = append(e.topics, ts.Events, ts.Grants, ts.Alerts, ts.Entitlements, ts.DeadLetter, ts.Closes)
	e.mu.Unlock()
	return ts
}

// newDB names a fresh ClickHouse database (run creates it).
func (e *e2e) newDB(suffix string) string {
	db := "e2e_" + e.name + "_" + e.id + "_" + suffix
	e.mu.Lock()
	e.dbs = append(e.dbs, db)
	e.mu.Unlock()
	return db
}

// newGroup names a fresh consumer group.
func (e *e2e) newGroup(suffix string) string {
	g := "e2e." + e.name + "." + e.id + "." + suffix
	e.mu.Lock()
	e.groups = append(e.groups, g)
	e.mu.Unlock()
	return g
}

// createTopic creates topic with n partitions.
func (e *e2e) createTopic(topic string, n int32) {
	e.t.Helper()
	if _, err := e.adm.CreateTopic(e.ctx, n, 1, nil, topic); err != nil {
		e.t.Fatalf("create topic %s: %v", topic, err)
	}
}

// pipeline is what one `creditflow run` process is pointed at.
type pipeline struct {
	topics  topicSet
	db      string
	group   string
	catalog string
}

// runEnv is the environment of `creditflow run` for p, plus extra.
func (e *e2e) runEnv(p pipeline, extra ...string) []string {
	return append([]string{
		"KAFKA_BROKERS=" + strings.Join(e.brokers, ","),
		"CLICKHOUSE_ADDR=" + e.chAddr,
		"CREDITFLOW_CATALOG=" + p.catalog,
		"CREDITFLOW_KAFKA_GROUP=" + p.group,
		"CREDITFLOW_KAFKA_CLIENT_ID=e2e-" + e.name,
		"CREDITFLOW_KAFKA_TOPICS_EVENTS=" + p.topics.Events,
		"CREDITFLOW_KAFKA_TOPICS_GRANTS=" + p.topics.Grants,
		"CREDITFLOW_KAFKA_TOPICS_ALERTS=" + p.topics.Alerts,
		"CREDITFLOW_KAFKA_TOPICS_ENTITLEMENTS=" + p.topics.Entitlements,
		"CREDITFLOW_KAFKA_TOPICS_DEADLETTER=" + p.topics.DeadLetter,
		"CREDITFLOW_KAFKA_TOPICS_CLOSES=" + p.topics.Closes,
		"CREDITFLOW_CLICKHOUSE_DATABASE=" + p.db,
		"CREDITFLOW_PIPELINE_FLUSH_INTERVAL=200ms",
		"CREDITFLOW_CLOSE_DISABLED=true",
	}, extra...)
}

// startRun starts `creditflow run` for p.
func (e *e2e) startRun(name string, p pipeline, extra ...string) *proc {
	return e.start(name, e.runEnv(p, extra...), "run")
}

// proc is one creditflow process; its stdout and stderr go to one file.
type proc struct {
	name, logPath string
	cmd           *exec.Cmd
	done          chan struct{}
	waitErr       error
}

// start runs the binary with args. The inherited environment loses every
// CREDITFLOW_ variable so that the test alone configures the process.
func (e *e2e) start(name string, env []string, args ...string) *proc {
	e.t.Helper()
	logPath := e.path(name + ".log")
	f, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.CommandContext(e.ctx, e.bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CREDITFLOW_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		e.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	e.t.Logf("%s: started pid %d: creditflow %s", name, cmd.Process.Pid, strings.Join(args, " "))
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits at most d for the process to end and reports whether it did.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// kill sends SIGKILL (if the process still runs).
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// interrupt sends SIGINT: a graceful stop.
func (p *proc) interrupt() {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
	}
}

// state describes how the process ended, or that it runs.
func (p *proc) state() string {
	if !p.exited() {
		return "running"
	}
	if p.cmd.ProcessState == nil {
		return fmt.Sprint(p.waitErr)
	}
	return p.cmd.ProcessState.String()
}

// killedBy reports the signal that ended the process, if any.
func (p *proc) killedBy() (syscall.Signal, bool) {
	if !p.exited() || p.cmd.ProcessState == nil {
		return 0, false
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// exitCode is the exit status, -1 while running or when killed.
func (p *proc) exitCode() int {
	if !p.exited() || p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// log returns the process's output so far.
func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// tail returns the last n lines of the log, leaving out franz-go's debug
// chatter.
func (p *proc) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.log(), "\n"), "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool {
		return strings.Contains(l, `"level":"debug","component":"kafka"`)
	})
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// countLog counts log lines containing s.
func (p *proc) countLog(s string) int { return strings.Count(p.log(), s) }

// waitLog waits until the log holds at least n lines containing s, the
// process ends, or d passes; it reports whether the lines appeared.
func (p *proc) waitLog(s string, n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if p.countLog(s) >= n {
			return true
		}
		if p.exited() || time.Now().After(deadline) {
			return p.countLog(s) >= n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runTool runs the binary to completion (gen, replay) and fails the test
// unless it exits 0.
func (e *e2e) runTool(name string, timeout time.Duration, args ...string) {
	e.t.Helper()
	p := e.start(name, nil, args...)
	if !p.wait(timeout) {
		p.kill()
		e.t.Fatalf("%s did not finish within %v:\n%s", name, timeout, p.tail(20))
	}
	if p.exitCode() != 0 {
		e.t.Fatalf("%s: %s:\n%s", name, p.state(), p.tail(20))
	}
}

// readLines returns the non-empty lines of a JSON lines file.
func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.Split(b, []byte{'\n'}) {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

func writeLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pickResends returns n lines drawn at random (with a fixed seed) from
// lines: producer resends of records already sent, under new offsets.
func pickResends(lines [][]byte, n int, seed uint64) [][]byte {
	r := mrand.New(mrand.NewPCG(seed, 7))
	out := make([][]byte, n)
	for i := range out {
		out[i] = lines[r.IntN(len(lines))]
	}
	return out
}

// recordKey is the Kafka key a producer following SPEC 2.1 gives a line:
// its tenant (CloudEvents: subject), nil when there is none to read.
func recordKey(line []byte) []byte {
	var v struct {
		Spec    json.RawMessage `json:"specversion"`
		Tenant  *string         `json:"tenant"`
		Subject *string         `json:"subject"`
	}
	if json.Unmarshal(line, &v) != nil {
		return nil
	}
	tenant := v.Tenant
	if v.Spec != nil {
		tenant = v.Subject
	}
	if tenant == nil || *tenant == "" {
		return nil
	}
	return []byte(*tenant)
}

func (e *e2e) producer(topic string) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		e.t.Fatalf("kafka producer: %v", err)
	}
	return cl
}

// produce sends lines to topic in order, keyed by tenant, and waits until
// every record is acknowledged.
func (e *e2e) produce(topic string, lines [][]byte) {
	e.t.Helper()
	cl := e.producer(topic)
	defer cl.Close()
	if err := produceLines(e.ctx, cl, lines, 0); err != nil {
		e.t.Fatalf("produce to %s: %v", topic, err)
	}
}

// produceLines sends lines in order, at most perSecond a second (0: as fast
// as possible), and returns once all are acknowledged.
func produceLines(ctx context.Context, cl *kgo.Client, lines [][]byte, perSecond float64) error {
	var mu sync.Mutex
	var failed error
	start := time.Now()
	for i, l := range lines {
		cl.Produce(ctx, &kgo.Record{Key: recordKey(l), Value: l}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				failed = errors.Join(failed, err)
				mu.Unlock()
			}
		})
		if perSecond > 0 && i%20 == 19 {
			due := start.Add(time.Duration(float64(i+1) / perSecond * float64(time.Second)))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	return failed
}

// produceInBackground sends lines paced at perSecond; the returned channel
// yields the outcome once every record is acknowledged.
func (e *e2e) produceInBackground(topic string, lines [][]byte, perSecond float64) <-chan error {
	cl := e.producer(topic)
	done := make(chan error, 1)
	go func() {
		defer cl.Close()
		done <- produceLines(e.ctx, cl, lines, perSecond)
	}()
	return done
}

// endOffsets returns the end offset (next offset to be written) of every
// partition of topic.
func (e *e2e) endOffsets(topic string) map[int32]int64 {
	e.t.Helper()
	for {
		lo, err := e.adm.ListEndOffsets(e.ctx, topic)
		if err == nil {
			err = lo.Error()
		}
		if err == nil {
			out := map[int32]int64{}
			lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
			return out
		}
		if e.ctx.Err() != nil {
			e.t.Fatalf("list end offsets of %s: %v", topic, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// storedOffsets reads, independently of the pipeline's code, the highest
// last_offset stored per partition of topic in db's window_deltas table.
func (e *e2e) storedOffsets(db, topic string) (map[int32]int64, error) {
	rows, err := e.conn.Query(e.ctx, "SELECT kafka_partition, max(last_offset) FROM `"+db+"`.window_deltas"+
		" WHERE topic = '"+topic+"' GROUP BY kafka_partition")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var p int32
		var last int64
		if err := rows.Scan(&p, &last); err != nil {
			return nil, err
		}
		out[p] = last
	}
	return out, rows.Err()
}

// progress is the number of offsets stored so far, summed over partitions.
func (e *e2e) progress(db, topic string) int64 {
	st, err := e.storedOffsets(db, topic)
	if err != nil {
		return 0
	}
	var n int64
	for _, last := range st {
		n += last + 1
	}
	return n
}

// caughtUp reports whether db has stored every offset below ends.
func caughtUp(stored, ends map[int32]int64) bool {
	for p, end := range ends {
		if end > 0 && stored[p] < end-1 {
			return false
		}
	}
	return true
}

// waitCaughtUp waits until db has stored every offset of topic below ends.
// It fails the test after timeout, or as soon as one of alive ends.
func (e *e2e) waitCaughtUp(db, topic string, ends map[int32]int64, timeout time.Duration, alive ...*proc) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var stored map[int32]int64
	var err error
	for {
		stored, err = e.storedOffsets(db, topic)
		if err == nil && caughtUp(stored, ends) {
			return
		}
		for _, p := range alive {
			if p.exited() {
				e.t.Fatalf("%s ended (%s) before the stored offsets %v reached the end offsets %v", p.name, p.state(), stored, ends)
			}
		}
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			e.t.Fatalf("after %v the stored offsets of %s in %s are %v (last error: %v); the end offsets are %v", timeout, topic, db, stored, err, ends)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// winKey identifies a window (SPEC 3.3).
type winKey struct {
	Tenant, Meter, Model string
	Start                time.Time
}

// winTotal is a window's final total.
type winTotal struct {
	Events            int64
	Quantity, Credits schemas.Micros
}

// totals maps every window to its total.
type totals map[winKey]winTotal

// windowTotals reads db's window_totals view through the ClickHouse sink's
// client, checking that every window is one minute wide and listed once.
func (e *e2e) windowTotals(db string) totals {
	e.t.Helper()
	c, err := clickhouse.Open(e.ctx, clickhouse.Config{Addr: strings.Split(e.chAddr, ","), Database: db})
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	ws, err := c.WindowTotals(e.ctx, "")
	if err != nil {
		e.t.Fatalf("read window totals of %s: %v", db, err)
	}
	out := totals{}
	for _, w := range ws {
		k := winKey{w.Tenant, w.Meter, w.Model, w.Start.UTC()}
		if _, dup := out[k]; dup {
			e.t.Errorf("window_totals lists %v twice", k)
		}
		if !w.End.Equal(w.Start.Add(time.Minute)) {
			e.t.Errorf("window %v ends at %v, want one minute later", k, w.End)
		}
		out[k] = winTotal{w.Events, w.Quantity, w.Credits}
	}
	return out
}

// replayTotals runs `creditflow replay` over events and reads windows.csv.
func (e *e2e) replayTotals(name, catalogPath, events string, now time.Time) totals {
	e.t.Helper()
	out := e.path(name)
	e.runTool(name, 2*time.Minute, "replay", "--catalog", catalogPath, "--events", events,
		"--now", now.UTC().Format(time.RFC3339), "--out", out, "--progress", "none")
	f, err := os.Open(filepath.Join(out, windowsFile))
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		e.t.Fatalf("%s: %v", windowsFile, err)
	}
	want := []string{"tenant", "meter", "model", "window_start", "window_end", "events", "quantity", "credits"}
	if len(rows) == 0 || !slices.Equal(rows[0], want) {
		e.t.Fatalf("%s: header %v, want %v", windowsFile, rows[:min(1, len(rows))], want)
	}
	tot := totals{}
	for i, r := range rows[1:] {
		start, err1 := time.Parse(time.RFC3339, r[3])
		n, err2 := strconv.ParseInt(r[5], 10, 64)
		q, err3 := schemas.ParseMicros(r[6])
		c, err4 := schemas.ParseMicros(r[7])
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			e.t.Fatalf("%s row %d %v: %v", windowsFile, i+2, r, err)
		}
		tot[winKey{r[0], r[1], r[2], start.UTC()}] = winTotal{n, q, c}
	}
	return tot
}

// assertTotals fails unless got equals want exactly, listing the first
// differing windows.
func assertTotals(t *testing.T, what string, want, got totals) {
	t.Helper()
	keys := map[winKey]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var diffs []winKey
	for k := range keys {
		w, okW := want[k]
		g, okG := got[k]
		if okW != okG || w != g {
			diffs = append(diffs, k)
		}
	}
	if len(diffs) == 0 {
		t.Logf("%s: %d windows, %s: equal", what, len(want), sumTotals(want))
		return
	}
	slices.SortFunc(diffs, func(a, b winKey) int {
		return cmpKeys(a, b)
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d windows differ (want %s, got %s); first ones (want → got):\n",
		what, len(diffs), len(keys), sumTotals(want), sumTotals(got))
	for _, k := range diffs[:min(15, len(diffs))] {
		fmt.Fprintf(&b, "  %s %s %q %s: %s → %s\n", k.Tenant, k.Meter, k.Model, k.Start.Format(time.RFC3339),
			fmtTotal(want, k), fmtTotal(got, k))
	}
	t.Error(b.String())
}

// cmpKeys orders window keys as the sinks order windows.
func cmpKeys(a, b winKey) int {
	return schemas.CompareWindows(
		&schemas.WindowTotal{WindowKey: schemas.WindowKey{Tenant: a.Tenant, Meter: a.Meter, Model: a.Model}, Start: a.Start},
		&schemas.WindowTotal{WindowKey: schemas.WindowKey{Tenant: b.Tenant, Meter: b.Meter, Model: b.Model}, Start: b.Start})
}

func fmtTotal(m totals, k winKey) string {
	w, ok := m[k]
	if !ok {
		return "(none)"
	}
	return fmt.Sprintf("events=%d quantity=%s credits=%s", w.Events, w.Quantity, w.Credits)
}

func sumTotals(m totals) string {
	var s winTotal
	for _, w := range m {
		s.Events += w.Events
		s.Quantity += w.Quantity
		s.Credits += w.Credits
	}
	return fmt.Sprintf("events=%d quantity=%s credits=%s", s.Events, s.Quantity, s.Credits)
}

// refEvent is an event as the reference decoder reads it.
type refEvent struct {
	ID, Tenant, Meter, Model string
	Quantity                 schemas.Micros
	Time                     time.Time
}

// refResult is the independent recomputation of a stream.
type refResult struct {
	Windows    totals
	Counted    int
	Duplicates int
	Invalid    [][]byte // lines that must be dead-lettered, in order
}

// recompute derives the window totals of lines in order, independently of
// the pipeline's decoder, dedup and windowing: encoding/json decoding with
// the rules of SPEC 2.1 and 3.2 (wall clock now), the catalog's rates,
// first-copy-wins dedup by (tenant, id) and one-minute windows by event
// time. It shares only catalog.Load, Catalog.Rate and schemas.MulMicros
// (the rating rule of SPEC 3.1) with the pipeline.
func recompute(t *testing.T, catalogPath string, lines [][]byte, now time.Time) refResult {
	t.Helper()
	cat, err := catalog.Load(catalogPath)
	if err != nil {
		t.Fatalf("catalog %s: %v", catalogPath, err)
	}
	res := refResult{Windows: totals{}}
	seen := map[[2]string]time.Time{}
	for _, l := range lines {
		ev, ok := refDecode(l)
		if ok && (cat.Tenant(ev.Tenant) == nil || cat.Meter(ev.Meter) == nil) {
			ok = false
		}
		if ok && (ev.Time.After(now.Add(5*time.Minute)) || ev.Time.Before(now.Add(-35*24*time.Hour))) {
			ok = false
		}
		var rate schemas.Decimal
		if ok {
			rate, ok = cat.Rate(ev.Meter, ev.Model, ev.Time)
		}
		if !ok {
			res.Invalid = append(res.Invalid, l)
			continue
		}
		id := [2]string{ev.Tenant, ev.ID}
		if first, dup := seen[id]; dup && absDur(ev.Time.Sub(first)) <= 24*time.Hour {
			res.Duplicates++
			continue
		}
		seen[id] = ev.Time
		credits, err := schemas.MulMicros(ev.Quantity, rate)
		if err != nil {
			t.Fatalf("credits of %s: %v", l, err)
		}
		k := winKey{ev.Tenant, ev.Meter, ev.Model, ev.Time.UTC().Truncate(time.Minute)}
		w := res.Windows[k]
		w.Events++
		w.Quantity += ev.Quantity
		w.Credits += credits
		res.Windows[k] = w
		res.Counted++
	}
	return res
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

var (
	tenantRE  = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	decimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	million   = big.NewRat(1_000_000, 1)
	maxQty    = big.NewRat(1_000_000_000_000, 1)
)

// refDecode decodes a usage event (SPEC 2.1, native or CloudEvents form)
// with encoding/json and reports whether it passes the record-level rules.
func refDecode(line []byte) (refEvent, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil || obj == nil {
		return refEvent{}, false
	}
	idKey, tenantKey, meterKey := "id", "tenant", "meter"
	fields := obj
	if spec, ok := obj["specversion"]; ok {
		var s string
		if json.Unmarshal(spec, &s) != nil || s != "1.0" {
			return refEvent{}, false
		}
		tenantKey, meterKey = "subject", "type"
		fields = nil
		if d, ok := obj["data"]; ok && string(d) != "null" {
			if json.Unmarshal(d, &fields) != nil || fields == nil {
				return refEvent{}, false
			}
		}
	}
	str := func(m map[string]json.RawMessage, k string) (string, bool, bool) { // value, present, ok
		raw, present := m[k]
		if !present || string(raw) == "null" {
			return "", false, true
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", true, false
		}
		return s, true, true
	}
	var ev refEvent
	var present, ok bool
	if ev.ID, present, ok = str(obj, idKey); !ok || !present || len(ev.ID) < 1 || len(ev.ID) > 128 {
		return ev, false
	}
	if ev.Tenant, present, ok = str(obj, tenantKey); !ok || !present || !tenantRE.MatchString(ev.Tenant) {
		return ev, false
	}
	if ev.Meter, present, ok = str(obj, meterKey); !ok || !present || len(ev.Meter) < 1 || len(ev.Meter) > 128 {
		return ev, false
	}
	if ev.Model, _, ok = str(fields, "model"); !ok || len(ev.Model) > 128 {
		return ev, false
	}
	raw, has := fields["quantity"]
	if !has || string(raw) == "null" {
		return ev, false
	}
	var text string
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &text) != nil || !decimalRE.MatchString(text) {
			return ev, false
		}
	} else {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return ev, false
		}
		text = n.String()
	}
	q, okQ := new(big.Rat).SetString(text)
	if !okQ || q.Sign() < 0 || q.Cmp(maxQty) > 0 {
		return ev, false
	}
	q.Mul(q, million)
	if !q.IsInt() {
		return ev, false
	}
	ev.Quantity = schemas.Micros(q.Num().Int64())
	ts, present, ok := str(obj, "time")
	if !ok || !present {
		return ev, false
	}
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return ev, false
	}
	ev.Time = tm.UTC()
	if p, has := fields["properties"]; has && string(p) != "null" {
		var m map[string]json.RawMessage
		if json.Unmarshal(p, &m) != nil || m == nil {
			return ev, false
		}
	}
	return ev, true
}

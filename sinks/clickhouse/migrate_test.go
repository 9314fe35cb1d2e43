package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSplitStatements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"two", "SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"no trailing semicolon", "SELECT 1;\nSELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"semicolon in string", `SELECT 'a;b', 'it\'s;'; SELECT 3`, []string{`SELECT 'a;b', 'it\'s;'`, "SELECT 3"}},
		{"semicolon in identifier", "SELECT `a;b` FROM t; SELECT \"c;d\"", []string{"SELECT `a;b` FROM t", `SELECT "c;d"`}},
		{"comments", "-- a; comment\nSELECT 1; /* b; */ SELECT 2;\n-- trailing; only\n", []string{"-- a; comment\nSELECT 1", "/* b; */ SELECT 2"}},
		{"only comments", "-- nothing here;\n /* nor; here */ ;", nil},
	}
	for _, tt := range tests {
		if d := cmp.Diff(tt.want, splitStatements(tt.in)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
}

// rerunnable lists the migrations whose statements are not each idempotent
// but whose sequence is: TestMigrationRerunAfterDeath runs it again after a
// death following every statement.
var rerunnable = map[string]bool{"0009_raw_events_by_offset": true}

func TestMigrationsEmbedded(t *testing.T) {
	t.Parallel()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range ms {
		if i > 0 && ms[i-1].name >= m.name {
			t.Errorf("migrations out of order: %s before %s", ms[i-1].name, m.name)
		}
		stmts := m.statements("`x`")
		if len(stmts) == 0 {
			t.Errorf("%s has no statements", m.name)
		}
		for _, s := range stmts {
			if strings.Contains(s, "{db}") || !strings.Contains(s, "`x`.") {
				t.Errorf("%s: statement does not name the database: %.80s", m.name, s)
			}
			if !strings.Contains(s, "IF NOT EXISTS") && !rerunnable[m.name] {
				t.Errorf("%s: statement is not idempotent: %.80s", m.name, s)
			}
		}
	}
}

func allMigrationNames(t *testing.T) []string {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.name)
	}
	return names
}

func recorded(t *testing.T, c *Client) []string {
	t.Helper()
	rows, err := nativeRunner{c.conn}.strings(ctxT(t), "SELECT name FROM "+c.db+".schema_migrations FINAL ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r[0])
	}
	return names
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	addr, ok := serverAddr(t)
	if !ok {
		return
	}
	ctx := ctxT(t)
	c := openTest(t, addr, nil)
	all := allMigrationNames(t)
	first, err := c.Migrate(ctx)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if d := cmp.Diff(all, first); d != "" {
		t.Errorf("first Migrate applied (-want +got):\n%s", d)
	}
	second, err := c.Migrate(ctx)
	if err != nil || len(second) != 0 {
		t.Errorf("second Migrate = %v, %v; want nothing applied", second, err)
	}
	if d := cmp.Diff(all, recorded(t, c)); d != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", d)
	}
	// Every analyst view answers on the fresh schema.
	for _, v := range []string{"window_totals", "daily_usage", "period_closes", "line_items", "current_balance"} {
		if _, err := (nativeText{c.conn}).text(ctx, "SELECT * FROM "+c.db+"."+v); err != nil {
			t.Errorf("view %s: %v", v, err)
		}
	}
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	addr, ok := serverAddr(t)
	if !ok {
		return
	}
	ctx := ctxT(t)
	c := openTest(t, addr, nil)
	const n = 3
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []string
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other, err := Open(ctx, c.cfg)
			if err != nil {
				t.Error(err)
				return
			}
			defer other.Close()
			names, err := other.Migrate(ctx)
			if err != nil {
				t.Errorf("concurrent Migrate: %v", err)
			}
			mu.Lock()
			applied = append(applied, names...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(applied)
	all := allMigrationNames(t)
	if d := cmp.Diff(all, applied); d != "" {
		t.Errorf("migrations applied by %d concurrent runs, each exactly once (-want +got):\n%s", n, d)
	}
	if d := cmp.Diff(all, recorded(t, c)); d != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", d)
	}
}

func TestMigrateChangedFile(t *testing.T) {
	t.Parallel()
	c := migrated(t)
	if c == nil {
		return
	}
	ctx := ctxT(t)
	rec := &insert{table: "schema_migrations"}
	rec.col("name", []string{allMigrationNames(t)[0]})
	rec.col("checksum", []string{"0000"})
	if err := c.send(ctx, rec); err != nil {
		t.Fatal(err)
	}
	_, err := c.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "never edit an applied migration") {
		t.Errorf("Migrate after a migration changed = %v, want a checksum error", err)
	}
}

func TestMigrateStaleLock(t *testing.T) {
	t.Parallel()
	addr, ok := serverAddr(t)
	if !ok {
		return
	}
	ctx := ctxT(t)
	c := openTest(t, addr, func(cfg *Config) { cfg.LockTimeout = 500 * time.Millisecond })
	// A migrator that died holding the lock.
	if err := migrateBootstrapOnly(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := c.conn.Exec(ctx, "CREATE TABLE "+c.db+".schema_migrations_lock (owner String, acquired_at DateTime('UTC') DEFAULT now()) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "DROP TABLE "+c.db+".schema_migrations_lock") {
		t.Fatalf("Migrate with a stale lock = %v, want an error that says how to remove it", err)
	}
	t.Logf("stale lock: %v", err)
	if err := c.conn.Exec(ctx, "DROP TABLE "+c.db+".schema_migrations_lock"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Migrate(ctx); err != nil {
		t.Errorf("Migrate after dropping the stale lock: %v", err)
	}
}

func migrateBootstrapOnly(ctx context.Context, c *Client) error {
	return createDatabase(ctx, nativeRunner{c.conn}, c.cfg.Database)
}

// TestMigrationRerunAfterDeath: a migrator that dies after any statement of
// a re-runnable migration leaves a database that the next Migrate
// completes, with every row kept once.
func TestMigrationRerunAfterDeath(t *testing.T) {
	t.Parallel()
	addr, ok := serverAddr(t)
	if !ok {
		return
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if !rerunnable[m.name] {
			continue
		}
		for k := 1; k <= len(m.statements("`x`")); k++ {
			t.Run(fmt.Sprintf("%s/died_after_%d", m.name, k), func(t *testing.T) {
				ctx := ctxT(t)
				c := openTest(t, addr, nil)
				db := quoteIdent(c.cfg.Database)
				if err := createDatabase(ctx, nativeRunner{c.conn}, c.cfg.Database); err != nil {
					t.Fatal(err)
				}
				// The migrations before m, applied and recorded by hand,
				// then some raw events in the old layout.
				for _, prev := range ms[:i] {
					for _, st := range prev.statements(db) {
						if err := c.conn.Exec(ctx, st); err != nil {
							t.Fatalf("%s: %v", prev.name, err)
						}
					}
				}
				if err := c.conn.Exec(ctx, "CREATE TABLE "+db+".schema_migrations (name String, checksum String, applied_at DateTime('UTC') DEFAULT now()) ENGINE = ReplacingMergeTree() ORDER BY name"); err != nil {
					t.Fatal(err)
				}
				for _, prev := range ms[:i] {
					rec := &insert{table: "schema_migrations"}
					rec.col("name", []string{prev.name})
					rec.col("checksum", []string{prev.checksum})
					if err := (nativeRunner{c.conn}).insert(ctx, db, rec); err != nil {
						t.Fatal(err)
					}
				}
				var rows []RawEvent
				for o := range int64(50) {
					rows = append(rows, RawEvent{Topic: "usage", Partition: int32(o % 2), Offset: o, Tenant: fmt.Sprintf("t%d", o%7),
						ID: fmt.Sprintf("e%d", o), Meter: "tokens", Quantity: 1_000_000, Credits: 2_000, Time: ts("2026-03-02T10:00:00Z").Add(time.Duration(o) * time.Hour), Digest: uint64(o)})
				}
				if err := c.WriteRawEvents(ctx, rows); err != nil {
					t.Fatal(err)
				}
				// The migrator dies after statement k.
				for _, st := range m.statements(db)[:k] {
					if err := c.conn.Exec(ctx, st); err != nil {
						t.Fatalf("statement: %v", err)
					}
				}
				if _, err := c.Migrate(ctx); err != nil {
					t.Fatalf("Migrate after a death after statement %d: %v", k, err)
				}
				got, err := (nativeText{c.conn}).text(ctx, "SELECT count(), uniqExact(topic, kafka_partition, kafka_offset) FROM "+db+".raw_events FINAL")
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff([][]string{{"50", "50"}}, got); d != "" {
					t.Errorf("raw events after the completed migration (-want +got):\n%s", d)
				}
				key, err := (nativeText{c.conn}).text(ctx, "SELECT sorting_key FROM system.tables WHERE database = "+quoteString(c.cfg.Database)+" AND name = 'raw_events'")
				if err != nil {
					// 18.16 has no sorting_key column: read the DDL.
					key, err = (nativeText{c.conn}).text(ctx, "SHOW CREATE TABLE "+db+".raw_events")
				}
				if err != nil || len(key) != 1 || !strings.Contains(strings.ReplaceAll(key[0][0], " ", ""), "topic,kafka_partition,kafka_offset") {
					t.Errorf("raw_events sorting key = %v, %v; want (topic, kafka_partition, kafka_offset)", key, err)
				}
			})
		}
	}
}

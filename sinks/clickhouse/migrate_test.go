package clickhouse

import (
	"context"
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
			if !strings.Contains(s, "IF NOT EXISTS") {
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

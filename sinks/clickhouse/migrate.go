package clickhouse

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded .sql file.
type migration struct {
	name     string // file name without .sql, e.g. "0001_raw_events"
	checksum string // sha256 of the file, hex
	body     string // SQL with the {db} placeholder
}

var migrationName = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.sql$`)

// migrations returns the embedded migrations in the order they apply.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if !migrationName.MatchString(e.Name()) {
			return nil, fmt.Errorf("migration file %s: name must match %s", e.Name(), migrationName)
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, migration{
			name:     strings.TrimSuffix(e.Name(), ".sql"),
			checksum: hex.EncodeToString(sum[:]),
			body:     string(b),
		})
	}
	slices.SortFunc(ms, func(a, b migration) int { return strings.Compare(a.name, b.name) })
	return ms, nil
}

// statements returns the statements of m for database db (already quoted).
func (m migration) statements(db string) []string {
	return splitStatements(strings.ReplaceAll(m.body, "{db}", db))
}

// runner is what Migrate needs from a server: the native client in
// production, chdb in the 26.x compatibility test.
type runner interface {
	exec(ctx context.Context, query string) error
	// strings runs a query whose columns are all String.
	strings(ctx context.Context, query string) ([][]string, error)
	// insert runs one INSERT into database db (quoted).
	insert(ctx context.Context, db string, in *insert) error
}

// Migrate creates the database if it is missing, then the schema_migrations
// table, then applies the embedded migrations (migrations/*.sql) that are
// not recorded there yet, in file-name order, and returns the names of those
// it applied (nil when there was nothing to do). Running it again is a
// no-op. A recorded migration whose file has changed since is an error.
//
// Two Migrate calls may run at once (several replicas starting together):
// the one that creates the table schema_migrations_lock holds the lock — in
// ClickHouse, CREATE TABLE of an existing name fails, so exactly one caller
// succeeds — and the others wait, polling, for up to Config.LockTimeout
// until it is dropped, then find the migrations recorded and apply nothing.
// Every statement is also idempotent (IF NOT EXISTS), so even a migrator
// that died half-way is completed by the next run. If a migrator is killed
// while holding the lock, the lock table stays: the error names it, and
// `DROP TABLE <db>.schema_migrations_lock` removes it.
func (c *Client) Migrate(ctx context.Context) ([]string, error) {
	return migrate(ctx, nativeRunner{c.conn}, c.cfg.Database, c.cfg.LockTimeout)
}

func migrate(ctx context.Context, r runner, database string, lockTimeout time.Duration) ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	db := quoteIdent(database)
	if err := createDatabase(ctx, r, database); err != nil {
		return nil, err
	}
	if err := r.exec(ctx, "CREATE TABLE IF NOT EXISTS "+db+".schema_migrations "+
		"(name String, checksum String, applied_at DateTime('UTC') DEFAULT now()) "+
		"ENGINE = ReplacingMergeTree() ORDER BY name"); err != nil {
		return nil, fmt.Errorf("create %s.schema_migrations: %w", database, err)
	}
	unlock, err := lockMigrations(ctx, r, database, lockTimeout)
	if err != nil {
		return nil, err
	}
	defer unlock()

	rows, err := r.strings(ctx, "SELECT name, checksum FROM "+db+".schema_migrations FINAL")
	if err != nil {
		return nil, fmt.Errorf("read %s.schema_migrations: %w", database, err)
	}
	applied := make(map[string]string, len(rows))
	for _, row := range rows {
		applied[row[0]] = row[1]
	}
	var done []string
	for _, m := range ms {
		if sum, ok := applied[m.name]; ok {
			if sum != m.checksum {
				return done, fmt.Errorf("migration %s was applied to %s with checksum %s but the file now has %s: "+
					"never edit an applied migration, add a new one", m.name, database, sum, m.checksum)
			}
			continue
		}
		for i, stmt := range m.statements(db) {
			if err := r.exec(ctx, stmt); err != nil {
				return done, fmt.Errorf("apply migration %s, statement %d, to %s: %w", m.name, i+1, database, err)
			}
		}
		rec := &insert{table: "schema_migrations"}
		rec.col("name", []string{m.name})
		rec.col("checksum", []string{m.checksum})
		if err := r.insert(ctx, db, rec); err != nil {
			return done, fmt.Errorf("record migration %s in %s.schema_migrations: %w", m.name, database, err)
		}
		done = append(done, m.name)
	}
	return done, nil
}

func createDatabase(ctx context.Context, r runner, database string) error {
	err := r.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(database))
	if err == nil {
		return nil
	}
	// Two concurrent creators can race even with IF NOT EXISTS on old
	// servers; what matters is that the database exists now.
	rows, qerr := r.strings(ctx, "SELECT name FROM system.databases WHERE name = "+quoteString(database))
	if qerr == nil && len(rows) == 1 {
		return nil
	}
	return fmt.Errorf("create database %s: %w", database, err)
}

// lockMigrations takes the migration lock (see Migrate) and returns the
// function that releases it.
func lockMigrations(ctx context.Context, r runner, database string, timeout time.Duration) (func(), error) {
	lock := quoteIdent(database) + ".schema_migrations_lock"
	owner := lockOwner()
	expired := time.NewTimer(timeout)
	defer expired.Stop()
	for attempt := 0; ; attempt++ {
		err := r.exec(ctx, "CREATE TABLE "+lock+" (owner String, acquired_at DateTime('UTC') DEFAULT now()) ENGINE = Memory")
		if err == nil {
			// Best effort: the owner only makes a stale lock easier to explain.
			rec := &insert{table: "schema_migrations_lock"}
			rec.col("owner", []string{owner})
			_ = r.insert(ctx, quoteIdent(database), rec)
			return func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				_ = r.exec(rctx, "DROP TABLE IF EXISTS "+lock)
			}, nil
		}
		held, herr := r.strings(ctx, "SELECT name FROM system.tables WHERE database = "+quoteString(database)+
			" AND name = 'schema_migrations_lock'")
		if herr == nil && len(held) == 0 && attempt >= 3 {
			// The table does not exist, yet creating it fails: a real error.
			return nil, fmt.Errorf("take migration lock %s: %w", lock, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for migration lock %s: %w", lock, ctx.Err())
		case <-expired.C:
			holder := "unknown"
			if rows, qerr := r.strings(ctx, "SELECT owner, toString(acquired_at) FROM "+lock); qerr == nil && len(rows) > 0 {
				holder = rows[0][0] + " since " + rows[0][1] + " UTC"
			}
			return nil, fmt.Errorf("migration lock %s held by %s for longer than %v; "+
				"if no migration is running, DROP TABLE %s and retry: %w", lock, holder, timeout, lock, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func lockOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s pid %d (%s)", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// splitStatements splits SQL text at semicolons that are outside string
// literals, quoted identifiers and comments, and drops empty statements
// (including those that are only comments).
func splitStatements(src string) []string {
	var out []string
	start := 0
	meaningful := false
	flush := func(end int) {
		if meaningful {
			out = append(out, strings.TrimSpace(src[start:end]))
		}
		start, meaningful = end+1, false
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				i = len(src)
			} else {
				i += end + 3
			}
		case c == '\'' || c == '"' || c == '`':
			meaningful = true
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case c == ';':
			flush(i)
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			meaningful = true
		}
	}
	flush(len(src))
	return out
}

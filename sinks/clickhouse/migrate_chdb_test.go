//go:build chdb

// This file proves that every migration, analyst view and reader query runs
// on ClickHouse 26.x, embedded through chDB, with the same results as on the
// 18.16 server (TestFixture). It needs libchdb.so (bash deploy/chdb.sh):
//
//	source build/services/chdb.env   # exports CHDB_LIB_PATH
//	CHDB_LIB_PATH=$CHDB_LIB_PATH go test -count=1 -tags chdb ./sinks/clickhouse/ -run Chdb
//
// chdb-go panics while loading when it cannot find the library, so the
// build tag keeps it out of ordinary test runs.

package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chdb-io/chdb-go/chdb"
)

// chdbRunner runs SQL text on an embedded chDB session.
type chdbRunner struct{ s *chdb.Session }

func (r chdbRunner) query(q string) (string, error) {
	res, err := r.s.Query(q, "TSV")
	if err != nil {
		return "", err
	}
	if res == nil {
		return "", nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return "", err
	}
	return res.String(), nil
}

func (r chdbRunner) exec(_ context.Context, q string) error {
	_, err := r.query(q)
	return err
}

func (r chdbRunner) strings(ctx context.Context, q string) ([][]string, error) { return r.text(ctx, q) }

func (r chdbRunner) text(_ context.Context, q string) ([][]string, error) {
	out, err := r.query(q)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" && out == "" {
			break
		}
		cells := strings.Split(line, "\t")
		for i, c := range cells {
			cells[i] = unescapeTSV(c)
		}
		rows = append(rows, cells)
	}
	return rows, nil
}

func (r chdbRunner) insert(ctx context.Context, db string, in *insert) error {
	return r.exec(ctx, valuesSQL(db, in))
}

func unescapeTSV(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case '0':
			b.WriteByte(0)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func TestChdbFixture(t *testing.T) {
	s, err := chdb.NewSession(t.TempDir())
	if err != nil {
		t.Fatalf("chdb session: %v", err)
	}
	t.Cleanup(s.Close)
	r := chdbRunner{s}
	ctx := context.Background()

	ver, err := r.text(ctx, "SELECT version()")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chDB ClickHouse %s", ver[0][0])
	if !strings.HasPrefix(ver[0][0], "2") {
		t.Errorf("expected a 2x.y ClickHouse in chDB, got %s", ver[0][0])
	}

	const database = "cf_chdb"
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, m := range ms {
		all = append(all, m.name)
	}
	applied, err := migrate(ctx, r, database, time.Minute)
	if err != nil {
		t.Fatalf("migrate on chDB: %v", err)
	}
	if !slices.Equal(applied, all) {
		t.Errorf("first migrate applied %v, want %v", applied, all)
	}
	again, err := migrate(ctx, r, database, time.Minute)
	if err != nil || len(again) != 0 {
		t.Errorf("second migrate = %v, %v; want nothing applied", again, err)
	}
	rec, err := r.text(ctx, "SELECT name FROM "+quoteIdent(database)+".schema_migrations FINAL ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rec); got != fmt.Sprint(wrap(all)) {
		t.Errorf("schema_migrations = %s, want %v", got, all)
	}

	for _, in := range fixtureInserts(t) {
		if err := r.insert(ctx, quoteIdent(database), in); err != nil {
			t.Fatalf("insert into %s: %v", in.table, err)
		}
	}
	runChecks(t, ctx, r, quoteIdent(database))
}

func wrap(ss []string) [][]string {
	out := make([][]string, len(ss))
	for i, s := range ss {
		out[i] = []string{s}
	}
	return out
}

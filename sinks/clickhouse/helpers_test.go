package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
)

// serverAddr returns CLICKHOUSE_ADDR. When it is unset the test fails under
// CI=true and otherwise logs and reports false, and the caller returns: an
// integration test never pretends (STYLE 13) and never calls t.Skip.
func serverAddr(tb testing.TB) (string, bool) {
	tb.Helper()
	addr := os.Getenv("CLICKHOUSE_ADDR")
	if addr != "" {
		return addr, true
	}
	const how = "start one with `bash .ci/services.sh` and `source build/services/services.env`"
	if os.Getenv("CI") == "true" {
		tb.Fatal("CLICKHOUSE_ADDR not set: the ClickHouse integration tests need a server; " + how)
	}
	tb.Log("CLICKHOUSE_ADDR not set: ClickHouse integration test not run; " + how)
	return "", false
}

// testDatabase returns a fresh database name, cf_test_<random>.
func testDatabase(tb testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "cf_test_" + hex.EncodeToString(b[:])
}

// openTest opens a client on its own database (not yet created) and drops
// the database when the test ends.
func openTest(tb testing.TB, addr string, edit func(*Config)) *Client {
	tb.Helper()
	cfg := Config{Addr: []string{addr}, Database: testDatabase(tb)}
	if edit != nil {
		edit(&cfg)
	}
	c, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+c.db); err != nil {
			tb.Errorf("drop test database %s: %v", c.cfg.Database, err)
		}
		if err := c.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return c
}

// migrated returns a client whose test database is migrated, or nil (and
// the test should return) when no server is configured.
func migrated(tb testing.TB) *Client {
	tb.Helper()
	addr, ok := serverAddr(tb)
	if !ok {
		return nil
	}
	c := openTest(tb, addr, nil)
	if _, err := c.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return c
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// textRunner runs any query and returns its cells as text: the native
// client in the integration tests, chdb in the 26.x test.
type textRunner interface {
	text(ctx context.Context, query string) ([][]string, error)
}

// nativeText renders native query results as text in the form
// clickhouse-client prints them, so that the same expectations hold for
// 18.16 (native) and 26.x (chdb, TSV).
type nativeText struct{ conn driver.Conn }

func (n nativeText) text(ctx context.Context, query string) ([][]string, error) {
	rows, err := n.conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out [][]string
	for rows.Next() {
		ptrs := make([]any, len(types))
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(types))
		for i, p := range ptrs {
			row[i] = formatCell(types[i].DatabaseTypeName(), reflect.ValueOf(p).Elem().Interface())
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func formatCell(dbType string, v any) string {
	switch v := v.(type) {
	case string:
		return v
	case time.Time:
		if dbType == "Date" {
			return v.UTC().Format(time.DateOnly)
		}
		return v.UTC().Format(time.DateTime)
	case decimal.Decimal:
		return v.String()
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = "'" + s + "'"
		}
		return "[" + strings.Join(q, ",") + "]"
	case []int64:
		q := make([]string, len(v))
		for i, n := range v {
			q[i] = strconv.FormatInt(n, 10)
		}
		return "[" + strings.Join(q, ",") + "]"
	}
	return fmt.Sprint(v)
}

// normCell makes equal values print equally across versions: decimals lose
// trailing fractional zeros (26.x prints "1.5", 18.16 "1.500000") and the
// zero DateTime prints as 1970 (18.16 prints "0000-00-00 00:00:00").
func normCell(s string) string {
	switch s {
	case "0000-00-00 00:00:00":
		return "1970-01-01 00:00:00"
	case "0000-00-00":
		return "1970-01-01"
	}
	if i := strings.IndexByte(s, '.'); i > 0 && isNumber(s) {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
		if s == "-0" {
			s = "0"
		}
	}
	return s
}

func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	dot := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '.':
			dot++
		case s[i] < '0' || s[i] > '9':
			return false
		}
	}
	return dot == 1 && len(s) > 1
}

func normRows(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, c := range r {
			out[i][j] = normCell(c)
		}
	}
	return out
}

// valuesSQL renders in as INSERT … VALUES with literals, for servers reached
// by SQL text only (chdb).
func valuesSQL(db string, in *insert) string {
	var b strings.Builder
	b.WriteString(in.head(db))
	b.WriteString(" VALUES")
	for r := range in.rows() {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" (")
		for c, v := range in.vals {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(literal(reflect.ValueOf(v).Index(r).Interface()))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func literal(v any) string {
	switch v := v.(type) {
	case string:
		return quoteString(v)
	case []string:
		return "[" + quoteStrings(v) + "]"
	case []int64:
		q := make([]string, len(v))
		for i, n := range v {
			q[i] = strconv.FormatInt(n, 10)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v) // integers
}

func diffRows(t *testing.T, name string, got, want [][]string) {
	t.Helper()
	if d := cmp.Diff(normRows(want), normRows(got)); d != "" {
		t.Errorf("%s (-want +got):\n%s", name, d)
	}
}

package clickhouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says where and how to reach ClickHouse. The zero value is usable:
// it reaches the default user of a server on 127.0.0.1:9000 and uses the
// database "creditflow".
type Config struct {
	// Addr lists native-protocol addresses (host:port); empty means
	// ["127.0.0.1:9000"]. The HTTP protocol is not supported.
	Addr []string
	// Database holds every table and view; empty means "creditflow". It must
	// match [A-Za-z_][A-Za-z0-9_]* (at most 64 bytes). Open does not create
	// it; Migrate does.
	Database string
	// Username is the ClickHouse user; empty means "default".
	Username string
	// Password is the user's password; empty means none.
	Password string
	// TLS, when not nil, makes the native connection use TLS with this
	// configuration.
	TLS *tls.Config
	// DialTimeout bounds connecting to a server; zero means 5s.
	DialTimeout time.Duration
	// Settings are ClickHouse settings sent with every query, for example
	// {"max_execution_time": 60}. Nil means none. The server must know
	// them: ClickHouse 18.16 rejects settings it predates.
	Settings map[string]any
	// LockTimeout bounds how long Migrate waits for another migrator to
	// release the migration lock; zero means 2m.
	LockTimeout time.Duration
	// Compression of data blocks on the wire: "lz4" (empty means lz4) or
	// "none". LZ4 saves network bandwidth; with ClickHouse on the same
	// host "none" saves both sides the CPU of compressing.
	Compression string
}

// Defaults applied by Open to zero Config fields.
const (
	DefaultAddr        = "127.0.0.1:9000"
	DefaultDatabase    = "creditflow"
	DefaultUsername    = "default"
	DefaultDialTimeout = 5 * time.Second
	DefaultLockTimeout = 2 * time.Minute
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func (cfg Config) withDefaults() Config {
	if len(cfg.Addr) == 0 {
		cfg.Addr = []string{DefaultAddr}
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.Username == "" {
		cfg.Username = DefaultUsername
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.LockTimeout == 0 {
		cfg.LockTimeout = DefaultLockTimeout
	}
	if cfg.Compression == "" {
		cfg.Compression = "lz4"
	}
	return cfg
}

func (cfg Config) validate() error {
	var errs []error
	for i, a := range cfg.Addr {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, fmt.Errorf("Addr[%d] is empty", i))
		}
	}
	if !identRE.MatchString(cfg.Database) {
		errs = append(errs, fmt.Errorf("Database %q must match %s", cfg.Database, identRE))
	}
	if cfg.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("DialTimeout %v is negative", cfg.DialTimeout))
	}
	if cfg.LockTimeout < 0 {
		errs = append(errs, fmt.Errorf("LockTimeout %v is negative", cfg.LockTimeout))
	}
	if cfg.Compression != "lz4" && cfg.Compression != "none" {
		errs = append(errs, fmt.Errorf("Compression %q: want lz4 or none", cfg.Compression))
	}
	return errors.Join(errs...)
}

// Client reads and writes creditflow's ClickHouse tables over the native
// protocol. It is safe for concurrent use; each call takes a pooled
// connection. Create it with Open; it must be closed with Close.
type Client struct {
	conn driver.Conn
	cfg  Config
	db   string // quoted database name, ready for SQL
	bufs buffers
}

// Open validates cfg (reporting every problem at once) and prepares a
// connection pool (LZ4-compressed unless Config.Compression says none). It does not dial: the first call
// that needs the server does, so use Ping to check the server is reachable.
// Open never creates the database; Migrate does.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("clickhouse config: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	opts := &ch.Options{
		Protocol: ch.Native,
		Addr:     cfg.Addr,
		// No default database: Open must work before Migrate created it,
		// and every statement names the database explicitly.
		Auth:        ch.Auth{Username: cfg.Username, Password: cfg.Password},
		TLS:         cfg.TLS,
		DialTimeout: cfg.DialTimeout,
		Settings:    ch.Settings(cfg.Settings),
		Compression: compression(cfg.Compression),
		ClientInfo: ch.ClientInfo{Products: []struct{ Name, Version string }{
			{Name: "creditflow", Version: "1"},
		}},
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse at %s: %w", strings.Join(cfg.Addr, ","), err)
	}
	return &Client{conn: conn, cfg: cfg, db: quoteIdent(cfg.Database)}, nil
}

// Close releases the connection pool. Calls after Close fail.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("close clickhouse: %w", err)
	}
	return nil
}

// Ping checks that a server answers with the configured credentials. The
// error names the addresses and the user.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse at %s as user %q: %w",
			strings.Join(c.cfg.Addr, ","), c.cfg.Username, err)
	}
	return nil
}

// Database returns the name of the database the client uses.
func (c *Client) Database() string { return c.cfg.Database }

// nativeRunner runs SQL text over the native protocol; Migrate uses it so
// that the same migration logic also runs over chdb in tests.
type nativeRunner struct{ conn driver.Conn }

func (r nativeRunner) exec(ctx context.Context, query string) error {
	return r.conn.Exec(ctx, query)
}

// strings runs a query whose columns are all String and returns its rows.
func (r nativeRunner) strings(ctx context.Context, query string) ([][]string, error) {
	rows, err := r.conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := len(rows.Columns())
	var out [][]string
	for rows.Next() {
		row := make([]string, n)
		ptrs := make([]any, n)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func (r nativeRunner) insert(ctx context.Context, db string, in *insert) error {
	return sendBatch(ctx, r.conn, db, in, nil)
}

// send runs one INSERT of in as a single native block: one part, all or
// nothing (the tables that must be atomic have no PARTITION BY).
func (c *Client) send(ctx context.Context, in *insert) error {
	return sendBatch(ctx, c.conn, c.db, in, &c.bufs)
}

// sendBatch inserts in as one block. (An INSERT … VALUES through Exec
// hangs on 18.16: the server waits for a data block that clickhouse-go
// never sends, so every insert goes through a batch.)
// Column buffers are sized for the values up front (see presize) and, with
// bufs, taken from and given back to it.
func sendBatch(ctx context.Context, conn driver.Conn, db string, in *insert, bufs *buffers) error {
	b, err := conn.PrepareBatch(ctx, in.head(db))
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", in.table, err)
	}
	cols := b.Columns()
	for i, v := range in.vals {
		if i < len(cols) {
			presize(cols[i], v, bufs.take(in.table, in.cols[i]))
		}
		if err := b.Column(i).Append(v); err != nil {
			_ = b.Abort()
			return fmt.Errorf("insert into %s: column %s: %w", in.table, in.cols[i], err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", in.rows(), in.table, err)
	}
	for i, c := range cols {
		if i < len(in.cols) {
			bufs.give(in.table, in.cols[i], c)
		}
	}
	return nil
}

func compression(name string) *ch.Compression {
	if name == "none" {
		return &ch.Compression{Method: ch.CompressionNone}
	}
	return &ch.Compression{Method: ch.CompressionLZ4}
}

package clickhouse

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := Open(ctx, Config{Addr: []string{"h:1", " "}, Database: "bad-name", DialTimeout: -1, LockTimeout: -time.Second})
	if err == nil {
		t.Fatal("Open accepted an invalid config")
	}
	for _, want := range []string{"Addr[1] is empty", `Database "bad-name"`, "DialTimeout -1ns", "LockTimeout -1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q", err, want)
		}
	}

	c, err := Open(ctx, Config{})
	if err != nil {
		t.Fatalf("Open with defaults: %v", err)
	}
	defer c.Close()
	want := Config{Addr: []string{DefaultAddr}, Database: DefaultDatabase, Username: DefaultUsername,
		DialTimeout: DefaultDialTimeout, LockTimeout: DefaultLockTimeout}
	if got := c.cfg; got.Addr[0] != want.Addr[0] || got.Database != want.Database || got.Username != want.Username ||
		got.DialTimeout != want.DialTimeout || got.LockTimeout != want.LockTimeout {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
}

func TestQuoteString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":      `'plain'`,
		`it's`:       `'it\'s'`,
		`back\`:      `'back\\'`,
		"nul\x00":    `'nul\0'`,
		"tab\tnew\n": `'tab\tnew\n'`,
	} {
		if got := quoteString(in); got != want {
			t.Errorf("quoteString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestPingFailure(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1; Open does not dial, Ping does.
	c, err := Open(context.Background(), Config{Addr: []string{"127.0.0.1:1"}, DialTimeout: time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	err = c.Ping(ctxT(t))
	if err == nil {
		t.Fatal("Ping succeeded with no server")
	}
	if !strings.Contains(err.Error(), `ping clickhouse at 127.0.0.1:1 as user "default"`) {
		t.Errorf("Ping error does not say what failed: %v", err)
	}
}

func TestUserPassword(t *testing.T) {
	t.Parallel()
	addr, ok := serverAddr(t)
	if !ok {
		return
	}
	ctx := ctxT(t)
	c := openTest(t, addr, func(cfg *Config) { cfg.Username, cfg.Password = "creditflow", "creditflow" })
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping as creditflow: %v", err)
	}
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatalf("Migrate as creditflow: %v", err)
	}
	if _, _, ok, err := c.CommittedOffset(ctx, "usage", 0); err != nil || ok {
		t.Errorf("CommittedOffset on a fresh database = ok %v, %v", ok, err)
	}

	bad, err := Open(ctx, Config{Addr: []string{addr}, Username: "creditflow", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Ping(ctx)
	if err == nil {
		t.Fatal("Ping with a wrong password succeeded")
	}
	if !strings.Contains(err.Error(), `as user "creditflow"`) {
		t.Errorf("error does not name the user: %v", err)
	}
	t.Logf("wrong password: %v", err)
}

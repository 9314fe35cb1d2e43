package kafka

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/creditflow/creditflow/schemas"
)

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	got := Config{}.WithDefaults()
	want := Config{
		Brokers:  []string{"127.0.0.1:9092"},
		ClientID: "creditflow",
		Topics: Topics{
			Events: "usage.events", Grants: "credit.grants", Alerts: "usage.alerts",
			Entitlements: "tenant.entitlements", DeadLetter: "usage.deadletter", Closes: "billing.closes",
		},
		Partitions:        6,
		ReplicationFactor: 1,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b *tls.Config) bool { return a == b })); diff != "" {
		t.Errorf("WithDefaults (-want +got):\n%s", diff)
	}
	kept := Config{Brokers: []string{"k:1"}, Topics: Topics{Alerts: "a"}, Partitions: 2}.WithDefaults()
	if kept.Brokers[0] != "k:1" || kept.Topics.Alerts != "a" || kept.Partitions != 2 || kept.Topics.Grants != "credit.grants" {
		t.Errorf("WithDefaults overwrote set fields: %v", kept)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{name: "zero", cfg: Config{}},
		{name: "scram", cfg: Config{SASL: SASL{Mechanism: "SCRAM-SHA-512", User: "u", Password: "p"}}},
		{name: "unknown mechanism", cfg: Config{SASL: SASL{Mechanism: "GSSAPI", User: "u", Password: "p"}},
			want: []string{`sasl mechanism "GSSAPI"`}},
		{name: "plain without user and password", cfg: Config{SASL: SASL{Mechanism: "PLAIN"}},
			want: []string{"sasl PLAIN: user is empty", "sasl PLAIN: password is empty"}},
		{name: "credentials without mechanism", cfg: Config{SASL: SASL{User: "u"}},
			want: []string{"without a mechanism"}},
		{name: "everything wrong at once",
			cfg: Config{Brokers: []string{" "}, Partitions: -1, ReplicationFactor: -2,
				Topics: Topics{Alerts: "bad topic", Grants: "usage.events", Closes: strings.Repeat("x", 250)}},
			want: []string{"brokers[0] is empty", "partitions -1", "replication factor -2",
				`topics.alerts: topic name "bad topic"`, `topics.grants: "usage.events" is also topics.events`,
				"topics.closes: topic name", "longer than 249"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: nil error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate error %q does not contain %q", err, w)
				}
			}
			if _, err := NewProducer(tt.cfg); err == nil {
				t.Error("NewProducer accepted an invalid config")
			}
			if _, err := tt.cfg.ClientOptions(); err == nil {
				t.Error("ClientOptions accepted an invalid config")
			}
		})
	}
}

func TestClientOptions(t *testing.T) {
	t.Parallel()
	tlsCfg := &tls.Config{ServerName: "kafka.example", MinVersion: tls.VersionTLS12}
	tests := []struct {
		name      string
		cfg       Config
		mechanism string // "" = no SASL option
		tls       bool
	}{
		{name: "plaintext", cfg: Config{}},
		{name: "tls", cfg: Config{TLS: tlsCfg}, tls: true},
		{name: "plain", cfg: Config{SASL: SASL{Mechanism: MechanismPlain, User: "u", Password: "p"}}, mechanism: "PLAIN"},
		{name: "scram-256 over tls", cfg: Config{TLS: tlsCfg, SASL: SASL{Mechanism: MechanismSCRAMSHA256, User: "u", Password: "p"}}, mechanism: "SCRAM-SHA-256", tls: true},
		{name: "scram-512", cfg: Config{Brokers: []string{"a:1", "b:2"}, ClientID: "me", SASL: SASL{Mechanism: MechanismSCRAMSHA512, User: "u", Password: "p"}}, mechanism: "SCRAM-SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts, err := tt.cfg.ClientOptions()
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			d := tt.cfg.WithDefaults()
			if got := cl.OptValue(kgo.SeedBrokers); !cmp.Equal(got, d.Brokers) {
				t.Errorf("seed brokers = %v, want %v", got, d.Brokers)
			}
			if got := cl.OptValue(kgo.ClientID); got != d.ClientID {
				t.Errorf("client id = %v, want %v", got, d.ClientID)
			}
			gotTLS, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config)
			if (gotTLS != nil) != tt.tls {
				t.Errorf("TLS config set = %t, want %t", gotTLS != nil, tt.tls)
			}
			if gotTLS != nil && gotTLS.ServerName != "kafka.example" {
				t.Errorf("TLS server name = %q", gotTLS.ServerName)
			}
			mechs, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
			var names []string
			for _, m := range mechs {
				names = append(names, m.Name())
			}
			var want []string
			if tt.mechanism != "" {
				want = []string{tt.mechanism}
			}
			if !cmp.Equal(names, want) {
				t.Errorf("SASL mechanisms = %v, want %v", names, want)
			}
		})
	}
}

// TestSecretsNeverShown formats and logs configs in every usual way and
// checks that the password never appears.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-pa55"
	cfg := Config{TLS: &tls.Config{}, SASL: SASL{Mechanism: MechanismSCRAMSHA512, User: "alice", Password: secret}}
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	log.Info().Object("kafka", cfg).Msg("config")
	log.Info().Object("sasl", cfg.SASL).Msg("sasl")
	log.Info().Stringer("kafka", cfg).Msg("stringer")
	forms := map[string]string{
		"%v":       fmt.Sprintf("%v", cfg),
		"%+v":      fmt.Sprintf("%+v", cfg),
		"%#v":      fmt.Sprintf("%#v", cfg),
		"%s":       fmt.Sprintf("%s", cfg),
		"sasl %v":  fmt.Sprintf("%v", cfg.SASL),
		"sasl %#v": fmt.Sprintf("%#v", cfg.SASL),
		"ptr %v":   fmt.Sprintf("%v", &cfg),
		"zerolog":  buf.String(),
	}
	for form, s := range forms {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the password: %s", form, s)
		}
		if !strings.Contains(s, "alice") || !strings.Contains(s, redacted) {
			t.Errorf("%s should name the user and show %s: %s", form, redacted, s)
		}
	}
	if s := (SASL{}).String(); s != "none" {
		t.Errorf("zero SASL String = %q, want none", s)
	}
}

// TestSASLAgainstFake authenticates with each mechanism against a kfake
// cluster that requires SASL, and checks that a wrong password is refused.
func TestSASLAgainstFake(t *testing.T) {
	t.Parallel()
	cfg := fakeConfig(t, kfake.EnableSASL(),
		kfake.Superuser(MechanismPlain, "plain-user", "pw1"),
		kfake.Superuser(MechanismSCRAMSHA256, "scram256-user", "pw2"),
		kfake.Superuser(MechanismSCRAMSHA512, "scram512-user", "pw3"))
	for _, s := range []SASL{
		{Mechanism: MechanismPlain, User: "plain-user", Password: "pw1"},
		{Mechanism: MechanismSCRAMSHA256, User: "scram256-user", Password: "pw2"},
		{Mechanism: MechanismSCRAMSHA512, User: "scram512-user", Password: "pw3"},
	} {
		t.Run(s.Mechanism, func(t *testing.T) {
			t.Parallel()
			c := cfg
			c.SASL = s
			if err := produceOneAlert(t, c, 10*time.Second); err != nil {
				t.Fatalf("produce with %s: %v", s.Mechanism, err)
			}
			c.SASL.Password = "wrong"
			err := produceOneAlert(t, c, 2*time.Second)
			if err == nil {
				t.Fatalf("produce with a wrong %s password succeeded", s.Mechanism)
			}
			t.Logf("wrong password: %v", err)
		})
	}
}

// TestTLSAgainstFake produces over TLS to a kfake cluster with a
// self-signed certificate.
func TestTLSAgainstFake(t *testing.T) {
	t.Parallel()
	serverCfg, roots := selfSigned(t)
	cfg := fakeConfig(t, kfake.TLS(serverCfg))
	cfg.TLS = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if err := produceOneAlert(t, cfg, 10*time.Second); err != nil {
		t.Fatalf("produce over TLS: %v", err)
	}
	cfg.TLS = &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	err := produceOneAlert(t, cfg, 2*time.Second)
	if err == nil {
		t.Fatal("produce with an untrusted certificate succeeded")
	}
	t.Logf("untrusted certificate: %v", err)
}

func produceOneAlert(t *testing.T, cfg Config, d time.Duration) error {
	p, err := NewProducer(cfg, kgo.RequestRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	return p.Alerts(testCtx(t, d), []schemas.Alert{{ID: "a", Type: schemas.AlertThreshold, Tenant: "t"}})
}

// selfSigned returns a server TLS config with a fresh certificate for
// 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfake"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}, pool
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewLogger(zerolog.New(&buf).Level(zerolog.InfoLevel))
	if l.Level() != kgo.LogLevelInfo {
		t.Errorf("level = %v, want INFO", l.Level())
	}
	l.Log(kgo.LogLevelWarn, "broker down", "broker", 1, "err", fmt.Errorf("boom"))
	l.Log(kgo.LogLevelDebug, "hidden")
	got := buf.String()
	for _, w := range []string{`"level":"warn"`, `"message":"broker down"`, `"broker":1`, `"err":"boom"`} {
		if !strings.Contains(got, w) {
			t.Errorf("log %q lacks %s", got, w)
		}
	}
	if strings.Contains(got, "hidden") {
		t.Errorf("debug message logged at info level: %q", got)
	}
	for zl, want := range map[zerolog.Level]kgo.LogLevel{
		zerolog.TraceLevel: kgo.LogLevelDebug, zerolog.DebugLevel: kgo.LogLevelDebug,
		zerolog.WarnLevel: kgo.LogLevelWarn, zerolog.ErrorLevel: kgo.LogLevelError,
		zerolog.Disabled: kgo.LogLevelNone,
	} {
		if got := NewLogger(zerolog.Nop().Level(zl)).Level(); got != want {
			t.Errorf("zerolog %v → %v, want %v", zl, got, want)
		}
	}
}

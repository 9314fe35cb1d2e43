package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/creditflow/creditflow/sinks/clickhouse"
	"github.com/creditflow/creditflow/sinks/kafka"
)

// runConfig is the configuration of `creditflow run`, `migrate` and the
// streaming close job. Every key can come from the config file (YAML), from
// the environment (CREDITFLOW_ + the upper-cased path with dots as
// underscores, e.g. CREDITFLOW_KAFKA_BROKERS=a:9092,b:9092 or
// CREDITFLOW_CLICKHOUSE_PASSWORD) and from flags, later sources winning.
// KAFKA_BROKERS and CLICKHOUSE_ADDR are read too, as the test scripts set
// them. Secrets are never logged.
type runConfig struct {
	Catalog  string         `yaml:"catalog"` // pricing catalog file; required
	Kafka    kafkaConfig    `yaml:"kafka"`
	Click    clickConfig    `yaml:"clickhouse"`
	Pipeline pipelineConfig `yaml:"pipeline"`
	Close    closeConfig    `yaml:"close"`
	Alerts   alertsConfig   `yaml:"alerts"`
	Log      logConfig      `yaml:"log"`
}

type alertsConfig struct {
	Webhook struct {
		URL       string `yaml:"url"`        // HTTPS endpoint alerts are POSTed to; empty means no webhook
		Secret    string `yaml:"secret"`     // HMAC-SHA256 signing key (a secret)
		AllowHTTP bool   `yaml:"allow_http"` // permit an http:// URL (local receivers, tests)
	} `yaml:"webhook"`
}

type kafkaConfig struct {
	Brokers    []string `yaml:"brokers"`   // seed brokers; default 127.0.0.1:9092
	ClientID   string   `yaml:"client_id"` // default creditflow
	Group      string   `yaml:"group"`     // consumer group; default creditflow
	Partitions int32    `yaml:"partitions"`
	// SessionTimeout is how long the group waits for a silent member
	// before moving its partitions; zero means franz-go's 45s.
	SessionTimeout duration `yaml:"session_timeout"`
	// InstanceID makes this process a static group member (KIP-345): a
	// restart within the session timeout gets its partitions back without
	// a rebalance.
	InstanceID string    `yaml:"instance_id"`
	TLS        tlsConfig `yaml:"tls"`
	SASL       struct {
		Mechanism string `yaml:"mechanism"` // "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
		User      string `yaml:"user"`
		Password  string `yaml:"password"` // secret
	} `yaml:"sasl"`
	Topics struct {
		Events       string `yaml:"events"`       // default usage.events
		Grants       string `yaml:"grants"`       // default credit.grants
		Alerts       string `yaml:"alerts"`       // default usage.alerts
		Entitlements string `yaml:"entitlements"` // default tenant.entitlements (compacted)
		DeadLetter   string `yaml:"deadletter"`   // default usage.deadletter
		Closes       string `yaml:"closes"`       // default billing.closes
	} `yaml:"topics"`
}

type clickConfig struct {
	Addr     []string  `yaml:"addr"`     // native protocol host:port; default 127.0.0.1:9000
	Database string    `yaml:"database"` // default creditflow
	User     string    `yaml:"user"`     // default "default"
	Password string    `yaml:"password"` // secret
	TLS      tlsConfig `yaml:"tls"`
	// Compression: lz4 (default) or none (ClickHouse on the same host).
	Compression string `yaml:"compression"`
}

type tlsConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

type pipelineConfig struct {
	Window        duration `yaml:"window"`         // default 1m
	OutOfOrder    duration `yaml:"out_of_order"`   // default 10s
	MaxEventAge   duration `yaml:"max_event_age"`  // default 840h (35 days)
	MaxFuture     duration `yaml:"max_future"`     // default 5m
	DedupHorizon  duration `yaml:"dedup_horizon"`  // default 24h
	FlushInterval duration `yaml:"flush_interval"` // default 500ms
	FlushRecords  int      `yaml:"flush_records"`  // default 100000
	// CheckpointInterval: how often tenant states are stored; default 10s,
	// negative means with every flush.
	CheckpointInterval duration `yaml:"checkpoint_interval"`
	NoRunaway          bool     `yaml:"no_runaway"`
}

type closeConfig struct {
	Schedule string   `yaml:"schedule"`  // robfig/cron spec; default "@every 1m"
	Grace    duration `yaml:"grace"`     // default 1h
	FilesDir string   `yaml:"files_dir"` // Parquet/CSV per close run; empty means none
	Disabled bool     `yaml:"disabled"`  // do not run the close job in this process
}

type logConfig struct {
	Level string `yaml:"level"` // debug, info, warn, error; default info
}

// duration is a time.Duration that YAML and env write as "1m30s".
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 500ms or 1m", n.Line, n.Value)
	}
	*d = duration(v)
	return nil
}

func (d duration) or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// loadRunConfig reads the file (if any), then the environment, then flags.
func loadRunConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (*runConfig, error) {
	var cfg runConfig
	path := fs.String("config", "", "config file (YAML); see docs/CONFIG.md for every key")
	catalogFlag := fs.String("catalog", "", "pricing catalog (overrides the config's catalog)")
	brokers := fs.String("brokers", "", "Kafka seed brokers, comma separated (overrides kafka.brokers)")
	chAddr := fs.String("clickhouse", "", "ClickHouse native address(es) (overrides clickhouse.addr)")
	database := fs.String("database", "", "ClickHouse database (overrides clickhouse.database)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if *path != "" {
		b, err := os.ReadFile(*path)
		if err != nil {
			return nil, usageError{err}
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("config %s: %w", *path, err)
		}
	}
	if v := getenv("KAFKA_BROKERS"); v != "" {
		cfg.Kafka.Brokers = strings.Split(v, ",")
	}
	if v := getenv("CLICKHOUSE_ADDR"); v != "" {
		cfg.Click.Addr = strings.Split(v, ",")
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "CREDITFLOW", getenv); err != nil {
		return nil, err
	}
	if *catalogFlag != "" {
		cfg.Catalog = *catalogFlag
	}
	if *brokers != "" {
		cfg.Kafka.Brokers = strings.Split(*brokers, ",")
	}
	if *chAddr != "" {
		cfg.Click.Addr = strings.Split(*chAddr, ",")
	}
	if *database != "" {
		cfg.Click.Database = *database
	}
	return &cfg, nil
}

// applyEnv sets every field whose CREDITFLOW_… variable is set.
func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	var errs []error
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			errs = append(errs, applyEnv(fv, name, getenv))
			continue
		}
		s := getenv(name)
		if s == "" {
			continue
		}
		if err := setFromString(fv, s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func setFromString(fv reflect.Value, s string) error {
	switch fv.Interface().(type) {
	case duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(duration(d)))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Int16:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case reflect.Slice:
		fv.Set(reflect.ValueOf(strings.Split(s, ",")))
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

func (t tlsConfig) build() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no certificate found", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func (c *runConfig) kafka() (kafka.Config, error) {
	tlsCfg, err := c.Kafka.TLS.build()
	if err != nil {
		return kafka.Config{}, fmt.Errorf("kafka: %w", err)
	}
	k := kafka.Config{
		Brokers: c.Kafka.Brokers, ClientID: c.Kafka.ClientID, TLS: tlsCfg, Partitions: c.Kafka.Partitions,
		SASL: kafka.SASL{Mechanism: c.Kafka.SASL.Mechanism, User: c.Kafka.SASL.User, Password: c.Kafka.SASL.Password},
		Topics: kafka.Topics{
			Events: c.Kafka.Topics.Events, Grants: c.Kafka.Topics.Grants, Alerts: c.Kafka.Topics.Alerts,
			Entitlements: c.Kafka.Topics.Entitlements, DeadLetter: c.Kafka.Topics.DeadLetter, Closes: c.Kafka.Topics.Closes,
		},
	}.WithDefaults()
	return k, k.Validate()
}

func (c *runConfig) clickhouse() (clickhouse.Config, error) {
	tlsCfg, err := c.Click.TLS.build()
	if err != nil {
		return clickhouse.Config{}, fmt.Errorf("clickhouse: %w", err)
	}
	return clickhouse.Config{Addr: c.Click.Addr, Database: c.Click.Database, Username: c.Click.User, Password: c.Click.Password, TLS: tlsCfg,
		Compression: c.Click.Compression}, nil
}

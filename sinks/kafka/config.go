package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Default values of Config and Topics.
const (
	DefaultBroker            = "127.0.0.1:9092"
	DefaultClientID          = "creditflow"
	DefaultPartitions        = int32(6)
	DefaultReplicationFactor = int16(1)

	DefaultEventsTopic       = "usage.events"
	DefaultGrantsTopic       = "credit.grants"
	DefaultAlertsTopic       = "usage.alerts"
	DefaultEntitlementsTopic = "tenant.entitlements"
	DefaultDeadLetterTopic   = "usage.deadletter"
	DefaultClosesTopic       = "billing.closes"
)

// SASL mechanisms accepted in SASL.Mechanism.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Topics names creditflow's Kafka topics (SPEC 4). An empty name means the
// default given on the field. Every name must be a legal Kafka topic name
// (1–249 bytes of [A-Za-z0-9._-]) and the six must differ.
type Topics struct {
	Events       string // usage events in; default "usage.events"
	Grants       string // grant events in; default "credit.grants"
	Alerts       string // alerts out; default "usage.alerts"
	Entitlements string // entitlement states out, compacted; default "tenant.entitlements"
	DeadLetter   string // refused input records out; default "usage.deadletter"
	Closes       string // period closes out; default "billing.closes"
}

// All returns the six topic names in the order of the Topics fields.
func (t Topics) All() []string {
	return []string{t.Events, t.Grants, t.Alerts, t.Entitlements, t.DeadLetter, t.Closes}
}

// SASL holds SASL credentials. The zero value means no SASL. Password is a
// secret: String, GoString and MarshalZerologObject never show it, nor do the
// same methods of Config.
type SASL struct {
	Mechanism string // "" (no SASL), "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512"
	User      string // required with a mechanism
	Password  string // required with a mechanism; never logged
}

const redacted = "[redacted]"

// String describes s without its password, e.g.
// "SCRAM-SHA-512 user=alice password=[redacted]", or "none".
func (s SASL) String() string {
	if s.Mechanism == "" && s.User == "" && s.Password == "" {
		return "none"
	}
	pw := ""
	if s.Password != "" {
		pw = redacted
	}
	return fmt.Sprintf("%s user=%q password=%s", s.Mechanism, s.User, pw)
}

// GoString is String, so that %#v does not print the password either.
func (s SASL) GoString() string { return "kafka.SASL{" + s.String() + "}" }

// MarshalZerologObject logs the mechanism and user; a set password shows as
// "[redacted]".
func (s SASL) MarshalZerologObject(e *zerolog.Event) {
	e.Str("mechanism", s.Mechanism).Str("user", s.User)
	if s.Password != "" {
		e.Str("password", redacted)
	}
}

// Config says how to reach Kafka and which topics to use. The zero value
// talks plaintext to 127.0.0.1:9092 with the default topic names. Every
// constructor and function of this package applies the defaults and
// validates the result (WithDefaults, Validate).
type Config struct {
	Brokers           []string    // seed brokers, host:port; default ["127.0.0.1:9092"]
	ClientID          string      // Kafka client id; default "creditflow"
	TLS               *tls.Config // nil means plaintext
	SASL              SASL        // zero means no SASL
	Topics            Topics      // zero fields take their defaults
	Partitions        int32       // partitions of topics that EnsureTopics creates; 0 means 6
	ReplicationFactor int16       // replication factor of topics that EnsureTopics creates; 0 means 1
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if len(c.Brokers) == 0 {
		c.Brokers = []string{DefaultBroker}
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = DefaultReplicationFactor
	}
	t := &c.Topics
	for _, f := range []struct {
		p   *string
		def string
	}{
		{&t.Events, DefaultEventsTopic},
		{&t.Grants, DefaultGrantsTopic},
		{&t.Alerts, DefaultAlertsTopic},
		{&t.Entitlements, DefaultEntitlementsTopic},
		{&t.DeadLetter, DefaultDeadLetterTopic},
		{&t.Closes, DefaultClosesTopic},
	} {
		if *f.p == "" {
			*f.p = f.def
		}
	}
	return c
}

// Validate reports every problem of c (after WithDefaults) at once.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	for i, b := range c.Brokers {
		if strings.TrimSpace(b) == "" {
			errs = append(errs, fmt.Errorf("brokers[%d] is empty", i))
		}
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("partitions %d: must be > 0", c.Partitions))
	}
	if c.ReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("replication factor %d: must be > 0", c.ReplicationFactor))
	}
	switch c.SASL.Mechanism {
	case "":
		if c.SASL.User != "" || c.SASL.Password != "" {
			errs = append(errs, errors.New("sasl: user or password set without a mechanism"))
		}
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		if c.SASL.User == "" {
			errs = append(errs, fmt.Errorf("sasl %s: user is empty", c.SASL.Mechanism))
		}
		if c.SASL.Password == "" {
			errs = append(errs, fmt.Errorf("sasl %s: password is empty", c.SASL.Mechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("sasl mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASL.Mechanism))
	}
	names := []string{"events", "grants", "alerts", "entitlements", "deadletter", "closes"}
	seen := make(map[string]string, 6)
	for i, t := range c.Topics.All() {
		if err := checkTopicName(t); err != nil {
			errs = append(errs, fmt.Errorf("topics.%s: %w", names[i], err))
			continue
		}
		if other, dup := seen[t]; dup {
			errs = append(errs, fmt.Errorf("topics.%s: %q is also topics.%s", names[i], t, other))
		}
		seen[t] = names[i]
	}
	return errors.Join(errs...)
}

// checkTopicName applies Kafka's rules for topic names.
func checkTopicName(t string) error {
	if len(t) > 249 {
		return fmt.Errorf("topic name %.20q… is longer than 249 bytes", t)
	}
	if t == "." || t == ".." {
		return fmt.Errorf("topic name %q is not allowed", t)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q: byte %q is not one of [A-Za-z0-9._-]", t, c)
		}
	}
	return nil
}

// ready applies the defaults and validates.
func (c Config) ready() (Config, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("kafka config: %w", err)
	}
	return c, nil
}

// ClientOptions returns the franz-go options that connect to the cluster of
// c: seed brokers, client id, TLS and SASL. It applies the defaults and
// fails when c does not validate. Callers append their own options (consumer
// group, logger, …) after these.
func (c Config) ClientOptions() ([]kgo.Opt, error) {
	c, err := c.ready()
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID(c.ClientID)}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS.Clone()))
	}
	switch c.SASL.Mechanism {
	case MechanismPlain:
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsMechanism()))
	case MechanismSCRAMSHA256:
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsSha256Mechanism()))
	case MechanismSCRAMSHA512:
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.User, Pass: c.SASL.Password}.AsSha512Mechanism()))
	}
	return opts, nil
}

// String describes c without secrets.
func (c Config) String() string {
	return fmt.Sprintf("brokers=%v client_id=%q tls=%t sasl={%s} topics=%v partitions=%d replication_factor=%d",
		c.Brokers, c.ClientID, c.TLS != nil, c.SASL, c.Topics, c.Partitions, c.ReplicationFactor)
}

// GoString is String, so that %#v does not print the password either.
func (c Config) GoString() string { return "kafka.Config{" + c.String() + "}" }

// MarshalZerologObject logs c without secrets.
func (c Config) MarshalZerologObject(e *zerolog.Event) {
	e.Strs("brokers", c.Brokers).
		Str("client_id", c.ClientID).
		Bool("tls", c.TLS != nil).
		Object("sasl", c.SASL).
		Strs("topics", c.Topics.All()).
		Int32("partitions", c.Partitions).
		Int16("replication_factor", c.ReplicationFactor)
}

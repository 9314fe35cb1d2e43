package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// suffix returns a random suffix that keeps parallel tests apart.
func suffix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random suffix: %v", err)
	}
	return hex.EncodeToString(b[:])
}

// testTopics returns the six topic names with a random suffix.
func testTopics(t testing.TB) Topics {
	s := "." + suffix(t)
	return Topics{
		Events:       DefaultEventsTopic + s,
		Grants:       DefaultGrantsTopic + s,
		Alerts:       DefaultAlertsTopic + s,
		Entitlements: DefaultEntitlementsTopic + s,
		DeadLetter:   DefaultDeadLetterTopic + s,
		Closes:       DefaultClosesTopic + s,
	}
}

// fakeConfig starts a one-broker kfake cluster with the default topics
// (3 partitions each, the entitlements topic compacted) and returns a Config
// for it.
func fakeConfig(t testing.TB, opts ...kfake.Opt) Config {
	t.Helper()
	cfg := Config{}.WithDefaults()
	base := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, cfg.Topics.All()...)}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	cfg.Brokers = c.ListenAddrs()
	return cfg
}

// testCtx returns a context that ends with the test or after d.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// client returns a plain franz-go client for cfg, closed with the test.
func client(t testing.TB, cfg Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base, err := cfg.ClientOptions()
	if err != nil {
		t.Fatalf("client options: %v", err)
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// consumeAll reads topic from the start until n records have arrived.
func consumeAll(t testing.TB, cfg Config, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := client(t, cfg, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t, 30*time.Second)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: got %d of %d records: %v", topic, len(out), n, err)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("consume %s partition %d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		t.Fatalf("consume %s: got %d records, want %d", topic, len(out), n)
	}
	return out
}

// header returns the value of header k of r, and whether it is there.
func header(r *kgo.Record, k string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value), true
		}
	}
	return "", false
}

// realBrokers returns the brokers of the real Kafka named by KAFKA_BROKERS.
// When it is unset, a CI run fails and a local run logs and returns nil, and
// the test returns.
func realBrokers(t testing.TB) []string {
	t.Helper()
	b := os.Getenv("KAFKA_BROKERS")
	if b == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KAFKA_BROKERS is not set: CI must start Kafka (bash deploy/kafka.sh start, or source .ci/services.sh) and export KAFKA_BROKERS=127.0.0.1:9092")
		}
		t.Log("KAFKA_BROKERS is not set: not running this integration test (start Kafka with deploy/kafka.sh and export KAFKA_BROKERS=127.0.0.1:9092)")
		return nil
	}
	return []string{b}
}

// realConfig returns a Config for the real broker with fresh topic names,
// created by EnsureTopics and deleted when the test ends; nil when there is
// no broker (see realBrokers).
func realConfig(t testing.TB) *Config {
	t.Helper()
	brokers := realBrokers(t)
	if brokers == nil {
		return nil
	}
	cfg := Config{Brokers: brokers, Topics: testTopics(t), Partitions: 3}.WithDefaults()
	adm := kadm.NewClient(client(t, cfg))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, cfg.Topics.All()...); err != nil {
			t.Logf("delete test topics: %v", err)
		}
	})
	if err := EnsureTopics(testCtx(t, 60*time.Second), adm, cfg); err != nil {
		t.Fatalf("ensure topics: %v", err)
	}
	return &cfg
}

package main

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// runBroker runs franz-go's in-process Kafka broker (kfake) as a standalone
// process: what `make demo` uses when no KAFKA_BROKERS is given. It keeps
// everything in memory and is meant for demos and quick local runs only;
// the integration tests use a real Apache Kafka broker.
func runBroker(ctx context.Context, args []string, e *env) error {
	fs := newFlags("broker", e)
	port := fs.Int("port", 19092, "port to listen on (127.0.0.1)")
	partitions := fs.Int("partitions", 6, "partitions of auto-created topics")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := kfake.NewCluster(kfake.Ports(*port), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(*partitions))
	if err != nil {
		return fmt.Errorf("start in-memory broker: %w", err)
	}
	defer c.Close()
	e.log.Info().Str("component", "broker").Strs("addrs", c.ListenAddrs()).Msg("in-memory Kafka broker (kfake) ready")
	fmt.Fprintln(e.stdout, c.ListenAddrs()[0])
	<-ctx.Done()
	return nil
}

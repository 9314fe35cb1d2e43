package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/creditflow/creditflow/schemas"
	"github.com/creditflow/creditflow/sinks/clickhouse"
)

// runRawSink is the baseline of the streaming benchmark: what the usual
// metering sinks do — parse each event and insert it as a raw row, leaving
// aggregation to query time. No validation beyond parsing, no dedup, no
// rating, no windows, no alerts. It consumes --topic from the start and
// stops after --events records.
func runRawSink(ctx context.Context, args []string, e *env) error {
	fs := newFlags("rawsink", e)
	topic := fs.String("topic", "usage.events", "topic to consume")
	events := fs.Int64("events", 0, "stop after this many records (0: run until interrupted)")
	batch := fs.Int("batch", 20000, "rows per insert")
	brokers := fs.String("brokers", orString(os.Getenv("KAFKA_BROKERS"), "127.0.0.1:9092"), "seed brokers")
	addr := fs.String("clickhouse", orString(os.Getenv("CLICKHOUSE_ADDR"), "127.0.0.1:9000"), "ClickHouse native address")
	database := fs.String("database", "creditflow_rawsink", "database (migrated if needed)")
	compression := fs.String("compression", orString(os.Getenv("CREDITFLOW_CLICKHOUSE_COMPRESSION"), "lz4"), "ClickHouse wire compression: lz4 or none")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ch, err := clickhouse.Open(ctx, clickhouse.Config{Addr: strings.Split(*addr, ","), Database: *database, Compression: *compression})
	if err != nil {
		return err
	}
	defer ch.Close()
	if _, err := ch.Migrate(ctx); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	dec := schemas.NewDecoder()
	var ev schemas.UsageEvent
	rows := make([]clickhouse.RawEvent, 0, *batch)
	var n int64
	start := time.Now()
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		err := ch.WriteRawEvents(ctx, rows)
		rows = rows[:0]
		return err
	}
	for *events == 0 || n < *events {
		fetches := cl.PollRecords(ctx, *batch)
		if ctx.Err() != nil {
			break
		}
		var ferr error
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			if dec.DecodeUsage(r.Value, &ev) != nil {
				return
			}
			rows = append(rows, clickhouse.RawEvent{
				Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Tenant: ev.Tenant, ID: string(ev.ID),
				Meter: ev.Meter, Model: ev.Model, Quantity: ev.Quantity, Time: ev.Time, Properties: string(ev.Properties),
			})
			if len(rows) == cap(rows) && ferr == nil {
				ferr = flush()
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	if err := flush(); err != nil {
		return err
	}
	el := time.Since(start)
	e.log.Info().Str("component", "rawsink").Int64("records", n).Dur("elapsed", el).
		Float64("events_per_s", float64(n)/el.Seconds()).Msg("baseline done")
	return nil
}

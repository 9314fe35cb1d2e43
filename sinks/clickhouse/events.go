package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// RawEvent is one counted usage event with its Kafka coordinates, as stored
// in the raw_events table.
type RawEvent struct {
	Topic     string
	Partition int32
	Offset    int64
	Tenant    string
	ID        string
	Meter     string
	Model     string
	Quantity  schemas.Micros
	Credits   schemas.Micros
	// Time is the event time. It is stored exactly (unix nanoseconds,
	// column time_ns) and truncated to seconds (column time); it must lie
	// in 1970…2106.
	Time       time.Time
	Properties string // raw JSON object, "" when absent
	Digest     uint64 // content digest, for telling differing duplicates apart
}

// WriteRawEvents stores counted events in one INSERT. Writing an event
// again (same tenant, id, partition and offset) is harmless: the copies
// collapse and readers use FINAL. The consumer writes a range's raw events
// before its window deltas, so every event at or below the committed
// offset is stored. An empty rows writes nothing.
func (c *Client) WriteRawEvents(ctx context.Context, rows []RawEvent) error {
	if len(rows) == 0 {
		return nil
	}
	in, err := rawEventsInsert(rows)
	if err != nil {
		return fmt.Errorf("write %d raw events: %w", len(rows), err)
	}
	if err := c.send(ctx, in); err != nil {
		return fmt.Errorf("write %d raw events: %w", len(rows), err)
	}
	return nil
}

func rawEventsInsert(rows []RawEvent) (*insert, error) {
	n := len(rows)
	var (
		tenant, id, meter, model = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		qty, credits             = make([]int64, n), make([]int64, n)
		sec, ns                  = make([]int64, n), make([]int64, n)
		props                    = make([]string, n)
		digest                   = make([]uint64, n)
		topic                    = make([]string, n)
		partition                = make([]int32, n)
		offset                   = make([]int64, n)
	)
	for i, e := range rows {
		if e.Tenant == "" || e.ID == "" {
			return nil, fmt.Errorf("event %d (offset %d): empty tenant or id", i, e.Offset)
		}
		if e.Time.IsZero() {
			return nil, fmt.Errorf("event %d (offset %d): zero time", i, e.Offset)
		}
		s, t, err := instant(e.Time)
		if err != nil {
			return nil, fmt.Errorf("event %d (offset %d): %w", i, e.Offset, err)
		}
		tenant[i], id[i], meter[i], model[i] = e.Tenant, e.ID, e.Meter, e.Model
		qty[i], credits[i] = int64(e.Quantity), int64(e.Credits)
		sec[i], ns[i] = s, t
		props[i], digest[i] = e.Properties, e.Digest
		topic[i], partition[i], offset[i] = e.Topic, e.Partition, e.Offset
	}
	in := &insert{table: "raw_events"}
	in.col("tenant", tenant)
	in.col("id", id)
	in.col("meter", meter)
	in.col("model", model)
	in.col("quantity_micros", qty)
	in.col("credits_micros", credits)
	in.col("time", sec)
	in.col("time_ns", ns)
	in.col("properties", props)
	in.col("digest", digest)
	in.col("topic", topic)
	in.col("kafka_partition", partition)
	in.col("kafka_offset", offset)
	return in, nil
}

// EventIDs calls fn for every stored event of the partition with offset
// ≤ maxOffset and time ≥ since, once per event even if it was written
// twice, in offset order. The consumer passes its committed offset as
// maxOffset to rebuild the dedup state: events above it belong to a range
// that was never committed and will be processed again. A zero since means
// no time limit.
func (c *Client) EventIDs(ctx context.Context, topic string, partition int32, maxOffset int64, since time.Time,
	fn func(tenant, id string, t time.Time, digest uint64) error,
) error {
	rows, err := c.conn.Query(ctx, eventIDsSQL(c.db, topic, partition, maxOffset, since))
	if err != nil {
		return fmt.Errorf("read event ids of %s/%d: %w", topic, partition, err)
	}
	defer rows.Close()
	var (
		tenant, id string
		ns         int64
		digest     uint64
	)
	for rows.Next() {
		if err := rows.Scan(&tenant, &id, &ns, &digest); err != nil {
			return fmt.Errorf("scan event ids of %s/%d: %w", topic, partition, err)
		}
		if err := fn(tenant, id, fromNS(ns), digest); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read event ids of %s/%d: %w", topic, partition, err)
	}
	return nil
}

func eventIDsSQL(db, topic string, partition int32, maxOffset int64, since time.Time) string {
	// The condition on time (seconds) prunes weekly partitions; the one on
	// time_ns is exact.
	return "SELECT tenant, id, time_ns, digest FROM " + db + ".raw_events FINAL" +
		" WHERE topic = " + quoteString(topic) +
		" AND kafka_partition = " + itoa(int64(partition)) +
		" AND kafka_offset <= " + itoa(maxOffset) +
		" AND time >= toDateTime(" + itoa(floorSeconds(since)) + ")" +
		" AND time_ns >= " + itoa(sinceNanos(since)) +
		" ORDER BY kafka_offset"
}

// RawEvents calls fn for every stored event of the partition with an
// offset in (after, upTo], once per event even if it was written twice, in
// offset order. Topic and Properties are left empty. The consumer replays
// them into the tenants' running accounts when it resumes from a state
// checkpoint older than its committed offset.
func (c *Client) RawEvents(ctx context.Context, topic string, partition int32, after, upTo int64, fn func(RawEvent) error) error {
	if upTo <= after {
		return nil
	}
	rows, err := c.conn.Query(ctx, rawEventsSQL(c.db, topic, partition, after, upTo))
	if err != nil {
		return fmt.Errorf("read raw events of %s/%d (%d, %d]: %w", topic, partition, after, upTo, err)
	}
	defer rows.Close()
	e := RawEvent{Partition: partition}
	var qty, credits, ns int64
	for rows.Next() {
		if err := rows.Scan(&e.Offset, &e.Tenant, &e.ID, &e.Meter, &e.Model, &qty, &credits, &ns, &e.Digest); err != nil {
			return fmt.Errorf("scan raw events of %s/%d: %w", topic, partition, err)
		}
		e.Quantity, e.Credits, e.Time = schemas.Micros(qty), schemas.Micros(credits), fromNS(ns)
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read raw events of %s/%d (%d, %d]: %w", topic, partition, after, upTo, err)
	}
	return nil
}

func rawEventsSQL(db, topic string, partition int32, after, upTo int64) string {
	return "SELECT kafka_offset, tenant, id, meter, model, quantity_micros, credits_micros, time_ns, digest" +
		" FROM " + db + ".raw_events FINAL" +
		" WHERE topic = " + quoteString(topic) +
		" AND kafka_partition = " + itoa(int64(partition)) +
		" AND kafka_offset > " + itoa(after) + " AND kafka_offset <= " + itoa(upTo) +
		" ORDER BY kafka_offset"
}

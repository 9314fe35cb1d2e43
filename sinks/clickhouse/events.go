package clickhouse

import (
	"context"
	"fmt"
	"slices"
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
// again (same topic, partition and offset) is harmless: the copies
// collapse and readers use FINAL. The consumer writes a range's raw events
// before its window deltas, so every event at or below the committed
// offset is stored. An empty rows writes nothing.
func (c *Client) WriteRawEvents(ctx context.Context, rows []RawEvent) error {
	cols, err := rawEventColumns(rows)
	if err != nil {
		return fmt.Errorf("write %d raw events: %w", len(rows), err)
	}
	return c.WriteRawEventColumns(ctx, cols)
}

// RawEventColumns collects raw events column by column, ready for one
// INSERT, without an intermediate slice of events. The zero value is empty
// and ready to use.
type RawEventColumns struct {
	tenant, id, meter, model, props, topic []string
	qty, credits, sec, ns, offset          []int64
	digest                                 []uint64
	partition                              []int32
}

// Grow makes room for n more events.
func (r *RawEventColumns) Grow(n int) {
	r.tenant, r.id, r.meter, r.model = slices.Grow(r.tenant, n), slices.Grow(r.id, n), slices.Grow(r.meter, n), slices.Grow(r.model, n)
	r.props, r.topic = slices.Grow(r.props, n), slices.Grow(r.topic, n)
	r.qty, r.credits, r.sec, r.ns, r.offset = slices.Grow(r.qty, n), slices.Grow(r.credits, n), slices.Grow(r.sec, n), slices.Grow(r.ns, n), slices.Grow(r.offset, n)
	r.digest, r.partition = slices.Grow(r.digest, n), slices.Grow(r.partition, n)
}

// Reset forgets the events collected, keeping the room.
func (r *RawEventColumns) Reset() {
	for _, c := range []*[]string{&r.tenant, &r.id, &r.meter, &r.model, &r.props, &r.topic} {
		clear(*c)
		*c = (*c)[:0]
	}
	r.qty, r.credits, r.sec, r.ns, r.offset = r.qty[:0], r.credits[:0], r.sec[:0], r.ns[:0], r.offset[:0]
	r.digest, r.partition = r.digest[:0], r.partition[:0]
}

// Len is the number of events collected.
func (r *RawEventColumns) Len() int { return len(r.tenant) }

// Add appends one event. It refuses (naming the offset) an event without
// tenant or id, or whose time is zero or outside 1970…2106.
func (r *RawEventColumns) Add(e RawEvent) error {
	if e.Tenant == "" || e.ID == "" {
		return fmt.Errorf("event at offset %d: empty tenant or id", e.Offset)
	}
	if e.Time.IsZero() {
		return fmt.Errorf("event at offset %d: zero time", e.Offset)
	}
	s, t, err := instant(e.Time)
	if err != nil {
		return fmt.Errorf("event at offset %d: %w", e.Offset, err)
	}
	r.tenant, r.id, r.meter, r.model = append(r.tenant, e.Tenant), append(r.id, e.ID), append(r.meter, e.Meter), append(r.model, e.Model)
	r.qty, r.credits = append(r.qty, int64(e.Quantity)), append(r.credits, int64(e.Credits))
	r.sec, r.ns = append(r.sec, s), append(r.ns, t)
	r.props, r.digest = append(r.props, e.Properties), append(r.digest, e.Digest)
	r.topic, r.partition, r.offset = append(r.topic, e.Topic), append(r.partition, e.Partition), append(r.offset, e.Offset)
	return nil
}

// WriteRawEventColumns stores the collected events in one INSERT, like
// WriteRawEvents. Nothing collected writes nothing.
func (c *Client) WriteRawEventColumns(ctx context.Context, r *RawEventColumns) error {
	if r.Len() == 0 {
		return nil
	}
	if err := c.send(ctx, r.insert()); err != nil {
		return fmt.Errorf("write %d raw events: %w", r.Len(), err)
	}
	return nil
}

func (r *RawEventColumns) insert() *insert {
	in := &insert{table: "raw_events"}
	in.col("tenant", r.tenant)
	in.col("id", r.id)
	in.col("meter", r.meter)
	in.col("model", r.model)
	in.col("quantity_micros", r.qty)
	in.col("credits_micros", r.credits)
	in.col("time", r.sec)
	in.col("time_ns", r.ns)
	in.col("properties", r.props)
	in.col("digest", r.digest)
	in.col("topic", r.topic)
	in.col("kafka_partition", r.partition)
	in.col("kafka_offset", r.offset)
	return in
}

func rawEventColumns(rows []RawEvent) (*RawEventColumns, error) {
	cols := &RawEventColumns{}
	cols.Grow(len(rows))
	for _, e := range rows {
		if err := cols.Add(e); err != nil {
			return nil, err
		}
	}
	return cols, nil
}

// rawEventsInsert is the insert WriteRawEvents sends (for the fixture tests).
func rawEventsInsert(rows []RawEvent) (*insert, error) {
	cols, err := rawEventColumns(rows)
	if err != nil {
		return nil, err
	}
	return cols.insert(), nil
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

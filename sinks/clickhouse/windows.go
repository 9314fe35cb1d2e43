package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/creditflow/creditflow/schemas"
)

// Range is one Kafka offset range [First, Last] of one partition whose
// window deltas are flushed together, and the partition's watermark after
// processing it.
type Range struct {
	Topic     string
	Partition int32
	First     int64 // first offset of the range, ≥ 0
	Last      int64 // last offset of the range, ≥ First
	Watermark time.Time
}

// MaxRangeRows is the most rows one WriteWindowDeltas may insert: the
// distinct windows of the range plus the marker row. It stays below
// ClickHouse's max_insert_block_size (1,048,576 by default) so the insert is
// one block and one part. A range with more distinct windows must be split
// into smaller ranges by the caller.
const MaxRangeRows = 1_000_000

// ErrRangeCommitted reports a WriteWindowDeltas whose range starts at or
// before the partition's committed offset: storing it would count some
// offsets twice. Nothing was written. The consumer seeks to
// CommittedOffset+1 on assignment and so never causes it; seeing it means
// two consumers own the partition or the consumer lost track of its offset.
var ErrRangeCommitted = errors.New("offset range already stored")

// ErrTooManyRows reports a WriteWindowDeltas with more than MaxRangeRows
// rows; nothing was written. Split the range.
var ErrTooManyRows = errors.New("too many rows for one atomic insert")

type windowKey struct {
	tenant, meter, model string
	start, end           time.Time
}

// WriteWindowDeltas stores the window deltas of one offset range in ONE
// INSERT, all or nothing: one row per distinct window of deltas (deltas of
// the same window are summed) plus a marker row, every row carrying the
// range and its watermark. Afterwards CommittedOffset returns r.Last. An
// empty deltas still writes the marker, so a range without counted events
// still advances.
//
// Obligations: the range must start after the partition's committed offset
// (else ErrRangeCommitted and nothing is written); the range's raw events
// must be written before (WriteRawEvents); window bounds must be whole
// seconds in 1970…2106 and tenants non-empty; at most MaxRangeRows rows
// (else ErrTooManyRows). The check against the committed offset is a
// read-then-write, so it catches a stale consumer but is no lock: two
// writers racing on one partition are prevented by Kafka group
// membership, not here (see doc.go for what a duplicate range does).
func (c *Client) WriteWindowDeltas(ctx context.Context, r Range, deltas []schemas.WindowTotal) error {
	in, err := windowInsert(r, deltas)
	if err != nil {
		return fmt.Errorf("write window deltas of %s: %w", r, err)
	}
	last, _, ok, err := c.CommittedOffset(ctx, r.Topic, r.Partition)
	if err != nil {
		return fmt.Errorf("write window deltas of %s: %w", r, err)
	}
	if ok && last >= r.First {
		return fmt.Errorf("write window deltas of %s: offsets up to %d are stored: %w", r, last, ErrRangeCommitted)
	}
	if err := c.send(ctx, in); err != nil {
		return fmt.Errorf("write window deltas of %s: %w", r, err)
	}
	return nil
}

// String names the range in errors: topic/partition[first, last].
func (r Range) String() string {
	return fmt.Sprintf("%s/%d[%d, %d]", r.Topic, r.Partition, r.First, r.Last)
}

func (r Range) validate() error {
	var errs []error
	if r.Topic == "" {
		errs = append(errs, errors.New("empty topic"))
	}
	if r.Partition < 0 {
		errs = append(errs, fmt.Errorf("negative partition %d", r.Partition))
	}
	if r.First < 0 || r.Last < r.First {
		errs = append(errs, fmt.Errorf("offsets [%d, %d] are not a range", r.First, r.Last))
	}
	if _, _, err := instant(r.Watermark); err != nil {
		errs = append(errs, fmt.Errorf("watermark: %w", err))
	}
	return errors.Join(errs...)
}

// windowInsert builds the atomic insert of WriteWindowDeltas.
func windowInsert(r Range, deltas []schemas.WindowTotal) (*insert, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	_, wm, _ := instant(r.Watermark)

	// Sum deltas of the same window: the sorting key holds one row per
	// window and range, so that a replayed identical range collapses.
	index := make(map[windowKey]int, len(deltas))
	rows := make([]schemas.WindowTotal, 0, len(deltas)+1)
	for i, d := range deltas {
		if d.Tenant == "" {
			return nil, fmt.Errorf("delta %d: empty tenant", i)
		}
		if !d.End.After(d.Start) {
			return nil, fmt.Errorf("delta %d: window end %s is not after its start %s", i, d.End, d.Start)
		}
		k := windowKey{d.Tenant, d.Meter, d.Model, d.Start, d.End}
		j, seen := index[k]
		if !seen {
			index[k] = len(rows)
			rows = append(rows, d)
			continue
		}
		s := &rows[j]
		var err1, err2 error
		s.Events += d.Events
		s.Quantity, err1 = schemas.AddMicros(s.Quantity, d.Quantity)
		s.Credits, err2 = schemas.AddMicros(s.Credits, d.Credits)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("delta %d: sum with an earlier delta of the same window: %w", i, err)
		}
		s.Late = s.Late || d.Late
	}
	if len(rows)+1 > MaxRangeRows {
		return nil, fmt.Errorf("%d windows and a marker: %w (max %d)", len(rows), ErrTooManyRows, MaxRangeRows)
	}

	n := len(rows) + 1
	var (
		tenant, meter, model = make([]string, n), make([]string, n), make([]string, n)
		start, end           = make([]int64, n), make([]int64, n)
		events, qty, credits = make([]int64, n), make([]int64, n), make([]int64, n)
		late                 = make([]uint8, n)
		topic                = make([]string, n)
		partition            = make([]int32, n)
		first, last, wmns    = make([]int64, n), make([]int64, n), make([]int64, n)
	)
	for i, d := range rows {
		s, err := wholeSeconds(d.Start)
		if err != nil {
			return nil, fmt.Errorf("window start: %w", err)
		}
		e, err := wholeSeconds(d.End)
		if err != nil {
			return nil, fmt.Errorf("window end: %w", err)
		}
		tenant[i], meter[i], model[i] = d.Tenant, d.Meter, d.Model
		start[i], end[i] = s, e
		events[i], qty[i], credits[i] = d.Events, int64(d.Quantity), int64(d.Credits)
		if d.Late {
			late[i] = 1
		}
	}
	// The marker row (index n-1) keeps its zero values: tenant '' and
	// window_start 0.
	for i := range n {
		topic[i], partition[i] = r.Topic, r.Partition
		first[i], last[i], wmns[i] = r.First, r.Last, wm
	}
	in := &insert{table: "window_deltas"}
	in.col("tenant", tenant)
	in.col("meter", meter)
	in.col("model", model)
	in.col("window_start", start)
	in.col("window_end", end)
	in.col("event_count", events)
	in.col("quantity_micros", qty)
	in.col("credits_micros", credits)
	in.col("late", late)
	in.col("topic", topic)
	in.col("kafka_partition", partition)
	in.col("first_offset", first)
	in.col("last_offset", last)
	in.col("watermark_ns", wmns)
	return in, nil
}

// CommittedOffset returns the last offset of the latest range stored for
// the partition and that range's watermark; ok is false when nothing was
// stored yet (start from the beginning, or from the group's Kafka commit).
// The consumer seeks to last+1 on assignment: this, not the Kafka commit,
// is the authoritative position.
func (c *Client) CommittedOffset(ctx context.Context, topic string, partition int32) (last int64, watermark time.Time, ok bool, err error) {
	rows, err := c.conn.Query(ctx, committedOffsetSQL(c.db, topic, partition))
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("read committed offset of %s/%d: %w", topic, partition, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, time.Time{}, false, fmt.Errorf("read committed offset of %s/%d: %w", topic, partition, err)
		}
		return 0, time.Time{}, false, nil
	}
	var wm int64
	if err := rows.Scan(&last, &wm); err != nil {
		return 0, time.Time{}, false, fmt.Errorf("scan committed offset of %s/%d: %w", topic, partition, err)
	}
	return last, fromNS(wm), true, nil
}

func committedOffsetSQL(db, topic string, partition int32) string {
	// Marker rows (tenant '') lead the sorting key, so this reads little.
	return "SELECT last_offset, watermark_ns FROM " + db + ".window_deltas" +
		" WHERE tenant = '' AND topic = " + quoteString(topic) +
		" AND kafka_partition = " + itoa(int64(partition)) +
		" ORDER BY last_offset DESC LIMIT 1"
}

// UsageSince calls fn for each tenant and 15-minute bucket (UTC, aligned to
// the hour) with the credits of the windows that start in that bucket at or
// after since, in (tenant, bucket) order. tenants nil means every tenant;
// an empty non-nil slice means none. Ledgers rebuild per-period consumption
// from it: every UTC offset in use is a multiple of 15 minutes, so a
// period boundary never splits a bucket (provided windows are at most 15
// minutes wide and divide it).
func (c *Client) UsageSince(ctx context.Context, tenants []string, since time.Time,
	fn func(tenant string, bucket time.Time, credits schemas.Micros) error,
) error {
	if tenants != nil && len(tenants) == 0 {
		return nil
	}
	rows, err := c.conn.Query(ctx, usageSinceSQL(c.db, tenants, since))
	if err != nil {
		return fmt.Errorf("read usage since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			tenant  string
			bucket  time.Time
			credits int64
		)
		if err := rows.Scan(&tenant, &bucket, &credits); err != nil {
			return fmt.Errorf("scan usage since %s: %w", since.UTC().Format(time.RFC3339), err)
		}
		if err := fn(tenant, bucket.UTC(), schemas.Micros(credits)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read usage since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return nil
}

func usageSinceSQL(db string, tenants []string, since time.Time) string {
	q := "SELECT tenant, toStartOfFifteenMinutes(window_start) AS bucket, sum(credits_micros) AS credits" +
		" FROM " + db + ".window_deltas FINAL" +
		" WHERE tenant != '' AND window_start >= toDateTime(" + itoa(sinceSeconds(since)) + ")"
	if tenants != nil {
		q += " AND tenant IN (" + quoteStrings(tenants) + ")"
	}
	return q + " GROUP BY tenant, bucket ORDER BY tenant, bucket"
}

// WindowTotals returns the final total of every window (the sum of its
// deltas) from the window_totals view, for one tenant or, with "", for all,
// sorted like windows.csv: tenant, meter, model, window start, window end.
// Late is false in the results.
func (c *Client) WindowTotals(ctx context.Context, tenant string) ([]schemas.WindowTotal, error) {
	rows, err := c.conn.Query(ctx, windowTotalsSQL(c.db, tenant))
	if err != nil {
		return nil, fmt.Errorf("read window totals: %w", err)
	}
	defer rows.Close()
	var out []schemas.WindowTotal
	for rows.Next() {
		var (
			w       schemas.WindowTotal
			q, cred string
		)
		if err := rows.Scan(&w.Tenant, &w.Meter, &w.Model, &w.Start, &w.End, &w.Events, &q, &cred); err != nil {
			return nil, fmt.Errorf("scan window totals: %w", err)
		}
		w.Start, w.End = w.Start.UTC(), w.End.UTC()
		if w.Quantity, err = schemas.ParseMicros(q); err != nil {
			return nil, fmt.Errorf("window totals: quantity %q: %w", q, err)
		}
		if w.Credits, err = schemas.ParseMicros(cred); err != nil {
			return nil, fmt.Errorf("window totals: credits %q: %w", cred, err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read window totals: %w", err)
	}
	return out, nil
}

func windowTotalsSQL(db, tenant string) string {
	// toString gives the exact decimal on every version ("1.500000" on
	// 18.16, "1.5" on 26.x); ParseMicros reads both.
	q := "SELECT tenant, meter, model, window_start, window_end, events, toString(quantity), toString(credits)" +
		" FROM " + db + ".window_totals"
	if tenant != "" {
		q += " WHERE tenant = " + quoteString(tenant)
	}
	return q + " ORDER BY tenant, meter, model, window_start, window_end"
}

package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	return c.WriteRanges(ctx, []RangeDeltas{{Range: r, Deltas: deltas}})
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

// RangeDeltas is one offset range and its window deltas, for WriteRanges.
type RangeDeltas struct {
	Range  Range
	Deltas []schemas.WindowTotal
}

// WriteRanges stores several ranges, of one or more partitions of one
// topic, in ONE insert, all or nothing: per range, like WriteWindowDeltas,
// one row per distinct window plus a marker row. Fewer, larger inserts cost
// ClickHouse much less than one per partition (every insert makes a part).
//
// Obligations: the ranges of a partition are given in offset order, each
// starting after the previous one and after the partition's committed
// offset, else ErrRangeCommitted and nothing is written (as with
// WriteWindowDeltas, gaps are allowed) — check with CommittedOffsets first
// and leave fenced partitions out; the check here is a read-then-write, no
// lock. At most MaxRangeRows rows in all (else
// ErrTooManyRows: split the ranges over several calls).
func (c *Client) WriteRanges(ctx context.Context, rs []RangeDeltas) error {
	if len(rs) == 0 {
		return nil
	}
	in, err := windowInsert(rs)
	if err != nil {
		return fmt.Errorf("write %d ranges (%s, …): %w", len(rs), rs[0].Range, err)
	}
	committed, err := c.CommittedOffsets(ctx, rs[0].Range.Topic)
	if err != nil {
		return fmt.Errorf("write %d ranges: %w", len(rs), err)
	}
	for _, rd := range rs {
		r := rd.Range
		if r.Topic != rs[0].Range.Topic {
			return fmt.Errorf("write ranges: %s and %s are of different topics", rs[0].Range, r)
		}
		if last, ok := committed[r.Partition]; ok && last >= r.First {
			return fmt.Errorf("write ranges: %s: offsets up to %d are stored: %w", r, last, ErrRangeCommitted)
		}
		committed[r.Partition] = r.Last
	}
	if err := c.send(ctx, in); err != nil {
		return fmt.Errorf("write %d ranges (%s, …): %w", len(rs), rs[0].Range, err)
	}
	return nil
}

// CommittedOffsets returns the last committed offset of every partition of
// topic that has one (see CommittedOffset), in one query.
func (c *Client) CommittedOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	rows, err := c.conn.Query(ctx, committedOffsetsSQL(c.db, topic))
	if err != nil {
		return nil, fmt.Errorf("read committed offsets of %s: %w", topic, err)
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var (
			p    int32
			last int64
		)
		if err := rows.Scan(&p, &last); err != nil {
			return nil, fmt.Errorf("scan committed offsets of %s: %w", topic, err)
		}
		out[p] = last
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read committed offsets of %s: %w", topic, err)
	}
	return out, nil
}

func committedOffsetsSQL(db, topic string) string {
	return "SELECT kafka_partition, max(last_offset) FROM " + db + ".window_deltas" +
		" WHERE tenant = '' AND topic = " + quoteString(topic) +
		" GROUP BY kafka_partition ORDER BY kafka_partition"
}

// windowInsert builds the atomic insert of WriteWindowDeltas and
// WriteRanges.
func windowInsert(rs []RangeDeltas) (*insert, error) {
	n := 0
	for _, rd := range rs {
		n += len(rd.Deltas) + 1
	}
	var c windowColumns
	c.grow(n)
	for _, rd := range rs {
		r := rd.Range
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("range %s: %w", r, err)
		}
		_, wm, _ := instant(r.Watermark)
		// Sum deltas of the same window: the sorting key holds one row per
		// window and range, so that a replayed identical range collapses.
		// Deltas as the pipeline emits them are sorted by window, so those
		// of a window follow one another; others go through a map.
		rows := rd.Deltas
		if !sortedByWindow(rows) {
			var err error
			if rows, err = sumByWindow(r, rows); err != nil {
				return nil, err
			}
		}
		for i := range rows {
			d := &rows[i]
			if d.Tenant == "" {
				return nil, fmt.Errorf("range %s: delta %d: empty tenant", r, i)
			}
			if !d.End.After(d.Start) {
				return nil, fmt.Errorf("range %s: delta %d: window end %s is not after its start %s", r, i, d.End, d.Start)
			}
			if i > 0 && sameWindow(&rows[i-1], d) {
				if err := c.addToLast(d); err != nil {
					return nil, fmt.Errorf("range %s: delta %d: sum with an earlier delta of the same window: %w", r, i, err)
				}
				continue
			}
			s, err := wholeSeconds(d.Start)
			if err != nil {
				return nil, fmt.Errorf("range %s: window start: %w", r, err)
			}
			e, err := wholeSeconds(d.End)
			if err != nil {
				return nil, fmt.Errorf("range %s: window end: %w", r, err)
			}
			c.add(d, s, e)
		}
		// The marker row keeps zero values: tenant '' and window_start 0.
		c.add(&schemas.WindowTotal{}, 0, 0)
		if len(c.tenant) > MaxRangeRows {
			return nil, fmt.Errorf("%d windows and markers: %w (max %d)", len(c.tenant), ErrTooManyRows, MaxRangeRows)
		}
		c.fillRange(r, wm)
	}
	return c.insert(), nil
}

// windowColumns are the columns of a window_deltas insert.
type windowColumns struct {
	tenant, meter, model, topic      []string
	start, end, events, qty, credits []int64
	first, last, wmns                []int64
	late                             []uint8
	partition                        []int32
}

func (c *windowColumns) grow(n int) {
	c.tenant, c.meter, c.model, c.topic = slices.Grow(c.tenant, n), slices.Grow(c.meter, n), slices.Grow(c.model, n), slices.Grow(c.topic, n)
	for _, col := range []*[]int64{&c.start, &c.end, &c.events, &c.qty, &c.credits, &c.first, &c.last, &c.wmns} {
		*col = slices.Grow(*col, n)
	}
	c.late, c.partition = slices.Grow(c.late, n), slices.Grow(c.partition, n)
}

// add appends the row of d (its window given in whole seconds) without
// its range columns, which fillRange sets.
func (c *windowColumns) add(d *schemas.WindowTotal, start, end int64) {
	var l uint8
	if d.Late {
		l = 1
	}
	c.tenant, c.meter, c.model = append(c.tenant, d.Tenant), append(c.meter, d.Meter), append(c.model, d.Model)
	c.start, c.end = append(c.start, start), append(c.end, end)
	c.events, c.qty, c.credits = append(c.events, d.Events), append(c.qty, int64(d.Quantity)), append(c.credits, int64(d.Credits))
	c.late = append(c.late, l)
}

// addToLast adds d to the last row, a delta of the same window.
func (c *windowColumns) addToLast(d *schemas.WindowTotal) error {
	k := len(c.tenant) - 1
	q, err1 := schemas.AddMicros(schemas.Micros(c.qty[k]), d.Quantity)
	cr, err2 := schemas.AddMicros(schemas.Micros(c.credits[k]), d.Credits)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	c.events[k] += d.Events
	c.qty[k], c.credits[k] = int64(q), int64(cr)
	if d.Late {
		c.late[k] = 1
	}
	return nil
}

// fillRange sets the range columns of the rows added since the last call.
func (c *windowColumns) fillRange(r Range, wm int64) {
	for range len(c.tenant) - len(c.topic) {
		c.topic, c.partition = append(c.topic, r.Topic), append(c.partition, r.Partition)
		c.first, c.last, c.wmns = append(c.first, r.First), append(c.last, r.Last), append(c.wmns, wm)
	}
}

func (c *windowColumns) insert() *insert {
	in := &insert{table: "window_deltas"}
	in.col("tenant", c.tenant)
	in.col("meter", c.meter)
	in.col("model", c.model)
	in.col("window_start", c.start)
	in.col("window_end", c.end)
	in.col("event_count", c.events)
	in.col("quantity_micros", c.qty)
	in.col("credits_micros", c.credits)
	in.col("late", c.late)
	in.col("topic", c.topic)
	in.col("kafka_partition", c.partition)
	in.col("first_offset", c.first)
	in.col("last_offset", c.last)
	in.col("watermark_ns", c.wmns)
	return in
}

// sameWindow reports whether a and b are deltas of one window.
func sameWindow(a, b *schemas.WindowTotal) bool {
	return schemas.CompareWindows(a, b) == 0 && a.End.Equal(b.End)
}

// sortedByWindow reports whether the deltas of each window follow one
// another: ordered by schemas.CompareWindows.
func sortedByWindow(ds []schemas.WindowTotal) bool {
	for i := 1; i < len(ds); i++ {
		if schemas.CompareWindows(&ds[i-1], &ds[i]) > 0 {
			return false
		}
	}
	return true
}

// sumByWindow returns one row per window of ds, in the order of each
// window's first delta.
func sumByWindow(r Range, ds []schemas.WindowTotal) ([]schemas.WindowTotal, error) {
	index := make(map[windowKey]int, len(ds))
	rows := make([]schemas.WindowTotal, 0, len(ds))
	for i, d := range ds {
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
			return nil, fmt.Errorf("range %s: delta %d: sum with an earlier delta of the same window: %w", r, i, err)
		}
		s.Late = s.Late || d.Late
	}
	return rows, nil
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

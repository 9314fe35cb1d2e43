// Package clickhouse stores creditflow's results in ClickHouse over the
// native protocol (clickhouse-go v2): raw events, window deltas, grants,
// alerts, period closes, line items and ledger snapshots, and gives
// analysts views with stable names. It is the storage side of the
// streaming pipeline's exactly-once flush. It imports only schemas.
//
// # Exactly once: the offset range is the unit
//
// Per Kafka partition the consumer cuts its input into offset ranges
// [first, last] and flushes each range like this:
//
//	on assignment of partition p
//	    last, wm, ok := CommittedOffset(topic, p)       ← authoritative position
//	    EventIDs(topic, p, last, wm − dedup horizon …)   ← rebuild dedup state
//	    seek to last+1 (ok == false: the group's Kafka offset, or the start)
//
//	per range [first, last] of partition p
//	    1. WriteRawEvents(events counted in the range)  ReplacingMergeTree: a rewrite collapses
//	    2. WriteWindowDeltas(range, deltas)            ONE insert = the commit point
//	    3. commit last+1 to Kafka                       advisory only
//
// WriteWindowDeltas inserts the window deltas of the range (one row per
// window) plus one marker row (empty tenant) as ONE block into window_deltas,
// a table without PARTITION BY, so the insert becomes one part: all rows or
// none. Every row carries (topic, partition, first_offset, last_offset,
// watermark), so "the range is stored" and "its deltas are stored" are the
// same fact, and CommittedOffset is simply the highest stored last_offset.
// The marker makes a range without counted events advance too. At most
// MaxRangeRows rows fit one insert (below max_insert_block_size); a bigger
// range must be split by the caller into consecutive smaller ranges.
//
// Raw events go first, keyed by (topic, kafka_partition, kafka_offset) —
// cheap to sort, since they arrive in offset order (migration 0009) — with
// a content digest. So every event at or below the committed offset is
// stored, and the dedup state (SPEC 3.4) can be rebuilt from EventIDs with
// maxOffset = the committed offset: events above it belong to a range that
// is not committed and will be processed again, and must not count as seen.
//
// # Failure cases
//
//	crash before or during step 1     nothing committed; the range is re-read from
//	                                  last+1 and its raw events written again: the
//	                                  copies collapse (same key; readers use FINAL)
//	crash between steps 1 and 2       same: the raw events above the committed
//	                                  offset are ignored by EventIDs and rewritten
//	crash during step 2               the insert is one part: either the range is
//	                                  stored (offset advanced) or nothing is
//	crash after 2, before 3           CommittedOffset says last; the consumer seeks
//	                                  past the range; the stale Kafka offset is unused
//	Kafka offset ahead or reset       ignored: CommittedOffset wins
//	step 2 fails or times out         the insert may or may not have landed. Re-read
//	                                  CommittedOffset: == last means it is done; else
//	                                  retry the same range
//	the same range written again      refused with ErrRangeCommitted before insert
//	                                  (nothing written); see below for a race
//	late events                       a later range carries a delta for an old
//	                                  window; window_totals sums all deltas
//
// Two consumers owning one partition at once (a zombie after a rebalance)
// is prevented by the consumer, which must finish or abandon its flush in
// the partition-revoked callback. Should two writers still race past the
// ErrRangeCommitted check, what lands is: the same range with the same
// deltas collapses — a range holds one row per window, the sorting key ends
// with the range, and every reader uses FINAL — so totals count it once
// (TestSameRangeTwice shows this); overlapping ranges with different bounds
// would count their overlap twice, which storage cannot tell from real
// usage.
//
// # Units and types
//
// Storage tables hold credits and quantities as Int64 millionths
// (schemas.Micros, columns *_micros); money and other schemas.Decimal
// values as an Int64 coefficient and a UInt8 scale (*_coef, *_scale), so the
// Go readers return exactly what was written, scale included. Instants are
// a DateTime('UTC') column (seconds, for analysts) and, where sub-second
// precision exists (event, grant and alert times), an Int64 *_ns column of
// unix nanoseconds. Instants must lie in 1970…2106, the range of DateTime;
// window bounds and period bounds must be whole seconds. The zero time.Time
// is stored as 0 and read back as the zero time.
//
// The analyst views convert: credits and quantities are Decimal(38, 6),
// money Decimal(38, 18) (exact for every schemas.Decimal), days Date,
// booleans UInt8. These types and the values are the same on ClickHouse
// 18.16 and 26.x; only printing differs (18.16 pads decimals with zeros,
// "49.000000000000000000" for 26.x's "49", and prints the zero DateTime as
// 0000-00-00 00:00:00).
//
// # Views
//
//	window_totals     SPEC 5 windows.csv columns: one row per window, the sum of its deltas
//	period_closes     SPEC 5 period_closes.csv columns
//	line_items        SPEC 5 line_items.csv columns
//	daily_usage       tenant, day (UTC), meter, model, events, quantity, credits
//	current_balance   per tenant, what ClickHouse can know without the catalog:
//	                  period_start (end of the latest close; 1970 if never closed),
//	                  consumed since then, rollover_in and included of the latest
//	                  close, granted (grants since period_start), available =
//	                  rollover_in + included + granted — a LOWER bound, as grants
//	                  bought before period_start with credits left are not
//	                  counted — balance = available − consumed, and the latest
//	                  close's consumed and available. The ledger (live balance and
//	                  entitlements topic) is the authority.
//
// Tenant state checkpoints of the streaming pipeline go to partition_state
// (WritePartitionStates, one atomic insert with a marker row per
// checkpoint; CheckpointChain and PartitionStates read them back, RawEvents
// the events after a checkpoint).
//
// Storage tables: raw_events, window_deltas, grants, alerts,
// period_closes_store, line_items_store, ledger_state, partition_state,
// schema_migrations.
// All use ReplacingMergeTree, so a repeated write (a retried close, a
// repeated alert id, a rewritten event) collapses; views and readers read
// with FINAL (ledger_state with argMax), so results are right before any
// merge.
//
// # Migrations
//
// Migrations are the embedded files migrations/NNNN_name.sql, applied in
// name order with {db} replaced by the database; every statement is
// idempotent (IF NOT EXISTS), or the migration as a whole is re-runnable
// after a death at any statement (0009, proved by a test). Migrate records each in schema_migrations
// with its checksum, refuses to run when an applied file changed, and
// serializes concurrent runs with a lock table (see Client.Migrate). Every
// migration runs on ClickHouse 18.16 (the integration tests) and on 26.x
// through chDB:
//
//	source build/services/chdb.env
//	CHDB_LIB_PATH=$CHDB_LIB_PATH go test -count=1 -tags chdb ./sinks/clickhouse/ -run Chdb
//
// ClickHouse 18.16 shapes the SQL: no DateTime64, Map, TTL, CODEC, CTEs,
// query parameters or INSERT … SETTINGS; batches must name their columns;
// an INSERT … VALUES sent through Exec hangs, so every insert goes through
// a batch; queries carry their values as escaped literals (see quoteString).
package clickhouse

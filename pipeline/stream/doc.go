// Package stream is the streaming pipeline: a franz-go consumer group over
// the usage events topic, one partition.Processor and one billing.Book per
// assigned partition, and an exactly-once flush of every partition's totals
// into the Store (ClickHouse).
//
// # Exactly-once totals
//
// The Store, not Kafka, holds each partition's commit point. Every flush
// covers one contiguous offset range [First, Last] of one partition and
// happens in this order:
//
//  1. Store.Write    raw events, alerts, top-up grants and, every
//     CheckpointInterval, a state checkpoint, all keyed so that
//     writing them again collapses (ReplacingMergeTree);
//  2. Publisher      dead letters, alerts, entitlement changes and top-up
//     grants to Kafka (alerts already on the topic are skipped);
//  3. Store.Commit   the ranges' window deltas and the ranges themselves
//     (partition, first and last offset, watermark) of all
//     partitions flushed together, as ONE insert: the commit
//     point;
//  4. Kafka commit   advisory only, for lag monitoring.
//
// Flushes are written by one writer goroutine while the poll loop goes on
// processing into the next batches (at most one set in flight; per
// partition, ranges are committed in offset order). Steps 1 and 3 are
// shared by all partitions flushed together: ClickHouse creates a part per
// insert, and per-insert work dominates its cost (measured on 18.16: 350k
// window-delta rows cost 0.4 CPU-s in 3 inserts and 1.7 CPU-s in 30).
//
//	poll loop   ──process──▶ open batches ──seal──▶ │ writer: 1 ─ 2 ─ 3 ─ 4 │
//	              (keeps processing while the writer works; a batch that
//	               reaches FlushRecords meanwhile is sealed and set aside for
//	               the next writer; waits only when a second one fills up)
//
// # Per-event cost
//
// A partition's fetched records go to its Processor in batches
// (partition.Processor.ProcessBatch), which decodes up to 8 records ahead
// and requests the memory each will touch (series cache, dedup table,
// window slot, and through an Ahead hook the tenant's billing account and
// alert state), so that cache misses overlap instead of queueing. Steady
// consumption allocates almost nothing per event (about 140 bytes, from
// 2.2 KB): fetched records come from pools lent to the Kafka client and are
// recycled once processed (a batch keeps copies of ids and properties in
// its arena, and of dead-lettered records); a written batch's room holds
// the partition's next one; ClickHouse column buffers are sized up front
// and reused from one insert to the next (sinks/clickhouse presize.go).
//
// # State checkpoints
//
// Each tenant's running account (ledger, alert state, runaway baseline) is
// stored as a checkpoint every CheckpointInterval (10 s), not with every
// flush: a full checkpoint (every tenant with a state) every
// FullCheckpointEvery-th time, otherwise an incremental one (the tenants
// changed since the previous checkpoint, which it names). A checkpoint is
// one atomic insert with a marker row and counts only once its range is
// committed. When a partition is assigned, the runner reads the last
// committed range from the Store and seeks to Last+1; it rebuilds dedup from
// the stored raw events with offsets ≤ Last; it restores the tenants'
// accounts from the latest checkpoint at or below Last (following its chain
// back to a full one) and books the stored raw events after the checkpoint
// up to Last again — their alerts, entitlement changes and top-ups were
// published with their ranges, so they are discarded. So state and totals
// always describe the same prefix of the partition. Stored grants are
// booked again afterwards (the ledger ignores repeats). A clean stop or a
// revoke writes a final checkpoint, so the next owner has nothing to
// replay.
//
// Failure cases:
//
//   - crash before step 3 (kill -9 before a write, mid-batch, between write
//     and commit): the range is not committed; the next owner re-reads it
//     from Last+1 with state as of Last and produces the same deltas, which
//     are written once. Raw events, alerts and states written in step 1
//     collapse with their rewrite.
//   - crash after step 3, before step 4: the Kafka commit lags; the next
//     owner seeks by the Store, not by Kafka, so nothing is counted twice.
//   - duplicate deliveries and producer resends under new offsets: caught by
//     event-id dedup, which is separate from offsets and survives restarts
//     because it is rebuilt from raw events.
//   - full replay from offset 0: the Store's commit point wins over the
//     requested position; replaying into a fresh database recounts from
//     scratch, and dedup drops every resend.
//   - ClickHouse unavailable: the flush is retried with backoff; the loop
//     keeps processing until an open batch reaches FlushRecords (one set
//     aside, see above, and then one more), then stops polling, so
//     consumption pauses and memory stays bounded by three batches per
//     partition; it resumes by itself.
//   - rebalance: a revoked partition is flushed before it is released; a
//     lost one is dropped unflushed. The new owner rebuilds as above. A
//     commit whose range does not start right after the stored Last (a
//     zombie owner) is refused (Store.Commit reports the partition fenced,
//     see SplitCommit) and the partition is rebuilt.
//
// Alerts are published as soon as a counted event raises them
// (Config.AlertsNow), for latency, and again with the flush for those that
// did not make it; the publisher skips ids already on the alerts topic (read
// back at start-up and remembered since), so each alert is on the topic once
// even when a crash makes the next owner derive it again. Step 1 stores them
// in the table under their deterministic id, where a repeat collapses. Dead letters are at-least-once: a crash
// between step 2 and 3 can publish a range's dead letters twice.
package stream

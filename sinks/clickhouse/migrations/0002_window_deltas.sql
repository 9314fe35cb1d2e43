-- Window deltas: the storage side of the exactly-once flush (see doc.go).
-- Each INSERT holds exactly the deltas of one Kafka offset range
-- [first_offset, last_offset] of one partition, at most one row per window,
-- plus one marker row (tenant = '', window_start = 0) so that a range with no
-- counted event still advances the stored offset. Every row carries the
-- range, so the highest stored last_offset is the committed offset.
--
-- No PARTITION BY: an INSERT of one block lands as one part, all or nothing.
-- ReplacingMergeTree keyed by window and range: if the same range were
-- written twice with the same deltas, the copies collapse (readers use
-- FINAL) instead of counting twice.
CREATE TABLE IF NOT EXISTS {db}.window_deltas
(
    tenant          String,
    meter           String,
    model           String,
    window_start    DateTime('UTC'),
    window_end      DateTime('UTC'),
    event_count     Int64,
    quantity_micros Int64,
    credits_micros  Int64,
    late            UInt8,
    topic           String,
    kafka_partition Int32,
    first_offset    Int64,
    last_offset     Int64,
    watermark_ns    Int64,
    inserted_at     DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, window_start, meter, model, window_end, topic, kafka_partition, first_offset, last_offset);

-- Raw events sorted by their Kafka coordinates instead of (tenant, id).
--
-- Why: ClickHouse sorts every inserted block and re-sorts on every merge by
-- the sorting key. With (tenant, id, …) that is a string sort of events that
-- arrive in offset order; with (topic, kafka_partition, kafka_offset) the
-- block is already sorted and merges compare integers. Measured on 18.16
-- with 3M events in 20k-row inserts: 4.1 → 1.9 CPU-µs per row in the server.
-- The key still identifies a record, so a re-write after a crash (same
-- partition and offset) collapses as before, and the dedup rebuild (by
-- partition and offset range) now reads a key range. Per-tenant questions
-- are answered from window_deltas, not from here.
--
-- The copy is re-runnable: a migrator that dies half-way is completed by the
-- next run (the copied rows collapse with a second copy).
CREATE TABLE IF NOT EXISTS {db}.raw_events_by_offset
(
    tenant          String,
    id              String,
    meter           String,
    model           String,
    quantity_micros Int64,
    credits_micros  Int64,
    time            DateTime('UTC'),
    time_ns         Int64,
    properties      String,
    digest          UInt64,
    topic           String,
    kafka_partition Int32,
    kafka_offset    Int64,
    inserted_at     DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toMonday(time)
ORDER BY (topic, kafka_partition, kafka_offset);

-- (Only for a migrator that died between DROP and RENAME: gives the INSERT
-- below an empty source.)
CREATE TABLE IF NOT EXISTS {db}.raw_events AS {db}.raw_events_by_offset;

INSERT INTO {db}.raw_events_by_offset
SELECT tenant, id, meter, model, quantity_micros, credits_micros, time, time_ns, properties, digest,
       topic, kafka_partition, kafka_offset, inserted_at
FROM {db}.raw_events;

DROP TABLE IF EXISTS {db}.raw_events;

RENAME TABLE {db}.raw_events_by_offset TO {db}.raw_events;

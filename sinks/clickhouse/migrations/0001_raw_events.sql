-- Raw usage events: one row per counted event, written before the window
-- deltas of the same Kafka offset range (see doc.go). A re-write of the same
-- record after a crash has the same sorting key and collapses on merge;
-- readers use FINAL. Rows keep their Kafka coordinates and a content digest
-- so that the dedup state can be rebuilt from them.
--
-- Units: *_micros are millionths (schemas.Micros); time_ns is the exact event
-- time in unix nanoseconds, time the same instant truncated to seconds.
-- The same event always falls in the same weekly partition (its time never
-- changes), so re-writes still meet and collapse.
CREATE TABLE IF NOT EXISTS {db}.raw_events
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
ORDER BY (tenant, id, kafka_partition, kafka_offset);

-- Per-partition tenant state of the streaming pipeline: the ledger, alert
-- and runaway state of every tenant a flush touched, stored with that flush
-- (version = the flush's last offset) BEFORE its commit point. On partition
-- assignment the consumer takes, per tenant, the state of the highest
-- version at or below the committed offset, so state and totals describe
-- the same prefix of the partition; rows of an uncommitted range are ignored.
CREATE TABLE IF NOT EXISTS {db}.partition_state
(
    topic       String,
    partition   Int32,
    tenant      String,
    version     Int64,
    state       String,
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (topic, partition, tenant, version);

-- Alerts (SPEC 3.6, 3.7, 5). Alert ids are deterministic, so a repeat of the
-- same alert collapses (readers use FINAL). Fields that do not apply to the
-- alert's type are zero / empty. Decimals: *_micros are millionths,
-- *_coef × 10^-*_scale are exact decimals. projected_exhaustion is RFC 3339
-- with nanoseconds, '' when usage does not run out (it may lie beyond the
-- range of DateTime).
CREATE TABLE IF NOT EXISTS {db}.alerts
(
    id                         String,
    type                       String,
    tenant                     String,
    period_start               DateTime('UTC'),
    time                       DateTime('UTC'),
    time_ns                    Int64,
    threshold_coef             Int64,
    threshold_scale            UInt8,
    consumed_micros            Int64,
    available_micros           Int64,
    projected_exhaustion       String,
    entitlement                String,
    grant_id                   String,
    credits_micros             Int64,
    price_coef                 Int64,
    price_scale                UInt8,
    rate_per_minute_micros     Int64,
    baseline_per_minute_micros Int64,
    driver_meters              Array(String),
    driver_models              Array(String),
    driver_credits_micros      Array(Int64),
    inserted_at                DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY id;

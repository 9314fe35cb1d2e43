-- Grants (SPEC 2.2), one row per (tenant, id); a repeat collapses (FINAL).
-- Money is exact: price = price_coef × 10^-price_scale (schemas.Decimal).
CREATE TABLE IF NOT EXISTS {db}.grants
(
    tenant                String,
    id                    String,
    credits_micros        Int64,
    price_coef            Int64,
    price_scale           UInt8,
    kind                  String,
    time                  DateTime('UTC'),
    time_ns               Int64,
    expires_after_periods Int32,
    inserted_at           DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, id);

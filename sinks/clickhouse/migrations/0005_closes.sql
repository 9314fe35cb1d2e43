-- Period closes and their line items (SPEC 3.8), as written by the close job.
-- Analysts read the views period_closes and line_items (0007), which carry
-- exactly the columns of SPEC 5. Running a close twice writes the same rows
-- with the same sorting keys; they collapse (views and readers use FINAL).
--
-- A line item's key is (tenant, period_start, kind, description, occurrence):
-- occurrence numbers lines that share the first four fields (0, 1, …) in the
-- order the close produced them, so two equal-looking purchases stay two
-- lines while a repeated close still collapses.
CREATE TABLE IF NOT EXISTS {db}.period_closes_store
(
    tenant                         String,
    period_start                   DateTime('UTC'),
    period_end                     DateTime('UTC'),
    plan                           String,
    rollover_in_micros             Int64,
    included_micros                Int64,
    grant_credits_available_micros Int64,
    available_micros               Int64,
    consumed_micros                Int64,
    overage_micros                 Int64,
    billable_overage_micros        Int64,
    uncollected_overage_micros     Int64,
    overage_amount_coef            Int64,
    overage_amount_scale           UInt8,
    rollover_out_micros            Int64,
    expired_credits_micros         Int64,
    recognized_revenue_coef        Int64,
    recognized_revenue_scale       UInt8,
    deferred_revenue_end_coef      Int64,
    deferred_revenue_end_scale     UInt8,
    currency                       String,
    inserted_at                    DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, period_start);

CREATE TABLE IF NOT EXISTS {db}.line_items_store
(
    tenant              String,
    period_start        DateTime('UTC'),
    period_end          DateTime('UTC'),
    kind                String,
    description         String,
    occurrence          UInt32,
    quantity_micros     Int64,
    unit_price_coef     Int64,
    unit_price_scale    UInt8,
    amount_coef         Int64,
    amount_scale        UInt8,
    currency            String,
    charged_at_purchase UInt8,
    inserted_at         DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, period_start, kind, description, occurrence);

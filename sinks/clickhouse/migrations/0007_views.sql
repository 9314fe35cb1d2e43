-- Analyst views with stable names. window_totals, period_closes and
-- line_items carry exactly the columns of SPEC 5 (windows.csv,
-- period_closes.csv, line_items.csv), in that order. Types, identical on
-- ClickHouse 18.16 and 26.x:
--   credits and quantities  Decimal(38, 6)   exact (stored as Int64 millionths)
--   money                   Decimal(38, 18)  exact for every schemas.Decimal
--                                            (stored as coefficient and scale)
--   instants                DateTime('UTC'), days Date (UTC)
--   charged_at_purchase     UInt8 (1 = true; 18.16 has no Bool)
-- Every view reads its storage table with FINAL, so rows written twice (a
-- repeated close, a replayed offset range) count once even before a merge.

CREATE VIEW IF NOT EXISTS {db}.window_totals AS
SELECT
    tenant,
    meter,
    model,
    window_start,
    window_end,
    sum(event_count) AS events,
    sum(toDecimal128(quantity_micros, 6)) / 1000000 AS quantity,
    sum(toDecimal128(credits_micros, 6)) / 1000000 AS credits
FROM {db}.window_deltas FINAL
WHERE tenant != ''
GROUP BY tenant, meter, model, window_start, window_end;

CREATE VIEW IF NOT EXISTS {db}.daily_usage AS
SELECT
    tenant,
    toDate(window_start) AS day,
    meter,
    model,
    sum(event_count) AS events,
    sum(toDecimal128(quantity_micros, 6)) / 1000000 AS quantity,
    sum(toDecimal128(credits_micros, 6)) / 1000000 AS credits
FROM {db}.window_deltas FINAL
WHERE tenant != ''
GROUP BY tenant, day, meter, model;

CREATE VIEW IF NOT EXISTS {db}.period_closes AS
SELECT
    tenant,
    period_start,
    period_end,
    plan,
    toDecimal128(rollover_in_micros, 6) / 1000000 AS rollover_in,
    toDecimal128(included_micros, 6) / 1000000 AS included,
    toDecimal128(grant_credits_available_micros, 6) / 1000000 AS grant_credits_available,
    toDecimal128(available_micros, 6) / 1000000 AS available,
    toDecimal128(consumed_micros, 6) / 1000000 AS consumed,
    toDecimal128(overage_micros, 6) / 1000000 AS overage,
    toDecimal128(billable_overage_micros, 6) / 1000000 AS billable_overage,
    toDecimal128(uncollected_overage_micros, 6) / 1000000 AS uncollected_overage,
    toDecimal128(overage_amount_coef, 18) / intExp10(overage_amount_scale) AS overage_amount,
    toDecimal128(rollover_out_micros, 6) / 1000000 AS rollover_out,
    toDecimal128(expired_credits_micros, 6) / 1000000 AS expired_credits,
    toDecimal128(recognized_revenue_coef, 18) / intExp10(recognized_revenue_scale) AS recognized_revenue,
    toDecimal128(deferred_revenue_end_coef, 18) / intExp10(deferred_revenue_end_scale) AS deferred_revenue_end,
    currency
FROM {db}.period_closes_store FINAL;

CREATE VIEW IF NOT EXISTS {db}.line_items AS
SELECT
    tenant,
    period_start,
    period_end,
    kind,
    description,
    toDecimal128(quantity_micros, 6) / 1000000 AS quantity,
    toDecimal128(unit_price_coef, 18) / intExp10(unit_price_scale) AS unit_price,
    toDecimal128(amount_coef, 18) / intExp10(amount_scale) AS amount,
    currency,
    charged_at_purchase
FROM {db}.line_items_store FINAL;

-- current_balance: one row per tenant with any usage, grant or close. What
-- ClickHouse can know without the catalog and the ledger (see doc.go):
--   period_start         start of the open period = period_end of the
--                        tenant's latest close; 1970-01-01 00:00:00 when the
--                        tenant was never closed (then all usage counts)
--   consumed             credits of usage in windows starting at or after
--                        period_start
--   rollover_in          rollover_out of the latest close
--   included             included of the latest close (the plan then in force)
--   granted              credits of grants with time at or after period_start
--   available            rollover_in + included + granted: a LOWER BOUND, it
--                        leaves out grants bought before period_start that
--                        still have credits left
--   balance              available - consumed
--   last_close_consumed, last_close_available   the latest close's figures
CREATE VIEW IF NOT EXISTS {db}.current_balance AS
SELECT
    tenant,
    period_start,
    consumed,
    rollover_in,
    included,
    granted,
    rollover_in + included + granted AS available,
    rollover_in + included + granted - consumed AS balance,
    last_close_consumed,
    last_close_available
FROM
(
    SELECT
        tenant,
        any(c_period_end) AS period_start,
        sumIf(toDecimal128(u_micros, 6), u_time >= c_period_end) / 1000000 AS consumed,
        sumIf(toDecimal128(g_micros, 6), u_time >= c_period_end) / 1000000 AS granted,
        toDecimal128(any(c_rollover_out), 6) / 1000000 AS rollover_in,
        toDecimal128(any(c_included), 6) / 1000000 AS included,
        toDecimal128(any(c_consumed), 6) / 1000000 AS last_close_consumed,
        toDecimal128(any(c_available), 6) / 1000000 AS last_close_available
    FROM
    (
        SELECT tenant, window_start AS u_time, credits_micros AS u_micros, toInt64(0) AS g_micros
        FROM {db}.window_deltas FINAL
        WHERE tenant != ''
        UNION ALL
        SELECT tenant, time AS u_time, toInt64(0) AS u_micros, credits_micros AS g_micros
        FROM {db}.grants FINAL
        UNION ALL
        SELECT tenant, period_end AS u_time, toInt64(0) AS u_micros, toInt64(0) AS g_micros
        FROM {db}.period_closes_store FINAL
    ) AS u
    ANY LEFT JOIN
    (
        SELECT
            tenant,
            max(period_end) AS c_period_end,
            argMax(rollover_out_micros, period_start) AS c_rollover_out,
            argMax(included_micros, period_start) AS c_included,
            argMax(consumed_micros, period_start) AS c_consumed,
            argMax(available_micros, period_start) AS c_available
        FROM {db}.period_closes_store FINAL
        GROUP BY tenant
    ) AS c USING tenant
    GROUP BY tenant
);

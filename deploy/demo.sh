#!/usr/bin/env bash
# make demo: the streaming pipeline end to end on local defaults.
#
#   1. starts ClickHouse (Debian's clickhouse-server, data under build/services)
#      and, unless KAFKA_BROKERS is set, an in-memory Kafka broker (kfake);
#   2. generates two hours of traffic ending now for 200 tenants, one of which
#      (t-000005) runs away 10x half way, plus a matching catalog;
#   3. produces it to Kafka and runs `creditflow run` for DEMO_SECONDS (60);
#   4. prints what landed in ClickHouse (totals, alerts, dead letters), a close
#      preview, and the SQL to look further.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${BIN:-build/bin/creditflow}
DEMO=${DEMO_DIR:-build/demo}
SECONDS_TO_RUN=${DEMO_SECONDS:-60}
DB=${DEMO_DATABASE:-creditflow_demo}
RUNAWAY=t-000005
rm -rf "$DEMO" && mkdir -p "$DEMO"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

say "ClickHouse"
./deploy/clickhouse.sh start
export CLICKHOUSE_ADDR=${CLICKHOUSE_ADDR:-127.0.0.1:9000}
CH_PORT=${CLICKHOUSE_ADDR##*:}
ch() { clickhouse-client --port "$CH_PORT" --database "$DB" --format PrettyCompact -q "$1"; }

say "Kafka"
if [ -z "${KAFKA_BROKERS:-}" ]; then
  "$BIN" broker --port 19092 >"$DEMO/broker.out" 2>"$DEMO/broker.log" &
  pids+=($!)
  export KAFKA_BROKERS=127.0.0.1:19092
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/19092) 2>/dev/null && break; sleep 0.1; done
  echo "in-memory broker (kfake) on $KAFKA_BROKERS — set KAFKA_BROKERS to use a real one"
else
  echo "using KAFKA_BROKERS=$KAFKA_BROKERS"
fi

say "Generating 2 h of traffic ending now (200 tenants, runaway tenant $RUNAWAY)"
START=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
GEN=(--events 360000 --rate 50 --tenants 200 --start "$START" --runaway "$RUNAWAY" --seed 42 --late 0.0005)
"$BIN" gen "${GEN[@]}" --catalog-out "$DEMO/catalog.yaml" --out "$DEMO/events.jsonl"
"$BIN" gen "${GEN[@]}" --brokers "$KAFKA_BROKERS"

say "Running the pipeline for ${SECONDS_TO_RUN}s (database $DB)"
clickhouse-client --port "$CH_PORT" -q "DROP DATABASE IF EXISTS $DB"
CREDITFLOW_CLOSE_SCHEDULE="@every 20s" CREDITFLOW_PIPELINE_FLUSH_INTERVAL=1s \
  "$BIN" run --catalog "$DEMO/catalog.yaml" --database "$DB" >"$DEMO/run.log" 2>&1 &
run_pid=$!
pids+=($run_pid)
sleep "$SECONDS_TO_RUN"
kill -INT "$run_pid"; wait "$run_pid" || true
tail -n 3 "$DEMO/run.log"

say "What landed"
ch "SELECT count() AS windows, sum(events) AS events, sum(credits) AS credits FROM window_totals"
ch "SELECT tenant, sum(events) AS events, sum(credits) AS credits FROM window_totals GROUP BY tenant ORDER BY credits DESC LIMIT 5"
ch "SELECT type, count() AS alerts FROM alerts FINAL GROUP BY type ORDER BY type"
ch "SELECT id, time, rate_per_minute_micros / 1e6 AS credits_per_min_now, baseline_per_minute_micros / 1e6 AS baseline, driver_meters, driver_models FROM alerts FINAL WHERE type = 'runaway' ORDER BY time LIMIT 5"
ch "SELECT count() AS period_closes FROM period_closes"

say "Close preview for $RUNAWAY, this month (creditflow close --dry-run)"
"$BIN" close --period "$(date -u +%Y-%m)" --tenant "$RUNAWAY" --dry-run \
  --catalog "$DEMO/catalog.yaml" --events "$DEMO/events.jsonl" 2>/dev/null

say "Look further"
cat <<SQL
clickhouse-client --port $CH_PORT --database $DB
  SELECT * FROM window_totals WHERE tenant = '$RUNAWAY' ORDER BY window_start DESC LIMIT 20;
  SELECT * FROM daily_usage ORDER BY day DESC, credits DESC LIMIT 20;
  SELECT * FROM current_balance ORDER BY tenant LIMIT 20;
  SELECT * FROM alerts FINAL ORDER BY time;
  SELECT * FROM line_items WHERE tenant = '$RUNAWAY' ORDER BY period_start;
Files: $DEMO/events.jsonl, $DEMO/catalog.yaml, pipeline log $DEMO/run.log
SQL

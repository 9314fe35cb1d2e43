#!/usr/bin/env bash
# make streambench: the streaming pipeline against the local Kafka and
# ClickHouse (source .ci/services.sh first).
#
#   1. throughput: STREAM_EVENTS (default 10000000) generated events are put
#      on a 6-partition topic first; `creditflow run` then drains them with
#      raw events stored; reported: wall time from start to the last offset
#      committed in ClickHouse, events/s and CPU-µs per event of the pipeline
#      process. The same backlog through `creditflow rawsink` (parse + insert
#      raw rows only, the usual metering sink) is the baseline.
#   (STREAM_SKIP_LATENCY=1 and STREAM_SKIP_BASELINE=1 skip parts while tuning.)
#   2. latency: with the pipeline running, `creditflow probe` produces live
#      load (PROBE_RATE events/s, default 20000) for PROBE_SECONDS (60) and
#      times probes from produce to (a) the window total visible in
#      ClickHouse and (b) the threshold alert readable on the alerts topic.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${BIN:-build/bin/creditflow}
DIR=${BENCH_DIR:-build/streambench}
N=${STREAM_EVENTS:-10000000}
: "${KAFKA_BROKERS:?source .ci/services.sh first}" "${CLICKHOUSE_ADDR:?source .ci/services.sh first}"
mkdir -p "$DIR"
suffix=$(date +%s)
T=bench.events.$suffix
DB=bench_$suffix
export CREDITFLOW_KAFKA_TOPICS_EVENTS=$T CREDITFLOW_KAFKA_TOPICS_GRANTS=bench.grants.$suffix \
  CREDITFLOW_KAFKA_TOPICS_ALERTS=bench.alerts.$suffix CREDITFLOW_KAFKA_TOPICS_ENTITLEMENTS=bench.ent.$suffix \
  CREDITFLOW_KAFKA_TOPICS_DEADLETTER=bench.dl.$suffix CREDITFLOW_KAFKA_TOPICS_CLOSES=bench.closes.$suffix \
  CREDITFLOW_KAFKA_GROUP=bench-$suffix CREDITFLOW_CLOSE_DISABLED=true
# ClickHouse runs on this host: no wire compression, for the pipeline and the
# baseline alike (clickhouse.compression; the default lz4 is for a network).
export CREDITFLOW_CLICKHOUSE_COMPRESSION=${CREDITFLOW_CLICKHOUSE_COMPRESSION:-none}
CH_PORT=${CLICKHOUSE_ADDR##*:}
q() { clickhouse-client --port "$CH_PORT" -q "$1"; }
ticks=$(getconf CLK_TCK)
cpu_of() { awk -v t="$ticks" '{printf "%.3f", ($14 + $15) / t}' "/proc/$1/stat"; }
# The broker and ClickHouse share the machine: their CPU is reported too.
svc_pid() { cat "${CF_BUILD_DIR:-build/services}/$1/$1.pid" 2>/dev/null || echo; }
svc_cpu() { local p; p=$(svc_pid "$1"); if [ -n "$p" ] && [ -r "/proc/$p/stat" ]; then cpu_of "$p"; else echo 0; fi; }

# Events span the last ~35 minutes so none is too old or in the future.
rate=$(( N / 2000 )); [ "$rate" -lt 1 ] && rate=1
START=$(date -u -d '-2100 seconds' +%Y-%m-%dT%H:%M:%SZ)
GEN=(--events "$N" --tenants 10000 --rate "$rate" --start "$START" --seed 9 --late 0.001)
"$BIN" gen "${GEN[@]}" --catalog-out "$DIR/catalog.yaml" --out /dev/null 2>/dev/null
echo "== producing $N events to $T"
kcat -b "$KAFKA_BROKERS" -L >/dev/null
t0=$(date +%s.%N)
"$BIN" gen "${GEN[@]}" --brokers "$KAFKA_BROKERS" --topic "$T" 2>/dev/null
echo "produced in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"

echo "== creditflow run (database $DB)"
"$BIN" run --catalog "$DIR/catalog.yaml" --database "$DB" >"$DIR/run.log" 2>&1 &
pid=$!
t0=$(date +%s.%N); k0=$(svc_cpu kafka); c0=$(svc_cpu clickhouse)
# Polled every 0.2 s; the first time a commit is seen also gives the
# steady-state rate (without process start, migrations and the group join).
first_t=""; first_n=0
while :; do
  sleep 0.2
  kill -0 "$pid" 2>/dev/null || { tail "$DIR/run.log"; exit 1; }
  done_n=$(q "SELECT sum(l + 1) FROM (SELECT kafka_partition, max(last_offset) AS l FROM $DB.window_deltas GROUP BY kafka_partition)" 2>/dev/null || echo 0)
  if [ -z "$first_t" ] && [ "${done_n:-0}" -gt 0 ]; then first_t=$(date +%s.%N); first_n=$done_n; fi
  [ "${done_n:-0}" -ge "$N" ] && break
done
t1=$(date +%s.%N); cpu=$(cpu_of "$pid"); k1=$(svc_cpu kafka); c1=$(svc_cpu clickhouse)
awk -v n="$N" -v f="$first_n" -v a="$first_t" -v b="$t1" 'BEGIN {
  printf "steady state: %d events from the first commit to the last in %.1f s = %.0f events/s\n", n-f, b-a, (n-f)/(b-a) }'
awk -v n="$N" -v a="$t0" -v b="$t1" -v c="$cpu" -v k="$(awk -v x="$k0" -v y="$k1" 'BEGIN{print y-x}')" \
  -v h="$(awk -v x="$c0" -v y="$c1" 'BEGIN{print y-x}')" 'BEGIN {
  printf "pipeline: %d events in %.1f s = %.0f events/s; CPU-µs/event: pipeline %.2f, kafka %.2f, clickhouse %.2f, total %.2f\n",
    n, b-a, n/(b-a), c*1e6/n, k*1e6/n, h*1e6/n, (c+k+h)*1e6/n }'

if [ "${STREAM_SKIP_LATENCY:-}" = 1 ]; then
  kill -INT "$pid"; wait "$pid" || true
else
echo "== latency under live load (pipeline still running)"
"$BIN" probe --catalog "$DIR/catalog.yaml" --database "$DB" --topic "$T" --alerts-topic "bench.alerts.$suffix" \
  --rate "${PROBE_RATE:-20000}" --duration "${PROBE_SECONDS:-60}s" 2>/dev/null
kill -INT "$pid"; wait "$pid" || true
fi
unset CREDITFLOW_CPUPROFILE CREDITFLOW_MEMPROFILE
[ "${STREAM_SKIP_BASELINE:-}" = 1 ] && { [ "${STREAM_KEEP_DB:-}" = 1 ] || q "DROP DATABASE IF EXISTS $DB"; echo "database $DB"; exit 0; }

echo "== baseline: creditflow rawsink (parse + insert raw rows, no aggregation)"
t0=$(date +%s.%N)
k0=$(svc_cpu kafka); c0=$(svc_cpu clickhouse)
"$BIN" rawsink --topic "$T" --events "$N" --database "raw_$DB" 2>"$DIR/rawsink.log" &
pid=$!
cpu=0
while kill -0 "$pid" 2>/dev/null; do c=$(cpu_of "$pid" 2>/dev/null) && cpu=$c; sleep 0.2; done
wait "$pid"
t1=$(date +%s.%N); k1=$(svc_cpu kafka); c1=$(svc_cpu clickhouse)
awk -v n="$N" -v a="$t0" -v b="$t1" -v c="$cpu" -v k="$(awk -v x="$k0" -v y="$k1" 'BEGIN{print y-x}')" \
  -v h="$(awk -v x="$c0" -v y="$c1" 'BEGIN{print y-x}')" 'BEGIN {
  printf "baseline: %d events in %.1f s = %.0f events/s; CPU-µs/event: rawsink %.2f, kafka %.2f, clickhouse %.2f, total %.2f\n",
    n, b-a, n/(b-a), c*1e6/n, k*1e6/n, h*1e6/n, (c+k+h)*1e6/n }'
[ "${STREAM_KEEP_DB:-}" = 1 ] || { q "DROP DATABASE IF EXISTS $DB"; q "DROP DATABASE IF EXISTS raw_$DB"; }

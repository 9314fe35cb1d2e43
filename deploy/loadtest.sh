#!/usr/bin/env bash
# make loadtest: `creditflow replay` over generated files of two sizes, to
# show wall time, events/s and that peak RSS does not grow with the input's
# length. Sizes: LOAD_EVENTS (default 10000000) and half of it, generated at
# LOAD_RATE events per second of event time (default 25), so that both files
# span more than the 24 h dedup horizon and memory has reached its plateau.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${BIN:-build/bin/creditflow}
DIR=${LOAD_DIR:-build/load}
N=${LOAD_EVENTS:-10000000}
RATE=${LOAD_RATE:-25} # events per second of event time: 10M events span 4.6 days, past the 24 h dedup horizon
mkdir -p "$DIR"
command -v /usr/bin/time >/dev/null || { apt-get install -y -q time >/dev/null; }
for n in $((N / 2)) "$N"; do
  ev="$DIR/events-$n-r$RATE.jsonl"
  if [ ! -s "$ev" ]; then
    "$BIN" gen --events "$n" --tenants 10000 --seed 7 --rate "$RATE" --catalog-out "$DIR/catalog.yaml" --out "$ev" 2>/dev/null
  fi
  rm -rf "$DIR/out-$n"
  /usr/bin/time -f "%e %M" -o "$DIR/time-$n" "$BIN" replay --progress none --catalog "$DIR/catalog.yaml" \
    --events "$ev" --now 2026-12-01T00:00:00Z --out "$DIR/out-$n" 2>"$DIR/replay-$n.log"
  read -r secs rss <"$DIR/time-$n"
  awk -v n="$n" -v bytes="$(stat -c %s "$ev")" -v s="$secs" -v rss="$rss" 'BEGIN {
    printf "%10d events  %8.1f MiB input  %6.1f s  %9.0f events/s  peak RSS %6.1f MiB\n", n, bytes/1048576, s, n/s, rss/1024 }'
done

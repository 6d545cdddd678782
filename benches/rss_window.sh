#!/usr/bin/env bash
# Daemon memory against database size (issue #12: RSS bounded by the window, not by the
# database): for each FEEDS in SIZES (default "1000 10000", x ITEMS=50 = 50k and 500k stored
# items), a fresh database is filled by poll-once from generated feeds (benches/gen_feeds.py,
# nginx on loopback), then the daemon is started on it and, once its near-duplicate index has
# loaded and it has been idle for 5 s, its RSS and peak RSS are read. Baseline in the same run:
# the database's size on disk. Prints one table.
#   bash benches/rss_window.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000 10000"}
ITEMS=${ITEMS:-50}
source benches/lib.sh
bench_needs
bin=$(release_bin)
bench_workdir
rows=()
for feeds in $SIZES; do
  rm -f "$work"/w.db*
  serve_feeds "$feeds" "$ITEMS" 2
  desk_config "0 0 1 1 *" "$(port)"
  "$bin" poll-once --config "$work/feeds.toml" > /dev/null 2>"$work/err" || { tail -3 "$work/err"; exit 1; }
  items=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from items').fetchone()[0])" "$work/w.db")
  size=$(du -sm "$work"/w.db* | awk '{s += $1} END {print s}')
  RUST_LOG=info "$bin" run --config "$work/feeds.toml" 2>"$work/desk.log" &
  desk=$!; pids=("$desk")
  for _ in $(seq 1200); do grep -q "index loaded" "$work/desk.log" && break; sleep 0.25; done
  grep -q "index loaded" "$work/desk.log" || { echo "the index never loaded"; tail -5 "$work/desk.log"; exit 1; }
  indexed=$(grep -o 'index loaded[^"]*items=[0-9]*' "$work/desk.log" | grep -o '[0-9]*$' | tail -1)
  sleep 5
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$desk/status"); hwm=$(awk '/VmHWM/ {print $2}' "/proc/$desk/status")
  kill "$desk"; wait "$desk" 2>/dev/null || true; pids=()
  rows+=("$items $size ${indexed:-?} $((rss / 1024)) $((hwm / 1024))")
done
printf '%-14s %-16s %-16s %-12s %s\n' "stored items" "database on disk" "indexed items" "daemon RSS" "peak RSS"
for r in "${rows[@]}"; do read -r i s x m h <<<"$r"; printf '%-14s %-16s %-16s %-12s %s\n' "$i" "$s MB" "$x" "$m MB" "$h MB"; done

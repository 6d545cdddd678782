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
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
source benches/lib.sh
bin=$(release_bin)
work=$(mktemp -d)
desk=
cleanup() {
  [ -n "$desk" ] && kill "$desk" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
rows=()
for feeds in $SIZES; do
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" && sleep 0.5
  rm -rf "$work/www" "$work"/w.db*
  python3 benches/gen_feeds.py "$work/www" "$feeds" "$ITEMS" ../shared/corpus/dedup >/dev/null
  chmod 755 "$work" "$work/www"; chmod 644 "$work/www/"*
  nginx_port=$(port); desk_port=$(port)
  printf 'worker_processes 2;\npid %s/nginx.pid;\nerror_log %s/nginx.err;\nevents { worker_connections 4096; }\nhttp { access_log off; server { listen 127.0.0.1:%s; root %s/www; } }\n' "$work" "$work" "$nginx_port" "$work" > "$work/nginx.conf"
  nginx -c "$work/nginx.conf"
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nginx_port/f0000.xml" >/dev/null && break; sleep 0.1; done
  { printf '[server]\nlisten = "127.0.0.1:%s"\n[storage]\npath = "%s/w.db"\n[poll]\nschedule = "0 0 1 1 *"\nconcurrency = 64\nper_host = 64\n[dedup]\nwindow_hours = 48\n' "$desk_port" "$work"
    sed "s#@BASE@#http://127.0.0.1:$nginx_port#" "$work/www/feeds.toml.part"; } > "$work/feeds.toml"
  "$bin" poll-once --config "$work/feeds.toml" > /dev/null 2>"$work/err" || { tail -3 "$work/err"; exit 1; }
  items=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from items').fetchone()[0])" "$work/w.db")
  size=$(du -sm "$work"/w.db* | awk '{s += $1} END {print s}')
  RUST_LOG=info "$bin" run --config "$work/feeds.toml" 2>"$work/desk.log" &
  desk=$!
  for _ in $(seq 1200); do grep -q "index loaded" "$work/desk.log" && break; sleep 0.25; done
  grep -q "index loaded" "$work/desk.log" || { echo "the index never loaded"; tail -5 "$work/desk.log"; exit 1; }
  indexed=$(grep -o 'index loaded[^"]*items=[0-9]*' "$work/desk.log" | grep -o '[0-9]*$' | tail -1)
  sleep 5
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$desk/status"); hwm=$(awk '/VmHWM/ {print $2}' "/proc/$desk/status")
  kill "$desk"; wait "$desk" 2>/dev/null || true; desk=
  rows+=("$items $size ${indexed:-?} $((rss / 1024)) $((hwm / 1024))")
done
printf '%-14s %-16s %-16s %-12s %s\n' "stored items" "database on disk" "indexed items" "daemon RSS" "peak RSS"
for r in "${rows[@]}"; do read -r i s x m h <<<"$r"; printf '%-14s %-16s %-16s %-12s %s\n' "$i" "$s MB" "$x" "$m MB" "$h MB"; done

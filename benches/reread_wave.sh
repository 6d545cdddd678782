#!/usr/bin/env bash
# The daemon's CPU over a re-read wave (issue #12: a re-read feed's unchanged entries), for each
# wiredesk binary given (an older build as the baseline, the new one), alternating, ROUNDS times:
#   ROUNDS=3 bash benches/reread_wave.sh /path/to/old/wiredesk target/release/wiredesk
# FEEDS generated feeds of ITEMS items (benches/gen_feeds.py) on nginx, stored once by
# `poll-once`. Each run gives every feed a new item and starts the daemon on a copy of that
# database, lets its first wave read every feed (after a start it knows no feed's entries),
# then gives every feed one more new item
# (ITEMS - 1 stored + 1 new) and measures the daemon's CPU from then until every feed has been
# refreshed once more and the render after the wave has run. Waves start at a minute's tick,
# so each run takes one to two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
FEEDS=${FEEDS:-2000}; ITEMS=${ITEMS:-50}; CONC=64
binaries_bench "bash benches/reread_wave.sh BINARY..." "$FEEDS" "$ITEMS" "$@"
desk_port=$(port)
desk_config "0 * * * * *" "$desk_port"
"$1" poll-once --config "$work/feeds.toml" > /dev/null 2>"$work/err" || { tail -3 "$work/err"; exit 1; }
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('pragma wal_checkpoint(TRUNCATE)')" "$work/w.db"
cp "$work/w.db" "$work/stored.db"
entries=$((FEEDS * ITEMS))
step=0
for round in $(seq "${ROUNDS:-1}"); do
  for bin in "$@"; do
    rm -f "$work"/w.db*
    cp "$work/stored.db" "$work/w.db"
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('update feeds set next_attempt = 0'); c.commit()" "$work/w.db"
    step=$((step + 1))
    python3 benches/add_items.py "$work/www" 1 "$((1000 + step))"
    RUST_LOG=info "$bin" run --config "$work/feeds.toml" 2>"$work/desk.log" &
    desk=$!
    pids+=($desk)
    refreshed() { grep -c "refreshed feed=" "$work/desk.log" || true; }
    for _ in $(seq 3000); do [ "$(refreshed)" -ge "$FEEDS" ] && break; sleep 0.2; done
    [ "$(refreshed)" -ge "$FEEDS" ] || { echo "$bin: the first wave did not finish"; tail -3 "$work/desk.log"; exit 1; }
    # A quiet moment well before the next tick (second 0), then the feeds change.
    while :; do sec=$((10#$(date +%S))); [ "$sec" -ge 5 ] && [ "$sec" -le 40 ] && break; sleep 0.5; done
    step=$((step + 1))
    python3 benches/add_items.py "$work/www" 1 "$((1000 + step))"
    before=$(refreshed)
    c0=$(awk '{print $14 + $15}' "/proc/$desk/stat")
    for _ in $(seq 1200); do [ "$(refreshed)" -ge $((before + FEEDS)) ] && break; sleep 0.1; done
    [ "$(refreshed)" -ge $((before + FEEDS)) ] || { echo "$bin: the second wave did not finish"; exit 1; }
    sleep 2 # the render that follows the wave
    c1=$(awk '{print $14 + $15}' "/proc/$desk/stat")
    kill "$desk"; wait "$desk" 2>/dev/null || true
    python3 -c "import sys; t = ($c1 - $c0) / 100; print(f'{sys.argv[1]}: re-read wave {t:.2f} CPU s, {t * 1e6 / $entries:.0f} us per entry read')" "$bin"
  done
done

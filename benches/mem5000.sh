#!/usr/bin/env bash
# Peak RSS of a 5,000-feed first poll (issue #12's memory target: 400 MB), for each wiredesk
# binary given (an older build as the baseline, the new one), alternating, ROUNDS times:
#   ROUNDS=2 bash benches/mem5000.sh /path/to/old/wiredesk target/release/wiredesk
# Feeds from benches/gen_feeds.py (text of ../shared/corpus/dedup), served by nginx on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh
FEEDS=${FEEDS:-5000}; ITEMS=${ITEMS:-50}; CONC=64
binaries_bench "bash benches/mem5000.sh BINARY..." "$FEEDS" "$ITEMS" "$@"
desk_config "0 0 * * *"
for round in $(seq ${ROUNDS:-1}); do
  for bin in "$@"; do
    rm -f "$work"/w.db*
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$bin" poll-once --config "$work/feeds.toml" > /dev/null 2>"$work/err" || { tail -3 "$work/err"; exit 1; }
    awk -v b="$bin" '{printf "%s: %.1f s wall, %.1f CPU s, peak %.0f MB\n", b, $1, $2+$3, $4/1024}' "$work/time"
  done
done

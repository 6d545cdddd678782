#!/usr/bin/env bash
# Ingest, 304-wave, admin-command and start-up benchmark (issue #12), against baselines measured
# in the same run: FEEDS generated feeds of ITEMS realistic news items (benches/gen_feeds.py,
# text from ../shared/corpus/dedup), served by nginx on loopback.
#   bash benches/ingest.sh                      FEEDS=2000 ITEMS=50 ROUNDS=1 by default
# Also the same fresh ingest with near-duplicate matching off: the floor a faster matcher could
# reach. Baselines: Python feedparser parsing the same files (entries/s), curl fetching every
# feed with the same concurrency (plain, then with If-None-Match), sqlite3-style direct SQL for
# the rows an admin command prints. Prints one table; exits non-zero when a baseline cannot be
# measured.
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${FEEDS:-2000}
ITEMS=${ITEMS:-50}
CONC=${CONC:-64}
source benches/lib.sh
bench_needs
python3 -c 'import feedparser' 2>/dev/null || pip install -q feedparser
bin=$(release_bin)
bench_workdir
# "wall cpu maxrss_kb" of a command (GNU time); its output goes to $work/out.
measure() { /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" > "$work/out" 2>"$work/err" || { cat "$work/err" >&2; return 1; }; awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$work/time"; }

serve_feeds "$FEEDS" "$ITEMS" 2
entries=$((FEEDS * ITEMS))
desk_port=$(port)
desk_config "0 0 * * *" "$desk_port"
ls "$work/www"/f*.xml | sed "s#.*/#$base/#" > "$work/urls"

# Baselines.
read -r curl_wall _ _ < <(measure bash -c "xargs -P $CONC -n 50 curl -s -o /dev/null < '$work/urls'")
etag=$(curl -sI "$base/f0000.xml" | sed -n 's/^etag: //Ip' | tr -d '\r')
[ -n "$etag" ] || { echo "nginx sent no ETag: no 304 baseline"; exit 1; }
read -r curl304_wall _ _ < <(measure bash -c "xargs -P $CONC -n 50 curl -s -o /dev/null -H 'If-None-Match: $etag' < '$work/urls'")
fp=$(python3 - "$work/www" <<'PY'
import feedparser, glob, sys, time
files = sorted(glob.glob(sys.argv[1] + "/f*.xml"))
t = time.process_time(); n = 0
for f in files:
    n += len(feedparser.parse(f).entries)
print(f"{n / (time.process_time() - t):.0f} {n}")
PY
)
read -r fp_rate fp_n <<<"$fp"
[ "$fp_n" = "$entries" ] || { echo "feedparser read $fp_n entries, expected $entries"; exit 1; }

# wiredesk. The -wal file's size is sampled during the fresh ingest (its largest is written).
wal_peak() {
  local peak=0 s
  while :; do
    s=$(stat -c %s "$work/w.db-wal" 2>/dev/null || echo 0)
    [ "$s" -gt "$peak" ] && { peak=$s; echo "$peak" > "$work/walpeak"; }
    sleep 0.1
  done
}
echo 0 > "$work/walpeak"
wal_peak & sampler=$!
read -r w1 c1 m1 < <(measure "$bin" poll-once --config "$work/feeds.toml")
kill "$sampler"; wait "$sampler" 2>/dev/null || true
wal_mb=$(( $(cat "$work/walpeak") / 1048576 )); db_mb=$(( $(stat -c %s "$work/w.db") / 1048576 ))
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from items').fetchone()[0])" "$work/w.db")
[ "$stored" = "$entries" ] || { echo "stored $stored of $entries entries"; tail -5 "$work/out"; exit 1; }
stories=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from stories').fetchone()[0])" "$work/w.db")
# The same fresh ingest with near-duplicate matching off, into another database: what fetching,
# parsing, preparing and the SQL writes (items, stories, search rows) cost without the matcher,
# i.e. the most a faster matching algorithm could gain.
sed -e "s#^path = .*#path = \"$work/nomatch.db\"#" -e 's/^\[poll\]$/[dedup]\nnear_duplicates = false\n[poll]/' \
  "$work/feeds.toml" > "$work/nomatch.toml"
grep -q '^near_duplicates = false' "$work/nomatch.toml" || { echo "could not write the no-matching config"; exit 1; }
read -r wn cn mn < <(measure "$bin" poll-once --config "$work/nomatch.toml")
stored_nm=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from items').fetchone()[0])" "$work/nomatch.db")
[ "$stored_nm" = "$entries" ] || { echo "matching off: stored $stored_nm of $entries entries"; tail -5 "$work/out"; exit 1; }
rm -f "$work"/nomatch.db*
read -r w2 c2 m2 < <(measure "$bin" poll-once --config "$work/feeds.toml")
grep -q "304" "$work/out" || { echo "the second poll got no 304s"; head -3 "$work/out"; exit 1; }
read -r ws cs _ < <(measure "$bin" status --config "$work/feeds.toml")
read -r wj cj _ < <(measure "$bin" stories --json --limit 100000 --config "$work/feeds.toml")
read -r wq _ _ < <(measure python3 -c "
import sqlite3,sys
c=sqlite3.connect(sys.argv[1]); n=0
for r in c.execute('select s.id, i.title, i.link, i.text from stories s join items i on i.story_id = s.id order by s.published desc'): n+=1
" "$work/w.db")
# Start-up and re-read waves, in the daemon. Every feed gets one new item (49 stored, 1 new)
# and is made due, so the daemon starts a wave at once: until /feed.atom answers 200, and until
# it logs that it started (the wave is spawned by then). That first wave also loads the
# near-duplicate index. A second wave at the next minute's tick (one more new item per feed)
# measures what a re-read feed costs with the index in memory.
python3 benches/add_items.py "$work/www" 1 1
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('update feeds set next_attempt = 0'); c.commit()" "$work/w.db"
sed -i 's/^schedule = .*/schedule = "0 * * * * *"/' "$work/feeds.toml"
start=$(date +%s.%N)
RUST_LOG=info "$bin" run --config "$work/feeds.toml" 2>"$work/desk.log" &
desk=$!
pids+=($desk)
elapsed() { python3 -c "import time,sys; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$1"; }
for _ in $(seq 3000); do curl -sf -o /dev/null "http://127.0.0.1:$desk_port/feed.atom" && break; sleep 0.01; done
served=$(elapsed "$start")
for _ in $(seq 3000); do grep -q "wiredesk started" "$work/desk.log" && break; sleep 0.01; done
started=$(elapsed "$start")
refreshed() { grep -c "refreshed feed=" "$work/desk.log" || true; }
for _ in $(seq 6000); do [ "$(refreshed)" -ge "$FEEDS" ] && grep -q "index loaded" "$work/desk.log" && break; sleep 0.1; done
[ "$(refreshed)" -ge "$FEEDS" ] || { echo "the first wave did not finish"; tail -5 "$work/desk.log"; exit 1; }
wave1=$(elapsed "$start")
cpu() { awk '{printf "%.2f\n", ($14 + $15) / 100}' "/proc/$desk/stat"; }
cpu1=$(cpu)
# Wait for a quiet moment well before the next tick (second 0), then change the feeds.
while :; do sec=$((10#$(date +%S))); [ "$sec" -ge 5 ] && [ "$sec" -le 40 ] && break; sleep 0.5; done
python3 benches/add_items.py "$work/www" 1 2
before=$(refreshed); d0=$(cpu)
for _ in $(seq 1200); do [ "$(refreshed)" -ge $((before + FEEDS)) ] && break; sleep 0.1; done
[ "$(refreshed)" -ge $((before + FEEDS)) ] || { echo "the second wave did not finish"; tail -5 "$work/desk.log"; exit 1; }
sleep 2 # the render that follows the wave
d1=$(cpu)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$desk/status")
kill "$desk"; wait "$desk" 2>/dev/null || true
reread=$(python3 -c "print(f'{$d1 - $d0:.2f}')")

python3 - <<PY
e = $entries
rows = [
  ("fresh ingest, poll-once", f"{$w1:.1f} s wall, {$c1:.1f} CPU s, {e / $w1:,.0f} entries/s, {$m1 / 1024:.0f} MB peak",
   f"feedparser parse alone {$fp_rate:,.0f} entries/s; curl fetch {$curl_wall:.2f} s"),
  ("fresh ingest, matching off", f"{$wn:.1f} s wall, {$cn:.1f} CPU s, {e / $wn:,.0f} entries/s, {$mn / 1024:.0f} MB peak",
   "[dedup] near_duplicates = false: the floor without the matcher"),
  ("fresh ingest: disk", f"database {$db_mb} MB after; -wal file at most {$wal_mb} MB during", ""),
  ("all-304 poll-once", f"{$w2:.2f} s wall, {$c2:.2f} CPU s", f"curl If-None-Match {$curl304_wall:.2f} s"),
  ("status", f"{$ws:.2f} s", ""),
  ("stories --json (all)", f"{$wj:.2f} s", f"direct SQL over the same rows {$wq:.2f} s"),
  ("daemon start: /feed.atom 200", f"{$served} s", ""),
  ("daemon start: first wave started", f"{$started} s", ""),
  ("first wave + index load", f"{$wave1} s wall, {$cpu1} CPU s (daemon total so far)", ""),
  ("re-read wave (49 old + 1 new per feed)", f"{$reread} CPU s: {$reread * 1e6 / e:.0f} us per entry read", ""),
  ("daemon peak RSS", f"{$rss / 1024:.0f} MB", ""),
]
print(f"$FEEDS feeds x $ITEMS items = {e:,} entries, {$stories:,} stories; concurrency $CONC; nginx on loopback")
print(f"{'figure':<32} {'wiredesk':<58} baseline (same run)")
for a, b, c in rows:
    print(f"{a:<32} {b:<58} {c}")
print(f"ingest vs feedparser's parse alone: {e / $w1 / $fp_rate:.1f}x")
PY

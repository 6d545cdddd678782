#!/usr/bin/env bash
# Steady state (issue #12): FEEDS feeds (default 10,000) of ITEMS items on the 5-field schedule
# "*/5 * * * *" (each feed offset within the five minutes), served by nginx on loopback; every
# 30 s a changer adds one new item to CHANGE_PER_30S random feeds (default 1 % of the feeds, so
# 10 % of them change per five-minute wave). After the first ingest (poll-once) and a warm-up,
# the daemon is measured for DURATION seconds: CPU (utime+stime from /proc, as a share of one
# core), RSS, refresh latency percentiles (from its log) and ticks missed (each feed must be
# polled once per wave). Baseline in the same run: nginx's own CPU for the same requests.
#   bash benches/steady.sh            FEEDS=10000 ITEMS=30 DURATION=600 WARMUP=120
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${FEEDS:-10000}
ITEMS=${ITEMS:-30}
DURATION=${DURATION:-600}
WARMUP=${WARMUP:-120}
CHANGE_PER_30S=${CHANGE_PER_30S:-$((FEEDS / 100))}
source benches/lib.sh
desk_bench "*/5 * * * *" "$FEEDS" "$ITEMS"
"$bin" poll-once --config "$work/feeds.toml" > /dev/null 2>&1
RUST_LOG=info "$bin" run --config "$work/feeds.toml" 2>"$work/desk.log" &
desk=$!; pids+=($desk)
# The changer: one new item in CHANGE_PER_30S random feeds every 30 s.
python3 - "$work/www" "$CHANGE_PER_30S" <<'PY' &
import datetime, email.utils, glob, os, random, sys, time
d, n = sys.argv[1], int(sys.argv[2])
files = sorted(glob.glob(os.path.join(d, "f*.xml")))
rng = random.Random(3)
r = 0
while True:
    r += 1
    now = email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc))
    for path in rng.sample(files, n):
        name = os.path.basename(path)[:-4]
        doc = open(path, encoding="utf-8").read()
        item = (f"<item><title>Update {r} from {name}: talks on rail strike resume</title>"
                f"<link>https://{name}.example/u{r}</link><guid>https://{name}.example/u{r}</guid>"
                f"<pubDate>{now}</pubDate><description>Negotiators met again in round {r}.</description></item>")
        head, sep, rest = doc.partition("<item>")
        tmp = path + ".tmp"
        open(tmp, "w", encoding="utf-8").write(head + item + sep + rest)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    time.sleep(30)
PY
pids+=($!)
sleep "$WARMUP"
grep -q "index loaded" "$work/desk.log" || { echo "the index did not load during the warm-up"; exit 1; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
nginx_cpu() { local t=0; for p in $(pgrep -f "nginx: worker" ); do t=$((t + $(cpu "$p"))); done; echo $t; }
lines0=$(wc -l < "$work/desk.log"); c0=$(cpu "$desk"); n0=$(nginx_cpu); t0=$(date +%s)
sleep "$DURATION"
c1=$(cpu "$desk"); n1=$(nginx_cpu); t1=$(date +%s)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$desk/status"); hwm=$(awk '/VmHWM/ {print $2}' "/proc/$desk/status")
tail -n +"$((lines0 + 1))" "$work/desk.log" > "$work/window.log"
python3 - "$work/window.log" "$FEEDS" "$DURATION" "$((c1 - c0))" "$((n1 - n0))" "$((t1 - t0))" "$rss" "$hwm" <<'PY'
import re, statistics, sys
log, feeds, duration, ticks, nticks, wall, rss, hwm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
per_feed, ms, changed, errors = {}, [], 0, 0
for line in open(log, encoding="utf-8", errors="replace"):
    m = re.search(r"(refreshed|unchanged) feed=(\S+) status=(\d+).* ms=(\d+)", line)
    if m:
        per_feed[m.group(2)] = per_feed.get(m.group(2), 0) + 1
        ms.append(int(m.group(4)))
        changed += m.group(1) == "refreshed"
    elif " ERROR " in line or "error" in line and "feed=" in line:
        errors += 1
waves = duration / 300
counts = [per_feed.get(f"f{i:04d}", 0) for i in range(feeds)]
missed = sum(max(0, int(waves) - c) for c in counts)
q = statistics.quantiles(ms, n=100) if len(ms) > 100 else [0] * 99
print(f"{feeds} feeds on */5, {duration} s measured ({waves:.1f} waves), {changed} refreshes with new items, {len(ms)} refreshes in all")
print(f"daemon CPU: {ticks / 100:.1f} s = {ticks / 100 / wall:.3f} of a core   (nginx serving the same: {nticks / 100 / wall:.3f})")
print(f"RSS now {rss / 1024:.0f} MB, peak {hwm / 1024:.0f} MB")
print(f"refresh latency ms: p50 {q[49]:.0f}, p90 {q[89]:.0f}, p99 {q[98]:.0f}, max {max(ms) if ms else 0}")
print(f"polls per feed in the window: min {min(counts)}, max {max(counts)}; ticks missed: {missed}; error lines: {errors}")
PY

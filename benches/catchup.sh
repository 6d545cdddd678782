#!/usr/bin/env bash
# Health during a catch-up (issue #12): the daemon starts on a fresh database with FEEDS
# generated feeds of ITEMS items (benches/gen_feeds.py, nginx on loopback), so its first wave
# ingests FEEDS x ITEMS entries while the store thread is busy. Every 100 ms a prober asks for
# /healthz, / and /feed.atom (5 s timeout) and records each answer's latency and status, until
# every feed has been refreshed; then the same probes for 5 s on the idle daemon (the baseline,
# same run). Prints one table; exits non-zero when either phase got no answers, or when any
# probe during the catch-up was not answered 200 (a daemon that looks dead while it works).
#   bash benches/catchup.sh            FEEDS=2000 ITEMS=50
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDS=${FEEDS:-2000}
ITEMS=${ITEMS:-50}
source benches/lib.sh
desk_bench "0 0 * * *" "$FEEDS" "$ITEMS"
RUST_LOG=info "$bin" run --config "$work/feeds.toml" 2>"$work/desk.log" &
pids+=($!)
python3 - "$desk_port" "$work/desk.log" "$FEEDS" "$!" <<'PY'
import os, sys, time, urllib.request
port, log, feeds, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
paths = ["/healthz", "/", "/feed.atom"]

def probe(path):
    t = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except Exception:
        status = 0
    return (time.monotonic() - t) * 1000, status

def refreshed():
    with open(log, errors="replace") as f:
        return sum(1 for line in f if "refreshed feed=" in line)

def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False

def dead():
    with open(log, errors="replace") as f:
        sys.exit("the daemon is not running:\n" + "".join(f.readlines()[-10:]))

# Wait until the daemon listens (the catch-up starts with it).
for _ in range(600):
    if probe("/healthz")[1]:
        break
    if not alive():
        dead()
    time.sleep(0.05)
else:
    sys.exit("the daemon never answered")
start = time.monotonic()
busy = {p: [] for p in paths}
while True:  # at least one round of probes, however quick the catch-up
    for p in paths:
        busy[p].append(probe(p))
    if refreshed() >= feeds:
        break
    if time.monotonic() - start > 900:
        sys.exit("the catch-up did not finish in 15 minutes")
    if not alive():
        dead()
    time.sleep(0.1)
catchup = time.monotonic() - start
time.sleep(2)  # the render that follows the wave
idle = {p: [] for p in paths}
end = time.monotonic() + 5
while time.monotonic() < end:
    for p in paths:
        idle[p].append(probe(p))
    time.sleep(0.1)

def row(samples):
    ms = sorted(m for m, _ in samples)
    ok = sum(1 for _, s in samples if s == 200)
    q = lambda f: ms[min(len(ms) - 1, int(f * len(ms)))]
    return f"{len(ms):>4} probes, {ok:>4} 200s, p50 {q(0.5):7.1f} ms, p99 {q(0.99):7.1f} ms, max {ms[-1]:7.1f} ms"

if not all(busy.values()) or not all(idle.values()):
    sys.exit("a phase got no probes")
print(f"{feeds} feeds: catch-up of their first wave took {catchup:.1f} s")
print(f"{'path':<11} {'during the catch-up':<70} idle daemon (baseline, same run)")
for p in paths:
    print(f"{p:<11} {row(busy[p]):<70} {row(idle[p])}")
failed = [(p, s) for p in paths for _, s in busy[p] if s != 200]
if failed:
    sys.exit(f"{len(failed)} probes during the catch-up were not answered 200: {failed[:5]}")
PY

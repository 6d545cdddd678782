#!/usr/bin/env bash
# Operating-system-level checks of the daemon that need root (mounts), run by .ci/run after the
# test suite: a read-only database path is refused at start with a clear message, a full disk
# gives a clear per-feed error without corrupting or half-writing anything, and SIGTERM
# with refreshes in flight (against a server that never answers) exits 0 within 10 s.
# Bounded: every wait has a timeout; everything started is stopped on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
extra_cleanup() {
  umount "$work/ro" 2>/dev/null || true
  umount "$work/full" 2>/dev/null || true
}

if [ "$(id -u)" != 0 ]; then
  echo "ops checks: need root for mounts; not run"
  exit 0
fi


# A feed server: a large feed (2,000 items with long texts) and a port that never answers.
mkdir -p "$work/www"
python3 - "$work/www/big.xml" <<'PY'
import sys
items = "".join(
    f"<item><guid>g{i}</guid><link>https://big.example/{i}</link><title>Story number {i} about topic {i % 97}</title>"
    f"<description>{('Paragraph %d of a long wire story. ' % i) * 40}</description></item>"
    for i in range(2000))
open(sys.argv[1], "w").write(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>')
PY
www_port=$(port)
serve_dir "$work/www" "$www_port"
hang_port=$(port)
python3 -c "
import socket,time,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$hang_port)); s.listen(64)
conns=[]
while True:
    c,_=s.accept(); conns.append(c)
" &
pids+=($!)
for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$www_port/big.xml')" 2>/dev/null && break
  sleep 0.1
done

config() { # $1 = database path, $2... = feed lines
  local db=$1; shift
  printf '[server]\nlisten = "127.0.0.1:%s"\n[storage]\npath = "%s"\n[poll]\ntimeout = "30s"\n' "$(port)" "$db"
  for f in "$@"; do printf '%s\n' "$f"; done
}

echo "== read-only database path is refused"
mkdir -p "$work/ro"
mount -t tmpfs -o size=4m tmpfs "$work/ro"
config "$work/ro/w.db" > "$work/ro.toml"
"$bin" poll-once --config "$work/ro.toml" >/dev/null
mount -o remount,ro "$work/ro"
set +e
out=$(timeout 20 "$bin" run --config "$work/ro.toml" 2>&1)
code=$?
set -e
echo "$out" | tail -2
[ "$code" = 1 ] || { echo "expected exit 1 on a read-only database, got $code"; exit 1; }
echo "$out" | grep -q "$work/ro/w.db" || { echo "the message does not name the database"; exit 1; }
echo "$out" | grep -qi "read.only\|readonly" || { echo "the message does not say read-only"; exit 1; }

echo "== a full disk is a clear error on the feed, nothing corrupt or half-written"
mkdir -p "$work/full"
mount -t tmpfs -o size=600k tmpfs "$work/full"
config "$work/full/w.db" \
  '[[feed]]' 'id = "big"' "url = \"http://127.0.0.1:$www_port/big.xml\"" > "$work/full.toml"
set +e
out=$(timeout 60 "$bin" poll-once --config "$work/full.toml" 2>&1)
code=$?
set -e
echo "$out" | tail -2
[ "$code" = 3 ] || { echo "expected exit 3 (a feed failed), got $code"; exit 1; }
echo "$out" | grep -qi "full" || { echo "the error does not say the disk is full"; exit 1; }
python3 - "$work/full/w.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
n = c.execute("SELECT COUNT(*) FROM items").fetchone()[0]
assert n == 0, f"a half-written refresh: {n} items"
err = c.execute("SELECT last_error FROM feeds WHERE id='big'").fetchone()[0]
print("stored error:", err)
PY

echo "== SIGTERM with refreshes in flight exits 0 within 10 s"
config "$work/term.db" \
  '[[feed]]' 'id = "hang1"' "url = \"http://127.0.0.1:$hang_port/a.xml\"" \
  '[[feed]]' 'id = "hang2"' "url = \"http://127.0.0.1:$hang_port/b.xml\"" \
  '[[feed]]' 'id = "big"' "url = \"http://127.0.0.1:$www_port/big.xml\"" > "$work/term.toml"
"$bin" run --config "$work/term.toml" 2>"$work/term.log" &
daemon=$!
for _ in $(seq 100); do grep -q "wiredesk started" "$work/term.log" && break; sleep 0.1; done
kill -TERM "$daemon"
set +e
timeout 10 tail --pid="$daemon" -f /dev/null
waited=$?
wait "$daemon"
code=$?
set -e
[ "$waited" = 0 ] || { echo "the daemon did not exit within 10 s of SIGTERM"; exit 1; }
[ "$code" = 0 ] || { echo "exit code $code after SIGTERM"; tail -5 "$work/term.log"; exit 1; }
python3 -c "
import sqlite3; c=sqlite3.connect('$work/term.db')
assert c.execute('PRAGMA integrity_check').fetchone()[0]=='ok'
print('after SIGTERM: integrity ok,', c.execute('SELECT COUNT(*) FROM items').fetchone()[0], 'items')"
echo "ops checks: passed"

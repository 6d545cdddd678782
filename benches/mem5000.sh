#!/usr/bin/env bash
# Peak RSS of a 5,000-feed first poll (issue #12's memory target: 400 MB), for each wiredesk
# binary given (an older build as the baseline, the new one), alternating, ROUNDS times:
#   ROUNDS=2 bash benches/mem5000.sh /path/to/old/wiredesk target/release/wiredesk
# Feeds from benches/gen_feeds.py (text of ../shared/corpus/dedup), served by nginx on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
[ $# -gt 0 ] || { echo "usage: bash benches/mem5000.sh BINARY..."; exit 2; }
FEEDS=${FEEDS:-5000}; ITEMS=${ITEMS:-50}; CONC=64
work=$(mktemp -d)
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
python3 benches/gen_feeds.py "$work/www" "$FEEDS" "$ITEMS" ../shared/corpus/dedup >/dev/null
chmod 755 "$work" "$work/www"; chmod 644 "$work/www/"*
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$nginx_port; root $work/www; } }
NGINX
nginx -c "$work/nginx.conf"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nginx_port/f0000.xml" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$nginx_port"
for round in $(seq ${ROUNDS:-1}); do
  for bin in "$@"; do
    rm -f "$work"/w.db*
    { printf '[server]\nlisten = "127.0.0.1:1"\n[storage]\npath = "%s"\n[poll]\nschedule = "0 0 * * *"\nconcurrency = %s\nper_host = %s\n' "$work/w.db" $CONC $CONC
      sed "s#@BASE@#$base#" "$work/www/feeds.toml.part"; } > "$work/feeds.toml"
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$bin" poll-once --config "$work/feeds.toml" > /dev/null 2>"$work/err" || { tail -3 "$work/err"; exit 1; }
    awk -v b="$bin" '{printf "%s: %.1f s wall, %.1f CPU s, peak %.0f MB\n", b, $1, $2+$3, $4/1024}' "$work/time"
  done
done

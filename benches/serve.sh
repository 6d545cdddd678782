#!/usr/bin/env bash
# Serving benchmark: wrk on loopback against wiredesk's /feed.atom (~200 KB) and against nginx
# serving the same bytes as a static file, side by side in one run (the machine is noisy, so
# the ratio is what counts). Three cases: plain 200, gzip 200, and 304 revalidation.
#   bash benches/serve.sh            (installs wrk and nginx-light from Debian if missing)
# Bounded: each wrk run lasts DURATION seconds; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
fi
cargo build --release --quiet
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Three feeds of 40 items each, ~2.4 KB of text per item: 100 stories make a ~200 KB Atom body.
mkdir -p "$work/www" "$work/static"
python3 - "$work/www" <<'PY'
import sys
for f in "abc":
    items = "".join(
        f"<item><guid>{f}{i}</guid><title>Outlet {f} story {i}: officials announce the figures for region {i}</title>"
        f"<link>https://{f}.example/{i}</link><description>{('Paragraph of wire copy number %d for outlet %s. ' % (i, f)) * 30}</description></item>"
        for i in range(40))
    open(f"{sys.argv[1]}/{f}.xml", "w").write(f'<rss version="2.0"><channel><title>{f}</title>{items}</channel></rss>')
PY
www_port=$(port)
(cd "$work/www" && exec python3 -m http.server "$www_port" --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)
desk_port=$(port)
cat > "$work/feeds.toml" <<TOML
[server]
listen = "127.0.0.1:$desk_port"
feed_size = 100
[storage]
path = "$work/w.db"
[dedup]
near_duplicates = false
[[feed]]
id = "a"
url = "http://127.0.0.1:$www_port/a.xml"
[[feed]]
id = "b"
url = "http://127.0.0.1:$www_port/b.xml"
[[feed]]
id = "c"
url = "http://127.0.0.1:$www_port/c.xml"
TOML
RUST_LOG=warn ./target/release/wiredesk run --config "$work/feeds.toml" 2>"$work/desk.log" &
pids+=($!)
for _ in $(seq 300); do
  n=$(curl -s "http://127.0.0.1:$desk_port/feed.atom" | grep -c "<entry>" || true)
  [ "$n" = 100 ] && break
  sleep 0.2
done
[ "$n" = 100 ] || { echo "the daemon did not publish 100 stories"; exit 1; }
curl -s "http://127.0.0.1:$desk_port/feed.atom" > "$work/static/feed.atom"
gzip -k -6 "$work/static/feed.atom"
desk_etag=$(curl -sI "http://127.0.0.1:$desk_port/feed.atom" | sed -n 's/^etag: //Ip' | tr -d '\r')
nginx_port=$(port)
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/atom+xml atom; }
  gzip_static on;
  server { listen 127.0.0.1:$nginx_port; root $work/static; }
}
NGINX
nginx -c "$work/nginx.conf"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nginx_port/feed.atom" >/dev/null && break; sleep 0.1; done
nginx_etag=$(curl -sI "http://127.0.0.1:$nginx_port/feed.atom" | sed -n 's/^etag: //Ip' | tr -d '\r')
size=$(wc -c < "$work/static/feed.atom")

rps() { # url, extra header or ""
  local out
  if [ -n "$2" ]; then out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -H "$2" "$1"); else out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" "$1"); fi
  echo "$out" | sed -n 's/^Requests\/sec: *//p'
}
echo "feed.atom: $size bytes; wrk -t2 -c$CONNS -d${DURATION}s on loopback; same machine, same run"
printf '%-10s %14s %14s %8s\n' case wiredesk nginx ratio
for case in plain gzip 304; do
  case $case in
    plain) dh=""; nh="";;
    gzip) dh="Accept-Encoding: gzip"; nh="Accept-Encoding: gzip";;
    304) dh="If-None-Match: $desk_etag"; nh="If-None-Match: $nginx_etag";;
  esac
  d=$(rps "http://127.0.0.1:$desk_port/feed.atom" "$dh")
  n=$(rps "http://127.0.0.1:$nginx_port/feed.atom" "$nh")
  printf '%-10s %14s %14s %7.2f\n' "$case" "$d" "$n" "$(python3 -c "print($d/$n)")"
done

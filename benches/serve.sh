#!/usr/bin/env bash
# Serving benchmark: wrk on loopback against wiredesk's /feed.atom (~200 KB) and against nginx
# serving the same bytes as a static file, side by side in one run (the machine is noisy, so
# the ratio is what counts). Three cases: plain 200, gzip 200, and 304 revalidation.
#   bash benches/serve.sh            (installs wrk and nginx-light from Debian if missing)
#   DURATION=5 ROUNDS=3 CONNS=32 are the defaults.
# Bounded: each wrk run lasts DURATION seconds; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
fi
source benches/lib.sh
bin=$(release_bin)
bench_workdir

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
# The daemon's first poll must find the feeds (a failure would back off for a minute).
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$www_port/a.xml" >/dev/null && break; sleep 0.1; done
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
RUST_LOG=warn "$bin" run --config "$work/feeds.toml" 2>"$work/desk.log" &
pids+=($!)
for _ in $(seq 300); do
  n=$(curl -s "http://127.0.0.1:$desk_port/feed.atom" | grep -c "<entry>" || true)
  [ "$n" = 100 ] && break
  sleep 0.2
done
[ "$n" = 100 ] || { echo "the daemon did not publish 100 stories (got $n)"; cat "$work/desk.log"; exit 1; }
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
# nginx's workers run as an unprivileged user: the files must be readable by them (mktemp -d
# makes a 0700 directory, which once made every nginx answer a 403 and the comparison void).
chmod 755 "$work" "$work/static"
chmod 644 "$work/static/"*
nginx -c "$work/nginx.conf"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nginx_port/feed.atom" >/dev/null && break; sleep 0.1; done
# Both servers must answer 200 with the same bytes before anything is measured.
for url in "http://127.0.0.1:$desk_port/feed.atom" "http://127.0.0.1:$nginx_port/feed.atom"; do
  cmp -s <(curl -sf "$url") "$work/static/feed.atom" || { echo "$url does not serve the feed"; exit 1; }
  cmp -s <(curl -sf -H 'Accept-Encoding: gzip' "$url" | gunzip) "$work/static/feed.atom" \
    || { echo "$url does not serve the feed gzipped"; exit 1; }
done
nginx_etag=$(curl -sI "http://127.0.0.1:$nginx_port/feed.atom" | sed -n 's/^etag: //Ip' | tr -d '\r')
size=$(wc -c < "$work/static/feed.atom")

rps() { # url, extra header or ""; fails if any answer was not a 2xx/3xx
  local out
  if [ -n "$2" ]; then out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -H "$2" "$1"); else out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" "$1"); fi
  if echo "$out" | grep -q "Non-2xx or 3xx"; then echo "$1 gave error answers: $out" >&2; exit 1; fi
  echo "$out" | sed -n 's/^Requests\/sec: *//p'
}
for pair in "$desk_port $desk_etag" "$nginx_port $nginx_etag"; do
  set -- $pair
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $2" "http://127.0.0.1:$1/feed.atom")
  [ "$code" = 304 ] || { echo "port $1 answers $code, not 304, to its own ETag"; exit 1; }
done
echo "feed.atom: $size bytes; wrk -t2 -c$CONNS -d${DURATION}s on loopback; same machine, same run;"
echo "$ROUNDS rounds, wiredesk and nginx alternating; the ratio is the median of the rounds' ratios"
printf '%-10s %14s %14s %8s\n' case wiredesk nginx ratio
for case in plain gzip 304; do
  case $case in
    plain) dh=""; nh="";;
    gzip) dh="Accept-Encoding: gzip"; nh="Accept-Encoding: gzip";;
    304) dh="If-None-Match: $desk_etag"; nh="If-None-Match: $nginx_etag";;
  esac
  ds=(); ns=()
  for _ in $(seq "$ROUNDS"); do
    ds+=("$(rps "http://127.0.0.1:$desk_port/feed.atom" "$dh")")
    ns+=("$(rps "http://127.0.0.1:$nginx_port/feed.atom" "$nh")")
  done
  python3 - "$case" "${ds[*]}" "${ns[*]}" <<'PY'
import statistics, sys
case, d, n = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ratio = statistics.median(a / b for a, b in zip(d, n))
print(f"{case:<10} {statistics.median(d):14.0f} {statistics.median(n):14.0f} {ratio:7.2f}")
PY
done

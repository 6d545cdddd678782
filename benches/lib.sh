# Shared by the benchmark scripts (sourced from the repository's root).

# The release binary, built first, wherever cargo keeps its target directory (CARGO_TARGET_DIR
# included, as in CI).
release_bin() {
  cargo build --release --quiet
  local dir
  dir=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  echo "$dir/release/wiredesk"
}

# A free TCP port on loopback.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# What the scripts that serve generated feeds need: the labelled news corpus beside the checkout
# (their text; CORPUS= elsewhere), and nginx, installed when missing.
CORPUS=${CORPUS:-../shared/corpus/dedup}
bench_needs() {
  [ -d "$CORPUS" ] || { echo "no corpus at $CORPUS (set CORPUS=)"; exit 1; }
  command -v nginx >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
}

# $work: a directory removed at exit, with the nginx started there and every process in $pids.
bench_workdir() {
  work=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}

# FEEDS ITEMS [WORKERS]: generated feeds (benches/gen_feeds.py, text of $CORPUS) in $work/www,
# served by nginx on loopback; sets $nginx_port and $base. A second call replaces the first.
serve_feeds() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null && sleep 0.5
  rm -rf "$work/www"
  python3 benches/gen_feeds.py "$work/www" "$1" "$2" "$CORPUS" >/dev/null
  chmod 755 "$work" "$work/www"; chmod 644 "$work/www/"*
  nginx_port=$(port)
  base="http://127.0.0.1:$nginx_port"
  cat > "$work/nginx.conf" <<NGINX
worker_processes ${3:-1};
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$nginx_port; root $work/www; } }
NGINX
  nginx -c "$work/nginx.conf"
  for _ in $(seq 50); do curl -sf "$base/f0000.xml" >/dev/null && return 0; sleep 0.1; done
  echo "nginx did not serve the feeds"; return 1
}

# SCHEDULE [DESK_PORT]: $work/feeds.toml for the served feeds, database $work/w.db.
desk_config() {
  { printf '[server]\nlisten = "127.0.0.1:%s"\n[storage]\npath = "%s/w.db"\n[poll]\nschedule = "%s"\nconcurrency = %s\nper_host = %s\n' \
      "${2:-1}" "$work" "$1" "${CONC:-64}" "${CONC:-64}"
    sed "s#@BASE@#$base#" "$work/www/feeds.toml.part"; } > "$work/feeds.toml"
}

# SCHEDULE FEEDS ITEMS: the setup of a daemon benchmark, in one call — what it needs, the
# release binary in $bin, $work, FEEDS generated feeds of ITEMS items served by nginx, and
# $work/feeds.toml with every feed on SCHEDULE, the daemon listening on $desk_port.
desk_bench() {
  bench_needs
  bin=$(release_bin)
  bench_workdir
  serve_feeds "$2" "$3"
  desk_port=$(port)
  desk_config "$1" "$desk_port"
}

# USAGE FEEDS ITEMS BINARY...: the setup of a benchmark that compares the wiredesk binaries
# given on its command line (an older build as the baseline, the new one) — the usage line when
# none is given, what it needs, $work, FEEDS generated feeds of ITEMS items served by nginx.
binaries_bench() {
  local usage=$1 feeds=$2 items=$3
  shift 3
  [ $# -gt 0 ] || { echo "usage: $usage"; exit 2; }
  bench_needs
  bench_workdir
  serve_feeds "$feeds" "$items" 2
}

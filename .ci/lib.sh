# Shared by the .ci check scripts (sourced after `set -euo pipefail`): the binary just built, a
# work directory and the processes started, cleaned up on exit (a script may add to `cleanup`
# through `extra_cleanup`), a free loopback port, and a static file server on loopback.
bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/wiredesk"
work=$(mktemp -d)
pids=()
extra_cleanup() { :; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  extra_cleanup
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

# A loopback port that was free a moment ago.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Serves directory $1 on loopback port $2 until the script ends.
serve_dir() {
  (cd "$1" && exec python3 -m http.server "$2" --bind 127.0.0.1 >/dev/null 2>&1) &
  pids+=($!)
  # Listening before anything polls it: a daemon's first poll refused would back off for a
  # minute and more.
  for _ in $(seq 100); do
    python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "the file server on port $2 never answered"; return 1
}

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

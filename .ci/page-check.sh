#!/usr/bin/env bash
# The page at / as a browser shows it: headless Chromium opens the running daemon's page (with
# hostile titles and a very long unbroken URL in a failing feed's error) at 1280 and 390 px
# wide, and the check fails on horizontal overflow or on any console error (a CSP violation
# included: the page must need no script and its one style block must match the CSP hash).
# Screenshots are kept in $OUT (default target/page-check/) as build output.
# Installs Debian's chromium and, in a virtualenv of its own, websocket-client (to speak the
# DevTools protocol); bounded waits; everything started is stopped on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out="${OUT:-${CARGO_TARGET_DIR:-$PWD/target}/page-check}"
mkdir -p "$out"

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check websocket-client
py="$work/venv/bin/python"

mkdir -p "$work/www"
long="https://outlet.example/$(printf 'averyveryverylongpathsegmentwithoutanybreak%.0s' {1..6})"
cat > "$work/www/a.xml" <<XML
<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>A</title>
<item><guid>a1</guid><title>Tom &amp;amp; Jerry &lt;script&gt;alert(1)&lt;/script&gt; $(printf 'Headlinewithoutspaces%.0s' {1..8})</title><link>$long</link><description>Lead text of the first story. $(printf 'Words of wire copy. %.0s' {1..40})</description></item>
<item><guid>a2</guid><title>שלום world 🌍 북한 미사일 발사</title><link>https://outlet.example/2</link><description>짧은 기사</description></item>
</channel></rss>
XML
www_port=$(port)
serve_dir "$work/www" "$www_port"
http_port=$(port)
cat > "$work/feeds.toml" <<TOML
[server]
listen = "127.0.0.1:$http_port"
title = "Page check"
[storage]
path = "$work/w.db"
[poll]
schedule = "*/5 * * * * *"
timeout = "2s"
[[feed]]
id = "a"
name = "Outlet A with a rather long name"
url = "http://127.0.0.1:$www_port/a.xml"
tags = ["world"]
[[feed]]
id = "broken"
name = "Broken"
url = "http://127.0.0.1:$www_port/$(printf 'missingfeedpathwithoutbreaks%.0s' {1..6}).xml"
TOML
chmod 600 "$work/feeds.toml"
"$bin" run --config "$work/feeds.toml" 2>"$work/daemon.log" &
pids+=($!)

cdp_port=$(port)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --remote-debugging-port="$cdp_port" about:blank \
  >/dev/null 2>&1 &
pids+=($!)

"$py" - "$http_port" "$cdp_port" "$out" "$work/daemon.log" <<'PY'
import base64, json, sys, time, urllib.request
import websocket

page_url = f"http://127.0.0.1:{sys.argv[1]}/"
cdp = f"http://127.0.0.1:{sys.argv[2]}"
out = sys.argv[3]

def wait(what, ok, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if ok():
                return
        except Exception:
            pass
        time.sleep(0.2)
    try:
        print("daemon log (last 4000 characters):", open(sys.argv[4]).read()[-4000:])
    except OSError as e:
        print("daemon log:", e)
    sys.exit(f"page check: {what} within {seconds} s")

def page_ready():
    with urllib.request.urlopen(page_url, timeout=5) as r:
        body = r.read().decode()
    return "Tom &amp;" in body and "1 failing" in body
wait("the daemon's page did not show the stories and the failing feed", page_ready)
targets = []
def devtools_up():
    global targets
    with urllib.request.urlopen(cdp + "/json", timeout=5) as r:
        targets = [t for t in json.load(r) if t.get("type") == "page"]
    return bool(targets)
wait("Chromium's DevTools did not answer", devtools_up)

ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=30)
ids = iter(range(1, 1_000_000))
errors = []
def call(method, **params):
    i = next(ids)
    ws.send(json.dumps({"id": i, "method": method, "params": params}))
    while True:
        msg = json.loads(ws.recv())
        if msg.get("method") == "Runtime.consoleAPICalled" and msg["params"]["type"] == "error":
            errors.append(str(msg["params"]["args"]))
        if msg.get("method") == "Log.entryAdded" and msg["params"]["entry"]["level"] == "error":
            errors.append(msg["params"]["entry"]["text"])
        if msg.get("id") == i:
            if "error" in msg:
                sys.exit(f"page check: {method}: {msg['error']}")
            return msg.get("result", {})

call("Runtime.enable")
call("Log.enable")
call("Page.enable")
failures = []
for width in (1280, 390):
    call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=width < 500)
    call("Page.navigate", url=page_url)
    deadline = time.time() + 30
    while time.time() < deadline:
        state = call("Runtime.evaluate", expression="document.readyState", returnByValue=True)
        if state["result"].get("value") == "complete":
            break
        time.sleep(0.1)
    time.sleep(0.5)  # let late console messages (CSP reports) arrive
    metrics = call("Runtime.evaluate", returnByValue=True, expression=
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    scroll, client = metrics["result"]["value"]
    shot = call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    with open(f"{out}/page-{width}.png", "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print(f"page check at {width} px: scroll width {scroll}, viewport {client}; screenshot {out}/page-{width}.png")
    if scroll > client:
        failures.append(f"horizontal overflow at {width} px ({scroll} > {client})")
# One more look for console errors that came after the last call.
call("Runtime.evaluate", expression="1")
if errors:
    failures.append("console errors: " + "; ".join(errors))
if failures:
    sys.exit("page check failed: " + "; ".join(failures))
print("page check: no horizontal overflow at 1280 or 390 px, no console error")
PY

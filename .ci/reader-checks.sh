#!/usr/bin/env bash
# Independent readers read what wiredesk publishes: Python feedparser must read every entry of
# the Atom and RSS outputs with bozo == 0, and the JSON Feed must validate against a JSON Feed
# 1.1 schema (written here from https://www.jsonfeed.org/version/1.1/). The feeds served to the
# daemon carry hostile titles (markup, ampersands, control characters, right-to-left text,
# emoji). Installs feedparser and jsonschema into a virtualenv of its own; bounded waits.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check feedparser jsonschema
py="$work/venv/bin/python"

mkdir -p "$work/www"
"$py" - "$work/www" <<'PY'
import sys, os
d = sys.argv[1]
hostile = [
    ("a1", "Tom &amp; Jerry &lt;script&gt;alert(1)&lt;/script&gt; win", "https://a.example/1?utm_source=x&amp;id=1"),
    ("a2", "\u05e9\u05dc\u05d5\u05dd world \U0001F30D emoji and RTL", "https://a.example/2"),
    ("a3", "Quotes \"double\" and 'single' and \u0001control", "https://a.example/3"),
    ("a4", "Shared wire story about the harbour bridge", "https://wire.example/bridge"),
]
def rss(title, items):
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>{l}</link>"
        f"<description>&lt;p onclick=\"x()\"&gt;Body of {g} &amp;amp; more&lt;/p&gt;</description></item>"
        for g, t, l in items)
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>{body}</channel></rss>'
open(os.path.join(d, "a.xml"), "w").write(rss("A", hostile).replace("\u0001", "&#x1;"))
open(os.path.join(d, "b.xml"), "w").write(rss("B", [("b1", "Harbour bridge reopens", "https://wire.example/bridge?utm_medium=rss")]))
PY
# \x01 is not allowed in XML even as a reference; feeds in the wild carry it anyway.
www_port=$(port)
serve_dir "$work/www" "$www_port"
http_port=$(port)
cat > "$work/feeds.toml" <<TOML
[server]
listen = "127.0.0.1:$http_port"
title = "Reader <check> & co"
[storage]
path = "$work/w.db"
[poll]
schedule = "*/5 * * * * *"
[[feed]]
id = "a"
name = "Outlet A & Sons"
url = "http://127.0.0.1:$www_port/a.xml"
tags = ["world"]
[[feed]]
id = "b"
name = "Outlet B"
url = "http://127.0.0.1:$www_port/b.xml"
tags = ["world"]
TOML
chmod 600 "$work/feeds.toml"
"$bin" run --config "$work/feeds.toml" 2>"$work/daemon.log" &
pids+=($!)

"$py" - "$http_port" "$work/daemon.log" <<'PY'
import json, sys, time, urllib.request
import feedparser, jsonschema
base = f"http://127.0.0.1:{sys.argv[1]}"
def get(path):
    with urllib.request.urlopen(base + path, timeout=5) as r:
        return r.read()
deadline = time.time() + 60
while True:
    try:
        doc = json.loads(get("/feed.json"))
        # Four stories, the shared one merged (both feeds stored, in either order, rendered).
        if len(doc["items"]) == 4 and any(
                len(i["_wiredesk"]["members"]) == 2 for i in doc["items"]):
            break
    except Exception:
        pass
    if time.time() > deadline:
        try:
            print("/feed.json:", get("/feed.json")[:3000].decode("utf-8", "replace"))
        except Exception as e:
            print("/feed.json:", e)
        print("daemon log (last 4000 characters):", open(sys.argv[2]).read()[-4000:])
        sys.exit("the daemon never published the four stories")
    time.sleep(0.2)

for path in ["/feed.atom", "/feed.rss", "/tags/world.atom", "/tags/world.rss"]:
    d = feedparser.parse(get(path))
    assert d.bozo == 0, f"{path}: bozo {d.get('bozo_exception')}"
    assert len(d.entries) == 4, f"{path}: {len(d.entries)} entries"
    titles = sorted(e.title for e in d.entries)
    assert "Tom & Jerry win" in titles, f"{path}: escaped markup in a title is stripped, text kept: {titles}"
    assert not any("<script" in t for t in titles), path
    assert any("\U0001F30D" in t for t in titles), path
    merged = [e for e in d.entries if "Also reported by" in e.get("summary", "")]
    assert len(merged) == 1, f"{path}: the shared story should list the other outlet"
    assert "onclick" not in d.entries[0].get("summary", ""), path
    print(f"feedparser: {path}: {len(d.entries)} entries, bozo 0")

# JSON Feed 1.1, from the specification: required and typed members, and our extension.
author = {"type": "object", "properties": {"name": {"type": "string"}, "url": {"type": "string"},
          "avatar": {"type": "string"}}, "minProperties": 1}
schema = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "home_page_url": {"type": "string", "format": "uri"},
        "feed_url": {"type": "string", "format": "uri"},
        "description": {"type": "string"},
        "authors": {"type": "array", "items": author},
        "items": {"type": "array", "items": {
            "type": "object",
            "required": ["id"],
            "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
            "properties": {
                "id": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "content_html": {"type": "string"},
                "content_text": {"type": "string"},
                "date_published": {"type": "string", "format": "date-time"},
                "date_modified": {"type": "string", "format": "date-time"},
                "authors": {"type": "array", "items": author},
                "tags": {"type": "array", "items": {"type": "string"}},
                "_wiredesk": {"type": "object", "required": ["story", "members"]},
            },
        }},
    },
}
for path in ["/feed.json", "/tags/world.json"]:
    doc = json.loads(get(path))
    jsonschema.validate(doc, schema, format_checker=jsonschema.FormatChecker())
    members = [len(i["_wiredesk"]["members"]) for i in doc["items"]]
    assert sorted(members) == [1, 1, 1, 2], members
    print(f"JSON Feed 1.1 schema: {path}: valid, {len(doc['items'])} items")
PY
# newsboat (Debian's package) subscribed to the Atom and the RSS URL, in reload-only runs.
if ! command -v newsboat >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq newsboat >/dev/null
fi
mkdir -p "$work/nb"
export HOME="$work/nb"
# One cache per feed: the Atom and RSS entries share their ids, and newsboat keys by id.
for kind in atom rss; do
  printf 'http://127.0.0.1:%s/feed.%s\n' "$http_port" "$kind" > "$work/nb/urls-$kind"
  timeout 60 newsboat -u "$work/nb/urls-$kind" -c "$work/nb/cache-$kind.db" -C /dev/null -x reload
  unread=$(timeout 60 newsboat -u "$work/nb/urls-$kind" -c "$work/nb/cache-$kind.db" -C /dev/null -x print-unread | grep -o '^[0-9]*')
  echo "newsboat: feed.$kind lists $unread articles"
  [ "$unread" = 4 ] || { echo "newsboat should list the 4 stories of feed.$kind"; exit 1; }
done
echo "reader checks: passed"

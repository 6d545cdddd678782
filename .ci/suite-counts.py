#!/usr/bin/env python3
"""Python feedparser's count of entries with a title, a link or text, for every feed file of
the parser test suites under tests/fixtures/suites/SUITE/ (for JSON Feed, which feedparser 6.0
does not read from bytes, the count of items with a title, a URL or text, by the spec), written to
tests/fixtures/suites/expected.json (what tests/suites.rs compares wiredesk's parse against).

    python3 .ci/suite-counts.py           regenerate expected.json
    python3 .ci/suite-counts.py --check   fail when expected.json differs from feedparser now

Needs feedparser (pip install feedparser); .ci/run installs it and runs --check.
"""
import json
import os
import sys

import feedparser

root = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "suites")


def counted(entry):
    text = entry.get("summary") or any(c.get("value") for c in entry.get("content", []))
    return bool(entry.get("title") or entry.get("link") or text)


def json_feed_items(data):
    """For a JSON Feed, its items with a title, a URL or text; None for anything else."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        return None
    keys = ("title", "url", "external_url", "content_html", "content_text", "summary")
    items = doc.get("items") if isinstance(doc.get("items"), list) else []
    return sum(1 for i in items if isinstance(i, dict) and any(
        isinstance(i.get(k), (str, int, float)) and str(i.get(k)).strip() for k in keys))


counts = {}
for suite in sorted(os.listdir(root)):
    base = os.path.join(root, suite)
    if not os.path.isdir(base):
        continue
    for dirpath, _, files in os.walk(base):
        for name in sorted(files):
            if name.endswith((".md", ".txt")) or name == "LICENSE":
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            with open(path, "rb") as f:
                data = f.read()
            json_items = json_feed_items(data)
            if json_items is not None:
                # feedparser 6.0 reads no JSON Feed from bytes: the spec's own count instead.
                counts[rel] = json_items
                continue
            d = feedparser.parse(data)
            counts[rel] = sum(1 for e in d.entries if counted(e))
out = json.dumps(dict(sorted(counts.items())), indent=1, ensure_ascii=False) + "\n"
target = os.path.join(root, "expected.json")
if "--check" in sys.argv:
    with open(target, encoding="utf-8") as f:
        if f.read() != out:
            sys.exit(f"{target} is not what feedparser {feedparser.__version__} says now: run .ci/suite-counts.py")
    print(f"expected.json agrees with feedparser {feedparser.__version__} ({len(counts)} files)")
else:
    with open(target, "w", encoding="utf-8") as f:
        f.write(out)
    print(f"wrote {target}: {len(counts)} files, feedparser {feedparser.__version__}")

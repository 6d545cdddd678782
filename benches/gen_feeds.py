#!/usr/bin/env python3
"""Generates realistic news feeds for the speed benchmarks.

    python3 benches/gen_feeds.py OUT_DIR N_FEEDS ITEMS_PER_FEED [CORPUS_DIR]

Text is drawn from the labelled news corpus (../shared/corpus/dedup/*/items.jsonl: English and
Korean titles and summaries) so that tokenising, normalising and matching see real words. About
a quarter of the items are stories shared across feeds: the same wire copy under a feed-specific
headline tail, or a light rewrite (words dropped), so the near-duplicate layer joins them. The rest
are unique: a corpus item with a third of its words replaced from the corpus vocabulary. Items are
dated within the last 24 hours (inside any retention). Writes OUT_DIR/f0000.xml … and
OUT_DIR/feeds.toml.part ([[feed]] tables with a URL placeholder @BASE@). Deterministic (seed 7).
"""
import datetime
import email.utils
import glob
import json
import os
import random
import sys
from xml.sax.saxutils import escape

out, n_feeds, per_feed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
corpus = sys.argv[4] if len(sys.argv) > 4 else os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "corpus", "dedup")
rng = random.Random(7)
items = []  # (title, summary, vocabulary of the item's own set: no Korean words in English)
for path in sorted(glob.glob(os.path.join(corpus, "*", "items.jsonl"))):
    own = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            it = json.loads(line)
            if it.get("title"):
                t, s = it["title"], it.get("summary") or ""
                items.append((t, s, own))
                own.extend((t + " " + s).split())
if not items:
    sys.exit(f"no corpus items under {corpus}")


def mutate(words, vocab, share):
    return [rng.choice(vocab) if rng.random() < share else w for w in words]


def unique_item():
    t, s, vocab = rng.choice(items)
    return " ".join(mutate(t.split(), vocab, 0.35)), " ".join(mutate(s.split(), vocab, 0.35))


shared = [unique_item() for _ in range(max(1, n_feeds * per_feed // 20))]
now = datetime.datetime.now(datetime.timezone.utc)
os.makedirs(out, exist_ok=True)
toml = []
for f in range(n_feeds):
    name = f"f{f:04d}"
    parts = []
    for i in range(per_feed):
        if rng.random() < 0.25:
            t, s = rng.choice(shared)
            if rng.random() < 0.5:
                t = f"{t} - Outlet {f}"
            else:
                s = " ".join(w for w in s.split() if rng.random() > 0.1)
        else:
            t, s = unique_item()
        date = email.utils.format_datetime(now - datetime.timedelta(seconds=rng.randrange(86400)))
        parts.append(
            f"<item><title>{escape(t)}</title><link>https://{name}.example/news/{i}</link>"
            f"<guid>https://{name}.example/news/{i}</guid><pubDate>{date}</pubDate>"
            f"<description>{escape(s)}</description></item>")
    with open(os.path.join(out, name + ".xml"), "w", encoding="utf-8") as fh:
        fh.write(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                 f"<title>Outlet {f}</title><link>https://{name}.example/</link>"
                 + "".join(parts) + "</channel></rss>")
    toml.append(f'[[feed]]\nid = "{name}"\nurl = "@BASE@/{name}.xml"\n')
with open(os.path.join(out, "feeds.toml.part"), "w") as fh:
    fh.write("\n".join(toml))

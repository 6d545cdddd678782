#!/usr/bin/env python3
"""Adds NEW fresh items at the top of every generated feed (benches/gen_feeds.py output), so
that the next poll sees ITEMS-NEW... entries it stored before and NEW entries it has not.

    python3 benches/add_items.py DIR NEW ROUND
"""
import datetime
import email.utils
import glob
import os
import random
import re
import sys
from xml.sax.saxutils import escape

d, new, rnd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(1000 + rnd)
now = email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc))
words = "minister council storm market talks court police budget rail strike port flood election".split()
for path in sorted(glob.glob(os.path.join(d, "f*.xml"))):
    name = os.path.basename(path)[:-4]
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    items = []
    for i in range(new):
        t = " ".join(rng.choice(words) for _ in range(8)) + f" {rnd}-{i}"
        s = " ".join(rng.choice(words) for _ in range(40))
        items.append(
            f"<item><title>{escape(t)}</title><link>https://{name}.example/r{rnd}/{i}</link>"
            f"<guid>https://{name}.example/r{rnd}/{i}</guid><pubDate>{now}</pubDate>"
            f"<description>{escape(s)}</description></item>")
    # Newest first; the feed keeps its length (the oldest items fall off the end).
    head, sep, rest = doc.partition("<item>")
    old = re.findall(r"<item>.*?</item>", sep + rest, flags=re.S)
    kept = old[: max(0, len(old) - new)]
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + "".join(items) + "".join(kept) + "</channel></rss>")

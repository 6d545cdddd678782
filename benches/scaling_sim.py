#!/usr/bin/env python3
"""Simulates polling on N instances by claiming due feeds from one shared table (SCALING.md).

    python3 benches/scaling_sim.py [FEEDS]        (default 2000; needs nginx, as the other benches)

SQLite in WAL mode stands in for PostgreSQL: a claim is one `BEGIN IMMEDIATE` transaction (where
PostgreSQL would use `FOR UPDATE SKIP LOCKED`). Each worker process claims up to 50 due feeds,
fetches each from a loopback nginx (conditional GET, like the daemon), and records the poll. A
wave makes every feed due; the wave is done when no feed is due or claimed. Checks, per worker
count (1, 2, 4): every feed polled exactly once per wave. Then a crash case: a worker claims a
batch and dies without polling it; after the claim expires the other workers poll those feeds,
and every feed is still polled exactly once. Prints one table; exits non-zero on a failed check.
"""
import multiprocessing as mp
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

FEEDS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
BATCH = 50
CLAIM_SECONDS = 2.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect(db):
    c = sqlite3.connect(db, timeout=30, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    return c


def claim(c, worker):
    now = time.time()
    c.execute("BEGIN IMMEDIATE")
    rows = c.execute(
        "SELECT id, url, etag FROM feeds WHERE next_attempt <= ? AND (claim_until IS NULL OR claim_until < ?)"
        " ORDER BY next_attempt LIMIT ?", (now, now, BATCH)).fetchall()
    c.executemany("UPDATE feeds SET claimed_by = ?, claim_until = ? WHERE id = ?",
                  [(worker, now + CLAIM_SECONDS, r[0]) for r in rows])
    c.execute("COMMIT")
    return rows


def worker(db, name, die_after_claim=False):
    c = connect(db)
    idle = 0
    while idle < 3:
        rows = claim(c, name)
        if die_after_claim and rows:
            os._exit(1)  # a crash: the claims stay until they expire
        if not rows:
            # Nothing due now: claims of a dead worker may still expire.
            pending = c.execute("SELECT COUNT(*) FROM feeds WHERE next_attempt <= ?", (time.time(),)).fetchone()[0]
            idle = 0 if pending else idle + 1
            time.sleep(0.2)
            continue
        done = []
        for fid, url, etag in rows:
            req = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    r.read()
                    new_etag = r.headers.get("ETag")
            except urllib.error.HTTPError as e:
                if e.code != 304:
                    raise
                new_etag = etag
            done.append((new_etag, time.time() + 3600, time.time(), fid))
        c.execute("BEGIN IMMEDIATE")
        c.executemany("UPDATE feeds SET etag = ?, next_attempt = ?, polled_at = ?, claimed_by = NULL,"
                      " claim_until = NULL, polls = polls + 1 WHERE id = ?", done)
        c.execute("COMMIT")


def wave(db, workers, crash=False):
    c = connect(db)
    c.execute("UPDATE feeds SET next_attempt = 0, claimed_by = NULL, claim_until = NULL, polls = 0")
    procs = []
    if crash:
        p = mp.Process(target=worker, args=(db, "doomed", True))
        p.start()
        p.join()
    start = time.time()
    for i in range(workers):
        p = mp.Process(target=worker, args=(db, f"w{i}"))
        p.start()
        procs.append(p)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(f"worker exited with {p.exitcode}")
    # Until the last poll (workers then idle a moment before they exit).
    took = c.execute("SELECT MAX(polled_at) FROM feeds").fetchone()[0] - start
    counts = [r[0] for r in c.execute("SELECT polls FROM feeds")]
    return took, min(counts), max(counts)


def main():
    work = tempfile.mkdtemp()
    try:
        www = os.path.join(work, "www")
        os.makedirs(www)
        for i in range(FEEDS):
            with open(os.path.join(www, f"f{i:04d}.xml"), "w") as f:
                f.write(f'<rss version="2.0"><channel><title>f{i}</title>'
                        + "".join(f"<item><guid>f{i}-{j}</guid><title>Item {j}</title></item>" for j in range(20))
                        + "</channel></rss>")
        os.chmod(work, 0o755)
        os.chmod(www, 0o755)
        port = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx.err;\n"
                    f"events {{ worker_connections 1024; }}\n"
                    f"http {{ access_log off; server {{ listen 127.0.0.1:{port}; root {www}; }} }}\n")
        subprocess.run(["nginx", "-c", conf], check=True)
        try:
            db = os.path.join(work, "claims.db")
            c = connect(db)
            c.execute("CREATE TABLE feeds (id INTEGER PRIMARY KEY, url TEXT, etag TEXT, next_attempt REAL,"
                      " claimed_by TEXT, claim_until REAL, polled_at REAL, polls INTEGER DEFAULT 0)")
            c.executemany("INSERT INTO feeds (id, url, next_attempt) VALUES (?, ?, 0)",
                          [(i, f"http://127.0.0.1:{port}/f{i:04d}.xml") for i in range(FEEDS)])
            wave(db, 1)  # a first wave learns the ETags: the measured waves are 304s, like a desk's
            print(f"{FEEDS} feeds, claims of {BATCH}, claim expiry {CLAIM_SECONDS} s; every wave all 304s")
            print(f"{'case':<28} {'wave s':>7} {'polls/s':>8}  polls per feed (min/max)")
            failed = False
            for n, crash in [(1, False), (2, False), (4, False), (3, True)]:
                took, lo, hi = wave(db, n, crash)
                name = f"{n} worker(s)" + (", one more crashed" if crash else "")
                ok = lo == hi == 1
                failed |= not ok
                print(f"{name:<28} {took:7.2f} {FEEDS / took:8.0f}  {lo}/{hi}{'' if ok else '  FAILED'}")
            sys.exit(1 if failed else 0)
        finally:
            subprocess.run(["nginx", "-c", conf, "-s", "stop"], check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The collector's reads at H hosts when nothing changed, and report latency with page
readers running beside it; run by hand (Python >= 3.10 with the collector's extras).

Fills one SQLite database with H hosts, then for each source tree given (`--source`: a
checkout whose agent/ and collector/ are put first on the collector's PYTHONPATH; default
this one) starts a collector on a copy of it and measures, in one run on one machine:
1. GET /, /api/v1/fleet and /metrics, the first time and then repeated with no write between
   (median of --repeat);
2. the latency of reports sent one at a time by one sender, alone and then with --readers
   threads reading / in a loop (and those reads' latency).

    python3 bench/reads.py --hosts 5000 --source /path/to/old-checkout --source .
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from collector import FACTS, TOKEN, free_port, report_for  # noqa: E402

PATHS = ("/", "/api/v1/fleet", "/metrics")


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, (path, response.status)
    return time.perf_counter() - started


def post_latencies(port, base, count, first):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
    out = []
    for number in range(first, first + count):
        body = json.dumps(report_for(base, f"node{number % 500}", 10**6 + number))
        started = time.perf_counter()
        conn.request("POST", "/api/v1/reports", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status in (200, 201), response.status
        out.append(time.perf_counter() - started)
    return out


def spread(seconds):
    p90 = statistics.quantiles(seconds, n=10)[-1]
    return f"{statistics.median(seconds) * 1000:.0f} / {p90 * 1000:.0f} ms"


def measure(source, db, base, args, directory, workers=1):
    import subprocess

    env = dict(os.environ)
    if source:
        tree = os.path.abspath(source)
        env["PYTHONPATH"] = os.pathsep.join(
            [os.path.join(tree, "agent"), os.path.join(tree, "collector")]
        )
    token_file = os.path.join(directory, "token")
    with open(token_file, "w") as handle:
        handle.write(TOKEN)
    os.chmod(token_file, 0o600)  # the collector refuses a secret other users may read
    port = free_port()
    argv = [sys.executable, "-m", "wire_preflight_collector", "serve", "--db", db]
    argv += ["--port", str(port), "--token-file", token_file]
    argv += ["--workers", str(workers)] if workers > 1 else []  # a checkout from before it too
    with open(os.path.join(directory, "collector.log"), "w+") as log:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
        return run_against(proc, log, port, source, base, args)


def run_against(proc, log, port, source, base, args):
    try:
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    log.seek(0)
                    sys.exit(f"the collector of {source or 'this checkout'} exited: {log.read()}")
                time.sleep(0.05)
        out = {}
        for path in PATHS:
            out[f"GET {path}, first"] = f"{get(port, path) * 1000:.0f} ms"
            warm = [get(port, path) for _ in range(args.repeat)]
            median = statistics.median(warm) * 1000
            out[f"GET {path}, nothing changed (median)"] = f"{median:.0f} ms"
        alone = post_latencies(port, base, args.posts, 0)
        out["report latency, no reader (median / p90)"] = spread(alone)
        stop = threading.Event()
        reads = []

        def read():
            while not stop.is_set():
                reads.append(get(port, "/"))

        readers = [threading.Thread(target=read) for _ in range(args.readers)]
        for reader in readers:
            reader.start()
        try:
            busy = post_latencies(port, base, args.posts, args.posts)
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        out[f"report latency, {args.readers} page readers (median / p90)"] = spread(busy)
        out["GET / beside those reports (median / p90)"] = spread(reads)
        out["GETs of / during them"] = str(len(reads))
        return out
    finally:
        proc.terminate()
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    # Enough reports that the readers' phase lasts well past the collector's re-judging
    # interval (readcache.LAG): a short phase measures one judgement, not steady ingest.
    parser.add_argument("--posts", type=int, default=600)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--source", action="append", help="a checkout (default: this one)")
    parser.add_argument(
        "--workers",
        type=int,
        action="append",
        help="serve --workers; given more than once, each source is measured with each",
    )
    args = parser.parse_args()
    from wire_preflight_collector.store import open_store

    with open(FACTS) as handle:
        base = json.load(handle)
    columns = {}
    with tempfile.TemporaryDirectory() as directory:
        filled = os.path.join(directory, "filled.db")
        store = open_store(filled)
        roles = ["cassandra", "minio", "elasticsearch", "kubernetes", "restund"]
        started = time.perf_counter()
        for i in range(args.hosts):
            store.ingest(report_for(base, f"node{i}", i, (roles[i % 5],), f"server{i % 50}"))
        store.close()
        print(f"filled {args.hosts} hosts in {time.perf_counter() - started:.0f} s", flush=True)
        runs = [(s, w) for s in args.source or [None] for w in args.workers or [1]]
        for number, (source, workers) in enumerate(runs):
            db = os.path.join(directory, f"run{number}.db")
            shutil.copy(filled, db)
            name = (source or "this checkout") + (f", --workers {workers}" if workers > 1 else "")
            columns[name] = measure(source, db, base, args, directory, workers)
            print(name, json.dumps(columns[name], indent=1), flush=True)
    names = list(columns)
    rows = list(columns[names[0]])
    print(f"\n{args.hosts} hosts; load average now {os.getloadavg()[0]:.2f}")
    print("| what | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for row in rows:
        print(f"| {row} | " + " | ".join(columns[n][row] for n in names) + " |")


if __name__ == "__main__":
    main()

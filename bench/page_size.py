#!/usr/bin/env python3
"""The fleet page's size in bytes as the collector serves it, for a fleet of N hosts, run by
hand (needs `pip install '.[collector]'`):

    python3 bench/page_size.py --hosts 5000 [--failing 50]

Fills a fresh SQLite database with N hosts (the fixture VM's facts, five roles over 50
physical servers; `--failing` of them fail a check), starts a collector on loopback and GETs
the fleet page, the page listing every passing host's first page, and one host page."""

import argparse
import http.client
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from collector import TOKEN, free_port, report_for, start_collector  # noqa: E402

ROLES = ["cassandra", "minio", "elasticsearch", "kubernetes", "restund"]


def fill(db: str, hosts: int, failing: int) -> None:
    import json

    from wire_preflight_collector.store import open_store

    with open(os.path.join(HERE, "..", "tests", "fixtures", "facts-ubuntu1804-kvm-4g.json")) as f:
        base = json.load(f)
    store = open_store(db)
    for i in range(hosts):
        report = report_for(base, f"node{i}", i, (ROLES[i % 5],), f"server{i % 50}")
        if i < failing:
            report["checks"][0]["status"] = "fail"
        store.ingest(report)
    store.close()


def get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status} {body[:200]!r}")
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--failing", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        db = os.path.join(directory, "collector.db")
        started = time.perf_counter()
        fill(db, args.hosts, args.failing)
        print(f"filled {args.hosts} hosts in {time.perf_counter() - started:.0f} s", flush=True)
        port = free_port()
        proc = start_collector(directory, port, db)
        try:
            for path in ("/", "/?status=pass", "/?status=all&page=50", "/hosts/node1"):
                try:
                    size = len(get(port, path))
                except SystemExit as exc:
                    print(f"GET {path}: {exc}")
                    continue
                print(f"GET {path}: {size:,} bytes ({size / 1024:.0f} KiB)")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Database size under retention, run by hand (needs the collector's extras, Python >= 3.10).

A fleet of H hosts reporting every I seconds for D simulated days, the reports real agent
output (`wire-preflight check --json` on the fixture VM) with what moves every run moved (clock
readings, free space, timestamps); pruned every simulated hour with --keep-reports K, as
`serve` does. Prints the reports kept and the database's size at the end of each day.

    python3 bench/store_size.py --hosts 100 --interval 300 --days 3 --keep 1d
    python3 bench/store_size.py --db postgresql://... (an empty database)
"""

import argparse
import copy
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FACTS = os.path.join(HERE, "..", "tests", "fixtures", "facts-ubuntu1804-kvm-4g.json")
START = 1798761600.0  # 2027-01-01, on the collector's clock


def template():
    """A real report, as the agent makes it for the fixture VM."""
    command = [sys.executable, "-m", "wire_preflight", "check", "--json", "--facts", FACTS]
    done = subprocess.run([*command, "--role", "minio"], stdout=subprocess.PIPE, check=False)
    return json.loads(done.stdout)


def host_report(base, index):
    report = copy.deepcopy(base)
    facts = report["facts"]
    name = f"minio{index:03d}"
    report["hostname"] = facts["hostname"] = name
    facts["machine_id"] = f"{index:032x}"
    facts["network"]["interfaces"][1]["mac"] = f"52:54:00:00:{index >> 8:02x}:{index & 255:02x}"
    address = f"192.168.{index // 250}.{index % 250 + 2}"
    facts["network"]["interfaces"][1]["addresses"][0]["address"] = address
    facts["network"]["primary"]["address"] = address
    return report


def moved(report, number, at):
    """The number-th run of a host: new id, times, free space, clock readings."""
    out = copy.copy(report)
    facts = out["facts"] = dict(report["facts"])
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    out["report_id"] = f"{report['hostname']}-{number}"
    out["generated_at"] = facts["collected_at"] = stamp
    out["sent_at"] = at
    facts["collected_at_epoch"] = at
    if isinstance(facts.get("time"), dict):
        facts["time"] = dict(facts["time"], offset_seconds=(number % 97) / 1e4)
    disks = [dict(disk) for disk in facts.get("disks") or []]
    for disk in disks:
        if "free_bytes" in disk:
            disk["free_bytes"] -= (number % 1000) * 4096
    facts["disks"] = disks
    return out


def size_of(store, db):
    if db.startswith("postgresql"):
        return store._query("SELECT pg_database_size(current_database())").fetchone()[0]
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages, size = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size"))
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.close()
    return pages * size, free * size


def main():
    from wire_preflight_collector.retention import parse_keep
    from wire_preflight_collector.store import open_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--interval", type=float, default=300)
    parser.add_argument("--days", type=float, default=3)
    parser.add_argument("--keep", default="1d")
    parser.add_argument("--db", help="default: an SQLite file in a temporary directory")
    args = parser.parse_args()
    keep = parse_keep(args.keep)
    base = template()
    hosts = [host_report(base, i) for i in range(args.hosts)]
    with tempfile.TemporaryDirectory() as directory:
        db = args.db or os.path.join(directory, "size.db")
        store = open_store(db)
        ticks = int(args.days * 86400 / args.interval)
        started = time.perf_counter()
        for tick in range(ticks):
            at = START + tick * args.interval
            for report in hosts:
                store.ingest(moved(report, tick, at), received_at=at)
            if tick % int(3600 / args.interval) == 0:
                store.prune(keep, now=at)
            if (tick + 1) % int(86400 / args.interval) == 0 or tick == ticks - 1:
                size = size_of(store, db)
                count = store.count()
                total = size[0] if isinstance(size, tuple) else size
                free = (
                    f", {size[1] / 2**20:.1f} MiB of it free pages"
                    if isinstance(size, tuple)
                    else ""
                )
                print(
                    f"day {(tick + 1) * args.interval / 86400:.1f}: {count} reports kept, "
                    f"{total / 2**20:.1f} MiB{free} = {total / count:.0f} bytes a report "
                    f"({(tick + 1) * args.hosts / (time.perf_counter() - started):.0f} ingests/s)",
                    flush=True,
                )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Collector throughput on both stores, run by hand (needs `pip install '.[collector]'`,
Python >= 3.10, and Debian's `postgresql` package unless --postgres names a server).

For SQLite and then PostgreSQL, in one run on one machine:
1. Ingest: a collector on loopback, N concurrent senders (threads, keep-alive connections)
   posting distinct reports; reports/s as acknowledged by the collector.
2. Fleet report: a database with H hosts; the fleet document built in-process and
   GET /api/v1/fleet over HTTP.
Then a table of both side by side.

    python3 bench/collector.py --senders 50 --reports 3000 --hosts 10000
"""

import argparse
import copy
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FACTS = os.path.join(HERE, "..", "tests", "fixtures", "facts-ubuntu1804-kvm-4g.json")
TOKEN = "bench-token-0123456789"


def report_for(base, hostname, number, roles=("cassandra",), server="s1"):
    facts = copy.deepcopy(base)
    facts["hostname"] = hostname
    facts["machine_id"] = f"{abs(hash(hostname)):032x}"
    facts["network"]["interfaces"][1]["mac"] = (
        f"52:54:00:{number >> 16 & 255:02x}:{number >> 8 & 255:02x}:{number & 255:02x}"
    )
    address = f"192.168.{number // 250 % 250}.{number % 250 + 2}"
    facts["network"]["interfaces"][1]["addresses"][0]["address"] = address
    facts["network"]["primary"]["address"] = address
    return {
        "schema": "wire-preflight/report/1",
        "report_id": f"bench-{hostname}-{number}",
        "agent_version": "bench",
        "generated_at": "2026-11-28T06:00:00Z",
        "hostname": hostname,
        "roles": list(roles),
        "profile": {"name": "classic", "path": ""},
        "physical_host": server,
        "options": {},
        "summary": {"exit_code": 0},
        "checks": [
            {
                "id": "os",
                "role": roles[0],
                "status": "pass",
                "observed": "ubuntu 18.04",
                "expected": "ubuntu 18.04",
                "message": "",
                "remedy": "",
            }
        ],
        "facts": facts,
        "sent_at": time.time(),
    }


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_collector(directory, port, db, workers=1):
    token_file = os.path.join(directory, "token")
    with open(token_file, "w") as handle:
        handle.write(TOKEN)
    os.chmod(token_file, 0o600)  # serve refuses a secret others may read
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wire_preflight_collector",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--token-file",
            token_file,
            # only when asked: a collector from before --workers can still be measured
            *(["--workers", str(workers)] if workers > 1 else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(1200):  # a loaded machine takes seconds to import the collector
        if proc.poll() is not None:
            raise SystemExit(f"the collector exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the collector did not start")


def tree_cpu_seconds(root):
    """CPU time of a process and its children still running (PostgreSQL: the postmaster and
    its backends); 0 for what cannot be read."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def own_cpu_seconds():
    """This process's CPU time so far: the load generator's senders."""
    times = os.times()
    return times.user + times.system


def ingest(base, senders, total, port, pid=None, server_pid=None):
    bodies = [json.dumps(report_for(base, f"host{i % 500}", i)).encode() for i in range(total)]
    per_sender = [bodies[i::senders] for i in range(senders)]
    latencies, errors = [], []
    barrier = threading.Barrier(senders + 1)

    def send(batch):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
        barrier.wait()
        for body in batch:
            started = time.perf_counter()
            conn.request("POST", "/api/v1/reports", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 201:
                errors.append(response.status)

    threads = [threading.Thread(target=send, args=(batch,)) for batch in per_sender]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    # the collector's process and its workers (serve --workers)
    cpu_before = tree_cpu_seconds(pid) if pid else None
    own_before = own_cpu_seconds()
    server_before = tree_cpu_seconds(server_pid) if server_pid else 0.0
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    # The collector's CPU time per report: what a loaded machine changes least. On 2 cores
    # the senders and PostgreSQL share it, so their CPU a report is shown too.
    cpu_ms = (tree_cpu_seconds(pid) - cpu_before) * 1000 / total if pid else None
    own_ms = (own_cpu_seconds() - own_before) * 1000 / total
    server_ms = (tree_cpu_seconds(server_pid) - server_before) * 1000 / total if server_pid else 0
    body_kib = statistics.mean(len(b) for b in bodies) / 1024
    median_ms = statistics.median(latencies) * 1000
    p99_ms = sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"ingest: {total} reports ({body_kib:.1f} KiB each) from {senders} senders in "
        f"{elapsed:.2f} s = {total / elapsed:.0f} reports/s; latency median {median_ms:.0f} ms, "
        f"p99 {p99_ms:.0f} ms; errors {len(errors)}"
        + (f"; collector CPU {cpu_ms:.2f} ms a report" if pid else "")
        + f"; senders {own_ms:.2f} ms"
        + (f"; PostgreSQL {server_ms:.2f} ms" if server_pid else "")
    )
    return {
        "ingest reports/s": f"{total / elapsed:.0f}",
        "ingest: collector CPU a report": f"{cpu_ms:.2f} ms" if pid else "-",
        "ingest latency median / p99": f"{median_ms:.0f} / {p99_ms:.0f} ms",
        "ingest errors": str(len(errors)),
        "ingest: senders' CPU a report": f"{own_ms:.2f} ms",
        "ingest: PostgreSQL's CPU a report": f"{server_ms:.2f} ms" if server_pid else "-",
    }


def fleet_report(base, hosts, db):
    from wire_preflight import profiles
    from wire_preflight.fleet import document

    try:
        from wire_preflight_collector.store import open_store
    except ImportError:  # a collector from before the store package (a "before" run)
        from wire_preflight_collector.store import open_store

    store = open_store(db)
    roles = ["cassandra", "minio", "elasticsearch", "kubernetes", "restund"]
    started = time.perf_counter()
    for i in range(hosts):
        store.ingest(report_for(base, f"node{i}", i, (roles[i % 5],), f"server{i % 50}"))
    filled = time.perf_counter() - started
    print(f"filled {hosts} hosts in {filled:.1f} s (in-process ingest, one writer)")
    profile = profiles.load("classic")
    times = []
    for _ in range(5):
        started = time.perf_counter()
        summaries, _ = store.summaries()
        doc = document.build(summaries, profile)
        times.append(time.perf_counter() - started)
    store.close()
    print(
        "fleet report for {} hosts, in-process: median {:.3f} s ({} findings)".format(
            hosts, statistics.median(times), len(doc["findings"])
        )
    )
    return {
        f"fill {hosts} hosts in-process (one writer)": f"{hosts / filled:.0f} reports/s",
        f"fleet report, {hosts} hosts, in-process": f"{statistics.median(times):.2f} s",
    }


def fleet_over_http(directory, db, hosts):
    port = free_port()
    proc = start_collector(directory, port, db)
    try:
        times = []
        for _ in range(5):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            started = time.perf_counter()
            conn.request("GET", "/api/v1/fleet", headers={"Authorization": "Bearer " + TOKEN})
            body = conn.getresponse().read()
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(
            f"GET /api/v1/fleet for {hosts} hosts over HTTP: median {median:.3f} s "
            f"({len(body) / 2**20:.1f} MiB)"
        )
        return {f"GET /api/v1/fleet, {hosts} hosts": f"{median:.2f} s"}
    finally:
        proc.terminate()
        proc.wait()


def one_store(name, base, args, directory, new_db, server_pid=None):
    print(f"== {name}")
    results = {}
    db = new_db("ingest")
    port = free_port()
    proc = start_collector(directory, port, db, args.workers)
    try:
        results.update(ingest(base, args.senders, args.reports, port, proc.pid, server_pid))
    finally:
        proc.terminate()
        proc.wait()
    if args.ingest_only:
        return results
    db = new_db("fleet")
    results.update(fleet_report(base, args.hosts, db))
    results.update(fleet_over_http(directory, db, args.hosts))
    return results


def postmaster_pid(server):
    """The throwaway server's postmaster (None for --postgres: its CPU is not measured)."""
    if server is None:
        return None
    with open(os.path.join(server.data, "postmaster.pid")) as handle:
        return int(handle.readline())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument(
        "--workers", type=int, default=1, help="the collector's serve --workers (ingest only)"
    )
    parser.add_argument(
        "--ingest-only", action="store_true", help="skip the fleet report (while iterating)"
    )
    parser.add_argument(
        "--sqlite-only", action="store_true", help="skip PostgreSQL (while iterating)"
    )
    parser.add_argument(
        "--postgres-only", action="store_true", help="skip SQLite (while iterating)"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a scratch PostgreSQL database: its public schema is DROPPED and made anew "
        "(default: a throwaway server started here)",
    )
    args = parser.parse_args()
    with open(FACTS) as handle:
        base = json.load(handle)
    columns = {}
    with tempfile.TemporaryDirectory() as directory:
        if not args.postgres_only:
            columns["SQLite"] = one_store(
                "SQLite", base, args, directory, lambda what: os.path.join(directory, f"{what}.db")
            )
        server = None
        if args.sqlite_only:
            columns["PostgreSQL"] = dict.fromkeys(columns["SQLite"], "-")
        elif args.postgres:
            import psycopg

            def new_db(what):  # a fresh schema per part: the URL's database is emptied
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                return args.postgres

        else:
            sys.path.insert(0, os.path.join(HERE, "..", "tests"))
            from collectorlib import PostgresServer

            server = PostgresServer().start()

            def new_db(what):
                return server.new_database()

        if not args.sqlite_only:
            try:
                columns["PostgreSQL"] = one_store(
                    "PostgreSQL", base, args, directory, new_db, postmaster_pid(server)
                )
            finally:
                if server:
                    server.stop()
        if args.postgres_only:
            columns["SQLite"] = dict.fromkeys(columns["PostgreSQL"], "-")
    rows = list(columns["SQLite"])
    width = max(len(row) for row in rows)
    print()
    print(f"| {'what':<{width}} | SQLite | PostgreSQL |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for row in rows:
        print(f"| {row:<{width}} | {columns['SQLite'][row]} | {columns['PostgreSQL'][row]} |")


if __name__ == "__main__":
    main()

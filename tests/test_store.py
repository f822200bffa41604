"""The collector's store, one suite for both implementations: SQLite (a file) and PostgreSQL
(a real server the tests start from Debian's `postgresql` package, never a mock).

Every test that takes `db` runs twice; `db` is what an operator gives as --db."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from helpers import make_report, with_changes

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
from collectorlib import TOKEN, Collector

DAY = 86400.0


def wait_for(condition, seconds=120):
    """Until condition() holds: a load test waits for work done, never for a time."""
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def open_db(db):
    from wire_preflight_collector.store import open_store

    return open_store(db)


def cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "wire_preflight_collector", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=kwargs.pop("timeout", 120),
        **kwargs,
    )


def report_at(base, hostname, number, **changes):
    """The number-th report of a host: its own id, otherwise what a steady host sends."""
    report = make_report(with_changes(base, **changes) if changes else base, hostname, ["minio"])
    report["report_id"] = f"{hostname}-{number}"
    return report


# -- the storage interface ------------------------------------------------------------------


def test_ingest_read_back_and_retry(db, base_facts):
    store = open_db(db)
    first = report_at(base_facts, "minio1", 0)
    stored, events = store.ingest(first, received_at=1000.0)
    assert stored and [e["kind"] for e in events] == ["new-host"]
    assert store.ingest(first, received_at=1001.0) == (False, [])  # a retried delivery
    store.ingest(report_at(base_facts, "minio2", 0), received_at=1002.0)
    store.ingest(report_at(base_facts, "minio1", 1), received_at=1300.0)
    assert store.count() == 3
    hosts, problems = store.summaries()
    assert [h["hostname"] for h in hosts] == ["minio1", "minio2"] and problems == []
    host = store.host("minio1")
    assert [r["report_id"] for r in host["history"]] == ["minio1-1", "minio1-0"]
    assert host["latest"]["facts"] == first["facts"]  # split and joined back whole
    assert store.host("nobody") is None
    assert [e["kind"] for e in store.events()] == ["new-host", "new-host"]
    assert store.integrity() == "ok"
    assert store.schema_version() == 5


def test_report_statuses_newest_first_with_each_reports_checks(db, base_facts):
    """The host page's history: per report its status and its checks' statuses, bounded."""
    store = open_db(db)
    for number, failing in enumerate([(), ("swap",), ("swap",), ()]):
        report = make_report(base_facts, "minio1", ["minio"], failing=failing)
        report["report_id"] = f"minio1-{number}"
        store.ingest(report, received_at=1000.0 + number)
    read = store.report_statuses("minio1", 3)
    assert [r["received_at"] for r in read] == [1003.0, 1002.0, 1001.0]
    assert [r["status"] for r in read] == ["pass", "fail", "fail"]
    assert [r["checks"].get("swap|minio") for r in read] == [None, "fail", "fail"]
    assert all(r["checks"]["os|minio"] == "pass" for r in read)
    assert store.report_statuses("nobody", 3) == []


def test_hosts_sort_bytewise_on_both(db, base_facts):
    store = open_db(db)
    for name in ("b1", "a-2", "B3", "a10", "_x"):
        store.ingest(report_at(base_facts, name, 0))
    # Names are kept lower-case (DNS names are case-insensitive), then sorted byte by byte.
    assert [h["hostname"] for h in store.summaries()[0]] == ["_x", "a-2", "a10", "b1", "b3"]


def test_drift_accept_and_baseline(db, base_facts):
    store = open_db(db)
    store.ingest(report_at(base_facts, "minio1", 0), received_at=1000.0)
    changed = report_at(base_facts, "minio1", 1)
    changed["facts"]["memory"]["installed_bytes"] *= 2
    stored, events = store.ingest(changed, received_at=1300.0)
    assert stored and [e["kind"] for e in events] == ["memory-changed"]
    assert store.open_events_by_kind() == {"memory-changed": 1, "new-host": 1}
    assert store.accept("minio1", now=1400.0) == 2
    assert store.open_events_by_kind() == {}
    assert store.accept("nobody") is None
    assert store.host("minio1")["baseline_accepted_at"] == 1400.0
    # stale: silent past the limit, once
    assert [e["kind"] for e in store.mark_stale(now=5000.0, stale_after=900)] == ["stale"]
    assert store.mark_stale(now=5001.0, stale_after=900) == []
    assert store.summaries()[0][0]["stale"] is True


def test_late_report_does_not_replace_newer(db, base_facts):
    store = open_db(db)
    newer = report_at(base_facts, "minio1", 1)
    newer["generated_at"], newer["sent_at"] = "2026-11-28T06:10:00Z", 1795932600.0
    late = report_at(base_facts, "minio1", 0)
    late["generated_at"], late["sent_at"] = "2026-11-28T06:00:00Z", 1795932600.0
    store.ingest(newer, received_at=2000.0)
    store.mark_stale(now=3000.0, stale_after=500.0)  # silent long enough: stale
    assert store.host("minio1")["stale"]
    store.ingest(late, received_at=2001.0)  # spooled 10 minutes, arrives after
    assert store.host("minio1")["latest"]["report_id"] == "minio1-1"
    # ...but it says the host is alive: seen when it arrived, no longer stale
    host = store.summaries()[0][0]
    assert (host["last_seen"], host["stale"]) == (2001.0, False)
    assert host["generated_at"] == "2026-11-28T06:10:00Z"  # the newer report's summary


def test_host_keys(db):
    from wire_preflight_collector.store import hash_key
    from wire_preflight_collector.store.identity import Refusal

    store = open_db(db)
    assert store.enroll("m" * 32, "Minio1", "u1", hash_key("k1"), now=1.0).state == "enrolled"
    owner = store.key_owner(hash_key("k1"))
    assert (owner["state"], owner["machine_id"], owner["hostname"]) == (
        "enrolled",
        "m" * 32,
        "minio1",
    )
    again = store.enroll("m" * 32, "minio1", "u1", hash_key("k2"))
    assert isinstance(again, Refusal) and again.reason == "machine-id-enrolled"
    claim = store.enroll("c" * 32, "MINIO1", "u2", hash_key("k3"))
    assert claim.state == "pending" and store.key_owner(hash_key("k3"))["state"] == "pending"
    done = store.rekey("minio1")
    assert done["keys_dropped"] == 1 and store.key_owner(hash_key("k1")) is None
    # The recorded machine gets its name back; a clone of it (another product_uuid) does not.
    clone = store.enroll("m" * 32, "minio1", "u9", hash_key("k4"))
    assert isinstance(clone, Refusal) and clone.reason == "clone"
    assert store.enroll("m" * 32, "minio1", "u1", hash_key("k2")).state == "enrolled"
    assert store.forget("minio1")["keys"] == 1
    assert store.forget("minio1") is None
    assert store.pending() == []  # the claim on a forgotten name waits for nothing
    assert "forgotten" in [e["kind"] for e in store.events(hostname="minio1")]


def test_ingest_leaves_the_callers_report_as_it_was(db, base_facts):
    """The stable facts share what they do not change with the report (no deep copy): moving
    free space and address lifetimes out must not touch the caller's report."""
    store = open_db(db)
    report = report_at(base_facts, "minio1", 0)
    assert report["facts"]["disks"][0].get("free_bytes") is not None
    address = report["facts"]["network"]["interfaces"][1]["addresses"][0]
    address.update(valid_lifetime=3600, preferred_lifetime=1800)
    before = json.dumps(report, sort_keys=True)
    store.ingest(report, received_at=5.0)
    assert json.dumps(report, sort_keys=True) == before
    assert store.host("minio1")["latest"] == report


def test_reports_waiting_for_the_lock_commit_together(db, base_facts):
    """Reports that queue while a batch holds the lock are stored in one transaction (one
    durable commit), each in its own savepoint: a report whose id another host's report has,
    and a host key's report it may not send, fail alone; the refusal's event is kept; every
    other report is stored."""
    from wire_preflight_collector.store import hash_key
    from wire_preflight_collector.store.identity import ReportIdTaken, ReportRefused

    store = open_db(db)
    store.ingest(report_at(base_facts, "minio0", 0), received_at=1.0)
    mid = "f" * 32
    store.enroll(mid, "minio9", base_facts.get("product_uuid"), hash_key("k9"), now=1.0)
    batches, commits = [], []
    write_together = store._group._write_together

    def counting_batches(jobs):
        batches.append(len(jobs))
        write_together(jobs)

    store._group._write_together = counting_batches
    if not db.startswith("postgresql"):  # SQLite: count the commits it runs, too
        connect = store._connect

        def counting_connect():
            conn = connect()
            conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
            return conn

        store._connect = counting_connect
    taken = report_at(base_facts, "minio77", 0)
    taken["report_id"] = "minio0-0"  # another host's report has this id
    reports = [report_at(base_facts, f"minio{i}", 1) for i in range(1, 9)] + [taken]
    jobs = [(report, None) for report in reports] + [(report_at(base_facts, "minio8", 2), "k9")]
    outcomes = {}

    def send(report, key):
        try:
            key_hash = hash_key(key) if key else None
            outcomes[report["report_id"]] = store.ingest(report, 5.0, key_hash=key_hash)
        except Exception as exc:
            outcomes[report["report_id"]] = exc

    with store._group._lock:  # a batch in progress: every report waits for it
        threads = [threading.Thread(target=send, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(store._group._waiting) == len(jobs))
    for thread in threads:
        thread.join()
    assert batches == [len(jobs)], "one batch for all of them"
    if not db.startswith("postgresql"):
        assert commits == ["COMMIT"], "one transaction for all of them"
    assert isinstance(outcomes.pop("minio0-0"), ReportIdTaken)
    refused = outcomes.pop("minio8-2")
    assert isinstance(refused, ReportRefused)
    assert all(stored for stored, _ in outcomes.values()), outcomes
    assert store.count() == 1 + 8  # minio0's first report and the eight
    assert store.host("minio77") is None  # nothing of the failed one
    assert refused.refusal.reason == "foreign"  # minio8 is another machine's name
    kept = [e["id"] for e in store.events(hostname="minio9", kind="foreign-report")]
    assert kept == [e["id"] for e in refused.refusal.events]
    assert store.host("minio8")["latest"]["report_id"] == "minio8-1"


def test_a_statement_failing_unread_in_a_batch_fails_its_report_alone(db):
    """A report's statement that fails without its answer being read (PostgreSQL sends such
    statements on with the next one, in pipeline mode) fails that report, inside its own
    savepoint: what it wrote before is gone, the reports around it in the batch are stored."""
    store = open_db(db)
    outcomes = {}

    def writes(key, fail):
        def write(conn):
            store._execute(conn, "INSERT INTO meta (key, value) VALUES (?, 'v')", (key,))
            if fail:  # NOT NULL: refused by both databases; the answer is never read
                store._execute(conn, "INSERT INTO meta (key, value) VALUES ('bad', NULL)")
            return key

        return write

    def send(key, fail):
        try:
            outcomes[key] = store._write_report(key, writes(key, fail))
        except Exception as exc:
            outcomes[key] = exc

    keys = [("first", False), ("failing", True), ("last", False)]
    with store._group._lock:  # one batch for all three, in this order
        threads = []
        for queued, (key, fail) in enumerate(keys, 1):
            threads.append(threading.Thread(target=send, args=(key, fail)))
            threads[-1].start()
            wait_for(lambda: len(store._group._waiting) == queued)  # noqa: B023
    for thread in threads:
        thread.join()
    assert outcomes["first"] == "first" and outcomes["last"] == "last"
    assert isinstance(outcomes["failing"], store.errors)
    rows = store._query("SELECT key FROM meta WHERE value = 'v' ORDER BY key").fetchall()
    assert [row[0] for row in rows] == ["first", "last"]


def test_batches_of_two_collectors_sharing_hosts_all_commit(db, base_facts):
    """Two stores on one database (two collectors), each committing one batch of reports of
    the same hosts, queued in opposite orders and let go at once: every report is stored,
    none fails (on PostgreSQL each batch locks its hosts in name order, so the two cannot
    deadlock), and each host's newest report is the later one."""
    first, second = open_db(db), open_db(db)
    hosts = [f"minio{i}" for i in range(8)]
    failures = []

    def send(store, name, number):
        try:
            store.ingest(report_at(base_facts, name, number), received_at=1000.0 + number)
        except Exception as exc:
            failures.append(exc)

    for round_ in range(3):
        threads = []
        for number, (store, names) in enumerate(((first, hosts), (second, hosts[::-1]))):
            store._group._lock.acquire()  # a batch in progress: these queue behind it
            for queued, name in enumerate(names, 1):
                thread = threading.Thread(target=send, args=(store, name, 2 * round_ + number))
                thread.start()
                threads.append(thread)
                wait_for(lambda: len(store._group._waiting) == queued)  # noqa: B023
        blocker = _hold_host_lock(db, "minio3")  # both batches stop half-way through
        first._group._lock.release()
        second._group._lock.release()
        if blocker is not None:
            wait_for(lambda: _lock_waiters(blocker) == 2)  # noqa: B023
            blocker.close()  # each would want what the other holds, were the orders not one
        for thread in threads:
            thread.join()
    assert failures == []
    assert first.count() == 3 * 2 * len(hosts)
    for name in hosts:
        assert second.host(name)["latest"]["report_id"] == f"{name}-5"


def _hold_host_lock(db, hostname):
    """PostgreSQL: another session holding a host's advisory lock (the store's key for it)
    until it is closed; None on SQLite (one writer, no host locks)."""
    if not db.startswith("postgresql"):
        return None
    import psycopg

    conn = psycopg.connect(db)
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (hostname,))
    return conn


def _lock_waiters(conn):
    return conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchone()[0]


# -- retention -------------------------------------------------------------------------------


def _aged_fleet(store, base):
    """Three hosts: two report 40 days long, every 6 hours; one last spoke 60 days ago."""
    now = 100 * DAY
    for number in range(160):
        at = now - 40 * DAY + number * 6 * 3600
        for hostname in ("minio1", "minio2"):
            free = base["disks"][0]["free_bytes"] - number * 4096
            disks = [dict(base["disks"][0], free_bytes=free), *base["disks"][1:]]
            # a new kernel on day 10: different stable facts, a second facts blob
            kernel = "4.15.0-99" if number >= 40 else base["kernel"]["release"]
            report = report_at(
                base,
                hostname,
                number,
                disks=disks,
                kernel=dict(base["kernel"], release=kernel),
            )
            store.ingest(report, received_at=at)
    store.ingest(report_at(base, "silent", 0), received_at=now - 60 * DAY)
    return now


def test_prune_keeps_newest_events_and_baselines(db, base_facts):
    store = open_db(db)
    now = _aged_fleet(store, base_facts)
    store.accept("minio1", now=now - 50 * DAY)
    events_before = store.events(limit=10000)
    assert store.count() == 321
    removed = store.prune(30 * DAY, now=now, batch=7)  # small batches: many rounds
    # 30 days of reports at 4 a day per host, plus the silent host's only (newest) report
    kept = store.count()
    assert kept == 2 * 120 + 1 and removed["reports"] == 321 - kept
    assert store.oldest_report() == now - 60 * DAY  # the silent host's newest stays
    assert store.host("silent")["latest"]["report_id"] == "silent-0"
    assert store.events(limit=10000) == events_before  # events are never pruned
    assert store.host("minio1")["baseline_accepted_at"] == now - 50 * DAY
    # each host's facts with the old kernel went with their last report; the newest reads back
    assert removed["facts"] == 2
    assert store.host("minio2")["latest"]["facts"]["kernel"]["release"] == "4.15.0-99"
    assert [h["hostname"] for h in store.summaries()[0]] == ["minio1", "minio2", "silent"]
    assert store.prune(30 * DAY, now=now) == {"reports": 0, "facts": 0}
    assert store.integrity() == "ok"


def test_prune_command_while_serving(db, tmp_path, base_facts):
    store = open_db(db)
    _aged_fleet(store, base_facts)  # 'now' of the aged fleet is long ago: all of it is old
    server = Collector(tmp_path, "--keep-reports", "forever", db=db).start()
    stop = threading.Event()
    acked = []

    def send():
        number = 0
        while not stop.is_set():
            report = report_at(base_facts, "live", number)
            if server.post(report).status_code == 201:
                acked.append(report["report_id"])
            number += 1

    sender = threading.Thread(target=send)
    sender.start()
    try:
        wait_for(lambda: len(acked) >= 5)
        done = cli("prune", "--db", db, "--keep-reports", "1d")
    finally:
        stop.set()
        sender.join()
        server.stop()
    assert done.returncode == 0, done.stderr
    assert "pruned 318 report(s)" in done.stdout, done.stdout
    # left: each old host's newest and every report of the live host
    assert open_db(db).count() == 3 + len(acked) and len(acked) > 0


def test_serve_prunes_in_the_background(db, tmp_path, base_facts):
    store = open_db(db)
    _aged_fleet(store, base_facts)
    server = Collector(tmp_path, "--keep-reports", "30d", "--prune-every", "1", db=db).start()
    try:
        wait_for(lambda: open_db(db).count() == 3)
        assert server.read_routes("minio1") == dict.fromkeys(server.read_routes("minio1"), 200)
    finally:
        server.stop()
    assert "pruned 318 report(s)" in server.read_log()


@pytest.mark.parametrize("bad", ["0", "-1d", "30x", "nan", "1e400", ""])
def test_keep_reports_bad_values(tmp_path, bad):
    done = cli("prune", "--db", str(tmp_path / "c.db"), "--keep-reports", bad)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--keep-reports" in done.stderr, done.stderr


# -- schema versions -------------------------------------------------------------------------


def _set_schema(db, version):
    if db.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("UPDATE meta SET value = %s WHERE key = 'schema'", (str(version),))
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(version),))


def test_newer_schema_refused_with_one_line(db, tmp_path):
    open_db(db).close()
    _set_schema(db, 99)
    for args in (["integrity", "--db", db], ["prune", "--db", db]):
        done = cli(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert "schema version 99, newer than this collector's 5" in done.stderr
        assert "Traceback" not in done.stderr
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)  # a secret: other users may not read it
    done = cli("serve", "--db", db, "--token-file", str(token), "--port", "1")
    assert done.returncode == 2 and "newer than this collector's" in done.stderr


def test_sqlite_schema_1_upgraded_on_start(tmp_path, base_facts):
    """A database the first collector wrote (schema 1: whole reports, no drift) opens, is
    upgraded in place, and its reports still read back."""
    from wire_preflight_collector.store import base, sqlite

    path = str(tmp_path / "v1.db")
    report = report_at(base_facts, "minio1", 0)
    mid = report["facts"]["machine_id"]
    with sqlite3.connect(path) as conn:
        conn.executescript(sqlite.TABLES)
        conn.execute("INSERT INTO meta VALUES ('schema', '1')")
        conn.execute(
            "INSERT INTO reports (id, report_id, hostname, machine_id, generated_at, "
            "received_at, status, body) VALUES (1, 'minio1-0', 'minio1', ?, '', 5.0, 'pass', ?)",
            (mid, base.pack(report)),
        )
        conn.execute(
            "INSERT INTO hosts VALUES ('minio1', ?, 1, '', 5.0, ?)",
            (mid, json.dumps({"hostname": "minio1"})),
        )
    store = sqlite.SqliteStore(path)
    assert store.schema_version() == base.SCHEMA_VERSION
    assert store.host("minio1")["latest"]["facts"] == report["facts"]
    assert store.prune(1, now=10.0) == {"reports": 0, "facts": 0}  # newest kept
    assert store.ingest(report_at(base_facts, "minio1", 1), received_at=20.0)[0]
    assert store.prune(1, now=30.0)["reports"] == 1


# -- backup and restore ---------------------------------------------------------------------


def _restore(db, backup, tmp_path, postgres=None):
    """What docs/collector.md says to do, as an operator would type it."""
    if db.startswith("postgresql"):
        target = postgres.new_database()
        subprocess.run(
            ["pg_restore", "--no-owner", "--dbname", target, backup],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        return target
    restored = str(tmp_path / "restored.db")
    os.rename(backup, restored)
    return restored


def test_backup_under_write_load_then_restore(db, request, tmp_path, base_facts):
    """Every report acknowledged before the backup started is in the backup; the restored
    database passes its integrity check and serves."""
    server = Collector(tmp_path, db=db).start()
    stop = threading.Event()
    acked = []  # (time acknowledged, report id)

    def send(sender):
        number = 0
        while not stop.is_set():
            report = report_at(base_facts, f"host{sender}", number)
            response = server.post(report)
            if response.status_code == 201:
                acked.append((time.time(), report["report_id"]))
            number += 1

    senders = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for sender in senders:
        sender.start()
    backup = str(tmp_path / "backup.copy")
    try:
        wait_for(lambda: len(acked) >= 30)
        started = time.time()
        done = cli("backup", "--db", db, "--to", backup)
        after = len(acked)
        wait_for(lambda: len(acked) >= after + 30)  # writes went on during and after it
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    assert done.returncode == 0, done.stderr
    before = {rid for at, rid in acked if at < started}
    assert len(before) >= 30 and len(acked) > len(before)
    postgres = request.getfixturevalue("postgres") if db.startswith("postgresql") else None
    restored = _restore(db, backup, tmp_path, postgres)
    copy = open_db(restored)
    assert copy.integrity() == "ok"
    ids = set()
    for sender in range(6):
        found = copy.host(f"host{sender}", history=100000)
        ids.update(r["report_id"] for r in found["history"])
    assert before <= ids, sorted(before - ids)[:5]
    # the live database kept everything acknowledged, before and after the backup
    assert {rid for _, rid in acked} <= {
        r["report_id"]
        for sender in range(6)
        for r in open_db(db).host(f"host{sender}", history=100000)["history"]
    }
    server.stop()
    assert cli("integrity", "--db", restored).returncode == 0
    again = Collector(tmp_path, db=restored).start()
    try:
        assert again.read_routes("host0") == dict.fromkeys(again.read_routes("host0"), 200)
    finally:
        again.stop()


def test_backup_refuses_existing_target(db, tmp_path):
    open_db(db).close()
    target = tmp_path / "there"
    target.write_text("keep me")
    done = cli("backup", "--db", db, "--to", str(target))
    assert done.returncode == 2 and "exists already" in done.stderr
    assert target.read_text() == "keep me"


# -- several collectors, one database ---------------------------------------------------------


def test_two_collectors_side_by_side_one_kill9(db, tmp_path, base_facts):
    """Two collectors on one database: each report posted to both is stored once; one is
    killed with SIGKILL mid-load, and every report either acknowledged is in the database."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Collector(tmp_path / "a", db=db).start()
    b = Collector(tmp_path / "b", db=db).start()
    acked = set()
    stop = threading.Event()

    def send(sender):
        number = 0
        while not stop.is_set():
            report = report_at(base_facts, f"host{sender}", number)
            for server in (a, b):  # every report to both: each must store it once
                try:
                    if server.post(report, timeout=10).status_code in (200, 201):
                        acked.add(report["report_id"])
                except OSError:  # a was killed: that delivery is simply not acknowledged
                    pass
            number += 1

    senders = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for sender in senders:
        sender.start()
    try:
        wait_for(lambda: len(acked) >= 60)  # mid-load, however fast this machine is
        a.stop(signal.SIGKILL)
        killed_at = len(acked)
        wait_for(lambda: len(acked) >= killed_at + 60)  # b goes on alone
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    try:
        store = open_db(db)
        stored = set()
        for sender in range(8):
            found = store.host(f"host{sender}", history=100000)
            ids = [r["report_id"] for r in found["history"]]
            assert len(ids) == len(set(ids))  # exactly once, though posted to both
            stored.update(ids)
        assert acked <= stored
        assert b.read_routes("host0") == dict.fromkeys(b.read_routes("host0"), 200)
        hosts = b.get("/api/v1/fleet").json()
        assert len([e for e in store.events(limit=10000) if e["kind"] == "new-host"]) == 8
        assert hosts
    finally:
        b.stop()


def test_reports_stored_before_schema_4_read_back(tmp_path, base_facts):
    """Schema 2-3 kept the checks in each report and the stable facts alone in the blob."""
    from wire_preflight_collector.store import base, sqlite

    path = str(tmp_path / "v3.db")
    store = sqlite.SqliteStore(path)
    report = report_at(base_facts, "minio1", 0)
    store.ingest(report, received_at=5.0)
    stable, volatile = base.split_facts(report["facts"])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE facts_blobs SET body = ?", (base.pack(stable),))
        conn.execute("UPDATE reports SET body = ?", (base.pack(dict(report, facts=volatile)),))
    assert store.host("minio1")["latest"] == report
    assert store.report_statuses("minio1", 5)[0]["checks"] == {"os|minio": "pass"}


def test_unreachable_postgres_is_one_line(tmp_path):
    url = f"postgresql://collector:secret-password@/collector?host={tmp_path}"
    for args in (["integrity", "--db", url], ["prune", "--db", url, "--keep-reports", "30d"]):
        done = cli(*args)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr and "secret-password" not in done.stderr
        assert str(tmp_path) in done.stderr  # where it looked


def test_both_stores_have_the_same_tables_and_columns(tmp_path, postgres):
    """SQLite's schema is version 1 plus migrations, PostgreSQL's is written whole: two copies
    kept by hand, so a column added to one and not the other is caught here."""
    sqlite_store = open_db(str(tmp_path / "c.db"))
    pg_store = open_db(postgres.new_database())
    tables = [
        row[0]
        for row in sqlite_store._query(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
    ]
    assert {"reports", "hosts", "events", "host_keys", "facts_blobs", "meta"} <= set(tables)
    for table in tables:
        lite = {row[1] for row in sqlite_store._query(f"PRAGMA table_info({table})").fetchall()}
        pg = {
            row[0]
            for row in pg_store._query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                (table,),
            ).fetchall()
        }
        assert lite == pg, table
    sqlite_store.close()
    pg_store.close()


def _schema_4(db, base_facts):
    """A database as the schema-4 collector left it after a squat: two keys for one name in
    two spellings, the host's rows under the capitalised one."""
    from wire_preflight.fleet.summary import summarize
    from wire_preflight_collector.store import base, sqlite

    report = report_at(base_facts, "Cassandra1", 0)
    rows = [
        ("INSERT INTO meta (key, value) VALUES ('schema', '4')", ()),
        (
            "INSERT INTO reports (report_id, hostname, machine_id, generated_at, received_at, "
            "status, body) VALUES ('r0', 'Cassandra1', ?, '', 5.0, 'pass', ?)",
            ("a" * 32, base.pack(report)),
        ),
        (
            "INSERT INTO hosts (hostname, machine_id, last_report, generated_at, last_seen, "
            "summary) VALUES ('Cassandra1', ?, 1, '', 5.0, ?)",
            ("a" * 32, json.dumps(summarize(report, 5.0))),
        ),
        (
            "INSERT INTO host_keys (machine_id, key_hash, hostname, product_uuid, enrolled_at) "
            "VALUES (?, ?, 'Cassandra1', 'u1', 1.0), (?, ?, 'cassandra1', 'u2', 2.0)",
            ("a" * 32, base.hash_key("k1"), "b" * 32, base.hash_key("k2")),
        ),
    ]
    if db.startswith("postgresql"):
        import psycopg
        from wire_preflight_collector.store import postgres as pg

        tables = pg.TABLES.replace(pg.IDENTITY_TABLES, "").replace(
            ",\n    bound_at DOUBLE PRECISION", ""
        )
        assert "names" not in tables and "bound_at" not in tables
        with psycopg.connect(db, autocommit=True) as conn:
            for statement in tables.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for sql, args in rows:
                conn.execute(sql.replace("?", "%s"), args)
    else:
        with sqlite3.connect(db) as conn:
            conn.executescript(sqlite.TABLES)
            for version in (2, 3, 4):
                conn.executescript(sqlite.MIGRATIONS[version])
            for sql, args in rows:
                conn.execute(sql, args)


def test_schema_4_upgraded_to_one_holder_per_case_folded_name(db, base_facts):
    """The upgrade folds the names, gives each to the key enrolled first, and the squatter's
    later claims wait for an admin."""
    from wire_preflight_collector.store import hash_key

    _schema_4(db, base_facts)
    store = open_db(db)
    assert store.schema_version() == 5
    assert [h["hostname"] for h in store.summaries()[0]] == ["cassandra1"]
    assert store.host("cassandra1")["history"][0]["report_id"] == "r0"
    holder = store._query("SELECT machine_id FROM names WHERE name = 'cassandra1'").fetchone()
    assert holder[0] == "a" * 32
    assert store.key_owner(hash_key("k1"))["hostname"] == "cassandra1"
    claim = store.enroll("c" * 32, "CASSANDRA1", "u3", hash_key("k3"))
    assert claim.state == "pending"
    # The holder's next report is its own; the squatter's old key may not take the name.
    ok = store.check_report(hash_key("k1"), "cassandra1", "a" * 32, "u1")
    assert ok.machine_id == "a" * 32 and ok.rebind is None
    squat = store.check_report(hash_key("k2"), "cassandra1", "b" * 32, "u2")
    assert squat.reason == "foreign"
    store.close()


def test_a_rekeyed_name_without_hardware_to_compare_needs_its_code(db):
    """No product_uuid recorded (enrolled without root): after a re-key, machine-id alone
    cannot tell the host from a clone, so only the printed code gives the name back."""
    from wire_preflight_collector.store import hash_key

    store = open_db(db)
    assert store.enroll("e" * 32, "kubenode2", None, hash_key("k1")).state == "enrolled"
    code = store.rekey("kubenode2")["enroll_code"]
    same_id = store.enroll("e" * 32, "kubenode2", "u-any", hash_key("k2"))
    assert same_id.reason == "code-required"
    wrong = store.enroll("e" * 32, "kubenode2", "u-any", hash_key("k2"), code=code + "x")
    assert wrong.reason == "bad-code"
    assert store.enroll("e" * 32, "kubenode2", "u-any", hash_key("k2"), code=code).state == (
        "enrolled"
    )
    again = store.enroll("f" * 32, "kubenode2", "u-f", hash_key("k3"), code=code)
    assert again.reason == "bad-code"  # used up
    store.close()

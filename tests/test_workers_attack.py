"""`serve --workers N` attacked as a client on the same network, a compromised VM, another
local user and an operator under systemd would: against a real collector of 2 or 3 workers,
on SQLite and on PostgreSQL. (What this round found is now tested where it was mended, in
test_workers.py: a dead parent's orphans, a dead worker's lock, a symlinked or foreign lock
file, bounds smaller than the workers, an in-memory database.)"""

import contextlib
import http.client
import json
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
import http.server

import psutil
import requests
from collectorlib import ENROLL, TOKEN, Collector, PostgresServer
from helpers import make_report
from test_collector_identity import GUESS_FROM, namespace  # noqa: F401 - a fixture
from wire_preflight_collector.throttle import LIMIT

WRONG = "wrong-token-0123456789abcdef"


def workers_of(collector):
    return sorted(child.pid for child in psutil.Process(collector.proc.pid).children())


def living(pids):
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def wait_for(condition, what, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def fleet_hosts(collector):
    answer = collector.get("/api/v1/fleet")
    assert answer.status_code == 200, answer.text
    return {host["hostname"] for host in answer.json()["hosts"]}


def held_from(collector, address):
    """Connections the collector's workers hold open from `address`, as the kernel sees them."""
    held = 0
    for pid in workers_of(collector):
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if (
                conn.status == psutil.CONN_ESTABLISHED
                and conn.laddr.port == collector.port
                and conn.raddr
                and conn.raddr.ip == address
            ):
                held += 1
    return held


def connect_from(collector, address):
    sock = socket.socket()
    sock.bind((address, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", collector.port))
    return sock


def dropped(sock):
    """Whether the collector closed (refused) this connection: EOF or a reset waits to be read."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def settled_count(collector, address, socks):
    """How many of `socks` the collector holds, once it has taken or refused each of them."""
    return (
        wait_for(
            lambda: (lambda held: held + 1 if held + sum(map(dropped, socks)) == len(socks) else 0)(
                held_from(collector, address)
            ),
            "the collector to take or refuse every connection",
            15,
        )
        - 1
    )


def busy_post(collector, address):
    """A connection in the middle of a request: its head sent, its body never finished (what
    a compromised VM with its host key, or any credential, can hold for the body deadline)."""
    sock = connect_from(collector, address)
    sock.sendall(
        b"POST /api/v1/reports HTTP/1.1\r\nHost: collector\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    )
    return sock


def post_from(collector, address, body):
    """One report on a fresh connection from the source `address` (another client)."""
    conn = http.client.HTTPConnection("127.0.0.1", collector.port, timeout=10)
    conn.source_address = (address, 0)
    try:
        conn.request(
            "POST",
            "/api/v1/reports",
            json.dumps(body),
            {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
        )
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.fixture(scope="module")
def postgres():
    try:
        server = PostgresServer().start()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"!!! NOT RUN ON POSTGRESQL: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "collector.db")
    return request.getfixturevalue("postgres").new_database()


def stored_report_ids(db):
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            return {row[0] for row in conn.execute("SELECT report_id FROM reports")}
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT report_id FROM reports")}


# --- The wrong-credential allowance -------------------------------------------------------


def test_wrong_credentials_over_every_route_and_three_workers_stay_within_one_allowance(
    tmp_path,
):
    """Wrong bearer tokens on reads, writes, admin and enrolment routes, and wrong re-enrol
    codes (routes/ingest.py counts those too), each on a fresh connection so the kernel
    spreads them over the three workers: together never more than LIMIT answered before 429."""
    collector = Collector(tmp_path, "--workers", "3").start()
    try:
        attempts = [
            lambda: collector.get("/api/v1/fleet", token=WRONG),
            lambda: collector.post({}, token=WRONG),
            lambda: collector.call("DELETE", "/api/v1/hosts/victim", token=WRONG),
            lambda: collector.get("/metrics", token=WRONG),
            lambda: collector.post({}, token=WRONG, path="/api/v1/enroll"),
            lambda: collector.post(
                {"machine_id": "0" * 32, "hostname": "victim", "enroll_code": "guess"},
                token=ENROLL,
                path="/api/v1/enroll",
            ),
        ]
        answers = [attempts[n % len(attempts)]().status_code for n in range(3 * LIMIT)]
        assert set(answers) <= {403, 409, 429}, answers
        assert len(answers) - answers.count(429) <= LIMIT, answers
        # No credential at all is refused (401), never throttled, never let in.
        assert {collector.get(path, token=None).status_code for path in ("/api/v1/fleet",)} == {401}
        # The right token is never slowed, whichever worker answers.
        assert {collector.get("/api/v1/fleet").status_code for _ in range(9)} == {200}
    finally:
        collector.stop()
    assert collector.proc.returncode == 0


# --- Connection bounds -------------------------------------------------------------------


def test_a_client_holds_no_more_than_its_bound_in_total_and_others_get_in(tmp_path, base_facts):
    """`--max-connections 10 --max-connections-per-address 4` over 2 workers: a credentialed
    client holding requests open (bodies never finished) keeps at most 4 in total; slow heads
    from ten more addresses, opened without pause, never shut out a client that sends its
    request at once."""
    collector = Collector(
        tmp_path,
        "--workers",
        "2",
        "--max-connections",
        "10",
        "--max-connections-per-address",
        "4",
    ).start()
    attacker, legit = "127.0.0.1", "127.0.0.2"
    socks, stop = [], threading.Event()
    try:
        for _ in range(30):
            with contextlib.suppress(OSError):
                socks.append(busy_post(collector, attacker))
        assert 1 <= settled_count(collector, attacker, socks) <= 4

        def flood(address):
            while not stop.is_set():
                try:
                    sock = connect_from(collector, address)
                    sock.sendall(b"GET / HTTP/1.1\r\n")  # a head that never ends
                    socks.append(sock)
                except OSError:
                    pass
                time.sleep(0.01)

        flooders = [
            threading.Thread(target=flood, args=(f"127.0.0.{n}",), daemon=True)
            for n in range(3, 13)
        ]
        for thread in flooders:
            thread.start()
        wait_for(lambda: len(socks) > 100, "the flood")
        statuses = [
            post_from(collector, legit, make_report(base_facts, f"legit{n}", ["cassandra"]))
            for n in range(10)
        ]
        assert statuses == [201] * 10, statuses
        stop.set()
        for thread in flooders:
            thread.join()
    finally:
        stop.set()
        for sock in socks:
            sock.close()
        collector.stop()


# --- Workers killed, the parent killed, signals an operator sends ----------------------------


def _ingest_while(collector, base_facts, hostnames, senders=4):
    """Senders posting reports for the same few hosts from fresh connections (so several
    workers store the same hosts at once), until the returned stop() is called; stop()
    returns the report_ids that were answered 201."""
    acknowledged, unexpected, stop = [], [], threading.Event()

    def send(sender):
        n = 0
        while not stop.is_set():
            report = make_report(
                base_facts, hostnames[(sender + n) % len(hostnames)], ["cassandra"]
            )
            report["generated_at"] = (
                f"2026-11-28T{6 + n // 3600 % 12:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
            )
            n += 1
            try:
                answer = collector.post(report, timeout=20)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # A killed worker's connection, before or within its answer (a 201's head
                # without its body is not an acknowledgement): the agent sends it again.
                continue
            if answer.status_code == 201:
                acknowledged.append(report["report_id"])
            elif answer.status_code != 503:
                unexpected.append(f"{answer.status_code} {answer.text[:200]}")  # never a 500

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(senders)]
    for thread in threads:
        thread.start()

    def finish():
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert unexpected == [], unexpected  # the threads' own asserts would be lost
        assert not any(thread.is_alive() for thread in threads)
        return list(acknowledged)

    return acknowledged, finish


def test_every_worker_killed_in_turn_mid_ingest_loses_no_acknowledged_report(
    tmp_path, base_facts, database
):
    """3 workers storing the same 5 hosts at once; each original worker is killed with
    SIGKILL in turn while they do. Every 201 is in the store, every worker reads the same
    fleet afterwards, the parent leaks no descriptor and leaves no zombie, and two SIGINTs
    (an operator's Ctrl-C, twice) stop everything and free the port."""
    collector = Collector(tmp_path, "--workers", "3", db=database).start()
    hostnames = [f"shared{n}" for n in range(5)]
    parent = psutil.Process(collector.proc.pid)
    fds_before = parent.num_fds()
    acknowledged, finish = _ingest_while(collector, base_facts, hostnames)
    try:
        originals = workers_of(collector)
        assert len(originals) == 3
        for victim in originals:
            count = len(acknowledged)
            wait_for(lambda c=count: len(acknowledged) >= c + 10, "reports before the kill")
            os.kill(victim, signal.SIGKILL)
            wait_for(
                lambda v=victim: (
                    len(living(workers_of(collector))) == 3 and v not in workers_of(collector)
                ),
                "the replacement",
            )
        count = len(acknowledged)
        wait_for(lambda: len(acknowledged) >= count + 10, "reports after the last restart")
        stored = finish()
        assert set(stored) <= stored_report_ids(database)
        fleets = {frozenset(fleet_hosts(collector)) for _ in range(9)}
        assert fleets == {frozenset(hostnames)}, fleets
        log = collector.read_log()
        assert log.count("was killed by signal 9: starting it again") == 3, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
        # The parent holds what it held before three restarts; its children are all serving.
        assert parent.num_fds() == fds_before
        assert [p.status() for p in parent.children()].count(psutil.STATUS_ZOMBIE) == 0
        if not database.startswith("postgresql://"):
            lock = os.stat(database + "-writer")
            assert lock.st_mode & 0o077 == 0 and lock.st_uid == os.getuid()
            done = subprocess.run(
                [sys.executable, "-m", "wire_preflight_collector", "integrity", "--db", database],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                universal_newlines=True,
                check=False,
            )
            assert done.returncode == 0 and done.stdout.strip().endswith(": ok"), done.stdout
        workers = workers_of(collector)
        collector.proc.send_signal(signal.SIGINT)
        collector.proc.send_signal(signal.SIGINT)
        collector.proc.wait(timeout=40)
        wait_for(lambda: not living(workers), "every worker to stop")
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", collector.port))  # raises if any worker still holds it
    finally:
        finish()
        collector.stop(signal.SIGKILL)


def _orphans_gone_or_serving(collector, workers):
    """After the parent is gone: the workers must be gone too (nobody supervises them any
    more, systemd's restart cannot bind the port they hold, and `systemctl stop` outside
    systemd cannot find them)."""
    collector.proc.wait(timeout=20)
    try:
        wait_for(lambda: not living(workers), "the workers to follow their parent", 5)
    finally:
        for pid in living(workers):
            os.kill(pid, signal.SIGKILL)


def test_sighup_to_the_parent_leaves_no_orphan_worker(tmp_path):
    collector = Collector(tmp_path, "--workers", "2").start()
    workers = workers_of(collector)
    collector.proc.send_signal(signal.SIGHUP)
    try:
        collector.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        # Still running after SIGHUP: then it must still serve with its workers.
        assert collector.get("/healthz").status_code == 200
        collector.stop()
        return
    finally:
        collector.log.close()
    _orphans_gone_or_serving(collector, workers)


def test_a_worker_killed_three_times_after_it_started_is_still_restarted(tmp_path):
    collector = Collector(tmp_path, "--workers", "2").start()
    try:
        victim, other = workers_of(collector)
        for kill in range(3):
            wait_for(
                lambda n=kill: collector.read_log().count("Application startup complete") >= 2 + n,
                "the replacement to start",
            )
            os.kill(victim, signal.SIGKILL)
            wait_for(
                lambda v=victim: (
                    collector.proc.poll() is not None
                    or (v not in workers_of(collector) and len(workers_of(collector)) == 2)
                ),
                "the replacement",
            )
            assert collector.proc.poll() is None, collector.read_log()[-2000:]
            # The next kill is of the replacement, within seconds of its start.
            (victim,) = set(workers_of(collector)) - {other}
        wait_for(
            lambda: (
                collector.read_log().count("Application startup complete") >= 5
                or collector.proc.poll() is not None
            ),
            "the third replacement",
        )
        assert collector.proc.poll() is None, collector.read_log()[-2000:]
        assert collector.get("/healthz").status_code == 200
    finally:
        collector.stop()


# --- The database and its lock file ---------------------------------------------------------


def test_an_admin_forget_through_one_worker_shows_on_every_next_read(
    tmp_path, base_facts, database
):
    """A fleet big enough that its judgement is costly (readcache.py lets such a value lag
    behind reports, never behind an admin change): every worker has read and holds it, a
    forget goes through one worker, and no worker's next read shows the forgotten host."""
    from wire_preflight_collector.store import open_store

    store = open_store(database)
    # 3000 hosts take the fleet's judgement past readcache.CHEAP here (measured: 0.28 s;
    # 800 hosts stayed under it, and then the lag path is never reached).
    for n in range(3000):
        store.ingest(make_report(base_facts, f"h{n}", ["cassandra"]))
    store.close()
    collector = Collector(tmp_path, "--workers", "3", db=database).start()
    try:
        for _ in range(12):  # fresh connections: every worker reads (and holds) it
            assert "h0" in fleet_hosts(collector)
        assert collector.post(make_report(base_facts, "late", ["cassandra"])).status_code == 201
        assert collector.call("DELETE", "/api/v1/hosts/h0").status_code == 200
        for _ in range(12):
            hosts = fleet_hosts(collector)
            assert "h0" not in hosts and "h1" in hosts
            assert collector.get("/api/v1/hosts/h0").status_code == 404
    finally:
        collector.stop()


class _Hook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_each_drift_event_reaches_the_webhook_once_from_three_workers(tmp_path, base_facts):
    """3 workers, each with a webhook: new hosts posted through all of them, then left to go
    stale. Each event is delivered once (no worker sends another's; the stale events once
    although the store's marking would not duplicate them even from a stale-watcher in every
    worker), and the webhook got exactly what the store recorded."""
    _Hook.received = []
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    collector = Collector(
        tmp_path,
        "--workers",
        "3",
        "--stale-after",
        "2",
        "--webhook",
        f"http://127.0.0.1:{hook.server_port}/hook",
    ).start()
    hostnames = [f"n{n}" for n in range(9)]
    try:
        for name in hostnames:
            assert collector.post(make_report(base_facts, name, ["cassandra"])).status_code == 201
        wait_for(
            lambda: (
                sorted(e["hostname"] for e in _Hook.received if e["kind"] == "stale") == hostnames
            ),
            "every host's stale event",
        )
        time.sleep(3)  # room for any duplicate a second stale-watcher would send
        with sqlite3.connect(collector.db) as conn:
            recorded = sorted(conn.execute("SELECT hostname, kind FROM events").fetchall())
        delivered = sorted((e["hostname"], e["kind"]) for e in _Hook.received)
        assert delivered == recorded, (delivered, recorded)
        assert {kind for _, kind in delivered} == {"new-host", "stale"}
        assert len(delivered) == 2 * len(hostnames)
    finally:
        collector.stop()
        hook.shutdown()


def test_fuzzing_two_workers_finds_no_server_error(tmp_path, base_facts):
    from test_collector_security import _schemathesis

    collector = Collector(tmp_path, "--workers", "2").start()
    try:
        assert collector.post(make_report(base_facts, "h0", ["cassandra"])).status_code == 201
        done = _schemathesis(collector.url, TOKEN, 15, tmp_path)
        assert done.returncode == 0, done.stdout[-4000:]
        generated = [line for line in done.stdout.splitlines() if " generated, " in line]
        assert generated and " 0 passed" not in generated[-1], done.stdout[-2000:]
        log = collector.read_log()
        assert "Traceback" not in log and '" 500 ' not in log, log[-3000:]
        assert len(workers_of(collector)) == 2
        assert "starting it again" not in log
    finally:
        collector.stop()


def test_wrong_credentials_from_one_ipv6_64_over_three_workers_count_as_one_client(
    tmp_path,
    namespace,  # noqa: F811 - the fixture imported above
):
    """40 addresses of one /64, one wrong guess each on its own connection, over 3 workers:
    at most LIMIT answered before 429, as one process counts them."""
    inside = ["ip", "netns", "exec", namespace]
    server = Collector(
        tmp_path, "--insecure-http", "--workers", "3", host="fd00:77::1", command=inside
    ).start()
    try:
        done = subprocess.run(
            [
                *inside,
                sys.executable,
                "-c",
                GUESS_FROM,
                str(server.port),
                json.dumps([f"fd00:77::{n:x}" for n in range(0x100, 0x128)]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        answers = [int(line) for line in done.stdout.split()]
        assert len(answers) == 40 and set(answers) == {403, 429}, answers
        # The last guesses may land on a worker whose share is not used up yet: 429 is
        # somewhere, never more than LIMIT before it in total.
        assert len(answers) - answers.count(429) <= LIMIT and 429 in answers, answers
    finally:
        server.stop()


def test_the_chores_run_in_one_worker_only(tmp_path):
    """Before any request a worker runs no thread but its main one, unless it does the chores
    (the stale-watcher, the pruner): exactly one of three does."""
    collector = Collector(tmp_path, "--workers", "3", "--keep-reports", "30d").start()
    try:
        threads = sorted(psutil.Process(pid).num_threads() for pid in workers_of(collector))
        assert threads[:2] == [1, 1] and threads[2] >= 3, threads
    finally:
        collector.stop()


def test_metrics_and_healthz_read_the_same_from_every_worker(tmp_path, base_facts):
    """Prometheus scrapes whichever worker the kernel picks: the same store, the same shared
    counters, so the same page (a counter that differed between workers would read as a
    reset on every other scrape)."""
    collector = Collector(tmp_path, "--workers", "3").start()
    try:
        for n in range(5):
            assert (
                collector.post(make_report(base_facts, f"m{n}", ["cassandra"])).status_code == 201
            )
        assert collector.get("/api/v1/fleet", token=WRONG).status_code == 403
        pages = {collector.get("/metrics").text for _ in range(12)}
        assert len(pages) == 1, pages
        assert "wire_preflight_store_errors_total 0.0" in pages.pop()
        health = {(a.status_code, a.text) for a in (collector.get("/healthz") for _ in range(12))}
        assert len(health) == 1 and health.pop()[0] == 200, health
    finally:
        collector.stop()

"""`serve --workers N`: several collector processes on one port (workers.py), attacked and
killed as a running server is."""

import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
import psutil
import requests
from collectorlib import TOKEN, Collector
from helpers import fill, make_report, small_disk
from wire_preflight_collector.readcache import PerGeneration
from wire_preflight_collector.shared import Shared
from wire_preflight_collector.throttle import LIMIT
from wire_preflight_collector.workers import QUICK_EXITS, per_worker


def workers_of(collector):
    return collector_children(collector.proc.pid)


def collector_children(pid):
    return sorted(child.pid for child in psutil.Process(pid).children())


def established(pid, port):
    return [
        conn
        for conn in psutil.Process(pid).net_connections(kind="tcp")
        if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port
    ]


def wait_for(condition, what, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def fleet_hosts(collector):
    fleet = collector.get("/api/v1/fleet").json()
    return {host["hostname"] for host in fleet["hosts"]}


def test_connections_spread_over_the_workers_and_every_report_is_stored(tmp_path, base_facts):
    collector = Collector(tmp_path, "--workers", "2").start()
    try:
        workers = workers_of(collector)
        assert len(workers) == 2, workers
        # 20 connections held open at once: the kernel spreads them by their ports, so both
        # workers hold some (all 20 in one would happen once in 2**19 runs).
        sessions = []
        for n in range(20):
            session = requests.Session()
            answer = session.post(
                collector.url + "/api/v1/reports",
                json=make_report(base_facts, f"spread{n}", ["cassandra"]),
                headers={"Authorization": "Bearer " + TOKEN},
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            sessions.append(session)
        held = {pid: len(established(pid, collector.port)) for pid in workers}
        assert all(held.values()) and sum(held.values()) == 20, held
        # Every report any worker acknowledged is in the one store, whichever worker reads it.
        for _ in range(4):
            assert fleet_hosts(collector) == {f"spread{n}" for n in range(20)}
        for session in sessions:
            session.close()
    finally:
        collector.stop()
    assert collector.proc.returncode == 0


def test_a_worker_killed_mid_ingest_is_started_again_and_nothing_acknowledged_is_lost(
    tmp_path, base_facts
):
    collector = Collector(tmp_path, "--workers", "2").start()
    acknowledged, stop = [], threading.Event()

    def send(sender):
        n = 0
        while not stop.is_set():
            name = f"s{sender}-{n}"
            try:
                answer = collector.post(make_report(base_facts, name, ["cassandra"]), timeout=10)
            except requests.ConnectionError:
                continue  # the killed worker's connection: the agent spools and sends again
            if answer.status_code == 201:
                acknowledged.append(name)
            n += 1

    senders = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    try:
        for thread in senders:
            thread.start()
        wait_for(lambda: len(acknowledged) >= 20, "reports before the kill")
        before = workers_of(collector)
        os.kill(before[0], signal.SIGKILL)
        after = wait_for(
            lambda: (lambda now: now if len(now) == 2 and before[0] not in now else None)(
                workers_of(collector)
            ),
            "the killed worker's replacement",
        )
        assert before[1] in after
        count = len(acknowledged)
        wait_for(lambda: len(acknowledged) >= count + 20, "reports after the restart")
        stop.set()
        for thread in senders:
            thread.join()
        assert set(acknowledged) <= fleet_hosts(collector)
        log = collector.read_log()
        assert f"(pid {before[0]}) was killed by signal 9: starting it again" in log, log
        # The replacement serves: it holds the port like the other.
        listening = {
            conn.pid
            for conn in psutil.net_connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == collector.port
        }
        assert listening == set(after), (listening, after)
    finally:
        stop.set()
        collector.stop()


def test_sigterm_stops_every_worker_and_frees_the_port(tmp_path):
    collector = Collector(tmp_path, "--workers", "3").start()
    workers = workers_of(collector)
    assert len(workers) == 3
    collector.stop(signal.SIGTERM)
    assert collector.proc.returncode == 0, collector.read_log()
    for pid in workers:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", collector.port))  # raises if any worker still holds it


def test_a_port_another_collectors_workers_hold_is_refused_as_busy(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Collector(tmp_path / "a", "--workers", "2").start()
    second = Collector(tmp_path / "b", "--workers", "2")
    try:
        with pytest.raises(AssertionError) as refused:
            second.start(port=first.port)
        assert "cannot listen on 127.0.0.1" in str(refused.value), refused.value
        assert second.proc.wait(timeout=20) == 2
    finally:
        second.stop()
        first.stop()


def test_wrong_credentials_spread_over_workers_are_throttled_as_one_process_would(tmp_path):
    collector = Collector(tmp_path, "--workers", "2").start()
    try:
        answers = []
        for _ in range(LIMIT + 1):
            # A new connection each time, as an attacker spreading over the workers would.
            answers.append(
                collector.get("/api/v1/fleet", token="wrong-token-0123456789").status_code
            )
        assert set(answers) <= {403, 429}, answers
        # Each worker allows LIMIT // 2: together never more than LIMIT wrong guesses.
        assert answers.count(403) <= LIMIT
        assert 429 in answers, answers
        # The right credential is never slowed.
        assert collector.get("/api/v1/fleet").status_code == 200
    finally:
        collector.stop()


def test_store_errors_and_write_health_read_the_same_from_every_worker(tmp_path, base_facts):
    with small_disk(tmp_path, "2m") as disk:
        collector = Collector(tmp_path, "--workers", "2", db=str(disk / "collector.db")).start()
        try:
            assert collector.post(make_report(base_facts, "h0", ["cassandra"])).status_code == 201
            fill(disk)
            refused = sum(
                collector.post(make_report(base_facts, f"h{n}", ["cassandra"])).status_code == 503
                # An odd number: two workers counting each their own could not agree.
                for n in range(1, 6)
            )
            assert refused, "the full disk took a report"
            counts = {
                re.search(
                    r"^wire_preflight_store_errors_total (\S+)$",
                    collector.get("/metrics").text,
                    re.M,
                ).group(1)
                for _ in range(12)  # new connections: both workers answer some
            }
            assert len(counts) == 1 and float(counts.pop()) >= refused
        finally:
            collector.stop()


def _in_a_forked_process(target):
    process = multiprocessing.get_context("fork").Process(target=target)
    process.start()
    process.join(20)
    assert process.exitcode == 0


def test_an_admin_change_in_one_process_is_not_served_behind_in_another():
    shared = Shared(processes=2)
    # A value costly enough to lag (cheap=0: any), made before the other process's change.
    cache = PerGeneration(lambda: generation[0], lag=60, bound=120, cheap=0, shared=shared)
    generation = ["1"]
    assert cache.get("fleet", lambda: "as of 1") == "as of 1"
    generation[0] = "2"
    assert cache.get("fleet", lambda: "as of 2") == "as of 1"  # lags, within LAG
    time.sleep(0.01)
    _in_a_forked_process(
        lambda: (shared.use_slot(1), PerGeneration(lambda: "2", shared=shared).show_changes_now())
    )
    assert cache.get("fleet", lambda: "as of 2") == "as of 2"


def test_the_shared_values_are_one_across_processes():
    alone = Shared()  # one process's: a forked process's changes stay its own
    _in_a_forked_process(alone.count_store_error)
    assert alone.store_errors == 0

    shared = Shared(processes=2)
    shared.count_store_error()
    _in_a_forked_process(
        lambda: (
            shared.use_slot(1),
            shared.count_store_error(),
            shared.write_failed(7.0, "DiskFull"),
        )
    )
    assert shared.store_errors == 2
    assert shared.last_writes() == (7.0, 0.0, "DiskFull")
    # A process killed in the middle of its writes holds nothing the others wait for.
    _killed_in_a_forked_process(lambda: (shared.use_slot(1), _write_for_ever(shared)))
    writer = threading.Thread(
        target=lambda: (shared.write_succeeded(8.0), shared.count_store_error()), daemon=True
    )
    writer.start()
    writer.join(20)
    assert not writer.is_alive(), "a write waits for a process that was killed"
    assert shared.last_writes()[1] == 8.0 and shared.store_errors > 2


def _write_for_ever(shared):
    while True:
        shared.count_store_error()
        shared.write_failed(9.0, "DiskFull")


def _killed_in_a_forked_process(target):
    process = multiprocessing.get_context("fork").Process(target=target)
    process.start()
    time.sleep(0.2)  # let it write a while
    os.kill(process.pid, signal.SIGKILL)
    process.join(20)
    assert process.exitcode == -signal.SIGKILL


def test_bounds_split_over_workers_never_add_up_to_more():
    for total in (1, 7, 8, 30, 100, 1000):
        for workers in (1, 2, 3, 4, 64):
            each = per_worker(total, workers)
            assert each >= 1
            assert each * workers <= total or each == 1


SUPERVISE = """
import logging, socket, sys
from wire_preflight_collector.workers import Supervisor
logging.basicConfig(level=logging.INFO)  # as `serve` logs (cli.main)

def new_socket():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock

def serve(index, sock):
{body}

sys.exit(Supervisor({count}, serve, new_socket).run([new_socket() for _ in range({count})]))
"""


def _supervise(body, count=2):
    """Supervisor.run in a process of its own (this one has threads a fork would copy
    mid-lock), forking real workers that run `body` as serve(index, sock)."""
    script = SUPERVISE.format(body=textwrap.indent(body, "    "), count=count)
    return subprocess.run(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
        check=False,
    )


def test_a_worker_that_cannot_start_stops_the_collector_with_its_status(tmp_path):
    starts = tmp_path / "starts"
    done = _supervise(
        f"with open({str(starts)!r}, 'a') as handle:\n"
        "    handle.write(f'{index}\\n')\n"
        "return 2  # what serve's worker answers to a database it cannot open\n"
    )
    assert done.returncode == 2, done.stderr
    # Started again after each exit, until one of them exited QUICK_EXITS times.
    assert starts.read_text().count("0\n") + starts.read_text().count("1\n") >= QUICK_EXITS
    assert f"exited with 2 {QUICK_EXITS} times" in done.stderr, done.stderr


def test_a_worker_that_crashes_is_logged_and_its_status_is_the_collectors():
    done = _supervise("raise RuntimeError('a bug')\n", count=1)
    assert done.returncode == 1, done.stderr
    assert "worker 0 failed" in done.stderr and "RuntimeError: a bug" in done.stderr


def test_a_worker_killed_soon_after_its_start_is_started_again_however_often(tmp_path):
    starts = tmp_path / "starts"
    done = _supervise(
        "import os, signal\n"
        f"with open({str(starts)!r}, 'a') as handle:\n"
        "    handle.write('started\\n')\n"
        f"if open({str(starts)!r}).read().count('started') <= {QUICK_EXITS + 1}:\n"
        "    os.kill(os.getpid(), signal.SIGKILL)  # the OOM killer, say\n"
        "return 3\n",
        count=1,
    )
    # Killed QUICK_EXITS + 1 times within seconds of each start: restarted each time; only
    # exiting by itself three times stops the collector.
    assert starts.read_text().count("started") == QUICK_EXITS + 1 + QUICK_EXITS
    assert done.returncode == 3, done.stderr
    assert "was killed by signal 9: starting it again" in done.stderr


def test_sqlite_writers_of_two_processes_take_turns_through_the_lock_file(tmp_path, base_facts):
    from wire_preflight_collector.store import open_store

    db = str(tmp_path / "c.db")
    store = open_store(db)
    fork = multiprocessing.get_context("fork")
    holding, release = fork.Event(), fork.Event()

    def other_process_writes():
        other = open_store(db)  # its own connections and its own lock file descriptor
        with other._write_lock, other._turns.turn():
            holding.set()
            release.wait(30)

    process = fork.Process(target=other_process_writes)
    process.start()
    assert holding.wait(30)
    done = threading.Event()
    thread = threading.Thread(
        target=lambda: (store.ingest(make_report(base_facts, "h1", ["cassandra"])), done.set())
    )
    thread.start()
    # The other process's turn holds this one's report back...
    assert not done.wait(0.5)
    assert store.count() == 0
    release.set()
    process.join(30)
    # ...and it is stored once the turn is let go.
    thread.join(30)
    assert done.is_set() and store.count() == 1
    assert os.stat(db + "-writer").st_mode & 0o777 == 0o600


def test_a_lock_file_this_process_cannot_open_slows_writes_but_loses_none(
    tmp_path, base_facts, caplog
):
    from wire_preflight_collector.store import open_store

    db = str(tmp_path / "c.db")
    open_store(db)
    os.unlink(db + "-writer")
    os.mkdir(db + "-writer")  # what this process cannot open: as root's file is to a service
    store = open_store(db)
    assert store.ingest(make_report(base_facts, "h1", ["cassandra"]))[0]
    assert store.count() == 1
    assert "cannot use the writers' lock" in caplog.text
    assert caplog.text.count("cannot use the writers' lock") == 1  # once, not every write
    store.ingest(make_report(base_facts, "h2", ["cassandra"]))
    assert caplog.text.count("cannot use the writers' lock") == 1


def test_a_worker_that_cannot_open_the_database_again_stops_the_collector_in_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    collector = Collector(tmp_path, "--workers", "2", db=str(tmp_path / "data" / "c.db")).start()
    try:
        # The running workers keep their open database; a worker started now cannot open it.
        os.rename(tmp_path / "data", tmp_path / "moved")
        os.kill(workers_of(collector)[1], signal.SIGKILL)
        assert collector.proc.wait(timeout=60) == 2
        log = collector.read_log()
        assert f"wire-preflight-collector: error: --db {tmp_path}/data/c.db: directory" in log, log
        assert "Traceback" not in log, log
        assert f"exited with 2 {QUICK_EXITS} times" in log, log
    finally:
        collector.stop()


def test_an_in_memory_database_leaves_no_lock_file(tmp_path, monkeypatch, base_facts):
    from wire_preflight_collector.store.sqlite import SqliteStore

    monkeypatch.chdir(tmp_path)
    store = SqliteStore(":memory:")
    store.ingest(make_report(base_facts, "h1", ["cassandra"]))
    assert os.listdir(tmp_path) == []


def test_workers_stop_when_the_parent_is_killed(tmp_path):
    collector = Collector(tmp_path, "--workers", "2").start()
    workers = workers_of(collector)
    collector.proc.kill()  # SIGKILL: the parent cannot pass anything on
    collector.proc.wait(timeout=20)

    def gone():
        return all(
            not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
            for pid in workers
        )

    wait_for(gone, "the orphaned workers to stop")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", collector.port))  # raises if a worker still holds the port
    collector.stop()


@pytest.mark.parametrize(
    "bounds, option",
    [
        (["--max-connections", "3"], "--max-connections is 3"),
        (["--max-connections-per-address", "2"], "--max-connections-per-address is 2"),
        # The default per-address bound of 30 connections (8) is under 16 workers too.
        (["--max-connections", "30"], "--max-connections-per-address is 8"),
    ],
)
def test_a_bound_smaller_than_the_workers_is_refused_not_multiplied(tmp_path, bounds, option):
    workers = "4" if "30" not in bounds else "16"
    collector = Collector(tmp_path, "--workers", workers, *bounds)
    try:
        with pytest.raises(AssertionError):
            collector.start()
        assert collector.proc.wait(timeout=20) == 2
        log = collector.read_log()
        assert f"error: --workers {workers}: {option}; each worker holds a share" in log, log
        assert "Traceback" not in log
    finally:
        collector.stop()


def test_no_worker_count_serve_takes_multiplies_the_wrong_credential_allowance():
    from wire_preflight import profiles
    from wire_preflight_collector.context import Settings
    from wire_preflight_collector.defaults import MAX_WORKERS

    for workers in range(1, MAX_WORKERS + 1):
        settings = Settings(None, TOKEN, profiles.load("classic"), workers=workers)
        assert settings.limiter.limit >= 1 and settings.limiter.limit * workers <= LIMIT


def test_a_symlink_planted_at_the_writer_lock_is_not_followed(tmp_path, base_facts):
    target = tmp_path / "made-by-the-collector"
    os.symlink(str(target), str(tmp_path / "collector.db-writer"))
    collector = Collector(tmp_path, "--workers", "2").start()
    try:
        assert collector.post(make_report(base_facts, "h0", ["cassandra"])).status_code == 201
        assert "cannot use the writers' lock" in collector.read_log()
    finally:
        collector.stop()
    assert not target.exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_in_memory_database_is_refused_at_start(tmp_path, workers):
    collector = Collector(tmp_path, "--workers", workers, db=":memory:")
    try:
        with pytest.raises(AssertionError):
            collector.start()
        assert collector.proc.wait(timeout=20) == 2
        assert "give a database file" in collector.read_log()
    finally:
        collector.stop()

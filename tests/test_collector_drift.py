"""Drift, staleness, baselines, metrics and the webhook, through a real collector."""

import http.server
import json
import socket
import sqlite3
import threading
import time
import zlib

import pytest
from helpers import GIB, make_report, run_process

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
from collectorlib import Collector


@pytest.fixture
def collector(tmp_path):
    server = Collector(tmp_path).start()
    yield server
    server.stop()


def moved(base, address, memory):
    report = make_report(base, "cassandra1", ["cassandra"], "s1", address=address)
    report["facts"]["memory"]["installed_bytes"] = memory
    return report


def test_address_and_memory_drift_with_before_and_after(collector, base_facts):
    first = moved(base_facts, "192.168.1.5", 4 * GIB)
    second = moved(base_facts, "192.168.1.9", 8 * GIB)
    second["generated_at"] = "2026-11-28T06:05:00Z"
    assert collector.post(first).json()["events"] == ["new-host"]
    assert sorted(collector.post(second).json()["events"]) == ["ip-changed", "memory-changed"]
    events = {e["kind"]: e for e in collector.get("/api/v1/drift?host=cassandra1").json()["events"]}
    assert events["ip-changed"]["before"]["primary"] == "192.168.1.5"
    assert events["ip-changed"]["after"]["primary"] == "192.168.1.9"
    assert (events["memory-changed"]["before"], events["memory-changed"]["after"]) == (
        4 * GIB,
        8 * GIB,
    )
    assert events["ip-changed"]["open"] is True and events["ip-changed"]["hostname"] == "cassandra1"
    only = collector.get("/api/v1/drift?kind=memory-changed").json()["events"]
    assert [e["kind"] for e in only] == ["memory-changed"]
    assert collector.get(f"/api/v1/drift?since={time.time() + 60}").json()["events"] == []
    assert collector.get("/api/v1/drift?kind=bogus").status_code == 422


def test_accepted_baseline_silences_the_events(collector, base_facts):
    collector.post(moved(base_facts, "192.168.1.5", 4 * GIB))
    later = moved(base_facts, "192.168.1.9", 4 * GIB)
    later["generated_at"] = "2026-11-28T06:05:00Z"
    collector.post(later)
    assert [e["kind"] for e in collector.get("/api/v1/drift?open=true").json()["events"]] == [
        "ip-changed",
        "new-host",
    ]
    done = run_process(
        "fleet",
        "--collector",
        collector.url,
        "--token-file",
        collector.token_file,
        "accept",
        "cassandra1",
    )
    assert done.returncode == 0, done.stderr
    assert "2 open drift event(s) closed" in done.stdout
    assert collector.get("/api/v1/drift?open=true").json()["events"] == []
    everything = collector.get("/api/v1/drift").json()["events"]
    assert len(everything) == 2 and all(e["accepted_at"] for e in everything)
    assert collector.get("/api/v1/hosts/cassandra1").json()["baseline_accepted_at"]
    # the next unchanged report opens nothing new
    again = moved(base_facts, "192.168.1.9", 4 * GIB)
    again["generated_at"] = "2026-11-28T06:10:00Z"
    assert collector.post(again).json()["events"] == []
    assert collector.post(make_report(base_facts, "x", ["cassandra"])).status_code == 201
    assert (
        run_process(
            "fleet",
            "--collector",
            collector.url,
            "--token-file",
            collector.token_file,
            "accept",
            "nobody",
        ).returncode
        == 2
    )


def test_fleet_drift_command(collector, base_facts):
    collector.post(moved(base_facts, "192.168.1.5", 4 * GIB))
    done = run_process(
        "fleet",
        "--collector",
        collector.url,
        "--token-file",
        collector.token_file,
        "drift",
        "--since",
        "1h",
    )
    assert done.returncode == 0, done.stderr
    assert "cassandra1" in done.stdout and "new-host" in done.stdout
    assert done.stdout.strip().endswith("1 event(s)")
    as_json = run_process(
        "fleet",
        "--collector",
        collector.url,
        "--token-file",
        collector.token_file,
        "drift",
        "--json",
    )
    assert json.loads(as_json.stdout)["events"][0]["kind"] == "new-host"
    assert run_process("fleet", "drift").returncode == 2  # no collector named


def test_silent_host_goes_stale_then_returns(tmp_path, base_facts):
    server = Collector(tmp_path, "--stale-after", "1").start()
    try:
        first = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
        server.post(first)
        deadline = time.time() + 15
        while time.time() < deadline:
            kinds = [e["kind"] for e in server.get("/api/v1/drift").json()["events"]]
            if "stale" in kinds:
                break
            time.sleep(0.3)
        assert "stale" in kinds
        assert server.get("/api/v1/fleet").json()["hosts"][0]["stale"] is True
        second = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
        second["generated_at"] = "2026-11-28T06:05:00Z"
        assert server.post(second).json()["events"] == ["returned"]
        assert server.get("/api/v1/fleet").json()["hosts"][0]["stale"] is False
    finally:
        server.stop()


def test_metrics_parse_with_prometheus_client(collector, base_facts):
    from prometheus_client.parser import text_string_to_metric_families

    report = make_report(base_facts, "cassandra1", ["cassandra"], "s1", failing=["memory"])
    collector.post(report)
    text = collector.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    seen = families["wire_preflight_host_last_seen_timestamp_seconds"].samples[0]
    assert seen.labels == {"hostname": "cassandra1"} and seen.value > 1.7e9
    statuses = {
        (s.labels["check"], s.labels["status"])
        for s in families["wire_preflight_check_status"].samples
    }
    assert ("memory", "fail") in statuses and ("os", "pass") in statuses
    roles = {s.labels["role"]: s.value for s in families["wire_preflight_role_hosts"].samples}
    required = {
        s.labels["role"]: s.value for s in families["wire_preflight_role_required_hosts"].samples
    }
    assert roles["cassandra"] == 1 and required["cassandra"] == 3
    drift = {
        s.labels["kind"]: s.value for s in families["wire_preflight_drift_open_events"].samples
    }
    assert drift["new-host"] == 1 and drift["ip-changed"] == 0
    assert collector.get("/metrics", token=None).status_code == 401


class Recorder(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        Recorder.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_receives_each_new_event(tmp_path, base_facts):
    Recorder.received = []
    hook = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    server = Collector(tmp_path, "--webhook", f"http://127.0.0.1:{hook.server_port}/hook").start()
    try:
        server.post(moved(base_facts, "192.168.1.5", 4 * GIB))
        later = moved(base_facts, "192.168.1.9", 4 * GIB)
        later["generated_at"] = "2026-11-28T06:05:00Z"
        server.post(later)
        deadline = time.time() + 15
        while len(Recorder.received) < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert [e["kind"] for e in Recorder.received] == ["new-host", "ip-changed"]
        assert Recorder.received[1]["before"]["primary"] == "192.168.1.5"
        assert Recorder.received[1]["hostname"] == "cassandra1"
    finally:
        server.stop()
        hook.shutdown()


def test_a_dead_webhook_does_not_hold_up_ingest(tmp_path, base_facts):
    # A webhook that accepts connections and never answers: each delivery hangs until its
    # 5 s timeout. Ingest must not wait for it: every report below gets its answer well
    # within a 3 s client timeout, which a collector waiting on the webhook could not give.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(100)
    server = Collector(
        tmp_path, "--webhook", f"http://127.0.0.1:{silent.getsockname()[1]}/"
    ).start()
    try:
        for number in range(20):
            report = make_report(base_facts, f"host{number}", ["cassandra"], "s1")
            response = server.post(report, timeout=3)
            assert response.status_code == 201 and response.json()["events"] == ["new-host"]
    finally:
        server.stop()
        silent.close()


def test_storage_stays_small_for_unchanged_reports(tmp_path, base_facts):
    """1,000 reports of an unchanged host: its facts are stored once, each report keeps only
    its checks and what moves every run. Bound: half of what 1,000 compressed full reports
    would take, and under 1.5 KiB a report."""
    from wire_preflight_collector.store import SqliteStore

    store = SqliteStore(str(tmp_path / "growth.db"))
    template = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
    store.ingest(template)
    conn = sqlite3.connect(str(tmp_path / "growth.db"))
    before = conn.execute("SELECT sum(length(body)) FROM reports").fetchone()[0]
    full = 0
    for number in range(1000):
        report = json.loads(json.dumps(template))
        report["report_id"] = f"r{number}"
        report["generated_at"] = f"2026-11-28T07:{number // 60:02d}:{number % 60:02d}Z"
        report["facts"]["collected_at_epoch"] += number * 300
        report["facts"]["disks"][0]["free_bytes"] -= number * 4096
        full += len(zlib.compress(json.dumps(report).encode(), 1))
        assert store.ingest(report)[0]
    grown = conn.execute("SELECT sum(length(body)) FROM reports").fetchone()[0] - before
    blobs = conn.execute("SELECT count(*) FROM facts_blobs").fetchone()[0]
    assert blobs == 1
    assert grown < full / 2, (grown, full)
    assert grown / 1000 < 1536, grown / 1000
    # and every report still reads back whole
    latest = store.host("cassandra1")["latest"]
    assert latest["report_id"] == "r999"
    assert latest["facts"]["disks"][0]["free_bytes"] == (
        template["facts"]["disks"][0]["free_bytes"] - 999 * 4096
    )
    assert latest["facts"]["network"] == template["facts"]["network"]

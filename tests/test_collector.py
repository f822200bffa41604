"""The collector over a real socket: tokens, limits, bad bodies, retries, crashes, the spool,
TLS and the page in a real browser. Needs the collector's extras (Python >= 3.10)."""

import json
import os
import signal
import sqlite3
import threading
import time

import pytest
from helpers import classic_fleet, fixture_path, make_report, run_process

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
requests = pytest.importorskip("requests")
from collectorlib import CHROMIUM, NO_CHROMIUM, TOKEN, Collector, chromium, free_port  # noqa: E402

FACTS = fixture_path("facts-ubuntu1804-kvm-4g.json")


@pytest.fixture
def collector(tmp_path):
    server = Collector(tmp_path).start()
    yield server
    server.stop()


def test_health_and_openapi(collector):
    assert collector.get("/healthz", token=None).json() == {"status": "ok", "database": "ok"}
    spec = collector.get("/openapi.json", token=None).json()
    assert "/api/v1/reports" in spec["paths"] and "/api/v1/fleet" in spec["paths"]


def test_tokens(collector, base_facts):
    report = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
    assert collector.post(report, token=None).status_code == 401
    assert collector.post(report, token="wrong").status_code == 403
    assert collector.get("/api/v1/fleet", token=None).status_code == 401
    assert collector.get("/", token=None).headers["WWW-Authenticate"].startswith("Basic")
    assert collector.get("/api/v1/fleet", token="wrong").status_code == 403
    assert TOKEN not in collector.read_log()


def test_report_stored_once_when_retried(collector, base_facts):
    report = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
    first = collector.post(report)
    assert first.status_code == 201 and first.json()["stored"] is True
    again = collector.post(report)
    assert again.status_code == 200 and again.json()["stored"] is False
    host = collector.get("/api/v1/hosts/cassandra1").json()
    assert len(host["history"]) == 1
    assert host["latest"]["report_id"] == report["report_id"]


def test_oversized_bodies_are_refused(collector):
    big = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    assert collector.post(big).status_code == 413

    def chunks():  # no Content-Length: the limit is enforced while the body streams
        for _ in range(40):
            yield b" " * 65536

    assert collector.post(chunks()).status_code == 413


@pytest.mark.parametrize(
    "body,status,words",
    [
        (b"{not json", 400, "not JSON"),
        (b"[]", 422, "must be a JSON object"),
        (json.dumps({"schema": "wire-preflight/report/1"}).encode(), 422, "'report_id'"),
    ],
)
def test_malformed_reports(collector, body, status, words):
    response = collector.post(body)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_schema_errors_name_the_field(collector, base_facts):
    report = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
    report["facts"]["memory"]["total_bytes"] = "lots"
    response = collector.post(report)
    assert response.status_code == 422
    assert "'facts.memory.total_bytes'" in response.json()["detail"]
    report = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
    report["checks"][0]["status"] = "great"
    assert "'checks[0].status'" in collector.post(report).json()["detail"]


def test_fleet_and_host_api(collector, base_facts):
    for report in classic_fleet(base_facts):
        assert collector.post(report).status_code == 201
    fleet = collector.get("/api/v1/fleet").json()
    assert fleet["verdict"] == "PASS" and len(fleet["hosts"]) == 16
    host = fleet["hosts"][0]
    assert {"hostname", "roles", "physical_host", "last_seen", "status"} <= set(host)
    assert collector.get("/api/v1/hosts/nobody").status_code == 404


def test_fleet_command_against_the_collector(collector, base_facts):
    for report in classic_fleet(base_facts)[:3]:
        collector.post(report)
    done = run_process(
        "fleet", "--collector", collector.url, "--token-file", collector.token_file, "--json"
    )
    assert done.returncode == 3, done.stderr  # too few hosts: role-count fails
    assert len(json.loads(done.stdout)["hosts"]) == 3
    done = run_process("fleet", "--collector", collector.url, "--token-file", collector.token_file)
    assert done.stdout.startswith("fleet: FAIL")


def test_page_escapes_hostile_text(collector, base_facts):
    """Hostnames and physical hosts are refused unless name-shaped (test_collector_security);
    free text an agent sends still reaches the page, in drift details: escaped."""
    hostile = '<img src=x onerror="document.title=1">'
    assert collector.post(make_report(base_facts, hostile, ["cassandra"], "s1")).status_code == 422
    assert collector.post(make_report(base_facts, "c1", ["cassandra"], "s1")).status_code == 201
    report = make_report(base_facts, "c1", ["cassandra"], "s1")
    report["facts"]["os"]["version_id"] = hostile
    assert collector.post(report).status_code == 201
    page = collector.get("/")
    assert page.status_code == 200
    assert "&lt;img src=x onerror=" in page.text and "<img src=x" not in page.text


def test_sigkill_during_ingest_loses_no_acknowledged_report(tmp_path, base_facts):
    server = Collector(tmp_path).start()
    acknowledged, stop = [], threading.Event()
    template = make_report(base_facts, "load", ["cassandra"], "s1")

    def sender(worker):
        session = requests.Session()
        number = 0
        while not stop.is_set():
            number += 1
            report = dict(template, report_id=f"w{worker}-{number}", hostname=f"load{worker}")
            try:
                response = session.post(
                    server.url + "/api/v1/reports",
                    json=report,
                    headers={"Authorization": "Bearer " + TOKEN},
                    timeout=5,
                )
            except requests.RequestException:
                return
            if response.status_code == 201:
                acknowledged.append(report["report_id"])

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.time() + 15
    while len(acknowledged) < 50 and time.time() < deadline:
        time.sleep(0.05)
    server.proc.send_signal(signal.SIGKILL)  # mid-ingest: senders are still sending
    server.proc.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    server.log.close()
    assert len(acknowledged) >= 50

    restarted = Collector(tmp_path).start()
    try:
        assert restarted.get("/healthz", token=None).json()["database"] == "ok"
        with sqlite3.connect(restarted.db) as conn:
            stored = {row[0] for row in conn.execute("SELECT report_id FROM reports")}
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert set(acknowledged) <= stored
        assert restarted.post(make_report(base_facts, "after", ["cassandra"])).status_code == 201
    finally:
        restarted.stop()


def report_cmd(collector_url, token_file, tmp_path, *extra):
    return run_process(
        "report",
        "--collector",
        collector_url,
        "--token-file",
        token_file,
        "--role",
        "cassandra",
        "--facts",
        FACTS,
        "--physical-host",
        "s1",
        "--state-dir",
        str(tmp_path / "state"),
        "--spool-dir",
        str(tmp_path / "spool"),
        *extra,
    )


def test_agent_spools_while_the_collector_is_down(tmp_path):
    server = Collector(tmp_path)
    port = free_port()
    server.port = port
    down = report_cmd(server.url, server.token_file, tmp_path)
    assert down.returncode == 0, down.stderr  # the checks passed; delivery is reported apart
    assert "spooled" in down.stdout and "cannot reach" in down.stdout
    assert len([n for n in os.listdir(str(tmp_path / "spool")) if n.endswith(".json")]) == 1
    server.start(port)
    try:
        up = report_cmd(server.url, server.token_file, tmp_path)
        assert "delivered 1 spooled report(s)" in up.stderr
        assert "delivered" in up.stdout
        assert [n for n in os.listdir(str(tmp_path / "spool")) if n.endswith(".json")] == []
        history = server.get("/api/v1/hosts/cassandra1").json()["history"]
        assert len(history) == 2
        # oldest first: the spooled report reached the collector before the new one
        assert history[-1]["received_at"] <= history[0]["received_at"]
    finally:
        server.stop()


def test_spool_is_bounded(tmp_path):
    server = Collector(tmp_path)
    server.port = free_port()
    for _ in range(3):
        done = report_cmd(server.url, server.token_file, tmp_path, "--spool-max", "2")
    assert "spool full (2 reports): dropped the oldest" in done.stderr
    assert len([n for n in os.listdir(str(tmp_path / "spool")) if n.endswith(".json")]) == 2


def test_wrong_token_keeps_the_report_for_later(tmp_path, collector):
    bad = tmp_path / "bad-token"
    bad.write_text("nope")
    bad.chmod(0o600)  # a secret: other users may not read it
    done = report_cmd(collector.url, str(bad), tmp_path)
    assert "spooled" in done.stdout and "403" in done.stdout
    good = report_cmd(collector.url, collector.token_file, tmp_path)
    assert "delivered 1 spooled report(s)" in good.stderr


def test_tls_with_a_test_ca(tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = (str(tmp_path / n) for n in ("cert.pem", "key.pem", "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(cert_file)
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(cert_file, append=True)
    cert.private_key_pem.write_to_path(key_file)
    os.chmod(key_file, 0o600)
    ca.cert_pem.write_to_path(ca_file)
    server = Collector(
        tmp_path, "--tls-cert", cert_file, "--tls-key", key_file, scheme="https"
    ).start()
    try:
        trusted = report_cmd(server.url, server.token_file, tmp_path, "--ca-cert", ca_file)
        assert "delivered" in trusted.stdout, trusted.stdout + trusted.stderr
        untrusted = report_cmd(server.url, server.token_file, tmp_path / "other")
        assert "spooled" in untrusted.stdout and "TLS" in untrusted.stdout
        assert server.get("/healthz", token=None, verify=ca_file).status_code == 200
    finally:
        server.stop()


@pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM)
def test_page_in_headless_chromium(collector, base_facts, tmp_path):
    hostile = '<script>document.title="owned"</script>'
    for report in classic_fleet(base_facts)[:4]:
        collector.post(report)
    changed = classic_fleet(base_facts)[0]
    changed["facts"]["os"]["version_id"] = hostile  # free text: shown in the drift detail
    assert collector.post(changed).status_code == 201
    url = f"http://reader:{TOKEN}@127.0.0.1:{collector.port}/?status=all"  # passing ones too
    done = chromium("--user-data-dir=" + str(tmp_path / "chromium"), "--dump-dom", url)
    dom = done.stdout
    assert "<title>wire-preflight: fleet FAIL</title>" in dom, done.stderr[-2000:]
    for name in ("cassandra1", "minio1", "elasticsearch1", "kubernetes1"):
        link = f'<a class="name" href="hosts/{name}" title="{name}">{name}</a>'
        assert f'class="hostname">{link}</td>' in dom
    # the hostile text is text in a cell, not a script that ran
    assert '&lt;script&gt;document.title="owned"&lt;/script&gt;' in dom
    assert "owned</title>" not in dom


def test_page_shows_the_reachability_matrix(collector, base_facts):
    report = make_report(base_facts, "kubenode1", ["kubernetes"], "s1")
    report["reachability"] = {
        "probes": [
            {
                "from_role": "kubernetes",
                "to_role": "cassandra",
                "peer": "cassandra1",
                "proto": "tcp",
                "port": 9042,
                "state": "filtered",
            },
            {
                "from_role": "kubernetes",
                "to_role": "cassandra",
                "peer": "cassandra1",
                "proto": "tcp",
                "port": 7000,
                "state": "refused",
            },
        ]
    }
    assert collector.post(report).status_code == 201
    fleet = collector.get("/api/v1/fleet").json()
    cell = fleet["reachability"]["cells"][0]
    assert (cell["open"], cell["blocked"]) == (1, 1)
    page = collector.get("/").text
    assert "Reachability between roles" in page
    assert "kubenode1 -&gt; cassandra1:9042/tcp filtered" in page

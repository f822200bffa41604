"""The collector's trust boundary, attacked over a real socket: hostile and broken bodies,
rows written by an older collector, clients whose clocks lie, credentials used beyond their
scope, a browser borrowed from another origin, slow and idle clients, a full disk."""

import json
import os
import socket
import sqlite3
import subprocess
import time
import zlib

import pytest
from helpers import make_report, require_root, run_process

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
requests = pytest.importorskip("requests")
from collectorlib import CHROMIUM, ENROLL, NO_CHROMIUM, TOKEN, VIEWER, Collector, chromium  # noqa: E402

ALL_OK = {
    "/healthz": 200,
    "/api/v1/fleet": 200,
    "/api/v1/hosts/cassandra1": 200,
    "/hosts/cassandra1": 200,
    "/api/v1/drift": 200,
    "/metrics": 200,
    "/": 200,
}


@pytest.fixture
def collector(tmp_path):
    server = Collector(tmp_path).start()
    yield server
    server.stop()


def _valid(base_facts, **changes):
    report = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
    report.update(changes)
    return report


def _text(report, replace=()):
    """The report as JSON text, with raw substitutions no json.dumps would write."""
    text = json.dumps(report)
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode()


def _hostile_bodies(base):
    report = _valid(base, sent_at=1795000000.0)
    facts = report["facts"]
    deep = "[" * 100000 + "]" * 100000
    nested = {"x": None}
    for _ in range(40):
        nested = {"x": nested}

    def with_facts(**changes):
        return dict(report, facts=dict(facts, **changes))

    probe = {"to_role": "cassandra", "peer": "c2", "proto": "tcp", "port": 9042, "state": "open"}
    return {
        "NaN sent_at": _text(report, [("1795000000.0", "NaN")]),
        "Infinity sent_at": _text(report, [("1795000000.0", "Infinity")]),
        "-Infinity sent_at": _text(report, [("1795000000.0", "-Infinity")]),
        "1e400 sent_at": _text(report, [("1795000000.0", "1e400")]),
        "400-digit sent_at": _text(report, [("1795000000.0", "9" * 400)]),
        "sent_at in year 9999": json.dumps(dict(report, sent_at=253402300799.0)).encode(),
        "product_uuid list": json.dumps(with_facts(product_uuid=["a", "b"])).encode(),
        "probe without from_role": json.dumps(
            dict(report, reachability={"probes": [probe]})
        ).encode(),
        "probe with integer peer": json.dumps(
            dict(report, reachability={"probes": [dict(probe, from_role="k8s", peer=5)]})
        ).encode(),
        "deep nesting": _text(report, [('"options": {', f'"options": {{"deep": {deep}, ')]),
        "nesting past the schema's depth": json.dumps(
            dict(report, options={"deep": nested})
        ).encode(),
        "lone surrogate in hostname": _text(report, [('"cassandra1"', '"cassandra\\udcff"')]),
        "lone surrogate in a message": _text(
            report,
            [('"checks": [', '"checks": [{"id": "os", "status": "pass", "message": "\\ud800"}, ')],
        ),
        "invalid UTF-8": json.dumps(report).encode().replace(b"cassandra1", b"cassandra\xff", 1),
        "cpu count as text": json.dumps(with_facts(cpu={"logical_count": "2"})).encode(),
        "memory as true": json.dumps(with_facts(memory={"total_bytes": True})).encode(),
        "disks as an object": json.dumps(with_facts(disks={"path": "/"})).encode(),
        "interfaces of numbers": json.dumps(with_facts(network={"interfaces": [1, 2]})).encode(),
        "integer past 64 bits": json.dumps(with_facts(extra=2**70)).encode(),
        "check id a number": json.dumps(
            dict(report, checks=[{"id": 5, "status": "pass"}])
        ).encode(),
        "check status unknown": json.dumps(
            dict(report, checks=[{"id": "os", "status": "ok"}])
        ).encode(),
        "roles a string": json.dumps(dict(report, roles="cassandra")).encode(),
        "hostname a path": json.dumps(dict(report, hostname="../../etc/passwd")).encode(),
        "hostname with markup": json.dumps(dict(report, hostname="<b>x</b>")).encode(),
        "hostname 300 characters": json.dumps(dict(report, hostname="a" * 300)).encode(),
        "report_id with a slash": json.dumps(dict(report, report_id="a/b")).encode(),
        "no facts": json.dumps({k: v for k, v in report.items() if k != "facts"}).encode(),
        "facts of another schema": json.dumps(with_facts(schema="x/1")).encode(),
        "a list": b"[]",
        "null": b"null",
        "a string": b'"report"',
        "empty": b"",
        "not JSON": b"{not json",
    }


def test_openapi_describes_the_report_body(collector):
    spec = collector.get("/openapi.json", token=None).json()
    body = spec["paths"]["/api/v1/reports"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/Report")
    report = spec["components"]["schemas"]["Report"]
    assert {"schema", "report_id", "hostname", "facts", "checks"} <= set(report["required"])
    facts = spec["components"]["schemas"]["Facts"]
    assert "logical_count" in json.dumps(spec["components"]["schemas"]["CpuFacts"])
    assert "machine_id" in facts["properties"]
    enroll = spec["paths"]["/api/v1/enroll"]["post"]["requestBody"]
    assert enroll["content"]["application/json"]["schema"]["$ref"].endswith("/Enrollment")


def test_every_hostile_body_is_refused_and_every_read_route_still_answers(collector, base_facts):
    assert collector.post(_valid(base_facts)).status_code == 201
    for name, body in _hostile_bodies(base_facts).items():
        response = collector.post(body)
        assert response.status_code in (400, 413, 422), (name, response.status_code)
        detail = response.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail, (name, detail)
        assert collector.read_routes("cassandra1") == ALL_OK, name
    host = collector.get("/api/v1/hosts/cassandra1").json()
    assert len(host["history"]) == 1  # nothing hostile was stored
    assert "Traceback" not in collector.read_log()


def test_the_smallest_valid_report_breaks_no_read_route(collector):
    """Only what the schema requires (schemathesis found the host page failing on a report
    without physical_host): every optional field may be absent."""
    smallest = {
        "schema": "wire-preflight/report/1",
        "report_id": "r-0",
        "hostname": "0",
        "roles": [],
        "checks": [{"id": "os", "status": "pass"}],
        "facts": {"schema": "wire-preflight/facts/1", "hostname": "0"},
    }
    assert collector.post(smallest).status_code == 201
    routes = collector.read_routes("0")
    assert set(routes.values()) == {200}, routes


def test_refusals_name_the_field(collector, base_facts):
    report = _valid(base_facts)
    report["facts"]["cpu"]["logical_count"] = "2"
    detail = collector.post(report).json()["detail"]
    assert "facts.cpu.logical_count" in detail
    report = _valid(base_facts, reachability={"probes": [{"port": 1}]})
    assert "reachability.probes[0]" in collector.post(report).json()["detail"]


def _old_collector_rows(db, hostname):
    """Rows as a collector before the schema wrote them from reports it did not validate."""
    summary = (
        '{"hostname": "HOST", "machine_id": "m", "product_uuid": ["a"], "roles": ["cassandra"],'
        ' "status": "pass", "failing": [], "warnings": [], "addresses": [], "macs": [],'
        ' "os": "ubuntu 18.04", "clock": {"offset_s": NaN}, "reachability": [{"port": 1}]}'
    ).replace("HOST", hostname)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO reports (report_id, hostname, machine_id, generated_at, received_at,"
            " status, body, facts_hash) VALUES (?, ?, 'm', '9999-12-31T00:00:00Z', ?, 'pass',"
            " ?, NULL)",
            ("old-1", hostname, time.time(), zlib.compress(b'{"facts": NaN, "x": [')),
        )
        report_row = conn.execute("SELECT id FROM reports WHERE report_id = 'old-1'").fetchone()[0]
        conn.execute(
            "INSERT INTO hosts (hostname, machine_id, last_report, generated_at, last_seen,"
            " summary, snapshot, stale) VALUES (?, 'm', ?, '9999', ?, ?, '{\"checks\": NaN}', 0)",
            (hostname, report_row, time.time(), summary),
        )
        conn.execute(
            "INSERT INTO events (hostname, kind, at, before, after, detail) "
            "VALUES (?, 'ip-changed', ?, 'NaN', '[1,', 'x')",
            (hostname, time.time()),
        )
    conn.close()


def test_rows_an_older_collector_stored_cannot_break_a_read(tmp_path, base_facts):
    server = Collector(tmp_path).start()
    try:
        assert server.post(_valid(base_facts)).status_code == 201
        _old_collector_rows(server.db, "oldhost")
        routes = server.read_routes("oldhost")
        assert routes == {k.replace("cassandra1", "oldhost"): v for k, v in ALL_OK.items()}
        fleet = server.get("/api/v1/fleet").json()
        assert [h["hostname"] for h in fleet["hosts"]] == ["cassandra1"]
        assert any("oldhost" in f["message"] for f in fleet["findings"])
        # The admin removes it; the rest of the fleet is untouched.
        assert server.call("DELETE", "/api/v1/hosts/oldhost").status_code == 200
        assert server.get("/api/v1/hosts/oldhost").status_code == 404
        assert server.get("/api/v1/hosts/cassandra1").status_code == 200
    finally:
        server.stop()


def test_the_collectors_clock_orders_reports(collector, base_facts):
    """A report dated 9999, then real ones from a VM whose clock runs a year ahead: each new
    report moves the host forward, the lie is flagged, nothing freezes."""
    now = time.time()
    liar = _valid(base_facts, generated_at="9999-12-31T23:59:59Z", sent_at=253402300000.0)
    assert collector.post(liar).status_code == 422  # a sent_at past 2286 is no time at all
    liar["sent_at"] = now + 365 * 86400
    liar["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 365 * 86400))
    assert collector.post(liar).status_code == 201
    fleet = collector.get("/api/v1/fleet").json()
    flagged = [f for f in fleet["findings"] if f["id"] == "clock-offset"]
    assert flagged and flagged[0]["hosts"] == ["cassandra1"] and flagged[0]["status"] == "fail"

    smaller = _valid(base_facts, sent_at=now + 1, generated_at="2001-01-01T00:00:00Z")
    smaller["facts"]["memory"]["installed_bytes"] //= 2
    smaller["facts"]["memory"]["total_bytes"] //= 2
    smaller["facts"]["cpu"]["logical_count"] = 64
    assert collector.post(smaller).status_code == 201
    host = collector.get("/api/v1/hosts/cassandra1").json()
    assert host["latest"]["report_id"] == smaller["report_id"]
    kinds = {e["kind"] for e in collector.get("/api/v1/drift?host=cassandra1").json()["events"]}
    assert {"memory-changed", "cpu-changed"} <= kinds
    fleet = collector.get("/api/v1/fleet").json()
    assert not [f for f in fleet["findings"] if f["id"] == "clock-offset"]
    assert not fleet["hosts"][0]["stale"]


def test_a_report_that_waited_in_the_spool_does_not_replace_a_newer_one(collector, base_facts):
    now = time.time()
    fresh = _valid(
        base_facts, sent_at=now, generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    )
    assert collector.post(fresh).status_code == 201
    # Made an hour ago on the agent's clock (however wrong that clock), delivered now.
    late = _valid(
        base_facts,
        sent_at=now + 5000,
        generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 5000 - 3600)),
    )
    late["facts"]["cpu"]["logical_count"] = 1
    assert collector.post(late).status_code == 201
    assert (
        collector.get("/api/v1/hosts/cassandra1").json()["latest"]["report_id"]
        == (fresh["report_id"])
    )


# -- credentials and scopes -----------------------------------------------------------------

PUBLIC = {("GET", "/healthz"), ("GET", "/openapi.json")}


def _flatten(routes, inherited=()):
    """(route, dependencies) through included routers (FastAPI >= 0.16x keeps them as
    branches; older versions copied the router's dependencies into each route)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flatten(inner.routes, inherited + tuple(inner.dependencies))
        else:
            dependant = getattr(route, "dependant", None)
            calls = [d.dependency for d in inherited] + [
                d.call for d in (dependant.dependencies if dependant else [])
            ]
            yield route, calls


def _routes():
    """Every (method, path) the app serves, from the app itself: a route added later is
    walked too."""
    from wire_preflight import profiles
    from wire_preflight_collector.app import Settings, create_app
    from wire_preflight_collector.store import SqliteStore

    app = create_app(Settings(SqliteStore(":memory:"), TOKEN, profiles.load("classic")))
    out = []
    for route, calls in _flatten(app.routes):
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD":
                continue
            path = route.path.replace("{hostname}", "cassandra1")
            guarded = any(getattr(call, "__name__", "") == "require" for call in calls)
            out.append((method, path, guarded))
    return out


def test_every_route_but_the_public_ones_has_an_auth_dependency():
    routes = _routes()
    assert len(routes) >= 12
    for method, path, guarded in routes:
        assert guarded or (method, path) in PUBLIC, (method, path)


def test_every_route_refuses_missing_and_wrong_credentials(collector, base_facts):
    report = _valid(base_facts)
    assert collector.post(report).status_code == 201
    key = collector.enroll(report["facts"]).json()["host_key"]
    other = make_report(base_facts, "cassandra2", ["cassandra"], "s2")
    for method, path, _ in _routes():
        if (method, path) in PUBLIC:
            continue
        body = {"json": report} if method == "POST" else {}
        label = (method, path)
        assert collector.call(method, path, token=None, **body).status_code == 401, label
        assert collector.call(method, path, token="wrong-" + TOKEN, **body).status_code == 403
        writes = method != "GET" or path.startswith("/api/v1/admin/")
        viewer = collector.call(method, path, token=VIEWER, **body).status_code
        assert (viewer == 403) == writes, (label, viewer)
        host = collector.call(method, path, token=key, **body).status_code
        if path == "/api/v1/reports":
            assert host in (200, 201), label  # its own machine's report
            foreign = collector.call(method, path, token=key, json=other).status_code
            assert foreign == 403, label
        else:
            assert host == 403, (label, host)
        enroll = collector.call(method, path, token=ENROLL, **body).status_code
        assert (enroll == 403) == (path != "/api/v1/enroll"), (label, enroll)
    assert TOKEN not in collector.read_log() and key not in collector.read_log()


def test_a_foreign_report_is_refused_and_shown(collector, base_facts):
    mine = _valid(base_facts)
    key = collector.enroll(mine["facts"]).json()["host_key"]
    assert collector.post(mine, token=key).status_code == 201
    other = make_report(base_facts, "cassandra2", ["cassandra"], "s2")
    assert collector.post(other, token=key).status_code == 403
    assert collector.get("/api/v1/hosts/cassandra2").status_code == 404
    findings = collector.get("/api/v1/fleet").json()["findings"]
    foreign = [f for f in findings if f["id"] == "foreign-report"]
    assert foreign and foreign[0]["status"] == "fail" and "cassandra2" in foreign[0]["message"]


def test_a_second_enrolment_of_one_machine_id_is_refused_until_an_admin_acts(collector, base_facts):
    facts = _valid(base_facts)["facts"]
    first = collector.enroll(facts)
    assert first.status_code == 201
    clone = dict(facts, hostname="cassandra9")
    second = collector.enroll(clone)
    assert second.status_code == 409 and "cassandra1" in second.json()["detail"]
    findings = collector.get("/api/v1/fleet").json()["findings"]
    conflict = [f for f in findings if f["id"] == "identity-conflict"]
    # The claim blames no host (cassandra1 did nothing): the message names both sides.
    assert conflict and conflict[0]["hosts"] == []
    assert "cassandra9" in conflict[0]["message"] and "cassandra1" in conflict[0]["message"]
    page = collector.get("/").text
    assert "identity-conflict" in page
    # The first key still works; a re-key frees the machine-id for a new enrolment.
    key = first.json()["host_key"]
    assert collector.post(_valid(base_facts), token=key).status_code == 201
    assert collector.call("POST", "/api/v1/hosts/cassandra1/rekey", json={}).status_code == 200
    assert collector.post(_valid(base_facts), token=key).status_code == 403
    assert collector.enroll(facts).status_code == 201


def test_the_agent_enrols_keeps_its_key_and_enrols_again_when_forgotten(collector, tmp_path):
    from helpers import fixture_path

    secret = tmp_path / "enroll"
    secret.write_text(ENROLL + "\n")
    secret.chmod(0o600)  # a secret: other users may not read it
    state = tmp_path / "state"
    args = [
        "report",
        "--facts",
        fixture_path("facts-ubuntu1804-kvm-4g.json"),
        "--role",
        "cassandra",
        "--collector",
        collector.url,
        "--enroll-secret-file",
        str(secret),
        "--state-dir",
        str(state),
    ]
    first = run_process(*args)
    assert "delivered" in first.stdout, first.stderr
    assert "enrolled with" in first.stderr
    keys = list((state / "keys").glob("*.key"))
    assert len(keys) == 1 and (keys[0].stat().st_mode & 0o777) == 0o600
    second = run_process(*args)
    assert "delivered" in second.stdout and "enrolled" not in second.stderr
    assert len(collector.get("/api/v1/hosts/cassandra1").json()["history"]) == 2

    forget = run_process(
        "fleet",
        "--collector",
        collector.url,
        "--token-file",
        collector.token_file,
        "forget",
        "cassandra1",
    )
    assert forget.returncode == 0 and "forgot cassandra1" in forget.stdout, forget.stderr
    assert collector.get("/api/v1/hosts/cassandra1").status_code == 404
    third = run_process(*args)
    assert "delivered" in third.stdout, third.stderr
    assert "enrolling" in third.stderr
    assert len(collector.get("/api/v1/hosts/cassandra1").json()["history"]) == 1


# -- browsers -------------------------------------------------------------------------------


def test_writes_refuse_basic_credentials_and_non_json_bodies(collector, base_facts):
    report = json.dumps(_valid(base_facts))
    basic = requests.auth.HTTPBasicAuth("admin", TOKEN)
    for path in ("/api/v1/reports", "/api/v1/hosts/cassandra1/accept"):
        # what a form on another origin makes a browser send with the page's credentials
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            response = requests.post(
                collector.url + path,
                data=report,
                auth=basic,
                headers={"Content-Type": ctype},
                timeout=10,
            )
            assert response.status_code == 401, (path, ctype, response.status_code)
        response = collector.call("POST", path, data=report, headers={"Content-Type": "text/plain"})
        assert response.status_code == 415, path
    assert collector.get("/api/v1/hosts/cassandra1").status_code == 404
    # Reading with Basic (a person's browser) still works, for both reading credentials.
    for token in (TOKEN, VIEWER):
        page = requests.get(collector.url + "/", auth=("me", token), timeout=10)
        assert page.status_code == 200
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert "access-control-allow-origin" not in {k.lower() for k in page.headers}


# -- resources ------------------------------------------------------------------------------


def test_healthz_is_cheap_and_integrity_is_an_admin_command(collector):
    assert collector.get("/healthz", token=None).json() == {"status": "ok", "database": "ok"}
    assert collector.get("/api/v1/admin/integrity", token=None).status_code == 401
    assert collector.get("/api/v1/admin/integrity", token=VIEWER).status_code == 403
    assert collector.get("/api/v1/admin/integrity").json() == {"integrity_check": "ok"}
    done = subprocess.run(
        [os.sys.executable, "-m", "wire_preflight_collector", "integrity", "--db", collector.db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip().endswith(": ok"), done.stderr


def test_idle_and_slow_clients_cannot_stall_the_collector(tmp_path, base_facts):
    server = Collector(tmp_path, "--header-timeout", "2").start()
    idle = []
    try:
        for _ in range(300):  # more than the 256 descriptors of a default LimitNOFILE
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        slow.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\n")  # and never finishes
        started = time.monotonic()
        assert server.post(_valid(base_facts), timeout=20).status_code == 201
        assert time.monotonic() - started < 15
        # A header that never ends is cut off, not buffered.
        huge = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        huge.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with pytest.raises(OSError):
            for _ in range(64 * 1024):  # up to 64 MiB, as the attack sent
                huge.sendall(b"a" * 1024)
        # Past the header deadline the idle and the slow connections are closed by the server.
        time.sleep(3)
        slow.settimeout(5)
        assert slow.recv(1024) == b""
        assert idle[0].recv(1024) == b""
        assert server.read_routes("cassandra1") == ALL_OK
    finally:
        for sock in idle:
            sock.close()
        server.stop()


def test_the_stale_watcher_survives_database_errors(tmp_path, base_facts):
    import asyncio

    from wire_preflight import profiles
    from wire_preflight_collector.app import Settings, create_app
    from wire_preflight_collector.store import SqliteStore

    store = SqliteStore(str(tmp_path / "c.db"))
    store.ingest(_valid(base_facts), time.time() - 60)
    calls = []
    real = store.mark_stale

    def flaky(now, after):
        calls.append(now)
        if len(calls) <= 2:
            raise sqlite3.OperationalError("database or disk is full")
        return real(now, after)

    store.mark_stale = flaky
    app = create_app(Settings(store, TOKEN, profiles.load("classic"), stale_after=1.0))

    async def serve_a_while():  # the app's lifespan runs the watcher, as under uvicorn
        async with app.router.lifespan_context(app):
            deadline = time.time() + 15
            while time.time() < deadline and not store.events(kind="stale"):
                await asyncio.sleep(0.2)

    asyncio.run(serve_a_while())
    assert len(calls) >= 3
    assert [e["hostname"] for e in store.events(kind="stale")] == ["cassandra1"]


def test_a_full_disk_answers_503_and_loses_nothing(tmp_path, base_facts):
    require_root("mounting a small tmpfs as a full disk")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], check=True)
    try:
        server = Collector(tmp_path, db=str(disk / "collector.db")).start()
        try:
            acknowledged, refused = [], 0
            for number in range(400):
                report = make_report(base_facts, f"cassandra{number}", ["cassandra"], "s1")
                response = server.post(report)
                if response.status_code in (200, 201):
                    acknowledged.append(report["report_id"])
                else:
                    assert response.status_code == 503, response.text
                    refused += 1
                    if refused > 5:
                        break
            assert refused, "the 3 MB disk never filled"
            assert server.get("/healthz", token=None).status_code in (200, 503)
            assert server.get("/api/v1/fleet").status_code == 200
        finally:
            server.stop()
        conn = sqlite3.connect(str(disk / "collector.db"))
        stored = {r[0] for r in conn.execute("SELECT report_id FROM reports")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        assert set(acknowledged) <= stored
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_clear_http_is_refused_off_loopback(tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)  # a secret: other users may not read it
    done = subprocess.run(
        [
            os.sys.executable,
            "-m",
            "wire_preflight_collector",
            "serve",
            "--db",
            str(tmp_path / "c.db"),
            "--token-file",
            str(token),
            "--host",
            "0.0.0.0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--tls-cert" in done.stderr and "--insecure-http" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_secret_files_must_be_one_line_and_distinct(tmp_path):
    two = tmp_path / "two"
    two.write_text(TOKEN + "\nsecond-line-0123456789\n")
    two.chmod(0o600)  # a secret: other users may not read it
    same = tmp_path / "same"
    same.write_text(TOKEN + "\n")
    same.chmod(0o600)  # a secret: other users may not read it
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)  # a secret: other users may not read it
    for extra, words in (
        (["--token-file", str(two)], "alone on one line"),
        (["--token-file", str(token), "--viewer-token-file", str(same)], "different secret"),
    ):
        done = subprocess.run(
            [
                os.sys.executable,
                "-m",
                "wire_preflight_collector",
                "serve",
                "--db",
                str(tmp_path / "c.db"),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=60,
        )
        assert done.returncode == 2 and words in done.stderr, done.stderr


# -- fuzzing from the published schema --------------------------------------------------------


def _schemathesis(url, secret, seconds, workdir, *extra):
    import shutil
    import sys

    binary = shutil.which("schemathesis", path=os.path.dirname(sys.executable))
    if binary is None:
        reason = "schemathesis is not installed (the test extra installs it on Python >= 3.10)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it: its absence is a broken install, not a skip
        pytest.skip("!!! NOT FUZZED: " + reason)
    return subprocess.run(
        [
            binary,
            "run",
            url + "/openapi.json",
            "-H",
            f"Authorization: Bearer {secret}",
            "--checks",
            "not_a_server_error",
            "--phases",
            "coverage,fuzzing",
            "--max-examples",
            "15",
            "--max-time",
            str(seconds),
            "--seed",
            "20261128",
            "--no-shrink",
            "--request-timeout",
            "20",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=400,
        env=dict(os.environ, NO_COLOR="1", SCHEMATHESIS_HOOKS=""),
        cwd=str(workdir),  # it keeps a .schemathesis/ cache where it runs
    )


def test_fuzzing_from_the_openapi_finds_no_server_error(collector, base_facts, tmp_path):
    """schemathesis generates bodies from /openapi.json (the Report model included) for
    every operation, as the admin, then enrolment bodies with the enroll secret."""
    assert collector.post(_valid(base_facts)).status_code == 201
    runs = [
        _schemathesis(collector.url, TOKEN, 50, tmp_path),
        _schemathesis(collector.url, ENROLL, 15, tmp_path, "--include-path", "/api/v1/enroll"),
    ]
    for done in runs:
        assert done.returncode == 0, done.stdout[-4000:]
        generated = [line for line in done.stdout.splitlines() if " generated, " in line]
        assert generated and " 0 passed" not in generated[-1], done.stdout[-2000:]
    log = collector.read_log()
    assert "Traceback" not in log and " 500 " not in log, log[-3000:]


@pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM)
def test_a_page_on_another_origin_cannot_borrow_the_operators_browser(
    collector, base_facts, tmp_path
):
    """Real headless Chromium opens an attacker's page (another origin: 127.0.0.2) that
    submits forms to the collector with the admin's Basic credentials in the URL, as a
    browser holding them would: accept a host's drift, and post a report as text/plain.
    Chromium offers the credentials only after a Basic challenge; writes never give one, and
    refuse Basic anyway."""
    import functools
    import threading
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    report = _valid(base_facts)
    assert collector.post(report).status_code == 201
    forged = json.dumps(make_report(base_facts, "intruder1", ["cassandra"], "s9"))
    base = f"http://admin:{TOKEN}@127.0.0.1:{collector.port}"
    www = tmp_path / "www"
    www.mkdir()
    pages = {
        # Top-level navigations: Chromium keeps credentials in the URL for those only.
        "accept.html": f'<form id="f" method="post" enctype="text/plain" '
        f'action="{base}/api/v1/hosts/cassandra1/accept"><input name="x" value="y"></form>',
        "report.html": f'<form id="f" method="post" enctype="text/plain" '
        f'action="{base}/api/v1/reports"><input name=\'{forged[:-1]}, "pad": "\' value=\'"}}\'>'
        "</form>",
    }
    for name, form in pages.items():
        (www / name).write_text(
            f"<html><body>{form}<script>document.getElementById('f').submit();</script>"
            "</body></html>"
        )
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(www))
    attacker = HTTPServer(("127.0.0.2", 0), handler)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        for name in pages:
            chromium(
                "--user-data-dir=" + str(tmp_path / "chromium"),
                "--virtual-time-budget=8000",
                "--dump-dom",
                f"http://127.0.0.2:{attacker.server_address[1]}/{name}",
            )
    finally:
        attacker.shutdown()
        attacker.server_close()
    log = [line for line in collector.read_log().splitlines() if '"POST /api/v1/' in line]
    accepts = [line for line in log if "/accept" in line]
    posts = [line for line in log if "/api/v1/reports" in line]
    assert accepts and posts, "Chromium did not submit the forms: the test proves nothing"
    assert all(" 401 " in line for line in accepts + posts[1:]), log  # posts[0]: the setup
    events = collector.get("/api/v1/drift?host=cassandra1&open=true").json()["events"]
    assert events and all(e["open"] for e in events)  # nothing was accepted
    assert collector.get("/api/v1/hosts/intruder1").status_code == 404


def test_silent_clients_cannot_hold_a_tls_collector(tmp_path, base_facts):
    """Over TLS the handshake comes before the headers: a client that connects and never
    says hello is cut off at the header deadline too, not after the loop's 60 s default."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = (str(tmp_path / n) for n in ("cert.pem", "key.pem", "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    os.chmod(key_file, 0o600)
    ca.cert_pem.write_to_path(ca_file)
    server = Collector(
        tmp_path,
        "--tls-cert",
        cert_file,
        "--tls-key",
        key_file,
        "--header-timeout",
        "2",
        scheme="https",
    ).start()
    silent = []
    try:
        for _ in range(50):
            silent.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        time.sleep(4)
        closed = 0
        for sock in silent:
            try:
                closed += sock.recv(1024) == b""  # closed by the server
            except ConnectionResetError:
                closed += 1
        assert closed == len(silent)
        assert server.get("/healthz", token=None, verify=ca_file).status_code == 200
    finally:
        for sock in silent:
            sock.close()
        server.stop()


def test_a_host_key_cannot_file_reports_under_a_neighbours_name(collector, base_facts):
    """Its own machine-id, another host's name: the neighbour's page and drift stay its own."""
    victim = make_report(base_facts, "cassandra2", ["cassandra"], "s2")
    assert collector.post(victim).status_code == 201  # the admin token, as agents had it
    mine = _valid(base_facts)
    key = collector.enroll(mine["facts"]).json()["host_key"]
    posing = dict(mine, hostname="cassandra2")
    posing["facts"] = dict(mine["facts"], hostname="cassandra2")
    assert collector.post(posing, token=key).status_code == 403
    latest = collector.get("/api/v1/hosts/cassandra2").json()["latest"]
    assert latest["report_id"] == victim["report_id"]
    assert not collector.get("/api/v1/drift?host=cassandra2&kind=memory-changed").json()["events"]
    findings = collector.get("/api/v1/fleet").json()["findings"]
    assert [f for f in findings if f["id"] == "foreign-report" and "cassandra2" in f["message"]]
    # A name nobody holds is a rename, not a takeover.
    renamed = dict(mine, hostname="cassandra7", report_id="renamed-1")
    renamed["facts"] = dict(mine["facts"], hostname="cassandra7")
    assert collector.post(renamed, token=key).status_code == 201


def test_a_snapshot_an_older_collector_wrote_does_not_fail_the_next_report(collector, base_facts):
    assert collector.post(_valid(base_facts)).status_code == 201
    conn = sqlite3.connect(collector.db)
    with conn:
        conn.execute(
            "UPDATE hosts SET snapshot = ? WHERE hostname = 'cassandra1'",
            ('{"memory_total": "4096", "disks": {"/": 5}, "checks": [1]}',),
        )
    conn.close()
    assert collector.post(_valid(base_facts)).status_code == 201
    assert collector.read_routes("cassandra1") == ALL_OK


def test_text_the_summary_lengthens_still_reads_back(collector, base_facts):
    """The summary lower-cases MACs: a 200-character "İ" MAC becomes 400 characters. The host
    must stay in the fleet (a VM could otherwise hide its failing checks this way)."""
    report = _valid(base_facts)
    report["facts"]["network"]["interfaces"][1]["mac"] = "İ" * 200
    assert collector.post(report).status_code == 201
    fleet = collector.get("/api/v1/fleet").json()
    assert [h["hostname"] for h in fleet["hosts"]] == ["cassandra1"]


def test_a_vm_whose_clock_reads_1970_is_stored_and_flagged(collector, base_facts):
    """No real-time clock and NTP not synchronised yet: the report is a fact about that
    clock, not a report to refuse."""
    early = _valid(base_facts, sent_at=86400.0, generated_at="1970-01-02T00:00:00Z")
    assert collector.post(early).status_code == 201
    findings = collector.get("/api/v1/fleet").json()["findings"]
    flagged = [f for f in findings if f["id"] == "clock-offset"]
    assert flagged and flagged[0]["hosts"] == ["cassandra1"]


def test_a_repeated_refusal_is_one_event_and_one_finding(collector, base_facts):
    """A clone retrying its enrolment every run, a VM retrying a foreign report: each is one
    open event (one finding, one webhook call), however often it comes."""
    facts = _valid(base_facts)["facts"]
    key = collector.enroll(facts).json()["host_key"]
    clone = dict(facts, hostname="cassandra9")
    for _ in range(5):
        assert collector.enroll(clone).status_code == 409
        other = make_report(base_facts, "cassandra2", ["cassandra"], "s2")
        assert collector.post(other, token=key).status_code == 403
    findings = collector.get("/api/v1/fleet").json()["findings"]
    assert len([f for f in findings if f["id"] == "identity-conflict"]) == 1
    assert len([f for f in findings if f["id"] == "foreign-report"]) == 1
    # cassandra9 never reported: accepting closes its event instead of answering 404.
    accepted = collector.call("POST", "/api/v1/hosts/cassandra9/accept", json={})
    assert accepted.status_code == 200 and accepted.json()["closed_events"] == 1

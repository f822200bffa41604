"""The collector's edges, attacked over raw sockets against a running collector: HTTP framing
(Content-Length with Transfer-Encoding, heads over the limit, clients leaving mid-body),
connection slots held by slow clients, text no database can hold (on SQLite and on a real
PostgreSQL), the webhook's URL and redirects, secret files other users can read, /healthz on a
store that cannot write, credentials in the access log, and a busy port."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from helpers import fill, make_report, require_root, run_process, small_disk

pytest.importorskip("fastapi", reason="the collector needs Python >= 3.10 and its extras")
from collectorlib import ENROLL, TOKEN, Collector, free_port

AUTH = b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"


def exchange(port, data, source=None, timeout=5.0):
    """Send raw bytes; return (everything answered, whether the server closed the
    connection within `timeout`)."""
    sock = socket.socket()
    if source:
        sock.bind((source, 0))
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    answer, closed = b"", False
    try:
        sock.sendall(data)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            answer += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    finally:
        sock.close()
    return answer, closed


def statuses(answer):
    return [int(line.split()[1]) for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.")]


@pytest.fixture
def collector(tmp_path):
    server = Collector(tmp_path).start()
    yield server
    server.stop()


# -- HTTP framing --------------------------------------------------------------------------


SMUGGLED = b"GET /api/v1/fleet HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n"


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"content-length: 0\r\ntransfer-encoding: CHUNKED\r\n",
        b"Content-Length: 41\r\nTransfer-Encoding: chunked\r\n",
    ],
    ids=["cl-first", "te-first", "lower-case", "cl-covers-the-smuggled-request"],
)
def test_content_length_with_transfer_encoding_is_refused_and_closed(collector, head):
    request = (
        b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + AUTH
        + head
        + b"\r\n0\r\n\r\n"
        + SMUGGLED
    )
    answer, closed = exchange(collector.port, request)
    # One answer, 400, and the connection closed: the request behind it is never served.
    assert statuses(answer) == [400], answer
    assert b"Content-Length and Transfer-Encoding" in answer
    assert closed
    assert b'"verdict"' not in answer
    log = collector.read_log()
    assert "both Content-Length and Transfer-Encoding" in log
    assert "GET /api/v1/fleet" not in log


def test_request_heads_are_bounded_however_they_arrive(collector):
    def get(extra):
        return exchange(collector.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")

    # Under the limit: served.
    answer, _ = get(b"X-Pad: " + b"a" * 30000 + b"\r\n")
    assert statuses(answer) == [200]
    # Over it, in one piece (the attack's 100 KiB), as one header or as many small ones.
    for extra in (
        b"X-Pad: " + b"a" * 40000 + b"\r\n",
        b"X-Pad: " + b"a" * 100 * 1024 + b"\r\n",
        b"X-A: b\r\n" * 5000,
    ):
        answer, closed = get(extra)
        assert statuses(answer) == [431], answer[:200]
        assert closed
    # Trickled in small pieces: cut off once the incomplete head passes the limit.
    sock = socket.create_connection(("127.0.0.1", collector.port), timeout=5)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    answer = b""
    with pytest.raises(OSError):
        for _ in range(200):
            sock.sendall(b"X-A: " + b"b" * 1000 + b"\r\n")
            time.sleep(0.002)
        answer = sock.recv(65536)
        assert answer == b""  # closed without serving
        raise OSError("closed")
    sock.close()
    assert statuses(answer) in ([], [431])
    assert collector.get("/healthz", token=None).status_code == 200


def test_a_client_leaving_mid_body_is_one_line_not_a_traceback(collector):
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", collector.port), timeout=5)
        sock.sendall(
            b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + AUTH
            + b"Content-Length: 100000\r\n\r\n"
            + b'{"report_id": "'
            + b"a" * 5000
        )
        time.sleep(0.3)
        sock.close()
    deadline = time.time() + 10
    while time.time() < deadline and collector.read_log().count("disconnected before") < 3:
        time.sleep(0.1)
    log = collector.read_log()
    assert log.count("disconnected before its body was complete") == 3, log
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    assert "ERROR" not in log


# -- connection slots ----------------------------------------------------------------------


class SlowClients:
    """Connections from one address that send half a request head and never finish it;
    each one the server closes is opened again at once, as an attacker would."""

    def __init__(self, port, count, source="127.0.0.1"):
        self.port, self.count, self.source = port, count, source
        self.stop = threading.Event()
        self.opened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self):
        sock = socket.socket()
        sock.bind((self.source, 0))
        sock.settimeout(2)
        sock.connect(("127.0.0.1", self.port))
        sock.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\n")
        sock.setblocking(False)
        self.opened += 1
        return sock

    def _run(self):
        socks = []
        while not self.stop.is_set():
            alive = []
            for sock in socks:
                try:
                    if sock.recv(1) == b"":
                        sock.close()
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    sock.close()
                    continue
                alive.append(sock)
            socks = alive
            while len(socks) < self.count and not self.stop.is_set():
                try:
                    socks.append(self._open())
                except OSError:
                    break
            time.sleep(0.02)
        for sock in socks:
            sock.close()

    def __enter__(self):
        self.thread.start()
        while self.opened < self.count:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


def _served(port, source, tries):
    ok = 0
    for _ in range(tries):
        answer, _ = exchange(
            port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", source, 5
        )
        ok += statuses(answer) == [200]
    return ok


def test_slow_clients_from_one_address_cannot_take_every_slot(tmp_path):
    # 40 slots; by default one address may hold a tenth of them, at least 8.
    server = Collector(tmp_path, "--max-connections", "40", "--header-timeout", "5").start()
    try:
        assert "at most 40 connections, 8 from one address" in server.read_log()
        with SlowClients(server.port, 60):
            # Another address is served every time, and so is a client from the attacker's
            # own address that sends its request at once: it takes a slow client's slot.
            assert _served(server.port, "127.0.0.2", 30) == 30
            # A client sharing the attacker's address competes with it for that address's
            # slots: on a loaded machine a churning attacker can evict it before its request
            # is read (CI saw 29 of 30). On 4b82930 it got 0 of 30.
            assert _served(server.port, "127.0.0.1", 30) >= 25
    finally:
        server.stop()


def test_the_per_address_bound_holds_even_when_the_total_has_room(tmp_path):
    server = Collector(
        tmp_path,
        "--max-connections",
        "200",
        "--max-connections-per-address",
        "5",
        "--header-timeout",
        "30",
    ).start()
    try:
        held = []
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            held.append(sock)
        time.sleep(0.3)
        # A sixth connection from that address takes the slot of the one idle longest.
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        held[0].settimeout(5)
        assert held[0].recv(1024) == b""
        for sock in held[1:]:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1024)  # still open
        extra.close()
        for sock in held:
            sock.close()
    finally:
        server.stop()


# -- text no database can hold -------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path):
    db = None
    if request.param == "postgres":
        db = request.getfixturevalue("postgres").new_database()
    server = Collector(tmp_path, db=db).start()
    yield server
    server.stop()


NUL_PATHS = [
    ("GET", "/api/v1/hosts/a%00b"),
    ("GET", "/hosts/a%00b"),
    ("GET", "/api/v1/hosts/%00"),
    ("POST", "/api/v1/hosts/a%00b/accept"),
    ("POST", "/api/v1/hosts/a%00b/rekey"),
    ("DELETE", "/api/v1/hosts/a%00b"),
    ("GET", "/api/v1/drift?host=a%00b"),
    ("GET", "/api/v1/drift?host=cassandra1&kind=stale%00"),
    ("GET", "/api/v1/drift?a%00=1"),
    ("GET", "/api/v1/fleet?x=%00"),
]


def _nul_bodies(base_facts):
    bodies = []
    for where in ("generated_at", "hostname", "report_id", "physical_host", "deep", "key", "check"):
        report = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
        if where == "deep":
            report["facts"]["os"]["pretty_name"] = "Ubuntu\u0000 18.04"
        elif where == "key":
            report["facts"]["extra\u0000key"] = 1
        else:
            report[where] = report.get(where, "x") + "\u0000"
        bodies.append(("/api/v1/reports", TOKEN, report))
    for field in ("machine_id", "hostname", "product_uuid"):
        body = {"machine_id": "0" * 32, "hostname": "new1", "product_uuid": None}
        body[field] = (body[field] or "x") + "\u0000"
        bodies.append(("/api/v1/enroll", ENROLL, body))
    return bodies


def test_nul_is_bad_input_on_every_route_and_both_stores(any_store, base_facts):
    server = any_store
    assert (
        server.post(make_report(base_facts, "cassandra1", ["cassandra"], "s1")).status_code == 201
    )
    for method, path in NUL_PATHS:
        answer, _ = exchange(
            server.port,
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
            + AUTH
            + b"Content-Length: 2\r\nConnection: close\r\n\r\n{}",
        )
        assert statuses(answer) == [400], (path, answer)
        assert b"NUL" in answer
    for path, secret, body in _nul_bodies(base_facts):
        response = server.post(body, token=secret, path=path)
        assert response.status_code in (400, 422), (path, body, response.text)
        assert "NUL" in response.json()["detail"] or "U+0000" in response.json()["detail"]
    log = server.read_log()
    assert "ERROR" not in log and "database error" not in log
    # Nothing was stored from them, and every read still answers.
    assert set(server.read_routes("cassandra1").values()) == {200}
    hosts = server.get("/api/v1/fleet").json()["hosts"]
    assert [h["hostname"] for h in hosts] == ["cassandra1"]


def test_the_agent_sets_a_refused_report_aside_instead_of_retrying(collector, tmp_path):
    """A report holding a NUL is refused (422) for good: the agent keeps it in rejected/ and
    sends nothing again on its next run."""
    from helpers import fixture_path

    with open(fixture_path("facts-ubuntu1804-kvm-4g.json")) as handle:
        facts = json.load(handle)
    facts["os"]["pretty_name"] = "Ubuntu\u0000 18.04"
    facts_file = tmp_path / "facts.json"
    facts_file.write_text(json.dumps(facts))
    spool = tmp_path / "spool"
    args = [
        "report",
        "--collector",
        collector.url,
        "--token-file",
        collector.token_file,
        "--role",
        "cassandra",
        "--facts",
        str(facts_file),
        "--spool-dir",
        str(spool),
    ]
    first = run_process(*args)
    assert "422" in first.stdout + first.stderr and "NUL" in first.stdout + first.stderr
    assert [n for n in os.listdir(str(spool)) if n.endswith(".json")] == []
    assert len([n for n in os.listdir(str(spool / "rejected")) if n.endswith(".json")]) == 1
    posts = collector.read_log().count("POST /api/v1/reports")
    facts["os"]["pretty_name"] = "Ubuntu 18.04"
    facts_file.write_text(json.dumps(facts))
    second = run_process(*args)
    assert "delivered" in (second.stdout + second.stderr).lower() or second.returncode in (0, 3, 4)
    # The next run posts its own report once, and never the refused one again.
    assert collector.read_log().count("POST /api/v1/reports") == posts + 1


# -- the webhook ---------------------------------------------------------------------------


def _serve(tmp_path, *args):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    return _serve_with(tmp_path, token, *args)


def _serve_with(tmp_path, token, *args):
    return subprocess.run(
        [
            *(sys.executable, "-m", "wire_preflight_collector", "serve"),
            *("--db", str(tmp_path / "c.db"), "--port", str(free_port())),
            *("--token-file", str(token), *args),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "url, said",
    [
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://127.0.0.1:70/_x", "http:// or https://"),
        ("not a url", "not a URL"),
        ("http://", "no host"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[::ffff:169.254.169.254]/hook", "link-local"),
        ("http://0.0.0.0/hook", "not an address"),
    ],
)
def test_a_webhook_url_that_cannot_be_right_is_refused_at_start(tmp_path, url, said):
    done = _serve(tmp_path, "--webhook", url)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "--webhook" in lines[0], done.stderr
    assert not (tmp_path / "c.db").exists()


def test_the_webhook_never_follows_a_redirect(tmp_path, base_facts):
    import http.server

    received = {"redirector": [], "target": []}

    def handler(name, status, location=None):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received[name].append(self.rfile.read(length))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    target = http.server.HTTPServer(("127.0.0.1", 0), handler("target", 204))
    redirector = http.server.HTTPServer(
        ("127.0.0.1", 0),
        handler("redirector", 307, f"http://127.0.0.1:{target.server_port}/stolen"),
    )
    for httpd in (target, redirector):
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = Collector(
        tmp_path, "--webhook", f"http://127.0.0.1:{redirector.server_port}/hook"
    ).start()
    try:
        assert server.post(make_report(base_facts, "cassandra1", ["cassandra"])).status_code == 201
        deadline = time.time() + 20
        while time.time() < deadline and len(received["redirector"]) < 2:
            time.sleep(0.1)
        assert len(received["redirector"]) >= 2  # delivered, answered 307, retried
        assert received["target"] == []
    finally:
        server.stop()
        target.shutdown()
        redirector.shutdown()


# Run in a network and mount namespace of its own: its loopback holds a link-local address,
# and its /etc/hosts is a file the script rewrites after the start-time check.
_REBINDING = """
import http.server, json, logging, sys, threading, time
from wire_preflight_collector.webhook import Webhook, check_url

port, hosts = int(sys.argv[1]), sys.argv[2]
received = []

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("169.254.77.1", port), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
logging.basicConfig(level=logging.WARNING)
url = "http://hook.test:%d/hook" % port
check_url(url)  # the name resolves to nothing yet: accepted, as at a collector's start
with open(hosts, "a") as handle:  # then it resolves to the link-local receiver
    handle.write("169.254.77.1 hook.test\\n")
hook = Webhook(url, attempts=2, first_delay=0.1).start()
hook.submit([{"kind": "new-host", "hostname": "cassandra1"}])
deadline = time.time() + 20
while time.time() < deadline and not (hook.delivered or hook.dropped):
    time.sleep(0.05)
print(json.dumps({"received": len(received), "delivered": hook.delivered, "dropped": hook.dropped}))
"""


def test_the_webhook_refuses_a_link_local_peer_at_delivery(tmp_path):
    """DNS rebinding: a name that passed the start-time check and resolves to a link-local
    address when an event is delivered gets nothing."""
    require_root("the webhook's delivery-time address check (unshare --net --mount)")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    setup = (
        "ip link set lo up && ip addr add 169.254.77.1/32 dev lo && "
        f'mount --bind {hosts} /etc/hosts && exec "$@"'
    )
    done = subprocess.run(
        [
            *("unshare", "--net", "--mount", "sh", "-c", setup, "sh"),
            *(sys.executable, "-c", _REBINDING, str(free_port()), str(hosts)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"received": 0, "delivered": 0, "dropped": 1}, done.stderr
    assert "hook.test is at 169.254.77.1, a link-local address" in done.stderr


# -- secret files --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o620, 0o602])
@pytest.mark.parametrize("which", ["--token-file", "--enroll-secret-file", "--tls-key"])
def test_collector_refuses_secret_files_others_can_read_or_write(tmp_path, which, mode):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    secret = token
    args = []
    if which != "--token-file":
        secret = tmp_path / "secret"
        secret.write_text("another-secret-0123456789\n")
        args = [which, str(secret)] + (["--tls-cert", str(secret)] if which == "--tls-key" else [])
    secret.chmod(mode)
    done = _serve_with(tmp_path, token, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{which} {secret}" in lines[0] and f"mode {mode:04o}" in lines[0]
    assert lines[0].endswith(f"chmod 600 {secret}") or f"chmod 600 {secret} " in lines[0]


def test_a_group_readable_secret_starts_with_a_warning(tmp_path):
    server = Collector(tmp_path)
    os.chmod(server.token_file, 0o640)
    server.start()
    try:
        assert server.get("/api/v1/fleet").status_code == 200
        log = server.read_log()
        assert f"{server.token_file} is readable by its group (mode 0640)" in log
        assert f"chmod 600 {server.token_file}" in log
    finally:
        server.stop()


@pytest.mark.parametrize("option", ["--token-file", "--enroll-secret-file"])
def test_agent_refuses_secret_files_others_can_read(tmp_path, option):
    secret = tmp_path / "secret"
    secret.write_text("agent-secret-0123456789\n")
    secret.chmod(0o644)
    done = run_process(
        "report",
        "--collector",
        "http://127.0.0.1:9",
        option,
        str(secret),
        "--role",
        "cassandra",
        "--spool-dir",
        str(tmp_path / "spool"),
    )
    assert done.returncode == 2, done.stderr
    assert f"chmod 600 {secret}" in done.stderr and "readable by other users" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "spool").exists() or not os.listdir(str(tmp_path / "spool"))


# -- /healthz when the store cannot write --------------------------------------------------


def test_healthz_says_a_full_disk_cannot_write_and_recovers(tmp_path, base_facts):
    with small_disk(tmp_path, "4m") as disk:
        server = Collector(tmp_path, db=str(disk / "collector.db")).start()
        try:
            assert server.post(make_report(base_facts, "a1", ["cassandra"])).status_code == 201
            assert server.get("/healthz", token=None).json() == {"status": "ok", "database": "ok"}
            filler = fill(disk)
            refused = 0
            for number in range(50):
                report = make_report(base_facts, f"b{number}", ["cassandra"])
                refused += server.post(report).status_code == 503
            assert refused
            health = server.get("/healthz", token=None)
            assert health.status_code == 503, health.text
            assert health.json()["database"] == "cannot write"
            assert "full" in health.json()["reason"] or "write failed" in health.json()["reason"]
            os.unlink(str(filler))
            assert server.post(make_report(base_facts, "c1", ["cassandra"])).status_code == 201
            assert server.get("/healthz", token=None).status_code == 200
        finally:
            server.stop()


def test_healthz_says_a_read_only_postgresql_cannot_write(tmp_path, base_facts, postgres):
    import psycopg

    db = postgres.new_database()
    server = Collector(tmp_path, db=db).start()

    def read_only(on):
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            if on:
                conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
            else:
                conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
            conn.execute("SELECT pg_reload_conf()")
        time.sleep(1)  # the reload reaches the collector's sessions at their next command

    try:
        assert server.post(make_report(base_facts, "a1", ["cassandra"])).status_code == 201
        read_only(True)
        try:
            assert server.post(make_report(base_facts, "b1", ["cassandra"])).status_code == 503
            health = server.get("/healthz", token=None)
            assert health.status_code == 503 and health.json()["database"] == "cannot write"
        finally:
            read_only(False)
        assert server.post(make_report(base_facts, "c1", ["cassandra"])).status_code == 201
        assert server.get("/healthz", token=None).status_code == 200
    finally:
        server.stop()


def test_healthz_probes_a_store_nobody_writes_to(tmp_path, postgres):
    """No report arrives, yet /healthz finds out the store cannot write: its own test write."""
    import psycopg

    server = Collector(tmp_path, db=postgres.new_database()).start()
    try:
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
            conn.execute("SELECT pg_reload_conf()")
        time.sleep(1)
        health = server.get("/healthz", token=None)
        assert health.status_code == 503 and "test write" in health.json()["reason"]
    finally:
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
            conn.execute("SELECT pg_reload_conf()")
        server.stop()


# -- the access log and the port -----------------------------------------------------------


def test_no_credential_reaches_the_log(collector):
    secret = "query-secret-0123456789"
    for request in (
        f"GET /api/v1/drift?token={secret}&host=cassandra1 HTTP/1.1\r\nHost: x\r\n",
        f"GET /api/v1/fleet?access_token={secret} HTTP/1.1\r\nHost: x\r\n",
        f"GET /api/v1/drift?host=x;token={secret} HTTP/1.1\r\nHost: x\r\n",
        f"GET http://user:{secret}@127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n",
        f"GET /http%3A//user%3A{secret}%40127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n",
        f"GET /x/user%253A{secret}%2540127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n",
        # Forms a list of credential spellings misses: a bare name, path parameters, a
        # fragment, userinfo behind a path, a name holding the secret, four quotings deep.
        f"GET /api/v1/fleet?{secret} HTTP/1.1\r\nHost: x\r\n",
        f"GET /api/v1/drift?{secret}=1 HTTP/1.1\r\nHost: x\r\n",
        f"GET /api/v1/fleet;token={secret} HTTP/1.1\r\nHost: x\r\n",
        f"GET /api/v1/fleet#access_token={secret} HTTP/1.1\r\nHost: x\r\n",
        f"GET /user:{secret}@x/http://y/ HTTP/1.1\r\nHost: x\r\n",
        f"GET http://u:p@h/x/user:{secret}@y HTTP/1.1\r\nHost: x\r\n",
        f"GET /x/user%25253A{secret}%25252540h/ HTTP/1.1\r\nHost: x\r\n",
        "GET /api/v1/drift?host=cassandra1&limit=5 HTTP/1.1\r\nHost: x\r\n",
    ):
        exchange(collector.port, request.encode() + AUTH + b"Connection: close\r\n\r\n")
    exchange(
        collector.port,
        b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic dTpxdWVyeS1zZWNyZXQ=\r\n"
        b"Connection: close\r\n\r\n",
    )
    log = collector.read_log()
    assert log.count("GET /api/v1/drift?") == 4 and "host=cassandra1" in log
    assert "/api/v1/drift?host=cassandra1&limit=5 " in log  # the API's own, as sent
    assert secret not in log and TOKEN not in log and "dTpxdWVyeS1zZWNyZXQ" not in log


def test_a_busy_port_is_one_line_and_no_startup(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        token = tmp_path / "token"
        token.write_text(TOKEN + "\n")
        token.chmod(0o600)
        done = subprocess.run(
            [
                *(sys.executable, "-m", "wire_preflight_collector", "serve"),
                *("--db", str(tmp_path / "c.db"), "--port", str(port)),
                *("--token-file", str(token)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=60,
        )
    finally:
        busy.close()
    assert done.returncode == 2
    said = [line for line in done.stderr.splitlines() if "clear HTTP" not in line]
    assert len(said) == 1, done.stderr
    assert f"127.0.0.1:{port}" in said[0] and "in use" in said[0]
    assert "startup" not in done.stderr.lower() and "Traceback" not in done.stderr

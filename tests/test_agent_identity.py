"""The agent's side of the identity lifecycle, on every Python the agent runs on (3.6 included,
where the collector itself cannot run): what it does with each refusal the collector gives
(docs/collector.md, "Identity lifecycle"). The collector's answers are played by a loopback
HTTP server speaking the same status codes and X-Wire-Preflight-Refusal header; the real
collector is attacked in tests/test_collector_identity.py."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from helpers import fixture_path, run_process

FACTS = fixture_path("facts-ubuntu1804-kvm-4g.json")
EXIT_REFUSED = 5


class FakeCollector:
    """Answers each route from a script of (status, reason, body), in order; the last
    answer repeats. Records what it was asked."""

    def __init__(self, enroll, reports):
        self.script = {"/api/v1/enroll": list(enroll), "/api/v1/reports": list(reports)}
        self.asked = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length).decode())
                owner.asked.append((self.path, self.headers.get("Authorization"), body))
                answers = owner.script[self.path]
                status, reason, doc = answers.pop(0) if len(answers) > 1 else answers[0]
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if reason:
                    self.send_header("X-Wire-Preflight-Refusal", reason)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _agent(collector, tmp_path):
    secret = tmp_path / "enroll"
    secret.write_text("enroll-secret-0123456789\n")
    secret.chmod(0o600)  # the agent refuses a secret others can read
    return run_process(
        "report",
        "--facts",
        FACTS,
        "--role",
        "cassandra",
        "--collector",
        collector.url,
        "--enroll-secret-file",
        str(secret),
        "--state-dir",
        str(tmp_path / "state"),
    )


def _key(tmp_path):
    keys = list((tmp_path / "state" / "keys").glob("*.key"))
    return keys[0].read_text().strip() if keys else None


ENROLLED = (201, None, {"host_key": "key-one", "state": "enrolled"})
STORED = (201, None, {"stored": True})


@pytest.fixture
def fake():
    made = []

    def make(enroll, reports):
        made.append(FakeCollector(enroll, reports))
        return made[-1]

    yield make
    for server in made:
        server.stop()


@pytest.mark.parametrize("reason", ["clone", "foreign", "rejected"])
def test_a_refused_identity_exits_5_says_why_and_keeps_key_and_report(fake, tmp_path, reason):
    detail = "this VM's product_uuid is not the one cassandra1 enrolled with: it is a clone"
    collector = fake([ENROLLED], [(403, reason, {"detail": detail})])
    done = _agent(collector, tmp_path)
    assert done.returncode == EXIT_REFUSED, (done.returncode, done.stderr)
    assert detail in done.stderr and "refuses this VM's identity" in done.stderr
    assert "Traceback" not in done.stderr
    assert _key(tmp_path) == "key-one"  # the collector may still take it: never deleted
    assert len(list((tmp_path / "state" / "spool").glob("*.json"))) == 1
    again = _agent(collector, tmp_path)
    assert again.returncode == EXIT_REFUSED and _key(tmp_path) == "key-one"
    assert [path for path, _, _ in collector.asked].count("/api/v1/enroll") == 1


def test_a_refused_enrolment_exits_5(fake, tmp_path):
    said = "machine-id 0f3c is enrolled already (as cassandra1): systemd-machine-id-setup"
    collector = fake([(409, "machine-id-enrolled", {"detail": said})], [STORED])
    done = _agent(collector, tmp_path)
    assert done.returncode == EXIT_REFUSED and said in done.stderr, done.stderr
    assert len(list((tmp_path / "state" / "spool").glob("*.json"))) == 1


def test_a_pending_claim_keeps_its_key_and_waits(fake, tmp_path):
    pending = (202, None, {"host_key": "key-pending", "state": "pending", "pending_id": 7})
    waits = (403, "pending", {"detail": "this VM's claim on cassandra1 waits for an admin"})
    collector = fake([pending], [waits])
    done = _agent(collector, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "waits for an admin" in done.stderr and "pending enrolment 7" in done.stderr
    assert _key(tmp_path) == "key-pending"
    assert "spooled" in done.stdout


def test_only_an_unknown_key_is_replaced_and_only_once_given(fake, tmp_path):
    unknown = (403, "unknown-credential", {"detail": "this credential is not valid here"})
    second = (201, None, {"host_key": "key-two", "state": "enrolled"})
    collector = fake([ENROLLED, second], [STORED, unknown, STORED])
    assert "delivered" in _agent(collector, tmp_path).stdout
    done = _agent(collector, tmp_path)
    assert done.returncode == 0 and "delivered" in done.stdout, done.stderr
    assert _key(tmp_path) == "key-two"
    used = [auth for path, auth, _ in collector.asked if path == "/api/v1/reports"]
    assert used == ["Bearer key-one", "Bearer key-one", "Bearer key-two"]

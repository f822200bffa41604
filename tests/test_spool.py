"""The agent's spool on every Python it runs on: what each collector answer does to a report,
files that are not reports, two runs at once, a spool that cannot be written.

The collector itself needs Python >= 3.10, so these tests talk to a small recording HTTP
server on loopback that answers what the test tells it to (the real collector's answers are
tested in test_collector*.py)."""

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from helpers import fixture_path, run_process

FACTS = fixture_path("facts-ubuntu1804-kvm-4g.json")
TOKEN = "spool-test-token-0123456789"


class Recorder:
    """Answers POST /api/v1/reports with `status` (a list is used up answer by answer) and
    records the report ids it acknowledged."""

    def __init__(self):
        self.status = [201]
        self.received = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recorder.lock:
                    status = (
                        recorder.status.pop(0) if len(recorder.status) > 1 else recorder.status[0]
                    )
                    if status in (200, 201):
                        recorder.received.append(json.loads(body)["report_id"])
                answer = json.dumps({"detail": f"test says {status}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.close()


def _args(url, tmp_path, *extra):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)  # a secret: other users may not read it
    return [
        "report",
        "--collector",
        url,
        "--token-file",
        str(token),
        "--role",
        "cassandra",
        "--facts",
        FACTS,
        "--state-dir",
        str(tmp_path / "state"),
        "--spool-dir",
        str(tmp_path / "spool"),
        *extra,
    ]


def _report(url, tmp_path, *extra):
    return run_process(*_args(url, tmp_path, *extra))


def _spooled(tmp_path):
    names = os.listdir(str(tmp_path / "spool"))
    return sorted(n for n in names if n.endswith(".json") and not n.startswith("."))


def _rejected(tmp_path):
    folder = tmp_path / "spool" / "rejected"
    return sorted(n for n in os.listdir(str(folder)) if n.endswith(".json"))


def test_a_refused_report_is_set_aside_with_its_reason(recorder, tmp_path):
    recorder.status = [422]
    done = _report(recorder.url, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "refused" in done.stdout and "422" in done.stdout
    assert len(done.stderr.strip().splitlines()) == 1
    [kept] = _rejected(tmp_path)
    reason = (tmp_path / "spool" / "rejected" / (kept + ".reason")).read_text()
    assert "422" in reason
    assert _spooled(tmp_path) == []  # never retried


def test_a_spooled_report_the_collector_refuses_does_not_hold_up_the_rest(recorder, tmp_path):
    recorder.status = [503]
    for _ in range(2):
        assert "spooled" in _report(recorder.url, tmp_path).stdout
    assert len(_spooled(tmp_path)) == 2
    recorder.status = [413, 201]  # the oldest is refused for good, the rest go
    done = _report(recorder.url, tmp_path)
    assert "set aside" in done.stderr and "delivered 1 spooled report(s)" in done.stderr
    assert "delivered" in done.stdout
    assert len(recorder.received) == 2 and _spooled(tmp_path) == []
    assert len(_rejected(tmp_path)) == 1


def test_a_report_that_keeps_failing_is_retried_a_bounded_number_of_times(recorder, tmp_path):
    from wire_preflight.delivery import spool

    recorder.status = [503]
    _report(recorder.url, tmp_path)
    [head] = _spooled(tmp_path)
    recorder.status = [500]  # the collector fails on this very report, run after run
    for _ in range(spool.MAX_FAULTS - 1):
        _report(recorder.url, tmp_path, "--spool-max", "100")
        assert head in _spooled(tmp_path)
    recorder.status = [500, 201]
    done = _report(recorder.url, tmp_path, "--spool-max", "100")
    assert head not in _spooled(tmp_path) and head in _rejected(tmp_path)
    assert "times in a row" in done.stderr
    assert recorder.received, "the reports behind it went"


def test_a_busy_collector_never_makes_a_report_set_aside(recorder, tmp_path):
    from wire_preflight.delivery import spool

    recorder.status = [503]
    for _ in range(spool.MAX_FAULTS + 1):
        _report(recorder.url, tmp_path, "--spool-max", "100")
    assert len(_spooled(tmp_path)) == spool.MAX_FAULTS + 1
    assert not (tmp_path / "spool" / "rejected").exists()


@pytest.mark.parametrize("content", ["[]", "null", '"x"', "{broken"])
def test_a_spool_file_that_is_not_a_report_is_set_aside(recorder, tmp_path, content):
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / "00000000000000000001-bad.json").write_text(content)
    for _ in range(2):
        done = _report(recorder.url, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "delivered" in done.stdout
    assert "00000000000000000001-bad.json" in _rejected(tmp_path)
    assert len(recorder.received) == 2


def test_two_runs_at_once_lose_nothing_and_send_nothing_twice(recorder, tmp_path):
    recorder.status = [503]
    for _ in range(6):
        _report(recorder.url, tmp_path)
    assert len(_spooled(tmp_path)) == 6
    recorder.status = [201]
    for _ in range(5):  # cron overlaps, five times over
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "wire_preflight", *_args(recorder.url, tmp_path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                universal_newlines=True,
            )
            for _ in range(2)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert "Traceback" not in err and "internal error" not in err
    assert _spooled(tmp_path) == []
    assert len(recorder.received) == 6 + 10
    assert len(set(recorder.received)) == len(recorder.received)


def test_an_unwritable_spool_says_the_report_is_lost_and_keeps_the_checks_exit_code(
    tmp_path,
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    args = _args("http://127.0.0.1:9", tmp_path)  # nothing listens on the discard port
    args[args.index("--spool-dir") + 1] = str(blocker / "spool")
    done = run_process(*args)
    checks_only = run_process("check", "--role", "cassandra", "--facts", FACTS)
    assert done.returncode == checks_only.returncode, done.stderr
    assert "lost" in done.stdout and "could not be kept" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_token_file_of_two_lines_is_a_usage_error(tmp_path):
    args = _args("http://127.0.0.1:9", tmp_path)
    token = tmp_path / "two-lines"
    token.write_text("one-token-0123456789\nsecond\n")
    token.chmod(0o600)  # a secret: other users may not read it
    done = run_process(*args[:4], str(token), *args[5:])
    assert done.returncode == 2
    assert str(token) in done.stderr and "one line" in done.stderr
    assert not (tmp_path / "spool").exists()


def _python_for_another_user(tmp_path):
    """An interpreter with the agent that uid 54321 can run. pyenv's live under /root (mode
    700): then Debian's python3 gets the wheel this run built, with its dependencies."""
    import glob

    env = {"PATH": "/usr/bin:/bin"}
    probe = ["setpriv", "--reuid", "54321", "--regid", "54321", "--clear-groups"]
    if (
        subprocess.run(
            [*probe, sys.executable, "-c", "import wire_preflight"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ).returncode
        == 0
    ):
        return [sys.executable], env
    wheels = glob.glob(
        os.path.join(os.path.dirname(__file__), "..", "dist", "wire_preflight-*.whl")
    )
    if not wheels or not os.path.exists("/usr/bin/python3"):
        pytest.skip("!!! NOT TESTED: no interpreter another user can run, and no built wheel")
    site = tmp_path / "site"
    installed = subprocess.run(
        ["/usr/bin/python3", "-m", "pip", "install", "--quiet", "--target", str(site), wheels[0]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=300,
    )
    if installed.returncode != 0:
        pytest.skip(
            "!!! NOT TESTED: cannot install the agent for Debian's python3: "
            + installed.stderr.strip()[-300:]
        )
    subprocess.run(["chmod", "-R", "a+rX", str(tmp_path)], check=True)
    return ["/usr/bin/python3"], dict(env, PYTHONPATH=str(site))


@pytest.fixture
def shared_tmp():
    """A directory another user can enter (pytest's own tmp_path sits under a 0700 one)."""
    import pathlib
    import tempfile

    path = tempfile.mkdtemp(prefix="wire-preflight-nohome-", dir="/tmp")
    os.chmod(path, 0o755)
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_without_a_home_nothing_lands_in_the_working_directory(shared_tmp):
    """A user with no HOME and no passwd entry (a bare cron job): no state directory can be
    found. The verdict is printed, the report is said to be lost, nothing is written where the
    command happens to run, and the exit code is the checks' own."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("!!! NOT TESTED: becoming a user without a passwd entry needs root, setpriv")
    tmp_path = shared_tmp
    python, env = _python_for_another_user(tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    work.chmod(0o777)
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)  # a secret: its user's alone
    os.chown(str(token), 54321, 54321)
    facts = tmp_path / "facts.json"
    shutil.copy(FACTS, str(facts))
    facts.chmod(0o644)
    done = subprocess.run(
        [
            "setpriv",
            "--reuid",
            "54321",
            "--regid",
            "54321",
            "--clear-groups",
            *python,
            "-m",
            "wire_preflight",
            "report",
            "--role",
            "cassandra",
            "--facts",
            str(facts),
            "--collector",
            "http://127.0.0.1:9",
            "--token-file",
            str(token),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        env=env,
        cwd=str(work),
        timeout=120,
    )
    verdict = done.stdout.split(":", 1)[0]  # the checks' verdict; ip-drift warns: no state
    assert done.returncode == {"PASS": 0, "WARN": 4, "FAIL": 3}[verdict], done.stderr
    assert "lost" in done.stdout and "HOME is unset" in done.stdout, done.stdout
    assert os.listdir(str(work)) == []


def test_a_flush_lists_the_spool_once_to_forget_fault_counts(tmp_path, monkeypatch):
    # The fault counts of reports no longer spooled are forgotten: one listing for all of
    # them, not one per counted report.
    from wire_preflight.delivery import send, spool

    names = [f"{i:020d}-r{i}.json" for i in range(6)]
    for name in names:
        (tmp_path / name).write_text(json.dumps({"report_id": name}))
    (tmp_path / ".faults.json").write_text(json.dumps({name: 1 for name in names}))
    listings = []
    entries = spool._entries

    def counted(directory):
        listings.append(directory)
        return entries(directory)

    def busy(_doc):
        raise send.DeliveryError("test says 503", send.RETRY, 503)

    monkeypatch.setattr(spool, "_entries", counted)
    assert spool.flush(str(tmp_path), busy) == (0, ["spooled reports wait: test says 503"])
    assert len(listings) == 2  # the reports to send, then what is left
    assert json.loads((tmp_path / ".faults.json").read_text()) == {name: 1 for name in names}


def test_send_makes_the_session_delivery_presents(tmp_path):
    from wire_preflight.delivery import send

    ca = str(tmp_path / "ca.pem")
    session = send.new_session("the-token", ca)
    assert session.headers["Authorization"] == "Bearer the-token"
    assert session.verify == ca
    assert send.new_session("the-token", None).verify is True


def test_post_report_takes_the_session_and_stamps_sent_at():
    from wire_preflight.delivery import send

    class Session:
        verify = True

        def post(self, url, **kwargs):
            self.url, self.body = url, json.loads(kwargs["data"])

            class Answer:
                status_code = 201

                def json(self):
                    return {"id": 1}

            return Answer()

    session = Session()
    assert send.post_report("https://c.example:8443/", {"report_id": "r"}, session) == {"id": 1}
    assert session.url == "https://c.example:8443/api/v1/reports"
    assert session.body["report_id"] == "r" and session.body["sent_at"] > 0


def test_the_spool_limit_is_written_once():
    from wire_preflight.cli.main import report
    from wire_preflight.delivery import spool

    (option,) = [p for p in report.params if p.name == "spool_max"]
    assert option.default == spool.DEFAULT_LIMIT

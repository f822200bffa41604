"""`report`'s outcome is an enum (delivery.flow.State) that still reads, joins, compares and
serialises as the word it replaced, on every Python the agent runs on: the line `report`
prints is unchanged."""

import json
import re
import socket

from helpers import fixture_path, run_process
from wire_preflight.delivery.flow import State

TOKEN = "wp-admin-0123456789abcdef0123456789abcdef"


def test_each_state_is_its_word_however_it_is_written():
    for state, word in (
        (State.DELIVERED, "delivered"),
        (State.SPOOLED, "spooled"),
        (State.REFUSED, "refused"),
        (State.LOST, "lost"),
    ):
        assert state == word
        assert str(state) == f"{state}" == format(state) == f"{state:>{len(word)}}" == word
        assert state + ": why" == word + ": why"
        assert json.dumps({"state": state}) == json.dumps({"state": word})
    assert [s.value for s in State] == ["delivered", "spooled", "refused", "lost"]


def test_the_report_line_is_unchanged_when_the_collector_is_down(tmp_path):
    # A loopback port nothing listens on: bound, then closed.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    done = run_process(
        "report",
        "--collector",
        f"http://127.0.0.1:{port}",
        "--token-file",
        str(token),
        "--role",
        "cassandra",
        "--facts",
        fixture_path("facts-ubuntu1804-kvm-4g.json"),
        "--state-dir",
        str(tmp_path / "state"),
        "--spool-dir",
        str(tmp_path / "spool"),
    )
    assert done.returncode in (0, 3, 4), done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert re.match(r"^(PASS|WARN|FAIL): .* \(report [0-9a-f-]{36} spooled: .+\)$", line), line
    assert "State." not in done.stdout + done.stderr

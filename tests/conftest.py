"""Pytest fixtures and hooks; the helpers tests import are in helpers.py."""

import json
import os

import pytest
from helpers import NOT_RUN_WITHOUT_ROOT, fixture_path


def pytest_terminal_summary(terminalreporter):
    if NOT_RUN_WITHOUT_ROOT:
        terminalreporter.section("tests that need root did NOT run", sep="!", red=True, bold=True)
        for reason in sorted(set(NOT_RUN_WITHOUT_ROOT)):
            terminalreporter.line(reason, red=True)


@pytest.fixture(autouse=True)
def private_state_dir(tmp_path, monkeypatch):
    """Every test remembers addresses in its own directory, never in /var/lib."""
    state_dir = tmp_path / "state"
    monkeypatch.setenv("WIRE_PREFLIGHT_STATE_DIR", str(state_dir))
    return state_dir


@pytest.fixture
def base_facts():
    """An Ubuntu 18.04 KVM guest with 2 vCPUs, 4 GiB RAM and an 80e9-byte disk."""
    with open(fixture_path("facts-ubuntu1804-kvm-4g.json")) as handle:
        return json.load(handle)


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from wire_preflight.cli.main import main

    def run(*args):
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return run


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server of the tests' own (initdb + pg_ctl in a temporary directory,
    a Unix socket only), one per test module."""
    from collectorlib import PostgresServer

    try:
        server = PostgresServer().start()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise  # CI installs the package (.ci/run): a missing server is a failure there
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    """The store's location, once for each store: an SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "collector.db")
    return request.getfixturevalue("postgres").new_database()

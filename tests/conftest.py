import copy
import json
import os
import subprocess
import sys

import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
GIB = 1024**3


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


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


def with_changes(facts, **changes):
    """A copy of facts with dotted keys replaced, e.g. {"memory.installed_bytes": 3 * GIB}."""
    out = copy.deepcopy(facts)
    for dotted, value in changes.items():
        node = out
        parts = dotted.split("__")
        for part in parts[:-1]:
            node = node[part]
        if value is _DELETE:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
    return out


_DELETE = object()
DELETE = _DELETE


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from wire_preflight.cli import main

    def run(*args):
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return run


def run_process(*args, **kwargs):
    """Run the installed entry point as a real process, as cron would."""
    return subprocess.run(
        [sys.executable, "-m", "wire_preflight", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
        **kwargs,
    )


def write_json(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def judge(facts, roles, profile="classic", sft_users=0, data_dirs=None, ignore=(), **context):
    """Run every check on facts, as `check --facts` does, without touching any state."""
    from wire_preflight import checks, profiles, requirements

    loaded = profiles.load(profile)
    needs = requirements.needs_for(loaded, roles, sft_users, data_dirs)
    alternatives = context.pop("os_alternatives", {})
    ctx = checks.Context(facts, loaded, needs, alternatives, **context)
    return checks.run(ctx, ignore)


def results_for(results, check_id, role=None):
    return [r for r in results if r.id == check_id and (role is None or r.role == role)]


def one(results, check_id, role=None):
    found = results_for(results, check_id, role)
    assert len(found) == 1, found
    return found[0]

"""The agent on the machine the tests run on: every role, nothing raises, the contract holds."""

import json
import os

import pytest
from helpers import run_process
from wire_preflight import checks, profiles
from wire_preflight.model import STATUSES

# Every test here reads the machine it runs on (`pytest -m "not live"` leaves them out).
pytestmark = pytest.mark.live

CONTRACT = [
    "hostname",
    "machine_id",
    "os.id",
    "os.version_id",
    "cpu.logical_count",
    "memory.total_bytes",
    "network.primary.address",
    "network.primary.interface",
]


def lookup(doc, dotted):
    for part in dotted.split("."):
        doc = doc[part]
    return doc


def test_facts_json_contract():
    done = run_process("facts", "--json")
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["schema"] == "wire-preflight/facts/1"
    for key in CONTRACT:
        if key.split(".")[0] in facts["errors"]:
            continue  # unreadable here: the reason is recorded instead
        assert lookup(facts, key) not in (None, ""), key
    assert facts["memory"]["total_bytes"] > 0
    if os.path.isdir("/sys/devices/system/memory"):
        assert facts["memory"]["installed_bytes"] >= facts["memory"]["total_bytes"]
    root = [d for d in facts["disks"] if d["path"] == "/"][0]
    assert root["mountpoint"] == "/" and root["total_bytes"] >= root["free_bytes"] > 0
    for key in ("product_uuid", "virtualization", "kernel", "collected_at", "agent_version"):
        assert key in facts


@pytest.mark.parametrize("role", profiles.load("classic").roles)
def test_every_role_on_the_live_host(role):
    done = run_process("check", "--role", role, "--json")
    assert done.returncode in (0, 3, 4), done.stderr
    assert done.stderr == ""
    doc = json.loads(done.stdout)
    assert doc["summary"]["exit_code"] == done.returncode
    ids = {c["id"] for c in doc["checks"]}
    assert (
        {
            "os",
            "hostname",
            "cpu",
            "memory",
            "disk",
            "ip-static",
            "ip-range",
            "ip-drift",
            "time-sync",
        }
        <= ids
        <= set(checks.check_ids())
    )
    assert not [c for c in doc["checks"] if c["status"] == "error"], doc["checks"]
    assert all(c["status"] in STATUSES for c in doc["checks"])


def test_data_dir_that_does_not_exist_is_measured_at_its_parent(tmp_path):
    target = tmp_path / "not" / "yet"
    done = run_process("check", "--role", "cassandra", "--data-dir", str(target), "--json")
    doc = json.loads(done.stdout)
    disk = [d for d in doc["facts"]["disks"] if d["path"] == str(target)][0]
    assert disk["measured_path"] == os.path.realpath(str(tmp_path))
    assert disk["exists"] is False

"""What the agent's fleet code writes is what the collector's models read back.

The collector stores summarize()'s host summary and drift.snapshot()'s snapshot as JSON and, on
every read, drops a row that does not fit its pydantic models (schema.HostSummary,
DriftSnapshot; strict: "4" is not 4). The agent's TypedDicts (wire_preflight/shapes.py) exist
for mypy only, so this is where the two are held together at run time: real reports from real
agent runs, summarized and snapshotted, through the models as the store reads them.
"""

import json
import subprocess
import sys
import time

import pytest
from helpers import fixture_path

pytest.importorskip("pydantic", reason="the collector's models need Python >= 3.10")
from pydantic import ValidationError
from wire_preflight.fleet import drift
from wire_preflight.fleet.summary import summarize
from wire_preflight_collector import schema

PROBES = [
    {
        "from_role": "cassandra",
        "to_role": "elasticsearch",
        "peer": "es1",
        "address": "192.168.122.31",
        "proto": "tcp",
        "port": 9300,
        "state": "filtered",
    },
    {
        "from_role": "cassandra",
        "to_role": "cassandra",
        "peer": "cassandra2",
        "address": "192.168.122.22",
        "proto": "udp",
        "port": 7000,
        "state": "open|filtered",
    },
]


def agent_report(tmp_path, *args):
    """`check --json` as the timer runs it, with the reachability a `ports` run kept."""
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    (state / "reachability.json").write_text(
        json.dumps(
            {
                "schema": "wire-preflight/reachability/1",
                "generated_at": "2026-11-28T06:00:00Z",
                "hostname": "cassandra1",
                "roles": ["cassandra"],
                "probes": PROBES,
            }
        )
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wire_preflight",
            "check",
            "--json",
            "--state-dir",
            str(state),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    assert done.returncode in (0, 3, 4), done.stderr  # pass, fail, warn: a report either way
    report = json.loads(done.stdout)
    report["sent_at"] = time.time()  # as send.post_report stamps it: the clock's offset
    # It is a report the collector takes in: else its summary would never be stored.
    schema.validate(schema.Report, report, "report")
    return report


RUNS = {
    # A facts file captured on an Ubuntu 18.04 KVM guest.
    "saved-facts": lambda: [
        "--facts",
        fixture_path("facts-ubuntu1804-kvm-4g.json"),
        "--role",
        "cassandra",
        "--physical-host",
        "s1",
    ],
    # A captured tree: no network, disks or clock (only the live kernel tells those).
    "captured-tree": lambda: ["--root", fixture_path("ubuntu-18.04"), "--role", "minio"],
    # The machine the test runs on, read live: real interfaces, disks and clock.
    "live-host": lambda: ["--role", "elasticsearch", "--role", "restund"],
}


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.live] if name == "live-host" else []) for name in RUNS
    ]
)
def report(request, tmp_path):
    return agent_report(tmp_path, *RUNS[request.param]())


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The saved-facts run, once for the tests that only read it."""
    return agent_report(tmp_path_factory.mktemp("saved"), *RUNS["saved-facts"]())


def stored(document):
    """As the store writes it (allow_nan=False) and reads it back."""
    return json.dumps(document, allow_nan=False)


def test_summary_fits_the_collectors_host_summary(report):
    # Through a collector (the clock from sent_at) and from saved reports (fleet --from: no
    # receive time, the clock from the host's own NTP estimate).
    for summary in (summarize(report, received_at=time.time()), summarize(report)):
        read = schema.HostSummary.model_validate_json(stored(summary))
        assert read.hostname == report["hostname"]
        assert schema.readable_summary(stored(summary)) == summary


def test_snapshot_fits_the_collectors_drift_snapshot(report):
    snapshot = drift.snapshot(report)
    read = schema.DriftSnapshot.model_validate_json(stored(snapshot))
    assert read.roles == sorted(report["roles"])
    assert schema.readable_snapshot(stored(snapshot)) == snapshot


def test_the_saved_facts_run_fills_what_the_models_type(saved):
    # The fields a None would pass for: here each holds a value, so its type is checked.
    report = saved
    summary = summarize(report, received_at=time.time())
    for key in ("machine_id", "product_uuid", "physical_host", "profile", "report_id"):
        assert isinstance(summary[key], str), key
    assert isinstance(summary["cpu"], int) and isinstance(summary["memory_bytes"], int)
    assert summary["addresses"] and summary["macs"] and summary["primary_address"]
    assert isinstance(summary["clock"]["offset_s"], float)
    assert [p["port"] for p in summary["reachability"]] == [9300, 7000]
    snapshot = drift.snapshot(report)
    assert snapshot["disks"] and isinstance(snapshot["memory_total"], int)
    assert all(isinstance(d["total"], int) for d in snapshot["disks"].values())
    assert snapshot["checks"] and all(isinstance(s, str) for s in snapshot["checks"].values())


@pytest.mark.parametrize(
    "field, diverged",
    [
        ("cpu", lambda v: str(v)),  # "2", not 2
        ("memory_bytes", lambda v: v / 1),  # a float where an int belongs
        ("roles", lambda v: ",".join(v)),
        ("status", lambda v: "warning"),
        ("clock", lambda v: dict(v, synchronized="yes")),
        ("reachability", lambda v: [dict(v[0], port=str(v[0]["port"]))]),
    ],
)
def test_a_field_of_another_type_is_refused(saved, field, diverged):
    # What makes the tests above worth anything: a summary whose field changed type no longer
    # fits, and the store would drop it on read.
    summary = summarize(saved, received_at=time.time())
    broken = dict(summary, **{field: diverged(summary[field])})
    with pytest.raises(ValidationError):
        schema.HostSummary.model_validate_json(stored(broken))
    assert schema.readable_summary(stored(broken)) is None


def test_a_snapshot_field_of_another_type_is_refused(saved):
    snapshot = drift.snapshot(saved)
    path = sorted(snapshot["disks"])[0]
    disks = dict(snapshot["disks"], **{path: dict(snapshot["disks"][path], total="80 GB")})
    assert schema.readable_snapshot(stored(dict(snapshot, disks=disks))) is None
    assert schema.readable_snapshot(stored(dict(snapshot, cpu=2.0))) is None

"""Helpers the tests import (`from helpers import ...`): fixture files, captured facts changed
by a key path, reports made up from facts, the checks run as `check --facts` runs them.
Pytest fixtures live in conftest.py."""

import contextlib
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


NOT_RUN_WITHOUT_ROOT = []


def require_root(what):
    """Skip a test that needs root, loudly: the reason is in the skip list and again in a
    banner at the end of the run, as tests/run-all does for a missing interpreter."""
    if os.geteuid() != 0:
        reason = f"!!! NOT TESTED without root: {what}"
        NOT_RUN_WITHOUT_ROOT.append(reason)
        pytest.skip(reason)


@contextlib.contextmanager
def small_disk(tmp_path, size):
    """A tmpfs of `size` (mount's size=, e.g. "4m") at tmp_path/disk: a disk a test can fill.
    Needs root; unmounted after."""
    require_root("mounting a small tmpfs as a full disk")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk):
    """Write zeros into disk/filler until the disk is full; the filler's path."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def with_changes(facts, **changes):
    """A copy of facts with nested keys replaced, the path joined by `__` (keyword arguments
    cannot hold dots): with_changes(facts, memory__installed_bytes=3 * GIB). DELETE removes."""
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


def minio_facts(base, data_disk="/dev/vdb", fstype="xfs"):
    """The captured VM as a MinIO host: 2 GiB, its data on data_disk formatted fstype."""
    facts = with_changes(base, memory__installed_bytes=2 * GIB)
    root = dict(facts["disks"][0], path="/")
    data = dict(
        facts["disks"][0],
        path="/var/lib/minio-server1",
        mountpoint="/var/lib/minio",
        device=data_disk,
        disk=data_disk,
        fstype=fstype,
        total_bytes=int(400e9 * 0.99),
        free_bytes=int(390e9),
    )
    facts["disks"] = [root, data]
    return facts


# ufw's files as it writes them: ufw.conf enabled, /etc/default/ufw dropping input, and
# user.rules holding one `### tuple ###` comment per rule added with `ufw allow`.
UFW_ON = "ENABLED=yes\nLOGLEVEL=low\n"
UFW_DEFAULT_DROP = 'IPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\nDEFAULT_OUTPUT_POLICY="ACCEPT"\n'


def ufw_user_rules(*tuples):
    body = "".join(f"\n### tuple ### {t}\n-A ufw-user-input -j ACCEPT\n" for t in tuples)
    return (
        "*filter\n:ufw-user-input - [0:0]\n### RULES ###\n" + body + "\n### END RULES ###\nCOMMIT\n"
    )


def demo_facts(base, tmp_path, files):
    """The captured VM sized for the wiab profile (the demo VM), its firewall read by the
    agent's reader from files ({host path: text}) written under tmp_path."""
    from nettree import write
    from wire_preflight.facts import firewall

    facts = with_changes(
        base,
        os__version_id="24.04",
        cpu__logical_count=16,
        memory__installed_bytes=32 * GIB,
        memory__total_bytes=31 * GIB,
    )
    facts["disks"] = [dict(base["disks"][0], path="/", total_bytes=250 * GIB, free_bytes=240 * GIB)]
    facts["tunables"]["net.ipv4.ip_forward"] = {"value": 1, "file": "/proc/sys/net/ipv4/ip_forward"}
    facts["firewall"] = firewall.collect(write(tmp_path, files))
    return facts


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
    """Run every check on facts, as `check --facts` does, without touching any state: the one
    helper every test_checks_*.py uses. Context fields (os_alternatives, target_ip, previous,
    ...) pass through by keyword."""
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


def make_report(
    base,
    hostname,
    roles,
    physical_host=None,
    address=None,
    machine_id=None,
    mac=None,
    failing=(),
    product_uuid=None,
    generated_at="2026-11-28T06:00:00Z",
):
    """A report as `check --json` prints it, for a host derived from the base facts."""
    import hashlib
    import uuid

    facts = with_changes(base, hostname=hostname)
    digest = hashlib.sha256(hostname.encode()).hexdigest()
    facts["machine_id"] = machine_id or digest[:32]
    facts["product_uuid"] = product_uuid or str(uuid.UUID(digest[:32]))
    iface = facts["network"]["interfaces"][1]
    iface["mac"] = mac or f"52:54:00:{digest[0:2]}:{digest[2:4]}:{digest[4:6]}"
    address = address or f"192.168.{int(digest[:2], 16)}.{int(digest[2:4], 16) % 250 + 2}"
    iface["addresses"][0]["address"] = address
    facts["network"]["primary"]["address"] = address
    checks = [
        {
            "id": c,
            "role": roles[0],
            "status": "fail",
            "observed": None,
            "expected": None,
            "message": "failed",
            "remedy": "",
        }
        for c in failing
    ]
    checks.append(
        {
            "id": "os",
            "role": roles[0],
            "status": "pass",
            "observed": "ubuntu 18.04",
            "expected": "ubuntu 18.04",
            "message": "",
            "remedy": "",
        }
    )
    return {
        "schema": "wire-preflight/report/1",
        "report_id": str(uuid.uuid4()),
        "agent_version": "0.1.0",
        "generated_at": generated_at,
        "hostname": hostname,
        "roles": list(roles),
        "profile": {"name": "classic", "path": ""},
        "physical_host": physical_host,
        "options": {},
        "summary": {"exit_code": 3 if failing else 0},
        "checks": checks,
        "facts": facts,
    }


def classic_fleet(base, servers=("s1", "s2", "s3")):
    """The seed plan's production fleet, one VM of each role per physical server."""
    reports = []
    for index, server in enumerate(servers, 1):
        for role in ("cassandra", "minio", "elasticsearch", "kubernetes"):
            reports.append(make_report(base, f"{role}{index}", [role], server))
        if index <= 2:
            reports.append(make_report(base, f"restund{index}", ["restund"], server))
    reports.append(make_report(base, "admin", ["admin"], servers[0]))
    reports.append(make_report(base, "assethost", ["asset"], servers[-1]))
    return reports

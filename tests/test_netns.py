"""ip-static and ip-range against real kernel state: addresses in a network namespace.

Needs root and `ip netns` (CI runs as root); skips with the reason where a namespace cannot be
made. Nothing leaves the namespace: its only link is a veth pair with both ends inside it.
"""

import json
import subprocess
import sys
import uuid

import pytest
from helpers import require_root

ADDRESSES = [
    # (address/prefix, extra `ip addr add` arguments)
    ("192.168.50.10/24", []),
    ("192.168.60.10/24", ["valid_lft", "3600", "preferred_lft", "3600"]),
    ("10.233.5.5/24", []),
    ("10.1.2.3/16", []),
]


def _ip(*args):
    return subprocess.run(
        ["ip", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=10,
    )


@pytest.fixture(scope="module")
def namespace():
    require_root("the netconfig tests in network namespaces (ip netns add)")
    name = "wp-test-" + uuid.uuid4().hex[:8]
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        pytest.skip("cannot make a network namespace here: " + made.stderr.strip())
    try:
        steps = [
            ("-n", name, "link", "add", "wp0", "type", "veth", "peer", "name", "wp1"),
            # An MTU no default gives: the agent must read the kernel's, not assume one.
            ("-n", name, "link", "set", "wp0", "mtu", "1412"),
            ("-n", name, "link", "set", "wp0", "up"),
            ("-n", name, "link", "set", "wp1", "up"),
            ("-n", name, "link", "set", "lo", "up"),
        ]
        steps += [
            ("-n", name, "addr", "add", cidr, "dev", "wp0", *extra) for cidr, extra in ADDRESSES
        ]
        steps.append(("-n", name, "route", "add", "default", "via", "192.168.50.1", "dev", "wp0"))
        for step in steps:
            done = _ip(*step)
            assert done.returncode == 0, (step, done.stderr)
        yield name
    finally:
        _ip("netns", "delete", name)


def run_in(namespace, tmp_path, *args):
    done = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            namespace,
            sys.executable,
            "-m",
            "wire_preflight",
            "check",
            "--role",
            "kubernetes",
            "--json",
            "--state-dir",
            str(tmp_path / "state"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert done.returncode in (0, 3, 4), done.stderr
    doc = json.loads(done.stdout)
    return {c["id"]: c for c in doc["checks"] if c["role"] == "kubernetes"}, doc


def test_the_kernel_sees_what_the_test_made(namespace, tmp_path):
    _, doc = run_in(namespace, tmp_path)
    iface = [i for i in doc["facts"]["network"]["interfaces"] if i["name"] == "wp0"][0]
    by_address = {a["address"]: a for a in iface["addresses"]}
    assert by_address["192.168.50.10"]["dynamic"] is False
    assert by_address["192.168.50.10"]["valid_lifetime"] is None
    assert by_address["192.168.60.10"]["dynamic"] is True
    assert 3500 < by_address["192.168.60.10"]["valid_lifetime"] <= 3600
    assert doc["facts"]["network"]["primary"] == {
        "interface": "wp0",
        "address": "192.168.50.10",
        "prefixlen": 24,
        "family": "inet",
        "mtu": 1412,
    }
    assert iface["mtu"] == 1412


def test_static_primary_address(namespace, tmp_path):
    checks, _ = run_in(namespace, tmp_path)
    assert checks["ip-static"]["status"] == "pass"
    assert checks["ip-range"]["status"] == "pass"


def test_address_with_a_lifetime_warns(namespace, tmp_path):
    checks, _ = run_in(namespace, tmp_path, "--ip", "192.168.60.10")
    assert checks["ip-static"]["status"] == "warn"
    assert "the kernel holds it as dynamic, valid for" in checks["ip-static"]["message"]


def test_kubernetes_range_fails(namespace, tmp_path):
    checks, _ = run_in(namespace, tmp_path, "--ip", "10.233.5.5")
    assert checks["ip-range"]["status"] == "fail"
    assert checks["ip-static"]["status"] == "pass"


def test_other_ten_dot_address_warns(namespace, tmp_path):
    checks, _ = run_in(namespace, tmp_path, "--ip", "10.1.2.3")
    assert checks["ip-range"]["status"] == "warn"


def test_address_not_on_the_host_fails(namespace, tmp_path):
    checks, _ = run_in(namespace, tmp_path, "--ip", "192.168.70.1")
    assert checks["ip-static"]["status"] == "fail"


def test_interface_option(namespace, tmp_path):
    checks, _ = run_in(namespace, tmp_path, "--interface", "wp0")
    assert checks["ip-static"]["observed"] == "192.168.50.10 on wp0"

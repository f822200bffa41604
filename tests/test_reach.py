"""`wire-preflight ports` and `listen` between two network namespaces joined by a veth pair:
an open port, a closed one (refused: the path works) and one an nftables rule drops
(filtered). Root only; skipped with the reason elsewhere. No traffic leaves the namespaces."""

import json
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from helpers import require_root

A_ADDR, ES_ADDR, CAS_ADDR, TURN_ADDR = (
    "192.168.77.1",
    "192.168.77.2",
    "192.168.77.3",
    "192.168.77.4",
)
INVENTORY = f"""
[kube-node]
node-a ip={A_ADDR}
[elasticsearch]
es1 ip={ES_ADDR}
[cassandra]
cas1 ip={CAS_ADDR}
[restund]
turn1 ip={TURN_ADDR}
"""


def ip(*args):
    return subprocess.run(
        ["ip", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=10,
    )


def in_ns(ns, *argv, **kwargs):
    return ["ip", "netns", "exec", ns, *argv]


@pytest.fixture(scope="module")
def pair():
    require_root("the reachability probes between two network namespaces (ip netns add)")
    if not shutil.which("nft"):
        pytest.skip("nft (Debian's nftables) is needed for the dropping firewall rule")
    tag = uuid.uuid4().hex[:6]
    a, b = "wpa-" + tag, "wpb-" + tag
    made = ip("netns", "add", a)
    if made.returncode != 0:
        pytest.skip("cannot make a network namespace: " + made.stderr.strip())
    ip("netns", "add", b)
    try:
        steps = [
            (
                "link",
                "add",
                "va" + tag,
                "netns",
                a,
                "type",
                "veth",
                "peer",
                "name",
                "vb" + tag,
                "netns",
                b,
            ),
            ("-n", a, "addr", "add", A_ADDR + "/24", "dev", "va" + tag),
            ("-n", a, "link", "set", "va" + tag, "up"),
            ("-n", a, "link", "set", "lo", "up"),
            ("-n", b, "link", "set", "vb" + tag, "up"),
            ("-n", b, "link", "set", "lo", "up"),
        ]
        steps += [
            ("-n", b, "addr", "add", addr + "/24", "dev", "vb" + tag)
            for addr in (ES_ADDR, CAS_ADDR, TURN_ADDR)
        ]
        for step in steps:
            done = ip(*step)
            assert done.returncode == 0, (step, done.stderr)
        for rule in (
            ["add", "table", "inet", "wp"],
            ["add", "chain", "inet", "wp", "input", "{ type filter hook input priority 0 ; }"],
            ["add", "rule", "inet", "wp", "input", "tcp", "dport", "9300", "drop"],
        ):
            done = subprocess.run(
                in_ns(b, "nft", *rule),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                universal_newlines=True,
                timeout=10,
            )
            assert done.returncode == 0, (rule, done.stderr)
        yield a, b
    finally:
        ip("netns", "delete", a)
        ip("netns", "delete", b)


def agent(*args):
    return [sys.executable, "-m", "wire_preflight", *args]


def test_ports_tells_open_refused_and_filtered(pair, tmp_path):
    a, b = pair
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INVENTORY)
    listeners = [
        subprocess.Popen(
            in_ns(b, *agent("listen", "--role", role, "--for", "20")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
        )
        for role in ("elasticsearch", "restund")
    ]
    try:
        deadline = time.time() + 15
        while time.time() < deadline:  # wait until the listeners are up
            probe = subprocess.run(
                in_ns(
                    a,
                    sys.executable,
                    "-c",
                    f"import socket; socket.create_connection(('{ES_ADDR}', 9200), 1)",
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=10,
            )
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        done = subprocess.run(
            in_ns(
                a,
                *agent(
                    "ports",
                    "--inventory",
                    str(inventory),
                    "--timeout",
                    "1",
                    "--json",
                    "--state-dir",
                    str(tmp_path / "state"),
                ),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=60,
        )
    finally:
        for proc in listeners:
            proc.terminate()
            proc.wait(timeout=10)
    assert done.returncode == 3, done.stderr  # the dropped port fails the run
    doc = json.loads(done.stdout)
    assert doc["hostname"] == "node-a" and doc["roles"] == ["kubernetes"]
    states = {
        (c["evidence"]["peer"], c["evidence"]["proto"], c["evidence"]["port"]): (
            c["evidence"]["state"],
            c["status"],
        )
        for c in doc["checks"]
    }
    assert states[("es1", "tcp", 9200)] == ("open", "pass")
    assert states[("es1", "tcp", 9300)] == ("filtered", "fail")
    assert states[("cas1", "tcp", 9042)] == ("refused", "pass")
    assert states[("turn1", "udp", 3478)] == ("open", "pass")  # listen echoes UDP
    dropped = [c for c in doc["checks"] if c["evidence"]["port"] == 9300][0]
    assert "allow tcp from 192.168.77.1 to 192.168.77.2 port 9300" in dropped["remedy"]
    kept = json.loads((tmp_path / "state" / "reachability.json").read_text())
    assert len(kept["probes"]) == len(doc["checks"])


def test_report_carries_reachability_to_the_fleet(tmp_path, base_facts):
    """The kept results join the next report; the fleet shows roles x roles."""
    from helpers import write_json

    state = tmp_path / "state"
    state.mkdir()
    (state / "reachability.json").write_text(
        json.dumps(
            {
                "schema": "wire-preflight/reachability/1",
                "generated_at": "2026-11-28T06:00:00Z",
                "hostname": "node-a",
                "roles": ["kubernetes"],
                "probes": [
                    {
                        "from_role": "kubernetes",
                        "to_role": "elasticsearch",
                        "peer": "es1",
                        "address": ES_ADDR,
                        "proto": "tcp",
                        "port": 9300,
                        "state": "filtered",
                    },
                    {
                        "from_role": "kubernetes",
                        "to_role": "elasticsearch",
                        "peer": "es1",
                        "address": ES_ADDR,
                        "proto": "tcp",
                        "port": 9200,
                        "state": "open",
                    },
                ],
            }
        )
    )
    facts = write_json(tmp_path, "facts.json", base_facts)
    reports = tmp_path / "reports"
    reports.mkdir()
    done = subprocess.run(
        agent(
            "check", "--role", "kubernetes", "--facts", facts, "--json", "--state-dir", str(state)
        ),
        stdout=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    (reports / "node-a.json").write_text(done.stdout)
    assert json.loads(done.stdout)["reachability"]["probes"][0]["port"] == 9300
    fleet = subprocess.run(
        agent("fleet", "--from", str(reports), "--json"),
        stdout=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    doc = json.loads(fleet.stdout)
    cell = doc["reachability"]["cells"][0]
    assert (cell["from"], cell["to"], cell["open"], cell["blocked"]) == (
        "kubernetes",
        "elasticsearch",
        1,
        1,
    )
    assert cell["failing"] == ["cassandra1 -> es1:9300/tcp filtered"]
    finding = [f for f in doc["findings"] if f["id"] == "reachability"][0]
    assert finding["status"] == "fail" and "es1:9300/tcp filtered" in finding["message"]


def test_ports_needs_to_know_this_host(tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[cassandra]\nnowhere ip=192.0.2.200\n")
    done = subprocess.run(
        agent("ports", "--inventory", str(inventory)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=60,
    )
    assert done.returncode == 2 and "no --from-role" in done.stderr


def test_listen_is_bounded_and_leaves_taken_ports_alone(tmp_path):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    started = time.time()
    done = subprocess.run(
        agent("listen", "--role", "elasticsearch", "--for", "1", "--address", "127.0.0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=30,
    )
    holder.close()
    assert done.returncode == 0, done.stderr
    assert "9200/tcp" in done.stdout and "listening for 1 s" in done.stdout
    assert time.time() - started < 25

"""Real hosts: ip-static from the configuration that applies, captured trees (--root), and
the agent on broken machines (no default route, no `ip`)."""

import json
import os

import pytest
from helpers import judge, one, with_changes
from nettree import link, write
from wire_preflight import state
from wire_preflight.facts import netconfig
from wire_preflight.model import ERROR, PASS, WARN

GLOB_DHCP = "network:\n  ethernets:\n    all-en:\n      match: {name: 'en*'}\n      dhcp4: true\n"


def test_ip_static_sees_dhcp_through_a_netplan_match(base_facts, tmp_path):
    # The primary address is permanent in the kernel (cloud-init's DHCP of a long lease shows
    # so on some clouds); the netplan entry `all-en` matches ens3 by glob and asks for DHCP.
    write(tmp_path, {"/etc/netplan/50-cloud-init.yaml": GLOB_DHCP})
    facts = with_changes(base_facts)
    facts["network_config"] = netconfig.collect(str(tmp_path))
    result = one(judge(facts, ["cassandra"]), "ip-static")
    assert result.status == WARN
    assert "sets dhcp4: true for ens3 (entry all-en)" in result.message
    assert result.evidence["configuration"]["id"] == "all-en"


def test_ip_static_names_the_static_configuration_that_applies(base_facts, tmp_path):
    write(
        tmp_path,
        {
            "/etc/systemd/network/10-lan.network": (
                "[Match]\nMACAddress=52:54:00:12:34:56\n[Network]\nAddress=192.168.122.21/24\n"
            )
        },
    )
    facts = with_changes(base_facts)
    facts["network_config"] = netconfig.collect(str(tmp_path))
    result = one(judge(facts, ["cassandra"]), "ip-static")
    assert result.status == PASS
    assert "systemd-networkd /etc/systemd/network/10-lan.network configures it statically" in (
        result.message
    )


def test_nm_bridge_port_is_not_dhcp(base_facts, tmp_path):
    write(
        tmp_path,
        {
            "/etc/NetworkManager/system-connections/port.nmconnection": (
                "[connection]\nid=port\ntype=ethernet\ninterface-name=ens3\nmaster=br0\n"
                "slave-type=bridge\n"
            )
        },
    )
    facts = with_changes(base_facts)
    facts["network_config"] = netconfig.collect(str(tmp_path))
    result = one(judge(facts, ["cassandra"]), "ip-static")
    assert result.status == PASS, result.message


def captured_tree(tmp_path):
    root = tmp_path / "capture"
    write(
        root,
        {
            "/etc/hostname": "cassandra1\n",
            "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
            "/etc/os-release": 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\n'
            'VERSION_CODENAME=noble\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\n',
            "/proc/meminfo": "MemTotal:       16314200 kB\nSwapTotal:             0 kB\n",
            "/proc/cpuinfo": "".join(
                f"processor\t: {i}\nphysical id\t: 0\ncore id\t\t: {i}\n\n" for i in range(4)
            ),
            "/etc/netplan/50-cloud-init.yaml": (
                "network:\n  ethernets:\n    ens3:\n      addresses: [192.168.122.21/24]\n"
                "    ens4:\n      dhcp4: true\n"
            ),
        },
    )
    link(root, "ens3", "52:54:00:12:34:56", 2)
    link(root, "ens4", "52:54:00:12:34:57", 3)
    return str(root)


def test_facts_root_reads_the_tree_and_nothing_live(run_cli, tmp_path):
    code, out, err = run_cli("facts", "--root", captured_tree(tmp_path), "--json")
    assert code == 0, err
    facts = json.loads(out)
    assert facts["hostname"] == "cassandra1"
    assert facts["os"]["version_id"] == "24.04"
    assert facts["cpu"]["logical_count"] == 4
    assert facts["memory"]["total_bytes"] == 16314200 * 1024
    for live in ("network", "disks", "listeners", "time"):
        assert facts[live] is None
        assert "only the live kernel can tell" in facts["errors"][live]
    assert facts["network_config"]["interfaces"]["ens4"]["method"] == "dhcp"


def test_check_root_judges_ip_static_from_configuration_alone(run_cli, tmp_path):
    code, out, err = run_cli(
        "check", "--root", captured_tree(tmp_path), "--role", "cassandra", "--json"
    )
    assert code in (3, 4), err
    results = {r["id"]: r for r in json.loads(out)["checks"]}
    static = results["ip-static"]
    assert static["status"] == WARN
    assert "ens3: static 192.168.122.21/24" in static["message"]
    assert "ens4: DHCP" in static["message"]
    assert "configuration files alone" in static["message"]
    assert results["ip-drift"]["status"] == WARN
    assert "cannot see the primary address" in results["ip-drift"]["message"]


def test_a_2404_cassandra_vm_under_classic_is_not_sent_to_wiab(run_cli, tmp_path):
    # The captured tree is an Ubuntu 24.04 cassandra VM. wiab names 24.04 but is one demo VM
    # with no cassandra role: no built-in profile has cassandra on 24.04, and the os check says so.
    code, out, err = run_cli(
        "check", "--root", captured_tree(tmp_path), "--role", "cassandra", "--json"
    )
    assert code in (3, 4), err
    os_result = {r["id"]: r for r in json.loads(out)["checks"]}["os"]
    assert os_result["status"] == WARN
    assert "wiab" not in os_result["message"].split("(", 1)[0]
    assert "--profile wiab" not in os_result["message"] + os_result["remedy"]
    assert "no built-in profile has the role cassandra on ubuntu 24.04" in os_result["message"]
    assert "wiab has this release, but not the role cassandra" in os_result["message"]
    assert os_result["remedy"].startswith("install ubuntu 18.04")


def test_root_and_facts_together_are_bad_usage(run_cli, tmp_path):
    code, _out, err = run_cli(
        "check", "--role", "cassandra", "--root", str(tmp_path), "--facts", "x.json"
    )
    assert code == 2 and "give one of them" in err
    code, _out, err = run_cli("facts", "--root", str(tmp_path / "nope"))
    assert code == 2 and "not a directory" in err


def test_a_run_without_a_primary_address_keeps_what_was_remembered(base_facts, tmp_path):
    directory = str(tmp_path / "state")
    assert state.save(directory, base_facts)[0]
    outage = with_changes(base_facts, network__primary=None)
    assert state.save(directory, outage)[0]
    remembered = state.load(directory, outage)
    assert remembered["primary"]["address"] == "192.168.122.21"
    result = one(judge(outage, ["cassandra"], previous=remembered), "ip-drift")
    assert result.status == WARN
    assert "still remembering 192.168.122.21" in result.message
    # And the next normal run compares with the address, not with None.
    again = one(judge(base_facts, ["cassandra"], previous=remembered), "ip-drift")
    assert again.status == PASS


def test_a_null_address_remembered_by_an_older_agent_is_no_change(base_facts):
    previous = {"primary": None, "seen_at": "2026-11-19T09:00:00Z", "file": "x"}
    result = one(judge(base_facts, ["cassandra"], previous=previous), "ip-drift")
    assert result.status == PASS and "saw no primary address" in result.message


def test_missing_ip_says_so_and_how_to_install_it(base_facts, monkeypatch):
    from wire_preflight.facts import network, programs

    monkeypatch.setattr(programs, "which", lambda name: None)
    try:
        network.collect()
    except OSError as exc:
        from wire_preflight.facts import describe_os_error

        reason = describe_os_error(exc)
    assert "apt install iproute2" in reason
    facts = with_changes(base_facts, network=None)
    facts["errors"] = {"network": reason}
    result = one(judge(facts, ["cassandra"]), "ip-static")
    assert result.status == ERROR
    assert "not installed" in result.message
    assert result.remedy.startswith("install iproute2")
    assert "root" not in result.remedy


def test_live_facts_without_ip_on_path(run_cli, monkeypatch, tmp_path):
    # A host whose PATH and sbin directories have no `ip`: the area is reported, not raised.
    from wire_preflight.facts import programs

    monkeypatch.setattr(programs, "which", lambda name: None)
    code, out, _err = run_cli("facts", "--json")
    assert code == 0
    facts = json.loads(out)
    assert facts["network"] is None
    assert "apt install iproute2" in facts["errors"]["network"]
    assert os.path.isdir("/sys/class/net")  # the live readers still ran


def _fake_ip(tmp_path, monkeypatch, script):
    """An `ip` of our own on the agent's lookup: a shell script given the same arguments."""
    from wire_preflight.facts import programs

    fake = tmp_path / "ip"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)
    monkeypatch.setattr(programs, "which", lambda name: str(fake) if name == "ip" else None)


def test_both_ip_calls_run_side_by_side(tmp_path, monkeypatch):
    """The addresses' call waits for the routes' call to have started: it answers only if
    both run at once (one after the other, it would give up and fail)."""
    from wire_preflight.facts import network

    flag = tmp_path / "routes-started"
    _fake_ip(
        tmp_path,
        monkeypatch,
        f'if [ "$2" = route ]; then touch {flag}; echo "[]"; exit 0; fi\n'
        f"for i in $(seq 50); do [ -e {flag} ] && break; sleep 0.1; done\n"
        f'[ -e {flag} ] || {{ echo "routes never started" >&2; exit 1; }}\n'
        """echo '[{"ifname": "ens3", "ifindex": 2, "addr_info": [{"family": "inet", """
        """"local": "192.168.122.21", "prefixlen": 24, "scope": "global"}]}]'\n""",
    )
    facts = network.collect()
    assert [i["name"] for i in facts["interfaces"]] == ["ens3"]
    assert facts["default_routes"] == []


def test_a_failing_ip_is_the_network_area_error_and_leaves_no_process(tmp_path, monkeypatch):
    from wire_preflight.facts import network

    _fake_ip(
        tmp_path,
        monkeypatch,
        'if [ "$2" = addr ]; then echo "Cannot talk to rtnetlink" >&2; exit 1; fi\nsleep 30\n',
    )
    calls = network.IpCalls()
    routes = calls.running[network.DEFAULT_ROUTES]
    with pytest.raises(OSError) as raised:
        network.collect(calls)
    assert str(raised.value) == "[Errno 1] ip addr show failed: Cannot talk to rtnetlink"
    assert calls.running == {} and routes.returncode is not None  # killed and reaped


def test_live_facts_collect_the_network_through_a_fake_ip(tmp_path, monkeypatch):
    """facts.collect starts the calls before the other areas and reads them in its own."""
    from wire_preflight import facts

    _fake_ip(tmp_path, monkeypatch, 'echo "not json"\n')
    collected = facts.collect(["/"])
    assert collected["network"] is None
    assert collected["errors"]["network"].startswith("could not parse: ")

"""ip-static, ip-range, ip-drift and time-sync on facts."""

import copy

import pytest
from helpers import fixture_path, judge, one, with_changes
from wire_preflight.facts import netconfig
from wire_preflight.model import ERROR, FAIL, PASS, SKIP, WARN


def dynamic(facts, lifetime=3412):
    out = copy.deepcopy(facts)
    entry = out["network"]["interfaces"][1]["addresses"][0]
    entry.update(dynamic=True, valid_lifetime=lifetime, preferred_lifetime=lifetime)
    return out


def test_static_primary_passes(base_facts):
    result = one(judge(base_facts, ["cassandra"]), "ip-static")
    assert result.status == PASS
    assert result.observed == "192.168.122.21 on ens3"


def test_finite_lifetime_warns_with_the_netplan_stanza(base_facts):
    result = one(judge(dynamic(base_facts), ["cassandra"]), "ip-static")
    assert result.status == WARN
    assert "valid for 3412 s more" in result.message
    assert "dhcp4: false, addresses: [192.168.122.21/24]" in result.remedy
    assert "via: 192.168.122.1" in result.remedy
    assert "/etc/netplan/50-cloud-init.yaml" in result.remedy


def test_dhcp_configuration_warns_even_when_the_kernel_says_permanent(base_facts):
    facts = with_changes(base_facts)
    facts["network_config"]["netplan"]["interfaces"]["ens3"]["dhcp4"] = True
    result = one(judge(facts, ["cassandra"]), "ip-static")
    assert result.status == WARN
    assert "sets dhcp4: true for ens3" in result.message


def test_every_configuration_source_counts_as_evidence(base_facts):
    facts = with_changes(base_facts)
    facts["network_config"] = netconfig.collect(fixture_path("netconfig-dhcp"))
    for name, index, address in [
        ("ens5", 5, "10.9.0.5"),
        ("ens7", 7, "192.168.9.21"),
        ("ens8", 8, "192.168.12.8"),
        ("ens10", 2, "172.16.5.40"),
    ]:
        facts["network"]["interfaces"].append(
            {
                "name": name,
                "index": index,
                "mac": f"52:54:00:00:00:0{index}",
                "addresses": [
                    {
                        "family": "inet",
                        "address": address,
                        "prefixlen": 24,
                        "scope": "global",
                        "dynamic": False,
                        "valid_lifetime": None,
                    }
                ],
            }
        )
    facts["network"]["interfaces"][1]["index"] = 99  # the lease file "2" is ens10's
    expectations = {
        "ens5": "NetworkManager",
        "ens7": "dhclient lease",
        "ens8": "inet dhcp",
        "ens10": "systemd-networkd",
    }
    for name, words in expectations.items():
        result = one(judge(facts, ["cassandra"], target_interface=name), "ip-static")
        assert result.status == WARN, (name, result)
        assert words in result.message, (name, result.message)


def test_unreadable_configuration_is_an_error_not_a_pass(base_facts):
    facts = with_changes(base_facts)
    facts["network_config"]["errors"] = [
        {"file": "/etc/netplan/50-cloud-init.yaml", "error": "not valid YAML: bad indent"}
    ]
    result = one(judge(facts, ["cassandra"]), "ip-static")
    assert result.status == ERROR
    assert "not valid YAML" in result.message


def test_ip_not_on_this_host_fails(base_facts):
    result = one(judge(base_facts, ["cassandra"], target_ip="192.168.122.99"), "ip-static")
    assert result.status == FAIL
    assert "not an address of this host" in result.message


def test_unknown_interface_is_an_error(base_facts):
    result = one(judge(base_facts, ["cassandra"], target_interface="eth9"), "ip-static")
    assert result.status == ERROR and "no interface eth9" in result.message


def test_no_default_route(base_facts):
    facts = with_changes(base_facts, network__primary=None)
    assert one(judge(facts, ["cassandra"]), "ip-static").status == ERROR
    assert one(judge(facts, ["cassandra"]), "ip-range").status == ERROR


def address_facts(base, address, prefix):
    facts = with_changes(base)
    entry = facts["network"]["interfaces"][1]["addresses"][0]
    entry.update(address=address, prefixlen=prefix)
    facts["network"]["primary"].update(address=address, prefixlen=prefix)
    return facts


@pytest.mark.parametrize(
    "address,prefix,status,words",
    [
        ("192.168.122.21", 24, PASS, "clear"),
        ("172.20.1.5", 16, PASS, "clear"),
        ("10.233.5.5", 24, FAIL, "inside Kubernetes' range 10.233.0.0/18"),
        ("10.233.70.1", 24, FAIL, "10.233.64.0/18"),
        ("10.0.0.5", 8, FAIL, "overlaps"),  # 10/8 contains the cluster's ranges: routes clash
        ("10.1.2.3", 16, WARN, "Avoid 10.x.x.x"),
    ],
)
def test_ip_range(base_facts, address, prefix, status, words):
    result = one(judge(address_facts(base_facts, address, prefix), ["kubernetes"]), "ip-range")
    assert result.status == status, result
    assert words in result.message


def test_k8s_cidr_override(base_facts):
    facts = address_facts(base_facts, "172.20.1.5", 24)
    result = one(judge(facts, ["kubernetes"], k8s_cidrs=["172.20.0.0/16"]), "ip-range")
    assert result.status == FAIL and "172.20.0.0/16" in result.message


def test_ipv6_primary_is_skipped(base_facts):
    facts = address_facts(base_facts, "2001:db8::5", 64)
    assert one(judge(facts, ["cassandra"]), "ip-range").status == SKIP


def test_ip_drift(base_facts):
    previous = {
        "primary": {"address": "192.168.122.20", "interface": "ens3"},
        "seen_at": "2026-11-19T09:00:00Z",
        "file": "/var/lib/wire-preflight/x.json",
    }
    changed = one(judge(base_facts, ["cassandra"], previous=previous), "ip-drift")
    assert changed.status == FAIL
    assert "from 192.168.122.20 to 192.168.122.21" in changed.message
    same = dict(previous, primary={"address": "192.168.122.21"})
    assert one(judge(base_facts, ["cassandra"], previous=same), "ip-drift").status == PASS
    first = one(judge(base_facts, ["cassandra"], previous=None), "ip-drift")
    assert first.status == PASS and "first run" in first.message
    broken = one(judge(base_facts, ["cassandra"], previous={"error": "bad JSON"}), "ip-drift")
    assert broken.status == ERROR
    unwritable = one(judge(base_facts, ["cassandra"], state_error="Permission denied"), "ip-drift")
    assert unwritable.status == WARN


@pytest.mark.parametrize("synchronized,status", [(True, PASS), (False, FAIL), (None, WARN)])
def test_time_sync(base_facts, synchronized, status):
    facts = with_changes(base_facts, time__synchronized=synchronized)
    result = one(judge(facts, ["admin"]), "time-sync")
    assert result.status == status
    assert result.evidence["source"] == "adjtimex"

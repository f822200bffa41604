"""Fleet rules any profile can turn on (same MTU, hostname = inventory name) and the
inventory's interface variables, on the WIAB staging fleet (wire-server-deploy 682349dc)."""

import json

import pytest
from helpers import FIXTURES, fixture_path, make_report
from wire_preflight import profiles
from wire_preflight.facts import network
from wire_preflight.fleet import inventory, rules
from wire_preflight.fleet.summary import summarize

STAGING = profiles.load("wiab-staging")
STAGING_YML = f"{FIXTURES}/wire-server-deploy/682349dc/ansible/inventory/offline/staging.yml"
VMS = {
    "assethost": ["asset"],
    "kubenode1": ["kubernetes"],
    "kubenode2": ["kubernetes"],
    "kubenode3": ["kubernetes"],
    "datanode1": ["datanode"],
    "datanode2": ["datanode"],
    "datanode3": ["datanode"],
}


def staging_reports(base, mtus=None, names=None, interface="ens3"):
    reports = []
    for index, (name, roles) in enumerate(VMS.items()):
        report = make_report(
            base, (names or {}).get(name, name), roles, "adminhost", f"192.168.122.{10 + index}"
        )
        report["profile"]["name"] = "wiab-staging"
        iface = report["facts"]["network"]["interfaces"][1]
        iface["name"] = interface
        report["facts"]["network"]["primary"]["interface"] = interface
        if mtus is not None and name in mtus:
            iface["mtu"] = mtus[name]
        reports.append(report)
    return reports


def judge(reports, planned=None, profile=STAGING):
    return rules.judge([summarize(r) for r in reports], profile, planned)


def by_id(findings, rule):
    return [f for f in findings if f["id"] == rule]


def test_primary_mtu_is_a_fact_from_iproute2():
    with open(fixture_path("ip-addr.json")) as handle:
        interfaces = network.parse_addresses(json.load(handle))
    assert {i["name"]: i["mtu"] for i in interfaces} == {
        "lo": 65536,
        "ens3": 1500,
        "ens4": 1500,
        "docker0": 1500,
    }
    routes = [{"dev": "ens3", "gateway": "192.168.122.1", "metric": 0, "protocol": "static"}]
    assert network.primary_address(interfaces, routes)["mtu"] == 1500


def test_same_mtu_everywhere_passes(base_facts):
    found = by_id(judge(staging_reports(base_facts, dict.fromkeys(VMS, 1500))), "mtu")
    assert [(f["status"], len(f["hosts"])) for f in found] == [("pass", 7)]


def test_the_odd_ones_out_are_named_against_the_majority(base_facts):
    mtus = dict.fromkeys(VMS, 1500)
    mtus.update(kubenode3=1450, datanode2=9000)
    (found,) = by_id(judge(staging_reports(base_facts, mtus)), "mtu")
    assert found["status"] == "fail"
    assert found["hosts"] == ["datanode2", "kubenode3"]
    assert "the other 5 host(s) have 1500" in found["message"]
    assert "1450 on kubenode3" in found["message"] and "9000 on datanode2" in found["message"]
    assert "MTU 1500" in found["remedy"]


def test_no_majority_is_said(base_facts):
    mtus = {"kubenode1": 1500, "kubenode2": 1500, "datanode1": 9000, "datanode2": 9000}
    (found,) = by_id(judge(staging_reports(base_facts, mtus)), "mtu")
    assert found["status"] == "fail" and "no MTU is shared by most hosts" in found["message"]
    assert len(found["hosts"]) == 4
    # Reports from agents that did not send MTUs are named, not guessed.
    assert "MTU not reported by assethost, datanode3, kubenode3" in found["message"]


def test_old_reports_without_mtu_make_no_finding(base_facts):
    assert by_id(judge(staging_reports(base_facts)), "mtu") == []


def test_profiles_that_do_not_ask_get_no_mtu_rule(base_facts):
    mtus = dict.fromkeys(VMS, 1500)
    mtus["kubenode1"] = 1400
    classic = profiles.load("classic")
    assert by_id(judge(staging_reports(base_facts, mtus), profile=classic), "mtu") == []


def planned_from(text, tmp_path, name="inventory.ini"):
    path = tmp_path / name
    path.write_text(text)
    return inventory.planned_for(inventory.load(str(path)), STAGING)


STAGING_INI = """
[assethost]
assethost ansible_host=192.168.122.10
[kube-node]
kubenode[1:3] ansible_host=192.168.122.1{n}
[datanodes]
datanode1 ansible_host=192.168.122.14
datanode2 ansible_host=192.168.122.15
datanode3 ansible_host=192.168.122.16
[etcd:children]
kube-node
[rmq-cluster:children]
datanodes
[rmq-cluster:vars]
rabbitmq_network_interface={iface}
"""


def staging_ini(iface="ens3"):
    # kubenode1-3 by range, each at its own address: the range gives one line per host here.
    text = STAGING_INI.replace(
        "kubenode[1:3] ansible_host=192.168.122.1{n}",
        "\n".join(f"kubenode{n} ansible_host=192.168.122.1{n}" for n in (1, 2, 3)),
    )
    return text.replace("{iface}", iface)


def test_hostnames_equal_to_inventory_names_pass(base_facts, tmp_path):
    planned = planned_from(staging_ini(), tmp_path)
    found = by_id(judge(staging_reports(base_facts), planned), "inventory-hostname")
    assert [f["status"] for f in found] == ["pass"]


def test_each_hostname_that_differs_is_a_finding(base_facts, tmp_path):
    planned = planned_from(staging_ini(), tmp_path)
    reports = staging_reports(base_facts, names={"datanode1": "ubuntu", "kubenode2": "node-b"})
    found = by_id(judge(reports, planned), "inventory-hostname")
    assert sorted(tuple(f["hosts"]) for f in found) == [
        ("datanode1", "ubuntu"),
        ("kubenode2", "node-b"),
    ]
    assert all(f["status"] == "fail" for f in found)
    assert "hostnamectl set-hostname datanode1" in " ".join(f["remedy"] for f in found)


def test_hostnames_compare_as_dns_does(base_facts, tmp_path):
    planned = planned_from(staging_ini(), tmp_path)
    reports = staging_reports(
        base_facts, names={"datanode1": "DataNode1.", "kubenode2": "KUBENODE2"}
    )
    found = by_id(judge(reports, planned), "inventory-hostname")
    assert [f["status"] for f in found] == ["pass"]


def test_the_staging_inventory_names_the_data_nodes_interface(base_facts, tmp_path):
    planned = inventory.planned_for(inventory.load(STAGING_YML), STAGING)
    interfaces = {p["name"]: p["interfaces"] for p in planned if p["interfaces"]}
    assert interfaces["datanode1"] == {
        "cassandra_network_interface": "enp1s0",
        "postgresql_network_interface": "enp1s0",
        "elasticsearch_network_interface": "enp1s0",
        "minio_network_interface": "enp1s0",
        "rabbitmq_network_interface": "enp1s0",
    }
    # The data nodes report ens3: the inventory's enp1s0 is not theirs.
    found = by_id(judge(staging_reports(base_facts), planned), "inventory-interface")
    assert sorted(h for f in found for h in f["hosts"]) == ["datanode1", "datanode2", "datanode3"]
    assert "it has ens3" in found[0]["message"]
    ok = by_id(
        judge(staging_reports(base_facts, interface="enp1s0"), planned), "inventory-interface"
    )
    assert ok == []


def test_an_interface_without_ipv4_fails(base_facts, tmp_path):
    planned = planned_from(staging_ini(), tmp_path)
    reports = staging_reports(base_facts)
    for report in reports:
        for addr in report["facts"]["network"]["interfaces"][1]["addresses"]:
            addr["address"] = "2001:db8::" + report["hostname"][-1]
    found = by_id(judge(reports, planned), "inventory-interface")
    assert found and "carries no IPv4 address" in found[0]["message"]


@pytest.mark.parametrize(
    "path,expected",
    [
        (f"{FIXTURES}/wire-server-deploy/682349dc/ansible/inventory/offline/99-static", "enp7s0"),
    ],
)
def test_the_2026_static_inventory_interfaces(path, expected):
    current = profiles.load("current")
    planned = {p["name"]: p for p in inventory.planned_for(inventory.load(path), current)}
    assert planned["postgresql1"]["interface"] == expected  # postgresql_network_interface=enp7s0
    assert planned["cassandra1"]["interface"] == "enp1s0"  # "cassandra_network_interface = enp1s0"
    assert planned["rabbitmq2"]["interface"] == "enp7s0"
    assert planned["kubenode1"]["interface"] is None


def test_fleet_roles_gives_the_rollout_each_hosts_interface(run_cli):
    code, out, _ = run_cli(
        "fleet", "--inventory", STAGING_YML, "--profile", "wiab-staging", "roles"
    )
    assert code == 0
    hosts = json.loads(out)["hosts"]
    assert hosts["datanode2"]["interface"] == "enp1s0"
    assert hosts["datanode2"]["roles"] == ["datanode"]
    assert hosts["kubenode1"]["interface"] is None and hosts["kubenode1"]["etcd"] is True
    assert hosts["kubenode1"]["k8s_cidrs"] == []


def test_one_physical_machine_is_the_plan_not_a_spread_failure(base_facts, tmp_path):
    planned = inventory.planned_for(inventory.load(STAGING_YML), STAGING)
    findings = judge(
        staging_reports(base_facts, dict.fromkeys(VMS, 1500), interface="enp1s0"), planned
    )
    spread = by_id(findings, "physical-spread")
    assert [f["status"] for f in spread] == ["pass"]  # etcd's 3 VMs on one machine included
    assert rules.verdict(findings) == "PASS", [f for f in findings if f["status"] != "pass"]

"""WIAB dev (the wiab profile): Kubernetes' ranges from wire-server-deploy's demo inventory
(ansible/inventory/demo/host.yml at 682349dc), and ip-range never naming an empty list."""

import json

from helpers import FIXTURES, judge, one, with_changes
from wire_preflight import profiles
from wire_preflight.fleet import inventory
from wire_preflight.model import FAIL, PASS

DEMO = f"{FIXTURES}/wire-server-deploy/682349dc/ansible/inventory/demo/host.yml"


def test_the_demo_inventory_names_minikubes_networks():
    wiab = profiles.load("wiab")
    (host,) = inventory.planned_for(inventory.load(DEMO), wiab)
    assert host["name"] == "deploy_node" and host["roles"] == ["wiab"]
    assert host["k8s_cidrs"] == ["10.233.0.0/16", "192.168.99.0/24"]
    # The built-in profile says the same as the inventory it was taken from.
    assert wiab.k8s_cidrs == host["k8s_cidrs"]


def test_fleet_roles_hands_the_ranges_to_the_rollout(run_cli):
    code, out, _ = run_cli("fleet", "--inventory", DEMO, "--profile", "wiab", "roles")
    assert code == 0
    assert json.loads(out)["hosts"]["deploy_node"]["k8s_cidrs"] == [
        "10.233.0.0/16",
        "192.168.99.0/24",
    ]


def test_kubespray_vars_in_an_inventory_are_read_too(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text(
        "[kube-node]\nkubenode1\n[k8s-cluster:children]\nkube-node\n[k8s-cluster:vars]\n"
        "kube_service_addresses=10.96.0.0/12\nkube_pods_subnet = 172.20.0.0/16\n"
        'pod_network_cidr="{{ kube_pods_subnet }}"\n'
    )
    (host,) = inventory.planned_for(inventory.load(str(path)), profiles.load("current"))
    assert host["k8s_cidrs"] == ["10.96.0.0/12", "172.20.0.0/16"]  # a template is left alone


def test_an_address_in_minikubes_node_subnet_fails(base_facts):
    facts = with_changes(base_facts)
    facts["network"]["interfaces"][1]["addresses"][0]["address"] = "192.168.99.7"
    facts["network"]["primary"]["address"] = "192.168.99.7"
    result = one(judge(facts, ["wiab"], profile="wiab"), "ip-range")
    assert result.status == FAIL and "192.168.99.0/24" in result.message


def test_a_profile_without_kubernetes_ranges_names_only_10_x(base_facts, tmp_path):
    with open(profiles.resolve("wiab")) as handle:
        text = handle.read()
    start = text.index("[kubernetes]")
    end = text.index("[fleet]")
    path = tmp_path / "no-ranges.toml"
    path.write_text(text[:start] + text[end:])
    result = one(judge(base_facts, ["wiab"], profile=str(path)), "ip-range")
    assert result.status == PASS
    assert result.expected == "outside 10.0.0.0/8"

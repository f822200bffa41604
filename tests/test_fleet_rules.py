"""Fleet rules on saved reports: counts, spread over physical servers, clones, etcd, clocks."""

import json
import os

import pytest
from helpers import classic_fleet, fixture_path, make_report
from wire_preflight import profiles
from wire_preflight.fleet import document, inventory, rules
from wire_preflight.fleet.summary import summarize

CLASSIC = profiles.load("classic")


def read_fixture(*parts):
    with open(fixture_path(*parts)) as handle:
        return handle.read()


def judge(reports, planned=None, received=None):
    hosts = [summarize(r, received) for r in reports]
    return rules.judge(hosts, CLASSIC, planned)


def by_id(findings, rule, status=None):
    return [f for f in findings if f["id"] == rule and (status is None or f["status"] == status)]


def test_a_fleet_as_planned_passes(base_facts):
    findings = judge(classic_fleet(base_facts))
    assert [f for f in findings if f["status"] in ("fail", "warn")] == []
    assert rules.verdict(findings) == "PASS"
    spread = by_id(findings, "physical-spread")[0]
    assert spread["status"] == "pass" and "3 physical server" in spread["message"]


def test_three_cassandra_on_two_servers_fails_naming_the_server(base_facts):
    reports = classic_fleet(base_facts)
    for report in reports:
        if report["hostname"] == "cassandra3":
            report["physical_host"] = "s1"
    failed = by_id(judge(reports), "physical-spread", "fail")
    assert len(failed) == 1
    message = failed[0]["message"]
    assert (
        "losing physical server s1 takes 2 of 3 cassandra VMs (cassandra1, cassandra3)" in message
    )
    assert "cassandra loses its quorum (1 of 3 left)" in message
    assert failed[0]["hosts"] == ["cassandra1", "cassandra3"]


def test_both_restund_on_one_server_fails(base_facts):
    reports = classic_fleet(base_facts)
    for report in reports:
        if report["hostname"] == "restund2":
            report["physical_host"] = "s1"
    failed = by_id(judge(reports), "physical-spread", "fail")
    assert any("no restund is left" in f["message"] for f in failed)


def test_fewer_physical_servers_than_the_plan(base_facts):
    failed = by_id(
        judge(classic_fleet(base_facts, servers=("s1", "s2"))), "physical-spread", "fail"
    )
    assert any("2 physical server(s)" in f["message"] for f in failed)


def test_hosts_without_a_physical_server_warn(base_facts):
    reports = classic_fleet(base_facts)
    reports[0]["physical_host"] = None
    warned = by_id(judge(reports), "physical-spread", "warn")
    assert warned and "cassandra1" in warned[0]["hosts"]


def test_cloned_machine_id_and_mac(base_facts):
    reports = classic_fleet(base_facts)
    clone = make_report(
        base_facts,
        "cassandra4",
        ["cassandra"],
        "s2",
        machine_id=reports[0]["facts"]["machine_id"],
        mac=reports[0]["facts"]["network"]["interfaces"][1]["mac"],
    )
    found = by_id(judge([*reports, clone]), "duplicate-identity", "fail")
    messages = " ".join(f["message"] for f in found)
    assert "machine-id" in messages and "MAC" in messages
    assert all(set(f["hosts"]) == {"cassandra1", "cassandra4"} for f in found)
    assert any("systemd-machine-id-setup" in f["remedy"] for f in found)


def test_duplicate_hostname_product_uuid_and_address(base_facts):
    one = make_report(
        base_facts,
        "node",
        ["cassandra"],
        "s1",
        machine_id="a" * 32,
        address="192.168.1.5",
        product_uuid="u-1",
    )
    two = make_report(
        base_facts,
        "node",
        ["cassandra"],
        "s2",
        machine_id="b" * 32,
        address="192.168.1.5",
        product_uuid="u-1",
    )
    labels = {
        f["message"].split()[0] for f in by_id(judge([one, two]), "duplicate-identity", "fail")
    }
    assert {"hostname", "product_uuid", "address"} <= labels


def test_virtual_interfaces_do_not_make_clones(base_facts):
    one = make_report(base_facts, "a", ["cassandra"], "s1")
    two = make_report(base_facts, "b", ["cassandra"], "s2")
    for report in (one, two):
        report["facts"]["network"]["interfaces"].append(
            {
                "name": "docker0",
                "mac": "02:42:00:00:00:01",
                "link_type": "ether",
                "addresses": [
                    {"family": "inet", "address": "172.17.0.1", "prefixlen": 16, "scope": "global"}
                ],
            }
        )
    assert by_id(judge([one, two]), "duplicate-identity", "fail") == []


@pytest.mark.parametrize(
    "count,status", [(2, "fail"), (3, "pass"), (4, "fail"), (5, "pass"), (1, "fail")]
)
def test_etcd_count(base_facts, count, status):
    reports = [make_report(base_facts, f"kube{i}", ["kubernetes"], f"s{i}") for i in range(count)]
    found = by_id(judge(reports), "etcd-odd")
    assert [f["status"] for f in found] == [status]


def test_etcd_members_come_from_the_inventory_group(base_facts, tmp_path):
    text = read_fixture("inventory", "hosts.ini").replace(
        "[etcd]\nkubenode[1:3]", "[etcd]\nkubenode[1:2]"
    )
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    planned = inventory.planned_hosts(inventory.load(str(path)), CLASSIC.inventory_groups)
    reports = [
        make_report(base_facts, f"kubenode{i}", ["kubernetes"], f"server{i}") for i in (1, 2, 3)
    ]
    found = by_id(judge(reports, planned), "etcd-odd")
    assert found[0]["status"] == "fail" and found[0]["hosts"] == ["kubenode1", "kubenode2"]


def test_clock_skew_measured_through_the_collector(base_facts):
    reports = classic_fleet(base_facts)[:3]
    received = 1795165964.0
    for offset, report in zip((0.0, 0.02, 0.25), reports):
        report["sent_at"] = received + offset
    found = by_id(judge(reports, received=received), "clock-skew")
    assert found[0]["status"] == "fail"
    assert "250 ms apart (elasticsearch1 ahead of cassandra1)" in found[0]["message"]
    reports[2]["sent_at"] = received + 0.05
    assert by_id(judge(reports, received=received), "clock-skew")[0]["status"] == "pass"


def test_clock_skew_from_ntp_estimates(base_facts):
    reports = classic_fleet(base_facts)[:2]
    # The fixture's kernel runs in nanosecond mode (STA_NANO in status 0x2001).
    reports[1]["facts"]["time"]["offset"] = 150_000_000  # 150 ms ahead of its NTP source
    found = by_id(judge(reports), "clock-skew")
    assert found[0]["status"] == "fail"
    reports[1]["facts"]["time"]["offset"] = 10_000_000
    reports[1]["facts"]["time"]["maxerror_us"] = 200_000  # but unsure by up to 200 ms
    assert by_id(judge(reports), "clock-skew")[0]["status"] == "warn"


def test_unsynchronised_hosts_have_no_clock_reading(base_facts):
    reports = classic_fleet(base_facts)[:2]
    reports[1]["facts"]["time"]["synchronized"] = False
    found = by_id(judge(reports), "clock-skew")
    assert found[0]["status"] == "warn" and found[0]["hosts"] == ["minio1"]


def test_role_count_and_failing_hosts(base_facts):
    reports = [r for r in classic_fleet(base_facts) if r["hostname"] != "minio3"]
    reports[0]["checks"].append({"id": "memory", "role": "cassandra", "status": "fail"})
    findings = judge(reports)
    minio = [f for f in by_id(findings, "role-count", "fail") if f["roles"] == ["minio"]]
    assert minio and "2 of the 3 VMs" in minio[0]["message"]
    failing = by_id(findings, "host-checks", "fail")
    assert failing[0]["hosts"] == ["cassandra1"] and "memory" in failing[0]["message"]


def test_demo_fleet_needs_only_the_demo_vm(base_facts):
    findings = judge([make_report(base_facts, "demo1", ["demo"], "s1")])
    counts = by_id(findings, "role-count")
    assert [(f["roles"], f["status"]) for f in counts] == [(["demo"], "pass")]


def planned_classic():
    return inventory.planned_hosts(
        inventory.load(fixture_path("inventory", "hosts.ini")),
        CLASSIC.inventory_groups,
        CLASSIC.etcd_group,
    )


def inventory_fleet(base_facts):
    reports = []
    for host in planned_classic():
        reports.append(
            make_report(base_facts, host["name"], host["roles"], None, address=host["ansible_host"])
        )
    return reports


def test_inventory_fleet_reporting_completely(base_facts):
    reports = [r for r in inventory_fleet(base_facts)]
    reports.append(make_report(base_facts, "admin", ["admin"], "server1"))
    findings = judge(reports, planned_classic())
    bad = [
        f for f in findings if f["status"] in ("fail", "warn") and f["id"] != "inventory-unexpected"
    ]
    assert bad == []
    # physical_host came from the inventory's host vars
    assert by_id(findings, "physical-spread", "pass")


def test_inventory_rules(base_facts):
    reports = [r for r in inventory_fleet(base_facts) if r["hostname"] != "minio2"]
    for report in reports:
        if report["hostname"] == "cassandra1":
            report["roles"] = ["cassandra", "minio"]
        if report["hostname"] == "kubenode2":  # its ip= var is 192.168.10.12
            report["facts"]["network"]["interfaces"][1]["addresses"][0]["address"] = "10.9.9.9"
            report["facts"]["network"]["primary"]["address"] = "10.9.9.9"
    reports.append(make_report(base_facts, "stray", ["cassandra"], "server1"))
    findings = judge(reports, planned_classic())
    assert by_id(findings, "inventory-missing")[0]["hosts"] == ["minio2"]
    assert by_id(findings, "inventory-unexpected")[0]["hosts"] == ["stray"]
    role = by_id(findings, "inventory-role")[0]
    assert role["hosts"] == ["cassandra1"] and "--role cassandra" in role["remedy"]
    ip = by_id(findings, "inventory-ip")[0]
    assert ip["hosts"] == ["kubenode2"] and "ip=192.168.10.12" in ip["message"]


def planned_with_cassandra3_on_server1(tmp_path):
    """The classic inventory with a bad plan: two of three Cassandra VMs on server1."""
    text = read_fixture("inventory", "hosts.ini").replace(
        "cassandra3 ansible_host=192.168.10.23 physical_host=server3",
        "cassandra3 ansible_host=192.168.10.23 physical_host=server1",
    )
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    return inventory.planned_hosts(inventory.load(str(path)), CLASSIC.inventory_groups)


def test_planned_fleet_is_judged_too(base_facts, tmp_path):
    planned = planned_with_cassandra3_on_server1(tmp_path)
    findings = judge([], planned)
    # Nothing has reported: the fleet is judged as planned, and that is said once.
    fails = by_id(findings, "physical-spread", "fail")
    assert [f["server"] for f in fails if "cassandra loses its quorum" in f["message"]] == [
        "server1"
    ]


# -- `wire-preflight fleet --from DIR` ------------------------------------------------------------


def save(directory, reports):
    os.makedirs(str(directory), exist_ok=True)
    for report in reports:
        with open(os.path.join(str(directory), report["hostname"] + ".json"), "w") as handle:
            json.dump(report, handle)


def test_fleet_from_dir_json(run_cli, tmp_path, base_facts):
    save(tmp_path / "reports", classic_fleet(base_facts))
    code, out, _ = run_cli("fleet", "--from", str(tmp_path / "reports"), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["verdict"] == "PASS"
    assert doc["schema"] == document.FLEET_SCHEMA
    assert len(doc["hosts"]) == 16
    assert {"hostname", "roles", "physical_host", "status"} <= set(doc["hosts"][0])
    cassandra = [r for r in doc["roles"] if r["role"] == "cassandra"][0]
    assert (cassandra["planned"], cassandra["reported"]) == (3, 3)


def test_fleet_from_dir_keeps_the_newest_report_per_host(run_cli, tmp_path, base_facts):
    old = make_report(
        base_facts,
        "cassandra1",
        ["cassandra"],
        "s1",
        failing=["memory"],
        generated_at="2026-11-20T00:00:00Z",
    )
    new = make_report(
        base_facts, "cassandra1", ["cassandra"], "s1", generated_at="2026-11-28T00:00:00Z"
    )
    save(tmp_path / "a", [old])
    save(tmp_path / "b", [new])
    code, out, _ = run_cli("fleet", "--from", str(tmp_path), "--json")
    hosts = json.loads(out)["hosts"]
    assert code == 3  # one host is not the fleet the plan asks for
    assert len(hosts) == 1 and hosts[0]["status"] == "pass"


def test_fleet_from_dir_with_inventory_and_a_broken_report(run_cli, tmp_path, base_facts):
    directory = tmp_path / "reports"
    save(directory, inventory_fleet(base_facts)[:-1])
    (directory / "broken.json").write_text('{"schema": "wire-preflight/report/1"')
    (directory / "hostile.json").write_text(
        json.dumps({"schema": "wire-preflight/report/1", "hostname": 5})
    )
    code, out, err = run_cli(
        "fleet", "--from", str(directory), "--inventory", fixture_path("inventory", "hosts.ini")
    )
    assert code == 3
    assert "skipped" in err and "broken.json" in err and "'report_id'" in err
    assert "inventory-missing" in out and "restund2" in out
    assert out.startswith("fleet: FAIL")


def test_fleet_needs_exactly_one_source(run_cli, tmp_path):
    assert run_cli("fleet")[0] == 2
    assert run_cli("fleet", "--from", str(tmp_path / "nope"))[0] == 2


def test_one_matcher_name_first_then_either_address():
    planned = [
        {"name": "a", "ip": "10.0.0.1", "ansible_host": "192.168.0.1", "roles": [], "etcd": True},
        {"name": "b", "ip": None, "ansible_host": "192.168.0.2", "roles": [], "etcd": False},
    ]
    match = rules.match_planned
    assert match({"hostname": "b", "addresses": ["10.0.0.1"]}, planned)["name"] == "b"
    assert match({"hostname": "x", "addresses": ["10.0.0.1"]}, planned)["name"] == "a"
    assert match({"hostname": "x", "addresses": ["192.168.0.1"]}, planned)["name"] == "a"
    assert match({"hostname": "x", "addresses": ["192.168.0.9"]}, planned) is None
    # Addresses matching two entries: the inventory's first, whatever the host's order.
    both = {"hostname": "x", "addresses": ["192.168.0.2", "10.0.0.1"]}
    assert match(both, planned)["name"] == "a"
    hosts = [
        {"hostname": "x", "addresses": ["192.168.0.1"], "roles": []},
        {"hostname": "b", "addresses": ["10.0.0.1"], "roles": ["kubernetes"]},
    ]
    # etcd membership goes through the same matcher: by ansible_host too, and b is b by name
    assert [h["hostname"] for h in rules.etcd_members(hosts, planned)] == ["x"]


def _scan(host, planned):
    """The matcher as it was, one inventory scan per host: the index must agree with it."""
    by_name = next((p for p in planned if p["name"] == host.get("hostname")), None)
    if by_name:
        return by_name
    addresses = set(host.get("addresses") or [])
    return next(
        (p for p in planned if p.get("ansible_host") in addresses or p.get("ip") in addresses), None
    )


def test_the_indexed_matcher_agrees_with_a_scan_of_the_inventory():
    import random

    rng = random.Random(20261129)
    pool = [f"10.0.0.{n}" for n in range(12)]  # few addresses: shared and repeated ones
    for _ in range(300):
        planned = [
            {
                "name": rng.choice(["a", "b", "c", "d", "e"]),  # repeated names too
                "ansible_host": rng.choice([*pool, None]),
                "ip": rng.choice([*pool, None, None]),
            }
            for _ in range(rng.randint(0, 8))
        ]
        match = rules.planned_matcher(planned)
        for _ in range(10):
            host = {
                "hostname": rng.choice(["a", "b", "x", None]),
                "addresses": rng.sample(pool, rng.randint(0, 4)),
            }
            assert match(host) is _scan(host, planned), (host, planned)


def test_the_matcher_skips_what_is_not_a_string():
    planned = [
        {"name": "a", "ansible_host": ["10.0.0.1"], "ip": None},  # a YAML list, by mistake
        {"name": "b", "ansible_host": "10.0.0.2", "ip": None},
    ]
    match = rules.planned_matcher(planned)
    assert match({"hostname": "b", "addresses": []})["name"] == "b"
    assert match({"hostname": "x", "addresses": ["10.0.0.2"]})["name"] == "b"
    assert match({"hostname": ["b"], "addresses": [None]}) is None


# -- a partly reporting fleet is judged on the plan ---------------------------------------------


def not_passing(findings):
    return [f for f in findings if f["status"] in ("fail", "warn")]


def test_one_host_not_reporting_yet_is_one_finding(base_facts):
    reports = [r for r in inventory_fleet(base_facts) if r["hostname"] != "cassandra2"]
    reports.append(make_report(base_facts, "admin", ["admin"], "server1"))
    findings = [f for f in judge(reports, planned_classic()) if f["id"] != "inventory-unexpected"]
    assert [(f["id"], f["hosts"]) for f in not_passing(findings)] == [
        ("inventory-missing", ["cassandra2"])
    ]
    count = [f for f in by_id(findings, "role-count") if f["roles"] == ["cassandra"]]
    assert len(count) == 1, count  # the plan and the reporting fleet agree: said once
    assert count[0]["message"] == ("cassandra: 3 VMs (plan: 3); 1 not reporting yet: cassandra2")


def test_etcd_is_counted_from_the_inventory_group(base_facts):
    # One Kubernetes node has reported; the inventory's [etcd] lists three.
    reports = [r for r in inventory_fleet(base_facts) if r["hostname"] == "kubenode3"]
    findings = judge(reports, planned_classic())
    etcd = by_id(findings, "etcd-odd")
    assert len(etcd) == 1 and etcd[0]["status"] == "pass"
    assert etcd[0]["hosts"] == ["kubenode1", "kubenode2", "kubenode3"]
    assert etcd[0]["message"] == (
        "3 etcd members in the inventory's etcd group; 2 not reporting yet: kubenode1, kubenode2"
    )


def test_spread_is_judged_on_the_planned_placement(base_facts):
    # kubenode3 alone has reported: losing server3 takes 1 of the 3 planned etcd members
    # and Kubernetes nodes, not "1 of 1".
    reports = [r for r in inventory_fleet(base_facts) if r["hostname"] == "kubenode3"]
    findings = judge(reports, planned_classic())
    spread = by_id(findings, "physical-spread")
    assert [f["status"] for f in spread] == ["pass"], spread
    assert "3 physical server(s)" in spread[0]["message"]
    # Each missing host is one finding, nothing else fails for their absence.
    assert {f["id"] for f in not_passing(findings)} == {"inventory-missing", "role-count"}
    missing = by_id(findings, "inventory-missing")
    assert len(missing) == len(planned_classic()) - 1
    # The one role-count failure is the plan's own: the inventory has no admin VM.
    assert [f["roles"] for f in by_id(findings, "role-count", "fail")] == [["admin"]]


def test_a_reported_placement_against_the_plan_names_the_server_and_who_is_missing(base_facts):
    # cassandra1 reports from server2, where the plan puts cassandra2 (not reporting yet):
    # losing server2 would take two of the three cassandra VMs.
    reports = [r for r in inventory_fleet(base_facts) if r["hostname"] != "cassandra2"]
    for report in reports:
        if report["hostname"] == "cassandra1":
            report["physical_host"] = "server2"
    failed = by_id(judge(reports, planned_classic()), "physical-spread", "fail")
    assert len(failed) == 1 and failed[0]["scope"] == "reported"
    assert failed[0]["server"] == "server2"
    assert failed[0]["hosts"] == ["cassandra1", "cassandra2"]
    assert (
        "losing physical server server2 takes 2 of 3 cassandra VMs "
        "(cassandra1, cassandra2 (not reporting)): cassandra loses its quorum (1 of 3 left)"
    ) in failed[0]["message"]


def test_a_bad_plan_is_said_once_when_the_fleet_follows_it(base_facts, tmp_path):
    planned = planned_with_cassandra3_on_server1(tmp_path)
    reports = [make_report(base_facts, "cassandra1", ["cassandra"], address="192.168.10.21")]
    failed = by_id(judge(reports, planned), "physical-spread", "fail")
    assert len(failed) == 1 and failed[0]["server"] == "server1"
    assert failed[0]["hosts"] == ["cassandra1", "cassandra3"]


# -- the registry -------------------------------------------------------------------------------


def test_every_finding_judge_makes_is_a_registered_rule_of_its_own_id(base_facts):
    reports = classic_fleet(base_facts)
    made = {f["id"] for f in judge(reports, planned_classic())}
    judged = {rule.id for rule in rules.RULES if rule.function is not None}
    assert made <= judged
    assert {"role-count", "physical-spread", "inventory-missing"} <= made


def test_ids_are_unique_and_each_rule_says_who_makes_it():
    assert len(rules.rule_ids()) == len(set(rules.rule_ids()))
    for rule in rules.RULES:
        assert (rule.function is None) == (rule.made_by != "judge"), rule.id


def test_a_finding_with_an_unregistered_id_is_refused():
    with pytest.raises(AssertionError, match="unregistered"):
        rules.finding("physical-sprad", "fail", "a typo in an id")


def test_a_rule_that_makes_another_rules_finding_is_refused(base_facts):
    hosts = [summarize(r) for r in classic_fleet(base_facts)]
    fleet = rules.fleet_of(hosts, CLASSIC)
    stray = rules.Rule("role-count", lambda f: [rules.finding("mtu", "pass", "not mine")])
    with pytest.raises(AssertionError, match="role-count made a finding with id 'mtu'"):
        rules.run(stray, fleet)

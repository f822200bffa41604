"""Drift between two snapshots of a host: pure functions."""

from helpers import GIB, make_report
from wire_preflight.fleet.drift import compare, on_report, snapshot


def kinds(events):
    return [e[0] for e in events]


def test_unchanged_reports_make_no_events(base_facts):
    one = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
    two = make_report(base_facts, "cassandra1", ["cassandra"], "s1")
    two["facts"]["disks"][0]["free_bytes"] -= 10**6  # a little less free space is not drift
    assert compare(snapshot(one), snapshot(two)) == []


def test_address_and_memory_changes_carry_before_and_after(base_facts):
    one = make_report(base_facts, "cassandra1", ["cassandra"], "s1", address="192.168.1.5")
    two = make_report(base_facts, "cassandra1", ["cassandra"], "s1", address="192.168.1.9")
    two["facts"]["memory"]["installed_bytes"] = 8 * GIB
    events = {e[0]: e for e in compare(snapshot(one), snapshot(two))}
    assert set(events) == {"ip-changed", "memory-changed"}
    _, before, after, detail = events["ip-changed"]
    assert before["primary"] == "192.168.1.5" and after["primary"] == "192.168.1.9"
    assert detail == "primary address 192.168.1.5 -> 192.168.1.9"
    assert events["memory-changed"][1:3] == (4 * GIB, 8 * GIB)


def test_memtotal_wobble_is_not_a_memory_change(base_facts):
    one = make_report(base_facts, "a", ["cassandra"])
    two = make_report(base_facts, "a", ["cassandra"])
    for report in (one, two):
        del report["facts"]["memory"]["installed_bytes"]
    two["facts"]["memory"]["total_bytes"] += 8 * 1024 * 1024  # a new kernel's reservations
    assert compare(snapshot(one), snapshot(two)) == []
    two["facts"]["memory"]["total_bytes"] = 2 * GIB
    assert kinds(compare(snapshot(one), snapshot(two))) == ["memory-changed"]


def test_os_cpu_role_changes(base_facts):
    one = make_report(base_facts, "a", ["cassandra"])
    two = make_report(base_facts, "a", ["cassandra", "minio"])
    two["facts"]["os"]["version_id"] = "20.04"
    two["facts"]["cpu"]["logical_count"] = 4
    assert kinds(compare(snapshot(one), snapshot(two))) == [
        "os-changed",
        "cpu-changed",
        "role-changed",
    ]


def test_disk_resized_and_free_space_crossing_the_threshold(base_facts):
    one = make_report(base_facts, "a", ["cassandra"])
    two = make_report(base_facts, "a", ["cassandra"])
    disk = two["facts"]["disks"][0]
    disk["free_bytes"] = disk["total_bytes"] // 20
    events = compare(snapshot(one), snapshot(two), free_warn_fraction=0.10)
    assert kinds(events) == ["disk-changed"] and "fell below 10%" in events[0][3]
    assert kinds(compare(snapshot(two), snapshot(one))) == ["disk-changed"]  # rose above
    disk["total_bytes"] *= 2
    assert "filesystem" in compare(snapshot(one), snapshot(two))[0][3]


def test_checks_regress_and_recover(base_facts):
    one = make_report(base_facts, "a", ["cassandra"])
    two = make_report(base_facts, "a", ["cassandra"])
    two["checks"][0]["status"] = "fail"
    events = compare(snapshot(one), snapshot(two))
    assert kinds(events) == ["check-regressed"]
    assert events[0][1]["status"] == "pass" and events[0][2]["status"] == "fail"
    assert kinds(compare(snapshot(two), snapshot(one))) == ["check-recovered"]


def test_container_bridges_coming_and_going_are_not_ip_drift(base_facts):
    # The same addresses the fleet rules compare: docker0's 172.17.0.1 is on every
    # container host and says nothing about the node's own address.
    one = make_report(base_facts, "a", ["kubernetes"])
    two = make_report(base_facts, "a", ["kubernetes"])
    two["facts"]["network"]["interfaces"].append(
        {
            "name": "docker0",
            "mac": "02:42:00:00:00:01",
            "link_type": "ether",
            "addresses": [
                {"family": "inet", "address": "172.17.0.1", "prefixlen": 16, "scope": "global"}
            ],
        }
    )
    assert compare(snapshot(one), snapshot(two)) == []


def test_what_one_arriving_report_raises(base_facts):
    """The collector's event rules, without a database: first report, a late one, a return."""
    first = snapshot(make_report(base_facts, "cassandra1", ["cassandra"], "s1"))
    [(kind, before, after, detail)] = on_report(None, first, newer=True)
    assert (kind, before, after["roles"]) == ("new-host", None, ["cassandra"])
    assert detail == "first report, roles cassandra"
    grown = snapshot(make_report(base_facts, "cassandra1", ["cassandra", "kubernetes"], "s1"))
    known = {"snapshot": first, "stale": False}
    assert on_report(known, grown, newer=False) == []  # a late spooled report is history
    assert [e[0] for e in on_report(known, grown, newer=True)] == ["role-changed"]
    back = on_report({"snapshot": first, "stale": True}, first, newer=True)
    assert [e[0] for e in back] == ["returned"]
    assert on_report({"snapshot": None, "stale": False}, first, newer=True) == []


def test_a_disk_without_a_path_is_left_out_of_the_snapshot(base_facts):
    # The collector's schema lets a disk's path be missing: such a disk cannot be matched with
    # the next report's, and as a None key beside the paths it broke compare's sorting.
    one = make_report(base_facts, "a", ["cassandra"])
    one["facts"]["disks"].append({"total_bytes": 10**10, "free_bytes": 10**9})
    two = make_report(base_facts, "a", ["cassandra"])
    two["facts"]["disks"].append({"total_bytes": 10**10, "free_bytes": 10**9})
    assert sorted(snapshot(one)["disks"]) == [d["path"] for d in base_facts["disks"]]
    assert compare(snapshot(one), snapshot(two)) == []

"""Saved reports for the README's `fleet --from` example: the inventory fixture's fleet
(tests/fixtures/inventory/hosts.ini) made from the facts fixture, partly reporting and with
the mistakes the fleet rules are there to catch. Usage: docs_fleet_reports.py DIR"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers import fixture_path, make_report


def main(directory):
    from wire_preflight import profiles
    from wire_preflight.fleet import inventory

    classic = profiles.load("classic")
    planned = inventory.planned_hosts(
        inventory.load(fixture_path("inventory", "hosts.ini")),
        classic.inventory_groups,
        classic.etcd_group,
    )
    with open(fixture_path("facts-ubuntu1804-kvm-4g.json")) as handle:
        base = json.load(handle)
    os.makedirs(directory, exist_ok=True)
    reports = []
    for host in planned:
        if host["name"] == "minio3":  # has not reported yet
            continue
        failing = ["memory"] if host["name"] == "cassandra2" else []
        # cassandra3 runs on server1, not where the inventory puts it
        server = "server1" if host["name"] == "cassandra3" else host["physical_host"]
        reports.append(
            make_report(
                base,
                host["name"],
                host["roles"],
                server,
                address=host["ansible_host"],
                failing=failing,
            )
        )
    # the admin host runs ansible: it reports but is not in the inventory
    reports.append(make_report(base, "admin", ["admin"], "server1", address="192.168.10.5"))
    # kubenode3 is a clone of kubenode2: the same machine-id
    clone = next(r for r in reports if r["hostname"] == "kubenode2")["facts"]["machine_id"]
    next(r for r in reports if r["hostname"] == "kubenode3")["facts"]["machine_id"] = clone
    for report in reports:
        with open(os.path.join(directory, report["hostname"] + ".json"), "w") as handle:
            json.dump(report, handle)


if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/env python3
"""The fleet rules with an inventory, run by hand: `wire-preflight fleet --inventory` and the
collector's page (`serve --inventory`) judge the reporting fleet and the planned one on every
call. A synthetic fleet of N planned hosts, nine in ten reporting (one in nine of those under
another hostname, matched by address), judged in-process.

    python3 bench/fleet_rules.py --hosts 3000
"""

import argparse
import time

from wire_preflight import profiles
from wire_preflight.fleet import rules

ROLES = ["cassandra", "minio", "elasticsearch", "kubenode", "restund"]


def fleet(count):
    hosts, planned = [], []
    for i in range(count):
        roles = [ROLES[i % len(ROLES)]]
        address = f"192.168.{i // 250}.{i % 250 + 1}"
        planned.append(
            {
                "name": f"h{i}",
                "roles": roles,
                "groups": roles,
                "physical_host": f"server{i % 3 + 1}",
                "ansible_host": address,
                "ip": None,
                "etcd": i < 3,
            }
        )
        if i % 10:
            hosts.append(
                {
                    "hostname": f"h{i}" if i % 5 else f"renamed{i}",
                    "roles": roles,
                    "addresses": [address],
                    "checks": [],
                    "machine_id": f"{i:032x}",
                }
            )
    return hosts, planned


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    profile = profiles.load("classic")
    hosts, planned = fleet(args.hosts)
    for _ in range(args.runs):
        started = time.perf_counter()
        findings = rules.judge(hosts, profile, planned)
        print(
            f"{args.hosts} planned, {len(hosts)} reporting: {len(findings)} findings "
            f"in {time.perf_counter() - started:.2f} s"
        )


if __name__ == "__main__":
    main()

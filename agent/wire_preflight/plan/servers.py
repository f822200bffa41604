"""`plan --server`: a profile's VMs placed onto the operator's physical servers.

The glue between the profile (what each role's VM needs, vms.fleet_plan's rows with the SFT
cores included; which roles the fleet's spread rule judges) and the pure placement search
(placement.py), and the two outputs made from its result: the JSON document and an ansible
inventory in wire-server-deploy's group names that `fleet --inventory` reads back.
"""

import math
import re
from typing import Any, Dict, List, Sequence

from wire_preflight.fleet.rules import ETCD_HOST_ROLE, spread_needs
from wire_preflight.model import InputError
from wire_preflight.plan.placement import RESOURCES, Demand, Placement, Server, number, place
from wire_preflight.profiles import Profile

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SERVER_SYNTAX = "NAME=CORES,MEMORY_GB,DISK_GB (e.g. server1=16,64,2000)"


def parse_servers(values: Sequence[str]) -> List[Server]:
    """`--server NAME=CORES,MEMORY_GB,DISK_GB`, repeatable; sizes in the plan's units."""
    servers = []  # type: List[Server]
    for value in values:
        name, sep, sizes = value.partition("=")
        parts = sizes.split(",")
        if not sep or len(parts) != 3:
            raise InputError(f"--server {value!r}: expected {SERVER_SYNTAX}")
        if not _NAME.match(name):
            raise InputError(
                f"--server {value!r}: the name must be letters, digits, '.', '_' or '-'"
            )
        numbers = []
        for what, text in zip(("cores", "memory GB", "disk GB"), parts):
            try:
                amount = float(text)
            except ValueError:
                amount = math.nan
            if not math.isfinite(amount) or amount <= 0:
                raise InputError(
                    f"--server {value!r}: {what} must be a positive number, got {text.strip()!r}"
                )
            numbers.append(amount)
        if any(s.name == name for s in servers):
            raise InputError(f"--server {value!r}: server {name!r} is given twice")
        servers.append(Server(name, numbers[0], numbers[1], numbers[2]))
    return servers


def placed_rows(plan_doc: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The plan's rows that become VMs on the servers: the production fleet, or, for a
    profile that is nothing but standalone VMs (wire in a box), those."""
    rows = [r for r in plan_doc["roles"] if r["placement"] != "standalone"]
    return rows or list(plan_doc["roles"])


def demands(profile: Profile, plan_doc: Dict[str, Any]) -> List[Demand]:
    needs = spread_needs(profile)
    return [
        Demand(
            role=r["role"],
            vms=r["vms"],
            cores=r["cores"],
            memory_gb=r["memory_gb"],
            disk_gb=r["disk_gb"],
            need=needs.get(r["role"]),
        )
        for r in placed_rows(plan_doc)
    ]


def vm_names(placement: Placement, servers: Sequence[Server]) -> List[List[Dict[str, str]]]:
    """Each server's VMs, named role + number, numbered in the order the servers were given."""
    out = [[] for _ in servers]  # type: List[List[Dict[str, str]]]
    for role, counts in (placement.counts or {}).items():
        number_ = 0
        for position, count in enumerate(counts):
            for _ in range(count):
                number_ += 1
                out[position].append({"name": f"{role}{number_}", "role": role})
    return out


def place_plan(profile: Profile, plan_doc: Dict[str, Any], servers: List[Server]) -> Dict[str, Any]:
    """The placement document (the `placement` key of `plan --json`)."""
    wanted = demands(profile, plan_doc)
    minimum = plan_doc.get("min_physical_servers") or 0
    result = place(servers, wanted, minimum)
    names = vm_names(result, servers)
    order = [d.role for d in wanted]
    rows = []
    for position, server in enumerate(servers):
        capacity = dict(zip(RESOURCES, server.capacity()))
        load = dict(zip(RESOURCES, result.loads[position]))
        vms = sorted(names[position], key=lambda v: (order.index(v["role"]), v["name"]))
        rows.append(
            {
                "name": server.name,
                "capacity": capacity,
                "vms": vms,
                "load": {k: float(number(v)) for k, v in load.items()},
                "left": {k: float(number(capacity[k] - load[k])) for k in RESOURCES},
                "fits": result.counts is not None
                and all(load[k] <= capacity[k] + 1e-9 for k in RESOURCES),
            }
        )
    return {
        "fits": result.fits,
        "servers": rows,
        "reasons": result.reasons,
        "roles": order,
        "spread": {d.role: d.need for d in wanted if d.need},
        "min_physical_servers": minimum,
        "worst_utilisation": None if math.isinf(result.worst) else round(result.worst, 6),
        "complete": result.complete,
        "steps": result.steps,
    }


def inventory_text(profile: Profile, doc: Dict[str, Any], command: str) -> str:
    """An INI inventory in the profile's wire-server-deploy group names, `physical_host` set
    for every VM. A role with several groups is written in the one named like it, else the
    first the profile lists; etcd on the kubernetes VMs goes in the etcd group. Roles without
    a group (the admin host, which runs ansible) are noted in comments with their server."""
    groups = {}  # type: Dict[str, str]
    for group, role in profile.inventory_groups.items():
        if role not in groups or group == role:
            groups[role] = group
    # In the plan's order, each role's VMs by number.
    by_role = {role: [] for role in doc["roles"]}  # type: Dict[str, List[Dict[str, str]]]
    for server in doc["servers"]:
        for vm in server["vms"]:
            by_role.setdefault(vm["role"], []).append(dict(vm, server=server["name"]))
    lines = [
        f"# Written by: {command}",
        "# Every VM's physical server as placed; add ansible_host= and ip= for each VM.",
    ]
    unmapped: List[Dict[str, str]] = []
    for role, vms in by_role.items():
        vms.sort(key=lambda vm: int(vm["name"][len(role) :]))
        group_name = groups.get(role)
        if not vms:
            continue
        if group_name is None:
            unmapped += vms
            continue
        lines += ["", f"[{group_name}]"]
        lines += ["{} physical_host={}".format(vm["name"], vm["server"]) for vm in vms]
    etcd = by_role.get(ETCD_HOST_ROLE) if ETCD_HOST_ROLE in groups else None
    if etcd:
        lines += ["", f"[{profile.etcd_group}]"] + [vm["name"] for vm in etcd]
    if unmapped:
        lines += ["", f"# Not in the inventory (no group in profile {profile.name}):"]
        lines += [
            "#   {} ({}) on {}".format(vm["name"], vm["role"], vm["server"]) for vm in unmapped
        ]
    return "\n".join(lines) + "\n"

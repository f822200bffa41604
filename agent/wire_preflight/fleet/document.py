"""The fleet report: hosts, findings and the verdict, as `fleet --json` and the collector's
`GET /api/v1/fleet` return it."""

from typing import Any, Dict, Iterable, List, Optional

from wire_preflight.fleet import rules
from wire_preflight.model import WARN
from wire_preflight.profiles import Profile

FLEET_SCHEMA = "wire-preflight/fleet/1"
EXIT_CODES = {"PASS": 0, "FAIL": 3, "WARN": 4}


def build(
    hosts: List[Dict[str, Any]],
    profile: Profile,
    planned: Optional[List[Dict[str, Any]]] = None,
    problems: Iterable[str] = (),
) -> Dict[str, Any]:
    findings = [
        rules.finding(
            "report-invalid",
            WARN,
            problem,
            remedy="re-run `wire-preflight check --json` on that host",
        )
        for problem in problems
    ]
    findings += rules.judge(hosts, profile, planned)
    findings.sort(key=lambda f: (rules.ORDER[f["status"]], f["id"]))
    return {
        "schema": FLEET_SCHEMA,
        "profile": profile.name,
        "verdict": rules.verdict(findings),
        "roles": role_table(hosts, profile, planned),
        "hosts": hosts,
        "findings": findings,
        "reachability": reachability_matrix(hosts),
    }


def reachability_matrix(hosts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Roles x roles from the hosts' last `ports` runs: open, blocked and unproven paths,
    the blocked ones named."""
    cells = {}  # type: Dict[Any, Dict[str, Any]]
    for host in hosts:
        for probe in host.get("reachability") or []:
            key = (probe.get("from_role"), probe.get("to_role"))
            cell = cells.setdefault(
                key,
                {
                    "from": key[0],
                    "to": key[1],
                    "open": 0,
                    "blocked": 0,
                    "unproven": 0,
                    "failing": [],
                },
            )
            state = probe.get("state")
            if state in ("open", "refused"):
                cell["open"] += 1
            elif state == "open|filtered":
                cell["unproven"] += 1
            else:
                cell["blocked"] += 1
                cell["failing"].append(
                    "{} -> {}:{}/{} {}".format(
                        host["hostname"],
                        probe.get("peer"),
                        probe.get("port"),
                        probe.get("proto"),
                        state,
                    )
                )
    roles = sorted({r for key in cells for r in key if r})
    return {"roles": roles, "cells": [cells[k] for k in sorted(cells, key=str)]}


def role_table(
    hosts: List[Dict[str, Any]], profile: Profile, planned: Optional[List[Dict[str, Any]]]
) -> List[Dict[str, Any]]:
    """Per role: VMs the profile asks for, in the inventory, and reporting."""
    out = []
    for role in profile.roles.values():
        reporting = sorted(h["hostname"] for h in hosts if role.name in h.get("roles", []))
        in_inventory = (
            sorted(p["name"] for p in planned if role.name in p["roles"])
            if planned is not None
            else None
        )
        if role.placement == "standalone" and not reporting:
            continue
        out.append(
            {
                "role": role.name,
                "planned": role.vms,
                "inventory": len(in_inventory) if in_inventory is not None else None,
                "reported": len(reporting),
                "hosts": reporting,
            }
        )
    return out

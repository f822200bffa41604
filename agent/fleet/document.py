"""The fleet report: hosts, findings and the verdict, as `fleet --json` and the collector's
`GET /api/v1/fleet` return it."""

from typing import Any, Dict, Iterable, List, Optional

from wire_preflight.fleet import rules
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
            rules.WARN,
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
    }


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

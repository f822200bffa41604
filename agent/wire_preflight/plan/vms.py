"""The fleet a profile asks for, with every total derived from the profile's rows."""

from typing import Any, Dict, List

from wire_preflight.profiles import Profile
from wire_preflight.requirements import role_cores


def fleet_plan(profile: Profile, sft_users: int = 0) -> Dict[str, Any]:
    rows: List[Dict[str, Any]] = []
    for role in profile.roles.values():
        cores = role_cores(profile, role, sft_users)
        rows.append(
            {
                "role": role.name,
                "title": role.title,
                "placement": role.placement,
                "vms": role.vms,
                "cores": cores,
                "memory_gb": role.memory_gb,
                "memory_gib": role.memory_gib,
                "disk_gb": role.disk_gb,
                "note": role.note,
                "carries": list(role.carries),
            }
        )
    production = [r for r in rows if r["placement"] != "standalone"]
    each = [r for r in production if r["placement"] == "each-server"]
    per_server = _sum(each)
    per_server_all = _sum(production)
    fleet: Dict[str, Any] = {
        "vms": sum(r["vms"] for r in production),
        "cores": sum(r["cores"] * r["vms"] for r in production),
        "memory_gb": sum(r["memory_gb"] * r["vms"] for r in production),
        "disk_gb": sum(r["disk_gb"] * r["vms"] for r in production),
        # In GiB too when every row states GiB, as the plan does.
        "memory_gib": None
        if any(r["memory_gib"] is None for r in production)
        else sum(r["memory_gib"] * r["vms"] for r in production),
    }
    return {
        "profile": profile.name,
        "sft_users": sft_users,
        "roles": rows,
        "fleet_total": fleet,
        "per_server": per_server,
        "per_server_with_any_server_roles": per_server_all,
        "min_physical_servers": profile.fleet.get("min_physical_servers"),
        "notes": plan_notes(profile, fleet["vms"]),
    }


def _sum(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One VM of each row: what a physical server hosts."""
    return {
        "roles": [r["role"] for r in rows],
        "cores": sum(r["cores"] for r in rows),
        "memory_gb": sum(r["memory_gb"] for r in rows),
        "disk_gb": sum(r["disk_gb"] for r in rows),
    }


def plan_notes(profile: Profile, derived_vms: int) -> List[str]:
    """Where the plan's prose disagrees with its own table, say so rather than pick one."""
    notes = []
    for stated in profile.plan.get("stated_vm_totals", []):
        if stated.get("vms") != derived_vms:
            notes.append(
                'the plan says {} VMs ("{}"), but its table adds up to {}'.format(
                    stated.get("vms"), stated.get("quote", ""), derived_vms
                )
            )
    for item in profile.plan.get("unsized_components", []):
        notes.append(
            'the plan names {} ("{}") but gives it no size; no VM is counted for it'.format(
                item.get("name"), item.get("quote", "")
            )
        )
    for role in profile.roles.values():
        if (role.placement == "each-server" or role.carries) and role.note:
            notes.append(f"{role.name}: {role.note}")
    return notes

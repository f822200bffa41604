"""The plain-text forms of `facts`, `plan`, `profiles` and `fleet drift`: lists of lines.

(The check results' table is render/text.py; the fleet report's is fleet/render.py.)
"""

import time
from typing import Any, Dict, List, Sequence

from wire_preflight.render.text import printable

_FACT_KEYS = (
    "hostname",
    "machine_id",
    "product_uuid",
    "os",
    "kernel",
    "virtualization",
    "cpu",
    "memory",
)


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def facts_lines(snapshot: Dict[str, Any]) -> List[str]:
    lines = [f"{key:<15} {_flat(snapshot.get(key))}" for key in _FACT_KEYS]
    primary = (snapshot.get("network") or {}).get("primary")
    lines.append("{:<15} {}".format("primary", _flat(primary)))
    for disk in snapshot.get("disks") or []:
        lines.append(
            "{:<15} {} -> {} {} {} total={} free={}".format(
                "disk",
                disk["path"],
                disk.get("mountpoint"),
                disk.get("fstype"),
                disk.get("device"),
                disk["total_bytes"],
                disk["free_bytes"],
            )
        )
    for key, reason in sorted((snapshot.get("errors") or {}).items()):
        lines.append("{:<15} {}: {}".format("unreadable", key, reason))
    return lines


def plan_lines(doc: Dict[str, Any], profile_name: str, sft_users: int) -> List[str]:
    """The fleet a profile asks for (plan.fleet_plan's document) as a table and totals."""
    lines = [
        "profile {}{}".format(profile_name, f" with {sft_users} SFT users" if sft_users else ""),
        "{:<14} {:<12} {:>4} {:>6} {:>10} {:>8}".format(
            "ROLE", "PLACEMENT", "VMS", "CORES", "MEMORY GB", "DISK GB"
        ),
    ]
    for r in doc["roles"]:
        lines.append(
            "{:<14} {:<12} {:>4} {:>6g} {:>10g} {:>8g}".format(
                r["role"], r["placement"], r["vms"], r["cores"], r["memory_gb"], r["disk_gb"]
            )
        )
    total = doc["fleet_total"]
    lines.append(
        "fleet (without standalone roles): {} VMs, {:g} cores, {:g} GB memory, {:g} GB disk".format(
            total["vms"], total["cores"], total["memory_gb"], total["disk_gb"]
        )
    )
    for label, key in (
        ("per physical server", "per_server"),
        ("per physical server with any-server roles", "per_server_with_any_server_roles"),
    ):
        block = doc[key]
        lines.append(
            "{} ({}): {:g} cores, {:g} GB memory, {:g} GB disk".format(
                label,
                ", ".join(block["roles"]),
                block["cores"],
                block["memory_gb"],
                block["disk_gb"],
            )
        )
    if doc["min_physical_servers"]:
        lines.append("physical servers: at least {}".format(doc["min_physical_servers"]))
    lines += ["note: " + note for note in doc["notes"]]
    return lines


def profiles_lines(loaded: Sequence[Any], default: str) -> List[str]:
    lines = []
    for p in loaded:
        lines.append(
            "{}{}: {}".format(p.name, " (default)" if p.name == default else "", p.description)
        )
        lines.append("  os: {} {}".format(p.os_id, ", ".join(p.os_versions)))
        lines.append("  roles: {}".format(", ".join(p.roles)))
    return lines


def drift_lines(events: Sequence[Dict[str, Any]]) -> List[str]:
    """A collector's drift events, newest first as it sends them; times in UTC."""
    row = "{:<20} {:<24} {:<16} {:<8} {}"
    lines = [row.format("TIME (UTC)", "HOST", "KIND", "STATE", "DETAIL")]
    for event in events:
        lines.append(
            row.format(
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(event["time"])),
                printable(event["hostname"]),
                event["kind"],
                "open" if event["open"] else "accepted",
                printable(event["detail"]),
            )
        )
    lines.append(f"{len(events)} event(s)")
    return lines

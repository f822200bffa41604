"""The plain-text forms of `facts`, `plan`, `profiles` and `fleet drift`: lists of lines.

(The check results' table is render/text.py; the fleet report's is fleet/render.py.)
"""

import time
from typing import Any, Dict, List, Sequence

from wire_preflight.quantities import count as _count
from wire_preflight.quantities import number as _number
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


def _memory(gb: float, gib: Any) -> str:
    return f"{_number(gib)} GiB ({_number(gb)} GB)" if gib else _number(gb) + " GB"


def _sizes(block: Dict[str, Any]) -> str:
    return "{}, {} memory, {} GB disk".format(
        _count(block["cores"], "core"),
        _memory(block["memory_gb"], block.get("memory_gib")),
        _number(block["disk_gb"]),
    )


def plan_lines(doc: Dict[str, Any], profile_name: str, sft_users: int) -> List[str]:
    """The fleet a profile asks for (plan.fleet_plan's document) as a table and totals.
    Lines that would say nothing for this profile (no fleet beside a standalone VM, no role
    on every server) are left out."""
    rows = doc["roles"]
    cells = [
        (
            r["role"],
            r["placement"],
            str(r["vms"]),
            _number(r["cores"]),
            "{} GiB".format(_number(r["memory_gib"]))
            if r.get("memory_gib")
            else _number(r["memory_gb"]) + " GB",
            _number(r["disk_gb"]) + " GB",
        )
        for r in rows
    ]
    header = ("ROLE", "PLACEMENT", "VMS", "CORES", "MEMORY", "DISK")
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    # Names left-aligned, numbers right-aligned, each column as wide as its widest cell.
    row = "  ".join("{:" + ("<" if i < 2 else ">") + str(w) + "}" for i, w in enumerate(widths))
    lines = [
        "profile {}{}".format(profile_name, f" with {sft_users} SFT users" if sft_users else ""),
        row.format(*header),
    ]
    lines += [row.format(*c).rstrip() for c in cells]
    total = doc["fleet_total"]
    if total["vms"]:
        lines.append(
            "fleet (without standalone roles): {}, {}".format(
                _count(total["vms"], "VM"), _sizes(total)
            )
        )
    each = doc["per_server"]
    if each["roles"]:
        lines.append("per physical server ({}): {}".format(", ".join(each["roles"]), _sizes(each)))
        wider = doc["per_server_with_any_server_roles"]
        if wider["roles"] != each["roles"]:
            lines.append(
                "per physical server with any-server roles ({}): {}".format(
                    ", ".join(wider["roles"]), _sizes(wider)
                )
            )
    for r in rows:
        if r.get("carries"):
            carried = {c["role"]: c["vms"] for c in rows if c["role"] in r["carries"]}
            lines.append(
                "{} carries {}: {}".format(
                    r["role"],
                    ", ".join(f"{n} {name}" for name, n in carried.items()),
                    _sizes(r),
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

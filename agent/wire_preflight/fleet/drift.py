"""Drift: what changed between two consecutive reports of a host. Pure functions.

`snapshot` keeps the few things a drift rule compares (small enough to store per host);
`compare` turns two snapshots into events: (kind, before, after, detail).
"""

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from wire_preflight.fleet.summary import global_addresses

if TYPE_CHECKING:
    from wire_preflight.shapes import DriftSnapshot, SnapshotDisk

EVENT_KINDS = (
    "new-host",
    "ip-changed",
    "os-changed",
    "cpu-changed",
    "memory-changed",
    "disk-changed",
    "check-regressed",
    "check-recovered",
    "role-changed",
    "stale",
    "returned",
    # Identity: what the collector saw a credential try (see the collector's security model).
    "enroll-conflict",
    "foreign-report",
    "cloned-key",
    "machine-id-changed",
    "enroll-approved",
    "enroll-rejected",
    "enroll-expired",
    "rekeyed",
    "forgotten",
)
# MemTotal moves by a few MB with a new kernel; installed RAM does not move at all.
MEMTOTAL_TOLERANCE = 0.02

Event = Tuple[str, Any, Any, str]


def snapshot(report: Dict[str, Any]) -> "DriftSnapshot":
    facts = report.get("facts") or {}
    network = facts.get("network") or {}
    memory = facts.get("memory") or {}
    os_facts = facts.get("os") or {}
    return {
        "roles": sorted(report.get("roles") or []),
        "primary": (network.get("primary") or {}).get("address"),
        "addresses": global_addresses(network),
        "os": "{} {}".format(os_facts.get("id", ""), os_facts.get("version_id", "")).strip(),
        "cpu": (facts.get("cpu") or {}).get("logical_count"),
        "memory_installed": memory.get("installed_bytes"),
        "memory_total": memory.get("total_bytes"),
        "disks": {
            d["path"]: {
                "total": d.get("total_bytes"),
                "free": d.get("free_bytes"),
                "mountpoint": d.get("mountpoint"),
            }
            for d in facts.get("disks") or []
            # A disk without a path cannot be matched with the next report's (and a None key
            # beside the paths would not sort).
            if isinstance(d, dict) and isinstance(d.get("path"), str)
        },
        "checks": {
            "{}|{}".format(c.get("id"), c.get("role") or ""): c.get("status")
            for c in report.get("checks") or []
        },
    }


def on_report(
    previous: Optional[Dict[str, Any]],
    current: "DriftSnapshot",
    newer: bool,
    free_warn_fraction: float = 0.10,
) -> List[Event]:
    """The events one arriving report raises.

    `previous` is what is known of the host ({"snapshot": ..., "stale": bool}, None for a host
    never seen); `newer` says whether this report is newer than the one that made it (a spooled
    report delivered late is history, not a change).
    """
    if previous is None:
        return [
            (
                "new-host",
                None,
                {"roles": current["roles"], "primary": current["primary"]},
                "first report, roles {}".format(",".join(current["roles"]) or "none"),
            )
        ]
    if not newer:
        return []
    found = []  # type: List[Event]
    if previous.get("stale"):
        found.append(("returned", None, None, "reports again"))
    if previous.get("snapshot"):
        found += compare(previous["snapshot"], current, free_warn_fraction)
    return found


def compare(
    before: "DriftSnapshot", after: "DriftSnapshot", free_warn_fraction: float = 0.10
) -> List[Event]:
    events = []  # type: List[Event]
    if before.get("primary") != after.get("primary") or before.get("addresses") != after.get(
        "addresses"
    ):
        events.append(
            (
                "ip-changed",
                {"primary": before.get("primary"), "addresses": before.get("addresses")},
                {"primary": after.get("primary"), "addresses": after.get("addresses")},
                "primary address {} -> {}".format(before.get("primary"), after.get("primary")),
            )
        )
    if before.get("os") != after.get("os"):
        events.append(
            (
                "os-changed",
                before.get("os"),
                after.get("os"),
                "{} -> {}".format(before.get("os"), after.get("os")),
            )
        )
    if before.get("cpu") != after.get("cpu"):
        events.append(
            (
                "cpu-changed",
                before.get("cpu"),
                after.get("cpu"),
                "{} -> {} cores".format(before.get("cpu"), after.get("cpu")),
            )
        )
    memory = _memory_change(before, after)
    if memory:
        events.append(memory)
    events += _disk_changes(before.get("disks") or {}, after.get("disks") or {}, free_warn_fraction)
    events += _check_changes(before.get("checks") or {}, after.get("checks") or {})
    if before.get("roles") != after.get("roles"):
        events.append(
            (
                "role-changed",
                before.get("roles"),
                after.get("roles"),
                "{} -> {}".format(
                    ",".join(before.get("roles") or []) or "none",
                    ",".join(after.get("roles") or []) or "none",
                ),
            )
        )
    return events


def _memory_change(before: "DriftSnapshot", after: "DriftSnapshot") -> Optional[Event]:
    old, new = before.get("memory_installed"), after.get("memory_installed")
    tolerance = 0.0
    if not (old and new):
        old, new = before.get("memory_total"), after.get("memory_total")
        tolerance = MEMTOTAL_TOLERANCE
    if not (old and new) or abs(new - old) <= tolerance * old:
        return None
    return ("memory-changed", old, new, f"{old / 1e9:.2f} GB -> {new / 1e9:.2f} GB")


def _disk_changes(
    before: Dict[str, "SnapshotDisk"], after: Dict[str, "SnapshotDisk"], free_warn_fraction: float
) -> List[Event]:
    events = []  # type: List[Event]
    for path in sorted(set(before) & set(after)):
        old, new = before[path], after[path]
        if old.get("total") != new.get("total"):
            events.append(
                (
                    "disk-changed",
                    {"path": path, "total_bytes": old.get("total")},
                    {"path": path, "total_bytes": new.get("total")},
                    "{}: filesystem {:.1f} GB -> {:.1f} GB".format(
                        path, (old.get("total") or 0) / 1e9, (new.get("total") or 0) / 1e9
                    ),
                )
            )
            continue
        was_low, is_low = _low(old, free_warn_fraction), _low(new, free_warn_fraction)
        if was_low != is_low:
            events.append(
                (
                    "disk-changed",
                    {"path": path, "free_bytes": old.get("free")},
                    {"path": path, "free_bytes": new.get("free")},
                    "{}: free space {} {:.0%}".format(
                        path, "fell below" if is_low else "rose above", free_warn_fraction
                    ),
                )
            )
    return events


def _low(disk: "SnapshotDisk", fraction: float) -> bool:
    total, free = disk.get("total") or 0, disk.get("free") or 0
    return bool(total) and free / total < fraction


def _check_changes(
    before: Dict[str, Optional[str]], after: Dict[str, Optional[str]]
) -> List[Event]:
    events = []  # type: List[Event]
    for key in sorted(set(before) & set(after)):
        old, new = before[key], after[key]
        check_id, _, role = key.partition("|")
        label = "{}{}".format(check_id, f" [{role}]" if role else "")
        if old == "pass" and new in ("warn", "fail", "error"):
            events.append(
                (
                    "check-regressed",
                    {"check": check_id, "role": role, "status": old},
                    {"check": check_id, "role": role, "status": new},
                    f"{label}: pass -> {new}",
                )
            )
        elif old in ("warn", "fail", "error") and new == "pass":
            events.append(
                (
                    "check-recovered",
                    {"check": check_id, "role": role, "status": old},
                    {"check": check_id, "role": role, "status": new},
                    f"{label}: {old} -> pass",
                )
            )
    return events

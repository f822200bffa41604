"""One configuration that may apply to an interface, and whether it applies to a given link.

Every reader (netplan, systemd-networkd, NetworkManager, ifupdown) turns its format into the
same record, so the per-interface verdict is decided in one place:

    {"source", "file", "id", "match": {key: [patterns]}, "negate": [keys],
     "dhcp4", "dhcp6", "addresses", "port_of", "method" (IPv4), "method6"}

`match` keys are name, mac, driver and type; every key given must hold (a list holds when any
of its patterns does; a key in `negate` holds when none does). An empty match selects every
link. `unchecked` lists selectors the agent cannot judge (e.g. networkd's Host=); they are
assumed to hold and said so.
"""

import fnmatch
from typing import Any, Dict, List, Optional

from wire_preflight.facts.links import normalize_mac

DHCP = "dhcp"
STATIC = "static"
PORT = "port"  # a bridge/bond member: it has no address of its own
NONE = "none"  # configured, but with neither addresses nor DHCP


def record(source: str, file: str, ident: str, **fields: Any) -> Dict[str, Any]:
    out = {
        "source": source,
        "file": file,
        "id": ident,
        "match": {},
        "negate": [],
        "dhcp4": False,
        "dhcp6": False,
        "addresses": [],
        "port_of": None,
    }  # type: Dict[str, Any]
    out.update(fields)
    out["method"] = method_of(out, "inet")
    out["method6"] = method_of(out, "inet6")
    return out


def method_of(entry: Dict[str, Any], family: str) -> str:
    """How the entry gives the interface an address of this family (inet, inet6)."""
    if entry.get("port_of"):
        return PORT
    if entry.get("dhcp4" if family == "inet" else "dhcp6"):
        return DHCP
    if any((":" in a) == (family == "inet6") for a in entry.get("addresses") or []):
        return STATIC
    return NONE


def matches(entry: Dict[str, Any], link: Dict[str, Any]) -> bool:
    negate = set(entry.get("negate") or [])
    for key, patterns in (entry.get("match") or {}).items():
        if not patterns:
            continue
        hit = any(_one(key, pattern, link) for pattern in patterns)
        if hit == (key in negate):
            return False
    return True


def _one(key: str, pattern: str, link: Dict[str, Any]) -> bool:
    if key == "mac":
        mac = normalize_mac(link.get("mac"))
        return mac is not None and mac == normalize_mac(pattern)
    value = link.get(key)
    if key == "type" and value is None:
        value = link.get("link_type")
    # A property the agent could not see (a driver with no /sys) cannot be shown to match.
    return value is not None and fnmatch.fnmatchcase(str(value), str(pattern))


def names_only(entry: Dict[str, Any]) -> Optional[List[str]]:
    """The exact names an entry is bound to, when it selects by plain name only."""
    match = entry.get("match") or {}
    names = match.get("name")
    if set(k for k, v in match.items() if v) != {"name"} or entry.get("negate"):
        return None
    if any(ch in n for n in names for ch in "*?["):
        return None
    return list(names)

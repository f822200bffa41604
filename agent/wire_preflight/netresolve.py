"""Which configuration applies to an interface: the pure half of the network configuration
facts, read by facts/netconfig.py (to record the verdict per interface) and by the ip-static
check (to judge a captured tree's configuration, and to find the file behind a lease).

Given the records every reader makes (netmatch) and the leases found, `resolve` picks, per
interface, the record of the tool that takes it (PRECEDENCE), as that tool picks among its
own (netplan: the lowest ID; networkd: the first file; NetworkManager: nm_best). No file is
read here.
"""

from typing import Any, Dict, List, Optional

from wire_preflight import netmatch

# When several tools configure one interface, the one that takes it: netplan renders to
# networkd or NetworkManager, networkd and ifupdown configure what they are given, and
# NetworkManager leaves alone the interfaces ifupdown configures (its ifupdown plugin's default).
PRECEDENCE = ("netplan", "networkd", "ifupdown", "networkmanager")
# The file ifupdown reads first; a stanza from facts of earlier agent versions names no file.
IFUPDOWN_MAIN = "/etc/network/interfaces"


def known_links(config: Dict[str, Any], kernel: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The interfaces to judge: the kernel's (iproute2's view, when there is one) completed
    with /sys (type, driver), else /sys alone, else the names the configuration gives."""
    by_name = {}  # type: Dict[str, Dict[str, Any]]
    for link in config.get("links") or []:
        by_name[link["name"]] = dict(link)
    for iface in kernel:
        name = iface.get("name")
        if not isinstance(name, str):
            continue  # nothing to match a configuration by (a malformed facts file)
        merged = by_name.setdefault(name, {"name": name})
        for key in ("index", "mac", "link_type"):
            if iface.get(key) is not None:
                merged[key] = iface[key]
    if not by_name:
        for entry in all_records(config):
            for name in netmatch.names_only(entry) or (
                [entry["set_name"]] if entry.get("set_name") else []
            ):
                by_name.setdefault(name, {"name": name})
    return [by_name[name] for name in sorted(by_name)]


def by_selector(config: Dict[str, Any]) -> List[Dict[str, Any]]:
    """With no link known (a captured tree without /sys): the records that name no interface
    (a glob, a MAC, a driver, any device of a type) of the tool that takes precedence, the
    highest in PRECEDENCE with any record, in the order that tool applies them."""
    records = [
        r for r in all_records(config) if not r.get("binds_no_link") and not r.get("loopback")
    ]
    for source in PRECEDENCE:
        mine = [r for r in records if r["source"] == source]
        if not mine:
            continue
        if source == "netplan":
            mine.sort(key=lambda r: str(r["id"]))
        return [r for r in mine if not (netmatch.names_only(r) or r.get("set_name"))]
    return []


def all_records(config: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every configuration record, also from facts saved by earlier versions of the agent."""
    out = []
    plan = config.get("netplan") or {}
    if "entries" in plan:
        out.extend(plan["entries"])
    else:
        for name, old in (plan.get("interfaces") or {}).items():
            out.append(
                netmatch.record(
                    "netplan",
                    old.get("file") or "",
                    name,
                    match={"name": [name]},
                    dhcp4=bool(old.get("dhcp4")),
                    addresses=list(old.get("addresses") or []),
                )
            )
    out.extend((config.get("networkd") or {}).get("networks") or [])
    nm = config.get("networkmanager") or {}
    if "profiles" in nm:
        out.extend(nm["profiles"])
    else:
        for name, old in nm.items():
            if isinstance(old, dict):
                method = old.get("ipv4_method")
                out.append(
                    netmatch.record(
                        "networkmanager",
                        old.get("file") or "",
                        name,
                        match={"name": [name]},
                        dhcp4=method == "auto",
                        ipv4_method=method,
                    )
                )
    out.extend(ifupdown_records(config.get("ifupdown") or {}))
    return out


def resolve(config: Dict[str, Any], link: Dict[str, Any]) -> Dict[str, Any]:
    """Which configuration applies to this interface, and what the leases say about it."""
    by_source = {source: [] for source in PRECEDENCE}  # type: Dict[str, List[Dict[str, Any]]]
    for entry in all_records(config):
        fits = (
            netmatch.netplan_applies(entry, link)
            if entry["source"] == "netplan"
            else netmatch.matches(entry, link)
        )
        if fits:
            by_source.setdefault(entry["source"], []).append(entry)
    chosen = {}  # type: Dict[str, Dict[str, Any]]
    for source, found in by_source.items():
        if not found:
            continue
        if source == "networkmanager":
            pick = nm_best(found)
        elif source == "netplan":
            # netplan's networkd renderer writes 10-netplan-<ID>.network per definition, and
            # networkd applies the first file by name: the lowest ID wins.
            pick = min(found, key=lambda e: str(e["id"]))
        else:
            pick = found[0]  # networkd: the first file by name; ifupdown: one per name
        if pick is not None:
            chosen[source] = pick
    applies = next((chosen[s] for s in PRECEDENCE if s in chosen), None)
    return {
        "name": link.get("name"),
        "applies": applies,
        "also": [chosen[s] for s in PRECEDENCE if s in chosen and chosen[s] is not applies],
        "leases": _leases(config, link, (chosen.get("networkmanager") or {}).get("uuid")),
    }


def _leases(
    config: Dict[str, Any], link: Dict[str, Any], nm_uuid: Optional[str]
) -> List[Dict[str, Any]]:
    out = []
    name = link.get("name")
    index = link.get("index")
    lease = (config.get("networkd_leases") or {}).get(str(index)) if index is not None else None
    if lease:
        out.append(dict(lease, client="systemd-networkd"))
    nm_leases = (config.get("networkmanager") or {}).get("leases")
    for lease in nm_lease_for(nm_leases, name, nm_uuid):
        out.append(dict(lease, client="NetworkManager"))
    lease = (config.get("dhclient_leases") or {}).get(name)
    if lease:
        out.append(dict(lease, client="dhclient"))
    return out


def summary(resolved: Dict[str, Any]) -> Dict[str, Any]:
    """The per-interface evidence the facts carry: which file applies, static or DHCP, and
    which addresses."""
    applies = resolved.get("applies")  # type: Optional[Dict[str, Any]]
    return {
        "source": applies["source"] if applies else None,
        "file": applies["file"] if applies else None,
        "id": applies["id"] if applies else None,
        "method": applies["method"] if applies else None,
        "method6": applies["method6"] if applies else None,
        "addresses": list(applies["addresses"]) if applies else [],
        "port_of": applies.get("port_of") if applies else None,
        # netplan only: the backend that renders it (networkd or NetworkManager).
        "renderer": applies.get("renderer") if applies else None,
        "also": [
            {"source": e["source"], "file": e["file"], "method": e["method"]}
            for e in resolved.get("also") or []
        ],
        "leases": [_lease_summary(lease) for lease in resolved.get("leases") or []],
    }


def _lease_summary(lease: Dict[str, Any]) -> Dict[str, Any]:
    out = {"client": lease["client"], "address": lease.get("address"), "file": lease["file"]}
    if lease.get("expire"):
        out["expire"] = lease["expire"]
    return out


def ifupdown_records(stanzas: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = []
    for name, stanza in sorted(stanzas.items()):
        methods = stanza.get("methods") or {"inet": stanza.get("method")}
        hooks = stanza.get("dhcp_hooks")
        if hooks is None:  # facts of earlier agent versions: one hook for the stanza
            hooks = {family: stanza.get("dhcp_hook") for family in methods}
        out.append(
            netmatch.record(
                "ifupdown",
                stanza.get("file") or IFUPDOWN_MAIN,
                name,
                match={"name": [name]},
                dhcp4=methods.get("inet") == "dhcp" or bool(hooks.get("inet")),
                dhcp6=methods.get("inet6") in ("dhcp", "auto") or bool(hooks.get("inet6")),
                addresses=list(stanza.get("addresses") or []),
                dhcp_hook=hooks.get("inet") or hooks.get("inet6"),
                loopback=methods.get("inet") == "loopback",
            )
        )
    return out


def nm_best(profiles: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Of the profiles that fit one device, the one NetworkManager activates by itself:
    autoconnect on, highest autoconnect-priority, then the most recently used."""
    candidates = [p for p in profiles if p.get("autoconnect", True)] or profiles
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.get("priority") or 0, p.get("timestamp") or 0))


def nm_lease_for(leases: Any, name: Optional[str], uuid: Optional[str]) -> List[Dict[str, Any]]:
    """The leases that speak for an interface: the applying profile's, when it has one; else
    every one kept for the interface (also from facts where each interface had one lease)."""
    found = (leases or {}).get(name) if isinstance(leases, dict) and name else None
    if not found:
        return []
    found = found if isinstance(found, list) else [found]
    own = [lease for lease in found if uuid and lease.get("uuid") == uuid]
    return own or found

"""The configuration that explains an address: is it meant to be static, or leased by DHCP?

The kernel's flags say how an address is held now; the configuration files say how it was
configured. Each format has its reader, which follows that tool's own rules for which files
count and how they combine (netplan, networkd, networkmanager, dhclient, ifupdown); each turns
its configuration into records (netmatch) that `resolve` matches against a real interface —
its name, MAC, type and driver — to say, per interface, which configuration applies, static
or DHCP, and with which addresses.

A file that cannot be read or parsed is listed under `errors` with its path and the reason,
and the others still count.
"""

from typing import Any, Dict, List, Optional

from wire_preflight.facts import (
    dhclient,
    ifupdown,
    links,
    netmatch,
    netplan,
    networkd,
    networkmanager,
)

# When several tools configure one interface, the one that takes it: netplan renders to
# networkd or NetworkManager, networkd and ifupdown configure what they are given, and
# NetworkManager leaves alone the interfaces ifupdown configures (its ifupdown plugin's default).
PRECEDENCE = ("netplan", "networkd", "ifupdown", "networkmanager")


def collect(root: str = "/") -> Dict[str, Any]:
    errors = []  # type: List[Dict[str, str]]
    config = {
        "links": links.collect(root, errors),
        "netplan": netplan.collect(root, errors),
        "networkd": networkd.collect(root, errors),
        "networkd_leases": networkd.leases(root, errors),
        "networkmanager": networkmanager.collect(root, errors),
        "dhclient_leases": dhclient.collect(root, errors),
        "ifupdown": ifupdown.collect(root, errors),
        "errors": errors,
    }  # type: Dict[str, Any]
    config["interfaces"] = {
        link["name"]: summary(resolve(config, link)) for link in known_links(config, [])
    }
    # Without /sys: configuration that names no interface, with what it selects.
    config["selected"] = (
        []
        if config["links"]
        else [
            dict(summary({"applies": entry}), selector=netmatch.selector(entry))
            for entry in by_selector(config)
        ]
    )
    return config


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
    out.extend(ifupdown.records(config.get("ifupdown") or {}))
    return out


def resolve(config: Dict[str, Any], link: Dict[str, Any]) -> Dict[str, Any]:
    """Which configuration applies to this interface, and what the leases say about it."""
    by_source = {source: [] for source in PRECEDENCE}  # type: Dict[str, List[Dict[str, Any]]]
    for entry in all_records(config):
        fits = (
            netplan.applies(entry, link)
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
            pick = networkmanager.best(found)
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
    for lease in networkmanager.lease_for(nm_leases, name, nm_uuid):
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


# Kept for callers of earlier versions: one netplan file's text -> {name: {dhcp4, addresses}}.
def parse_netplan(text: str) -> Dict[str, Dict[str, Any]]:
    network = netplan.load(text)
    out = {}
    for entry in netplan.records(network, {}):
        names = netmatch.names_only(entry) or [entry["set_name"] or entry["id"]]
        for name in names:
            out[str(name)] = {"dhcp4": entry["dhcp4"], "addresses": entry["addresses"]}
    return out

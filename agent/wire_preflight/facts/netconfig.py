"""The configuration that explains an address: is it meant to be static, or leased by DHCP?

The kernel's flags say how an address is held now; the configuration files say how it was
configured. Each format has its reader, which follows that tool's own rules for which files
count and how they combine (netplan, networkd, networkmanager, dhclient, ifupdown); each turns
its configuration into records (wire_preflight/netmatch.py) that `resolve`
(wire_preflight/netresolve.py, pure, shared with the ip-static check) matches against a real
interface — its name, MAC, type and driver — to say, per interface, which configuration
applies, static or DHCP, and with which addresses.

A file that cannot be read or parsed is listed under `errors` with its path and the reason,
and the others still count.
"""

from typing import Any, Dict, List

from wire_preflight import netmatch
from wire_preflight.facts import (
    dhclient,
    ifupdown,
    links,
    netplan,
    networkd,
    networkmanager,
)
from wire_preflight.netresolve import by_selector, known_links, resolve, summary


def collect(root: str = "/") -> Dict[str, Any]:
    errors: List[Dict[str, str]] = []
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


# Kept for callers of earlier versions: one netplan file's text -> {name: {dhcp4, addresses}}.
def parse_netplan(text: str) -> Dict[str, Dict[str, Any]]:
    network = netplan.load(text)
    out = {}
    for entry in netplan.records(network, {}):
        names = netmatch.names_only(entry) or [entry["set_name"] or entry["id"]]
        for name in names:
            out[str(name)] = {"dhcp4": entry["dhcp4"], "addresses": entry["addresses"]}
    return out

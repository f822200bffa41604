"""ip-static: the node's address is permanent in the kernel and no configuration leases it
by DHCP; on a captured tree, what the configuration files alone say."""

from typing import Any, Dict, List, Optional, Tuple

from wire_preflight import netmatch, netresolve
from wire_preflight.checks import Context
from wire_preflight.checks.address import (
    STATIC_REMEDY,
    STATIC_SOURCE,
    Target,
    find_target,
    network_missing,
)
from wire_preflight.model import ERROR, FAIL, PASS, WARN, CheckResult


def check_ip_static(context: Context) -> List[CheckResult]:
    if context.facts.get("network") is None:
        if context.facts.get("root"):
            return [configuration_only(context)]
        return [network_missing(context)]
    target = find_target(context)
    if target.problem:
        status = FAIL if target.chosen_by == "--ip" else ERROR
        return [
            context.result(
                status,
                observed=target.address,
                expected="a static address",
                message=target.problem,
                remedy="pass an address this host has (ip -br addr)",
                source=STATIC_SOURCE,
            )
        ]
    evidence, unreadable, applies = dhcp_evidence(context.facts, target)
    observed = f"{target.address} on {target.name}"
    details = {
        "address": target.address,
        "interface": target.name,
        "chosen_by": target.chosen_by,
        "dhcp_evidence": evidence,
        "unreadable": unreadable,
        "configuration": applies,
    }
    if evidence:
        return [
            context.result(
                WARN,
                observed=observed,
                expected="a static address",
                message="{} looks dynamic: {}".format(observed, "; ".join(evidence)),
                remedy=netplan_remedy(context.facts, target, applies),
                source=STATIC_SOURCE,
                evidence=details,
            )
        ]
    if unreadable:
        return [
            context.result(
                ERROR,
                observed=observed,
                expected="a static address",
                message="cannot tell whether {} is static: {}".format(
                    observed, "; ".join(unreadable)
                ),
                remedy="run as root so the network configuration can be read",
                source=STATIC_SOURCE,
                evidence=details,
            )
        ]
    how = (
        "{} {} configures it {}".format(
            _source_name(applies), applies["file"], _method_words(applies, target)
        )
        if applies
        else f"no DHCP configuration for {target.name}"
    )
    if applies and applies.get("unchecked"):
        # networkd [Match] keys the agent cannot judge (Host=, Virtualization=, ...).
        details["unchecked_match"] = list(applies["unchecked"])
        how += "; assumed to hold, not checked: {}".format(", ".join(applies["unchecked"]))
    return [
        context.result(
            PASS,
            observed=observed,
            expected="a static address",
            message=f"permanent in the kernel; {how}",
            source=STATIC_SOURCE,
            evidence=details,
        )
    ]


_SOURCE_NAMES = {
    "netplan": "netplan",
    "networkd": "systemd-networkd",
    "networkmanager": "NetworkManager",
    "ifupdown": "ifupdown",
}


def _source_name(entry: Dict[str, Any]) -> str:
    return _SOURCE_NAMES.get(entry.get("source") or "", str(entry.get("source")))


def _method_words(entry: Dict[str, Any], target: Target) -> str:
    family = (target.entry or {}).get("family") or "inet"
    method = entry.get("method6" if family == "inet6" else "method")
    if method == "static":
        return "statically ({})".format(", ".join(entry.get("addresses") or []))
    if method == "port":
        return "as a port of {}".format(entry.get("port_of"))
    return "with no address of its own"


def configuration_only(context: Context) -> CheckResult:
    """ip-static for a captured tree: no kernel view, so the configuration files alone say
    whether each interface's address is static."""
    config = context.facts.get("network_config") or {}
    wanted = context.target_interface
    verdicts = []  # type: List[Tuple[str, str, Dict[str, Any]]]
    links = netresolve.known_links(config, [])
    if wanted and not any(link["name"] == wanted for link in links):
        links.append({"name": wanted})
    taken = []  # type: List[Dict[str, Any]]
    for link in links:
        if wanted and link["name"] != wanted:
            continue
        resolved = netresolve.resolve(config, link)
        applies = resolved["applies"]
        if applies is None or applies.get("loopback") or link.get("link_type") == "loopback":
            continue
        if link["name"] == "lo":
            continue
        taken.append(applies)
        verdicts.append((link["name"], applies["method"], applies))
    # Without /sys no link is known: a record that selects by glob, MAC or driver is judged
    # by what it selects ("interfaces matching en* (netplan entry all-en)").
    selected = [] if wanted or config.get("links") else netresolve.by_selector(config)
    selected = [e for e in selected if not any(e is t for t in taken)]
    for entry in selected:
        label = "{} ({} entry {})".format(
            netmatch.selector(entry), _source_name(entry), entry["id"]
        )
        verdicts.append((label, entry["method"], entry))
    unreadable = ["{}: {}".format(e.get("file"), e.get("error")) for e in config.get("errors", [])]
    said = "judged from the configuration files alone (the captured tree has no live kernel)"
    details = {
        "root": context.facts.get("root"),
        "interfaces": {name: netconfig_summary(entry) for name, _m, entry in verdicts},
        "unreadable": unreadable,
    }
    need_sys = (
        "capture /sys/class/net too, so each interface is matched to the configuration "
        "that selects it"
    )
    if not verdicts:
        problem = (
            f"no configuration names {wanted}" if wanted else "no configuration names an interface"
        )
        if unreadable:
            problem += "; unreadable: " + "; ".join(unreadable)
        records = [r for r in netresolve.all_records(config) if not r.get("loopback")]
        return context.result(
            ERROR,
            observed=None,
            expected="a static address",
            message=f"{problem} ({said})",
            remedy=need_sys
            if records and not config.get("links")
            else "capture /etc/netplan, /etc/systemd/network, /etc/NetworkManager and "
            "/etc/network too, or judge the live host",
            source=STATIC_SOURCE,
            evidence=details,
        )
    parts = []
    dynamic = False
    for name, method, entry in verdicts:
        where = "{} {}".format(_source_name(entry), entry["file"])
        if entry.get("unchecked"):
            where += "; assumed to hold, not checked: " + ", ".join(entry["unchecked"])
        if method == "dhcp":
            dynamic = True
            parts.append(f"{name}: DHCP ({where})")
        elif method == "static":
            parts.append("{}: static {} ({})".format(name, ", ".join(entry["addresses"]), where))
        elif method == "port":
            parts.append("{}: port of {} ({})".format(name, entry.get("port_of"), where))
        else:
            parts.append(f"{name}: no address configured ({where})")
    observed = "configuration only: " + ", ".join(
        "{} {}".format(name, "DHCP" if method == "dhcp" else method)
        for name, method, _e in verdicts
    )
    return context.result(
        WARN if dynamic else PASS,
        observed=observed,
        expected="a static address",
        message="{}; {}".format("; ".join(parts), said),
        remedy="; ".join(([STATIC_REMEDY] if dynamic else []) + ([need_sys] if selected else [])),
        source=STATIC_SOURCE,
        evidence=details,
    )


def netconfig_summary(entry: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "source": entry.get("source"),
        "file": entry.get("file"),
        "method": entry.get("method"),
        "addresses": entry.get("addresses"),
    }


def dhcp_evidence(
    facts: Dict[str, Any], target: Target
) -> Tuple[List[str], List[str], Optional[Dict[str, Any]]]:
    """What says the address is leased ([evidence]), which files could not be read, and
    the configuration that applies to the interface."""
    found = []
    entry, name = target.entry or {}, target.name
    if entry.get("valid_lifetime") is not None:
        found.append(
            "the kernel holds it as dynamic, valid for {} s more".format(entry["valid_lifetime"])
        )
    elif entry.get("dynamic"):
        found.append("the kernel holds it as dynamic")
    config = facts.get("network_config") or {}
    link = dict(target.interface or {"name": name})
    kernel = [link] if target.interface else []
    link = next((k for k in netresolve.known_links(config, kernel) if k["name"] == name), link)
    resolved = netresolve.resolve(config, link)
    applies = resolved["applies"]
    family = entry.get("family") or ("inet6" if ":" in str(target.address) else "inet")
    if applies and applies.get("method6" if family == "inet6" else "method") == "dhcp":
        found.append(_dhcp_words(applies, name, family))
    collected = facts.get("collected_at_epoch")
    for lease in resolved["leases"]:
        if lease.get("address") not in (None, target.address):
            continue  # an old lease for another address says nothing about this one
        expires = lease.get("expire_epoch")
        if expires is not None and collected is not None and expires < collected:
            continue  # it had expired when the facts were collected: no longer held
        if lease["client"] == "dhclient":
            found.append(
                "dhclient lease {} (expires {})".format(lease.get("file"), lease.get("expire"))
            )
        else:
            found.append(
                "{} holds a DHCP lease for it ({})".format(lease["client"], lease.get("file"))
            )
    unreadable = ["{}: {}".format(e.get("file"), e.get("error")) for e in config.get("errors", [])]
    if facts.get("network_config") is None:
        unreadable.append((facts.get("errors") or {}).get("network_config", "not collected"))
    return found, unreadable, applies


def _dhcp_words(entry: Dict[str, Any], name: str, family: str) -> str:
    source, where = entry["source"], entry["file"]
    key = "dhcp6" if family == "inet6" else "dhcp4"
    if source == "netplan":
        selector = "" if entry["id"] == name else " (entry {})".format(entry["id"])
        return f"netplan {where} sets {key}: true for {name}{selector}"
    if source == "networkd":
        return f"systemd-networkd {where} matches {name} and sets DHCP"
    if source == "networkmanager":
        return "NetworkManager {} (profile {}) has ipv4.method {}".format(
            where, entry["id"], entry.get("ipv4_method") or "auto"
        )
    if entry.get("dhcp_hook"):
        return "{} starts a DHCP client for {} ({})".format(where, name, entry["dhcp_hook"])
    return f"{where} has 'iface {name} inet dhcp'"


def netplan_remedy(facts: Dict[str, Any], target: Target, applies: Optional[Dict[str, Any]]) -> str:
    """The fix, in the netplan file that configures the interface (`applies`, the record
    dhcp_evidence found), else a new one."""
    routes = (facts.get("network") or {}).get("default_routes") or []
    gateway = next((r.get("gateway") for r in routes if r.get("dev") == target.name), None)
    prefix = (target.entry or {}).get("prefixlen", 24)
    netplan = (applies or {}) if (applies or {}).get("source") == "netplan" else {}
    where = netplan.get("file") or "/etc/netplan/01-static.yaml"
    route = f", routes: [{{to: 0.0.0.0/0, via: {gateway}}}]" if gateway else ""
    ident = str(netplan.get("id") or target.name)
    # Of several definitions matching one interface the first by ID applies: a new one named
    # after the interface only wins over a `match:` entry whose ID sorts after it.
    shadow = (
        f" and take {target.name} out of entry {ident}'s match (of several definitions "
        "that match an interface, the first by ID applies)"
        if ident != target.name and ident < target.name
        else ""
    )
    return (
        f"reserve the address in DHCP or make it static; in {where}: "
        f"network: {{ethernets: {{{target.name}: {{dhcp4: false, "
        f"addresses: [{target.address}/{prefix}]{route}}}}}}}{shadow}, "
        "then `netplan apply`"
    )

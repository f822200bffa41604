"""Checks of the node's address: static, outside Kubernetes' ranges, unchanged since last run."""

import ipaddress
from typing import Any, Dict, List, Optional, Tuple

from wire_preflight.checks import Context, missing_fact, roles_label
from wire_preflight.model import ERROR, FAIL, PASS, SKIP, WARN, CheckResult

PLAN_QUOTE = (
    'the plan: "Avoid 10.x.x.x network address schemes, and instead use something like '
    '192.168.x.x or 172.x.x.x"'
)
STATIC_SOURCE = 'installation plan: "Ensure that your VMs have IP addresses that do not change"'


class Target:
    """The address other nodes will use, and where it sits on this host."""

    def __init__(
        self,
        address: Optional[str],
        interface: Optional[Dict[str, Any]],
        entry: Optional[Dict[str, Any]],
        chosen_by: str,
        problem: str = "",
    ):
        self.address = address
        self.interface = interface
        self.entry = entry
        self.chosen_by = chosen_by
        self.problem = problem

    @property
    def name(self) -> str:
        return self.interface["name"] if self.interface else "?"


def find_target(context: Context) -> Target:
    network = context.facts.get("network") or {}
    interfaces = network.get("interfaces") or []
    if context.target_ip:
        for iface in interfaces:
            for entry in iface.get("addresses", []):
                if entry.get("address") == context.target_ip:
                    return Target(context.target_ip, iface, entry, "--ip")
        return Target(
            context.target_ip,
            None,
            None,
            "--ip",
            f"{context.target_ip} is not an address of this host",
        )
    if context.target_interface:
        iface = next((i for i in interfaces if i.get("name") == context.target_interface), None)
        if iface is None:
            return Target(
                None,
                None,
                None,
                "--interface",
                f"no interface {context.target_interface} on this host",
            )
        entry = _first_global(iface)
        if entry is None:
            return Target(
                None,
                iface,
                None,
                "--interface",
                f"{context.target_interface} has no global address",
            )
        return Target(entry["address"], iface, entry, "--interface")
    primary = network.get("primary")
    if not primary:
        return Target(
            None,
            None,
            None,
            "default route",
            "no default route, so no primary address; name it with --ip or --interface",
        )
    iface = next((i for i in interfaces if i.get("name") == primary.get("interface")), None)
    entry = next(
        (
            e
            for e in (iface or {}).get("addresses", [])
            if e.get("address") == primary.get("address")
        ),
        None,
    )
    return Target(primary.get("address"), iface, entry, "default route")


def _first_global(iface: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    for family in ("inet", "inet6"):
        for entry in iface.get("addresses", []):
            if entry.get("family") == family and entry.get("scope") == "global":
                return entry
    return None


# -- ip-static ----------------------------------------------------------------------------------


def check_ip_static(context: Context) -> List[CheckResult]:
    role = roles_label(context.needs.roles)
    if context.facts.get("network") is None:
        return [missing_fact(context, "ip-static", "network", role)]
    target = find_target(context)
    if target.problem:
        status = FAIL if target.chosen_by == "--ip" else ERROR
        return [
            CheckResult(
                "ip-static",
                role,
                status,
                target.address,
                "a static address",
                target.problem,
                "pass an address this host has (ip -br addr)",
                STATIC_SOURCE,
            )
        ]
    evidence, unreadable = dhcp_evidence(context.facts, target)
    observed = f"{target.address} on {target.name}"
    details = {
        "address": target.address,
        "interface": target.name,
        "chosen_by": target.chosen_by,
        "dhcp_evidence": evidence,
        "unreadable": unreadable,
    }
    if evidence:
        return [
            CheckResult(
                "ip-static",
                role,
                WARN,
                observed,
                "a static address",
                "{} looks dynamic: {}".format(observed, "; ".join(evidence)),
                netplan_remedy(context.facts, target),
                STATIC_SOURCE,
                details,
            )
        ]
    if unreadable:
        return [
            CheckResult(
                "ip-static",
                role,
                ERROR,
                observed,
                "a static address",
                "cannot tell whether {} is static: {}".format(observed, "; ".join(unreadable)),
                "run as root so the network configuration can be read",
                STATIC_SOURCE,
                details,
            )
        ]
    return [
        CheckResult(
            "ip-static",
            role,
            PASS,
            observed,
            "a static address",
            f"permanent in the kernel, no DHCP configuration for {target.name}",
            "",
            STATIC_SOURCE,
            details,
        )
    ]


def dhcp_evidence(facts: Dict[str, Any], target: Target) -> Tuple[List[str], List[str]]:
    """What says the address is leased ([evidence]), and which files could not be read."""
    found = []
    entry, name = target.entry or {}, target.name
    if entry.get("valid_lifetime") is not None:
        found.append(
            "the kernel holds it as dynamic, valid for {} s more".format(entry["valid_lifetime"])
        )
    elif entry.get("dynamic"):
        found.append("the kernel holds it as dynamic")
    config = facts.get("network_config") or {}
    netplan = (config.get("netplan") or {}).get("interfaces", {}).get(name)
    if netplan and netplan.get("dhcp4"):
        found.append("netplan {} sets dhcp4: true for {}".format(netplan.get("file"), name))
    index = str((target.interface or {}).get("index"))
    lease = (config.get("networkd_leases") or {}).get(index)
    if lease and lease.get("address") in (None, target.address):
        found.append("systemd-networkd holds a DHCP lease for it ({})".format(lease.get("file")))
    nm = (config.get("networkmanager") or {}).get(name)
    if nm and nm.get("ipv4_method") == "auto":
        found.append("NetworkManager {} has ipv4.method auto".format(nm.get("file")))
    dhclient = (config.get("dhclient_leases") or {}).get(name)
    if dhclient and dhclient.get("address") == target.address:
        found.append(
            "dhclient lease {} (expires {})".format(dhclient.get("file"), dhclient.get("expire"))
        )
    ifupdown = (config.get("ifupdown") or {}).get(name)
    if ifupdown and ifupdown.get("method") == "dhcp":
        found.append("{} has 'iface {} inet dhcp'".format(ifupdown.get("file"), name))
    unreadable = ["{}: {}".format(e.get("file"), e.get("error")) for e in config.get("errors", [])]
    if facts.get("network_config") is None:
        unreadable.append((facts.get("errors") or {}).get("network_config", "not collected"))
    return found, unreadable


def netplan_remedy(facts: Dict[str, Any], target: Target) -> str:
    routes = (facts.get("network") or {}).get("default_routes") or []
    gateway = next((r.get("gateway") for r in routes if r.get("dev") == target.name), None)
    prefix = (target.entry or {}).get("prefixlen", 24)
    config = facts.get("network_config") or {}
    netplan = (config.get("netplan") or {}).get("interfaces", {}).get(target.name) or {}
    where = netplan.get("file") or "/etc/netplan/01-static.yaml"
    route = f", routes: [{{to: 0.0.0.0/0, via: {gateway}}}]" if gateway else ""
    return (
        f"reserve the address in DHCP or make it static; in {where}: "
        f"network: {{ethernets: {{{target.name}: {{dhcp4: false, "
        f"addresses: [{target.address}/{prefix}]{route}}}}}}}, "
        "then `netplan apply`"
    )


# -- ip-range -----------------------------------------------------------------------------------


def check_ip_range(context: Context) -> List[CheckResult]:
    role = roles_label(context.needs.roles)
    if context.facts.get("network") is None:
        return [missing_fact(context, "ip-range", "network", role)]
    target = find_target(context)
    if not target.address:
        return [
            CheckResult(
                "ip-range",
                role,
                ERROR,
                None,
                "outside 10.0.0.0/8",
                target.problem,
                "pass the node's address with --ip",
            )
        ]
    cidrs = context.k8s_cidrs or context.profile.k8s_cidrs
    source = "kubespray defaults; " + PLAN_QUOTE
    address = ipaddress.ip_address(target.address)
    prefix = (target.entry or {}).get("prefixlen")
    network = (
        ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        if prefix is not None
        else ipaddress.ip_network(str(address))
    )
    expected = "outside {} and 10.0.0.0/8".format(", ".join(cidrs))
    observed = str(network) if prefix is not None else str(address)
    observed = f"{address} ({observed})" if prefix is not None else observed
    evidence = {"address": str(address), "network": str(network), "k8s_cidrs": cidrs}
    if address.version != 4:
        return [
            CheckResult(
                "ip-range",
                role,
                SKIP,
                observed,
                expected,
                "IPv6 address: the plan's ranges are IPv4",
                "",
                source,
                evidence,
            )
        ]
    for cidr in cidrs:
        reserved = ipaddress.ip_network(cidr)
        if address in reserved or network.overlaps(reserved):
            what = "inside" if address in reserved else "in a network that overlaps"
            return [
                CheckResult(
                    "ip-range",
                    role,
                    FAIL,
                    observed,
                    expected,
                    f"{address} is {what} Kubernetes' range {cidr}: pods or services would "
                    "shadow this node",
                    "move the node to a 192.168.x.x or 172.16-31.x.x network, or "
                    "change the cluster's ranges (kube_service_addresses, "
                    "kube_pods_subnet) and pass them with --k8s-cidr",
                    source,
                    evidence,
                )
            ]
    if address in ipaddress.ip_network("10.0.0.0/8"):
        return [
            CheckResult(
                "ip-range",
                role,
                WARN,
                observed,
                expected,
                f"{address} is a 10.x.x.x address; {PLAN_QUOTE}",
                "prefer 192.168.x.x or 172.16-31.x.x for the VMs",
                source,
                evidence,
            )
        ]
    return [
        CheckResult(
            "ip-range",
            role,
            PASS,
            observed,
            expected,
            "clear of Kubernetes' ranges",
            "",
            source,
            evidence,
        )
    ]


# -- ip-drift -----------------------------------------------------------------------------------


def check_ip_drift(context: Context) -> List[CheckResult]:
    role = roles_label(context.needs.roles)
    source = STATIC_SOURCE
    primary = ((context.facts.get("network") or {}).get("primary")) or {}
    now = primary.get("address")
    previous = context.previous
    if context.state_error:
        return [
            CheckResult(
                "ip-drift",
                role,
                WARN,
                now,
                "unchanged since the last run",
                f"cannot remember addresses: {context.state_error}",
                "give --state-dir a writable directory",
                source,
            )
        ]
    if previous is None:
        return [
            CheckResult(
                "ip-drift",
                role,
                PASS,
                now,
                "unchanged since the last run",
                f"first run: remembering {now}",
                "",
                source,
            )
        ]
    if "error" in previous:
        return [
            CheckResult(
                "ip-drift",
                role,
                ERROR,
                now,
                "unchanged since the last run",
                "the last run's state is unreadable: {}; starting anew".format(previous["error"]),
                "",
                source,
            )
        ]
    before = (previous.get("primary") or {}).get("address")
    evidence = {
        "before": previous.get("primary"),
        "after": primary or None,
        "before_seen_at": previous.get("seen_at"),
        "state_file": previous.get("file"),
    }
    if before != now:
        return [
            CheckResult(
                "ip-drift",
                role,
                FAIL,
                now,
                before,
                "the primary address changed from {} to {} since {}".format(
                    before, now, previous.get("seen_at")
                ),
                "give the VM a static address (see ip-static) and update the "
                f"inventory and every peer that uses {before}",
                source,
                evidence,
            )
        ]
    return [
        CheckResult(
            "ip-drift",
            role,
            PASS,
            now,
            before,
            "unchanged since {}".format(previous.get("seen_at")),
            "",
            source,
            evidence,
        )
    ]

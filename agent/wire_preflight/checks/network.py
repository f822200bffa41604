"""Checks of the node's address: static, outside Kubernetes' ranges, unchanged since last run."""

import ipaddress
from typing import Any, Dict, List, Optional, Tuple

from wire_preflight import netmatch, netresolve
from wire_preflight.checks import Context
from wire_preflight.model import ERROR, FAIL, PASS, SKIP, WARN, CheckResult

PLAN_QUOTE = (
    'the plan: "Avoid 10.x.x.x network address schemes, and instead use something like '
    '192.168.x.x or 172.x.x.x"'
)
STATIC_SOURCE = 'installation plan: "Ensure that your VMs have IP addresses that do not change"'
STATIC_REMEDY = (
    "give each node interface a static address (netplan: dhcp4: false, addresses: [...])"
)


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


def network_missing(context: Context) -> CheckResult:
    reason = (context.facts.get("errors") or {}).get("network", "not present in the facts")
    if context.facts.get("root"):
        remedy = "run the agent on the live host for this check"
    elif "iproute2" in reason:
        remedy = "install iproute2 (apt install iproute2), then run the check again"
    else:
        remedy = "check that `ip -j addr` works for this user"
    return context.result(
        ERROR,
        observed=None,
        expected=None,
        message=f"cannot read the host's addresses: {reason}",
        remedy=remedy,
        source=STATIC_SOURCE,
    )


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


# -- ip-range -----------------------------------------------------------------------------------


def check_ip_range(context: Context) -> List[CheckResult]:
    if context.facts.get("network") is None:
        return [network_missing(context)]
    target = find_target(context)
    if not target.address:
        return [
            context.result(
                ERROR,
                observed=None,
                expected="outside 10.0.0.0/8",
                message=target.problem,
                remedy="pass the node's address with --ip",
                source="",
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
    # A profile without Kubernetes ranges of its own still keeps the node out of 10.x.
    expected = (
        "outside {} and 10.0.0.0/8".format(", ".join(cidrs)) if cidrs else "outside 10.0.0.0/8"
    )
    observed = str(network) if prefix is not None else str(address)
    observed = f"{address} ({observed})" if prefix is not None else observed
    evidence = {"address": str(address), "network": str(network), "k8s_cidrs": cidrs}
    if address.version != 4:
        return [
            context.result(
                SKIP,
                observed=observed,
                expected=expected,
                message="IPv6 address: the plan's ranges are IPv4",
                source=source,
                evidence=evidence,
            )
        ]
    for cidr in cidrs:
        reserved = ipaddress.ip_network(cidr)
        if address in reserved or network.overlaps(reserved):
            what = "inside" if address in reserved else "in a network that overlaps"
            return [
                context.result(
                    FAIL,
                    observed=observed,
                    expected=expected,
                    message=f"{address} is {what} Kubernetes' range {cidr}: pods or services "
                    "would shadow this node",
                    remedy=f"move the node to a network clear of {', '.join(cidrs)} and 10.x "
                    "(a 192.168.x.x or 172.16-31.x.x network), or change the cluster's ranges "
                    "(kube_service_addresses, kube_pods_subnet) and pass them with --k8s-cidr",
                    source=source,
                    evidence=evidence,
                )
            ]
    if address in ipaddress.ip_network("10.0.0.0/8"):
        return [
            context.result(
                WARN,
                observed=observed,
                expected=expected,
                message=f"{address} is a 10.x.x.x address; {PLAN_QUOTE}",
                remedy="prefer 192.168.x.x or 172.16-31.x.x for the VMs",
                source=source,
                evidence=evidence,
            )
        ]
    return [
        context.result(
            PASS,
            observed=observed,
            expected=expected,
            message="clear of Kubernetes' ranges",
            source=source,
            evidence=evidence,
        )
    ]


# -- ip-drift -----------------------------------------------------------------------------------


def target_problem(context: Context) -> str:
    network = context.facts.get("network")
    if context.facts.get("root"):
        return "a captured tree has no live kernel to ask"
    if network is None:
        return (context.facts.get("errors") or {}).get("network", "no network facts")
    return "no default route"


def check_ip_drift(context: Context) -> List[CheckResult]:
    source = STATIC_SOURCE
    primary = ((context.facts.get("network") or {}).get("primary")) or {}
    now = primary.get("address")
    previous = context.previous
    if context.state_error:
        return [
            context.result(
                WARN,
                observed=now,
                expected="unchanged since the last run",
                message=f"cannot remember addresses: {context.state_error}",
                remedy="give --state-dir a writable directory",
                source=source,
            )
        ]
    if now is None:
        before = ((previous or {}).get("primary") or {}).get("address")
        why = target_problem(context)
        kept = (
            "still remembering {} from {}".format(before, previous.get("seen_at"))
            if before and previous
            else "nothing remembered"
        )
        return [
            context.result(
                WARN,
                observed=None,
                expected="unchanged since the last run",
                message=f"cannot see the primary address this run ({why}); {kept}",
                remedy="run it where the default route and `ip` are available",
                source=source,
            )
        ]
    if previous is None:
        return [
            context.result(
                PASS,
                observed=now,
                expected="unchanged since the last run",
                message=f"first run: remembering {now}",
                source=source,
            )
        ]
    if "error" in previous:
        return [
            context.result(
                ERROR,
                observed=now,
                expected="unchanged since the last run",
                message="the last run's state is unreadable: {}; starting anew".format(
                    previous["error"]
                ),
                source=source,
            )
        ]
    before = (previous.get("primary") or {}).get("address")
    if before is None:
        # An earlier agent remembered a run that saw no address; that was no address change.
        return [
            context.result(
                PASS,
                observed=now,
                expected="unchanged since the last run",
                message="remembering {} (the run of {} saw no primary address)".format(
                    now, previous.get("seen_at")
                ),
                source=source,
            )
        ]
    evidence = {
        "before": previous.get("primary"),
        "after": primary or None,
        "before_seen_at": previous.get("seen_at"),
        "state_file": previous.get("file"),
    }
    if before != now:
        return [
            context.result(
                FAIL,
                observed=now,
                expected=before,
                message="the primary address changed from {} to {} since {}".format(
                    before, now, previous.get("seen_at")
                ),
                remedy="give the VM a static address (see ip-static) and update the "
                f"inventory and every peer that uses {before}",
                source=source,
                evidence=evidence,
            )
        ]
    return [
        context.result(
            PASS,
            observed=now,
            expected=before,
            message="unchanged since {}".format(previous.get("seen_at")),
            source=source,
            evidence=evidence,
        )
    ]


# -- host-firewall ------------------------------------------------------------------------------


def _ports(rule: Dict[str, Any], proto: str) -> List[Tuple[int, int]]:
    """A rule's `tcp`/`udp` list: ports (22) and ranges ("32768-65535")."""
    out = []
    for item in rule.get(proto) or []:
        first, _, last = str(item).partition("-")
        out.append((int(first), int(last or first)))
    return out


def _port_words(low: int, high: int, proto: str) -> str:
    return f"{low}/{proto}" if low == high else f"{low}-{high}/{proto}"


def check_host_firewall(context: Context) -> List[CheckResult]:
    """A host firewall that would drop what the role must receive (UFW without the rules,
    firewalld, an nftables or saved iptables input policy of drop)."""
    from wire_preflight.facts.firewall import ufw_allows

    firewall = context.facts.get("firewall")
    results = []
    for role, _component, rule in context.rules():
        rule = rule if isinstance(rule, dict) else {"severity": rule}
        severity = rule.get("severity", WARN)
        if firewall is None:
            reason = (context.facts.get("errors") or {}).get("firewall", "not in the facts")
            results.append(
                context.result(
                    ERROR,
                    observed=None,
                    expected="no host firewall in the way",
                    message=f"cannot read the firewall configuration: {reason}",
                    remedy="collect facts with this version of the agent",
                    role=role,
                )
            )
            continue
        wanted = [(p, lo, hi) for p in ("tcp", "udp") for lo, hi in _ports(rule, p)]
        expected = "no host firewall in the way of {}".format(
            ", ".join(_port_words(lo, hi, p) for p, lo, hi in wanted) or "inbound traffic"
        )
        blockers = []  # type: List[str]
        remedies = []  # type: List[str]
        soft = []  # type: List[str]
        ufw = firewall.get("ufw")
        if ufw and ufw.get("enabled"):
            if ufw.get("default_input") == "ACCEPT":
                closed = []  # type: List[Tuple[str, int, int]]
            else:
                closed = [
                    (p, lo, hi) for p, lo, hi in wanted if not ufw_allows(ufw["rules"], p, lo, hi)
                ]
            if closed:
                blockers.append(
                    "UFW is enabled and does not allow {}".format(
                        ", ".join(_port_words(lo, hi, p) for p, lo, hi in closed)
                    )
                )
                remedies.append(
                    "ufw disable, or "
                    + "; ".join(
                        "ufw allow {}/{}".format(f"{lo}:{hi}" if lo != hi else lo, p)
                        for p, lo, hi in closed
                    )
                )
            else:
                soft.append("UFW is enabled (its rules allow these ports)")
        if (firewall.get("firewalld") or {}).get("enabled"):
            blockers.append("firewalld is enabled")
            remedies.append("systemctl disable --now firewalld")
        nft = firewall.get("nftables") or {}
        if nft.get("enabled") and nft.get("input_policy_drop"):
            blockers.append("nftables starts with an input policy of drop ({})".format(nft["file"]))
            remedies.append(
                "open the ports in {} or systemctl disable nftables".format(nft["file"])
            )
        saved = firewall.get("iptables_saved") or {}
        if saved.get("input_policy_drop"):
            blockers.append("saved iptables rules drop input by default ({})".format(saved["file"]))
            remedies.append("open the ports in {}".format(saved["file"]))
        evidence = {k: firewall.get(k) for k in ("ufw", "firewalld", "nftables", "iptables_saved")}
        if blockers:
            results.append(
                context.result(
                    severity,
                    observed="; ".join(blockers),
                    expected=expected,
                    message="; ".join(blockers + soft),
                    remedy="; ".join(remedies),
                    role=role,
                    evidence=evidence,
                )
            )
        elif soft:
            results.append(
                context.result(
                    WARN,
                    observed="; ".join(soft),
                    expected=expected,
                    message="; ".join(soft)
                    + ", but the plan asks for no host firewall interference",
                    remedy="ufw disable, unless you keep its rules in step with the ports",
                    role=role,
                    evidence=evidence,
                )
            )
        else:
            results.append(
                context.result(
                    PASS,
                    observed="none enabled",
                    expected=expected,
                    message="no host firewall enabled (UFW, firewalld, nftables, saved iptables "
                    "rules)",
                    role=role,
                    evidence=evidence,
                )
            )
    return results

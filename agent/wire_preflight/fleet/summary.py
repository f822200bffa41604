"""A report, boiled down to what the fleet rules read about one host.

The collector keeps this summary per host, so judging 10,000 hosts never re-reads 10,000 full
reports; `fleet --from DIR` builds the same summaries from saved reports.
"""

from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:
    from wire_preflight.shapes import Clock, HostStatus, HostSummary, StoredProbe

# Interfaces whose MAC addresses are made up locally (containers, bridges, tunnels): two hosts
# sharing one of these is no sign of a cloned VM.
VIRTUAL_PREFIXES = (
    "lo",
    "docker",
    "veth",
    "cni",
    "flannel",
    "cali",
    "kube-",
    "br-",
    "virbr",
    "vxlan",
    "tunl",
    "weave",
    "cilium",
    "nodelocaldns",
    "dummy",
)


def summarize(report: Dict[str, Any], received_at: Optional[float] = None) -> "HostSummary":
    facts = report.get("facts") or {}
    network = facts.get("network") or {}
    checks = report.get("checks") or []
    failing = sorted({c.get("id") for c in checks if c.get("status") in ("fail", "error")})
    warnings = sorted({c.get("id") for c in checks if c.get("status") == "warn"})
    status: HostStatus = "fail" if failing else "warn" if warnings else "pass"
    os_facts = facts.get("os") or {}
    return {
        # Both schemas require a hostname: "" is only for the type checker.
        "hostname": report.get("hostname") or facts.get("hostname") or "",
        "machine_id": facts.get("machine_id"),
        "product_uuid": facts.get("product_uuid"),
        "roles": list(report.get("roles") or []),
        "physical_host": report.get("physical_host"),
        "profile": (report.get("profile") or {}).get("name"),
        "report_id": report.get("report_id"),
        "generated_at": report.get("generated_at"),
        "received_at": received_at,
        "status": status,
        "failing": failing,
        "warnings": warnings,
        "primary_address": (network.get("primary") or {}).get("address"),
        "primary_interface": _text((network.get("primary") or {}).get("interface")),
        "primary_mtu": primary_mtu(network),
        "addresses": global_addresses(network),
        "interfaces": interface_addresses(network),
        "macs": _macs(network),
        "os": "{} {}".format(os_facts.get("id", ""), os_facts.get("version_id", "")).strip(),
        "cpu": (facts.get("cpu") or {}).get("logical_count"),
        "memory_bytes": (facts.get("memory") or {}).get("installed_bytes")
        or (facts.get("memory") or {}).get("total_bytes"),
        "clock": _clock(report, facts, received_at),
        "reachability": [
            _probe(probe) for probe in (report.get("reachability") or {}).get("probes", [])
        ],
    }


def _probe(probe: Dict[str, Any]) -> "StoredProbe":
    return {
        "from_role": probe.get("from_role"),
        "to_role": probe.get("to_role"),
        "peer": probe.get("peer"),
        "proto": probe.get("proto"),
        "port": probe.get("port"),
        "state": probe.get("state"),
    }


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _mtu(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def primary_mtu(network: Dict[str, Any]) -> Optional[int]:
    """The MTU of the primary interface; None from agents that did not report MTUs."""
    primary = network.get("primary") or {}
    if _mtu(primary.get("mtu")):
        return primary["mtu"]
    for iface in network.get("interfaces") or []:
        if iface.get("name") and iface.get("name") == primary.get("interface"):
            return _mtu(iface.get("mtu"))
    return None


def interface_addresses(network: Dict[str, Any]) -> Dict[str, List[str]]:
    """Each of the host's own interfaces (not docker0, veth...) -> its global addresses."""
    out = {}  # type: Dict[str, List[str]]
    for iface in network.get("interfaces") or []:
        name = iface.get("name")
        if not isinstance(name, str) or name.startswith(VIRTUAL_PREFIXES):
            continue
        out[name] = sorted(
            a["address"]
            for a in iface.get("addresses") or []
            if a.get("scope") == "global" and isinstance(a.get("address"), str)
        )
    return out


def global_addresses(network: Dict[str, Any]) -> List[str]:
    """Global addresses of the host's own interfaces (not docker0's 172.17.0.1 and the like,
    which every container host has)."""
    return sorted(
        {
            a.get("address")
            for iface in network.get("interfaces") or []
            if not (iface.get("name") or "").startswith(VIRTUAL_PREFIXES)
            for a in iface.get("addresses") or []
            if a.get("scope") == "global" and a.get("address")
        }
    )


def _macs(network: Dict[str, Any]) -> List[str]:
    out = set()
    for iface in network.get("interfaces") or []:
        name, mac = iface.get("name") or "", iface.get("mac") or ""
        if iface.get("link_type") not in (None, "ether") or name.startswith(VIRTUAL_PREFIXES):
            continue
        if mac and mac != "00:00:00:00:00:00":
            out.add(mac.lower())
    return sorted(out)


def _clock(report: Dict[str, Any], facts: Dict[str, Any], received_at: Optional[float]) -> "Clock":
    """The host clock's offset, in seconds, as well as it can be known.

    Through a collector: the report's send time minus the collector's receive time (the
    network's delay is the error). From saved reports: the kernel's own estimate against its
    NTP source (adjtimex offset), bounded by its maxerror.
    """
    time_facts = facts.get("time") or {}
    synchronized = time_facts.get("synchronized")
    sent_at = report.get("sent_at")
    if received_at is not None and isinstance(sent_at, (int, float)):
        return {
            "offset_s": sent_at - received_at,
            "uncertainty_s": None,
            "source": "collector",
            "synchronized": synchronized,
        }
    if time_facts.get("source") == "adjtimex" and synchronized:
        # The offset is in microseconds unless the kernel runs in nanosecond mode (STA_NANO).
        scale = 1e-9 if (time_facts.get("status") or 0) & 0x2000 else 1e-6
        return {
            "offset_s": (time_facts.get("offset") or 0) * scale,
            "uncertainty_s": (time_facts.get("maxerror_us") or 0) * 1e-6,
            "source": "ntp",
            "synchronized": True,
        }
    return {"offset_s": None, "uncertainty_s": None, "source": None, "synchronized": synchronized}

"""The node's address, as the ip-static, ip-range and ip-drift checks find it: the one given
with --ip or --interface, else the primary address (the first global one on the default
route's interface)."""

from typing import Any, Dict, Optional

from wire_preflight.checks import Context
from wire_preflight.model import ERROR, CheckResult

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

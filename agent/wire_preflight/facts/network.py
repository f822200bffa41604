"""Addresses and routes, from the kernel's netlink through iproute2's JSON output.

iproute2 (`ip -j`) rather than pyroute2: importing pyroute2 costs 0.25-0.37 s, the whole
agent's budget, while the two `ip` calls take under 10 ms (bench/README.md). The JSON keeps
the kernel's address flags (`dynamic`) and lifetimes, which psutil and netifaces drop.
"""

import errno
import json
import subprocess
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from wire_preflight import safefile
from wire_preflight.facts import programs

if TYPE_CHECKING:
    from wire_preflight.shapes import AddressFacts, InterfaceFacts, NetworkFacts, PrimaryFacts

INFINITE_LIFETIME = 4294967295  # the kernel's INFINITY_LIFE_TIME: a permanent address


IP_MISSING = "iproute2's `ip` command is not installed (install it: apt install iproute2)"
ADDRESSES = ("addr", "show")
DEFAULT_ROUTES = ("route", "show", "default")


class IpCalls:
    """Both `ip -j` calls, started at once: they run in their own processes while the agent
    reads its other facts (facts.collect starts them first), and collect() waits for them.
    A failure to start is kept and raised by collect(), where the network area's errors go."""

    def __init__(self) -> None:
        self.error = None  # type: Optional[OSError]
        self.running = {}  # type: Dict[Tuple[str, ...], subprocess.Popen[str]]
        ip = programs.which("ip")
        if ip is None:
            self.error = FileNotFoundError(errno.ENOENT, IP_MISSING)
            return
        try:
            for args in (ADDRESSES, DEFAULT_ROUTES):
                self.running[args] = subprocess.Popen(
                    [ip, "-j", *args],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    universal_newlines=True,
                )
        except OSError as exc:
            self.error = exc
            self.close()

    def json(self, args: Tuple[str, ...]) -> Any:
        """What `ip -j ARGS` printed, parsed (ValueError when it is not JSON); OSError when it
        failed. Waits 10 s at most, as long as before the calls ran side by side."""
        if self.error is not None:
            raise self.error
        process = self.running.pop(args)
        try:
            out, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        if process.returncode != 0:
            raise OSError(
                process.returncode, "ip {} failed: {}".format(" ".join(args), err.strip())
            )
        return json.loads(out or "[]")

    def close(self) -> None:
        """Reap what was started and not asked for (the routes, when the addresses failed)."""
        for process in self.running.values():
            process.kill()
            process.communicate()
        self.running.clear()


def collect(calls: Optional[IpCalls] = None) -> "NetworkFacts":
    calls = calls or IpCalls()
    try:
        interfaces = parse_addresses(calls.json(ADDRESSES))
        try:
            routes = parse_routes(calls.json(DEFAULT_ROUTES))
        except ValueError:
            # iproute2 before 4.17 (Ubuntu 18.04) prints routes as text even with -j;
            # the kernel's own table in /proc/net/route says the same for IPv4.
            routes = parse_proc_route(safefile.read_text("/proc/net/route", safefile.LARGE))
    finally:
        calls.close()
    return {
        "interfaces": interfaces,
        "default_routes": routes,
        "primary": primary_address(interfaces, routes),
    }


def parse_addresses(links: List[Dict[str, Any]]) -> List["InterfaceFacts"]:
    interfaces: List[InterfaceFacts] = []
    for link in links:
        addresses: List[AddressFacts] = []
        for info in link.get("addr_info", []):
            valid = info.get("valid_life_time", INFINITE_LIFETIME)
            addresses.append(
                {
                    "family": info.get("family"),
                    "address": info.get("local"),
                    "prefixlen": info.get("prefixlen"),
                    "scope": info.get("scope"),
                    # IFA_F_PERMANENT is set exactly when the valid lifetime is infinite; iproute2
                    # prints the inverse as "dynamic". Keep both the flag and the lifetime.
                    "dynamic": bool(info.get("dynamic", False)) or valid != INFINITE_LIFETIME,
                    "valid_lifetime": None if valid == INFINITE_LIFETIME else valid,
                    "preferred_lifetime": _lifetime(info.get("preferred_life_time")),
                }
            )
        interfaces.append(
            {
                "name": link.get("ifname"),
                "index": link.get("ifindex"),
                "mac": link.get("address"),
                "link_type": link.get("link_type"),
                "state": link.get("operstate"),
                "flags": link.get("flags", []),
                "mtu": link.get("mtu"),
                "addresses": addresses,
            }
        )
    return interfaces


def _lifetime(value: Optional[int]) -> Optional[int]:
    return None if value in (None, INFINITE_LIFETIME) else value


def parse_routes(routes: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [
        {
            "dev": r.get("dev"),
            "gateway": r.get("gateway"),
            "metric": r.get("metric", 0),
            "protocol": r.get("protocol"),
        }
        for r in routes
        if r.get("dst") == "default"
    ]


def parse_proc_route(text: str) -> List[Dict[str, Any]]:
    """/proc/net/route: hex, little-endian addresses; destination 0 with mask 0 is default."""
    routes = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[1] != "00000000" or fields[7] != "00000000":
            continue
        gateway = bytes.fromhex(fields[2])[::-1]
        routes.append(
            {
                "dev": fields[0],
                "gateway": ".".join(str(b) for b in gateway),
                "metric": int(fields[6]),
                "protocol": None,
            }
        )
    return routes


def primary_address(
    interfaces: List["InterfaceFacts"], routes: List[Dict[str, Any]]
) -> Optional["PrimaryFacts"]:
    """The address other nodes will reach: the first global IPv4 on the default-route device."""
    by_name = {iface["name"]: iface for iface in interfaces}
    for route in sorted(routes, key=lambda r: r.get("metric") or 0):
        iface = by_name.get(route["dev"])
        if not iface:
            continue
        for family in ("inet", "inet6"):
            for addr in iface["addresses"]:
                if addr["family"] == family and addr["scope"] == "global":
                    return {
                        "interface": iface["name"],
                        "address": addr["address"],
                        "prefixlen": addr["prefixlen"],
                        "family": family,
                        "mtu": iface.get("mtu"),
                    }
    return None


def local_addresses(family: Optional[str] = None, global_only: bool = False) -> List[str]:
    """This host's addresses, read live (empty when iproute2 cannot be asked)."""
    try:
        interfaces = collect()["interfaces"]
    except (OSError, ValueError):
        return []
    return [
        a["address"]
        for i in interfaces
        for a in i["addresses"]
        if a["address"]
        and (family is None or a.get("family") == family)
        and (not global_only or a.get("scope") == "global")
    ]

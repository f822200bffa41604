"""Checks: pure functions of facts and requirements, each returning CheckResults.

Where to find a check by its id:
    os, hostname                              -> checks/system.py
    cpu, memory, disk, minio-drive            -> checks/resources.py
    ip-static, ip-range, ip-drift,
    host-firewall                             -> checks/network.py
    time-sync                                 -> checks/clock.py
    swap, vm-max-map-count, ip-forward,
    br-netfilter, thp, zone-reclaim           -> checks/kernel.py
    nofile, nproc, memlock                    -> checks/limits.py
    ports, tools                              -> checks/services.py

Run by their own commands, not by `check` (registry below):
    dns, dns-private, dns-optional, dns-srv   -> checks/dns.py      (`wire-preflight dns`)
    tls-names, tls-validity, tls-key,
    tls-chain, tls-federation                 -> checks/tls.py      (`wire-preflight tls`)
    reach                                     -> checks/reach.py    (`wire-preflight ports`)
"""

from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from wire_preflight.model import ERROR, FAIL, WARN, CheckResult
from wire_preflight.profiles import Profile
from wire_preflight.requirements import Needs


class Context(NamedTuple):
    facts: Dict[str, Any]
    profile: Profile
    needs: Needs
    # Other built-in profiles: name -> (os id, versions), to name the one that fits a release.
    os_alternatives: Dict[str, Any]
    # The address other nodes use: chosen with --ip or --interface, else the primary one.
    target_ip: Optional[str] = None
    target_interface: Optional[str] = None
    # --k8s-cidr, replacing the profile's ranges when given.
    k8s_cidrs: Optional[List[str]] = None
    # What the agent remembered from its last run (state.py), or {"error": reason}.
    previous: Optional[Dict[str, Any]] = None
    # Why the state could not be written this time, if it could not.
    state_error: Optional[str] = None

    def components(self) -> Iterator[Tuple[str, str]]:
        """(role, component) for every component the VM's roles run."""
        for role in self.needs.roles:
            for component in self.profile.role(role).components:
                yield role, component

    def rules(self, check_id: str) -> Iterator[Tuple[str, str, Any]]:
        """(role, component, rule) for each of the VM's components that this check covers.

        A rule table is either `components = {name = severity}` or one sub-table per component.
        """
        table = self.profile.host.get(check_id, {})
        by_severity = table.get("components", {})
        for role, component in self.components():
            if component in by_severity:
                yield role, component, by_severity[component]
            elif isinstance(table.get(component), dict):
                yield role, component, table[component]

    def source(self, check_id: str) -> str:
        return self.profile.host.get(check_id, {}).get("source", "")


CheckFunction = Callable[[Context], List[CheckResult]]


def registry() -> List[Any]:
    from wire_preflight.checks import clock, kernel, limits, network, resources, services, system

    return [
        ("os", system.check_os),
        ("hostname", system.check_hostname),
        ("cpu", resources.check_cpu),
        ("memory", resources.check_memory),
        ("disk", resources.check_disk),
        ("ip-static", network.check_ip_static),
        ("ip-range", network.check_ip_range),
        ("ip-drift", network.check_ip_drift),
        ("host-firewall", network.check_host_firewall),
        ("time-sync", clock.check_time_sync),
        ("swap", kernel.check_swap),
        ("vm-max-map-count", kernel.check_max_map_count),
        ("ip-forward", kernel.check_ip_forward),
        ("br-netfilter", kernel.check_br_netfilter),
        ("thp", kernel.check_thp),
        ("zone-reclaim", kernel.check_zone_reclaim),
        ("nofile", limits.check_nofile),
        ("nproc", limits.check_nproc),
        ("memlock", limits.check_memlock),
        ("ports", services.check_ports),
        ("tools", services.check_tools),
        ("minio-drive", resources.check_minio_drive),
    ]


def check_ids() -> List[str]:
    return [check_id for check_id, _ in registry()]


def run(context: Context, ignore: Sequence[str] = ()) -> List[CheckResult]:
    results = []  # type: List[CheckResult]
    for check_id, check in registry():
        try:
            found = check(context)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Facts that passed the loader but still do not fit: say so, keep going.
            found = [
                CheckResult(
                    check_id,
                    roles_label(context.needs.roles),
                    ERROR,
                    None,
                    None,
                    f"facts do not fit this check: {type(exc).__name__}: {exc}",
                    "re-collect facts with `wire-preflight facts --json`",
                )
            ]
        results.extend(found)
    return [apply_ignore(result, ignore) for result in results]


def apply_ignore(result: CheckResult, ignore: Sequence[str]) -> CheckResult:
    if result.id in ignore and result.status in (FAIL, ERROR):
        return result._replace(status=WARN, message=f"(ignored {result.status}) {result.message}")
    return result


def roles_label(roles: Sequence[str]) -> str:
    return "+".join(roles)


def missing_fact(context: Context, check_id: str, key: str, role: str) -> CheckResult:
    reason = (context.facts.get("errors") or {}).get(key, "not present in the facts")
    return CheckResult(
        check_id,
        role,
        ERROR,
        None,
        None,
        f"cannot read {key}: {reason}",
        "run the agent on the live host for this check"
        if context.facts.get("root")
        else "run as root, or check that the host exposes it",
    )

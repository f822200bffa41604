"""Checks: pure functions of facts and requirements, each returning CheckResults.

Where to find a check by its id:
    os, hostname                              -> checks/system.py
    cpu, memory, disk, minio-drive            -> checks/resources.py
    ip-static                                 -> checks/ip_static.py
    ip-range                                  -> checks/ip_range.py
    ip-drift                                  -> checks/ip_drift.py
    host-firewall                             -> checks/firewall.py
    time-sync                                 -> checks/clock.py
    swap, vm-max-map-count, ip-forward,
    br-netfilter, calico-modules, thp,
    zone-reclaim                              -> checks/kernel.py
    nofile, nproc, memlock                    -> checks/limits.py
    ports, tools                              -> checks/services.py
    disk-rotational, cpu-clock,
    virtualization                            -> checks/hardware.py
    apt-lock, assets-headroom                 -> checks/install.py
    vm-host                                   -> checks/hypervisor.py

Run by their own commands, not by `check` (not in the registry below):
    dns, dns-private, dns-optional, dns-srv   -> checks/dns.py      (`wire-preflight dns`)
    tls-names, tls-validity, tls-key,
    tls-chain, tls-federation                 -> checks/tls.py      (`wire-preflight tls`)
    reach                                     -> checks/reach.py    (`wire-preflight ports`)

ip-static, ip-range and ip-drift judge the node's address, which checks/address.py finds.

A check's id is written once, in REGISTRY (wire_preflight/registry.py). The runner hands each
check a Context bound to its id, and the check makes its results with `context.result(...)`,
by keyword; the runner refuses a result whose id is not the one of the check that made it.
"""

import importlib
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from wire_preflight import model
from wire_preflight.model import ERROR, FAIL, WARN, CheckResult
from wire_preflight.profiles import Alternative, Profile
from wire_preflight.registry import REGISTRY, Check, check_ids, host_rule_shapes
from wire_preflight.requirements import Needs

# The registry lives in wire_preflight/registry.py (profiles/ reads it too); named here for
# the callers that know the checks by this package.
__all__ = ["REGISTRY", "Check", "Context", "check_ids", "host_rule_shapes", "run"]


class Context(NamedTuple):
    facts: Dict[str, Any]
    profile: Profile
    needs: Needs
    # The built-in profiles (profiles.os_alternatives): name -> Alternative (os id, versions,
    # roles), to name the one that fits a release and the VM's roles.
    os_alternatives: Dict[str, Alternative]
    # The address other nodes use: chosen with --ip or --interface, else the primary one.
    target_ip: Optional[str] = None
    target_interface: Optional[str] = None
    # --k8s-cidr, replacing the profile's ranges when given.
    k8s_cidrs: Optional[List[str]] = None
    # What the agent remembered from its last run (state.py), or {"error": reason}.
    previous: Optional[Dict[str, Any]] = None
    # Why the state could not be written this time, if it could not.
    state_error: Optional[str] = None
    # The id of the check running now: set by run(), never by a caller.
    check_id: str = ""

    def components(self) -> Iterator[Tuple[str, str]]:
        """(role, component) for every component the VM's roles run."""
        for role in self.needs.roles:
            for component in self.profile.role(role).components:
                yield role, component

    def table(self) -> Dict[str, Any]:
        """This check's table in the host requirements ({} when the profile has none)."""
        return self.profile.host.get(self.check_id, {})

    def rules(self) -> Iterator[Tuple[str, str, Any]]:
        """(role, component, rule) for each of the VM's components that this check covers.

        A rule table is either `components = {name = severity}` or one sub-table per component.
        """
        table = self.table()
        by_severity = table.get("components", {})
        for role, component in self.components():
            if component in by_severity:
                yield role, component, by_severity[component]
            elif isinstance(table.get(component), dict):
                yield role, component, table[component]

    def source(self) -> str:
        """The source of this check's table in the host requirements."""
        return self.table().get("source", "")

    def result(
        self,
        status: str,
        *,
        observed: Any,
        expected: Any,
        message: str,
        remedy: str = "",
        role: Optional[str] = None,
        source: Optional[str] = None,
        evidence: Optional[Dict[str, Any]] = None,
    ) -> CheckResult:
        """This check's result. role defaults to all of the VM's roles, source to the check's
        table in the host requirements."""
        return model.result(
            self.check_id,
            status,
            observed=observed,
            expected=expected,
            message=message,
            remedy=remedy,
            role=roles_label(self.needs.roles) if role is None else role,
            source=self.source() if source is None else source,
            evidence=evidence,
        )

    def absent(self, key: str, role: Optional[str] = None) -> CheckResult:
        """`missing`, except for facts saved by an agent older than the check: those lack the
        key altogether, and judging them skips the check instead of failing the run."""
        if key in self.facts:
            return self.missing(key, role)
        return self.result(
            model.SKIP,
            observed=None,
            expected=None,
            message=f"the facts have no {key} (saved by an older agent)",
            remedy="re-collect facts with this agent to run this check",
            role=role,
            source="",
        )

    def missing(self, key: str, role: Optional[str] = None) -> CheckResult:
        """An error result: the facts lack `key` (the collector's reason, when it gave one)."""
        reason = (self.facts.get("errors") or {}).get(key, "not present in the facts")
        return self.result(
            ERROR,
            observed=None,
            expected=None,
            message=f"cannot read {key}: {reason}",
            remedy="run the agent on the live host for this check"
            if self.facts.get("root")
            else "run as root, or check that the host exposes it",
            role=role,
            source="",
        )


CheckFunction = Callable[[Context], List[CheckResult]]


def function(check: Check) -> CheckFunction:
    module = importlib.import_module("wire_preflight.checks." + check.module)
    return getattr(module, check.function)


def run(context: Context, ignore: Sequence[str] = ()) -> List[CheckResult]:
    results = []  # type: List[CheckResult]
    for check in REGISTRY:
        bound = context._replace(check_id=check.id)
        try:
            found = function(check)(bound)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Facts that passed the loader but still do not fit: say so, keep going.
            found = [
                bound.result(
                    ERROR,
                    observed=None,
                    expected=None,
                    message=f"facts do not fit this check: {type(exc).__name__}: {exc}",
                    remedy="re-collect facts with `wire-preflight facts --json`",
                    source="",
                )
            ]
        for result in found:
            if result.id != check.id:
                # A bug in the check, not in the host: --ignore and the docs go by these ids.
                raise AssertionError(f"check {check.id} made a result with id {result.id!r}")
        results.extend(found)
    return [apply_ignore(result, ignore) for result in results]


def apply_ignore(result: CheckResult, ignore: Sequence[str]) -> CheckResult:
    if result.id in ignore and result.status in (FAIL, ERROR):
        return result._replace(status=WARN, message=f"(ignored {result.status}) {result.message}")
    return result


def roles_label(roles: Sequence[str]) -> str:
    return "+".join(roles)

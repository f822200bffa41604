"""Checks: pure functions of facts and requirements, each returning CheckResults.

Where to find a check by its id:
    os, hostname           -> checks/system.py
    cpu, memory, disk      -> checks/resources.py
"""

from typing import Any, Callable, Dict, List, NamedTuple, Sequence

from wire_preflight.model import ERROR, FAIL, WARN, CheckResult
from wire_preflight.profiles import Profile
from wire_preflight.requirements import Needs


class Context(NamedTuple):
    facts: Dict[str, Any]
    profile: Profile
    needs: Needs
    # Other built-in profiles: name -> (os id, versions), to name the one that fits a release.
    os_alternatives: Dict[str, Any]


CheckFunction = Callable[[Context], List[CheckResult]]


def registry() -> List[Any]:
    from wire_preflight.checks import resources, system

    return [
        ("os", system.check_os),
        ("hostname", system.check_hostname),
        ("cpu", resources.check_cpu),
        ("memory", resources.check_memory),
        ("disk", resources.check_disk),
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
        "run as root, or check that the host exposes it",
    )

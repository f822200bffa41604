"""The resource limits a component's service will run with: nofile, nproc, memlock."""

from typing import Any, Dict, List, Optional, Tuple

from wire_preflight.checks import Context
from wire_preflight.model import PASS, WARN, CheckResult

UNLIMITED = -1
# What a process gets when nothing sets the limit: systemd's soft DefaultLimitNOFILE (and the
# kernel's) is 1024; the kernel's memlock default is 64 KiB. nproc defaults to threads-max / 2.
BUILTIN_DEFAULTS = {"nofile": 1024, "memlock": 64 * 1024}
UNIT_KEYS = {"nofile": "LimitNOFILE", "nproc": "LimitNPROC", "memlock": "LimitMEMLOCK"}


def effective_limit(
    limits: Dict[str, Any], item: str, service: str, user: str
) -> Tuple[Optional[int], str, bool]:
    """(soft limit, where it comes from, whether the service's unit is installed)."""
    unit = (limits.get("services") or {}).get(service) or {}
    installed = bool(unit.get("unit_file"))
    if installed:
        found = (unit.get("limits") or {}).get(item)
        if found:
            return (
                found["soft"],
                "{}={} in {}".format(UNIT_KEYS[item], found["raw"], found["file"]),
                True,
            )
    else:
        entry = _limits_d(limits.get("limits_d") or [], item, user)
        if entry:
            return (
                entry["soft"],
                "'{} {} {} {}' in {}".format(
                    entry["domain"], entry["type"], item, entry["raw"], entry["file"]
                ),
                False,
            )
    default = (limits.get("systemd_defaults") or {}).get(item)
    if default:
        return (
            default["soft"],
            "Default{}={} in {}".format(UNIT_KEYS[item], default["raw"], default["file"]),
            installed,
        )
    if item == "nproc" and limits.get("threads_max"):
        return limits["threads_max"] // 2, "kernel default (threads-max / 2)", installed
    return BUILTIN_DEFAULTS.get(item), "system default (nothing sets it)", installed


def _limits_d(entries: List[Dict[str, Any]], item: str, user: str) -> Optional[Dict[str, Any]]:
    """pam_limits: an entry for the user beats a wildcard; among equals the last one wins."""
    matching = [e for e in entries if e["item"] == item and e["type"] in ("soft", "-")]
    for domain in (user, "*"):
        chosen = [e for e in matching if e["domain"] == domain]
        if chosen:
            return chosen[-1]
    return None


def _show(value: Optional[int], item: str) -> str:
    if value == UNLIMITED:
        return "unlimited"
    if value is None:
        return "unknown"
    if item == "memlock":
        return f"{value // 1024} KiB"
    return str(value)


def check_limit(context: Context) -> List[CheckResult]:
    """nofile, nproc or memlock, whichever the context's check id names."""
    check_id = context.check_id
    limits = context.facts.get("limits")
    results = []
    for role, component, rule in context.rules():
        if limits is None:
            results.append(context.missing("limits", role))
            continue
        service, user = rule.get("service", component), rule.get("user", component)
        value, origin, installed = effective_limit(limits, check_id, service, user)
        status, expected, threshold = PASS, "", None
        if rule.get("warn_unless_unlimited"):
            expected = "unlimited"
            if value != UNLIMITED:
                status = WARN
        else:
            wanted = rule.get("fail_below") or rule.get("warn_below")
            expected = f">= {wanted}"
            if value != UNLIMITED:
                if "fail_below" in rule and (value is None or value < rule["fail_below"]):
                    status, threshold = "fail", rule["fail_below"]
                elif "warn_below" in rule and (value is None or value < rule["warn_below"]):
                    status, threshold = WARN, rule["warn_below"]
        where = (
            f"service {service}: {origin}"
            if installed
            else f"service {service} not installed yet; judged the system default: {origin}"
        )
        evidence = {
            "service": service,
            "user": user,
            "unit_installed": installed,
            "value": value,
            "origin": origin,
        }
        if status != PASS and not installed:
            status = WARN  # the component's package usually brings its own limits
        if status == PASS:
            results.append(
                context.result(
                    PASS,
                    observed=_show(value, check_id),
                    expected=expected,
                    message=where,
                    role=role,
                    evidence=evidence,
                )
            )
            continue
        setting = "infinity" if rule.get("warn_unless_unlimited") else str(threshold or "")
        results.append(
            context.result(
                status,
                observed=_show(value, check_id),
                expected=expected,
                message=f"{where} ({component} wants {expected})",
                remedy=f"add {UNIT_KEYS[check_id]}={setting or expected} under [Service] in "
                f"/etc/systemd/system/{service}.service.d/limits.conf, then "
                "systemctl daemon-reload",
                role=role,
                evidence=evidence,
            )
        )
    return results

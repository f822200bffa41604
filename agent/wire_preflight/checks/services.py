"""What a component needs from the host's programs: its ports free, its tools installed."""

from typing import Any, Dict, List, Tuple

from wire_preflight.checks import Context
from wire_preflight.model import FAIL, PASS, WARN, CheckResult


def check_ports(context: Context) -> List[CheckResult]:
    listeners = context.facts.get("listeners")
    results = []
    for role, component, rule in context.rules():
        if listeners is None:
            results.append(context.missing("listeners", role))
            continue
        owners = set(rule.get("owners", []))
        wanted = _wanted_ports(rule)
        taken, own = [], []
        for proto, port, severity in wanted:
            holders = [
                item
                for item in listeners
                if item.get("proto") == proto and item.get("port") == port
            ]
            for holder in holders:
                label = "{}/{} ({})".format(
                    port, proto, holder.get("process") or "owner not visible: run as root"
                )
                if holder.get("process") in owners:
                    own.append(label)
                else:
                    taken.append((severity, label))
        expected = "free: " + ", ".join(f"{port}/{proto}" for proto, port, _ in wanted)
        evidence = {"taken": [label for _, label in taken], "held_by_the_component": own}
        if taken:
            status = FAIL if any(sev == FAIL for sev, _ in taken) else WARN
            observed = "taken: " + ", ".join(label for _, label in taken)
            results.append(
                context.result(
                    status,
                    observed=observed,
                    expected=expected,
                    message=f"{component} cannot listen where another program already does",
                    remedy="stop or move what holds them (ss -lntup shows it)",
                    role=role,
                    evidence=evidence,
                )
            )
        else:
            message = (
                "held by {} itself: {}".format(component, ", ".join(own)) if own else "all free"
            )
            results.append(
                context.result(
                    PASS,
                    observed="free" if not own else "in use by " + component,
                    expected=expected,
                    message=message,
                    role=role,
                    evidence=evidence,
                )
            )
    return results


def _wanted_ports(rule: Dict[str, Any]) -> List[Tuple[str, int, str]]:
    out = []
    for severity in (FAIL, WARN):
        for proto in ("tcp", "udp"):
            for port in rule.get(f"{severity}_{proto}", []):
                out.append((proto, port, severity))
    return out


def check_tools(context: Context) -> List[CheckResult]:
    tools = context.facts.get("tools")
    results = []
    for role, component, rule in context.rules():
        if tools is None:
            results.append(context.missing("tools", role))
            continue
        missing_required = [t for t in rule.get("required", []) if not tools.get(t)]
        missing_recommended = [t for t in rule.get("recommended", []) if not tools.get(t)]
        expected = ", ".join(rule.get("required", []) + rule.get("recommended", []))
        evidence = {
            "found": {t: p for t, p in tools.items() if p},
            "missing": missing_required + missing_recommended,
        }
        missing = missing_required + missing_recommended
        if not missing:
            results.append(
                context.result(
                    PASS,
                    observed="all present",
                    expected=expected,
                    message=f"every tool {component} needs is installed",
                    role=role,
                    evidence=evidence,
                )
            )
            continue
        status = FAIL if missing_required else WARN
        results.append(
            context.result(
                status,
                observed="missing: " + ", ".join(missing),
                expected=expected,
                message="{} needs {} on the PATH".format(component, ", ".join(missing)),
                remedy="apt-get install " + " ".join(_package(t) for t in missing),
                role=role,
                evidence=evidence,
            )
        )
    return results


# Ubuntu package that ships each tool, for the remedy line.
_PACKAGES = {
    "ip": "iproute2",
    "tc": "iproute2",
    "nsenter": "util-linux",
    "mount": "mount",
    "iptables": "iptables",
    "ebtables": "ebtables",
    "ethtool": "ethtool",
    "socat": "socat",
    "conntrack": "conntrack",
}


def _package(tool: str) -> str:
    return _PACKAGES.get(tool, tool)

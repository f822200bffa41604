"""Kernel settings each component asks for: swap, sysctls, modules, hugepages."""

from typing import Any, Dict, List, Optional

from wire_preflight.checks import Context
from wire_preflight.model import ERROR, PASS, WARN, CheckResult


def _setting(context: Context, name: str) -> Dict[str, Any]:
    tunables = context.facts.get("tunables")
    if tunables is None:
        reason = (context.facts.get("errors") or {}).get("tunables", "not in the facts")
        return {"error": reason}
    return tunables.get(name) or {"error": f"{name} not in the facts"}


def _error(context: Context, role: str, setting: Dict[str, Any]) -> CheckResult:
    return context.result(
        ERROR,
        observed=None,
        expected=None,
        message="cannot read it: {}".format(setting["error"]),
        remedy="run as root, or check that the kernel exposes {}".format(setting.get("file")),
        role=role,
    )


def _severity(rule: Any) -> str:
    return rule if isinstance(rule, str) else rule.get("severity", WARN)


def check_swap(context: Context) -> List[CheckResult]:
    swaps = _setting(context, "swaps")
    results = []
    for role, component, rule in context.rules():
        if "error" in swaps:
            results.append(_error(context, role, swaps))
            continue
        active = swaps["value"]
        evidence = {"file": swaps["file"], "swaps": active}
        if not active:
            results.append(
                context.result(
                    PASS,
                    observed="off",
                    expected="off",
                    message="no swap in use",
                    role=role,
                    evidence=evidence,
                )
            )
            continue
        total = sum(s["size_bytes"] for s in active)
        results.append(
            context.result(
                _severity(rule),
                observed="{:.1f} GiB on {}".format(
                    total / 1024**3, ", ".join(s["device"] for s in active)
                ),
                expected="off",
                message=f"{component} wants no swap",
                remedy="swapoff -a, and remove the swap lines from /etc/fstab",
                role=role,
                evidence=evidence,
            )
        )
    return results


def check_max_map_count(context: Context) -> List[CheckResult]:
    setting = _setting(context, "vm.max_map_count")
    results = []
    for role, component, rule in context.rules():
        if "error" in setting:
            results.append(_error(context, role, setting))
            continue
        value = setting["value"]
        want = rule.get("warn_below") or rule.get("fail_below")
        status, threshold = PASS, None
        if "fail_below" in rule and value < rule["fail_below"]:
            status, threshold = "fail", rule["fail_below"]
        elif "warn_below" in rule and value < rule["warn_below"]:
            status, threshold = WARN, rule["warn_below"]
        expected = f">= {want}"
        evidence = {"file": setting["file"], "value": value}
        if status == PASS:
            results.append(
                context.result(
                    PASS,
                    observed=str(value),
                    expected=expected,
                    message="enough memory map areas for " + component,
                    role=role,
                    evidence=evidence,
                )
            )
        else:
            results.append(
                context.result(
                    status,
                    observed=str(value),
                    expected=expected,
                    message=f"{component} needs vm.max_map_count >= {threshold}",
                    remedy=f"sysctl -w vm.max_map_count={want} and put vm.max_map_count={want} "
                    "in /etc/sysctl.d/60-wire.conf",
                    role=role,
                    evidence=evidence,
                )
            )
    return results


def _equals(
    context: Context,
    name: str,
    wanted: Any,
    remedy: str,
    describe: Optional[str] = None,
) -> List[CheckResult]:
    setting = _setting(context, name)
    results = []
    for role, component, rule in context.rules():
        if "error" in setting:
            results.append(_error(context, role, setting))
            continue
        value = setting["value"]
        evidence = {"file": setting["file"], "value": value}
        ok = value in wanted if isinstance(wanted, (list, tuple)) else value == wanted
        expected = (
            " or ".join(map(str, wanted)) if isinstance(wanted, (list, tuple)) else str(wanted)
        )
        message = describe or f"{name} = {value}"
        results.append(
            context.result(
                PASS if ok else _severity(rule),
                observed=str(value),
                expected=expected,
                message=message if ok else f"{component} wants {name} = {expected}",
                remedy="" if ok else remedy,
                role=role,
                evidence=evidence,
            )
        )
    return results


def check_ip_forward(context: Context) -> List[CheckResult]:
    return _equals(
        context,
        "net.ipv4.ip_forward",
        1,
        "sysctl -w net.ipv4.ip_forward=1 and put net.ipv4.ip_forward=1 in "
        "/etc/sysctl.d/60-wire.conf",
    )


def check_br_netfilter(context: Context) -> List[CheckResult]:
    loaded = _setting(context, "br_netfilter_loaded")
    call = _setting(context, "net.bridge.bridge-nf-call-iptables")
    results = []
    remedy = (
        "modprobe br_netfilter; echo br_netfilter > /etc/modules-load.d/br_netfilter.conf; "
        "sysctl -w net.bridge.bridge-nf-call-iptables=1"
    )
    for role, _component, rule in context.rules():
        if "error" in loaded:
            results.append(_error(context, role, loaded))
            continue
        value = call.get("value")
        # The sysctl exists only when bridge netfilter is in the kernel, as a module or built in.
        present = bool(loaded.get("value")) or value is not None
        evidence = {
            "module": loaded.get("file"),
            "module_loaded": loaded.get("value"),
            "bridge-nf-call-iptables": value,
        }
        observed = "bridge netfilter {}, bridge-nf-call-iptables = {}".format(
            "present" if present else "absent", value if value is not None else "absent"
        )
        ok = present and value == 1
        results.append(
            context.result(
                PASS if ok else _severity(rule),
                observed=observed,
                expected="bridge netfilter present, bridge-nf-call-iptables = 1",
                message="bridged pod traffic passes iptables"
                if ok
                else "pod traffic across the bridge bypasses iptables (kube-proxy rules)",
                remedy="" if ok else remedy,
                role=role,
                evidence=evidence,
            )
        )
    return results


def check_thp(context: Context) -> List[CheckResult]:
    allowed = context.table().get("allowed", ["never"])
    return _equals(
        context,
        "transparent_hugepage.enabled",
        allowed,
        "echo never > /sys/kernel/mm/transparent_hugepage/enabled, and add "
        "transparent_hugepage=never to GRUB_CMDLINE_LINUX in /etc/default/grub",
        "transparent hugepages off",
    )


def check_zone_reclaim(context: Context) -> List[CheckResult]:
    return _equals(
        context,
        "vm.zone_reclaim_mode",
        0,
        "sysctl -w vm.zone_reclaim_mode=0 and put it in /etc/sysctl.d/60-wire.conf",
    )

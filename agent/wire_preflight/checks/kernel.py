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


def _error(check_id: str, role: str, setting: Dict[str, Any], source: str) -> CheckResult:
    return CheckResult(
        check_id,
        role,
        ERROR,
        None,
        None,
        "cannot read it: {}".format(setting["error"]),
        "run as root, or check that the kernel exposes {}".format(setting.get("file")),
        source,
    )


def _severity(rule: Any) -> str:
    return rule if isinstance(rule, str) else rule.get("severity", WARN)


def check_swap(context: Context) -> List[CheckResult]:
    source = context.source("swap")
    swaps = _setting(context, "swaps")
    results = []
    for role, component, rule in context.rules("swap"):
        if "error" in swaps:
            results.append(_error("swap", role, swaps, source))
            continue
        active = swaps["value"]
        evidence = {"file": swaps["file"], "swaps": active}
        if not active:
            results.append(
                CheckResult(
                    "swap", role, PASS, "off", "off", "no swap in use", "", source, evidence
                )
            )
            continue
        total = sum(s["size_bytes"] for s in active)
        results.append(
            CheckResult(
                "swap",
                role,
                _severity(rule),
                "{:.1f} GiB on {}".format(total / 1024**3, ", ".join(s["device"] for s in active)),
                "off",
                f"{component} wants no swap",
                "swapoff -a, and remove the swap lines from /etc/fstab",
                source,
                evidence,
            )
        )
    return results


def check_max_map_count(context: Context) -> List[CheckResult]:
    source = context.source("vm-max-map-count")
    setting = _setting(context, "vm.max_map_count")
    results = []
    for role, component, rule in context.rules("vm-max-map-count"):
        if "error" in setting:
            results.append(_error("vm-max-map-count", role, setting, source))
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
                CheckResult(
                    "vm-max-map-count",
                    role,
                    PASS,
                    str(value),
                    expected,
                    "enough memory map areas for " + component,
                    "",
                    source,
                    evidence,
                )
            )
        else:
            results.append(
                CheckResult(
                    "vm-max-map-count",
                    role,
                    status,
                    str(value),
                    expected,
                    f"{component} needs vm.max_map_count >= {threshold}",
                    f"sysctl -w vm.max_map_count={want} and put vm.max_map_count={want} in "
                    "/etc/sysctl.d/60-wire.conf",
                    source,
                    evidence,
                )
            )
    return results


def _equals(
    context: Context,
    check_id: str,
    name: str,
    wanted: Any,
    remedy: str,
    describe: Optional[str] = None,
) -> List[CheckResult]:
    source = context.source(check_id)
    setting = _setting(context, name)
    results = []
    for role, component, rule in context.rules(check_id):
        if "error" in setting:
            results.append(_error(check_id, role, setting, source))
            continue
        value = setting["value"]
        evidence = {"file": setting["file"], "value": value}
        ok = value in wanted if isinstance(wanted, (list, tuple)) else value == wanted
        expected = (
            " or ".join(map(str, wanted)) if isinstance(wanted, (list, tuple)) else str(wanted)
        )
        message = describe or f"{name} = {value}"
        results.append(
            CheckResult(
                check_id,
                role,
                PASS if ok else _severity(rule),
                str(value),
                expected,
                message if ok else f"{component} wants {name} = {expected}",
                "" if ok else remedy,
                source,
                evidence,
            )
        )
    return results


def check_ip_forward(context: Context) -> List[CheckResult]:
    return _equals(
        context,
        "ip-forward",
        "net.ipv4.ip_forward",
        1,
        "sysctl -w net.ipv4.ip_forward=1 and put net.ipv4.ip_forward=1 in "
        "/etc/sysctl.d/60-wire.conf",
    )


def check_br_netfilter(context: Context) -> List[CheckResult]:
    source = context.source("br-netfilter")
    loaded = _setting(context, "br_netfilter_loaded")
    call = _setting(context, "net.bridge.bridge-nf-call-iptables")
    results = []
    remedy = (
        "modprobe br_netfilter; echo br_netfilter > /etc/modules-load.d/br_netfilter.conf; "
        "sysctl -w net.bridge.bridge-nf-call-iptables=1"
    )
    for role, _component, rule in context.rules("br-netfilter"):
        if "error" in loaded:
            results.append(_error("br-netfilter", role, loaded, source))
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
            CheckResult(
                "br-netfilter",
                role,
                PASS if ok else _severity(rule),
                observed,
                "bridge netfilter present, bridge-nf-call-iptables = 1",
                "bridged pod traffic passes iptables"
                if ok
                else "pod traffic across the bridge bypasses iptables (kube-proxy rules)",
                "" if ok else remedy,
                source,
                evidence,
            )
        )
    return results


def check_thp(context: Context) -> List[CheckResult]:
    allowed = context.profile.host.get("thp", {}).get("allowed", ["never"])
    return _equals(
        context,
        "thp",
        "transparent_hugepage.enabled",
        allowed,
        "echo never > /sys/kernel/mm/transparent_hugepage/enabled, and add "
        "transparent_hugepage=never to GRUB_CMDLINE_LINUX in /etc/default/grub",
        "transparent hugepages off",
    )


def check_zone_reclaim(context: Context) -> List[CheckResult]:
    return _equals(
        context,
        "zone-reclaim",
        "vm.zone_reclaim_mode",
        0,
        "sysctl -w vm.zone_reclaim_mode=0 and put it in /etc/sysctl.d/60-wire.conf",
    )

"""Kernel settings each component asks for: swap, sysctls, modules, hugepages."""

from typing import Any, Callable, Dict, List, Optional, Tuple

from wire_preflight.checks import Context
from wire_preflight.model import ERROR, FAIL, PASS, WARN, CheckResult


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


def _each_rule(
    context: Context,
    setting: Dict[str, Any],
    judge: Callable[[str, str, Any], CheckResult],
) -> List[CheckResult]:
    """One result per (role, component, rule) of this check: `error` when the setting could
    not be read, else what judge(role, component, rule) says of it."""
    return [
        _error(context, role, setting) if "error" in setting else judge(role, component, rule)
        for role, component, rule in context.rules()
    ]


def check_swap(context: Context) -> List[CheckResult]:
    swaps = _setting(context, "swaps")

    def judge(role: str, component: str, rule: Any) -> CheckResult:
        active = swaps["value"]
        evidence = {"file": swaps["file"], "swaps": active}
        if not active:
            return context.result(
                PASS,
                observed="off",
                expected="off",
                message="no swap in use",
                role=role,
                evidence=evidence,
            )
        total = sum(s["size_bytes"] for s in active)
        return context.result(
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

    return _each_rule(context, swaps, judge)


def check_max_map_count(context: Context) -> List[CheckResult]:
    setting = _setting(context, "vm.max_map_count")

    def judge(role: str, component: str, rule: Any) -> CheckResult:
        value = setting["value"]
        want = rule.get("warn_below") or rule.get("fail_below")
        status, threshold = PASS, None
        if "fail_below" in rule and value < rule["fail_below"]:
            status, threshold = FAIL, rule["fail_below"]
        elif "warn_below" in rule and value < rule["warn_below"]:
            status, threshold = WARN, rule["warn_below"]
        expected = f">= {want}"
        evidence = {"file": setting["file"], "value": value}
        if status == PASS:
            return context.result(
                PASS,
                observed=str(value),
                expected=expected,
                message="enough memory map areas for " + component,
                role=role,
                evidence=evidence,
            )
        return context.result(
            status,
            observed=str(value),
            expected=expected,
            message=f"{component} needs vm.max_map_count >= {threshold}",
            remedy=f"sysctl -w vm.max_map_count={want} and put vm.max_map_count={want} "
            "in /etc/sysctl.d/60-wire.conf",
            role=role,
            evidence=evidence,
        )

    return _each_rule(context, setting, judge)


def _equals(
    context: Context,
    name: str,
    wanted: Any,
    remedy: str,
    describe: Optional[str] = None,
) -> List[CheckResult]:
    setting = _setting(context, name)

    def judge(role: str, component: str, rule: Any) -> CheckResult:
        value = setting["value"]
        evidence = {"file": setting["file"], "value": value}
        ok = value in wanted if isinstance(wanted, (list, tuple)) else value == wanted
        expected = (
            " or ".join(map(str, wanted)) if isinstance(wanted, (list, tuple)) else str(wanted)
        )
        message = describe or f"{name} = {value}"
        return context.result(
            PASS if ok else _severity(rule),
            observed=str(value),
            expected=expected,
            message=message if ok else f"{component} wants {name} = {expected}",
            remedy="" if ok else remedy,
            role=role,
            evidence=evidence,
        )

    return _each_rule(context, setting, judge)


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
    remedy = (
        "modprobe br_netfilter; echo br_netfilter > /etc/modules-load.d/br_netfilter.conf; "
        "sysctl -w net.bridge.bridge-nf-call-iptables=1"
    )

    def judge(role: str, _component: str, rule: Any) -> CheckResult:
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
        return context.result(
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

    return _each_rule(context, loaded, judge)


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


# How a module is there, best first; a requirement with alternatives takes its best one.
_PRESENT = ("loaded", "built in", "loadable")
_UNKNOWN = "unknown"
_MISSING = "missing"
_RANK = {state: rank for rank, state in enumerate((*_PRESENT, _UNKNOWN, _MISSING))}


def module_state(found: Optional[Dict[str, Any]]) -> str:
    """One module's facts -> loaded | built in | loadable | unknown | missing. A source that
    could not be read says None, and None never makes a module missing."""
    if found is None:
        return _UNKNOWN
    if found.get("loaded"):
        return "loaded"
    if found.get("builtin"):
        return "built in"
    if found.get("loadable"):
        return "loadable"
    if None in (found.get("loaded"), found.get("builtin"), found.get("loadable")):
        return _UNKNOWN
    return _MISSING


def requirement_state(entry: str, modules: Dict[str, Any]) -> Tuple[str, str]:
    """(state, module) for "a|b": the best of the alternatives, and which one it is."""
    states = [
        (module_state(modules.get(name.replace("-", "_"))), name) for name in entry.split("|")
    ]
    return min(states, key=lambda pair: _RANK[pair[0]])


def check_calico_modules(context: Context) -> List[CheckResult]:
    """Calico's kernel dependencies on a Kubernetes node. A module that is only loadable
    passes: the kernel loads a netfilter match, target or IP set type itself (modprobe, via
    request_module) the first time a rule uses it."""
    facts = context.facts.get("kernel_modules")
    results = []
    for role, _component, rule in context.rules():
        if facts is None:
            results.append(context.absent("kernel_modules", role))
        else:
            results.append(_modules_result(context, role, rule, facts))
    return results


def _modules_result(
    context: Context, role: str, rule: Dict[str, Any], facts: Dict[str, Any]
) -> CheckResult:
    required, recommended = rule.get("required", []), rule.get("recommended", [])
    modules = facts.get("modules") or {}
    judged = {entry: requirement_state(entry, modules) for entry in required + recommended}
    missing = [entry for entry in required if judged[entry][0] == _MISSING]
    weak = [entry for entry in recommended if judged[entry][0] == _MISSING]
    unknown = [entry for entry, (state, _) in judged.items() if state == _UNKNOWN]
    release = facts.get("release") or "RELEASE"
    states = [state for state, _ in judged.values()]
    observed = ", ".join(f"{states.count(state)} {state}" for state in _RANK if state in states)
    if missing or weak:
        observed += "; missing: " + ", ".join(missing + weak)
    install = (
        f"apt-get install linux-modules-extra-{release} (the modules Ubuntu's base package"
        " leaves out), or boot a kernel that has them"
    )
    if missing:
        status, remedy = FAIL, install
        message = "Calico cannot program its rules: no {} in kernel {}".format(
            ", ".join(missing), release
        )
    elif unknown:
        status, remedy = ERROR, _unknown_remedy(facts, release)
        reasons = "; ".join(sorted(set((facts.get("errors") or {}).values())))
        message = "cannot tell whether {} {} in kernel {}: {}".format(
            ", ".join(unknown),
            "is" if len(unknown) == 1 else "are",
            release,
            reasons or "not in the facts (collected for another profile)",
        )
    elif weak:
        status, remedy = WARN, install
        message = "no {} in kernel {}: Calico cannot use that mode".format(", ".join(weak), release)
    else:
        status, remedy = PASS, ""
        message = "every kernel module Calico needs is there"
    return context.result(
        status,
        observed=observed or "nothing asked",
        expected=f"{len(required)} required and {len(recommended)} recommended modules present"
        " (loaded, built in or loadable)",
        message=message,
        remedy=remedy,
        role=role,
        evidence={
            "release": facts.get("release"),
            "modules": {entry: {"state": s, "module": m} for entry, (s, m) in judged.items()},
            "errors": facts.get("errors") or {},
        },
    )


def _unknown_remedy(facts: Dict[str, Any], release: str) -> str:
    if facts.get("modular") is False:
        return (
            "this kernel loads no modules: look for the netfilter options in its configuration"
            f" (/proc/config.gz or /boot/config-{release})"
        )
    return (
        "run the agent on the live host as root; a captured tree needs its /proc/modules and"
        f" /lib/modules/{release}"
    )

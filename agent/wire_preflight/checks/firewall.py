"""host-firewall: a host firewall set up at boot that would drop what the role must receive.

Four firewalls, one helper each, each returning what it found: a blocker (with its remedy)
or a soft finding (UFW enabled but allowing the ports). UFW is judged against the ports of
the role's rule; firewalld, and an nftables or saved iptables input policy of drop, block
whatever the ports.
"""

from typing import Any, Dict, List, NamedTuple, Tuple

from wire_preflight.checks import Context
from wire_preflight.model import ERROR, PASS, WARN, CheckResult

# (proto, first port, last port)
Ports = List[Tuple[str, int, int]]


class Finding(NamedTuple):
    blocker: str = ""
    remedy: str = ""
    # in the way of nothing the role needs, but the plan asks for no interference
    soft: str = ""


def _ports(rule: Dict[str, Any], proto: str) -> List[Tuple[int, int]]:
    """A rule's `tcp`/`udp` list: ports (22) and ranges ("32768-65535")."""
    out = []
    for item in rule.get(proto) or []:
        first, _, last = str(item).partition("-")
        out.append((int(first), int(last or first)))
    return out


def _port_words(low: int, high: int, proto: str) -> str:
    return f"{low}/{proto}" if low == high else f"{low}-{high}/{proto}"


def ufw_allows(rules: List[Dict[str, str]], proto: str, low: int, high: int) -> bool:
    """Does an inbound allow (or limit) rule open every port low..high for proto?"""
    wanted = set(range(low, high + 1))
    for rule in rules:
        if rule["direction"] != "in" or rule["action"] not in ("allow", "limit"):
            continue
        if rule["proto"] not in (proto, "any"):
            continue
        if rule["port"] == "any":
            return True
        for part in rule["port"].split(","):
            first, _, last = part.partition(":")
            try:
                wanted -= set(range(int(first), int(last or first) + 1))
            except ValueError:
                continue
        if not wanted:
            return True
    return not wanted


def _ufw(firewall: Dict[str, Any], wanted: Ports) -> Finding:
    ufw = firewall.get("ufw")
    if not (ufw and ufw.get("enabled")):
        return Finding()
    if ufw.get("default_input") == "ACCEPT":
        closed = []  # type: Ports
    else:
        closed = [(p, lo, hi) for p, lo, hi in wanted if not ufw_allows(ufw["rules"], p, lo, hi)]
    if not closed:
        return Finding(soft="UFW is enabled (its rules allow these ports)")
    return Finding(
        blocker="UFW is enabled and does not allow {}".format(
            ", ".join(_port_words(lo, hi, p) for p, lo, hi in closed)
        ),
        remedy="ufw disable, or "
        + "; ".join(
            "ufw allow {}/{}".format(f"{lo}:{hi}" if lo != hi else lo, p) for p, lo, hi in closed
        ),
    )


def _firewalld(firewall: Dict[str, Any]) -> Finding:
    if (firewall.get("firewalld") or {}).get("enabled"):
        return Finding("firewalld is enabled", "systemctl disable --now firewalld")
    return Finding()


def _nftables(firewall: Dict[str, Any]) -> Finding:
    nft = firewall.get("nftables") or {}
    if nft.get("enabled") and nft.get("input_policy_drop"):
        return Finding(
            "nftables starts with an input policy of drop ({})".format(nft["file"]),
            "open the ports in {} or systemctl disable nftables".format(nft["file"]),
        )
    return Finding()


def _iptables_saved(firewall: Dict[str, Any]) -> Finding:
    saved = firewall.get("iptables_saved") or {}
    if saved.get("input_policy_drop"):
        return Finding(
            "saved iptables rules drop input by default ({})".format(saved["file"]),
            "open the ports in {}".format(saved["file"]),
        )
    return Finding()


def check_host_firewall(context: Context) -> List[CheckResult]:
    """A host firewall that would drop what the role must receive (UFW without the rules,
    firewalld, an nftables or saved iptables input policy of drop)."""
    firewall = context.facts.get("firewall")
    results = []
    for role, _component, rule in context.rules():
        rule = rule if isinstance(rule, dict) else {"severity": rule}
        if firewall is None:
            results.append(_unreadable(context, role))
        else:
            results.append(_judge(context, role, rule, firewall))
    return results


def _unreadable(context: Context, role: str) -> CheckResult:
    reason = (context.facts.get("errors") or {}).get("firewall", "not in the facts")
    return context.result(
        ERROR,
        observed=None,
        expected="no host firewall in the way",
        message=f"cannot read the firewall configuration: {reason}",
        remedy="collect facts with this version of the agent",
        role=role,
    )


def _judge(
    context: Context, role: str, rule: Dict[str, Any], firewall: Dict[str, Any]
) -> CheckResult:
    wanted = [(p, lo, hi) for p in ("tcp", "udp") for lo, hi in _ports(rule, p)]
    expected = "no host firewall in the way of {}".format(
        ", ".join(_port_words(lo, hi, p) for p, lo, hi in wanted) or "inbound traffic"
    )
    found = [
        _ufw(firewall, wanted),
        _firewalld(firewall),
        _nftables(firewall),
        _iptables_saved(firewall),
    ]
    blockers = [f.blocker for f in found if f.blocker]
    soft = [f.soft for f in found if f.soft]
    evidence = {k: firewall.get(k) for k in ("ufw", "firewalld", "nftables", "iptables_saved")}
    if blockers:
        return context.result(
            rule.get("severity", WARN),
            observed="; ".join(blockers),
            expected=expected,
            message="; ".join(blockers + soft),
            remedy="; ".join(f.remedy for f in found if f.blocker),
            role=role,
            evidence=evidence,
        )
    if soft:
        return context.result(
            WARN,
            observed="; ".join(soft),
            expected=expected,
            message="; ".join(soft) + ", but the plan asks for no host firewall interference",
            remedy="ufw disable, unless you keep its rules in step with the ports",
            role=role,
            evidence=evidence,
        )
    return context.result(
        PASS,
        observed="none enabled",
        expected=expected,
        message="no host firewall enabled (UFW, firewalld, nftables, saved iptables rules)",
        role=role,
        evidence=evidence,
    )

"""Host firewalls as their configuration files say they start at boot: UFW (ufw.conf's
ENABLED, /etc/default/ufw's input policy, the rule tuples ufw keeps in user.rules and
user6.rules), firewalld and nftables (enabled units), iptables-persistent (saved rules).

Files, not live tables: listing the kernel's tables needs root and iptables, and the files
are what a captured tree (--root) has too.
"""

import re
from typing import Any, Dict, List, Optional

from wire_preflight import safefile
from wire_preflight.facts import files

UFW_CONF = "/etc/ufw/ufw.conf"
UFW_DEFAULT = "/etc/default/ufw"
UFW_RULES = ("/etc/ufw/user.rules", "/etc/ufw/user6.rules")
# `systemctl enable` links a unit into the target it is wanted by.
WANTS = "/etc/systemd/system/*.target.wants/{}.service"
IPTABLES_SAVED = "/etc/iptables/rules.v4"
NFTABLES_CONF = "/etc/nftables.conf"
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_TUPLE = re.compile(r"^### tuple ###\s*(.*)$")


def collect(root: str = "/") -> Dict[str, Any]:
    errors = []  # type: List[Dict[str, str]]
    return {
        "ufw": _ufw(root, errors),
        "firewalld": {"enabled": _enabled(root, "firewalld")},
        "nftables": _nftables(root, errors),
        "iptables_saved": _iptables_saved(root, errors),
        "errors": errors,
    }


def _ufw(root: str, errors: List[Dict[str, str]]) -> Optional[Dict[str, Any]]:
    if not files.matching(root, UFW_CONF):
        return None  # not installed
    conf = parse_shell_vars(files.read(root, UFW_CONF, errors) or "")
    default = parse_shell_vars(
        (files.read(root, UFW_DEFAULT, errors) if files.matching(root, UFW_DEFAULT) else "") or ""
    )
    rules = []  # type: List[Dict[str, str]]
    for path in UFW_RULES:
        if files.matching(root, path):
            rules.extend(parse_ufw_rules(files.read(root, path, errors, safefile.LARGE) or ""))
    return {
        "enabled": conf.get("ENABLED", "no").lower() == "yes",
        "default_input": default.get("DEFAULT_INPUT_POLICY", "DROP").upper(),
        "rules": rules,
        "file": UFW_CONF,
    }


def parse_shell_vars(text: str) -> Dict[str, str]:
    """The assignments of a file the shell sources (ufw.conf, /etc/default/ufw), split as
    the shell splits words: quotes, escapes and `#` comments by shlex; `export` is allowed.
    A line the shell could not split (an unclosed quote) is skipped, the others count."""
    import shlex  # lazy: only hosts with UFW installed read these files

    out = {}  # type: Dict[str, str]
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        words = []
        for line in text.splitlines():
            try:
                words.extend(shlex.split(line, comments=True))
            except ValueError:
                continue
    for word in words:
        found = _ASSIGNMENT.match(word)
        if found:
            out[found.group(1)] = found.group(2)
    return out


def parse_ufw_rules(text: str) -> List[Dict[str, str]]:
    """ufw's `### tuple ### ACTION PROTO DPORT DST SPORT SRC [DAPP SAPP] DIRECTION` lines."""
    out = []
    for line in text.splitlines():
        found = _TUPLE.match(line.split(" comment=", 1)[0].strip())
        if not found:
            continue
        fields = found.group(1).split()
        if len(fields) < 6:
            continue
        direction = fields[-1].split("_")[0] if len(fields) in (7, 9) else "in"
        out.append(
            {
                "action": fields[0].split("_")[0],  # allow_log -> allow
                "proto": fields[1],
                "port": fields[2],
                "direction": direction,
            }
        )
    return out


def _enabled(root: str, unit: str) -> bool:
    return bool(files.matching(root, WANTS.format(unit)))


def _nftables(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    enabled = _enabled(root, "nftables")
    text = (
        files.read(root, NFTABLES_CONF, errors, safefile.LARGE)
        if enabled and files.matching(root, NFTABLES_CONF)
        else None
    )
    drops = bool(text and _input_policy_drops(text))
    return {"enabled": enabled, "input_policy_drop": drops, "file": NFTABLES_CONF}


def _input_policy_drops(text: str) -> bool:
    """An input hook's statement followed by `policy drop`: statement by statement, as a
    regex over the whole file would rescan the rest of it from every `hook input`."""
    statements = text.split(";")
    return any(
        re.search(r"hook\s+input\b", statement) and re.match(r"\s*policy\s+drop", following)
        for statement, following in zip(statements, statements[1:])
    )


def _iptables_saved(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    if not files.matching(root, IPTABLES_SAVED):
        return {"present": False}
    text = files.read(root, IPTABLES_SAVED, errors, safefile.LARGE) or ""
    drops = bool(re.search(r"^:INPUT\s+(DROP|REJECT)\b", text, re.M))
    return {"present": True, "input_policy_drop": drops, "file": IPTABLES_SAVED}

"""ifupdown's /etc/network/interfaces (interfaces(5)).

`iface NAME inet|inet6 METHOD` stanzas with their option lines; `source` (a glob) and
`source-directory` (files whose names are letters, digits, `_` and `-`) include other files,
a relative path being taken from the directory of the file that names it. A `manual` or
`static` stanza that starts a DHCP client from a hook (pre-up, up, post-up) gets its address by
DHCP all the same: the client must be the command the hook runs (after `sudo`, `env`, VAR=...,
a path), not an argument (`killall dhclient`), and counts for its stanza's family unless told
otherwise (`dhclient -6` is DHCPv6, `-4` DHCPv4).
"""

import os
import re
from typing import Any, Dict, List, Optional, Tuple

from wire_preflight import safefile
from wire_preflight.facts import files
from wire_preflight.netresolve import IFUPDOWN_MAIN

MAIN = IFUPDOWN_MAIN
_HOOKS = ("pre-up", "up", "post-up")
_DHCP_CLIENTS = ("dhclient", "dhclient3", "udhcpc", "udhcpc6", "dhcpcd", "dhcpcd5", "pump")
_DHCP6_ONLY = ("udhcpc6", "odhcp6c")
_WRAPPERS = ("sudo", "env", "exec", "nohup", "command", "busybox")
_DIRECTORY_FILE = re.compile(r"^[a-zA-Z0-9_-]+$")
# Keywords that open a new stanza (interfaces(5)); compared whole, as ifupdown does, so an
# option such as `autoconf 0` does not close the iface stanza it belongs to.
_STANZAS = ("iface", "mapping", "auto", "source", "source-directory", "source-dir", "rename")
_INCLUDES = ("source", "source-directory", "source-dir")
_TOO_MANY = f"refused, more than {files.MAX_ENTRIES} files named by source lines; the rest not read"


def collect(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    stanzas = {}  # type: Dict[str, Dict[str, Any]]
    pending = [MAIN]
    seen = set()
    looked = 0
    while pending:
        path = pending.pop(0)
        looked += 1
        if looked > files.MAX_ENTRIES:  # a tree whose files source each other without end
            errors.append({"file": path, "error": _TOO_MANY})
            break
        real = files.under(root, path)  # one file by many names (links, x/../x) is read once
        if real in seen or not os.path.isfile(real):
            continue
        seen.add(real)
        text = files.read(root, path, errors)
        if text is None:
            continue
        found, includes = parse(text, path)
        for name, stanza in found.items():
            stanza["file"] = path
            before = stanzas.get(name)
            if before:  # inet and inet6 stanzas of one interface, maybe in two files
                stanza = _combine(before, stanza)
            stanzas[name] = stanza
        try:
            pending[0:0] = _expand(root, includes)  # included files are read where named
        except safefile.Refused as exc:  # a glob matching without end: the rest still count
            errors.append({"file": exc.filename or path, "error": exc.strerror})
    return stanzas


def _expand(root: str, includes: List[Tuple[str, str]]) -> List[str]:
    out = []
    for kind, pattern in includes:
        if kind == "source":  # source-directory and source-dir: the files of a directory
            out.extend(files.matching(root, pattern))
        else:
            out.extend(
                p
                for p in files.matching(root, pattern.rstrip("/") + "/*")
                if _DIRECTORY_FILE.match(os.path.basename(p))
            )
    return out


def parse(text: str, path: str = MAIN) -> Tuple[Dict[str, Dict[str, Any]], List[Tuple[str, str]]]:
    """({interface: stanza}, [(source|source-directory, absolute glob)])."""
    stanzas = {}  # type: Dict[str, Dict[str, Any]]
    includes = []
    current = None  # type: Optional[Dict[str, Any]]
    current_family = "inet"
    here = os.path.dirname(path) or "/"
    for words in _lines(text):
        keyword = words[0]
        if keyword == "iface" and len(words) >= 4:
            name, family, method = words[1], words[2], words[3]
            stanza = stanzas.setdefault(
                name, {"methods": {}, "addresses": [], "hooks": [], "dhcp_hooks": {}}
            )
            stanza["methods"][family] = method
            current, current_family = stanza, family
        elif keyword in _INCLUDES and len(words) >= 2:
            target = words[1] if words[1].startswith("/") else os.path.join(here, words[1])
            includes.append((keyword, target))
            current = None
        elif keyword in _STANZAS or keyword.startswith("allow-"):
            current = None
        elif current is not None and keyword == "address" and len(words) >= 2:
            current["addresses"].append(words[1])
        elif current is not None and keyword in _HOOKS:
            command = " ".join(words[1:])
            hook_family = dhcp_client_family(command, current_family)
            if hook_family:
                hook = f"{keyword} {command}"
                current["hooks"].append(hook)
                current["dhcp_hooks"].setdefault(hook_family, hook)
    for stanza in stanzas.values():
        methods = stanza["methods"]
        stanza["method"] = methods.get("inet") or methods.get("inet6")
        stanza["dhcp_hook"] = stanza["hooks"][0] if stanza["hooks"] else None
    return stanzas, includes


def dhcp_client_family(command: str, family: str) -> Optional[str]:
    """The address family (inet, inet6) a hook's command gets by DHCP, if it starts a DHCP
    client: in each of its commands (split at ; & | and parentheses) the program run, after
    wrappers (sudo, env, VAR=value) and a path, must be the client, and not told to release
    or stop (-r, -x, -k)."""
    for part in re.split(r"[;&|()]+", command):
        words = part.split()
        while words and (
            words[0] in _WRAPPERS
            or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])
            or (words[0].startswith("-") and words[0] != "-")
        ):
            words.pop(0)  # sudo -E, env -i, VAR=value
        if not words:
            continue
        program = os.path.basename(words[0])
        if program not in _DHCP_CLIENTS + _DHCP6_ONLY:
            continue
        flags = words[1:]
        if any(f in ("-r", "-x", "-k", "--release", "--exit") for f in flags):
            continue
        if program in _DHCP6_ONLY or "-6" in flags:
            return "inet6"
        if "-4" in flags:
            return "inet"
        return family
    return None


def _lines(text: str) -> List[List[str]]:
    out = []
    pending = ""
    for raw in text.splitlines():
        line = pending + raw
        pending = ""
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        if line.lstrip().startswith("#"):
            continue
        words = line.split()
        if words:
            out.append(words)
    return out


def _combine(before: Dict[str, Any], later: Dict[str, Any]) -> Dict[str, Any]:
    merged = dict(later)
    merged["methods"] = dict(before["methods"], **later["methods"])
    merged["addresses"] = before["addresses"] + later["addresses"]
    merged["hooks"] = before["hooks"] + later["hooks"]
    merged["dhcp_hooks"] = dict(later.get("dhcp_hooks") or {}, **(before.get("dhcp_hooks") or {}))
    merged["method"] = merged["methods"].get("inet") or merged["methods"].get("inet6")
    merged["dhcp_hook"] = merged["hooks"][0] if merged["hooks"] else None
    return merged

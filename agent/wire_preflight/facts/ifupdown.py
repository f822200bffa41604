"""ifupdown's /etc/network/interfaces (interfaces(5)).

`iface NAME inet|inet6 METHOD` stanzas with their option lines; `source` (a glob) and
`source-directory` (files whose names are letters, digits, `_` and `-`) include other files,
a relative path being taken from the directory of the file that names it. A `manual` or
`static` stanza that starts a DHCP client from a hook (pre-up, up, post-up) gets its address by
DHCP all the same.
"""

import os
import re
from typing import Any, Dict, List, Tuple

from wire_preflight.facts import files, netmatch

MAIN = "/etc/network/interfaces"
_HOOKS = ("pre-up", "up", "post-up")
_DHCP_CLIENTS = re.compile(r"(^|[\s/;&|(])(dhclient3?|udhcpc|dhcpcd|pump|dhcpcd5)(\s|$|;)")
_DIRECTORY_FILE = re.compile(r"^[a-zA-Z0-9_-]+$")
_STANZAS = ("iface", "mapping", "auto", "source", "source-directory", "allow-", "rename")


def collect(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    stanzas = {}  # type: Dict[str, Dict[str, Any]]
    pending = [MAIN]
    seen = set()
    while pending:
        path = pending.pop(0)
        if path in seen or not os.path.isfile(files.under(root, path)):
            continue
        seen.add(path)
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
        pending[0:0] = _expand(root, includes)  # included files are read where they are named
    return stanzas


def _expand(root: str, includes: List[Tuple[str, str]]) -> List[str]:
    out = []
    for kind, pattern in includes:
        if kind == "source":
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
    here = os.path.dirname(path) or "/"
    for words in _lines(text):
        keyword = words[0]
        if keyword == "iface" and len(words) >= 4:
            name, family, method = words[1], words[2], words[3]
            stanza = stanzas.setdefault(name, {"methods": {}, "addresses": [], "hooks": []})
            stanza["methods"][family] = method
            current = stanza
        elif keyword in ("source", "source-directory") and len(words) >= 2:
            target = words[1] if words[1].startswith("/") else os.path.join(here, words[1])
            includes.append((keyword, target))
            current = None
        elif keyword.startswith(_STANZAS):
            current = None
        elif current is not None and keyword == "address" and len(words) >= 2:
            current["addresses"].append(words[1])
        elif current is not None and keyword in _HOOKS:
            command = " ".join(words[1:])
            if _DHCP_CLIENTS.search(command):
                current["hooks"].append(f"{keyword} {command}")
    for stanza in stanzas.values():
        methods = stanza["methods"]
        stanza["method"] = methods.get("inet") or methods.get("inet6")
        stanza["dhcp_hook"] = stanza["hooks"][0] if stanza["hooks"] else None
    return stanzas, includes


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
    merged["method"] = merged["methods"].get("inet") or merged["methods"].get("inet6")
    merged["dhcp_hook"] = merged["hooks"][0] if merged["hooks"] else None
    return merged


def records(stanzas: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = []
    for name, stanza in sorted(stanzas.items()):
        methods = stanza.get("methods") or {"inet": stanza.get("method")}
        hooked = bool(stanza.get("dhcp_hook"))
        out.append(
            netmatch.record(
                "ifupdown",
                stanza.get("file") or MAIN,
                name,
                match={"name": [name]},
                dhcp4=methods.get("inet") == "dhcp" or ("inet" in methods and hooked),
                dhcp6=methods.get("inet6") in ("dhcp", "auto") or ("inet6" in methods and hooked),
                addresses=list(stanza.get("addresses") or []),
                ifupdown_methods=methods,
                dhcp_hook=stanza.get("dhcp_hook"),
                loopback=methods.get("inet") == "loopback",
            )
        )
    return out

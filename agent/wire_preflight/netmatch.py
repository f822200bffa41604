"""One configuration that may apply to an interface, and whether it applies to a given link.

Every reader (netplan, systemd-networkd, NetworkManager, ifupdown) turns its format into the
same record, so the per-interface verdict is decided in one place:

    {"source", "file", "id", "match": {key: [patterns]}, "negate": [keys],
     "dhcp4", "dhcp6", "addresses", "port_of", "method" (IPv4), "method6"}

`match` keys are name, mac, driver and type; every key given must hold. A list holds when any
of its patterns does, except:

- `match_style: "systemd"` (networkd's [Match]): a pattern written `!glob` is negative; the
  list holds when no negative pattern matches and there is no positive one or one matches
  (systemd's net_condition_test_strv);
- `negate` (facts of earlier agent versions): a key listed there holds when none matches.

`nm_match` (NetworkManager's [match] interface-name=, driver=) holds as NetworkManager's
nm_wildcard_match_check: `&pat` and `!pat` must all hold, and of the optional ones (`pat`,
`|pat`) one must, if there are any. An empty match selects every link; `binds_no_link` marks
a configuration that never takes a hardware link (a VPN profile, a VLAN whose device name is
unknown); `link_kind` the kind of link a profile can go on (ether, wlan), checked when the
link's kind is known. `unchecked` lists selectors the agent cannot judge (e.g. networkd's
Host=); they are assumed to hold, and ip-static says so in its evidence.
"""

import re
from typing import Any, Dict, List, Optional, Tuple

DHCP = "dhcp"
STATIC = "static"
PORT = "port"  # a bridge/bond member: it has no address of its own
NONE = "none"  # configured, but with neither addresses nor DHCP


def normalize_mac(value: Optional[str]) -> Optional[str]:
    """Lower-case colon-separated hex; accepts `-` and Cisco's dotted form. None if not a MAC."""
    if not value:
        return None
    digits = "".join(ch for ch in value.strip().lower() if ch not in ":-.")
    if len(digits) not in (12, 40) or any(ch not in "0123456789abcdef" for ch in digits):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def record(source: str, file: str, ident: str, **fields: Any) -> Dict[str, Any]:
    out = {
        "source": source,
        "file": file,
        "id": ident,
        "match": {},
        "negate": [],
        "dhcp4": False,
        "dhcp6": False,
        "addresses": [],
        "port_of": None,
    }  # type: Dict[str, Any]
    out.update(fields)
    out["method"] = method_of(out, "inet")
    out["method6"] = method_of(out, "inet6")
    return out


def method_of(entry: Dict[str, Any], family: str) -> str:
    """How the entry gives the interface an address of this family (inet, inet6)."""
    if entry.get("port_of"):
        return PORT
    if entry.get("dhcp4" if family == "inet" else "dhcp6"):
        return DHCP
    if any((":" in a) == (family == "inet6") for a in entry.get("addresses") or []):
        return STATIC
    return NONE


def matches(entry: Dict[str, Any], link: Dict[str, Any]) -> bool:
    if entry.get("binds_no_link"):
        return False
    kind = entry.get("link_kind")
    seen = link.get("type") or link.get("link_type")
    if kind and seen and seen != kind:
        return False  # an Ethernet profile does not go on a VLAN that shares the NIC's MAC
    negate = set(entry.get("negate") or [])
    systemd = entry.get("match_style") == "systemd"
    for key, patterns in (entry.get("match") or {}).items():
        if not patterns:
            continue
        if systemd:
            if not _systemd_strv(key, patterns, link):
                return False
            continue
        hit = any(_one(key, pattern, link) for pattern in patterns)
        if hit == (key in negate):
            return False
    for key, patterns in (entry.get("nm_match") or {}).items():
        if patterns and not _nm_wildcards(key, patterns, link):
            return False
    return True


def _systemd_strv(key: str, patterns: List[str], link: Dict[str, Any]) -> bool:
    """systemd's net_condition_test_strv: each pattern may be `!`-prefixed (negative)."""
    positive = matched = False
    for pattern in patterns:
        inverted = pattern.startswith("!")
        if not inverted:
            positive = True
        if _one(key, pattern[1:] if inverted else pattern, link):
            if inverted:
                return False
            matched = True
    return matched if positive else True


def _nm_wildcards(key: str, patterns: List[str], link: Dict[str, Any]) -> bool:
    """NetworkManager's nm_wildcard_match_check (nm-setting-match(5))."""
    optional_seen = optional_hit = False
    for pattern in patterns:
        inverted = mandatory = False
        if pattern.startswith("&"):
            pattern, mandatory = pattern[1:], True
            if pattern.startswith("!"):
                pattern, inverted = pattern[1:], True
        elif pattern.startswith("|"):
            pattern = pattern[1:]
            if pattern.startswith("!"):
                pattern, inverted = pattern[1:], True
        elif pattern.startswith("!"):
            pattern, inverted, mandatory = pattern[1:], True, True
        if pattern.startswith("\\"):
            pattern = pattern[1:]
        hit = _one(key, pattern, link) != inverted
        if mandatory:
            if not hit:
                return False
        else:
            optional_seen = True
            optional_hit = optional_hit or hit
    return optional_hit or not optional_seen


def _one(key: str, pattern: str, link: Dict[str, Any]) -> bool:
    if key in ("mac", "permanent_mac"):
        mac = normalize_mac(link.get("mac"))
        return mac is not None and mac == normalize_mac(pattern)
    value = link.get(key)
    if key == "type" and value is None:
        value = link.get("link_type")
    # A property the agent could not see (a driver with no /sys) cannot be shown to match.
    return value is not None and glob_match(str(pattern), str(value))


_GLOB_CACHE = {}  # type: Dict[str, Any]
_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "lower": "a-z",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}


def glob_match(pattern: str, name: str) -> bool:
    """fnmatch(3) with no flags, as systemd (Name=, Driver=), netplan's `match:` (rendered to
    networkd's Name= or NetworkManager's match) and NetworkManager's wildcards test names:
    `*`, `?`, `[...]` with `!` or `^` to negate, ranges and [:class:], and a backslash that
    makes the next character literal. Python's fnmatch differs on the last two."""
    compiled = _GLOB_CACHE.get(pattern)
    if compiled is None:
        compiled = _GLOB_CACHE[pattern] = re.compile(_glob_regex(pattern), re.DOTALL)
    return compiled.match(name) is not None


def _glob_regex(pattern: str) -> str:
    out = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "\\":
            if i == n:
                return "(?!)"  # a trailing backslash escapes nothing: fnmatch(3) matches nothing
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            klass, end = _glob_class(pattern, i)
            if klass is None:
                out.append(re.escape("["))  # no closing ']': a literal '['
            else:
                out.append(klass)
                i = end
        else:
            out.append(re.escape(ch))
    return "".join(out) + r"\Z"


def _glob_class(pattern: str, i: int) -> Tuple[Optional[str], int]:
    """The regex of a bracket expression starting after '[', and where it ends."""
    n = len(pattern)
    negate = i < n and pattern[i] in "!^"
    if negate:
        i += 1
    parts: List[str] = []
    first = True
    while i < n:
        ch = pattern[i]
        if ch == "]" and not first:
            if not parts:  # only reversed ranges: the class holds nothing
                return ("." if negate else "(?!)"), i + 1
            return ("[^" if negate else "[") + "".join(parts) + "]", i + 1
        first = False
        if ch == "[" and pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            if end != -1 and pattern[i + 2 : end] in _POSIX_CLASSES:
                parts.append(_POSIX_CLASSES[pattern[i + 2 : end]])
                i = end + 2
                continue
        if ch == "\\" and i + 1 < n:
            i += 1
            ch = pattern[i]
        if i + 2 < n and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            low, high = ch, pattern[i + 2]
            if high == "\\" and i + 3 < n:
                high = pattern[i + 3]
                i += 1
            if low <= high:
                parts.append(re.escape(low) + "-" + re.escape(high))
            i += 3
            continue
        parts.append(re.escape(ch))
        i += 1
    return None, i


def names_only(entry: Dict[str, Any]) -> Optional[List[str]]:
    """The exact names an entry is bound to, when it selects by plain name only."""
    match = entry.get("match") or {}
    names = match.get("name") or []
    if set(k for k, v in match.items() if v) != {"name"} or entry.get("negate"):
        return None
    if entry.get("binds_no_link") or any((entry.get("nm_match") or {}).values()):
        return None
    if any(ch in n for n in names for ch in "*?[") or any(n.startswith("!") for n in names):
        return None
    return list(names)


def selector(entry: Dict[str, Any]) -> str:
    """The interfaces an entry selects, in words ("interfaces matching en*")."""
    if entry.get("binds_no_link"):
        return "no interface of its own"
    words = {
        "name": "matching",
        "mac": "with MAC",
        "permanent_mac": "with permanent MAC",
        "driver": "with driver",
        "type": "of type",
    }
    parts: List[str] = []
    negate = set(entry.get("negate") or [])
    match = entry.get("match") or {}
    for key in ("name", "set_name", "mac", "permanent_mac", "driver", "type"):
        patterns = [str(p) for p in match.get(key) or []]
        if key == "set_name":
            parts.extend("renamed to " + p for p in patterns)
            continue
        positive = [p for p in patterns if not p.startswith("!") and key not in negate]
        negative = [p[1:] if p.startswith("!") else p for p in patterns if p not in positive]
        if positive:
            parts.append("{} {}".format(words[key], " or ".join(positive)))
        if negative:
            parts.append("not {} {}".format(words[key], " or ".join(negative)))
    for key, patterns in (entry.get("nm_match") or {}).items():
        if patterns:
            parts.append("{} {}".format(words.get(key, key), " ".join(patterns)))
    return "interfaces " + " and ".join(parts) if parts else "every interface"


def netplan_applies(entry: Dict[str, Any], link: Dict[str, Any]) -> bool:
    """netplan's rule: an entry whose set-name renamed the link still applies to it under its
    new name (its MAC, when both are known, must still agree)."""
    match = dict(entry.get("match") or {})
    renamed = match.pop("set_name", None)
    if renamed and link.get("name") in renamed:
        # Renamed by this very entry: the MAC (if any, and if known) still has to agree.
        macs = match.get("mac")
        if not macs or link.get("mac") is None:
            return True
        return matches({"match": {"mac": macs}}, link)
    return matches(dict(entry, match=match), link)

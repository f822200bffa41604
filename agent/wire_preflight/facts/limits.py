"""Resource limits a service will run with: its systemd unit, limits.d, or the system default.

A service started by systemd gets its unit's LimitNOFILE= (and drop-ins), else systemd's
DefaultLimitNOFILE= from system.conf; pam_limits (limits.conf, limits.d) applies only to
sessions and to services started outside systemd. All three are collected, with the file each
value came from, so the check can say which one it judged.
"""

import os
from typing import Any, Dict, Iterable, List, Optional

from wire_preflight import safefile
from wire_preflight.facts import files

UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
)
SYSTEM_CONF = ("/etc/systemd/system.conf", "/etc/systemd/system.conf.d/*.conf")
LIMITS_FILES = ("/etc/security/limits.conf", "/etc/security/limits.d/*.conf")
ITEMS = {"nofile": "LimitNOFILE", "nproc": "LimitNPROC", "memlock": "LimitMEMLOCK"}
UNLIMITED = -1


def collect(services: Iterable[str], root: str = "/") -> Dict[str, Any]:
    errors = []  # type: List[Dict[str, str]]
    return {
        "services": {name: _service(name, root, errors) for name in sorted(set(services))},
        "systemd_defaults": _systemd_defaults(root, errors),
        "limits_d": _limits_d(root, errors),
        "threads_max": _threads_max(root),
        "errors": errors,
    }


def _service(name: str, root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    """The unit systemd would load (the first directory wins) and its drop-ins, in order."""
    unit = next(
        (
            d + "/" + name + ".service"
            for d in UNIT_DIRS
            if os.path.isfile(files.under(root, d + "/" + name + ".service"))
        ),
        None,
    )
    paths = ([unit] if unit else []) + [
        p for d in UNIT_DIRS for p in files.matching(root, d + "/" + name + ".service.d/*.conf")
    ]
    values = {}  # type: Dict[str, Dict[str, Any]]
    for path in paths:
        text = files.read(root, path, errors)
        if text is None:
            continue
        for item, key in ITEMS.items():
            raw = parse_unit_setting(text, "Service", key)
            if raw is not None:
                values[item] = {"raw": raw, "soft": parse_limit(raw), "file": path}
    return {"unit_file": unit, "files": paths, "limits": values}


def _systemd_defaults(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    values = {}  # type: Dict[str, Any]
    for pattern in SYSTEM_CONF:
        for path in files.matching(root, pattern):
            text = files.read(root, path, errors)
            if text is None:
                continue
            for item, key in ITEMS.items():
                raw = parse_unit_setting(text, "Manager", "Default" + key)
                if raw is not None:
                    values[item] = {"raw": raw, "soft": parse_limit(raw), "file": path}
    return values


def _limits_d(root: str, errors: List[Dict[str, str]]) -> List[Dict[str, Any]]:
    entries = []  # type: List[Dict[str, Any]]
    for pattern in LIMITS_FILES:
        for path in files.matching(root, pattern):
            text = files.read(root, path, errors)
            if text is not None:
                for entry in parse_limits_conf(text):
                    entry["file"] = path
                    entries.append(entry)
    return entries


def _threads_max(root: str) -> Optional[int]:
    try:
        return int(files.read_text(root, "/proc/sys/kernel/threads-max", safefile.VALUE).strip())
    except (OSError, ValueError):
        return None


def parse_unit_setting(text: str, section: str, key: str) -> Optional[str]:
    """The last `key=` in `[section]` of a unit-style file (later assignments win)."""
    current, found = None, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == section:
            name, sep, value = line.partition("=")
            if sep and name.strip() == key:
                found = value.strip()
    return found


def parse_limit(raw: str) -> Optional[int]:
    """'65535', '1024:524288' (soft:hard), 'infinity', '64K' -> the soft limit; None if unparseable.

    Units K/M/G are powers of 1024, as systemd reads them; -1 means unlimited.
    """
    soft = raw.split(":", 1)[0].strip().lower()
    if soft in ("infinity", "unlimited", "-1"):
        return UNLIMITED
    multiplier = 1
    if soft and soft[-1] in "kmgt":
        multiplier = 1024 ** ("kmgt".index(soft[-1]) + 1)
        soft = soft[:-1]
    try:
        return int(soft) * multiplier
    except ValueError:
        return None


def parse_limits_conf(text: str) -> List[Dict[str, Any]]:
    """pam_limits lines '<domain> <type> <item> <value>'; memlock values are KiB."""
    entries = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) != 4 or words[2] not in ITEMS:
            continue
        domain, kind, item, value = words
        soft = parse_limit(value)
        if soft is not None and soft != UNLIMITED and item == "memlock":
            soft *= 1024
        entries.append({"domain": domain, "type": kind, "item": item, "raw": value, "soft": soft})
    return entries

"""Kernel settings the components care about, read from /proc/sys and /sys.

Each value is stored with the file it came from; a file that is missing or unreadable is
stored as {"error": reason}, so the check that needs it can say `error` with that reason.
"""

import os
import re
from typing import Any, Dict, List

from wire_preflight import safefile
from wire_preflight.facts import files

# fact name -> file
SETTINGS = {
    "vm.max_map_count": "/proc/sys/vm/max_map_count",
    "vm.swappiness": "/proc/sys/vm/swappiness",
    "vm.zone_reclaim_mode": "/proc/sys/vm/zone_reclaim_mode",
    "vm.overcommit_memory": "/proc/sys/vm/overcommit_memory",
    "net.ipv4.ip_forward": "/proc/sys/net/ipv4/ip_forward",
    "net.bridge.bridge-nf-call-iptables": "/proc/sys/net/bridge/bridge-nf-call-iptables",
    "net.core.somaxconn": "/proc/sys/net/core/somaxconn",
    "net.ipv4.tcp_retries2": "/proc/sys/net/ipv4/tcp_retries2",
    "transparent_hugepage.enabled": "/sys/kernel/mm/transparent_hugepage/enabled",
}
BR_NETFILTER_MODULE = "/sys/module/br_netfilter"
PROC_SWAPS = "/proc/swaps"


def collect(root: str = "/") -> Dict[str, Any]:
    values = {}  # type: Dict[str, Any]
    for name, path in SETTINGS.items():
        values[name] = _read_setting(root, path)
    values["br_netfilter_loaded"] = {
        "value": os.path.isdir(files.under(root, BR_NETFILTER_MODULE)),
        "file": BR_NETFILTER_MODULE,
    }
    values["swaps"] = _read_swaps(root)
    return values


def _read_setting(root: str, path: str) -> Dict[str, Any]:
    try:
        text = files.read_text(root, path, safefile.VALUE).strip()
    except OSError as exc:
        return {"error": f"{exc.strerror or exc} reading {path}", "file": path}
    if path.endswith("transparent_hugepage/enabled"):
        return {"value": parse_bracketed(text), "raw": text, "file": path}
    try:
        return {"value": int(text.split()[0]), "file": path}
    except (ValueError, IndexError):
        return {"error": f"unexpected content {text[:40]!r} in {path}", "file": path}


def parse_bracketed(text: str) -> str:
    """sysfs marks the active choice: 'always [madvise] never' -> 'madvise'."""
    found = re.search(r"\[([^\[\]]+)\]", text)
    return found.group(1) if found else text


def _read_swaps(root: str) -> Dict[str, Any]:
    try:
        return {
            "value": parse_swaps(files.read_text(root, PROC_SWAPS, safefile.CONFIG)),
            "file": PROC_SWAPS,
        }
    except OSError as exc:
        return {"error": f"{exc.strerror or exc} reading {PROC_SWAPS}", "file": PROC_SWAPS}
    except ValueError:
        return {"error": f"unexpected content in {PROC_SWAPS}", "file": PROC_SWAPS}


def parse_swaps(text: str) -> List[Dict[str, Any]]:
    """/proc/swaps: 'Filename Type Size Used Priority', sizes in KiB."""
    swaps = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4:
            swaps.append(
                {"device": fields[0], "type": fields[1], "size_bytes": int(fields[2]) * 1024}
            )
    return swaps

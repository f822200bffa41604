"""The kernel's interfaces as /sys/class/net lists them: name, MAC, index, type and driver.

Configuration formats select interfaces by these (netplan `match:`, systemd-networkd
`[Match]`, NetworkManager's `mac-address`), so the readers resolve against this list. Under a
captured tree (--root) it is whatever /sys the capture kept, possibly nothing.
"""

import os
from typing import Any, Dict, List, Optional

from wire_preflight.facts import files

SYS_NET = "/sys/class/net"

# ARPHRD_* numbers of /sys/class/net/X/type, named as iproute2 and systemd name them.
_ARPHRD = {1: "ether", 772: "loopback", 776: "sit", 778: "gre", 65534: "none", 768: "ipip"}


def collect(root: str = "/") -> List[Dict[str, Any]]:
    base = files.under(root, SYS_NET)
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    out = []
    for name in names:
        # Each entry resolved within the root (a captured tree's links may be absolute).
        directory = files.under(root, SYS_NET + "/" + name)
        if not os.path.isdir(directory):
            continue
        uevent = _uevent(os.path.join(directory, "uevent"))
        arphrd = _int(_read(os.path.join(directory, "type")))
        out.append(
            {
                "name": name,
                "index": _int(_read(os.path.join(directory, "ifindex"))),
                "mac": normalize_mac(_read(os.path.join(directory, "address"))),
                # networkd's Type= is the device type udev reports (DEVTYPE: bridge, vlan,
                # wlan...), else the link type ("ether", "loopback").
                "type": uevent.get("DEVTYPE") or _ARPHRD.get(arphrd or -1),
                "link_type": _ARPHRD.get(arphrd or -1),
                "driver": _driver(directory),
            }
        )
    return out


def normalize_mac(value: Optional[str]) -> Optional[str]:
    """Lower-case colon-separated hex; accepts `-` and Cisco's dotted form. None if not a MAC."""
    if not value:
        return None
    digits = "".join(ch for ch in value.strip().lower() if ch not in ":-.")
    if len(digits) not in (12, 40) or any(ch not in "0123456789abcdef" for ch in digits):
        return None
    return ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def _driver(directory: str) -> Optional[str]:
    try:
        return os.path.basename(os.readlink(os.path.join(directory, "device", "driver")))
    except OSError:
        return _uevent(os.path.join(directory, "device", "uevent")).get("DRIVER")


def _uevent(path: str) -> Dict[str, str]:
    text = _read(path) or ""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None

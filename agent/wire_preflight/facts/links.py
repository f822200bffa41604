"""The kernel's interfaces as /sys/class/net lists them: name, MAC, index, type and driver.

Configuration formats select interfaces by these (netplan `match:`, systemd-networkd
`[Match]`, NetworkManager's `mac-address`), so the readers resolve against this list. Under a
captured tree (--root) it is whatever /sys the capture kept, possibly nothing.
"""

import os
from typing import Any, Dict, List, Optional

from wire_preflight import safefile
from wire_preflight.facts import files
from wire_preflight.netmatch import normalize_mac

SYS_NET = "/sys/class/net"

# ARPHRD_* numbers of /sys/class/net/X/type, named as iproute2 and systemd name them.
_ARPHRD = {1: "ether", 772: "loopback", 776: "sit", 778: "gre", 65534: "none", 768: "ipip"}


def collect(root: str = "/", errors: Optional[List[Dict[str, str]]] = None) -> List[Dict[str, Any]]:
    """The interfaces /sys/class/net lists; a file refused (a FIFO, a device, too large, a
    link out of the tree) is noted in `errors`, a missing one is only missing."""
    noted = [] if errors is None else errors
    try:
        names = sorted(files.entries(root, SYS_NET))
    except safefile.Refused as exc:
        noted.append({"file": SYS_NET, "error": exc.strerror})
        return []
    except OSError:
        return []
    out = []
    for name in names:
        # Each entry resolved within the root (a captured tree's links may be absolute).
        base = SYS_NET + "/" + name
        if not os.path.isdir(files.under(root, base)):
            continue
        uevent = _uevent(_read(root, base + "/uevent", noted))
        arphrd = _int(_read(root, base + "/type", noted))
        out.append(
            {
                "name": name,
                "index": _int(_read(root, base + "/ifindex", noted)),
                "mac": normalize_mac(_read(root, base + "/address", noted)),
                # networkd's Type= is the device type udev reports (DEVTYPE: bridge, vlan,
                # wlan...), else the link type ("ether", "loopback").
                "type": uevent.get("DEVTYPE") or _ARPHRD.get(arphrd or -1),
                "link_type": _ARPHRD.get(arphrd or -1),
                "driver": _driver(root, base, noted),
            }
        )
    return out


def _driver(root: str, base: str, errors: List[Dict[str, str]]) -> Optional[str]:
    # The link's own name says the driver: read it where it is (files.raw), never through a
    # `device` link of the tree that would lead onto the running machine's /sys.
    try:
        return os.path.basename(os.readlink(files.raw(root, base + "/device/driver")))
    except OSError:
        return _uevent(_read(root, base + "/device/uevent", errors)).get("DRIVER")


def _uevent(text: Optional[str]) -> Dict[str, str]:
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


def _read(root: str, path: str, errors: List[Dict[str, str]]) -> Optional[str]:
    try:
        return files.read_text(root, path, safefile.VALUE).strip()
    except safefile.Refused as exc:
        errors.append({"file": path, "error": exc.strerror})
    except OSError:
        pass  # missing: not every interface has every file
    return None


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None

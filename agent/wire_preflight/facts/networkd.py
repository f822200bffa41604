"""systemd-networkd: .network files and the DHCP leases it holds (systemd.network(5)).

Files come from /etc, /run, /usr/local/lib, /usr/lib and /lib systemd/network; a file shadows
one of the same name in a lower-priority directory, and an empty file or a link to /dev/null
masks it. For each interface the first file in lexical order of names whose [Match] holds is
the one applied; the rest are ignored for it. Drop-ins (NAME.network.d/*.conf) add to it.
"""

import os
from typing import Any, Dict, List, Tuple

from wire_preflight import netmatch, safefile
from wire_preflight.facts import files

DIRS = (  # highest priority first
    "/etc/systemd/network",
    "/run/systemd/network",
    "/usr/local/lib/systemd/network",
    "/usr/lib/systemd/network",
    "/lib/systemd/network",
)
LEASES = "/run/systemd/netif/leases"
_MATCH_KEYS = {
    "Name": "name",
    "MACAddress": "mac",
    # The permanent MAC is the one the kernel shows unless something changed it; a list of
    # its own, which must hold as well as MACAddress=.
    "PermanentMACAddress": "permanent_mac",
    "Type": "type",
    "Driver": "driver",
}
_TRUE = ("yes", "true", "on", "1", "y", "t")


def collect(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    chosen = {}  # type: Dict[str, str]
    for directory in reversed(DIRS):  # lower priority first, so higher ones overwrite
        for path in files.matching(root, directory + "/*.network"):
            chosen[os.path.basename(path)] = path
    networks = []
    used = []
    for name in sorted(chosen):
        path = chosen[name]
        if _masked(root, path):
            continue
        text = files.read(root, path, errors)
        if text is None:
            continue
        for dropin in _dropins(root, name):
            extra = files.read(root, dropin, errors)
            if extra is not None:
                text += "\n" + extra
        used.append(path)
        networks.append(parse_network(text, path))
    return {"files": used, "networks": networks}


def _masked(root: str, path: str) -> bool:
    link = files.raw(root, path)
    if os.path.islink(link) and os.readlink(link) == "/dev/null":
        return True
    try:
        return os.path.getsize(files.under(root, path)) == 0
    except OSError:
        return False


def _dropins(root: str, name: str) -> List[str]:
    chosen = {}  # type: Dict[str, str]
    for directory in reversed(DIRS):
        for path in files.matching(root, f"{directory}/{name}.d/*.conf"):
            chosen[os.path.basename(path)] = path
    return [chosen[n] for n in sorted(chosen)]


def parse_unit(text: str) -> List[Tuple[int, str, str, str]]:
    """(section number, section, key, value) of a systemd unit-style file, in order.
    Sections may repeat ([Address] once per address), so each keeps its number."""
    out = []
    section, number = "", -1
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section, number = line[1:-1].strip(), number + 1
            continue
        key, sep, value = line.partition("=")
        if sep:
            out.append((number, section, key.strip(), value.strip()))
    return out


def parse_network(text: str, path: str) -> Dict[str, Any]:
    match = {}  # type: Dict[str, List[str]]
    unchecked = []  # type: List[str]
    dhcp = "no"
    addresses = []  # type: List[str]
    port_of = None
    for _number, section, key, value in parse_unit(text):
        if section == "Match":
            field = _MATCH_KEYS.get(key)
            if field is None:
                unchecked.append(f"{key}={value}")
                continue
            if value == "":  # an empty assignment resets the list
                match.pop(field, None)
                continue
            # A leading `!` negates the whole line: systemd stores each of its words as
            # `!word`, so `Name=en*` then `Name=!enp0s31f6` is "en*, but not enp0s31f6".
            inverted = value.startswith("!") and field not in ("mac", "permanent_mac")
            words = (value[1:] if inverted else value).split()
            match.setdefault(field, []).extend(("!" + w) if inverted else w for w in words)
        elif section == "Network":
            if key == "DHCP":
                dhcp = value.lower()
            elif key == "Address" and value:
                addresses.extend(value.split())
            elif key == "Address":
                addresses.clear()  # an empty assignment resets the list
            elif key in ("Bridge", "Bond", "Team") and value:
                port_of = value
        elif section == "Address" and key == "Address" and value:
            addresses.append(value)
    addresses = [a for a in addresses if _valid_address(a)]
    dhcp4 = dhcp in _TRUE or dhcp in ("ipv4", "both")
    dhcp6 = dhcp in _TRUE or dhcp in ("ipv6", "both")
    return netmatch.record(
        "networkd",
        path,
        os.path.basename(path),
        match=match,
        match_style="systemd",
        unchecked=unchecked,
        dhcp4=dhcp4,
        dhcp6=dhcp6,
        addresses=addresses,
        port_of=port_of,
    )


def _valid_address(text: str) -> bool:
    # networkd ignores an Address= it cannot parse (and logs it); so does this reader.
    import ipaddress

    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return False
    return True


def leases(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    out = {}
    for path in files.matching(root, LEASES + "/*"):
        text = files.read(root, path, errors, safefile.LARGE)
        if text is not None:
            lease = parse_lease(text)
            lease["file"] = path
            out[os.path.basename(path)] = lease  # named by the interface's index
    return out


def parse_lease(text: str) -> Dict[str, Any]:
    """networkd's and NetworkManager's internal client's KEY=VALUE lease files."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[key.strip()] = value.strip()
    return {
        "address": values.get("ADDRESS"),
        "lifetime": values.get("LIFETIME"),
        "router": values.get("ROUTER"),
    }

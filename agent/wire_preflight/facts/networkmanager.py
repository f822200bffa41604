"""NetworkManager: keyfile profiles (nm-settings-keyfile(5)) and its DHCP lease files.

Profiles live in /usr/lib, /etc and /run NetworkManager/system-connections; a profile in /run
replaces one with the same UUID in /etc, which replaces one in /usr/lib. A profile binds to
its device by `connection.interface-name` (older bridge/bond/vlan profiles keep it as
`interface-name` in their own section), by the hardware section's `mac-address`, or, with
neither, to any device of its type; `[match] interface-name=` and `driver=` narrow that
(nm-settings-nmcli(5), "match" setting). Only hardware profiles (ethernet, wifi, infiniband)
take an existing link: a virtual one (vlan, bond, bridge, wireguard, ...) makes its own device,
named by interface-name (a VLAN's default is PARENT.ID), and a VPN binds no link at all. A
port (`master=`/`controller=`) of a bridge, bond, team or OVS port has no IP configuration of
its own; a VRF's member (`slave-type=vrf`/`port-type=vrf`) and an `ovs-interface` keep theirs
(libnm's _supports_addr_family: the controller decides, except for those two). Unset
`ipv4.method` means NetworkManager's default, `auto`.
"""

import os
import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from wire_preflight import netmatch, safefile
from wire_preflight.facts import dhclient, files, networkd
from wire_preflight.netmatch import normalize_mac

if TYPE_CHECKING:
    import configparser

DIRS = (  # lowest priority first
    "/usr/lib/NetworkManager/system-connections",
    "/etc/NetworkManager/system-connections",
    "/run/NetworkManager/system-connections",
)
LEASE_DIR = "/var/lib/NetworkManager"
# Files NetworkManager's keyfile plugin skips: editor and package-manager leftovers.
_IGNORED = re.compile(r"(^\.|~$|\.(bak|orig|rej|swp|tmp|dpkg-[a-z]+|rpm[a-z]+|pacsave|pacnew)$)")
_HARDWARE = ("ethernet", "802-3-ethernet", "wifi", "802-11-wireless", "infiniband")
_LEGACY_NAME = ("bridge", "bond", "vlan", "team", "infiniband")
_IFNAMSIZ = 15
_TYPES = {  # connection.type -> the link type it can bind to when bound to no name or MAC
    "ethernet": "ether",
    "802-3-ethernet": "ether",
    "wifi": "wlan",
    "802-11-wireless": "wlan",
}


def collect(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    by_uuid = {}  # type: Dict[str, Dict[str, Any]]
    order = []  # type: List[str]
    for directory in DIRS:
        for path in files.matching(root, directory + "/*"):
            if _IGNORED.search(os.path.basename(path)) or os.path.isdir(files.under(root, path)):
                continue
            text = files.read(root, path, errors)
            if text is None:
                continue
            try:
                profile = parse_keyfile(text, path)
            except ValueError as exc:
                errors.append({"file": path, "error": str(exc)})
                continue
            key = profile.get("uuid") or path
            if key not in by_uuid:
                order.append(key)
            by_uuid[key] = profile
    profiles = [by_uuid[key] for key in order]
    _name_vlans(profiles)
    return {"profiles": profiles, "leases": leases(root, errors)}


def _name_vlans(profiles: List[Dict[str, Any]]) -> None:
    """A VLAN profile without interface-name makes PARENT.ID, its parent given by name or by
    the UUID of the parent's profile (NetworkManager's nm_utils_new_vlan_name)."""
    names = {p.get("uuid"): netmatch.names_only(p) for p in profiles if p.get("uuid")}
    for profile in profiles:
        parent, vid = profile.pop("vlan_parent", None), profile.pop("vlan_id", None)
        if not profile.get("binds_no_link") or parent is None or vid is None:
            continue
        if parent in names:
            bound = names[parent]
            parent = bound[0] if bound else None
        elif re.match(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", parent):
            parent = None  # a profile that is not here
        if parent:
            suffix = f".{vid}"
            profile["match"] = {"name": [parent[: _IFNAMSIZ - len(suffix)] + suffix]}
            profile["binds_no_link"] = False


def parse_keyfile(text: str, path: str = "") -> Dict[str, Any]:
    # Imported here: most hosts have no keyfile, and `check` runs from cron on every VM.
    import configparser

    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore  # keys are case-sensitive in GLib key files
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise ValueError(f"not a valid keyfile: {str(exc).splitlines()[0]}") from None
    if not parser.sections():
        raise ValueError("not a valid keyfile: no sections")

    def get(section: str, key: str) -> Optional[str]:
        value = parser.get(section, key, fallback=None)
        return value.strip() if value is not None and value.strip() else None

    # A keyfile may leave the type out; NetworkManager then takes it from the type's section.
    kind = get("connection", "type") or next(
        (section for section in _HARDWARE + _LEGACY_NAME if parser.has_section(section)), None
    )
    name = get("connection", "interface-name")
    for section in _LEGACY_NAME:
        name = name or get(section, "interface-name")
    mac = None
    for section in _HARDWARE:
        mac = mac or _mac(get(section, "mac-address"))
    controller = get("connection", "controller") or get("connection", "master")
    port_type = get("connection", "port-type") or get("connection", "slave-type")
    match = {}  # type: Dict[str, List[str]]
    if name:
        match["name"] = [name]
    hardware = kind is None or kind in _HARDWARE
    if mac and hardware:
        match["mac"] = [mac]
    if not match and kind in _TYPES:
        match["type"] = [_TYPES[kind]]
    # A virtual device's profile takes only the device it makes (by its name); a VPN, or a
    # device kind with no name given, takes no link the kernel lists as ethernet.
    binds_no_link = kind == "vpn" or (not hardware and not name)
    vlan = {}  # type: Dict[str, Any]
    if kind == "vlan" and not name:
        vlan = {"vlan_parent": get("vlan", "parent"), "vlan_id": _int_or_none(get("vlan", "id"))}
    nm_match = {
        field: _string_list(parser.get("match", key, fallback=""))
        for key, field in (("interface-name", "name"), ("driver", "driver"))
        if parser.get("match", key, fallback="").strip()
    }
    # [match] path= and kernel-command-line= are beyond what the agent sees: assumed to hold.
    unchecked = [
        f"match.{key}={value.strip()}"
        for key, value in (parser.items("match") if parser.has_section("match") else [])
        if key in ("path", "kernel-command-line") and value.strip()
    ]
    ipv4 = _ip(parser, "ipv4", kind)
    ipv6 = _ip(parser, "ipv6", kind)
    is_port = port_without_ip(kind, controller, port_type)
    vrf = controller if controller and (port_type or "").strip() == "vrf" else None
    return netmatch.record(
        "networkmanager",
        path,
        get("connection", "id") or os.path.basename(path),
        uuid=get("connection", "uuid"),
        type=kind,
        match=match,
        nm_match=nm_match,
        binds_no_link=binds_no_link,
        link_kind=_TYPES.get(kind or ""),
        unchecked=unchecked,
        dhcp4=not is_port and ipv4["method"] == "auto",
        dhcp6=not is_port and ipv6["method"] in ("auto", "dhcp"),
        addresses=[] if is_port else ipv4["addresses"] + ipv6["addresses"],
        port_of=(controller or "?") if is_port else None,
        vrf=vrf,
        ipv4_method="disabled" if is_port else ipv4["method"],
        autoconnect=(get("connection", "autoconnect") or "true").lower() not in ("false", "0"),
        priority=_int(get("connection", "autoconnect-priority")),
        timestamp=_int(get("connection", "timestamp")),
        **vlan,
    )


def port_without_ip(
    kind: Optional[str], controller: Optional[str], port_type: Optional[str]
) -> bool:
    """Is this profile a port whose own IP configuration NetworkManager drops? A profile with a
    controller is, unless it is a VRF's member or an ovs-interface (which carry addresses on
    their own). A port type with no controller is a profile NetworkManager refuses to load;
    it is kept as a port (of an unknown controller), configuring no address, as before."""
    if (port_type or "").strip() == "vrf" or kind == "ovs-interface":
        return False
    return bool(controller or (port_type or "").strip())


def _ip(
    parser: "configparser.ConfigParser", section: str, kind: Optional[str] = None
) -> Dict[str, Any]:
    addresses = []
    if parser.has_section(section):
        for key, value in parser.items(section):
            # One address per key (address1=, addresses1=, address=...): "ADDR/PREFIX,GATEWAY",
            # or the older "ADDR;PREFIX;GATEWAY;" and "ADDR/PREFIX;GATEWAY".
            if re.match(r"^address(es)?\d*$", key):
                fields = [f.strip() for f in re.split(r"[,;]", value)]
                item = fields[0]
                if item and "/" not in item and len(fields) > 1 and fields[1].isdigit():
                    item = f"{item}/{fields[1]}"
                if item:
                    addresses.append(item)
    method = parser.get(section, "method", fallback="").strip()
    if not method and not parser.has_section(section) and kind in ("wireguard", "dummy"):
        # libnm's _normalize_ip_config: these get "disabled" when the section is missing.
        method = "disabled"
    if not method:
        # The documented default is auto; a profile that lists addresses without a method is
        # read as manual (a static address), the only reading under which they all apply.
        method = "manual" if addresses else "auto"
    return {"method": method, "addresses": addresses}


def _mac(value: Optional[str]) -> Optional[str]:
    if value and ";" in value:  # the old keyfile form: decimal bytes, ;-separated
        try:
            value = ":".join(f"{int(b):02x}" for b in value.strip(";").split(";"))
        except ValueError:
            return None
    return normalize_mac(value)


def _string_list(value: str) -> List[str]:
    """A GLib key file string list: `;`-separated, `\\;` a literal `;`, `\\\\` a backslash."""
    out, item, chars = [], "", iter(value.strip())
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            item += {"s": " ", "n": "\n", "t": "\t", "r": "\r", ";": ";", "\\": "\\"}.get(
                escaped, "\\" + escaped
            )
        elif char == ";":
            out.append(item)
            item = ""
        else:
            item += char
    out.append(item)
    return [i.strip() for i in out if i.strip()]


def _int_or_none(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _int(value: Optional[str]) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def leases(root: str, errors: List[Dict[str, str]]) -> Dict[str, List[Dict[str, Any]]]:
    """Interface -> its leases from /var/lib/NetworkManager, each with the UUID of the profile
    it was taken for: internal-UUID-IFACE.lease (its own client, KEY=VALUE) and
    dhclient-UUID-IFACE.lease (dhclient's format). All are kept: the one that counts is the
    lease of the profile that applies."""
    out = {}  # type: Dict[str, List[Dict[str, Any]]]
    for path in files.matching(root, LEASE_DIR + "/*.lease"):
        base = os.path.basename(path)[: -len(".lease")]
        found = re.match(
            r"^(internal6?|dhclient6?)-([0-9a-fA-F-]{36})-(.+)$",
            base,
        )
        if not found:
            continue
        client, uuid, iface = found.groups()
        text = files.read(root, path, errors, safefile.LARGE)
        if text is None:
            continue
        if client.startswith("internal"):
            lease = networkd.parse_lease(text)  # type: Optional[Dict[str, Any]]
        else:
            parsed = dhclient.parse_leases(text)
            lease = parsed[-1] if parsed else None
        if lease and lease.get("address"):
            lease.update(file=path, uuid=uuid, interface=iface)
            out.setdefault(iface, []).append(lease)
    return out

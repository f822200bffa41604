"""The configuration that explains an address: is it meant to be static, or leased by DHCP?

The kernel's flags say how an address is held now; these files say how it was configured:
netplan YAML, systemd-networkd leases, NetworkManager keyfiles, dhclient leases and ifupdown.
Each parser takes the file's text; `collect` reads the files. A file that cannot be read or
parsed is listed under `errors` with its path and the reason, and the others still count.
"""

import configparser
import os
import re
from typing import Any, Dict, List, Optional, Tuple

from wire_preflight.facts import files

NETPLAN_DIRS = ("/lib/netplan", "/etc/netplan", "/run/netplan")
NETWORKD_LEASES = "/run/systemd/netif/leases"
NM_CONNECTIONS = (
    "/etc/NetworkManager/system-connections",
    "/run/NetworkManager/system-connections",
)
DHCLIENT_LEASES = ("/var/lib/dhcp", "/var/lib/dhclient")
IFUPDOWN = "/etc/network/interfaces"
_NETPLAN_KINDS = ("ethernets", "bonds", "bridges", "vlans", "wifis")


def collect(root: str = "/") -> Dict[str, Any]:
    errors = []  # type: List[Dict[str, str]]
    return {
        "netplan": _netplan(root, errors),
        "networkd_leases": _networkd_leases(root, errors),
        "networkmanager": _networkmanager(root, errors),
        "dhclient_leases": _dhclient_leases(root, errors),
        "ifupdown": _ifupdown(root, errors),
        "errors": errors,
    }


# -- netplan ------------------------------------------------------------------------------------


def _netplan(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    # netplan merges files by basename across its three directories, /run over /etc over /lib,
    # then in lexical order of the basename; a later file's keys override an earlier one's.
    by_name = {}  # type: Dict[str, str]
    for directory in NETPLAN_DIRS:
        for path in files.matching(root, directory + "/*.yaml"):
            by_name[os.path.basename(path)] = path
    interfaces = {}  # type: Dict[str, Dict[str, Any]]
    ordered = [by_name[name] for name in sorted(by_name)]
    for path in ordered:
        text = files.read(root, path, errors)
        if text is None:
            continue
        try:
            for name, settings in parse_netplan(text).items():
                interfaces.setdefault(name, {}).update(settings, file=path)
        except ValueError as exc:
            errors.append({"file": path, "error": str(exc)})
    return {"files": ordered, "interfaces": interfaces}


def parse_netplan(text: str) -> Dict[str, Dict[str, Any]]:
    """Interface name -> {dhcp4, addresses} from one netplan file; ValueError if malformed."""
    import yaml  # lazy: only hosts with netplan files pay for it

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError("not valid YAML: {}".format(str(exc).replace("\n", " "))) from None
    if doc is None:
        return {}
    network = doc.get("network") if isinstance(doc, dict) else None
    if not isinstance(network, dict):
        raise ValueError("no 'network' mapping at the top")
    out = {}
    for kind in _NETPLAN_KINDS:
        section = network.get(kind) or {}
        if not isinstance(section, dict):
            raise ValueError(f"'network.{kind}' must be a mapping")
        for key, settings in section.items():
            settings = settings or {}
            if not isinstance(settings, dict):
                raise ValueError(f"'network.{kind}.{key}' must be a mapping")
            # An entry matched by MAC is renamed with set-name; the kernel shows that name.
            name = str(settings.get("set-name") or key)
            entry = {
                "dhcp4": _truthy(settings.get("dhcp4")),
                "addresses": [str(a) for a in settings.get("addresses") or []],
            }
            if "match" in settings:
                entry["match"] = settings["match"]
            out[name] = entry
    return out


def _truthy(value: Any) -> bool:
    # YAML 1.1 already turns yes/no/true/false into booleans; netplan also accepts strings.
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


# -- systemd-networkd ---------------------------------------------------------------------------


def _networkd_leases(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    leases = {}
    for path in files.matching(root, NETWORKD_LEASES + "/*"):
        text = files.read(root, path, errors)
        if text is not None:
            lease = parse_networkd_lease(text)
            lease["file"] = path
            leases[os.path.basename(path)] = lease  # keyed by interface index
    return leases


def parse_networkd_lease(text: str) -> Dict[str, Any]:
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


# -- NetworkManager -----------------------------------------------------------------------------


def _networkmanager(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    connections = {}
    for directory in NM_CONNECTIONS:
        for path in files.matching(root, directory + "/*"):
            text = files.read(root, path, errors)
            if text is None:
                continue
            try:
                name, method = parse_nm_keyfile(text)
            except ValueError as exc:
                errors.append({"file": path, "error": str(exc)})
                continue
            if name:
                connections[name] = {"ipv4_method": method, "file": path}
    return connections


def parse_nm_keyfile(text: str) -> Tuple[Optional[str], Optional[str]]:
    """(interface-name, ipv4.method) of a NetworkManager keyfile."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise ValueError(f"not a valid keyfile: {str(exc).splitlines()[0]}") from None
    name = parser.get("connection", "interface-name", fallback=None)
    # NetworkManager's default ipv4.method is "auto" (DHCP) when the keyfile does not say.
    method = parser.get("ipv4", "method", fallback="auto")
    return name, method


# -- dhclient -----------------------------------------------------------------------------------

_LEASE = re.compile(r"lease\s*\{(.*?)\}", re.S)
_LEASE_FIELD = re.compile(r'^\s*(interface|fixed-address|expire)\s+"?([^";]*)"?\s*;', re.M)


def _dhclient_leases(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    latest = {}  # type: Dict[str, Dict[str, Any]]
    for directory in DHCLIENT_LEASES:
        for path in files.matching(root, directory + "/*.lease*"):
            text = files.read(root, path, errors)
            if text is None:
                continue
            for lease in parse_dhclient_leases(text):
                lease["file"] = path
                latest[lease["interface"]] = lease  # the last lease in a file is the newest
    return latest


def parse_dhclient_leases(text: str) -> List[Dict[str, Any]]:
    leases = []
    for block in _LEASE.findall(text):
        fields = dict(_LEASE_FIELD.findall(block))
        if "interface" in fields:
            leases.append(
                {
                    "interface": fields["interface"],
                    "address": fields.get("fixed-address"),
                    "expire": fields.get("expire"),
                }
            )
    return leases


# -- ifupdown -----------------------------------------------------------------------------------


def _ifupdown(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    methods = {}  # type: Dict[str, Dict[str, str]]
    pending = [IFUPDOWN]
    seen = set()
    while pending:
        path = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        if not os.path.exists(files.under(root, path)):
            continue
        text = files.read(root, path, errors)
        if text is None:
            continue
        stanzas, sources = parse_ifupdown(text)
        for name, method in stanzas.items():
            methods[name] = {"method": method, "file": path}
        for pattern in sources:
            pending.extend(files.matching(root, pattern))
    return methods


def parse_ifupdown(text: str) -> Tuple[Dict[str, str], List[str]]:
    """({interface: method} for `iface X inet METHOD`, [sourced globs])."""
    stanzas, sources = {}, []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) >= 4 and words[0] == "iface" and words[2] == "inet":
            stanzas[words[1]] = words[3]
        elif len(words) == 2 and words[0] == "source":
            sources.append(words[1])
        elif len(words) == 2 and words[0] == "source-directory":
            sources.append(words[1].rstrip("/") + "/*")
    return stanzas, sources

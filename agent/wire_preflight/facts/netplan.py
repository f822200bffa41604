"""netplan: its YAML files merged as `netplan generate` merges them, one record per device.

Files: /lib/netplan, /etc/netplan and /run/netplan (*.yaml). A file shadows a file of the
same name in a lower directory (/run over /etc over /lib); the survivors are read in lexical
order of their names, each one adding to what came before: mappings merge key by key,
sequences are appended, a scalar given later replaces the earlier one, and a key a later file
leaves out keeps its earlier value (netplan(5), netplan-generate(8)).
"""

import os
from typing import Any, Dict, List, Optional

from wire_preflight import netmatch
from wire_preflight.facts import files

DIRS = ("/lib/netplan", "/etc/netplan", "/run/netplan")
# Every device section of netplan(5). Physical ones (ethernets, wifis, modems) may select
# their interface with `match:`; the others create a device named by their ID.
PHYSICAL = ("ethernets", "wifis", "modems")
VIRTUAL = (
    "bonds",
    "bridges",
    "vlans",
    "tunnels",
    "vrfs",
    "dummy-devices",
    "virtual-ethernets",
)
KINDS = PHYSICAL + VIRTUAL + ("nm-devices",)


def collect(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    by_name = {}  # type: Dict[str, str]
    for directory in DIRS:  # later directories shadow earlier ones
        for path in files.matching(root, directory + "/*.yaml"):
            by_name[os.path.basename(path)] = path
    ordered = [by_name[name] for name in sorted(by_name)]
    merged = {}  # type: Dict[str, Any]
    origin = {}  # type: Dict[str, List[str]]  # "kind/id" -> files that define it
    created = {}  # type: Dict[str, Optional[str]]  # ID -> section renderer where first defined
    for path in ordered:
        text = files.read(root, path, errors)
        if text is None:
            continue
        try:
            network = load(text)
        except ValueError as exc:
            errors.append({"file": path, "error": str(exc)})
            continue
        for kind in KINDS:
            for ident in devices(network.get(kind)):
                origin.setdefault(f"{kind}/{ident}", []).append(path)
        section_renderers(network, created)
        merge(merged, network)
    entries = records(merged, origin, created)
    return {
        "files": ordered,
        "renderer": merged.get("renderer"),
        "entries": entries,
        "interfaces": _by_name(entries),
    }


_LOADER = []  # type: List[Any]


def _loader() -> Any:
    """A SafeLoader that reads every plain scalar as a string, as netplan does (libyaml gives
    it strings; it converts each key itself): `macaddress: 52:54:00:12:34:56` must not become
    a YAML 1.1 base-60 integer, nor `mtu: 1500` need to be an int. Only null stays, so that
    `network:` or `ens3:` with nothing under them read as empty. Booleans are read by truthy()
    from their text, as netplan reads them."""
    if not _LOADER:
        import yaml  # lazy: only hosts with netplan files pay for it

        class NetplanLoader(yaml.SafeLoader):
            pass

        null = "tag:yaml.org,2002:null"
        NetplanLoader.yaml_implicit_resolvers = {
            first: [(tag, regexp) for tag, regexp in resolvers if tag == null]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }
        _LOADER.append(NetplanLoader)
    return _LOADER[0]


def load(text: str) -> Dict[str, Any]:
    """The `network:` mapping of one file ({} for an empty file); ValueError if malformed."""
    import yaml  # lazy: only hosts with netplan files pay for it

    from wire_preflight import boundedyaml

    try:
        doc = boundedyaml.load(text, _loader())  # a SafeLoader subclass, its cost bounded
    except yaml.YAMLError as exc:
        raise ValueError("not valid YAML: {}".format(str(exc).replace("\n", " "))) from None
    if doc is None:
        return {}
    network = doc.get("network") if isinstance(doc, dict) else None
    if network is None and isinstance(doc, dict) and (not doc or "network" in doc):
        return {}  # an empty file, or `network:` with nothing under it
    if not isinstance(network, dict):
        raise ValueError("no 'network' mapping at the top")
    for kind in KINDS:
        section = network.get(kind)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ValueError(f"'network.{kind}' must be a mapping")
        for ident, settings in section.items():
            if ident == "renderer":
                continue  # the section's renderer, not a device
            if settings is not None and not isinstance(settings, dict):
                raise ValueError(f"'network.{kind}.{ident}' must be a mapping")
    return network


# netplan's renderers (parse.c parse_renderer); anything else is an error there. A VLAN's
# `renderer: sriov` asks for hardware VLAN filtering, and chooses no renderer.
RENDERERS = ("networkd", "NetworkManager")
DEFAULT_RENDERER = "networkd"


def devices(section: Any) -> List[Any]:
    """The device IDs of a section, in file order: every key but the section's `renderer`."""
    return [k for k in section if k != "renderer"] if isinstance(section, dict) else []


def section_renderers(network: Dict[str, Any], created: Dict[str, Optional[str]]) -> None:
    """Record, for each device a file defines first, the renderer its section had set by then.

    netplan (parse.c, handle_network_type) reads a section's keys in order: `renderer:` sets
    the backend of the devices defined after it in that section of that file, at their
    creation; a device already defined by an earlier file keeps its own. IDs are one namespace
    across sections (netplan keeps one table of definitions)."""
    for kind in KINDS:
        section = network.get(kind)
        if not isinstance(section, dict):
            continue
        current = None  # type: Optional[str]
        for key, _settings in section.items():
            if key == "renderer":
                current = str(_settings) if str(_settings) in RENDERERS else current
                continue
            created.setdefault(str(key), current)


def renderer_of(
    settings: Dict[str, Any], section_renderer: Optional[str], global_renderer: Any
) -> str:
    """The backend that renders a device, as netplan decides it: the device's own `renderer:`
    (the last file's), else its section's when it was first defined, else the global
    `network: renderer:` (the last file's, applied after all files are read), else networkd."""
    own = settings.get("renderer")
    if own is not None and str(own) in RENDERERS:
        return str(own)
    if section_renderer:
        return section_renderer
    if global_renderer is not None and str(global_renderer) in RENDERERS:
        return str(global_renderer)
    return DEFAULT_RENDERER


def merge(into: Dict[str, Any], later: Dict[str, Any]) -> None:
    for key, value in later.items():
        before = into.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            merge(before, value)
        elif isinstance(before, list) and isinstance(value, list):
            into[key] = before + value
        elif value is None and key in into:
            continue  # `ens3:` with nothing under it adds nothing
        else:
            into[key] = _copy(value)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def records(
    network: Dict[str, Any],
    origin: Dict[str, List[str]],
    created: Optional[Dict[str, Optional[str]]] = None,
) -> List[Dict[str, Any]]:
    if created is None:  # one file's network: its own sections say it
        created = {}
        section_renderers(network, created)
    ports = {}  # type: Dict[str, str]  # member ID -> bond/bridge ID
    for kind in ("bonds", "bridges"):
        for ident in devices(network.get(kind)):
            for member in (network[kind].get(ident) or {}).get("interfaces") or []:
                ports[str(member)] = str(ident)
    out = []
    for kind in KINDS:
        section = network.get(kind) or {}
        for ident in devices(section):
            settings = section.get(ident) or {}
            if not isinstance(settings, dict):
                settings = {}
            ident = str(ident)
            where = origin.get(f"{kind}/{ident}") or [""]
            out.append(
                netmatch.record(
                    "netplan",
                    where[-1],
                    ident,
                    files=where,
                    kind=kind,
                    match=_match(kind, ident, settings),
                    set_name=settings.get("set-name"),
                    dhcp4=truthy(settings.get("dhcp4")),
                    dhcp6=truthy(settings.get("dhcp6")),
                    addresses=_addresses(settings.get("addresses")),
                    port_of=ports.get(ident),
                    renderer=renderer_of(settings, created.get(ident), network.get("renderer")),
                )
            )
    return out


def _match(kind: str, ident: str, settings: Dict[str, Any]) -> Dict[str, List[str]]:
    match = settings.get("match")
    if kind not in PHYSICAL or not isinstance(match, dict):
        return {"name": [ident]}
    out = {}
    if match.get("name") is not None:
        out["name"] = [str(match["name"])]  # a shell glob, as fnmatch(3) reads it
    if match.get("macaddress") is not None:
        out["mac"] = [str(match["macaddress"])]
    driver = match.get("driver")
    if driver is not None:
        out["driver"] = [str(d) for d in driver] if isinstance(driver, list) else [str(driver)]
    # With set-name the kernel shows the new name, and netplan's .network for the entry
    # matches Name=<set-name>: that name selects it too, whatever else `match:` says.
    if settings.get("set-name"):
        out["set_name"] = [str(settings["set-name"])]
    return out


def _addresses(value: Any) -> List[str]:
    # A sequence of "addr/prefix" strings, or of one-key mappings {addr/prefix: {lifetime, label}}.
    out: List[str] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            out.extend(str(k) for k in item)
        else:
            out.append(str(item))
    return out


def truthy(value: Any) -> bool:
    # load() keeps scalars as text: netplan's booleans are true/false, yes/no, on/off, y/n
    # in any case (quoted or not); a real bool comes from facts of earlier agent versions.
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "y", "1")
    return bool(value)


def _by_name(entries: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Entries bound to one name (by ID or set-name), as earlier agent versions reported them."""
    out: Dict[str, Dict[str, Any]] = {}
    for entry in entries:
        names = netmatch.names_only(entry) or ([entry["set_name"]] if entry.get("set_name") else [])
        for name in names:
            out.setdefault(
                str(name),
                {"dhcp4": entry["dhcp4"], "addresses": entry["addresses"], "file": entry["file"]},
            )
    return out

"""wire-server-deploy's ansible inventory, INI or YAML: hosts, their groups and their vars.

Ansible's own inventory code is not a library one can embed in a 3.6-compatible agent (it is
ansible-core, tens of MB, Python >= 3.9 today), so its two file formats are read here by the
rules its ini and yaml inventory plugins follow (docs/fleet.md, "Inventory"):

- INI: a line is a section header only when it is `[name]` or `[name:kind]` followed by
  nothing but blanks or a `#` comment; any other line, `[1:2].host` included, is a host (or,
  under `:children`, a group name, under `:vars`, one `key=value`). A value is read as a
  Python literal where it is one (`port=22` is the integer 22, `"x y"` the string x y,
  `[1, 2]` a list) and kept as written where it is not (`03`, `10.1.1.3`, `enp1s0`), in host
  lines and `:vars` sections alike. A group named only by `[g:vars]` or under `:children`
  must be declared somewhere in the file.
- host patterns: `host:2222` is a port, `kubenode[1:3]`, `node[01:09:2]`, `db-[a:c]`,
  `[1:2].host`: ranges anywhere in the name, several in one name multiply.
- variables resolve as ansible's do: the groups of a host ordered by depth below `all`
  (then `ansible_group_priority`, then name), each overriding the one before, the host's own
  last.
"""

import ast
import ipaddress
import os
import re
import shlex
import string
import warnings
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

from wire_preflight import safefile
from wire_preflight.model import InputError

# `[name]` or `[name:kind]`, then only blanks or a `#` comment: ansible's section rule. The
# name has no blank, `:` or `]`; anything else starting with `[` is a host pattern.
_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
# A port after a name that may hold whole [..] ranges but no other `:`.
_NAME_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
# A label of a host name, where a range may stand for any character: starts with a word
# character or a range, ends with neither `-` nor `_`.
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_ALNUM_RANGE})(?:[\w-]|{_ALNUM_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I | re.UNICODE)
_HEX_RANGE = re.compile(r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]", re.I)
_KINDS = ("hosts", "children", "vars")
# The two groups every ansible inventory has, declared or not.
_IMPLICIT_GROUPS = ("all", "ungrouped")


class Inventory:
    def __init__(self, path: str):
        self.path = path
        self.groups = {}  # type: Dict[str, Dict[str, Any]]
        self.host_vars = {}  # type: Dict[str, Dict[str, Any]]

    def group(self, name: str) -> Dict[str, Any]:
        return self.groups.setdefault(name, {"hosts": [], "children": [], "vars": {}})

    def add_host(
        self, group: Optional[str], name: str, variables: Dict[str, Any], port: Optional[int] = None
    ) -> None:
        if name not in self.host_vars:
            # ansible sets the port of a pattern when it first meets the host, only then,
            # and takes port 0 for none.
            self.host_vars[name] = {"ansible_port": port} if port else {}
        self.host_vars[name].update(variables)
        if group:
            hosts = self.group(group)["hosts"]
            if name not in hosts:
                hosts.append(name)

    def add_child(self, parent: str, child: str) -> None:
        children = self.group(parent)["children"]
        self.group(child)
        if child not in children:
            children.append(child)

    def ancestry(self) -> Dict[str, List[str]]:
        """group -> its ancestors, nearest last ("all" first), following :children."""
        parents = {}  # type: Dict[str, List[str]]
        for name, group in self.groups.items():
            for child in group["children"]:
                parents.setdefault(child, []).append(name)
        out = {}
        for name in self.groups:
            chain: List[str] = []
            pending, seen = list(parents.get(name, [])), {name}
            while pending:
                parent = pending.pop(0)
                if parent in seen:
                    continue
                seen.add(parent)
                chain.insert(0, parent)
                pending.extend(parents.get(parent, []))
            out[name] = chain
        return out

    def depths(self) -> Dict[str, int]:
        """Each group's depth as ansible counts it: `all` is 0, a group no other group lists
        as a child is 1 (ansible makes it a child of `all`), a child is one deeper than its
        deepest parent. A cycle in :children is refused, as ansible refuses it."""
        parents = {}  # type: Dict[str, List[str]]
        for name, group in self.groups.items():
            for child in group["children"]:
                parents.setdefault(child, []).append(name)
        out = {}  # type: Dict[str, int]

        def depth(name: str, path: Tuple[str, ...]) -> int:
            if name in out:
                return out[name]
            if name in path:
                raise InputError(
                    "inventory {}: groups {} are each other's children (a loop)".format(
                        self.path, " -> ".join((*path[path.index(name) :], name))
                    )
                )
            if name == "all":
                found = 0
            else:
                above = [depth(p, (*path, name)) for p in parents.get(name, [])]
                found = max(above) + 1 if above else 1
            out[name] = found
            return found

        for name in self.groups:
            depth(name, ())
        return out

    def members(self, group: str) -> List[str]:
        """The hosts a group lists itself. As in ansible, `ungrouped` holds exactly the
        hosts that are in no group but `all` (listed there, under [all], or before any
        section)."""
        if group != "ungrouped":
            return list(self.groups.get(group, {}).get("hosts", []))
        grouped = {
            h for name, g in self.groups.items() if name not in _IMPLICIT_GROUPS for h in g["hosts"]
        }
        return [h for h in self.host_vars if h not in grouped]

    def hosts(self) -> Dict[str, Dict[str, Any]]:
        """host -> {"groups": every group it is in (directly or through children), "vars"}."""
        ancestry = self.ancestry()
        depths = self.depths()

        def precedence(group: str) -> Tuple[int, int, str]:
            return depths.get(group, 1), self.groups[group].get("priority", 1), group

        listed = {g: set(self.members(g)) for g in self.groups}
        out = {}
        for name in self.host_vars:
            direct = [g for g in self.groups if name in listed[g]]
            groups = []  # type: List[str]
            for group in direct:
                for member in [*ancestry.get(group, []), group]:
                    if member not in groups:
                        groups.append(member)
            variables = dict(self.groups.get("all", {}).get("vars", {}))
            # Shallower groups first, so a child group's vars override its parent's.
            for group in sorted((g for g in groups if g != "all"), key=precedence):
                variables.update(self.groups[group]["vars"])
            variables.update(self.host_vars[name])
            out[name] = {"groups": groups, "vars": variables}
        return out

    def set_group_var(self, group: str, key: str, value: Any, where: str) -> None:
        if key == "ansible_group_priority":
            # ansible keeps it as the group's rank among its depth, not as a variable.
            try:
                self.group(group)["priority"] = int(value)
            except (TypeError, ValueError):
                raise InputError(
                    f"{where}: ansible_group_priority must be an integer, got {value!r}"
                ) from None
            return
        self.group(group)["vars"][key] = value


def load(path: str) -> Inventory:
    try:
        text = safefile.read_bytes(path, safefile.CONFIG).decode("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read inventory {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"inventory {path} is not UTF-8 text: {exc}") from None
    extension = os.path.splitext(os.path.basename(path))[1]
    if extension in (".yml", ".yaml", ".json", "") or _looks_like_yaml(text):
        # Ansible tries its inventory plugins in turn (yaml, then ini; the yaml plugin takes
        # files without an extension too): a file the yaml plugin refuses is read as INI,
        # whatever its name says.
        try:
            return parse_yaml(text, path)
        except InputError as yaml_error:
            try:
                return parse_ini(text, path)
            except InputError as ini_error:
                raise InputError(
                    f"{yaml_error}; read as INI instead (as ansible does): {ini_error}"
                ) from None
    return parse_ini(text, path)


def _looks_like_yaml(text: str) -> bool:
    first = next(
        (
            line
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", ";"))
        ),
        "",
    )
    if first.rstrip() == "---":
        return True  # a YAML document start: ansible's yaml plugin reads it, whatever the name
    return first.rstrip().endswith(":") and not first.startswith("[")


def expand(pattern: str) -> List[str]:
    """The host names a pattern stands for, as ansible expands them: the first `[...]` is a
    range `[begin:end]` or `[begin:end:step]`, numeric (`[01:03]` keeps the zero padding;
    begin and end then have the same width) or over letters (`[a:f]`); the names it gives
    are expanded again for the ranges that follow. A range that runs backwards gives none."""
    if "[" not in pattern:
        return [pattern]
    if "|" in pattern:
        # ansible marks the range's ends with `|` and so cannot split a name holding one.
        raise InputError(f"host pattern {pattern!r}: a range in a name with '|'")
    parts = pattern.replace("[", "\0", 1).replace("]", "\0", 1).split("\0")
    if len(parts) != 3:
        raise InputError(f"host pattern {pattern!r}: a '[' without its ']'")
    head, inner, tail = parts
    bounds = inner.split(":")
    if len(bounds) not in (2, 3):
        raise InputError(f"host range {pattern!r} must be [begin:end] or [begin:end:step]")
    begin, end = bounds[0] or "0", bounds[1]
    if not end:
        raise InputError(f"host range {pattern!r} must give its end")
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and len(end) != width:
        raise InputError(
            f"host range {pattern!r} must give begin and end of equal width (zero padding)"
        )
    try:
        stride = int(bounds[2]) if len(bounds) == 3 else 1
        # As ansible: letters when both ends are found among a-zA-Z, else numbers.
        first, last = string.ascii_letters.find(begin), string.ascii_letters.find(end)
        if first >= 0 and last >= 0 and stride != 0:
            if first > last:
                raise InputError(f"host range {pattern!r} must not run backwards")
            seq = list(string.ascii_letters[first : last + 1 : stride])  # type: List[Any]
        else:
            seq = list(range(int(begin), int(end) + 1, stride))
    except ValueError:
        raise InputError(
            f"host range {pattern!r} is neither numeric nor alphabetic, or steps by 0"
        ) from None
    out = []  # type: List[str]
    for item in seq:
        out.extend(expand(head + str(item).zfill(width) + tail))
    return out


def split_port(pattern: str) -> Tuple[str, Optional[str]]:
    """A host pattern and its port, as ansible's parse_address reads them: `host:2222`,
    `kubenode[1:3]:2222`, `[2001:db8::1]:2222` (a bare IPv6 address has no port). A
    pattern that is no valid host name, IPv4 or IPv6 address once the port is taken off is
    kept whole, port and all, as ansible keeps it."""
    address, port = pattern, None  # type: str, Optional[str]
    for form in (_BRACKETED_PORT, _NAME_PORT):
        found = form.match(address)
        if found:
            address, port = found.group(1), found.group(2)
    if _HOSTNAME.match(address) or _is_ipv6_pattern(address):
        return address, port
    return pattern, None


def _is_ipv6_pattern(text: str) -> bool:
    try:
        ipaddress.IPv6Address(_HEX_RANGE.sub("0", text))
    except ValueError:
        return False
    return ":" in text


def _add_hosts(
    inventory: "Inventory", group: Optional[str], pattern: str, variables: Dict[str, Any]
) -> None:
    name, port = split_port(pattern)
    names = expand(name)
    for host in names:
        if not host:
            raise InputError(f"inventory {inventory.path}: an empty host name")
        inventory.add_host(group, host, dict(variables), None if port is None else int(port))


def ini_value(text: str) -> Any:
    """A value as ansible's ini plugin takes it: a Python literal (number, string in quotes,
    list, dict, True/False/None) where the text is one, else the text itself: `22` is an
    integer, `'03'` and `"x y"` strings without their quotes, `03`, `10.1.1.3` and `enp1s0`
    stay as written."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "invalid escape sequence" and the like
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    except (TypeError, MemoryError, RecursionError) as exc:
        # ansible stops on these too (a dict with a list for a key, nesting too deep).
        raise InputError(f"value {text[:60]!r} cannot be read: {type(exc).__name__}") from None
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def parse_ini(text: str, path: str = "<inventory>") -> Inventory:
    inventory = Inventory(path)
    for name in _IMPLICIT_GROUPS:
        inventory.group(name)
    declared = set(_IMPLICIT_GROUPS)
    # A group named by [g:vars] or under :children before (or without) its own section:
    # group -> the line that named it, to report if it is never declared.
    pending = {}  # type: Dict[str, Tuple[int, str]]
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        where = f"inventory {path} line {number}"
        header = _SECTION.match(line)
        if header:
            section, kind = header.group(1), header.group(2) or "hosts"
            if kind not in _KINDS:
                raise InputError(f"{where}: unknown section kind ':{kind}' in {line!r}")
            inventory.group(section)
            if kind == "vars":
                if section not in declared:
                    pending.setdefault(section, (number, f"[{section}:vars]"))
            else:
                declared.add(section)
                pending.pop(section, None)
            continue
        if line.startswith("[") and line.endswith("]"):
            raise InputError(
                f"{where}: malformed section header {line!r} (a group name has no blanks, "
                "':' or ']'; the only kinds are :vars and :children)"
            )
        try:
            if kind == "vars":
                key, sep, value = line.partition("=")
                if not sep:
                    raise InputError(f"expected key=value in [{section}:vars], got {line!r}")
                inventory.set_group_var(section, key.strip(), ini_value(value.strip()), where)
            elif kind == "children":
                child = _GROUP_NAME.match(line)
                if not child:
                    raise InputError(f"expected a group name in [{section}:children], got {line!r}")
                if child.group(1) not in declared:
                    pending.setdefault(child.group(1), (number, f"[{section}:children]"))
                inventory.add_child(section, child.group(1))
            else:
                _host_line(inventory, section, line)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    for group, (number, named_in) in pending.items():
        if group not in declared:
            raise InputError(
                f"inventory {path} line {number}: {named_in} names group {group!r}, "
                "which no [section] of the file declares"
            )
    inventory.depths()  # refuses a loop in :children now, as ansible does while reading
    return inventory


def _host_line(inventory: Inventory, section: str, line: str) -> None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise InputError(f"cannot split {line!r}: {exc}") from None
    if not words:
        return
    pattern = words[0]
    if pattern == "---":
        raise InputError("host pattern '---' is the start of a YAML document, not a host")
    if pattern.endswith(":") and split_port(pattern)[1] is None:
        raise InputError(f"host pattern {pattern!r} ends in ':' with no port after it")
    if pattern.startswith("[") and "]" not in pattern:
        raise InputError(f"malformed section header or host pattern {pattern!r}")
    variables = {}  # type: Dict[str, Any]
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            raise InputError(f"expected key=value after the host name, got {word!r}")
        variables[key] = ini_value(value)
    _add_hosts(inventory, section, pattern, variables)


def parse_yaml(text: str, path: str = "<inventory>") -> Inventory:
    import yaml

    from wire_preflight import boundedyaml

    try:
        doc = boundedyaml.load(text, max_bytes=safefile.CONFIG)
    except (yaml.YAMLError, ValueError) as exc:
        raise InputError(
            "inventory {} is not valid YAML: {}".format(path, str(exc).replace("\n", " "))
        ) from None
    if not isinstance(doc, dict):
        raise InputError(f"inventory {path}: the top level must be a mapping of groups")
    if doc.get("plugin"):
        raise InputError(f"inventory {path}: an inventory plugin's configuration, not hosts")
    inventory = Inventory(path)
    for name in _IMPLICIT_GROUPS:
        inventory.group(name)
    for name, body in doc.items():
        _yaml_group(inventory, str(name), body, path, str(name))
    inventory.depths()  # refuses a loop in children
    return inventory


def _yaml_section(body: Dict[str, Any], key: str, path: str, where: str) -> Dict[str, Any]:
    """A group's hosts, children or vars: a mapping, nothing, or (ansible allows it) one name."""
    value = body.get(key)
    if value is None:
        return {}
    if isinstance(value, str):
        return {value: None}
    if not isinstance(value, dict):
        raise InputError(f"inventory {path}: '{where}.{key}' must be a mapping")
    return value


def _yaml_group(inventory: Inventory, name: str, body: Any, path: str, where: str) -> bool:
    """Reads one group; False when ansible skips it (its body is neither a mapping nor
    empty: a warning there, and the group is not made)."""
    if body is not None and not isinstance(body, dict):
        return False
    inventory.group(name)
    if body is None:
        return True
    sections = {key: _yaml_section(body, key, path, where) for key in _KINDS if key in body}
    # In the order the file gives them, as ansible takes them: a host listed in this group
    # and in a child keeps the vars of the listing read last.
    for key, section in ((k, sections[k]) for k in body if k in sections):
        if key == "vars":
            for var, value in section.items():
                inventory.set_group_var(name, str(var), value, f"inventory {path}: '{where}.vars'")
        elif key == "children":
            for child, child_body in section.items():
                where_child = f"{where}.children.{child}"
                made = _yaml_group(inventory, str(child), child_body, path, where_child)
                if not made and str(child) not in inventory.groups:
                    raise InputError(
                        f"inventory {path}: group '{where_child}' must be a mapping "
                        "(or a group defined elsewhere)"
                    )
                inventory.add_child(name, str(child))
        else:
            for pattern, variables in section.items():
                _yaml_hosts(inventory, name, pattern, variables, path, where)
    return True


def _yaml_hosts(
    inventory: Inventory, group: str, pattern: Any, variables: Any, path: str, where: str
) -> None:
    if not isinstance(pattern, str):
        raise InputError(
            f"inventory {path}: host {pattern!r} in '{where}' must be a string "
            "(quote a name that YAML reads as a number)"
        )
    # ansible takes any empty value (nothing, '', 0, []) for no vars.
    variables = variables or {}
    if not isinstance(variables, dict):
        raise InputError(
            f"inventory {path}: vars of host '{pattern}' in '{where}' must be a mapping"
        )
    _add_hosts(inventory, group, pattern, dict(variables))


def _text(value: Any) -> Optional[str]:
    """A var the fleet rules read as text (an INI `physical_host=1` is the integer 1)."""
    return None if value is None else str(value)


def planned_hosts(
    inventory: Inventory,
    group_roles: Dict[str, str],
    etcd_group: str = "etcd",
    interface_vars: Optional[Dict[str, List[str]]] = None,
    cidr_vars: Sequence[str] = (),
) -> List[Dict[str, Any]]:
    """The fleet the inventory plans: each host with the roles its groups map to, the
    interface its roles' services bind (the first of the roles' `interface_vars` its vars
    set) and the networks Kubernetes keeps that its vars name (`cidr_vars`)."""
    interface_vars = interface_vars or {}
    out = []
    for name, host in sorted(inventory.hosts().items()):
        roles = []
        for group in host["groups"]:
            role = group_roles.get(group)
            if role and role not in roles:
                roles.append(role)
        variables = host["vars"]
        interfaces = OrderedDict()  # type: Dict[str, str]
        for role in roles:
            for var in interface_vars.get(role, []):
                if isinstance(variables.get(var), str) and variables[var]:
                    interfaces[var] = variables[var]
        out.append(
            {
                "name": name,
                "roles": roles,
                "groups": host["groups"],
                "etcd": etcd_group in host["groups"],
                "ansible_host": _text(variables.get("ansible_host")),
                "ip": _text(variables.get("ip")),
                "physical_host": _text(variables.get("physical_host")),
                "interface": next(iter(interfaces.values()), None),
                "interfaces": dict(interfaces),
                "k8s_cidrs": _networks(variables, cidr_vars),
                "vars": variables,
            }
        )
    return out


def _networks(variables: Dict[str, Any], names: Sequence[str]) -> List[str]:
    """The networks the inventory's variables name (pod_network_cidr: "10.233.0.0/16"...).
    A value that is a template (`{{ ... }}`) or no network is left to ansible."""
    out = []  # type: List[str]
    for name in names:
        value = variables.get(name)
        if not isinstance(value, str):
            continue
        try:
            network = str(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            continue
        if network not in out:
            out.append(network)
    return out


def planned_for(inventory: Inventory, profile: Any) -> List[Dict[str, Any]]:
    """planned_hosts with the profile's mapping: groups to roles, the etcd group, the
    interface variables of each role and the variables naming Kubernetes' networks."""
    return planned_hosts(
        inventory,
        profile.inventory_groups,
        profile.etcd_group,
        profile.interface_vars,
        profile.cidr_vars,
    )

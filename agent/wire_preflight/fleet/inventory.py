"""wire-server-deploy's ansible inventory, INI or YAML: hosts, their groups and their vars.

Ansible's own inventory code is not a library one can embed in a 3.6-compatible agent (it is
ansible-core, tens of MB, Python >= 3.9 today), so the two documented formats are read here:
`[group]`, `[group:children]`, `[group:vars]`, host lines with key=value vars, a port
(`host:2222`) and ansible's ranges (`kubenode[1:3]`, `web[01:50:2]`, `db-[a:f]`), and the
YAML form with hosts/children/vars. Variables resolve as ansible does for these: all <
parent group < child group < host.
"""

import ipaddress
import os
import re
import shlex
import string
from typing import Any, Dict, List, Optional, Tuple

from wire_preflight import safefile
from wire_preflight.model import InputError

_RANGE = re.compile(r"\[[^\]]*:[^\]]*\]")  # ansible's detect_range: a [beg:end(:step)]
_PORT = re.compile(r"^(.+):(\d+)$")


class Inventory:
    def __init__(self, path: str):
        self.path = path
        self.groups = {}  # type: Dict[str, Dict[str, Any]]
        self.host_vars = {}  # type: Dict[str, Dict[str, Any]]

    def group(self, name: str) -> Dict[str, Any]:
        return self.groups.setdefault(name, {"hosts": [], "children": [], "vars": {}})

    def add_host(self, group: Optional[str], name: str, variables: Dict[str, Any]) -> None:
        self.host_vars.setdefault(name, {}).update(variables)
        if group:
            hosts = self.group(group)["hosts"]
            if name not in hosts:
                hosts.append(name)

    def ancestry(self) -> Dict[str, List[str]]:
        """group -> its ancestors, nearest last ("all" first), following :children."""
        parents = {}  # type: Dict[str, List[str]]
        for name, group in self.groups.items():
            for child in group["children"]:
                parents.setdefault(child, []).append(name)
        out = {}
        for name in self.groups:
            chain, pending, seen = [], list(parents.get(name, [])), {name}
            while pending:
                parent = pending.pop(0)
                if parent in seen:
                    continue  # a cycle in :children; ansible refuses it, we just stop
                seen.add(parent)
                chain.insert(0, parent)
                pending.extend(parents.get(parent, []))
            out[name] = chain
        return out

    def hosts(self) -> Dict[str, Dict[str, Any]]:
        """host -> {"groups": every group it is in (directly or through children), "vars"}."""
        ancestry = self.ancestry()
        out = {}
        for name in self.host_vars:
            direct = [g for g, group in self.groups.items() if name in group["hosts"]]
            groups = []
            for group in direct:
                for member in [*ancestry.get(group, []), group]:
                    if member not in groups:
                        groups.append(member)
            variables = dict(self.groups.get("all", {}).get("vars", {}))
            # Shallower groups first, so a child group's vars override its parent's.
            for group in sorted(groups, key=lambda g: len(ancestry.get(g, []))):
                variables.update(self.groups[group]["vars"])
            variables.update(self.host_vars[name])
            out[name] = {"groups": groups, "vars": variables}
        return out


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
    """Ansible's expand_hostname_range: `kubenode[1:3]` -> kubenode1..3, `node[01:03]` keeps
    the zero padding, `web[01:50:2]` steps by 2, `db-[a:f]` runs over letters, and several
    ranges in one name multiply."""
    if not _RANGE.search(pattern):
        return [pattern]
    head, _, rest = pattern.partition("[")
    inner, _, tail = rest.partition("]")
    bounds = inner.split(":")
    if len(bounds) not in (2, 3):
        raise InputError(f"host range {pattern!r} must be [begin:end] or [begin:end:step]")
    begin, end = bounds[0] or "0", bounds[1]
    step = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise InputError(f"host range {pattern!r} must give its end")
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and len(end) != width:
        raise InputError(
            f"host range {pattern!r} must give begin and end of equal width (zero padding)"
        )
    try:
        stride = int(step)
        if begin in string.ascii_letters and end in string.ascii_letters:
            first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
            if first > last:
                raise InputError(f"host range {pattern!r} must not run backwards")
            seq = list(string.ascii_letters[first : last + 1 : stride])  # type: List[Any]
        else:
            seq = list(range(int(begin), int(end) + 1, stride))
    except ValueError:
        raise InputError(f"host range {pattern!r} is neither numeric nor alphabetic") from None
    out = []
    for item in seq:
        out.extend(expand(head + str(item).zfill(width) + tail))
    return out


def split_port(pattern: str) -> Tuple[str, Optional[str]]:
    """Ansible's parse_address on a host pattern: `host:2222` is host `host` on port 2222,
    `[2001:db8::1]:2222` an IPv6 address with a port; a bare IPv6 address has no port."""
    bracketed = re.match(r"^\[([^\]]*:[^\]]*)\]:(\d+)$", pattern)
    if bracketed and _is_ipv6(bracketed.group(1)):
        return bracketed.group(1), bracketed.group(2)
    found = _PORT.match(pattern)
    if found and ":" not in _RANGE.sub("", found.group(1)):
        return found.group(1), found.group(2)
    return pattern, None


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _add_hosts(
    inventory: "Inventory", group: Optional[str], pattern: str, variables: Dict[str, Any]
) -> None:
    name, port = split_port(pattern)
    if port is not None:
        variables = dict(variables, ansible_port=int(port))
    for host in expand(name):
        inventory.add_host(group, host, dict(variables))


def parse_ini(text: str, path: str = "<inventory>") -> Inventory:
    inventory = Inventory(path)
    section, kind = None, "hosts"  # type: Tuple[Optional[str], str]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        where = f"inventory {path} line {number}"
        # `[2001:db8::1]:2222` is a host (an IPv6 address with a port), not a section.
        if line.startswith("[") and split_port(line.split()[0])[1] is None:
            if not line.endswith("]") or len(line) < 3:
                raise InputError(f"{where}: malformed section header {line!r}")
            name, _, kind = line[1:-1].partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "children", "vars"):
                raise InputError(f"{where}: unknown section kind ':{kind}'")
            section = name.strip()
            inventory.group(section)
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        if not words:
            continue
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                raise InputError(f"{where}: expected key=value in [{section}:vars]")
            inventory.group(section or "all")["vars"][key.strip()] = _unquote(value.strip())
        elif kind == "children":
            inventory.group(words[0])
            children = inventory.group(section or "all")["children"]
            if words[0] not in children:
                children.append(words[0])
        else:
            variables = {}
            for word in words[1:]:
                key, sep, value = word.partition("=")
                if not sep:
                    raise InputError(
                        f"{where}: expected key=value after the host name, got {word!r}"
                    )
                variables[key] = value
            _add_hosts(inventory, section or "ungrouped", words[0], variables)
    return inventory


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


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
    inventory = Inventory(path)
    for name, body in doc.items():
        _yaml_group(inventory, str(name), body, path, str(name))
    return inventory


def _yaml_group(inventory: Inventory, name: str, body: Any, path: str, where: str) -> None:
    group = inventory.group(name)
    if body is None:
        return
    if not isinstance(body, dict):
        raise InputError(f"inventory {path}: group '{where}' must be a mapping")
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, dict):
        raise InputError(f"inventory {path}: '{where}.hosts' must be a mapping")
    for pattern, variables in hosts.items():
        if variables is not None and not isinstance(variables, dict):
            raise InputError(
                f"inventory {path}: vars of host '{pattern}' in '{where}' must be a mapping"
            )
        _add_hosts(inventory, name, str(pattern), dict(variables or {}))
    group["vars"].update(body.get("vars") or {})
    children = body.get("children") or {}
    if not isinstance(children, dict):
        raise InputError(f"inventory {path}: '{where}.children' must be a mapping")
    for child, child_body in children.items():
        if str(child) not in group["children"]:
            group["children"].append(str(child))
        _yaml_group(inventory, str(child), child_body, path, f"{where}.children.{child}")


def planned_hosts(
    inventory: Inventory, group_roles: Dict[str, str], etcd_group: str = "etcd"
) -> List[Dict[str, Any]]:
    """The fleet the inventory plans: each host with the roles its groups map to."""
    out = []
    for name, host in sorted(inventory.hosts().items()):
        roles = []
        for group in host["groups"]:
            role = group_roles.get(group)
            if role and role not in roles:
                roles.append(role)
        variables = host["vars"]
        out.append(
            {
                "name": name,
                "roles": roles,
                "groups": host["groups"],
                "etcd": etcd_group in host["groups"],
                "ansible_host": variables.get("ansible_host"),
                "ip": variables.get("ip"),
                "physical_host": variables.get("physical_host"),
                "vars": variables,
            }
        )
    return out

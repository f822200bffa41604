"""Profiles: the requirements as data (TOML files), loaded and validated.

A profile is found by name among the built-in files beside this module, or read from a path.
Every problem is reported as an InputError naming the file and the field, so a user's own
profile fails with one clear line instead of a traceback.
"""

import os
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from wire_preflight.model import InputError

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - exercised on the older interpreters in CI
    import tomli as _toml

BUILTIN_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROFILE = "classic"
PLACEMENTS = ("each-server", "any-server", "standalone")


class Role(NamedTuple):
    name: str
    title: str
    vms: int
    cores: int
    memory_gb: float
    disk_gb: float
    data_dir: str
    placement: str
    note: str = ""
    # The components this role runs, whose own host requirements apply (profiles/host/*.toml).
    components: Tuple[str, ...] = ()


class Profile(NamedTuple):
    name: str
    path: str
    description: str
    source: str
    os_id: str
    os_versions: List[str]
    os_source: str
    units: Dict[str, Any]
    sft_users_per_core: int
    sft_roles: List[str]
    sft_source: str
    hostname_severity: str
    fleet: Dict[str, Any]
    plan: Dict[str, Any]
    roles: Dict[str, Role]
    # Each component's host requirements (check id -> rules); see profiles/host/components.toml.
    host: Dict[str, Any]
    k8s_cidrs: List[str]
    # Inventory group -> role, and the group that lists etcd members.
    inventory_groups: Dict[str, str]
    etcd_group: str
    # Names the domain needs ({"required": [...], "optional": {name: purpose}, ...}).
    dns: Dict[str, Any]
    # Who must reach whom: [{"from": role, "to": role, "tcp": [...], "udp": [...]}].
    reach: List[Dict[str, Any]]

    def role(self, name: str) -> Role:
        try:
            return self.roles[name]
        except KeyError:
            raise InputError(
                "unknown role {!r} in profile {!r}; roles: {}".format(
                    name, self.name, ", ".join(self.roles)
                )
            ) from None


def builtin_names() -> List[str]:
    return sorted(f[:-5] for f in os.listdir(BUILTIN_DIR) if f.endswith(".toml"))


def resolve(name_or_path: Optional[str]) -> str:
    """A built-in profile name, or a path to a TOML file."""
    name_or_path = name_or_path or DEFAULT_PROFILE
    if os.sep in name_or_path or name_or_path.endswith(".toml"):
        return name_or_path
    path = os.path.join(BUILTIN_DIR, name_or_path + ".toml")
    if not os.path.exists(path):
        raise InputError(
            "unknown profile {!r}; built-in profiles: {} (or give a path to a .toml file)".format(
                name_or_path, ", ".join(builtin_names())
            )
        )
    return path


def load(name_or_path: Optional[str] = None) -> Profile:
    path = resolve(name_or_path)
    try:
        with open(path, "rb") as handle:
            data = _toml.load(handle)
    except OSError as exc:
        raise InputError(f"cannot read profile {path}: {exc.strerror}") from None
    except _toml.TOMLDecodeError as exc:
        raise InputError(f"profile {path} is not valid TOML: {exc}") from None
    return _parse(path, data)


class _Reader:
    """Reads typed fields out of nested tables, naming file and field in every complaint."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, field: str, problem: str) -> InputError:
        return InputError(f"profile {self.path}: field '{field}' {problem}")

    def get(
        self,
        table: Dict[str, Any],
        field: str,
        kinds: Tuple[type, ...],
        prefix: str = "",
        default: Any = KeyError,
    ) -> Any:
        name = prefix + field
        if field not in table:
            if default is KeyError:
                raise self.fail(name, "is missing")
            return default
        value = table[field]
        # bool is an int in Python; a profile saying cores = true is a mistake, not 1.
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(name, f"must be {_kind_names(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            raise self.fail(name, f"must be {_kind_names(kinds)}, got {value!r}")
        return value

    def table(self, data: Dict[str, Any], field: str, prefix: str = "") -> Dict[str, Any]:
        return self.get(data, field, (dict,), prefix)

    def positive(self, table: Dict[str, Any], field: str, prefix: str, allow_zero: bool = False):
        value = self.get(table, field, (int, float), prefix)
        if value < 0 or (value == 0 and not allow_zero):
            raise self.fail(prefix + field, f"must be a positive number, got {value!r}")
        return value

    def fraction(self, table: Dict[str, Any], field: str, prefix: str) -> float:
        value = self.get(table, field, (int, float), prefix)
        if not 0 <= value < 1:
            raise self.fail(prefix + field, f"must be a fraction in [0, 1), got {value!r}")
        return float(value)


def _kind_names(kinds: Tuple[type, ...]) -> str:
    if set(kinds) == {int, float}:
        return "a number"
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        dict: "a table",
        list: "a list",
        bool: "a boolean",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _parse(path: str, data: Dict[str, Any]) -> Profile:
    r = _Reader(path)
    schema = r.get(data, "schema", (int,))
    if schema != 1:
        raise r.fail("schema", f"must be 1 (this agent reads profile schema 1), got {schema}")

    os_table = r.table(data, "os")
    versions = r.get(os_table, "versions", (list,), "os.")
    if not versions or not all(isinstance(v, str) for v in versions):
        raise r.fail("os.versions", 'must be a non-empty list of strings such as "18.04"')

    units = r.table(data, "units")
    unit_values = {
        "bytes_per_gb": r.positive(units, "bytes_per_gb", "units."),
        "memtotal_allowance": r.fraction(units, "memtotal_allowance", "units."),
        "filesystem_allowance": r.fraction(units, "filesystem_allowance", "units."),
        "disk_free_warn_fraction": r.fraction(units, "disk_free_warn_fraction", "units."),
        "source": r.get(units, "source", (str,), "units.", ""),
    }

    sft = r.get(data, "sft", (dict,), "", {})
    sft_roles = r.get(sft, "roles", (list,), "sft.", [])
    hostname = r.get(data, "hostname", (dict,), "", {})
    severity = r.get(hostname, "severity", (str,), "hostname.", "fail")
    if severity not in ("fail", "warn"):
        raise r.fail("hostname.severity", f'must be "fail" or "warn", got {severity!r}')

    roles_table = r.table(data, "roles")
    if not roles_table:
        raise r.fail("roles", "must define at least one role")
    roles = {}
    for name, spec in roles_table.items():
        prefix = f"roles.{name}."
        if not isinstance(spec, dict):
            raise r.fail("roles." + name, "must be a table")
        placement = r.get(spec, "placement", (str,), prefix, "each-server")
        if placement not in PLACEMENTS:
            raise r.fail(
                prefix + "placement",
                "must be one of {}, got {!r}".format(", ".join(PLACEMENTS), placement),
            )
        data_dir = r.get(spec, "data_dir", (str,), prefix, "/")
        if not data_dir.startswith("/"):
            raise r.fail(prefix + "data_dir", f"must be an absolute path, got {data_dir!r}")
        vms = r.get(spec, "vms", (int,), prefix)
        if vms < 1:
            raise r.fail(prefix + "vms", f"must be at least 1, got {vms}")
        roles[name] = Role(
            name=name,
            title=r.get(spec, "title", (str,), prefix, name),
            vms=vms,
            cores=r.positive(spec, "cores", prefix),
            memory_gb=r.positive(spec, "memory_gb", prefix),
            disk_gb=r.positive(spec, "disk_gb", prefix),
            data_dir=data_dir,
            placement=placement,
            note=r.get(spec, "note", (str,), prefix, ""),
            components=tuple(_strings(r, spec, "components", prefix, [name])),
        )
    for role in sft_roles:
        if role not in roles:
            raise r.fail("sft.roles", f"names {role!r}, which is not a role of this profile")

    return Profile(
        name=r.get(data, "name", (str,)),
        path=path,
        description=r.get(data, "description", (str,), "", ""),
        source=r.get(data, "source", (str,), "", ""),
        os_id=r.get(os_table, "id", (str,), "os."),
        os_versions=versions,
        os_source=r.get(os_table, "source", (str,), "os.", ""),
        units=unit_values,
        sft_users_per_core=int(r.positive(sft, "users_per_core", "sft.")) if sft else 100,
        sft_roles=sft_roles,
        sft_source=r.get(sft, "source", (str,), "sft.", ""),
        hostname_severity=severity,
        fleet=r.get(data, "fleet", (dict,), "", {}),
        plan=r.get(data, "plan", (dict,), "", {}),
        roles=roles,
        host=_load_host(r, data, path),
        k8s_cidrs=_cidrs(r, data),
        inventory_groups=_inventory_groups(r, data, roles),
        etcd_group=r.get(
            r.get(data, "inventory", (dict,), "", {}), "etcd_group", (str,), "inventory.", "etcd"
        ),
        dns=_dns(r, data),
        reach=_reach(r, data, roles),
    )


def os_alternatives() -> Dict[str, Tuple[str, List[str]]]:
    """Each built-in profile's distribution and releases, for naming the profile that fits.

    A broken built-in profile is left out here; loading it by name reports the problem.
    """
    out = {}
    for name in builtin_names():
        # Only the [os] table: validating whole profiles (and their host requirements) here
        # would double the agent's TOML parsing on every host whose release differs.
        try:
            with open(os.path.join(BUILTIN_DIR, name + ".toml"), "rb") as handle:
                table = _toml.load(handle).get("os") or {}
        except (OSError, _toml.TOMLDecodeError):
            continue
        if isinstance(table.get("id"), str) and isinstance(table.get("versions"), list):
            out[name] = (table["id"], table["versions"])
    return out


def _strings(
    r: _Reader, table: Dict[str, Any], field: str, prefix: str, default: List[str]
) -> List[str]:
    values = r.get(table, field, (list,), prefix, default)
    if not all(isinstance(v, str) for v in values):
        raise r.fail(prefix + field, "must be a list of strings")
    return values


def _inventory_groups(r: _Reader, data: Dict[str, Any], roles: Dict[str, Role]) -> Dict[str, str]:
    table = r.get(data, "inventory", (dict,), "", {})
    groups = r.get(table, "groups", (dict,), "inventory.", {})
    for group, role in groups.items():
        if role not in roles:
            raise r.fail(
                "inventory.groups." + group,
                f"maps to {role!r}, which is not a role of this profile",
            )
    for field in ("quorum_roles", "redundant_roles"):
        for role in (data.get("fleet") or {}).get(field, []):
            if role not in roles:
                raise r.fail("fleet." + field, f"names {role!r}, not a role of this profile")
    return dict(groups)


def _dns(r: _Reader, data: Dict[str, Any]) -> Dict[str, Any]:
    table = r.get(data, "dns", (dict,), "", {})
    required = _strings(r, table, "required", "dns.", [])
    optional = r.get(table, "optional", (dict,), "dns.", {})
    for name, purpose in optional.items():
        if not isinstance(purpose, str):
            raise r.fail("dns.optional." + name, "must be a string saying what needs it")
    return {
        "required": required,
        "optional": dict(optional),
        "federator_srv": r.get(
            table, "federator_srv", (str,), "dns.", "_wire-server-federator._tcp"
        ),
        "source": r.get(table, "source", (str,), "dns.", ""),
    }


def _reach(r: _Reader, data: Dict[str, Any], roles: Dict[str, Role]) -> List[Dict[str, Any]]:
    rules = r.get(data, "reach", (list,), "", [])
    out = []
    for index, rule in enumerate(rules):
        prefix = f"reach[{index}]."
        if not isinstance(rule, dict):
            raise r.fail(f"reach[{index}]", "must be a table")
        for end in ("from", "to"):
            role = r.get(rule, end, (str,), prefix)
            if role not in roles:
                raise r.fail(prefix + end, f"names {role!r}, not a role of this profile")
        ports = {}
        for proto in ("tcp", "udp"):
            values = r.get(rule, proto, (list,), prefix, [])
            if not all(
                isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in values
            ):
                raise r.fail(prefix + proto, "must be a list of port numbers")
            ports[proto] = values
        out.append(
            {"from": rule["from"], "to": rule["to"], "tcp": ports["tcp"], "udp": ports["udp"]}
        )
    return out


def _cidrs(r: _Reader, data: Dict[str, Any]) -> List[str]:
    import ipaddress

    table = r.get(data, "kubernetes", (dict,), "", {})
    cidrs = _strings(r, table, "cidrs", "kubernetes.", [])
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr)
        except ValueError as exc:
            raise r.fail("kubernetes.cidrs", f"has an invalid network: {exc}") from None
    return cidrs


HOST_CHECK_IDS = (
    "swap",
    "vm-max-map-count",
    "nofile",
    "nproc",
    "memlock",
    "ip-forward",
    "br-netfilter",
    "thp",
    "zone-reclaim",
    "minio-drive",
    "tools",
    "ports",
    "time-sync",
)


def _load_host(r: _Reader, data: Dict[str, Any], profile_path: str) -> Dict[str, Any]:
    """The component requirements a profile uses: `host_requirements` names a file beside
    the profile or in profiles/host/ (default: the built-in components.toml)."""
    name = r.get(data, "host_requirements", (str,), "", "components")
    candidates = [
        os.path.join(os.path.dirname(os.path.abspath(profile_path)), name),
        os.path.join(BUILTIN_DIR, "host", name + ".toml"),
    ]
    path = next((c for c in candidates if os.path.isfile(c)), None)
    if path is None:
        raise r.fail(
            "host_requirements",
            f"names {name!r}, which is neither a file beside the "
            "profile nor a built-in requirements table",
        )
    try:
        with open(path, "rb") as handle:
            host = _toml.load(handle)
    except (OSError, _toml.TOMLDecodeError) as exc:
        raise InputError(f"host requirements {path}: {exc}") from None
    hr = _Reader(path)
    for check_id in HOST_CHECK_IDS:
        hr.get(host, check_id, (dict,), "", {})
        for component, rule in host.get(check_id, {}).items():
            if isinstance(rule, dict):
                for key, value in rule.items():
                    if key.endswith("_below") and (
                        isinstance(value, bool) or not isinstance(value, int)
                    ):
                        raise hr.fail(
                            f"{check_id}.{component}.{key}", f"must be an integer, got {value!r}"
                        )
    return host


def host_services(profile: Profile) -> List[str]:
    """The systemd services whose limits the host requirements judge."""
    return sorted(
        {
            rule["service"]
            for check_id in ("nofile", "nproc", "memlock")
            for rule in profile.host.get(check_id, {}).values()
            if isinstance(rule, dict) and "service" in rule
        }
    )


def host_tools(profile: Profile) -> List[str]:
    return sorted(
        {
            name
            for rule in profile.host.get("tools", {}).values()
            if isinstance(rule, dict)
            for name in rule.get("required", []) + rule.get("recommended", [])
        }
    )

"""Profiles: the requirements as data (TOML files), loaded and validated whole.

A profile is found by name among the built-in files beside this module, or read from a path.
Its shape, and that of its host requirements, is checked against schema.py before anything
reads it; the relations between its tables (roles named elsewhere) are checked here. Every
problem is an InputError naming the file, the table and the key, so a user's own profile
fails with one clear line instead of a traceback.
"""

import os
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from wire_preflight.model import InputError
from wire_preflight.profiles import parsed, schema
from wire_preflight.registry import host_rule_shapes

BUILTIN_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROFILE = "classic"
PLACEMENTS = schema.PLACEMENTS
# The variables of Wire's inventories that name Kubernetes' own networks: kubespray's service
# and pod networks, and WIAB dev's Minikube pod network and node subnet (docs/sources.md).
DEFAULT_CIDR_VARS = (
    "kube_service_addresses",
    "kube_pods_subnet",
    "pod_network_cidr",
    "minikube_node_subnet",
)


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
    # The memory in GiB where the plan states GiB (memory_gb is then its value in GB).
    memory_gib: Optional[float] = None
    # The roles whose VMs this machine carries (its size is theirs, added up), with their VMs.
    carries: Tuple[str, ...] = ()


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
    # role -> inventory variables that name the interface its services bind, first found wins.
    interface_vars: Dict[str, List[str]] = {}
    # Inventory variables that name networks Kubernetes keeps for itself (pod_network_cidr...).
    cidr_vars: List[str] = []

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
        data = _read_toml(path)
    except OSError as exc:
        raise InputError(f"cannot read profile {path}: {exc.strerror}") from None
    except ValueError as exc:  # the parser's TOMLDecodeError, or UnicodeDecodeError
        raise InputError(f"profile {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"profile {path} is not valid TOML: nested too deeply") from None
    return _parse(path, data)


def _read_toml(path: str) -> Dict[str, Any]:
    """A TOML file given by the operator, read as safefile reads (a regular file, 1 MiB at
    most: a FIFO or /dev/zero given as --profile is refused, not waited on)."""
    from wire_preflight import safefile

    return _parse_toml(path, safefile.read_bytes(path, safefile.CONFIG).decode("utf-8"))


def _parse_toml(path: str, text: str) -> Dict[str, Any]:
    """A built-in file as it was parsed when the package was built (profiles/parsed.py),
    any other or changed file by the TOML parser."""
    cached = parsed.lookup(path, text)
    return cached if cached is not None else parsed.toml_module().loads(text)


def _fail(path: str, field: str, problem: str) -> InputError:
    return InputError(f"profile {path}: field '{field}' {problem}")


def _parse(path: str, data: Dict[str, Any]) -> Profile:
    try:
        # The version first: a profile for another schema fails on that, not on a key.
        schema.table({"schema": schema.integer()}, ("schema",), other=lambda *_: None)(data, "")
        if data["schema"] != 1:
            raise schema.SchemaError(
                "schema",
                "must be 1 (this agent reads profile schema 1), got {}".format(data["schema"]),
            )
        schema.PROFILE(data, "")
    except schema.SchemaError as exc:
        raise InputError(f"profile {path}: {exc}") from None
    os_table, units = data["os"], data["units"]
    roles = _roles(path, data["roles"], units["bytes_per_gb"])
    _check_role_names(path, data, roles)
    sft = data.get("sft", {})
    hostname = data.get("hostname", {})
    inventory = data.get("inventory", {})
    dns = data.get("dns", {})
    return Profile(
        name=data["name"],
        path=path,
        description=data.get("description", ""),
        source=data.get("source", ""),
        os_id=os_table["id"],
        os_versions=os_table["versions"],
        os_source=os_table.get("source", ""),
        units={
            "bytes_per_gb": units["bytes_per_gb"],
            "memtotal_allowance": float(units["memtotal_allowance"]),
            "filesystem_allowance": float(units["filesystem_allowance"]),
            "disk_free_warn_fraction": float(units["disk_free_warn_fraction"]),
            "source": units.get("source", ""),
        },
        # The schema requires users_per_core in [sft]; a profile without [sft] gives no role
        # SFT cores (sft_roles is empty), so its number is never read.
        sft_users_per_core=sft["users_per_core"] if sft else 0,
        sft_roles=sft.get("roles", []),
        sft_source=sft.get("source", ""),
        hostname_severity=hostname.get("severity", "fail"),
        fleet=data.get("fleet", {}),
        plan=data.get("plan", {}),
        roles=roles,
        host=_load_host(path, data.get("host_requirements", "components")),
        k8s_cidrs=data.get("kubernetes", {}).get("cidrs", []),
        inventory_groups=dict(inventory.get("groups", {})),
        etcd_group=inventory.get("etcd_group", "etcd"),
        interface_vars={k: list(v) for k, v in inventory.get("interface_vars", {}).items()},
        cidr_vars=list(inventory.get("cidr_vars", DEFAULT_CIDR_VARS)),
        dns={
            "required": dns.get("required", []),
            "optional": dict(dns.get("optional", {})),
            "federator_srv": dns.get("federator_srv", "_wire-server-federator._tcp"),
            "source": dns.get("source", ""),
        },
        reach=[
            {
                "from": rule["from"],
                "to": rule["to"],
                "tcp": rule.get("tcp", []),
                "udp": rule.get("udp", []),
            }
            for rule in data.get("reach", [])
        ],
    )


def _roles(path: str, specs: Dict[str, Any], bytes_per_gb: float) -> Dict[str, Role]:
    """The rows as written, then the carrying machines' rows added up from them."""
    roles = {}
    for name, spec in specs.items():
        if "carries" in spec:
            continue
        gib = spec.get("memory_gib")
        roles[name] = Role(
            name=name,
            title=spec.get("title", name),
            vms=spec["vms"],
            cores=spec["cores"],
            memory_gb=spec["memory_gb"] if gib is None else gib * 2**30 / bytes_per_gb,
            disk_gb=spec["disk_gb"],
            data_dir=spec.get("data_dir", "/"),
            placement=spec.get("placement", "each-server"),
            note=spec.get("note", ""),
            components=tuple(spec.get("components", [name])),
            memory_gib=gib,
        )
    for name, spec in specs.items():
        if "carries" not in spec:
            continue
        carried = []
        for index, other in enumerate(spec["carries"]):
            if other not in roles:
                problem = (
                    "carries VMs itself; a carried role must have its own size"
                    if other in specs
                    else "is not a role of this profile"
                )
                raise _fail(
                    path, f"roles.{name}.carries[{index}]", f"names {other!r}, which {problem}"
                )
            carried.append(roles[other])
        # Summed in GiB only when every carried role states GiB.
        stated_gib = [r.memory_gib for r in carried if r.memory_gib is not None]
        roles[name] = Role(
            name=name,
            title=spec.get("title", name),
            vms=spec["vms"],
            cores=sum(r.vms * r.cores for r in carried),
            memory_gb=sum(r.vms * r.memory_gb for r in carried),
            disk_gb=sum(r.vms * r.disk_gb for r in carried),
            data_dir=spec.get("data_dir", "/"),
            placement=spec.get("placement", "standalone"),
            note=spec.get("note", ""),
            components=tuple(spec.get("components", [name])),
            memory_gib=None
            if len(stated_gib) < len(carried)
            else sum(r.vms * g for r, g in zip(carried, stated_gib)),
            carries=tuple(r.name for r in carried),
        )
    # In the file's order, as `plan` and `profiles` list them.
    return {name: roles[name] for name in specs}


def _check_role_names(path: str, data: Dict[str, Any], roles: Dict[str, Role]) -> None:
    """Every role another table names must be a role of this profile."""

    def known(field: str, role: str, problem: str) -> None:
        if role not in roles:
            raise _fail(path, field, problem.format(role=role))

    for role in data.get("sft", {}).get("roles", []):
        known("sft.roles", role, "names {role!r}, which is not a role of this profile")
    for role in data.get("inventory", {}).get("interface_vars", {}):
        known(
            "inventory.interface_vars." + role, role, "names {role!r}, not a role of this profile"
        )
    for group, role in data.get("inventory", {}).get("groups", {}).items():
        known(
            "inventory.groups." + group,
            role,
            "maps to {role!r}, which is not a role of this profile",
        )
    for field in ("quorum_roles", "redundant_roles"):
        for role in data.get("fleet", {}).get(field, []):
            known("fleet." + field, role, "names {role!r}, not a role of this profile")
    for index, rule in enumerate(data.get("reach", [])):
        for end in ("from", "to"):
            known(f"reach[{index}].{end}", rule[end], "names {role!r}, not a role of this profile")


class Alternative(NamedTuple):
    """What a built-in profile plans for: a distribution, its releases and the roles."""

    os_id: str
    versions: List[str]
    roles: Tuple[str, ...]


def os_alternatives() -> Dict[str, Alternative]:
    """Each built-in profile's distribution, releases and roles, for naming the profile that
    fits a host: one that names its release and defines every one of its roles.

    A broken built-in profile is left out here; loading it by name reports the problem.
    """
    out = {}
    for name in builtin_names():
        # Only the [os] table and the role names: validating whole profiles (and their host
        # requirements) here would double the agent's TOML parsing on every host whose
        # release differs.
        path = os.path.join(BUILTIN_DIR, name + ".toml")
        try:
            with open(path, "rb") as handle:
                data = _parse_toml(path, handle.read().decode("utf-8"))
        except (OSError, ValueError):  # unreadable, not UTF-8, not TOML
            continue
        table = data.get("os") or {}
        roles = data.get("roles")
        if (
            isinstance(table.get("id"), str)
            and isinstance(table.get("versions"), list)
            and isinstance(roles, dict)
        ):
            out[name] = Alternative(table["id"], table["versions"], tuple(roles))
    return out


def _load_host(profile_path: str, names: Any) -> Dict[str, Any]:
    """The component requirements a profile uses: `host_requirements` names a file beside
    the profile or in profiles/host/ (default: the built-in components.toml), or a list of
    them whose check tables add up; a check given by two of them is an error, not an
    override, so no rule is dropped without a word."""
    host = {"schema": 1}  # type: Dict[str, Any]
    origin = {}  # type: Dict[str, str]
    for name in [names] if isinstance(names, str) else names:
        path, table = _load_host_file(profile_path, name)
        for check_id, rules in table.items():
            if check_id == "schema":
                continue
            if check_id in origin:
                raise _fail(
                    profile_path,
                    "host_requirements",
                    f"gives [{check_id}] twice: in {origin[check_id]} and in {path}",
                )
            origin[check_id] = path
            host[check_id] = rules
    return host


def _load_host_file(profile_path: str, name: str) -> Tuple[str, Dict[str, Any]]:
    candidates = [
        os.path.join(os.path.dirname(os.path.abspath(profile_path)), name),
        os.path.join(BUILTIN_DIR, "host", name + ".toml"),
    ]
    path = next((c for c in candidates if os.path.isfile(c)), None)
    if path is None:
        raise _fail(
            profile_path,
            "host_requirements",
            f"names {name!r}, which is neither a file beside the "
            "profile nor a built-in requirements table",
        )
    try:
        host = _read_toml(path)
    except (OSError, ValueError) as exc:  # ValueError: TOMLDecodeError, UnicodeDecodeError
        raise InputError(f"host requirements {path}: {exc}") from None
    except RecursionError:
        raise InputError(f"host requirements {path}: nested too deeply") from None
    try:
        schema.host_requirements(host_rule_shapes())(host, "")
    except schema.SchemaError as exc:
        raise InputError(f"host requirements {path}: {exc}") from None
    return path, host


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


def host_modules(profile: Profile) -> List[str]:
    """Every kernel module a rule names, alternatives ("ip_tables|nf_tables") split."""
    return sorted(
        {
            name
            for rule in profile.host.get("calico-modules", {}).values()
            if isinstance(rule, dict)
            for entry in rule.get("required", []) + rule.get("recommended", [])
            for name in entry.split("|")
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

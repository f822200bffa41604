"""The shape of a profile and of its host requirements, checked whole when they are loaded.

Plain functions and dicts, no library: the agent loads a profile on every run, on Python 3.6
VMs too, and a schema library would cost more to import than the whole check takes. A
validator is a function (value, field) that raises SchemaError naming the dotted field
(`fleet.min_physical_servers`, `swap.components.kubernetes`); the loader adds the file.

What the schema does not know: relations between tables (a role named in [sft] or [[reach]]
must exist). profiles/__init__.py checks those once the shape is known to be right.
"""

import ipaddress
import re
from typing import Any, Callable, Dict, Iterable, Optional, Sequence

Validator = Callable[[Any, str], None]

SEVERITIES = ("fail", "warn")
PLACEMENTS = ("each-server", "any-server", "standalone")


class SchemaError(Exception):
    def __init__(self, field: str, problem: str):
        super().__init__(f"field '{field}' {problem}")
        self.field = field
        self.problem = problem


def _is_bool(value: Any) -> bool:
    # bool is an int in Python; a profile saying cores = true is a mistake, not 1.
    return isinstance(value, bool)


def string(value: Any, field: str) -> None:
    if not isinstance(value, str):
        raise SchemaError(field, f"must be a string, got {value!r}")


def boolean(value: Any, field: str) -> None:
    if not isinstance(value, bool):
        raise SchemaError(field, f"must be true or false, got {value!r}")


def integer(minimum: Optional[int] = None) -> Validator:
    def check(value: Any, field: str) -> None:
        if _is_bool(value):
            raise SchemaError(field, "must be an integer, not a boolean")
        if not isinstance(value, int):
            raise SchemaError(field, f"must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise SchemaError(field, f"must be at least {minimum}, got {value}")

    return check


def number(allow_zero: bool = False) -> Validator:
    """A positive number (int or float)."""

    def check(value: Any, field: str) -> None:
        if _is_bool(value):
            raise SchemaError(field, "must be a number, not a boolean")
        if not isinstance(value, (int, float)):
            raise SchemaError(field, f"must be a number, got {value!r}")
        if value < 0 or (value == 0 and not allow_zero):
            raise SchemaError(field, f"must be a positive number, got {value!r}")

    return check


def fraction(value: Any, field: str) -> None:
    if _is_bool(value) or not isinstance(value, (int, float)):
        raise SchemaError(field, f"must be a number, got {value!r}")
    if not 0 <= value < 1:
        raise SchemaError(field, f"must be a fraction in [0, 1), got {value!r}")


def one_of(*choices: Any) -> Validator:
    def check(value: Any, field: str) -> None:
        # Of the same type too: `true in (1,)` and `1.0 in (1,)` hold in Python, and a file
        # saying schema = true is a mistake, not schema 1.
        if not any(type(value) is type(choice) and value == choice for choice in choices):
            shown = ", ".join(str(c) for c in choices)
            raise SchemaError(field, f"must be one of {shown}, got {value!r}")

    return check


def absolute_path(value: Any, field: str) -> None:
    string(value, field)
    if not value.startswith("/"):
        raise SchemaError(field, f"must be an absolute path, got {value!r}")


def port(value: Any, field: str) -> None:
    if _is_bool(value) or not isinstance(value, int) or not 0 < value < 65536:
        raise SchemaError(field, f"must be a port number (1-65535), got {value!r}")


def network(value: Any, field: str) -> None:
    string(value, field)
    try:
        ipaddress.ip_network(value)
    except ValueError as exc:
        raise SchemaError(field, f"has an invalid network: {exc}") from None


def list_of(item: Validator, non_empty: bool = False) -> Validator:
    def check(value: Any, field: str) -> None:
        if not isinstance(value, list):
            raise SchemaError(field, f"must be a list, got {value!r}")
        if non_empty and not value:
            raise SchemaError(field, "must not be empty")
        for index, element in enumerate(value):
            item(element, f"{field}[{index}]")

    return check


strings = list_of(string)


def table(
    fields: Dict[str, Validator],
    required: Sequence[str] = (),
    other: Optional[Validator] = None,
) -> Validator:
    """A TOML table with these keys. `other` validates keys not in `fields` (tables keyed by
    a name the user chooses: roles, components); without it an unknown key is an error,
    so a misspelt key is caught instead of silently ignored."""

    def check(value: Any, field: str) -> None:
        if not isinstance(value, dict):
            raise SchemaError(field, f"must be a table, got {value!r}")
        # In the order the schema lists the keys, so the first problem named is the first a
        # reader of the schema would meet.
        for key, check_key in fields.items():
            if key in value:
                check_key(value[key], _join(field, key))
            elif key in required:
                raise SchemaError(_join(field, key), "is missing")
        for key, element in value.items():
            if key in fields:
                continue
            if other is None:
                raise SchemaError(
                    _join(field, key), "is not a known key; known keys: " + ", ".join(fields)
                )
            other(element, _join(field, key))

    return check


def map_of(value: Validator, non_empty: bool = False) -> Validator:
    inner = table({}, other=value)

    def check(element: Any, field: str) -> None:
        inner(element, field)
        if non_empty and not element:
            raise SchemaError(field, "must not be empty")

    return check


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


# -- a profile ---------------------------------------------------------------------------------

_ROLE_FIELDS = table(
    {
        "title": string,
        "vms": integer(1),
        "cores": number(),
        "memory_gb": number(),
        "memory_gib": number(),
        "disk_gb": number(),
        "data_dir": absolute_path,
        "placement": one_of(*PLACEMENTS),
        "note": string,
        "components": strings,
        "carries": list_of(string, non_empty=True),
        "source": string,
    },
    required=("vms",),
)
_SIZES = ("cores", "memory", "disk_gb")
SEVERITY_VALUE = one_of(*SEVERITIES)


def ROLE(value: Any, field: str) -> None:
    """A role's row. Its size is given (cores, memory_gb or memory_gib, disk_gb), or, for the
    machine that carries other roles' VMs (`carries`), added up from their rows: never both."""
    _ROLE_FIELDS(value, field)
    given = [k for k in ("cores", "memory_gb", "memory_gib", "disk_gb") if k in value]
    if "memory_gb" in value and "memory_gib" in value:
        raise SchemaError(_join(field, "memory_gib"), "and memory_gb: give the plan's one unit")
    if "carries" in value:
        if given:
            raise SchemaError(
                _join(field, given[0]),
                "is added up from the roles in `carries`; give one or the other",
            )
        return
    for key in _SIZES:
        present = (
            ("memory_gb" in value or "memory_gib" in value) if key == "memory" else (key in value)
        )
        if not present:
            name = "memory_gb" if key == "memory" else key
            raise SchemaError(_join(field, name), "is missing")


def string_or_strings(value: Any, field: str) -> None:
    """One name, or a list of names read in order (host_requirements)."""
    if isinstance(value, list):
        list_of(string, non_empty=True)(value, field)
    else:
        string(value, field)


PROFILE = table(
    {
        "schema": integer(),
        "os": table(
            {"id": string, "versions": list_of(string, non_empty=True), "source": string},
            required=("id", "versions"),
        ),
        "units": table(
            {
                "bytes_per_gb": number(),
                "memtotal_allowance": fraction,
                "filesystem_allowance": fraction,
                "disk_free_warn_fraction": fraction,
                "source": string,
            },
            required=(
                "bytes_per_gb",
                "memtotal_allowance",
                "filesystem_allowance",
                "disk_free_warn_fraction",
            ),
        ),
        "sft": table(
            {"users_per_core": integer(1), "roles": strings, "source": string},
            required=("users_per_core",),
        ),
        "hostname": table({"severity": one_of(*SEVERITIES), "source": string}),
        "kubernetes": table({"cidrs": list_of(network), "source": string}),
        "fleet": table(
            {
                "min_physical_servers": integer(0),
                "min_kubernetes_workers": integer(0),
                "min_etcd": integer(0),
                "etcd_odd": boolean,
                "max_clock_skew_ms": number(),
                "quorum_roles": strings,
                "redundant_roles": strings,
                # Fleet rules a profile turns on, with the status a miss gets.
                "mtu": SEVERITY_VALUE,
                "inventory_hostname": SEVERITY_VALUE,
                "source": string,
            }
        ),
        "inventory": table(
            {
                "etcd_group": string,
                "groups": map_of(string),
                # role -> the inventory variables naming the interface its services bind.
                "interface_vars": map_of(list_of(string, non_empty=True)),
                # inventory variables naming networks Kubernetes keeps (ip-range avoids them).
                "cidr_vars": strings,
            }
        ),
        "plan": table(
            {
                "stated_vm_totals": list_of(
                    table({"vms": integer(1), "quote": string}, required=("vms", "quote"))
                ),
                "unsized_components": list_of(
                    table({"name": string, "quote": string}, required=("name", "quote"))
                ),
            }
        ),
        "dns": table(
            {
                "required": strings,
                "optional": map_of(string),
                "federator_srv": string,
                "source": string,
            }
        ),
        "reach": list_of(
            table(
                {"from": string, "to": string, "tcp": list_of(port), "udp": list_of(port)},
                required=("from", "to"),
            )
        ),
        "roles": map_of(ROLE, non_empty=True),
        "name": string,
        "description": string,
        "source": string,
        "host_requirements": string_or_strings,
    },
    required=("schema", "name", "os", "units", "roles"),
)


# -- host requirements (profiles/host/*.toml) --------------------------------------------------
# Each check that reads host requirements names its rules' shape in the check registry
# (registry.REGISTRY, `host_rules`); the ids themselves are written only there.

SEVERITY = one_of(*SEVERITIES)
_COMMON: Dict[str, Validator] = {"source": string}
# `components = {name = severity}`: only for checks that take a component's rule as a severity
# string (kernel.py's _severity, minio-drive, host-firewall). The others read one sub-table
# per component, and a severity string there would reach the check as `rule.get(...)`.
_BY_SEVERITY = {"components": map_of(SEVERITY)}
_BELOW = ("fail_below", "warn_below")
# vm-max-map-count and the limits: no `severity`, as neither check reads one (fail_below fails,
# warn_below warns).
_THRESHOLDS = {"fail_below": integer(0), "warn_below": integer(0)}


def thresholds(fields: Dict[str, Validator], alternative: str = "") -> Validator:
    """A component's thresholds: fail_below, warn_below or both (fail_below <= warn_below);
    `alternative` names a flag that judges without them (warn_unless_unlimited) and then
    stands alone, as the check reads nothing else."""
    shape = table(fields)
    wanted = " or ".join(_BELOW + ((alternative + " = true",) if alternative else ()))

    def check(value: Any, field: str) -> None:
        shape(value, field)
        given = [key for key in _BELOW if key in value]
        if alternative and value.get(alternative):
            if given:
                raise SchemaError(
                    _join(field, given[0]),
                    f"is not read when {alternative} = true: give one or the other",
                )
            return
        if not given:
            raise SchemaError(field, f"needs {wanted}")
        if len(given) == 2 and value["fail_below"] > value["warn_below"]:
            raise SchemaError(
                _join(field, "fail_below"),
                "({}) must not be above warn_below ({})".format(
                    value["fail_below"], value["warn_below"]
                ),
            )

    return check


def _by_severity(extra: Dict[str, Validator]) -> Validator:
    """`components = {name = severity}` and the check's own keys."""
    return table(dict(_COMMON, **_BY_SEVERITY, **extra))


def _per_component(component: Validator) -> Validator:
    """One sub-table per component ([CHECK.NAME]), nothing else but `source`."""
    shape = table(_COMMON, other=component)

    def check(value: Any, field: str) -> None:
        if isinstance(value, dict) and "components" in value:
            raise SchemaError(
                _join(field, "components"),
                "does not apply to this check: give each component its own table, "
                f"[{field}.NAME], with the keys this check reads",
            )
        shape(value, field)

    return check


_MODULE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def module_choice(value: Any, field: str) -> None:
    """A kernel module name, or names joined by "|" of which any one will do."""
    string(value, field)
    if not all(_MODULE_NAME.match(name) for name in value.split("|")):
        raise SchemaError(
            field, f"must be a module name or names joined by '|' (a|b), got {value!r}"
        )


RULE_SHAPES = {
    # {source, severity}: one rule for every host
    "severity": table({"source": string, "severity": SEVERITY}),
    # components = {name = severity}
    "components": _by_severity({}),
    "allowed-values": _by_severity({"allowed": strings}),
    "filesystems": _by_severity({"recommended_fstypes": strings, "refused_fstypes": strings}),
    # one sub-table per component
    "thresholds": _per_component(thresholds(_THRESHOLDS)),
    "limits": _per_component(
        thresholds(
            dict(_THRESHOLDS, service=string, user=string, warn_unless_unlimited=boolean),
            alternative="warn_unless_unlimited",
        )
    ),
    "tools": _per_component(table({"required": strings, "recommended": strings})),
    # kernel modules, as tools: a required one missing fails, a recommended one warns; each
    # entry a module name, or alternatives "a|b" (any one will do)
    "modules": _per_component(
        table(
            {"required": list_of(module_choice), "recommended": list_of(module_choice)},
        )
    ),
    # issue 21's host requirements: one rule for every host with a threshold, and the asset
    # host's room for the next release
    "clock": table({"source": string, "severity": SEVERITY, "min_ghz": number()}),
    "headroom": _per_component(
        table(
            {
                "path": string,
                "releases": number(),
                "min_free_gb": number(allow_zero=True),
                "severity": SEVERITY,
            }
        )
    ),
    "ports": _per_component(
        table(
            {
                "fail_tcp": list_of(port),
                "fail_udp": list_of(port),
                "warn_tcp": list_of(port),
                "warn_udp": list_of(port),
                "owners": strings,
            }
        )
    ),
}


def port_or_range(value: Any, field: str) -> None:
    """A port, or "LOW-HIGH" (UDP 32768-65535 for a media relay)."""
    if isinstance(value, str) and value.count("-") == 1:
        low, _, high = value.partition("-")
        if low.isdigit() and high.isdigit() and 1 <= int(low) <= int(high) <= 65535:
            return
        raise SchemaError(field, f"must be a port range LOW-HIGH within 1-65535, got {value!r}")
    port(value, field)


# host-firewall takes both: `components = {name = severity}` (any host firewall in the way, no
# ports named) or a sub-table per component with its own severity and the ports to keep open.
RULE_SHAPES["firewall"] = table(
    dict(_COMMON, **_BY_SEVERITY),
    other=table(
        {"severity": SEVERITY, "tcp": list_of(port_or_range), "udp": list_of(port_or_range)}
    ),
)


def host_requirements(shapes: Iterable[Any]) -> Validator:
    """The host requirements file's schema: a table per check (check id, rule shape)."""
    return table(
        dict({"schema": one_of(1)}, **{check_id: RULE_SHAPES[shape] for check_id, shape in shapes})
    )

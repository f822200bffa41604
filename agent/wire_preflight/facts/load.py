"""Read a saved facts file (or a saved report, whose facts are reused) and validate it.

The contract keys are checked for type, so a malformed file gets exit 2 with one line naming
the field, before any check sees it. A section that is null is allowed: the host could not
read it, and `errors` says why.
"""

import json
from typing import Any, Dict, List, Tuple

from wire_preflight import safefile
from wire_preflight.model import FACTS_SCHEMA, InputError

# (dotted field, accepted types, required)
_CONTRACT: List[Tuple[str, Tuple[type, ...], bool]] = [
    ("hostname", (str,), True),
    ("os", (dict,), False),
    ("cpu", (dict,), False),
    ("memory", (dict,), False),
    ("network", (dict,), False),
    ("os.id", (str,), False),
    ("os.version_id", (str,), False),
    ("cpu.logical_count", (int,), False),
    ("memory.total_bytes", (int,), False),
    ("memory.installed_bytes", (int,), False),
    ("disks", (list,), False),
    ("network.primary.address", (str,), False),
    ("network.primary.interface", (str,), False),
    ("machine_id", (str,), False),
    ("errors", (dict,), False),
    ("cpu_clock", (dict,), False),
    ("hardware_virtualization", (dict,), False),
    ("apt", (dict,), False),
    ("apt.unattended_upgrades", (dict,), False),
    ("apt.locks", (list,), False),
    ("assets", (dict,), False),
]

_DISK_FIELDS = [("path", (str,)), ("total_bytes", (int,)), ("free_bytes", (int,))]


def load_facts(path: str) -> Dict[str, Any]:
    try:
        data = json.loads(safefile.read_bytes(path, safefile.DOCUMENT).decode("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read facts file {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"facts file {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"facts file {path} is not valid JSON: nested too deeply") from None
    if isinstance(data, dict) and isinstance(data.get("facts"), dict):
        data = data["facts"]  # a saved `check --json` report carries its facts
    return validate(data, path)


def validate(data: Any, origin: str) -> Dict[str, Any]:
    def fail(field: str, problem: str) -> InputError:
        return InputError(f"facts file {origin}: field '{field}' {problem}")

    if not isinstance(data, dict):
        raise InputError(f"facts file {origin}: must hold a JSON object")
    schema = data.get("schema")
    if schema != FACTS_SCHEMA:
        raise fail("schema", f"must be {FACTS_SCHEMA!r}, got {schema!r}")
    for field, kinds, required in _CONTRACT:
        found, value = _lookup(data, field)
        if not found or value is None:
            if required:
                raise fail(field, "is missing")
            continue
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise fail(
                field,
                "must be {}, got {}".format("/".join(k.__name__ for k in kinds), _short(value)),
            )
    for index, disk in enumerate(data.get("disks") or []):
        if not isinstance(disk, dict):
            raise fail(f"disks[{index}]", "must be an object")
        backing = disk.get("backing")
        if backing is not None and (
            not isinstance(backing, list) or not all(isinstance(d, dict) for d in backing)
        ):
            raise fail(f"disks[{index}].backing", "must be a list of objects")
        for name, kinds in _DISK_FIELDS:
            value = disk.get(name)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise fail(
                    f"disks[{index}].{name}",
                    "must be {}, got {}".format("/".join(k.__name__ for k in kinds), _short(value)),
                )
    return data


def _lookup(data: Dict[str, Any], dotted: str) -> Tuple[bool, Any]:
    node = data  # type: Any
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."

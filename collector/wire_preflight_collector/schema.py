"""What the collector accepts, as pydantic models: the report body and the enrolment body.

The models type every field the collector reads (the fleet rules, drift, the page, the
metrics); everything else a report carries is kept as it came but must still be plain,
bounded JSON (`bounded_json`): finite numbers, 64-bit integers, valid Unicode, limited nesting.
The models are published in /openapi.json, so a fuzzer generates real reports.
"""

import json
import math
import re
from typing import Annotated, Any, Dict, List, Literal, Optional, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from wire_preflight.model import FACTS_SCHEMA, REPORT_SCHEMA, STATUSES

MAX_DEPTH = 32  # a report nests about 8 deep; evidence a few more
MAX_STRING = 65536
MAX_KEY = 256
INT_RANGE = 2**63  # what SQLite and every JSON reader downstream hold exactly
# Bounds for a timestamp a client sends: from 1970 (a VM without a real-time clock before
# NTP, to be stored and flagged as clock-offset) to 2286 (past that it is no time at all).
EPOCH_MIN, EPOCH_MAX = 0.0, 1e10


class BodyError(ValueError):
    """A body the collector refuses: 400 (not JSON) or 422 (not a report), one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """JSON as RFC 8259 has it: no NaN or Infinity, valid UTF-8, nesting the parser survives."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except RecursionError:
        raise BodyError(400, "the body is not JSON: nested too deeply") from None
    except ValueError as exc:  # json's errors, and int() past sys.get_int_max_str_digits
        raise BodyError(400, f"the body is not JSON: {exc}") from None


def bounded_json(value: Any, path: str = "", depth: int = 0, unicode_checked: bool = False) -> Any:
    """A parsed JSON value when it is plain bounded JSON; ValueError names the first path
    that is not. `unicode_checked`: the caller knows no string holds a lone surrogate."""
    if _plain(value, depth, not unicode_checked):
        return value
    _explain(value, path, depth)
    raise ValueError(f"{path or 'the body'}: not plain JSON")  # _explain always raises first


def _plain(value: Any, depth: int, check_unicode: bool) -> bool:
    """The fast walk, without paths: iterative, one type() per node (a report has ~1,000)."""
    stack = [(value, depth)]
    pop, push = stack.pop, stack.append
    while stack:
        item, level = pop()
        kind = type(item)
        if kind is str:
            if len(item) > MAX_STRING or (check_unicode and not _encodes(item)):
                return False
        elif kind is dict:
            if level >= MAX_DEPTH:
                return False
            for key, child in item.items():
                if type(key) is not str or len(key) > MAX_KEY:
                    return False
                if check_unicode and not _encodes(key):
                    return False
                push((child, level + 1))
        elif kind is list:
            if level >= MAX_DEPTH:
                return False
            for child in item:
                push((child, level + 1))
        elif kind is int:
            if not -INT_RANGE <= item < INT_RANGE:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif item is not None and kind is not bool:
            return False
    return True


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _explain(value: Any, path: str, depth: int) -> None:
    """The slow walk, with paths, for the one value the fast walk refused."""
    where = path or "the body"
    if depth >= MAX_DEPTH and isinstance(value, (dict, list)):
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: a key is not a string")
            _check_text(key, f"{where} (a key)", MAX_KEY)
            _explain(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _explain(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, str):
        _check_text(value, where, MAX_STRING)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -INT_RANGE <= value < INT_RANGE:
            raise ValueError(f"{where}: integer out of the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: number is not finite")
    else:
        raise ValueError(f"{where}: {type(value).__name__} is not JSON")


def _check_text(text: str, where: str, limit: int) -> None:
    if len(text) > limit:
        raise ValueError(f"{where}: string longer than {limit} characters")
    if not _encodes(text):
        raise ValueError(f"{where}: string is not valid Unicode (a lone surrogate)")


def may_hold_surrogates(body: bytes) -> bool:
    """Only a \\uD800-\\uDFFF escape makes a lone surrogate once UTF-8 is decoded; most
    bodies have none, and then no string needs encoding to check."""
    return _SURROGATE_ESCAPE.search(body) is not None


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def refuse_nul(value: Any, path: str = "") -> None:
    """ValueError naming the first string (or key) holding a NUL: PostgreSQL's TEXT cannot
    hold one, and a report's strings reach TEXT columns and event details. Refused on both
    stores alike, so a report means the same whichever store keeps it."""
    where = path or "the body"
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where}: string holds a NUL character (U+0000), which is not stored")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise ValueError(f"{where}: a key holds a NUL character (U+0000)")
            refuse_nul(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_nul(item, f"{path}[{index}]")


# Any JSON: validate() has walked the whole document with bounded_json before the model sees
# it, so these free-form fields are not walked a second time.
JSON = Any
Short = Annotated[str, StringConstraints(max_length=253)]
Text = Annotated[str, StringConstraints(max_length=4096)]
# Linux allows almost any bytes in a hostname; the collector keys hosts, URLs and the page on
# it, so it takes what DNS and Kubernetes could ever accept, in any case (the `hostname` check
# on the VM judges the stricter lowercase rule and tells the operator).
Hostname = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=253, pattern=r"^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$"
    ),
]
MachineId = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{32}$")]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")]
Count = Annotated[int, Field(ge=0, lt=INT_RANGE)]
Number = Annotated[float, Field(allow_inf_nan=False)]


class _Model(BaseModel):
    # strict: "4" is not 4 and true is not 1; extra: facts carry more than the collector reads.
    model_config = ConfigDict(strict=True, extra="allow")


class OsFacts(_Model):
    id: Optional[Short] = None
    version_id: Optional[Short] = None


class CpuFacts(_Model):
    logical_count: Optional[Count] = None


class MemoryFacts(_Model):
    total_bytes: Optional[Count] = None
    installed_bytes: Optional[Count] = None


class Disk(_Model):
    path: Optional[Text] = None
    total_bytes: Optional[Count] = None
    free_bytes: Optional[Count] = None
    mountpoint: Optional[Text] = None


class Address(_Model):
    address: Optional[Short] = None
    scope: Optional[Short] = None
    family: Optional[Short] = None
    prefixlen: Optional[Annotated[int, Field(ge=0, le=128)]] = None
    valid_lifetime: Optional[Number] = None
    preferred_lifetime: Optional[Number] = None


class Interface(_Model):
    name: Optional[Short] = None
    mac: Optional[Short] = None
    link_type: Optional[Short] = None
    addresses: List[Address] = Field(default_factory=list, max_length=1024)


class Primary(_Model):
    address: Optional[Short] = None
    interface: Optional[Short] = None


class NetworkFacts(_Model):
    primary: Optional[Primary] = None
    interfaces: List[Interface] = Field(default_factory=list, max_length=4096)


class TimeFacts(_Model):
    source: Optional[Short] = None
    synchronized: Optional[bool] = None
    status: Optional[Annotated[int, Field(ge=-(2**31), lt=2**31)]] = None
    offset: Optional[Number] = None
    maxerror_us: Optional[Number] = None


class Facts(_Model):
    # Literal[] of the agent's constant: one spelling of the schema, which mypy wants typed out.
    schema_: Literal[FACTS_SCHEMA] = Field(alias="schema")  # type: ignore[valid-type]
    hostname: Hostname
    machine_id: Optional[MachineId] = None
    product_uuid: Optional[Short] = None
    os: Optional[OsFacts] = None
    cpu: Optional[CpuFacts] = None
    memory: Optional[MemoryFacts] = None
    disks: Optional[List[Disk]] = Field(default=None, max_length=256)
    network: Optional[NetworkFacts] = None
    time: Optional[TimeFacts] = None


class Check(_Model):
    id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
    role: Optional[Short] = None
    status: Literal[STATUSES]  # type: ignore[valid-type]  # the agent's tuple, as above
    observed: JSON = None
    expected: JSON = None
    message: Text = ""
    remedy: Text = ""
    source: Text = ""
    evidence: Optional[Dict[str, JSON]] = None


class Probe(_Model):
    from_role: RoleName
    to_role: RoleName
    peer: Short
    proto: Literal["tcp", "udp"]
    port: Annotated[int, Field(ge=1, le=65535)]
    state: Short
    address: Optional[Short] = None


class Reachability(_Model):
    probes: List[Probe] = Field(max_length=4096)


class ProfileRef(_Model):
    name: Optional[Short] = None
    path: Optional[Text] = None


class Report(_Model):
    """`POST /api/v1/reports`: what `wire-preflight check --json` prints, plus `sent_at`."""

    # Literal[] of the agent's constant, as in Facts.
    schema_: Literal[REPORT_SCHEMA] = Field(alias="schema")  # type: ignore[valid-type]
    report_id: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    ]
    agent_version: Optional[Short] = None
    generated_at: Optional[Annotated[str, StringConstraints(max_length=64)]] = None
    sent_at: Optional[Annotated[float, Field(ge=EPOCH_MIN, le=EPOCH_MAX)]] = None
    generated_at_epoch: Optional[Annotated[float, Field(ge=EPOCH_MIN, le=EPOCH_MAX)]] = None
    hostname: Hostname
    roles: List[RoleName] = Field(max_length=32)
    profile: Optional[ProfileRef] = None
    physical_host: Optional[Hostname] = None
    options: Optional[Dict[str, JSON]] = None
    summary: Optional[Dict[str, JSON]] = None
    checks: List[Check] = Field(max_length=1024)
    reachability: Optional[Reachability] = None
    facts: Facts


class Enrollment(_Model):
    """`POST /api/v1/enroll`: who the agent says it is; the key is bound to machine_id."""

    machine_id: MachineId
    hostname: Hostname
    product_uuid: Optional[Short] = None
    # The one-time code `rekey` printed, given to the VM the name should go back to.
    enroll_code: Optional[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = None


class Clock(_Model):
    offset_s: Optional[Number] = None
    uncertainty_s: Optional[Number] = None
    source: Optional[str] = None
    synchronized: Optional[bool] = None


class StoredProbe(_Model):
    from_role: str
    to_role: str
    peer: str
    proto: str
    port: int
    state: str


class HostSummary(_Model):
    """A stored host summary (fleet/summary.py) as the fleet rules read it. Rows written by
    an older collector from reports it did not validate are checked against this on read.
    Types only: lengths were bounded when the report came in, and summarize() may lengthen
    text (a lower-cased "İ" is two characters)."""

    hostname: str
    machine_id: Optional[str] = None
    product_uuid: Optional[str] = None
    roles: List[str]
    physical_host: Optional[str] = None
    profile: Optional[str] = None
    report_id: Optional[str] = None
    generated_at: Optional[str] = None
    received_at: Optional[Number] = None
    status: Literal["pass", "warn", "fail"]
    failing: List[str]
    warnings: List[str]
    primary_address: Optional[str] = None
    addresses: List[str]
    macs: List[str]
    os: str
    cpu: Optional[int] = None
    memory_bytes: Optional[int] = None
    clock: Clock
    reachability: List[StoredProbe] = Field(default_factory=list)


class StoredDisk(_Model):
    total: Optional[int] = None
    free: Optional[int] = None
    mountpoint: Optional[str] = None


class DriftSnapshot(_Model):
    """A stored drift snapshot (fleet/drift.py: snapshot) as the drift rules compare it."""

    roles: List[str]
    primary: Optional[str] = None
    addresses: List[str]
    os: str
    cpu: Optional[int] = None
    memory_installed: Optional[int] = None
    memory_total: Optional[int] = None
    disks: Dict[str, StoredDisk]
    checks: Dict[str, Optional[str]]


def _readable(model: Any, text: Any) -> Optional[Dict[str, Any]]:
    if not isinstance(text, (str, bytes)):
        return None
    try:
        model.model_validate_json(text)
        return json.loads(text)
    except (ValidationError, ValueError):
        return None


def readable_summary(text: Any) -> Optional[Dict[str, Any]]:
    """A stored summary (JSON text) when the fleet rules can read it, else None."""
    return _readable(HostSummary, text)


def readable_snapshot(text: Any) -> Optional[Dict[str, Any]]:
    """A stored drift snapshot when the drift rules can compare it, else None (then the next
    report is compared with nothing, instead of failing on a shape an older collector wrote)."""
    return _readable(DriftSnapshot, text)


def _path(location: tuple) -> str:
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + ("schema" if part == "schema_" else str(part))
    return out or "the body"


def first_error(exc: ValidationError, what: str) -> str:
    """One line naming the field path, e.g. "report: field 'facts.cpu.logical_count': ..."."""
    error = exc.errors(include_url=False, include_input=False)[0]
    return "{}: field '{}': {}".format(what, _path(error["loc"]), error["msg"])


Model = Union[type[Report], type[Enrollment]]


def validate(model: Model, data: Any, what: str, body: Optional[bytes] = None) -> Dict[str, Any]:
    """The document as parsed, once it is plain bounded JSON and fits the model. `body`, the
    raw bytes it was parsed from, lets the Unicode check run only where it can fail."""
    if not isinstance(data, dict):
        raise BodyError(422, f"{what} must be a JSON object")
    try:
        bounded_json(data, unicode_checked=body is not None and not may_hold_surrogates(body))
        if body is None or b"\\u0000" in body:  # json refuses a raw NUL: only the escape
            refuse_nul(data)
    except ValueError as exc:
        raise BodyError(422, f"{what}: {exc}") from None
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise BodyError(422, first_error(exc, what)) from None
    return data

"""The report: facts, what was asked, and the verdicts, as one schema-versioned document.

`check --json` prints it, `report` sends it to a collector (spooling it while the collector is
down), `fleet --from DIR` reads a folder of them, and the collector validates each one it receives.
"""

import os
import time
from typing import Any, Dict, List, Optional

from wire_preflight import __version__
from wire_preflight.model import REPORT_SCHEMA, CheckResult
from wire_preflight.model import summary as model_summary
from wire_preflight.profiles import Profile


def build(
    facts: Dict[str, Any],
    profile: Profile,
    roles: List[str],
    results: List[CheckResult],
    physical_host: Optional[str],
    options: Dict[str, Any],
) -> Dict[str, Any]:
    summary = model_summary(results)
    return {
        "schema": REPORT_SCHEMA,
        # Unique per run, so a collector can store a retried delivery once.
        "report_id": new_report_id(),
        "agent_version": __version__,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # The same moment to the microsecond: the collector orders reports made less than a
        # second apart by it (generated_at is whole seconds).
        "generated_at_epoch": time.time(),
        "hostname": facts.get("hostname"),
        "roles": list(roles),
        "profile": {"name": profile.name, "path": profile.path},
        "physical_host": physical_host,
        "options": options,
        "summary": summary,
        "checks": [result.to_json() for result in results],
        "facts": facts,
    }


def new_report_id() -> str:
    """A random (version 4) UUID, written as str(uuid.uuid4()) writes it.

    Not uuid.uuid4(): importing uuid runs `ldconfig -p` on Python 3.6 (ctypes looking for
    libuuid) and `uname -p` on 3.8, 25-40 ms of every `check` there, for 16 random bytes with
    the version and variant bits of RFC 4122 set."""
    value = int.from_bytes(os.urandom(16), "big")
    value = (value & ~(0xF000 << 64)) | (4 << 76)  # version 4
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # variant: RFC 4122
    text = f"{value:032x}"
    return "-".join((text[:8], text[8:12], text[12:16], text[16:20], text[20:]))


_LIMITS = {"report_id": 64, "hostname": 253, "physical_host": 253, "role": 64}


def validate(doc: Any, origin: str) -> Dict[str, Any]:
    """Check a report's shape (what `check --json` prints); InputError names the field.

    Used by `fleet --from DIR` and by the collector on every POST, so hostile or truncated
    reports are refused before anything reads them.
    """
    from wire_preflight.facts.load import validate as validate_facts
    from wire_preflight.model import STATUSES, InputError

    def fail(field: str, problem: str) -> InputError:
        return InputError(f"report {origin}: field '{field}' {problem}")

    if not isinstance(doc, dict):
        raise InputError(f"report {origin}: must be a JSON object")
    if doc.get("schema") != REPORT_SCHEMA:
        raise fail("schema", "must be {!r}, got {!r}".format(REPORT_SCHEMA, doc.get("schema")))
    for field in ("report_id", "hostname"):
        value = doc.get(field)
        if not isinstance(value, str) or not value or len(value) > _LIMITS[field]:
            raise fail(field, f"must be a string of 1 to {_LIMITS[field]} characters")
    physical = doc.get("physical_host")
    if physical is not None and (
        not isinstance(physical, str) or len(physical) > _LIMITS["physical_host"]
    ):
        raise fail(
            "physical_host",
            "must be null or a string of at most {} characters".format(_LIMITS["physical_host"]),
        )
    roles = doc.get("roles")
    if not isinstance(roles, list) or not all(
        isinstance(r, str) and 0 < len(r) <= _LIMITS["role"] for r in roles
    ):
        raise fail("roles", "must be a list of role names")
    checks = doc.get("checks")
    if not isinstance(checks, list):
        raise fail("checks", "must be a list")
    for index, item in enumerate(checks):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise fail(f"checks[{index}].id", "must be a string")
        if item.get("status") not in STATUSES:
            raise fail(f"checks[{index}].status", "must be one of {}".format(", ".join(STATUSES)))
    reachability = doc.get("reachability")
    if reachability is not None:
        probes = reachability.get("probes") if isinstance(reachability, dict) else None
        if not isinstance(probes, list) or not all(
            isinstance(p, dict) and isinstance(p.get("port"), int) for p in probes
        ):
            raise fail("reachability.probes", "must be a list of probes with a port")
    sent_at = doc.get("sent_at")
    if sent_at is not None and (isinstance(sent_at, bool) or not isinstance(sent_at, (int, float))):
        raise fail("sent_at", "must be a number (seconds since the epoch)")
    validate_facts(doc.get("facts"), f"{origin} (facts)")
    return doc

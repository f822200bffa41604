"""The report: facts, what was asked, and the verdicts, as one schema-versioned document.

`check --json` prints it, `report` (later) sends it, `fleet --from DIR` reads a folder of them.
"""

import time
import uuid
from typing import Any, Dict, List, Optional

from wire_preflight import __version__
from wire_preflight.model import REPORT_SCHEMA, CheckResult, exit_code, summarise, verdict
from wire_preflight.profiles import Profile


def build(
    facts: Dict[str, Any],
    profile: Profile,
    roles: List[str],
    results: List[CheckResult],
    physical_host: Optional[str],
    options: Dict[str, Any],
) -> Dict[str, Any]:
    summary = dict(summarise(results))
    summary["exit_code"] = exit_code(results)
    summary["verdict"] = verdict(results)
    return {
        "schema": REPORT_SCHEMA,
        # Unique per run, so a collector can store a retried delivery once.
        "report_id": str(uuid.uuid4()),
        "agent_version": __version__,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "hostname": facts.get("hostname"),
        "roles": list(roles),
        "profile": {"name": profile.name, "path": profile.path},
        "physical_host": physical_host,
        "options": options,
        "summary": summary,
        "checks": [result.to_json() for result in results],
        "facts": facts,
    }

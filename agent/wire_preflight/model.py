"""The shapes every part of the agent shares: statuses, check results, exit codes."""

from typing import Any, Dict, List, NamedTuple, Optional

PASS = "pass"
WARN = "warn"
FAIL = "fail"
SKIP = "skip"
ERROR = "error"
STATUSES = (PASS, WARN, FAIL, SKIP, ERROR)

# Exit codes follow the convention of replicatedhq/troubleshoot's preflight, which split
# "failed" from "warnings only" after users were burned by failing runs that exited 0.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_FAIL = 3
EXIT_WARN = 4

FACTS_SCHEMA = "wire-preflight/facts/1"
REPORT_SCHEMA = "wire-preflight/report/1"


class CheckResult(NamedTuple):
    id: str
    role: Optional[str]
    status: str
    observed: Any
    expected: Any
    message: str
    remedy: str = ""
    source: str = ""
    evidence: Optional[Dict[str, Any]] = None

    def to_json(self) -> Dict[str, Any]:
        out = self._asdict()
        if out["evidence"] is None:
            del out["evidence"]
        return out


def result(
    check_id: str,
    status: str,
    *,
    observed: Any,
    expected: Any,
    message: str,
    remedy: str = "",
    source: str = "",
    evidence: Optional[Dict[str, Any]] = None,
    role: Optional[str] = None,
) -> CheckResult:
    """A check result by keyword, where swapping `expected` and `message` cannot go unnoticed.
    Checks with a Context use Context.result, which fills in the id, role and source."""
    return CheckResult(
        id=check_id,
        role=role,
        status=status,
        observed=observed,
        expected=expected,
        message=message,
        remedy=remedy,
        source=source,
        evidence=evidence,
    )


class InputError(Exception):
    """Bad usage or a bad input file: one line for the user, exit code 2."""


def summarize(results: List[CheckResult]) -> Dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for result in results:
        counts[result.status] += 1
    return counts


def summary(results: List[CheckResult]) -> Dict[str, Any]:
    """Counts per status, the exit code and the verdict line: every JSON document's summary."""
    out = dict(summarize(results))  # type: Dict[str, Any]
    out["exit_code"] = exit_code(results)
    out["verdict"] = verdict(results)
    return out


def exit_code(results: List[CheckResult]) -> int:
    """A check that could not run (error) counts as a failure: nothing was proven."""
    statuses = {result.status for result in results}
    if statuses & {FAIL, ERROR}:
        return EXIT_FAIL
    if WARN in statuses:
        return EXIT_WARN
    return EXIT_OK


def verdict(results: List[CheckResult]) -> str:
    counts = summarize(results)
    code = exit_code(results)
    parts = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    word = {EXIT_OK: "PASS", EXIT_WARN: "WARN", EXIT_FAIL: "FAIL"}[code]
    return "{}: {}".format(word, parts or "no checks ran")

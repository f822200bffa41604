"""Saved reports from a directory (as `check --json` printed them, or as ansible fetched them)."""

import json
import os
from typing import Any, Dict, List, Tuple, cast

from wire_preflight import report, safefile
from wire_preflight.fleet.summary import summarize
from wire_preflight.model import InputError


def from_directory(directory: str) -> Tuple[List[Dict[str, Any]], List[str]]:
    """(host summaries, problems): the newest report of each host; unreadable files are
    listed in problems with their reason and otherwise skipped."""
    if not os.path.isdir(directory):
        raise InputError(f"--from {directory}: not a directory")
    latest: Dict[Tuple[str, str], Dict[str, Any]] = {}
    problems = []
    for folder, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            path = os.path.join(folder, name)
            try:
                text = safefile.read_bytes(path, safefile.DOCUMENT).decode("utf-8")
                doc = report.validate(json.loads(text), path)
            except safefile.Refused as exc:
                problems.append(f"{path}: {exc.strerror}")
                continue
            except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
                problems.append(f"{path}: {exc}")
                continue
            except InputError as exc:
                problems.append(str(exc))
                continue
            key = (doc["hostname"], doc["facts"].get("machine_id") or "")
            if key not in latest or doc.get("generated_at", "") >= latest[key].get(
                "generated_at", ""
            ):
                latest[key] = doc
    # The fleet rules read summaries as JSON objects, as the collector's come from its store
    # (and add keys of their own): a HostSummary is not a Dict[str, Any] to mypy.
    return [cast(Dict[str, Any], summarize(doc)) for _, doc in sorted(latest.items())], problems

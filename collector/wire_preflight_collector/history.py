"""A host's history as its page shows it: its status over its stored reports, and for each
check when it last changed status. Pure: it reads what `Store.report_statuses` returned."""

from typing import Any, Dict, List, Optional, Sequence

HISTORY_REPORTS = 48  # reports read per host page view: four hours at the 5-minute timer


def status_runs(reports: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Reports oldest first folded into runs of one status: {status, since, until, count}."""
    runs = []  # type: List[Dict[str, Any]]
    for report in sorted(reports, key=lambda r: r["received_at"]):
        if runs and runs[-1]["status"] == report["status"]:
            runs[-1]["until"] = report["received_at"]
            runs[-1]["count"] += 1
        else:
            runs.append(
                {
                    "status": report["status"],
                    "since": report["received_at"],
                    "until": report["received_at"],
                    "count": 1,
                }
            )
    return runs


def check_changes(reports: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per check ("id|role"), from the reports read: its status now, since when it has had it
    (the first report of its current run), what it had before (None when every report read
    agrees: it has not changed within them), and how many reports the run spans."""
    out = {}  # type: Dict[str, Dict[str, Any]]
    for report in sorted(reports, key=lambda r: r["received_at"]):
        for key, status in report["checks"].items():
            known = out.get(key)
            if known is None:
                out[key] = {
                    "status": status,
                    "since": report["received_at"],
                    "before": None,
                    "count": 1,
                }
            elif known["status"] != status:
                known.update(
                    status=status, since=report["received_at"], before=known["status"], count=1
                )
            else:
                known["count"] += 1
    return out


def oldest(reports: Sequence[Dict[str, Any]]) -> Optional[float]:
    return min((r["received_at"] for r in reports), default=None)

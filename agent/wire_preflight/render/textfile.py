"""The check results as a node_exporter textfile, so a Prometheus that already scrapes the VM
sees them. prometheus_client writes it atomically (a temporary file, then rename), and is
imported only when --textfile is given."""

import time
from typing import Any, Dict, Optional


def write(
    path: str, doc: Dict[str, Any], delivered: Optional[bool] = None, spooled: Optional[int] = None
) -> None:
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    status = Gauge(
        "wire_preflight_check_status",
        "This VM's newest result of a check: 1 on the series whose status it has.",
        ["check", "role", "status"],
        registry=registry,
    )
    for check in doc["checks"]:
        status.labels(check["id"], check.get("role") or "", check["status"]).set(1)
    counts = Gauge(
        "wire_preflight_checks", "Checks of the last run, by status.", ["status"], registry=registry
    )
    for name in ("pass", "warn", "fail", "skip", "error"):
        counts.labels(name).set(doc["summary"].get(name, 0))
    Gauge(
        "wire_preflight_last_run_timestamp_seconds",
        "When the agent last ran (Unix time).",
        registry=registry,
    ).set(time.time())
    Gauge(
        "wire_preflight_exit_code",
        "The last run's exit code (0 pass, 3 fail, 4 warn).",
        registry=registry,
    ).set(doc["summary"]["exit_code"])
    if delivered is not None:
        Gauge(
            "wire_preflight_report_delivered",
            "1 when the last report reached the collector.",
            registry=registry,
        ).set(1 if delivered else 0)
    if spooled is not None:
        Gauge(
            "wire_preflight_spooled_reports", "Reports waiting in the spool.", registry=registry
        ).set(spooled)
    write_to_textfile(path, registry)

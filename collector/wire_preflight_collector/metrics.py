"""GET /metrics: the fleet in Prometheus' text format, named as node_exporter names things
(`_timestamp_seconds`, `_total`, one gauge per state with the state as a label)."""

from typing import Any, Dict, Iterator, List

from wire_preflight.fleet.drift import EVENT_KINDS


def render(
    store: Any,
    fleet: Dict[str, Any],
    profile: Any,
) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class Fleet:
        def collect(self) -> Iterator[Any]:
            seen = GaugeMetricFamily(
                "wire_preflight_host_last_seen_timestamp_seconds",
                "When the host's newest report arrived (Unix time).",
                labels=["hostname"],
            )
            stale = GaugeMetricFamily(
                "wire_preflight_host_stale",
                "1 when the host has not reported within --stale-after.",
                labels=["hostname"],
            )
            checks = GaugeMetricFamily(
                "wire_preflight_check_status",
                "The host's newest result of a check: 1 on the series whose status it has.",
                labels=["hostname", "role", "check", "status"],
            )
            for host in fleet["hosts"]:
                seen.add_metric([host["hostname"]], host.get("last_seen") or 0)
                stale.add_metric([host["hostname"]], 1 if host.get("stale") else 0)
            for hostname, _, statuses in store.check_statuses():
                for key, status in sorted(statuses.items()):
                    check, _, role = key.partition("|")
                    checks.add_metric([hostname, role, check, status or "unknown"], 1)
            yield seen
            yield stale
            yield checks

            hosts = GaugeMetricFamily(
                "wire_preflight_role_hosts", "VMs reporting each role.", labels=["role"]
            )
            required = GaugeMetricFamily(
                "wire_preflight_role_required_hosts",
                "VMs the profile asks for, per role.",
                labels=["role"],
            )
            for row in fleet["roles"]:
                hosts.add_metric([row["role"]], row["reported"])
                required.add_metric([row["role"]], row["planned"])
            yield hosts
            yield required

            open_events = GaugeMetricFamily(
                "wire_preflight_drift_open_events",
                "Drift events not yet accepted, by kind.",
                labels=["kind"],
            )
            counts = store.open_events_by_kind()
            for kind in EVENT_KINDS:
                open_events.add_metric([kind], counts.get(kind, 0))
            yield open_events

            findings = GaugeMetricFamily(
                "wire_preflight_fleet_findings",
                "Fleet findings by rule and status.",
                labels=["rule", "status"],
            )
            for (rule, status), count in sorted(_count_findings(fleet["findings"]).items()):
                findings.add_metric([rule, status], count)
            yield findings

            reports = CounterMetricFamily(
                "wire_preflight_reports", "Reports stored since the database was created."
            )
            reports.add_metric([], store.count())
            yield reports

    registry = CollectorRegistry()
    registry.register(Fleet())
    return generate_latest(registry)


def _count_findings(findings: List[Dict[str, Any]]) -> Dict[Any, int]:
    counts = {}  # type: Dict[Any, int]
    for finding in findings:
        key = (finding["id"], finding["status"])
        counts[key] = counts.get(key, 0) + 1
    return counts


def render_store_errors(count: int) -> bytes:
    """The store's error counter on its own, so the fleet's part can be held between writes.
    The counter an alert needs to see a collector that still answers but cannot store
    (shared.py counts it for every process of the collector)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily

    class Errors:
        def collect(self) -> Iterator[Any]:
            errors = CounterMetricFamily(
                "wire_preflight_store_errors",
                "Database errors since the collector started: requests answered 503 "
                "(reports the agents spool and resend) and stale scans that failed.",
            )
            errors.add_metric([], count)
            yield errors

    registry = CollectorRegistry()
    registry.register(Errors())
    return generate_latest(registry)

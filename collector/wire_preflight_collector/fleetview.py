"""The fleet as the collector judges it: the agent's fleet rules over the stored summaries, plus
what only the collector knows (identity events, stale hosts, clocks far from its own). Held
per store generation: every reader shares one judgement until the store changes (and, under
steady ingest, for up to readcache.LAG seconds after)."""

from typing import Any, Dict, List

from wire_preflight.fleet import document, rules
from wire_preflight.model import FAIL, WARN

from wire_preflight_collector.context import Collector
from wire_preflight_collector.readcache import Held


def held_fleet(app: Collector) -> Dict[str, Any]:
    """The judged fleet, shared by every reader until the store changes: do not modify."""
    return fleet_view(app).value


def fleet_view(app: Collector) -> Held:
    """held_fleet() with its key and when it was judged: what is derived from it (the JSON,
    the page, /metrics) is held per its key, so made once per judgement."""
    return app.judged.held("fleet", lambda: judge_fleet(app))


def judge_fleet(app: Collector) -> Dict[str, Any]:
    # Staleness is the stale-watcher's job: a read taking the write lock would queue
    # behind ingest (and pause every collector sharing a PostgreSQL database).
    store, settings = app.store, app.settings
    hosts, problems = store.summaries()
    doc = document.build(hosts, settings.profile, settings.planned, problems)
    # Identity events by kind: a flood of newer drift events must not push them out.
    identity = [
        event
        for kind in IDENTITY_FINDINGS
        for event in store.events(kind=kind, open_only=True, limit=10000)
    ]
    return collector_findings(doc, identity)


# Open identity events shown as findings (more are summed up in one).
IDENTITY_FINDINGS = ("enroll-conflict", "foreign-report", "cloned-key")
MAX_IDENTITY_FINDINGS = 50

# Past any network delay an agent's 25 s of timeouts allow: a clock this far off is wrong.
CLOCK_OFFSET_LIMIT = 60.0


def collector_findings(doc: Dict[str, Any], events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """What only the collector knows: open identity events (until an admin accepts or
    forgets the host) and hosts whose reports claim a time far from the collector's."""
    messages = {
        "enroll-conflict": (
            "identity-conflict",
            "if the claimant is the named host reinstalled, approve its pending enrolment "
            "(wire-preflight fleet ... enrollments, then approve ID) or re-key the host and "
            "give the VM the code; if it is a clone, give it its own machine-id "
            "(systemd-machine-id-setup) and hostname; else reject it and look at that VM",
        ),
        "foreign-report": (
            "foreign-report",
            "a VM sent reports as another machine: look at that VM; re-key it if its key leaked",
        ),
        "cloned-key": (
            "cloned-key",
            "a clone holds a copied host key: on the clone remove <state dir>/keys/*.key, give "
            "it its own machine-id and hostname, and let it enrol; the key's host is unaffected",
        ),
    }
    identity = [e for e in events if e["kind"] in messages]
    extra = [
        rules.finding(
            messages[e["kind"]][0],
            FAIL,
            "{}: {}".format(e["hostname"], e["detail"]),
            # The sender of a foreign report is its cause; a claim or a clone blames no host
            # (the name's holder did nothing): the message names both sides.
            hosts=[e["hostname"]] if e["kind"] == "foreign-report" else [],
            remedy=messages[e["kind"]][1],
        )
        for e in identity[:MAX_IDENTITY_FINDINGS]
    ]
    if len(identity) > MAX_IDENTITY_FINDINGS:
        extra.append(
            rules.finding(
                "identity-conflict",
                FAIL,
                f"{len(identity) - MAX_IDENTITY_FINDINGS} more open identity event(s) "
                f"(claims, foreign reports, clones) beyond these {MAX_IDENTITY_FINDINGS}: "
                "wire-preflight fleet ... drift --open, and enrollments",
                remedy="decide the pending enrolments; a flood of them means the enroll "
                "secret leaked: rotate it",
            )
        )
    stale = sorted(h["hostname"] for h in doc["hosts"] if h.get("stale"))
    if stale:
        extra.append(
            rules.finding(
                "stale",
                WARN,
                "{} host(s) sent no report within --stale-after: {}".format(
                    len(stale), ", ".join(stale[:20]) + (" ..." if len(stale) > 20 else "")
                ),
                hosts=stale,
                remedy="is the VM up, its timer running (systemctl status wire-preflight.timer), "
                "the collector reachable from it? Forget a host that is gone for good",
            )
        )
    for host in doc["hosts"]:
        clock = host.get("clock") or {}
        offset = clock.get("offset_s")
        far = offset is not None and abs(offset) > CLOCK_OFFSET_LIMIT
        if clock.get("source") == "collector" and offset is not None and far:
            extra.append(
                rules.finding(
                    "clock-offset",
                    FAIL,
                    "{}: its report says {:+.0f} s from the collector's clock; the "
                    "collector orders its reports by its own clock".format(
                        host["hostname"], offset
                    ),
                    hosts=[host["hostname"]],
                    remedy="synchronise the VM's clock with NTP (timedatectl, chrony)",
                )
            )
    if extra:
        findings = doc["findings"] + extra
        findings.sort(key=lambda f: (rules.ORDER[f["status"]], f["id"]))
        doc["findings"] = findings
        doc["verdict"] = rules.verdict(findings)
    return doc

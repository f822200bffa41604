"""The fleet page and the host pages: what an operator must see first, at any width.

Jinja2 escapes every value (hostnames, messages and observations come from agents, so from
the network). The pages need no script but one, fixed, which reloads the page every minute
and keeps the scroll position; the Content-Security-Policy allows that script by its hash.
Searching, filtering, sorting and paging are a GET form decided on the server (hostlist.py);
a host's history is history.py's.
"""

import base64
import hashlib
import os
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

from wire_preflight_collector import history as host_history
from wire_preflight_collector import hostlist

_TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
_env = None

REFRESH_SECONDS = 60
# Inline, so the page is one response; allowed by hash, so no other script can run.
RELOAD_SCRIPT = (
    "(function(){var k='wp-scroll:'+location.pathname;"
    "var y=sessionStorage.getItem(k);if(y!==null){window.scrollTo(0,+y);}"
    "setTimeout(function(){sessionStorage.setItem(k,String(window.scrollY));"
    f"location.reload();}},{REFRESH_SECONDS * 1000});}})();"
)
SCRIPT_HASH = "sha256-" + base64.b64encode(
    hashlib.sha256(RELOAD_SCRIPT.encode("utf-8")).digest()
).decode("ascii")

# Findings by what they cost: losing data or quorum first, then identities and clocks, then a
# host's own failures, then bookkeeping between the inventory and what reports.
CONSEQUENCE = [
    ("Quorum and capacity", ("physical-spread", "role-count", "etcd-odd")),
    (
        "Identities and clocks",
        ("duplicate-identity", "identity-conflict", "foreign-report", "clock-offset", "clock-skew"),
    ),
    ("Hosts' own checks", ("host-checks", "reachability", "report-invalid")),
    (
        "Inventory bookkeeping",
        ("inventory-missing", "inventory-unexpected", "inventory-role", "inventory-ip"),
    ),
]
GROUP_AT = 3  # this many findings of one rule and status become one row naming the hosts
# Only findings that are each about one host's own state are grouped: a quorum finding says
# which server takes what down, and must keep saying it.
GROUPABLE = {
    "host-checks",
    "clock-offset",
    "identity-conflict",
    "foreign-report",
    "report-invalid",
    "inventory-missing",
    "inventory-unexpected",
    "inventory-role",
    "inventory-ip",
}


def _environment() -> Any:
    global _env
    if _env is None:
        import jinja2

        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        _env.filters["clip"] = clip
    return _env


MESSAGE_SHOWN = 400  # characters of a finding's message; a rule may name every host it covers


def clip(text: str, limit: int = MESSAGE_SHOWN) -> str:
    """A message cut at a word near `limit` characters, marked as cut."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _rank(finding: Dict[str, Any]) -> Tuple[int, int, str]:
    for index, (_, rules) in enumerate(CONSEQUENCE):
        if finding["id"] in rules:
            return (0 if finding["status"] == "fail" else 1, index, finding["id"])
    return (0 if finding["status"] == "fail" else 1, len(CONSEQUENCE), finding["id"])


def ranked_findings(findings: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Failures and warnings by consequence. Findings about one host each (inventory
    bookkeeping, hosts' own checks), many of one rule, become one row naming the hosts;
    findings about several hosts (a quorum a server takes down) each keep their row."""
    problems = sorted(
        (f for f in findings if f["status"] in ("fail", "warn")),
        key=lambda f: (_rank(f), f["message"]),
    )
    per_host = {}  # type: Dict[Tuple[str, str], List[Dict[str, Any]]]
    for finding in problems:
        if _groupable(finding):
            per_host.setdefault((finding["id"], finding["status"]), []).append(finding)
    rows = []  # type: List[Dict[str, Any]]
    grouped = set()  # type: set
    for finding in problems:
        key = (finding["id"], finding["status"])
        members = per_host.get(key, [])
        # Not "finding in members": comparing dicts made 10,000 failing hosts take 8 s.
        if len(members) < GROUP_AT or not _groupable(finding):
            rows.append(dict(finding, grouped=[]))
            continue
        if key in grouped:
            continue
        grouped.add(key)
        hosts = sorted({h for m in members for h in m["hosts"]})
        remedies = {m["remedy"] for m in members}
        rows.append(
            dict(
                finding,
                message=f"{len(members)} hosts",
                hosts=hosts,
                remedy=remedies.pop() if len(remedies) == 1 else "each host's own, below",
                grouped=[
                    m["message"] + (f" (fix: {m['remedy']})" if len(remedies) > 1 else "")
                    for m in members
                ],
            )
        )
    for row in rows:
        row["category"] = next((name for name, rules in CONSEQUENCE if row["id"] in rules), "Other")
    return rows


def _groupable(finding: Dict[str, Any]) -> bool:
    return len(finding["hosts"]) <= 1 and finding["id"] in GROUPABLE


def _missing_hosts(findings: List[Dict[str, Any]]) -> List[str]:
    return sorted({h for f in findings if f["id"] == "inventory-missing" for h in f["hosts"]})


def _servers_breaking_quorum(doc: Dict[str, Any], planned: List[Dict[str, Any]]) -> List[str]:
    where = {p["name"]: p.get("physical_host") for p in planned}
    where.update({h["hostname"]: h.get("physical_host") for h in doc["hosts"]})
    servers = set()
    for finding in doc["findings"]:
        if finding["id"] == "physical-spread" and finding["status"] == "fail":
            if finding.get("server"):  # the rules name the server whose loss this is
                servers.add(finding["server"])
                continue
            placed = {where.get(h) for h in finding["hosts"]} - {None}
            if len(placed) == 1:  # "losing server X takes ...": every host named sits on X
                servers |= placed
    return sorted(servers)


def summary_band(doc: Dict[str, Any], missing: List[str], breaking: List[str]) -> Dict[str, Any]:
    hosts = doc["hosts"]
    stale = [h for h in hosts if h.get("stale")]
    return {
        "verdict": doc["verdict"],
        # (label, count, the hosts list's status filter that lists them)
        "counts": [
            (
                "passing",
                sum(1 for h in hosts if h["status"] == "pass" and not h.get("stale")),
                "pass",
            ),
            (
                "warning",
                sum(1 for h in hosts if h["status"] == "warn" and not h.get("stale")),
                "warn",
            ),
            (
                "failing",
                sum(1 for h in hosts if h["status"] == "fail" and not h.get("stale")),
                "fail",
            ),
            ("stale", len(stale), "stale"),
            ("never reported", len(missing), "missing"),
        ],
        "short_roles": [
            r for r in doc["roles"] if r["reported"] < max(r["planned"], r.get("inventory") or 0)
        ],
        "breaking_servers": breaking,
    }


# -- drift: what changed, below the fleet's state ---------------------------------------------

FINDINGS_SHOWN = 60  # finding rows; past them, the search narrows (cloned VMs: one per pair)
DRIFT_SHOWN = 10  # open drift events in the table before the rest fold away
DRIFT_READ = 50  # open drift events read per kind (a new fleet's new-host events are one line)
NEW_HOSTS_READ = 100  # new hosts named in the folded list


def read_drift(store: Any) -> Dict[str, Any]:
    """The open drift events the page shows, read with bounded queries: first reports
    (new-host) counted and named apart, so a new fleet's hundreds of them do not push every
    other change out, and the newest of every other kind."""
    from wire_preflight.fleet.drift import EVENT_KINDS

    counts = store.open_events_by_kind()
    others = [
        event
        for kind in EVENT_KINDS
        if kind != "new-host" and counts.get(kind)
        for event in store.events(kind=kind, open_only=True, limit=DRIFT_READ)
    ]
    others.sort(key=lambda e: (e["time"], e["id"]), reverse=True)
    new_hosts = (
        store.events(kind="new-host", open_only=True, limit=NEW_HOSTS_READ)
        if counts.get("new-host")
        else []
    )
    return {
        "new_hosts": sorted({e["hostname"] for e in new_hosts}),
        "new_host_count": counts.get("new-host", 0),
        "events": others[:DRIFT_READ],
        "open_count": sum(n for kind, n in counts.items() if kind != "new-host"),
    }


def render(
    doc: Dict[str, Any],
    drift: Dict[str, Any],
    now: float,
    planned: Optional[List[Dict[str, Any]]] = None,
    query: Optional[hostlist.Query] = None,
    pending: Optional[List[Dict[str, Any]]] = None,
    judged_at: Optional[float] = None,
) -> str:
    """The fleet page. `doc` is the judged fleet (the one place it comes from is the caller's
    fleet document), `drift` what read_drift returned, `query` the GET form's fields,
    `judged_at` when `doc` was judged (said on the page when a second or more before now)."""
    planned = planned or []
    query = query or hostlist.Query()
    missing_names = _missing_hosts(doc["findings"])
    missing = [p for p in planned if p["name"] in missing_names]
    all_rows = ranked_findings(doc["findings"])
    failing_rules = {f["id"] for f in all_rows}
    rows = ranked_findings(f for f in doc["findings"] if hostlist.finding_matches(f, query))
    hosts = hostlist.select_hosts(hostlist.host_rows(doc["hosts"], missing, doc["findings"]), query)
    return (
        _environment()
        .get_template("fleet.html")
        .render(
            doc=doc,
            band=summary_band(doc, missing_names, _servers_breaking_quorum(doc, planned)),
            rows=rows,
            hidden_findings=len(all_rows) - len(rows),
            findings_shown=FINDINGS_SHOWN,
            hosts=hosts,
            query=query,
            default_query=hostlist.Query(),
            statuses=hostlist.STATUS_FILTERS,
            sorts=hostlist.SORTS,
            page_numbers=hostlist.page_numbers(hosts.page, hosts.pages),
            shown=hostlist.shown_names,
            passed=sorted(
                {f["id"] for f in doc["findings"] if f["status"] == "pass"} - failing_rules
            ),
            drift=drift,
            drift_shown=DRIFT_SHOWN,
            pending=pending or [],
            generated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)),
            # Under steady ingest the judgement may be a few seconds behind the page.
            judged=(
                time.strftime("%H:%M:%S UTC", time.gmtime(judged_at))
                if judged_at is not None and now - judged_at >= 1
                else None
            ),
            ago=lambda seen: _ago(now - seen) if seen else "never",
            cell=_cell_lookup(doc.get("reachability") or {}),
            script=RELOAD_SCRIPT,
        )
    )


def render_planned_host(plan: Dict[str, Any], collector_url: str) -> str:
    """The page of a host the inventory plans and that never reported: what is planned, and
    how to enrol it."""
    return (
        _environment()
        .get_template("planned_host.html")
        .render(
            hostname=plan["name"],
            roles=list(plan.get("roles") or []),
            physical_host=plan.get("physical_host") or "",
            address=plan.get("ip") or plan.get("ansible_host") or "",
            collector=collector_url,
            script=RELOAD_SCRIPT,
        )
    )


def render_unknown_host(hostname: str) -> str:
    return (
        _environment()
        .get_template("unknown_host.html")
        .render(hostname=hostname, script=RELOAD_SCRIPT)
    )


def render_host(
    hostname: str,
    host: Dict[str, Any],
    summary: Optional[Dict[str, Any]],
    events: List[Dict[str, Any]],
    now: float,
    reports: Optional[List[Dict[str, Any]]] = None,
) -> str:
    """A host's page; `reports` is Store.report_statuses (its history, newest first)."""
    reports = reports or []
    changes = host_history.check_changes(reports)
    # Every optional field of a report may be absent (the schema requires few): the template
    # sees plain values with their defaults, never a missing key.
    latest = host.get("latest") or {}
    checks = sorted(
        (
            {
                "id": c.get("id", ""),
                "role": c.get("role") or "",
                "status": c.get("status", "error"),
                "message": c.get("message") or "",
                "observed": c.get("observed"),
                "expected": c.get("expected"),
                "remedy": c.get("remedy") or "",
                "change": changes.get("{}|{}".format(c.get("id", ""), c.get("role") or "")),
            }
            for c in latest.get("checks") or []
            if isinstance(c, dict)
        ),
        key=lambda c: (_STATUS_ORDER.get(c["status"], 5), c["id"]),
    )
    history = host.get("history") or []
    received = history[0].get("received_at") if history else None
    summary = summary or {}
    facts = {
        "roles": ", ".join(latest.get("roles") or []) or "none",
        "physical_host": latest.get("physical_host") or "not reported",
        "report_id": latest.get("report_id") or "",
        "address": summary.get("primary_address") or "",
        "os": summary.get("os") or "",
        "cpu": summary.get("cpu") or "?",
        "memory": "{:.1f} GB".format(summary["memory_bytes"] / 1e9)
        if summary.get("memory_bytes")
        else "?",
        "machine_id": summary.get("machine_id") or "",
        "status": summary.get("status") or "",
    }
    return (
        _environment()
        .get_template("host.html")
        .render(
            hostname=hostname,
            facts=facts,
            checks=checks,
            history=history,
            stale=bool(host.get("stale")),
            received=received,
            events=events,
            reports=sorted(reports, key=lambda r: r["received_at"]),
            runs=host_history.status_runs(reports),
            oldest=host_history.oldest(reports),
            show=_show,
            ago=lambda seen: _ago(now - seen) if seen else "never",
            when=lambda t: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)) if t else "",
            script=RELOAD_SCRIPT,
        )
    )


_STATUS_ORDER = {"fail": 0, "error": 1, "warn": 2, "skip": 3, "pass": 4}


def _show(value: Any) -> str:
    """An observed or expected value as a person reads it."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_show(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    return str(value)


def _cell_lookup(matrix: Dict[str, Any]) -> Any:
    """cell(source, target): the matrix entry, or None where no probe went."""
    cells = {(c["from"], c["to"]): c for c in matrix.get("cells", [])}
    return lambda source, target: cells.get((source, target))


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"

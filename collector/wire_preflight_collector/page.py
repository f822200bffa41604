"""The fleet page and the host pages: what an operator must see first, at any width.

Jinja2 escapes every value (hostnames, messages and observations come from agents, so from
the network). The pages need no script but one, fixed, which reloads the page every minute
and keeps the scroll position; the Content-Security-Policy allows that script by its hash.
"""

import base64
import hashlib
import os
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

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
    return _env


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


def by_physical_server(
    hosts: List[Dict[str, Any]], missing: List[Dict[str, Any]]
) -> List[Dict[str, Any]]:
    """The reporting hosts, and the planned ones that never reported, per physical server."""
    groups = {}  # type: Dict[str, List[Dict[str, Any]]]
    for host in hosts:
        groups.setdefault(host.get("physical_host") or "(not reported)", []).append(host)
    for plan in missing:
        groups.setdefault(plan.get("physical_host") or "(not in the inventory)", []).append(
            {
                "hostname": plan["name"],
                "roles": plan.get("roles") or [],
                "status": "missing",
                "last_seen": None,
                "stale": False,
                "reporting": False,
            }
        )
    return [
        {"server": name, "hosts": sorted(members, key=lambda h: h["hostname"])}
        for name, members in sorted(groups.items())
    ]


def summary_band(doc: Dict[str, Any], missing: List[str], breaking: List[str]) -> Dict[str, Any]:
    hosts = doc["hosts"]
    stale = [h for h in hosts if h.get("stale")]
    return {
        "verdict": doc["verdict"],
        "counts": [
            ("passing", sum(1 for h in hosts if h["status"] == "pass" and not h.get("stale"))),
            ("warning", sum(1 for h in hosts if h["status"] == "warn" and not h.get("stale"))),
            ("failing", sum(1 for h in hosts if h["status"] == "fail" and not h.get("stale"))),
            ("stale", len(stale)),
            ("never reported", len(missing)),
        ],
        "short_roles": [
            r for r in doc["roles"] if r["reported"] < max(r["planned"], r.get("inventory") or 0)
        ],
        "breaking_servers": breaking,
    }


def render(
    doc: Dict[str, Any],
    drift: List[Dict[str, Any]],
    now: float,
    planned: Optional[List[Dict[str, Any]]] = None,
    pending: Optional[List[Dict[str, Any]]] = None,
) -> str:
    planned = planned or []
    missing_names = _missing_hosts(doc["findings"])
    missing = [p for p in planned if p["name"] in missing_names]
    rows = ranked_findings(doc["findings"])
    failing_rules = {f["id"] for f in rows}
    return (
        _environment()
        .get_template("fleet.html")
        .render(
            doc=doc,
            band=summary_band(doc, missing_names, _servers_breaking_quorum(doc, planned)),
            rows=rows,
            servers=by_physical_server(doc["hosts"], missing),
            failing=[h for h in doc["hosts"] if h.get("failing")],
            passed=sorted(
                {f["id"] for f in doc["findings"] if f["status"] == "pass"} - failing_rules
            ),
            drift=drift,
            pending=pending or [],
            generated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)),
            ago=lambda seen: _ago(now - seen) if seen else "never",
            cell=_cell_lookup(doc.get("reachability") or {}),
            script=RELOAD_SCRIPT,
        )
    )


def render_host(
    hostname: str,
    host: Dict[str, Any],
    summary: Optional[Dict[str, Any]],
    events: List[Dict[str, Any]],
    now: float,
) -> str:
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

"""The fleet page's query: which hosts and findings it lists, in which order, which page.

Everything is decided here, on the server, from the GET form's fields (`?q=&status=&sort=
&page=`, and the exact `role=`, `server=`, `finding=` its links add): the page needs no
script (its Content-Security-Policy allows none but the reload), a filtered view is a link an
operator can bookmark or paste, and a fleet of 5,000 passing hosts is a page of its problems
and a count, not 5,000 rows.
"""

import math
import re
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence
from urllib.parse import urlencode

PAGE_SIZE = 100  # host rows per page
PAGE_NUMBER = re.compile("[0-9]{1,7}")
NAMES_SHOWN = 12  # names listed inline (a role's hosts, a finding's) before "and N more"
MAX_QUERY = 200  # characters of q kept: a search box, not a document

# status= : a host's state as the summary band counts it ("" lists what needs attention).
STATUS_FILTERS = {
    "": "needing attention",
    "all": "all",
    "fail": "failing",
    "warn": "warning",
    "stale": "stale",
    "missing": "never reported",
    "pass": "passing",
}
SORTS = {
    "server": "physical server",
    "status": "status, worst first",
    "name": "name",
    "seen": "last seen, oldest first",
}
# Worst first: a failing host, then one the plan expects and never heard from, then one that
# went silent, then warnings.
STATE_ORDER = {"fail": 0, "missing": 1, "stale": 2, "warn": 3, "pass": 4}


class QueryError(ValueError):
    """A query field with a value the form never sends: the one-line reason."""


class Query(NamedTuple):
    q: str = ""
    status: str = ""
    sort: str = "server"
    page: int = 1
    role: str = ""
    server: str = ""
    finding: str = ""

    @property
    def narrowed(self) -> bool:
        """Something chosen narrows the list: then passing hosts that match are listed too."""
        return bool(self.q or self.role or self.server or self.finding)

    def link(self, **changes: Any) -> str:
        """This query with some fields changed, as a relative URL; back to page 1 unless the
        page is what changes. Fields at their defaults are left out, so links stay short."""
        fields = self._replace(**{"page": 1, **changes})._asdict()
        defaults = Query()._asdict()
        kept = [(k, v) for k, v in fields.items() if v != defaults[k]]
        return "?" + urlencode(kept) if kept else "./"


def parse_query(params: Mapping[str, str]) -> Query:
    """The form's fields; a value it never offers is a QueryError naming the field."""
    status = params.get("status", "")
    if status not in STATUS_FILTERS:
        raise QueryError("status must be one of: " + ", ".join(k for k in STATUS_FILTERS if k))
    sort = params.get("sort") or "server"
    if sort not in SORTS:
        raise QueryError("sort must be one of: " + ", ".join(SORTS))
    page_text = params.get("page") or "1"
    # str.isdigit() is true for '²' and other scripts' digits, which int() refuses.
    if not PAGE_NUMBER.fullmatch(page_text) or not 1 <= int(page_text) <= 10**6:
        raise QueryError("page must be a page number from 1")
    return Query(
        q=" ".join((params.get("q") or "").split())[:MAX_QUERY],
        status=status,
        sort=sort,
        page=int(page_text),
        role=(params.get("role") or "")[:MAX_QUERY],
        server=(params.get("server") or "")[:MAX_QUERY],
        finding=(params.get("finding") or "")[:MAX_QUERY],
    )


def host_rows(
    hosts: Sequence[Dict[str, Any]],
    missing: Sequence[Dict[str, Any]],
    findings: Sequence[Dict[str, Any]],
) -> List[Dict[str, Any]]:
    """One row per host the page can list: the reporting ones, and the planned ones that never
    reported, each with its state and the findings that name it."""
    named = {}  # type: Dict[str, set]
    for finding in findings:
        if finding["status"] in ("fail", "warn"):
            for hostname in finding["hosts"]:
                named.setdefault(hostname, set()).add(finding["id"])
    rows = []
    for host in hosts:
        state = "stale" if host.get("stale") else host["status"]
        rows.append(
            {
                "hostname": host["hostname"],
                "roles": list(host.get("roles") or []),
                "server": host.get("physical_host") or "",
                "state": state if state in STATE_ORDER else "fail",
                "last_seen": host.get("last_seen"),
                "failing": list(host.get("failing") or []),
                "findings": sorted(named.get(host["hostname"], ())),
                "reporting": True,
            }
        )
    for plan in missing:
        rows.append(
            {
                "hostname": plan["name"],
                "roles": list(plan.get("roles") or []),
                "server": plan.get("physical_host") or "",
                "state": "missing",
                "last_seen": None,
                "failing": [],
                "findings": sorted(named.get(plan["name"], ())),
                "reporting": False,
            }
        )
    return rows


def _words(query: Query) -> List[str]:
    return query.q.lower().split()


def _host_matches(row: Dict[str, Any], query: Query, words: List[str]) -> bool:
    if query.role and query.role not in row["roles"]:
        return False
    if query.server and query.server != row["server"]:
        return False
    if query.finding and query.finding not in row["findings"]:
        return False
    names = (*row["roles"], *row["failing"], *row["findings"])
    text = " ".join((row["hostname"], row["server"], row["state"], *names)).lower()
    return all(word in text for word in words)


def finding_matches(finding: Dict[str, Any], query: Query) -> bool:
    if query.finding and finding["id"] != query.finding:
        return False
    fields = [finding["id"], finding["status"], finding.get("message"), finding.get("remedy")]
    text = " ".join(str(f or "") for f in fields + list(finding["hosts"])).lower()
    return all(word in text for word in _words(query))


def _order(query: Query) -> Any:
    if query.sort == "name":
        return lambda r: r["hostname"]
    if query.sort == "status":
        return lambda r: (STATE_ORDER[r["state"]], r["hostname"])
    if query.sort == "seen":  # never seen first, then the longest silent
        return lambda r: (r["last_seen"] is not None, r["last_seen"] or 0, r["hostname"])
    return lambda r: (r["server"] == "", r["server"], STATE_ORDER[r["state"]], r["hostname"])


class HostList(NamedTuple):
    rows: List[Dict[str, Any]]  # this page's rows
    total: int  # rows matching, over every page
    page: int
    pages: int
    hidden_passing: int  # passing hosts that match but are only counted (status "")
    groups: List[Dict[str, Any]]  # this page's rows per physical server (sort=server)


def select_hosts(rows: Sequence[Dict[str, Any]], query: Query) -> HostList:
    words = _words(query)
    matching = [r for r in rows if _host_matches(r, query, words)]
    hidden = 0
    if query.status == "" and not query.narrowed:
        hidden = sum(1 for r in matching if r["state"] == "pass")
        matching = [r for r in matching if r["state"] != "pass"]
    elif query.status not in ("", "all"):
        matching = [r for r in matching if r["state"] == query.status]
    matching.sort(key=_order(query))
    pages = max(1, math.ceil(len(matching) / PAGE_SIZE))
    page = min(query.page, pages)
    shown = matching[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return HostList(shown, len(matching), page, pages, hidden, _groups(shown, query))


def _groups(rows: List[Dict[str, Any]], query: Query) -> List[Dict[str, Any]]:
    if query.sort != "server":
        return [{"server": None, "rows": rows}]
    groups = []  # type: List[Dict[str, Any]]
    for row in rows:
        if not groups or groups[-1]["server"] != row["server"]:
            groups.append({"server": row["server"], "rows": []})
        groups[-1]["rows"].append(row)
    return groups


def shown_names(names: Sequence[str], limit: int = NAMES_SHOWN) -> Dict[str, Any]:
    """The first names of a list and how many more there are."""
    return {"names": list(names[:limit]), "more": max(0, len(names) - limit)}


def page_numbers(page: int, pages: int) -> List[Optional[int]]:
    """The page links to show: first, last and the neighbours; None where pages are skipped."""
    wanted = sorted({1, pages, page - 1, page, page + 1} & set(range(1, pages + 1)))
    out = []  # type: List[Optional[int]]
    for number in wanted:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out

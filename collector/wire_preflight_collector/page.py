"""The fleet page: one HTML document a person reads at a glance. Jinja2 escapes every value
(hostnames and messages come from agents, so from the network)."""

import os
import time
from typing import Any, Dict, List

_TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
_env = None


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


def by_physical_server(hosts: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    groups = {}  # type: Dict[str, List[Dict[str, Any]]]
    for host in hosts:
        groups.setdefault(host.get("physical_host") or "(not reported)", []).append(host)
    return [
        {"server": name, "hosts": sorted(members, key=lambda h: h["hostname"])}
        for name, members in sorted(groups.items())
    ]


def render(doc: Dict[str, Any], drift: List[Dict[str, Any]], now: float) -> str:
    template = _environment().get_template("fleet.html")
    hosts = doc["hosts"]
    return template.render(
        doc=doc,
        servers=by_physical_server(hosts),
        failing=[h for h in hosts if h.get("failing")],
        problems=[f for f in doc["findings"] if f["status"] in ("fail", "warn")],
        passed=sorted({f["id"] for f in doc["findings"] if f["status"] not in ("fail", "warn")}),
        drift=drift,
        generated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)),
        ago=lambda seen: _ago(now - seen) if seen else "never",
        cell=_cell_lookup(doc.get("reachability") or {}),
    )


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

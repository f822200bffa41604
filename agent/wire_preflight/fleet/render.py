"""The fleet report for a terminal: verdict, findings, hosts."""

from typing import Any, Dict, List

from wire_preflight.model import FAIL, WARN
from wire_preflight.render.text import printable


def lines(doc: Dict[str, Any]) -> List[str]:
    out = [
        "fleet: {} ({} host(s), profile {})".format(
            doc["verdict"], len(doc["hosts"]), doc.get("profile")
        )
    ]
    out.append("")
    out.append("FINDINGS")
    for f in doc["findings"]:
        scope = " [planned]" if f.get("scope") == "planned" else ""
        message = printable(f["message"] + _unnamed_hosts(f))
        out.append("{:<5} {:<20} {}{}".format(f["status"], f["id"], message, scope))
        if f.get("remedy") and f["status"] in (FAIL, WARN):
            out.append("{:<5} {:<20} fix: {}".format("", "", printable(f["remedy"])))
    out.append("")
    out.append(
        "{:<24} {:<28} {:<16} {:<6} {}".format("HOST", "ROLES", "PHYSICAL", "STATUS", "FAILING")
    )
    for h in sorted(doc["hosts"], key=lambda h: (h.get("physical_host") or "", h["hostname"])):
        out.append(
            "{:<24} {:<28} {:<16} {:<6} {}".format(
                printable(h["hostname"]),
                printable(",".join(h.get("roles", []))),
                printable(h.get("physical_host") or "-"),
                # A silent host's last status is old news: say it is stale, as the page does.
                "stale" if h.get("stale") else h.get("status", "?"),
                printable(", ".join(h.get("failing", []))),
            )
        )
    return out


NAMED_AT_MOST = 10


def _unnamed_hosts(finding: Dict[str, Any]) -> str:
    """ ": a, b, c" when a finding about hosts does not name them ("3 host(s) with warnings
    only"): a person reading a terminal has no other way to find them."""
    hosts = [h for h in finding.get("hosts") or [] if isinstance(h, str)]
    if not hosts or finding.get("status") not in (FAIL, WARN):
        return ""
    if any(h in finding.get("message", "") for h in hosts):
        return ""
    shown = ", ".join(hosts[:NAMED_AT_MOST])
    more = len(hosts) - NAMED_AT_MOST
    return ": " + shown + (f" and {more} more" if more > 0 else "")

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
        out.append("{:<5} {:<20} {}{}".format(f["status"], f["id"], printable(f["message"]), scope))
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
                h.get("status", "?"),
                printable(", ".join(h.get("failing", []))),
            )
        )
    return out

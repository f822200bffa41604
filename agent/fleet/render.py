"""The fleet report for a terminal: verdict, findings, hosts."""

from typing import Any, Dict, List


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text)


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
        out.append("{:<5} {:<20} {}{}".format(f["status"], f["id"], _cell(f["message"]), scope))
        if f.get("remedy") and f["status"] in ("fail", "warn"):
            out.append("{:<5} {:<20} fix: {}".format("", "", _cell(f["remedy"])))
    out.append("")
    out.append(
        "{:<24} {:<28} {:<16} {:<6} {}".format("HOST", "ROLES", "PHYSICAL", "STATUS", "FAILING")
    )
    for h in sorted(doc["hosts"], key=lambda h: (h.get("physical_host") or "", h["hostname"])):
        out.append(
            "{:<24} {:<28} {:<16} {:<6} {}".format(
                _cell(h["hostname"]),
                _cell(",".join(h.get("roles", []))),
                _cell(h.get("physical_host") or "-"),
                h.get("status", "?"),
                _cell(", ".join(h.get("failing", []))),
            )
        )
    return out

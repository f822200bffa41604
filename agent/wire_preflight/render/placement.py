"""`plan --server`'s placement (plan.servers.place_plan's document) as lines a person reads."""

from typing import Any, Dict, List

from wire_preflight.plan.placement import RESOURCES, amount, kept_words
from wire_preflight.quantities import count as counted


def _amounts(block: Dict[str, float]) -> str:
    return ", ".join(amount(resource, block[resource]) for resource in RESOURCES)


def placement_lines(doc: Dict[str, Any]) -> List[str]:
    count = len(doc["servers"])
    placed = any(server["vms"] for server in doc["servers"])
    lines = [
        "placement onto {}: {}".format(
            counted(count, "physical server"),
            "fits" if doc["fits"] else "does not fit" + ("; the nearest:" if placed else ""),
        )
    ]
    if placed:
        for server in doc["servers"]:
            short = {k: -v for k, v in server["left"].items() if v < 0}
            lines.append(
                "{} ({}): {}".format(
                    server["name"],
                    _amounts(server["capacity"]),
                    "fits" if server["fits"] else "does not fit",
                )
            )
            lines.append("  holds: " + (", ".join(vm["name"] for vm in server["vms"]) or "nothing"))
            lines.append("  uses:  " + _amounts(server["load"]))
            if short:
                lines.append(
                    "  short: "
                    + ", ".join(amount(resource, value) for resource, value in short.items())
                )
            else:
                lines.append("  left:  " + _amounts(server["left"]))
    spread = doc["spread"]
    if placed and spread:
        kept = ", ".join(f"{role} ({kept_words(need)})" for role, need in spread.items())
        lines.append("losing any one server keeps: " + kept)
    if not doc["complete"] and placed:
        lines.append(
            "note: the search stopped after {} steps: {}".format(
                doc["steps"],
                "the plan fits, but a more even placement may exist"
                if doc["fits"]
                else "a placement that misses by less may exist",
            )
        )
    lines += ["cannot place: " + reason for reason in doc["reasons"]]
    return lines

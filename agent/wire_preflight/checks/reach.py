"""Judge probes against the profile's reachability matrix (id `reach`): every path a role must
use is open, and each miss says which firewall rule to open."""

from typing import Any, Dict, List, Tuple

from wire_preflight import model
from wire_preflight.model import ERROR, FAIL, PASS, WARN, CheckResult

SOURCE = 'wire-server-deploy: ports between hosts (docs/sources.md, "Ports between hosts")'
_STATUS = {
    "open": PASS,
    "refused": PASS,
    "filtered": FAIL,
    "no-route": FAIL,
    "open|filtered": WARN,
    "error": ERROR,
}


def targets(
    planned: List[Dict[str, Any]], my_roles: List[str], reach: List[Dict[str, Any]], me: str
) -> List[Dict[str, Any]]:
    """Every (peer, proto, port) this VM must reach, from the inventory and the matrix."""
    out = []
    for rule in reach:
        if rule["from"] not in my_roles:
            continue
        for peer in planned:
            if rule["to"] not in peer["roles"] or peer["name"] == me:
                continue
            address = peer.get("ip") or peer.get("ansible_host") or peer["name"]
            for proto in ("tcp", "udp"):
                for port in rule[proto]:
                    out.append(
                        {
                            "from_role": rule["from"],
                            "to_role": rule["to"],
                            "peer": peer["name"],
                            "address": address,
                            "proto": proto,
                            "port": port,
                        }
                    )
    # One probe per (peer, proto, port), even when two rules ask for it.
    unique: Dict[Tuple[str, str, int], Dict[str, Any]] = {}
    for target in out:
        unique.setdefault((target["peer"], target["proto"], target["port"]), target)
    return list(unique.values())


def judge(probes: List[Dict[str, Any]], me: str, my_address: str) -> List[CheckResult]:
    results = []
    for probe in sorted(probes, key=lambda p: (p["to_role"], p["peer"], p["proto"], p["port"])):
        status = _STATUS.get(probe["state"], ERROR)
        where = "{} {}:{}/{}".format(probe["peer"], probe["address"], probe["port"], probe["proto"])
        message = "{} -> {}: {} ({})".format(me, where, probe["state"], probe["detail"])
        remedy = ""
        if status in (FAIL, WARN):
            remedy = (
                "open the firewall between them: allow {proto} from {src} to {dst} port "
                "{port} (nft add rule inet filter input ip saddr {src} {proto} dport {port} "
                "accept)".format(
                    proto=probe["proto"],
                    src=my_address or me,
                    dst=probe["address"],
                    port=probe["port"],
                )
            )
        results.append(
            model.result(
                "reach",
                status,
                role=probe["from_role"],
                observed=probe["state"],
                expected="open or refused",
                message=message,
                remedy=remedy,
                source=SOURCE,
                evidence={
                    key: probe[key]
                    for key in ("peer", "address", "proto", "port", "to_role", "state")
                },
            )
        )
    return results

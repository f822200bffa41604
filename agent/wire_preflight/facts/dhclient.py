"""ISC dhclient lease files (dhclient.leases(5)).

dhclient appends each lease it gets to its lease file, so within one file a later lease is
newer. A host can keep several files (one per interface, or a renamed one left behind); the
lease that counts for an interface is the newest by its times — expire, then renew, then
rebind — and, at equal times, the one read later, as dhclient itself keeps the last it read.
"""

import os
import re
import time
from typing import Any, Dict, List, Optional

from wire_preflight import safefile
from wire_preflight.facts import files

DIRS = ("/var/lib/dhcp", "/var/lib/dhclient")
# No braces inside a lease, no newline inside a field (dhclient.leases(5)): saying so keeps
# each match to its own block and line, so a file of unclosed `lease {` costs a pass, not
# a pass per `lease`.
_LEASE = re.compile(r"(?<![\w-])lease\s*\{([^{}]*)\}")
_FIELD = re.compile(
    r"^[ \t]*(interface|fixed-address|expire|renew|rebind)[ \t]+(.*?)[ \t]*;",
    re.M,
)
_NAMED = re.compile(r"^dhclient[.-](.+?)\.leases?$")


def collect(root: str, errors: List[Dict[str, str]]) -> Dict[str, Any]:
    newest = {}  # type: Dict[str, Dict[str, Any]]
    for directory in DIRS:
        for path in files.matching(root, directory + "/*.lease*"):
            text = files.read(root, path, errors, safefile.LARGE)
            if text is None:
                continue
            named = _NAMED.match(os.path.basename(path))
            for lease in parse_leases(text):
                lease["interface"] = lease["interface"] or (named.group(1) if named else None)
                if not lease["interface"] or not lease["address"]:
                    continue
                lease["file"] = path
                before = newest.get(lease["interface"])
                if before is None or order_key(lease) >= order_key(before):
                    newest[lease["interface"]] = lease
    return newest


def parse_leases(text: str) -> List[Dict[str, Any]]:
    out = []
    for block in _LEASE.findall(text):
        fields = {key: value.strip().strip('"') for key, value in _FIELD.findall(block)}
        out.append(
            {
                "interface": fields.get("interface"),
                "address": fields.get("fixed-address"),
                "expire": fields.get("expire"),
                "renew": fields.get("renew"),
                "rebind": fields.get("rebind"),
                "expire_epoch": lease_time(fields.get("expire")),
            }
        )
    return out


def order_key(lease: Dict[str, Any]) -> tuple:
    return tuple(lease_time(lease.get(k)) or 0.0 for k in ("expire", "renew", "rebind"))


def lease_time(value: Optional[str]) -> Optional[float]:
    """Seconds since the epoch of a lease time: `W YYYY/MM/DD HH:MM:SS` (UTC), `epoch N`
    (db-time-format local), or `never`."""
    if not value:
        return None
    words = value.split("#", 1)[0].split(";", 1)[0].split()
    if words[:1] == ["never"]:
        return float("inf")
    if len(words) >= 2 and words[0] == "epoch":
        try:
            return float(words[1])
        except ValueError:
            return None
    if len(words) >= 3:
        try:
            parsed = time.strptime(words[1] + " " + words[2], "%Y/%m/%d %H:%M:%S")
        except ValueError:
            return None
        import calendar  # here: most hosts have no dhclient lease to read

        return float(calendar.timegm(parsed))
    return None

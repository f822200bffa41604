"""What the agent remembers between runs: the addresses it saw, per host.

One small JSON file per host (named by machine-id, or hostname), written atomically, so a
crash mid-write leaves the previous state intact. A file that does not parse is moved aside
(never silently overwritten) and the run starts anew.
"""

import json
import os
import re
import time
from typing import Any, Dict, Optional, Tuple

from wire_preflight import safefile
from wire_preflight.atomicfile import write_atomically

SYSTEM_STATE_DIR = "/var/lib/wire-preflight"


NO_HOME = (
    "no state directory: HOME is unset and this user has no home directory "
    "(give --state-dir DIR, or state_dir in agent.conf)"
)


def default_dir() -> str:
    """$WIRE_PREFLIGHT_STATE_DIR, else /var/lib/wire-preflight for root, else the user's.
    "" when there is none: HOME unset and no home in the user database (a bare cron job of a
    user without a passwd entry); expanduser would then answer "~", a folder in the cwd."""
    if os.environ.get("WIRE_PREFLIGHT_STATE_DIR"):
        return os.environ["WIRE_PREFLIGHT_STATE_DIR"]
    if os.geteuid() == 0:
        return SYSTEM_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME")
    if not base:
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return ""
        base = os.path.join(home, ".local", "state")
    return os.path.join(base, "wire-preflight")


def _file(state_dir: str, facts: Dict[str, Any]) -> str:
    key = facts.get("machine_id") or facts.get("hostname") or "unknown"
    return os.path.join(state_dir, "host-{}.json".format(re.sub(r"[^A-Za-z0-9_.-]", "_", key)))


def load(state_dir: str, facts: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The last run's state, None on the first run, or {"error": reason}."""
    if not state_dir:
        return {"error": NO_HOME}
    path = _file(state_dir, facts)
    try:
        data = json.loads(safefile.read_bytes(path, safefile.DOCUMENT).decode("utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return {"error": f"{exc.strerror} reading {path}"}
    except (ValueError, RecursionError) as exc:
        aside = f"{path}.corrupt-{int(time.time())}"
        try:
            os.replace(path, aside)
        except OSError:
            aside = path
        return {"error": f"{path} is not valid JSON ({exc}); kept as {aside}"}
    if not isinstance(data, dict):
        return {"error": f"{path} does not hold a JSON object"}
    data["file"] = path
    return data


def snapshot(facts: Dict[str, Any]) -> Dict[str, Any]:
    network = facts.get("network") or {}
    return {
        "schema": "wire-preflight/state/1",
        "seen_at": facts.get("collected_at"),
        "hostname": facts.get("hostname"),
        "primary": network.get("primary"),
        "addresses": sorted(
            "{}/{}".format(a.get("address"), a.get("prefixlen"))
            for iface in network.get("interfaces") or []
            for a in iface.get("addresses", [])
            if a.get("scope") == "global"
        ),
    }


def save(state_dir: str, facts: Dict[str, Any]) -> Tuple[bool, str]:
    """(True, path) or (False, reason). A run that sees no primary address (no default
    route, no `ip`, a captured tree) keeps what was remembered: a null address is not a
    change of address, and remembering it would report one on the next normal run."""
    if not state_dir:
        return False, NO_HOME
    path = _file(state_dir, facts)
    if not ((facts.get("network") or {}).get("primary") or {}).get("address"):
        return True, path
    try:
        os.makedirs(state_dir, mode=0o755, exist_ok=True)
        write_atomically(path, json.dumps(snapshot(facts), indent=1))
    except OSError as exc:
        return False, f"{exc.strerror or exc} ({exc.filename or state_dir})"
    return True, path


REACHABILITY_FILE = "reachability.json"


def save_reachability(state_dir: str, doc: Dict[str, Any]) -> Optional[str]:
    """Keep the last `ports` run so the next `report` carries it to the collector's
    reachability matrix. Returns why it could not be kept, or None."""
    keep = {
        "schema": "wire-preflight/reachability/1",
        "generated_at": doc["generated_at"],
        "hostname": doc["hostname"],
        "roles": doc["roles"],
        "probes": [
            {k: p[k] for k in ("from_role", "to_role", "peer", "address", "proto", "port", "state")}
            for p in doc["probes"]
        ],
    }
    if not state_dir:
        return NO_HOME
    try:
        os.makedirs(state_dir, exist_ok=True)
        write_atomically(os.path.join(state_dir, REACHABILITY_FILE), json.dumps(keep))
    except OSError as exc:
        return f"{exc.strerror or exc} ({state_dir})"
    return None


def load_reachability(state_dir: str, max_age: float = 86400) -> Optional[Dict[str, Any]]:
    """The last `ports` run of this VM, if it is less than a day old."""
    if not state_dir:
        return None
    path = os.path.join(state_dir, REACHABILITY_FILE)
    try:
        if time.time() - os.path.getmtime(path) > max_age:
            return None
        data = json.loads(safefile.read_bytes(path, safefile.DOCUMENT).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("probes"), list) else None

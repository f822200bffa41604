"""Reports that could not be delivered wait here, and go first, oldest first, next time.

One file per report, named by the time it was spooled, written atomically. The spool keeps at
most `limit` reports; when it is full the oldest are dropped and each drop is said.
"""

import json
import os
import time
from typing import Any, Callable, Dict, List, Tuple

from wire_preflight.send import DeliveryError
from wire_preflight.state import write_atomically

DEFAULT_LIMIT = 288  # a day of reports every five minutes


def _entries(spool_dir: str) -> List[str]:
    try:
        names = os.listdir(spool_dir)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.endswith(".json") and not n.startswith("."))


def put(spool_dir: str, doc: Dict[str, Any], limit: int = DEFAULT_LIMIT) -> List[str]:
    """Spool a report; returns messages about reports dropped to stay within the limit."""
    os.makedirs(spool_dir, mode=0o700, exist_ok=True)
    name = "{:020d}-{}.json".format(
        time.time_ns() if hasattr(time, "time_ns") else int(time.time() * 1e9), doc.get("report_id")
    )
    write_atomically(os.path.join(spool_dir, name), json.dumps(doc))
    dropped = []
    entries = _entries(spool_dir)
    for old in entries[: max(0, len(entries) - limit)]:
        os.unlink(os.path.join(spool_dir, old))
        dropped.append(f"spool full ({limit} reports): dropped the oldest, {old}")
    return dropped


def flush(spool_dir: str, send: Callable[[Dict[str, Any]], Any]) -> Tuple[int, List[str]]:
    """Send spooled reports oldest first; stop at the first that cannot be delivered yet.
    Returns (delivered count, messages). A report the collector refuses for good (4xx) is
    moved to `rejected/` rather than deleted."""
    delivered, messages = 0, []
    for name in _entries(spool_dir):
        path = os.path.join(spool_dir, name)
        try:
            with open(path, encoding="utf-8") as handle:
                doc = json.load(handle)
        except (OSError, ValueError) as exc:
            messages.append(f"unreadable spooled report {name}: {exc}; moved to rejected/")
            _reject(spool_dir, name)
            continue
        try:
            send(doc)
        except DeliveryError as exc:
            if exc.retryable:
                messages.append(f"spooled reports wait: {exc}")
                break
            messages.append(f"spooled report {name} refused: {exc}; moved to rejected/")
            _reject(spool_dir, name)
            continue
        os.unlink(path)
        delivered += 1
    return delivered, messages


def pending(spool_dir: str) -> int:
    return len(_entries(spool_dir))


def _reject(spool_dir: str, name: str) -> None:
    rejected = os.path.join(spool_dir, "rejected")
    os.makedirs(rejected, mode=0o700, exist_ok=True)
    os.replace(os.path.join(spool_dir, name), os.path.join(rejected, name))

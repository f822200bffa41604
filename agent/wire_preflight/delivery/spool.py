"""Reports that could not be delivered wait here, and go first, oldest first, next time.

One file per report, named by the time it was spooled, written atomically. The spool keeps at
most `limit` reports; when it is full the oldest are dropped and each drop is said.

A report the collector will never take (400, 413, 422...), one that keeps failing on the
collector (500 and the like, MAX_FAULTS times) and a file that is not a report are set aside
in `rejected/` with a `.reason` file beside them, so the reports behind them still go. Two
runs at once (a cron overlap) take turns through `lock`; a file that vanishes under a run was
handled by the other one.
"""

import contextlib
import errno
import json
import os
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

from wire_preflight import safefile
from wire_preflight.atomicfile import write_atomically
from wire_preflight.delivery import SPOOL_LIMIT as DEFAULT_LIMIT
from wire_preflight.delivery import send

MAX_FAULTS = 12  # an hour of runs every five minutes
LOCK_SECONDS = 120.0
_ATTEMPTS = ".faults.json"


def _entries(spool_dir: str) -> List[str]:
    try:
        names = os.listdir(spool_dir)
    except OSError:
        return []
    return sorted(n for n in names if n.endswith(".json") and not n.startswith("."))


@contextlib.contextmanager
def lock(spool_dir: str, wait: float = LOCK_SECONDS) -> Iterator[bool]:
    """Hold the spool while this run flushes and adds to it. Yields False when the lock
    could not be had (no spool directory, or another run held it for `wait` seconds)."""
    import fcntl

    try:
        os.makedirs(spool_dir, mode=0o700, exist_ok=True)
        handle = open(os.path.join(spool_dir, ".lock"), "a")  # noqa: SIM115 - held below
    except OSError:
        yield False
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.2)
        yield True
    finally:
        handle.close()  # closing releases the lock


def _name(doc: Dict[str, Any]) -> str:
    now = time.time_ns() if hasattr(time, "time_ns") else int(time.time() * 1e9)
    report_id = str(doc.get("report_id"))
    safe = "".join(c for c in report_id if c.isalnum() or c == "-")[:64]
    return f"{now:020d}-{safe}.json"


def put(spool_dir: str, doc: Dict[str, Any], limit: int = DEFAULT_LIMIT) -> List[str]:
    """Spool a report; returns messages about reports dropped to stay within the limit.
    OSError when the report cannot be kept (a full disk, a read-only directory)."""
    os.makedirs(spool_dir, mode=0o700, exist_ok=True)
    write_atomically(os.path.join(spool_dir, _name(doc)), json.dumps(doc))
    return [
        f"spool full ({limit} reports): dropped the oldest, {old}"
        for old in _prune(spool_dir, limit)
    ]


def _prune(directory: str, limit: int) -> List[str]:
    entries = _entries(directory)
    dropped = []
    for old in entries[: max(0, len(entries) - limit)]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, old))
            dropped.append(old)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, old + ".reason"))
    return dropped


def flush(spool_dir: str, deliver: Callable[[Dict[str, Any]], Any]) -> Tuple[int, List[str]]:
    """Send spooled reports oldest first; stop at the first that must wait.
    Returns (delivered count, messages)."""
    delivered, messages = 0, []
    faults = _load_faults(spool_dir)
    for name in _entries(spool_dir):
        path = os.path.join(spool_dir, name)
        try:
            # A FIFO, a device or an oversized file is refused here, never waited on.
            doc = json.loads(safefile.read_bytes(path, safefile.DOCUMENT).decode("utf-8"))
        except FileNotFoundError:
            continue  # another run delivered it
        except safefile.Refused as exc:
            messages.append(set_aside(spool_dir, name, f"unreadable: {exc.strerror}"))
            continue
        except (OSError, ValueError, RecursionError) as exc:
            messages.append(set_aside(spool_dir, name, f"unreadable: {exc}"))
            continue
        if not isinstance(doc, dict):
            messages.append(set_aside(spool_dir, name, "not a report (a JSON object)"))
            continue
        try:
            deliver(doc)
        except send.DeliveryError as exc:
            if exc.kind == send.NEVER:
                messages.append(set_aside(spool_dir, name, str(exc)))
                continue
            if exc.kind == send.FAULT:
                faults[name] = faults.get(name, 0) + 1
                if faults[name] >= MAX_FAULTS:
                    del faults[name]
                    messages.append(
                        set_aside(spool_dir, name, f"{exc} ({MAX_FAULTS} times in a row)")
                    )
                    continue
            messages.append(f"spooled reports wait: {exc}")
            break
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        faults.pop(name, None)
        delivered += 1
    left = set(_entries(spool_dir))
    _save_faults(spool_dir, {k: v for k, v in faults.items() if k in left})
    return delivered, messages


def pending(spool_dir: str) -> int:
    return len(_entries(spool_dir))


def set_aside(spool_dir: str, name: str, reason: str) -> str:
    """Move a spooled file to rejected/ with its reason; returns the message to print."""
    rejected = os.path.join(spool_dir, "rejected")
    try:
        os.makedirs(rejected, mode=0o700, exist_ok=True)
        os.replace(os.path.join(spool_dir, name), os.path.join(rejected, name))
        write_atomically(os.path.join(rejected, name + ".reason"), reason + "\n")
        _prune(rejected, DEFAULT_LIMIT)
    except FileNotFoundError:
        return f"spooled report {name} was handled by another run"
    except OSError as exc:
        return f"spooled report {name}: {reason}; could not set it aside: {exc.strerror}"
    return f"spooled report {name} set aside in {rejected}: {reason}"


def keep_rejected(spool_dir: str, doc: Dict[str, Any], reason: str) -> str:
    """This run's own report, refused for good: kept in rejected/ for a person to read."""
    rejected = os.path.join(spool_dir, "rejected")
    path = os.path.join(rejected, _name(doc))
    try:
        os.makedirs(rejected, mode=0o700, exist_ok=True)
        write_atomically(path, json.dumps(doc))
        write_atomically(path + ".reason", reason + "\n")
        _prune(rejected, DEFAULT_LIMIT)
    except OSError as exc:
        return f"the report could not be kept: {exc.strerror or exc}"
    return f"the report is kept in {path}"


def _load_faults(spool_dir: str) -> Dict[str, int]:
    try:
        path = os.path.join(spool_dir, _ATTEMPTS)
        data = json.loads(safefile.read_bytes(path, safefile.VALUE).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, int)}


def _save_faults(spool_dir: str, faults: Dict[str, int]) -> None:
    """Best effort: a count that cannot be kept only delays setting a report aside."""
    try:
        if faults:
            write_atomically(os.path.join(spool_dir, _ATTEMPTS), json.dumps(faults))
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(spool_dir, _ATTEMPTS))
    except OSError:
        pass

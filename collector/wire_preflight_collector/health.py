"""Whether the store can write, for /healthz: a database that answers reads can still refuse
every report (a full disk, a read-only PostgreSQL, a standby), and an orchestrator or monitor
polling /healthz must see that.

Three signals, cheapest first:
- SQLite: the free space of the filesystem holding the database (under MIN_FREE_BYTES, the
  next report may not fit);
- the outcome of the last real write: a write that failed with a database error (answered 503)
  marks the store as failing until a later write is acknowledged (201);
- when no real write happened for PROBE_SECONDS, a test write of its own (one row of the meta
  table, committed), at most once per PROBE_SECONDS however often /healthz is polled.
"""

import logging
import os
import threading
import time
from typing import Any, Awaitable, Callable, Dict, Optional

from wire_preflight_collector.shared import Shared

log = logging.getLogger("wire_preflight_collector")

MIN_FREE_BYTES = 1024 * 1024
PROBE_SECONDS = 10.0
PROBE_KEY = "healthz-write-probe"
# PostgreSQL serialises a transaction per host name (store/postgres.py): the probe takes a
# name no host can have (hostnames hold no spaces), so it never pauses any host's reports.
PROBE_LOCK_NAME = "healthz write probe"


class WriteHealth:
    def __init__(self, store: Any, shared: Shared, probe_seconds: float = PROBE_SECONDS):
        self.store = store
        # The last real write's outcome is every process's (shared.py): the next write may
        # land in another process of the collector.
        self._shared = shared
        self.probe_seconds = probe_seconds
        self._probe_lock = threading.Lock()
        self._probed_at = None  # type: Optional[float]
        self._probe_failure = None  # type: Optional[str]

    def write_failed(self, exc: BaseException) -> None:
        self._shared.write_failed(time.monotonic(), type(exc).__name__)

    def write_succeeded(self) -> None:
        self._shared.write_succeeded(time.monotonic())

    def problem(self) -> Optional[str]:
        """None when the store can write; else why not, in words safe to show anyone (the
        details go to the log)."""
        low = self._low_disk()
        if low:
            return low
        failed, succeeded, failure = self._shared.last_writes()
        if failed and failed > succeeded:
            return (
                f"the last write failed ({failure}): reports are refused (503) until one is stored"
            )
        latest = max(failed, succeeded)
        if latest and time.monotonic() - latest < self.probe_seconds:
            return None  # a real write answered recently
        return self._probe()

    def _low_disk(self) -> Optional[str]:
        path = getattr(self.store, "path", None)
        if not path:
            return None
        try:
            fs = os.statvfs(os.path.dirname(os.path.abspath(path)))
        except OSError:
            return None
        free = fs.f_bavail * fs.f_frsize
        if free < MIN_FREE_BYTES:
            log.error("healthz: %d bytes free on the filesystem of %s", free, path)
            return f"the disk holding the database is full ({free // 1024} KiB free)"
        return None

    def _probe(self) -> Optional[str]:
        """A committed write of one meta row, at most once per probe_seconds; concurrent
        callers share the last outcome instead of waiting."""
        if not self._probe_lock.acquire(blocking=False):
            return self._probe_failure
        try:
            now = time.monotonic()
            if self._probed_at is not None and now - self._probed_at < self.probe_seconds:
                return self._probe_failure
            self._probed_at = now
            try:
                self.store.set_meta(PROBE_KEY, repr(time.time()), lock_name=PROBE_LOCK_NAME)
                self._probe_failure = None
            except Exception as exc:
                log.error("healthz: a test write failed: %s", exc)
                self._probe_failure = f"a test write failed ({type(exc).__name__})"
            return self._probe_failure
        finally:
            self._probe_lock.release()


Scope = Dict[str, Any]
App = Callable[..., Awaitable[None]]


class WriteOutcomes:
    """Pure ASGI middleware: a write acknowledged (201) means the store wrote."""

    def __init__(self, app: App, health: WriteHealth):
        self.app = app
        self.health = health

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return

        async def watched(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message.get("status") == 201:
                self.health.write_succeeded()
            await send(message)

        await self.app(scope, receive, watched)
